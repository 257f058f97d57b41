#!/usr/bin/env bash
# scale-ip.sh N: the iproute2 recipe of scripts/scale.star, one process per
# step, as tutorials write it: N namespaces on bridge br0 (10.10.0.1/16),
# each with a veth, an address and a default route; every namespace pings
# the gateway and its next neighbour (ping -c1 -W1); then teardown. Prints
# "P passed, F failed" like nsscript.
#
# It runs in a private network and mount namespace (unshare), with its own
# /run, so it changes nothing on the host. Needs ip (iproute2), ping
# (iputils-ping) and root.
set -u
if [ -z "${NSBENCH_PRIVATE:-}" ]; then
	exec unshare --net --mount --propagation private env NSBENCH_PRIVATE=1 bash "$0" "$@"
fi
mount -t tmpfs tmpfs /run && mkdir -p /run/netns || exit 2
n=${1:-10}
addr() { local a=$(($1 + 2)); echo "10.10.$((a / 256)).$((a % 256))"; }

ip link add br0 type bridge
ip addr add 10.10.0.1/16 dev br0
ip link set br0 up
for ((i = 0; i < n; i++)); do
	ip netns add h$i
	ip -n h$i link set lo up
	ip link add veth$i type veth peer name eth0 netns h$i
	ip link set veth$i master br0
	ip link set veth$i up
	ip -n h$i link set eth0 up
	ip -n h$i addr add "$(addr $i)/16" dev eth0
	ip -n h$i route add default via 10.10.0.1
done

pass=0 fail=0
for ((i = 0; i < n; i++)); do
	for dst in 10.10.0.1 "$(addr $(((i + 1) % n)))"; do
		if ip netns exec h$i ping -c1 -W1 "$dst" > /dev/null; then
			pass=$((pass + 1))
		else
			fail=$((fail + 1))
		fi
	done
done

for ((i = 0; i < n; i++)); do
	ip netns del h$i
done
ip link del br0
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
