#!/usr/bin/env bash
# bgp-line.sh: bench/bgp-line.star as a shell recipe, as a tutorial writes
# it: ip netns, veths, addresses, one BIRD per router (its own config,
# control socket and pid file), then polling birdc every 0.1s until each end
# has the far LAN from BGP, then ping -c1 -W1 from h1 to h3 until it
# answers; then teardown. Prints "P passed, F failed" like nsscript.
#
# It runs in a private network and mount namespace (unshare) with its own
# /run, so it changes nothing on the host. Needs ip (iproute2), ping
# (iputils-ping), bird and birdc (bird2) and root.
set -u
[ -n "${BGP_TRACE:-}" ] && PS4='+${EPOCHREALTIME} ' && set -x
if [ -z "${NSBENCH_PRIVATE:-}" ]; then
	exec unshare --net --mount --propagation private env NSBENCH_PRIVATE=1 bash "$0" "$@"
fi
mount -t tmpfs tmpfs /run && mkdir -p /run/netns || exit 2
d=/run/bgp-bench
mkdir -p $d

conf() { # conf N "NAME LOCAL PEER AS" ...
	local n=$1
	shift
	echo "router id 10.0.0.$n;"
	echo "protocol device { scan time 10; }"
	echo 'protocol direct { ipv4; interface "lan"; }'
	echo "protocol kernel { ipv4 { export where source = RTS_BGP; }; }"
	for p in "$@"; do
		set -- $p
		cat <<EOC
protocol bgp $1 {
    local $2 as $((65000 + n));
    neighbor $3 as $4;
    ipv4 { import all; export all; };
    connect delay time 0; connect retry time 1; error wait time 0, 1;
    hold time 3; keepalive time 1;
}
EOC
	done
}

for ns in r1 r2 r3 h1 h3; do
	ip netns add $ns
	ip -n $ns link set lo up
done
for r in r1 r2 r3; do
	ip netns exec $r sysctl -qw net.ipv4.ip_forward=1
done
link() { # link NS1 NAME1 ADDR1 NS2 NAME2 ADDR2
	ip -n $1 link add $2 type veth peer name $5 netns $4
	ip -n $1 addr add $3 dev $2
	ip -n $4 addr add $6 dev $5
	ip -n $1 link set $2 up
	ip -n $4 link set $5 up
}
link r1 lan 10.1.0.1/24 h1 eth0 10.1.0.10/24
ip -n h1 route add default via 10.1.0.1
link r3 lan 10.3.0.1/24 h3 eth0 10.3.0.10/24
ip -n h3 route add default via 10.3.0.1
link r1 r2 10.0.12.1/30 r2 r1 10.0.12.2/30
link r2 r3 10.0.23.1/30 r3 r2 10.0.23.2/30

conf 1 "r2 10.0.12.1 10.0.12.2 65002" > $d/r1.conf
conf 2 "r1 10.0.12.2 10.0.12.1 65001" "r3 10.0.23.1 10.0.23.2 65003" > $d/r2.conf
conf 3 "r2 10.0.23.2 10.0.23.1 65002" > $d/r3.conf
for r in r1 r2 r3; do
	ip netns exec $r bird -c $d/$r.conf -s $d/$r.ctl -P $d/$r.pid
done

pass=0 fail=0
check() { # check TRIES CMD...: retry CMD every 0.1s, up to TRIES times
	local tries=$1
	shift
	for ((i = 0; i < tries; i++)); do
		if "$@" > /dev/null 2>&1; then
			pass=$((pass + 1))
			return
		fi
		sleep 0.1
	done
	fail=$((fail + 1))
}
has_route() { birdc -s $d/$1.ctl show route $2 | grep -q "unicast"; }
check 100 has_route r1 10.3.0.0/24
check 100 has_route r3 10.1.0.0/24
check 10 ip netns exec h1 ping -c1 -W1 10.3.0.10

for r in r1 r2 r3; do
	pid=$(cat $d/$r.pid)
	kill "$pid"
	# until it has exited (a zombie waiting for init to reap it has)
	while grep -qv ') Z' /proc/"$pid"/stat 2> /dev/null; do sleep 0.01; done
done
for ns in r1 r2 r3 h1 h3; do
	ip netns del $ns
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
