package builtins

import (
	"net"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/lab"
)

// TestStateBadArgs: every bad argument of the state builtins is one line
// naming the parameter and what it wants.
func TestStateBadArgs(t *testing.T) {
	const lab = `a, b = netns("a"), netns("b")
x, y = veth(ns = a, peer_ns = b)
`
	wantErrors(t, runPlan, []struct{ src, want string }{
		{lab + `routes(a, proto = "nope")`, `routes: for parameter "proto": invalid proto "nope" (want e.g. "kernel", "static", "boot", "dhcp" or a number)`},
		{lab + `routes(a, table = -1)`, `routes: for parameter "table": invalid table -1`},
		{lab + `routes(a, table = 1.5)`, `routes: for parameter "table": got float, want table name or number`},
		{lab + `route_get(a, "10.0.0.1", iif = y)`, `route_get: for parameter iif: eth0 is in netns "b", not "a"`},
		{lab + `route_get(a, "10.0.0.1", iif = 3)`, `route_get: for parameter iif: got int, want link or name`},
		{lab + `route_get(a, "10.0.0.1", mark = -1)`, `route_get: for parameter "mark": invalid mark -1 (want 0 to 4294967295)`},
		{lab + `route_get(a, "10.0.0.1", src = "x")`, `route_get: for parameter "src": invalid address "x" (want e.g. "192.168.0.2")`},
		{lab + `neighbours(5)`, `neighbours: for parameter of: got int, want netns, its name or link`},
		{lab + `fdb(a)`, `fdb: for parameter link: got netns, want link`},
		{lab + `expect_route(a, "10.0.0.1", dev = y)`, `expect_route: for parameter dev: eth0 is in netns "b", not "a"`},
		{lab + `expect_route(a, "10.0.0.1", within = "0s")`, `expect_route: for parameter "within": duration "0s" is not positive`},
		{lab + `expect_neighbour(a, "10.0.0.1", mac = "zz")`, `expect_neighbour: invalid mac address "zz"`},
		{lab + `expect_run(a, "")`, `expect_run: for parameter cmd: empty command`},
		{lab + `expect_run(a, "true", status = "0")`, `expect_run: for parameter "status": got string, want int`},
		{lab + `expect_run(a, "true", status = 256)`, `expect_run: for parameter "status": invalid status 256 (want 0 to 255)`},
		{lab + `expect(True, within = "1s")`, `expect: within needs a condition to re-evaluate`},
		{lab + `x.stats.rx_packts`, `"link_stats" struct has no .rx_packts attribute (did you mean .rx_packets?)`},
	})
}

// TestExpectRouteWithinConverges: a route that appears while the
// expectation waits (added through netlink, as a routing daemon would)
// settles expect_route(within=) and expect(lambda, within=); without
// within the same check fails at once.
func TestExpectRouteWithinConverges(t *testing.T) {
	l := newLab(t, lab.Options{})
	defer l.Close()
	if _, err := runIn(t, l, pairLab); err != nil {
		t.Fatal(err)
	}
	out, err := runIn(t, l, `expect_route("a", "10.0.9.1", via = "10.0.0.2")`)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out, "FAIL lab.star:1:1: expect_route: a -> 10.0.9.1 via 10.0.0.2: no route\n")
	h := nsHandle(t, l.Lookup("a"))
	added := make(chan error, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		_, dst, _ := net.ParseCIDR("10.0.9.0/24")
		added <- h.RouteAdd(&netlink.Route{Dst: dst, Gw: net.ParseIP("10.0.0.2"), Protocol: unix.RTPROT_STATIC})
	}()
	out, err = runIn(t, l, `a = "a"  # the namespace of pairLab, by name
expect_route(a, "10.0.9.1", via = "10.0.0.2", proto = "static", within = "10s")
expect(lambda: len(routes(a, proto = "static")) == 1, "daemon's route", within = "10s")
`)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-added; err != nil {
		t.Fatal(err)
	}
	wantLines(t, out,
		"ok   lab.star:2:1: expect_route: a -> 10.0.9.1 via 10.0.0.2 proto static: via 10.0.0.2 dev x0 src 10.0.0.1 table main proto static (after ",
		"ok   lab.star:3:1: expect: daemon's route: true",
		"2 passed, 0 failed\n")
}
