package lab

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// routedPair is vethPair with 10.0.1.1/24 on x (in a) and 10.0.1.2/24 on y,
// and in a a route to 10.0.9.0/24 via y with metric 5.
func routedPair(t *testing.T) (l *Lab, a, b *Netns, x, y *Link) {
	t.Helper()
	l = newLab(t, Options{})
	a, b, x, y = vethPair(t, l)
	for lk, p := range map[*Link]string{x: "10.0.1.1/24", y: "10.0.1.2/24"} {
		if err := lk.AddAddr(mustPrefix(t, p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Route(RouteSpec{Dst: mustPrefix(t, "10.0.9.0/24"), Via: netip.MustParseAddr("10.0.1.2"), Metric: 5}); err != nil {
		t.Fatal(err)
	}
	return l, a, b, x, y
}

// routeTo returns the route to dst in rs.
func routeTo(t *testing.T, rs []Route, dst string) Route {
	t.Helper()
	for _, r := range rs {
		if r.Dst.String() == dst {
			return r
		}
	}
	t.Fatalf("no route to %s in %+v", dst, rs)
	return Route{}
}

func TestRoutesReadsTheKernel(t *testing.T) {
	_, a, _, x, _ := routedPair(t)
	// A route a program made (as "ip route add ... proto static table 100"
	// would), straight through netlink, behind the lab's back.
	for _, table := range []int{unix.RT_TABLE_MAIN, 100} {
		rt := &netlink.Route{Dst: prefixNet(mustPrefix(t, "10.0.7.0/24")), Gw: net.ParseIP("10.0.1.2"), Protocol: unix.RTPROT_STATIC, Table: table}
		if err := a.h.RouteAdd(rt); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := a.Routes(RouteFilter{Table: unix.RT_TABLE_MAIN, Proto: -1})
	if err != nil {
		t.Fatal(err)
	}
	got := routeTo(t, rs, "10.0.9.0/24")
	if got.Via.String() != "10.0.1.2" || got.Dev != x.Name() || got.Metric != 5 || ProtoName(got.Proto) != "boot" || TableName(got.Table) != "main" || RouteTypeName(got.Type) != "unicast" {
		t.Errorf("route to 10.0.9.0/24: %+v", got)
	}
	conn := routeTo(t, rs, "10.0.1.0/24")
	if conn.Via.IsValid() || conn.Src.String() != "10.0.1.1" || ProtoName(conn.Proto) != "kernel" || ScopeName(conn.Scope) != "link" {
		t.Errorf("connected route: %+v", conn)
	}
	routeTo(t, rs, "10.0.7.0/24")
	static, err := a.Routes(RouteFilter{Table: unix.RT_TABLE_MAIN, Proto: unix.RTPROT_STATIC})
	if err != nil {
		t.Fatal(err)
	}
	if len(static) != 1 || static[0].Dst.String() != "10.0.7.0/24" {
		t.Errorf("proto static: %+v", static)
	}
	t100, err := a.Routes(RouteFilter{Table: 100, Proto: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(t100) != 1 || t100[0].Table != 100 {
		t.Errorf("table 100: %+v", t100)
	}
}

func TestRouteGetIsTheFIBDecision(t *testing.T) {
	_, a, _, x, _ := routedPair(t)
	got, err := a.RouteGet(netip.MustParseAddr("10.0.9.7"), RouteQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Dst.String() != "10.0.9.7/32" || got.Via.String() != "10.0.1.2" || got.Dev != x.Name() || got.Src.String() != "10.0.1.1" ||
		got.Table != unix.RT_TABLE_MAIN || ProtoName(got.Proto) != "boot" || got.Metric != 5 {
		t.Errorf("route get 10.0.9.7: %+v", got)
	}
	if _, err := a.RouteGet(netip.MustParseAddr("10.99.0.1"), RouteQuery{}); !errors.Is(err, ErrNoRoute) {
		t.Errorf("route get 10.99.0.1: %v, want ErrNoRoute", err)
	}
	bh := &netlink.Route{Dst: prefixNet(mustPrefix(t, "10.0.8.0/24")), Type: unix.RTN_BLACKHOLE}
	if err := a.h.RouteAdd(bh); err != nil {
		t.Fatal(err)
	}
	got, err = a.RouteGet(netip.MustParseAddr("10.0.8.1"), RouteQuery{})
	if err != nil || RouteTypeName(got.Type) != "blackhole" || got.Dev != "" {
		t.Errorf("route get 10.0.8.1: %+v, %v; want a blackhole", got, err)
	}
	// A lookup from one of a's own addresses, as "ip route get ... from".
	if _, err := a.RouteGet(netip.MustParseAddr("10.0.9.7"), RouteQuery{Src: netip.MustParseAddr("10.0.1.1")}); err != nil {
		t.Errorf("route get from 10.0.1.1: %v", err)
	}
}

func TestNeighboursAfterAPing(t *testing.T) {
	l, a, _, x, y := routedPair(t)
	if res := ping(t, l, a, "10.0.1.2"); res.Received == 0 {
		t.Fatalf("ping: %+v", res)
	}
	st, err := y.State()
	if err != nil {
		t.Fatal(err)
	}
	for _, of := range []*Link{nil, x} {
		ns, err := a.Neighbours(of)
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, e := range ns {
			if e.Addr.String() == "10.0.1.2" {
				found = true
				if e.MAC.String() != st.HardwareAddr.String() || e.Dev != x.Name() || (e.State != "reachable" && e.State != "permanent") {
					t.Errorf("neighbour 10.0.1.2: %+v (mac of y %s)", e, st.HardwareAddr)
				}
			}
		}
		if !found {
			t.Errorf("neighbours of %v: no 10.0.1.2 in %+v", of, ns)
		}
	}
}

func TestFDBOfBridgeAndVxlan(t *testing.T) {
	l := newLab(t, Options{})
	a, err := l.NewNetns("a")
	if err != nil {
		t.Fatal(err)
	}
	br, err := l.Bridge(l.Host, LinkSpec{Name: "br0", Up: true})
	if err != nil {
		t.Fatal(err)
	}
	port, inner, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Up: true}, NS: l.Host, PeerNS: a})
	if err != nil {
		t.Fatal(err)
	}
	if err := port.SetMaster(br); err != nil {
		t.Fatal(err)
	}
	if err := br.AddAddr(mustPrefix(t, "10.0.0.1/24")); err != nil {
		t.Fatal(err)
	}
	if err := inner.AddAddr(mustPrefix(t, "10.0.0.2/24")); err != nil {
		t.Fatal(err)
	}
	if res := ping(t, l, a, "10.0.0.1"); res.Received == 0 {
		t.Fatalf("ping: %+v", res)
	}
	st, err := inner.State()
	if err != nil {
		t.Fatal(err)
	}
	es, err := br.FDB()
	if err != nil {
		t.Fatal(err)
	}
	learnt := false
	for _, e := range es {
		if e.MAC.String() == st.HardwareAddr.String() && e.Dev == port.Name() && e.State != "permanent" {
			learnt = true
		}
	}
	if !learnt {
		t.Errorf("fdb of br0 lacks %s on %s: %+v", st.HardwareAddr, port.Name(), es)
	}
	vx, err := l.Vxlan(VxlanSpec{LinkSpec: LinkSpec{Up: true}, VNI: 7, Remotes: []netip.Addr{netip.MustParseAddr("192.0.2.9")}})
	if err != nil {
		t.Fatal(err)
	}
	es, err = vx.FDB()
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Remote.String() != "192.0.2.9" || es[0].MAC.String() != "00:00:00:00:00:00" {
		t.Errorf("fdb of %s: %+v", vx.Name(), es)
	}
}

func TestAddressesIncludeProgramsOwn(t *testing.T) {
	_, a, _, x, _ := routedPair(t)
	// An address a program added (ip addr add), behind the lab's back.
	nl, err := a.h.LinkByName(x.Name())
	if err != nil {
		t.Fatal(err)
	}
	if err := a.h.AddrAdd(nl, &netlink.Addr{IPNet: prefixNet(mustPrefix(t, "10.0.3.1/24"))}); err != nil {
		t.Fatal(err)
	}
	for _, of := range []*Link{nil, x} {
		as, err := a.Addresses(of)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ad := range as {
			if ad.Dev == x.Name() {
				got = append(got, ad.Prefix.String()+" "+ScopeName(ad.Scope))
			}
		}
		if len(got) != 2 || got[0] != "10.0.1.1/24 global" || got[1] != "10.0.3.1/24 global" {
			t.Errorf("addresses of %v on %s: %v", of, x.Name(), got)
		}
	}
}
