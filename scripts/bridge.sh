#!/bin/bash
# Seed 001 (Docker Networking Demystified), recipe 2: the tutorial's bridge
# script, put together from its line-by-line walkthrough (the down branch is
# recipe 1's). bridge-sh.star runs it inside nsscript's sandbox and checks
# what it built. Its pings need the ping program; 8.8.8.8 is unreachable in
# the sandbox, as is everything outside it.
set -o pipefail

string="$1"

if [ "$string" = "up" ]; then
	ip netns add net1
	ip netns add net2

	ip link add veth1 type veth peer name vethpeer1
	ip link add veth2 type veth peer name vethpeer2

	ip link set veth1 up
	ip link set veth2 up

	ip link set vethpeer1 netns net1
	ip link set vethpeer2 netns net2

	ip netns exec net1 ip link set lo up
	ip netns exec net2 ip link set lo up

	ip netns exec net1 ip link set vethpeer1 up
	ip netns exec net2 ip link set vethpeer2 up

	ip netns exec net1 ip addr add 10.100.0.10/16 dev vethpeer1
	ip netns exec net2 ip addr add 10.100.0.20/16 dev vethpeer2

	ip link add br00 type bridge
	ip link set br00 up

	ip link set veth1 master br00
	ip link set veth2 master br00

	ip addr add 10.100.0.1/16 dev br00

	ip netns exec net1 ip route add default via 10.100.0.1
	ip netns exec net2 ip route add default via 10.100.0.1

	ip netns exec net1 ping -c 3 10.100.0.20
	ip netns exec net2 ping -c 3 10.100.0.10

	bash -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'

	iptables -t nat -A POSTROUTING -s 10.100.0.1/16 ! -o br00 -j MASQUERADE

	ip netns exec net1 ping -c 3 8.8.8.8
fi

if [ "$1" == "down" ]; then
	ip netns delete net1
	ip netns delete net2
fi
