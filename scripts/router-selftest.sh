#!/bin/sh
# router-selftest.sh DEV...: a router's selftest in the style of the
# kernel's selftests, for the namespace it runs in: each check prints PASS
# or FAIL, and the exit status is the number of failures. It reads only
# /proc (the namespace's own view), so it needs nothing but sh and grep.
ret=0
check() {
	if eval "$2"; then
		echo "PASS: $1"
	else
		echo "FAIL: $1"
		ret=$((ret + 1))
	fi
}

check "ipv4 forwarding is on" '[ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ]'
for dev in "$@"; do
	check "$dev exists" 'grep -q "^ *$dev:" /proc/net/dev'
	# A connected route: on dev, no gateway (flags RTF_UP only).
	check "$dev has a connected route" \
		'grep "^$dev[[:space:]]" /proc/net/route | grep -q "[[:space:]]00000000[[:space:]]0001[[:space:]]"'
done
exit $ret
