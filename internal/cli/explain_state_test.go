package cli

import (
	"path/filepath"
	"testing"
)

// TestExplainState: the state builtins and expectations read as the
// iproute2 commands a student would type, each under its line; the checks
// fail the generated script (set -e) where the expectation would FAIL.
func TestExplainState(t *testing.T) {
	dir := writeScript(t, "s.star", `
a, b = netns("a"), netns("b")
x, y = veth(ns = a, peer_ns = b)
x.addr("10.0.1.2/24")
br = bridge("br0")
route_get(a, "10.0.1.1", src = "10.0.1.2", iif = x, mark = 3)
routes(a, table = 100, proto = "static")
neighbours(x)
fdb(br)
n = x.stats.rx_packets
expect_route(a, "10.0.1.1", via = "10.0.1.9", dev = x)
expect_neighbour(a, "10.0.1.1", state = "reachable")
expect_neighbour(a, "10.0.1.7", state = "none")
expect_run(a, "sh selftest.sh")
`)
	out, errOut, code := mainArgs("explain", filepath.Join(dir, "s.star"))
	if code != ExitOK {
		t.Fatalf("explain: exit %d, stderr %q", code, errOut)
	}
	inOrder(t, out,
		"s.star:6:1: route get 10.0.1.1 in a\nip -n a route get 10.0.1.1 from 10.0.1.2 iif eth0 mark 3 || true\n",
		"s.star:7:1: list routes in a\nip -n a route show table 100 proto static\n",
		"ip -n a neigh show dev eth0\n",
		"bridge fdb show br br0\n",
		"ip -n a -s link show eth0\n",
		"s.star:11:1: expect_route a -> 10.0.1.1 via 10.0.1.9 dev eth0\nip -n a route get 10.0.1.1 | grep -q 'via 10.0.1.9 dev eth0 '\n",
		"ip -n a neigh show 10.0.1.1 | grep -q REACHABLE\n",
		"! ip -n a neigh show 10.0.1.7 | grep -q . || exit 1\n",
		"(cd "+dir+" && ip netns exec a sh -c 'sh selftest.sh')\n",
	)
}
