#!/usr/bin/env bash
# scale-batch.sh N: the fastest shell variant of scale-ip.sh we know. The host
# side is one `ip -batch` process; each namespace is configured by one
# `ip -n NS -batch` process; the 2N pings run 64 at a time; teardown is one
# more batch. Same topology, probes and output as scale-ip.sh.
set -u
if [ -z "${NSBENCH_PRIVATE:-}" ]; then
	exec unshare --net --mount --propagation private env NSBENCH_PRIVATE=1 bash "$0" "$@"
fi
mount -t tmpfs tmpfs /run && mkdir -p /run/netns || exit 2
n=${1:-10}
addr() { local a=$(($1 + 2)); echo "10.10.$((a / 256)).$((a % 256))"; }

{
	echo "link add br0 type bridge"
	echo "addr add 10.10.0.1/16 dev br0"
	echo "link set br0 up"
	for ((i = 0; i < n; i++)); do
		echo "netns add h$i"
		echo "link add veth$i type veth peer name eth0 netns h$i"
		echo "link set veth$i master br0 up"
	done
} | ip -batch - || exit 2
for ((i = 0; i < n; i++)); do
	printf 'link set lo up\nlink set eth0 up\naddr add %s/16 dev eth0\nroute add default via 10.10.0.1\n' "$(addr $i)" |
		ip -n h$i -batch - || exit 2
done

for ((i = 0; i < n; i++)); do
	echo "h$i 10.10.0.1"
	echo "h$i $(addr $(((i + 1) % n)))"
done | xargs -P 64 -n 2 sh -c 'ip netns exec "$0" ping -c1 -W1 "$1" > /dev/null && echo ok || echo FAIL' > /run/results
pass=$(grep -c '^ok' /run/results) fail=$(grep -c '^FAIL' /run/results)

{
	for ((i = 0; i < n; i++)); do echo "netns del h$i"; done
	echo "link del br0"
} | ip -batch -
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
