package lab

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// twoUplinks is a with links to r1 (10.0.1.0/24) and r2 (10.0.2.0/24).
func twoUplinks(t *testing.T, opts Options) (l *Lab, a, r1, r2 *Netns, a1, a2 *Link) {
	t.Helper()
	l = newLab(t, opts)
	var err error
	for _, p := range []struct {
		n    **Netns
		name string
	}{{&a, "a"}, {&r1, "r1"}, {&r2, "r2"}} {
		if *p.n, err = l.NewNetns(p.name); err != nil {
			t.Fatal(err)
		}
	}
	var x1, x2 *Link
	if a1, x1, err = l.Veth(VethSpec{LinkSpec: LinkSpec{Up: true}, NS: a, PeerNS: r1}); err != nil {
		t.Fatal(err)
	}
	if a2, x2, err = l.Veth(VethSpec{LinkSpec: LinkSpec{Up: true}, NS: a, PeerNS: r2}); err != nil {
		t.Fatal(err)
	}
	for lk, p := range map[*Link]string{a1: "10.0.1.2/24", x1: "10.0.1.1/24", a2: "10.0.2.2/24", x2: "10.0.2.1/24"} {
		if err := lk.AddAddr(mustPrefix(t, p)); err != nil {
			t.Fatal(err)
		}
	}
	return l, a, r1, r2, a1, a2
}

// kernelRoutes lists n's routes to dst in table.
func kernelRoutes(t *testing.T, n *Netns, table int, dst string) []netlink.Route {
	t.Helper()
	rs, err := n.h.RouteListFiltered(unix.AF_INET, &netlink.Route{Table: table, Dst: prefixNet(mustPrefix(t, dst))},
		netlink.RT_FILTER_TABLE|netlink.RT_FILTER_DST)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestRouteTableTypeMultipathDelete(t *testing.T) {
	t.Parallel()
	_, a, r1, r2, a1, _ := twoUplinks(t, Options{})
	gw1, err := a.GatewayNetns(r1, unix.AF_INET)
	if err != nil || gw1.String() != "10.0.1.1" {
		t.Fatalf("gateway r1 = %v, %v; want 10.0.1.1", gw1, err)
	}
	gw2, dev, err := a.GatewayLink(a1.peer, unix.AF_INET)
	if err != nil || gw2.String() != "10.0.1.1" || dev != nil {
		t.Fatalf("gateway r1's link = %v %v, %v; want 10.0.1.1 and no dev", gw2, dev, err)
	}
	if gw, dev, err := a.GatewayLink(a1, unix.AF_INET); err != nil || gw != gw1 || dev != a1 {
		t.Fatalf("gateway a1 = %v %v, %v; want its peer's 10.0.1.1 out of a1", gw, dev, err)
	}
	via2, _ := a.GatewayNetns(r2, unix.AF_INET)
	multi, err := a.AddRoute(RouteSpec{Dst: mustPrefix(t, "10.9.0.0/24"), Table: 100,
		Nexthops: []Nexthop{{Via: gw1, Weight: 1}, {Via: via2, Weight: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	rs := kernelRoutes(t, a, 100, "10.9.0.0/24")
	if len(rs) != 1 || len(rs[0].MultiPath) != 2 || rs[0].MultiPath[1].Hops != 2 || !rs[0].MultiPath[1].Gw.Equal(via2.AsSlice()) {
		t.Fatalf("table 100 has %v, want one route with nexthops 10.0.1.1 and 10.0.2.1 weight 3", rs)
	}
	hole, err := a.AddRoute(RouteSpec{Dst: mustPrefix(t, "10.8.0.0/16"), Type: "blackhole", Metric: 9})
	if err != nil {
		t.Fatal(err)
	}
	if rs := kernelRoutes(t, a, unix.RT_TABLE_MAIN, "10.8.0.0/16"); len(rs) != 1 || rs[0].Type != unix.RTN_BLACKHOLE || rs[0].Priority != 9 {
		t.Fatalf("main has %v, want a blackhole with metric 9", rs)
	}
	for _, rt := range []*AddedRoute{multi, hole} {
		if err := rt.Delete(); err != nil {
			t.Fatal(err)
		}
	}
	if rs := kernelRoutes(t, a, 100, "10.9.0.0/24"); len(rs) != 0 {
		t.Fatalf("after delete, table 100 still has %v", rs)
	}
	if err := hole.Delete(); err == nil || !strings.Contains(err.Error(), "already deleted") {
		t.Fatalf("second delete: %v, want already deleted", err)
	}
}

func TestRouteSpecErrors(t *testing.T) {
	t.Parallel()
	l := newLab(t, Options{Plan: true})
	a, err := l.NewNetns("a")
	if err != nil {
		t.Fatal(err)
	}
	x, _, err := l.Veth(VethSpec{NS: a})
	if err != nil {
		t.Fatal(err)
	}
	v4, v6 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("fd00::1")
	for spec, want := range map[*RouteSpec]string{
		{Dst: mustPrefix(t, "10.0.0.0/8"), Via: v4, Type: "blackhole"}:                  "a blackhole route has no gateway",
		{Dst: mustPrefix(t, "10.0.0.0/8"), Dev: x, Scope: "site"}:                       "unknown scope",
		{Dst: mustPrefix(t, "10.0.0.0/8"), Type: "anycast"}:                             "unknown route type",
		{Dst: mustPrefix(t, "10.0.0.0/8"), Via: v4, Src: v6}:                            "different families",
		{Dst: mustPrefix(t, "10.0.0.0/8"), Via: v4, Nexthops: []Nexthop{{Via: v4}}}:     "not from via or dev",
		{Dst: mustPrefix(t, "10.0.0.0/8"), Nexthops: []Nexthop{{Via: v4, Weight: 257}}}: "invalid weight",
		{Dst: mustPrefix(t, "10.0.0.0/8")}:                                              "needs via or dev",
	} {
		if _, err := a.AddRoute(*spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("AddRoute(%+v) = %v, want %q", *spec, err, want)
		}
	}
}
