package lab

import (
	"fmt"
	"net/netip"
	"testing"
)

// The lab answers a route lookup from its model only where the kernel
// would give the same answer, and asks the kernel everywhere else.
func TestRouteModelMatchesKernel(t *testing.T) {
	l := newLab(t, Options{})
	ns, err := l.NewNetns("a")
	if err != nil {
		t.Fatal(err)
	}
	link := func(name, state string, addrs ...string) *Link {
		t.Helper()
		_, in, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Up: true}, PeerNS: ns, PeerName: name})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range addrs {
			if err := in.AddAddr(mustPrefix(t, a)); err != nil {
				t.Fatal(err)
			}
		}
		if state == "down" {
			if err := in.SetUp(false); err != nil {
				t.Fatal(err)
			}
		}
		return in
	}
	link("eth0", "up", "10.40.0.2/16", "10.43.0.1/32")
	link("eth1", "up", "10.41.1.1/24", "10.41.1.2/24") // two addresses, one prefix
	link("eth2", "down", "10.42.0.1/24")
	link("eth3", "up", "10.40.5.1/24") // inside eth0's prefix, longer
	link("eth4", "up", "10.44.0.1/31")
	link("eth5", "up", "10.45.0.1/24")
	link("eth6", "up", "10.45.0.9/24", "2001:db8::1/64") // eth5's prefix again
	// The model's answer, or "-" where it must ask the kernel.
	cases := map[string]string{
		"10.40.0.2":       "local",
		"10.43.0.1":       "local",
		"10.41.1.2":       "-", // a secondary address: its route's source is the primary
		"10.41.1.1":       "-",
		"10.40.0.9":       "eth0 10.40.0.2",
		"10.40.5.7":       "eth3 10.40.5.1",
		"10.44.0.0":       "eth4 10.44.0.1",
		"10.44.0.1":       "local",
		"192.0.2.1":       "none",
		"10.43.0.2":       "none",
		"10.41.1.9":       "-", // two addresses for the prefix: which is primary is the kernel's
		"10.42.0.5":       "-", // a down link's prefix
		"10.42.0.1":       "-", // a down link's address
		"10.40.255.255":   "-", // broadcast
		"10.40.0.0":       "-", // the prefix's own address
		"10.45.0.3":       "-", // two links for one prefix
		"127.0.0.1":       "-",
		"224.0.0.1":       "-",
		"255.255.255.255": "-",
	}
	var dsts []netip.Addr
	for d := range cases {
		dsts = append(dsts, netip.MustParseAddr(d))
	}
	kernel := routeGetMany(ns, dsts, nil, make([]byte, 1<<16))
	for i, dst := range dsts {
		want := cases[dst.String()]
		got, ok := l.modelRoute(ns, dst)
		if !ok {
			if want != "-" {
				t.Errorf("%s: the model asks the kernel, want it to answer %q", dst, want)
			}
			continue
		}
		if want == "-" {
			t.Errorf("%s: the model answers %+v, want it to ask the kernel (%+v)", dst, got, kernel[i])
			continue
		}
		if got != kernel[i] {
			t.Errorf("%s: the model answers %+v, the kernel %+v", dst, got, kernel[i])
		}
		if desc := describeAnswer(ns, got); desc != want {
			t.Errorf("%s: the model answers %q, want %q", dst, desc, want)
		}
	}

	// A route, a rule or a sysctl, and the kernel answers again.
	if err := ns.Route(RouteSpec{Dst: mustPrefix(t, "10.50.0.0/16"), Via: netip.MustParseAddr("10.40.0.1")}); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.modelRoute(ns, netip.MustParseAddr("10.50.0.1")); ok {
		t.Errorf("the model answers in a namespace with a route of the script's")
	}
	b, err := l.NewNetns("b")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Up: true}, PeerNS: b, PeerName: "eth0"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Link("eth0").AddAddr(mustPrefix(t, "10.60.0.2/24")); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.modelRoute(b, netip.MustParseAddr("10.60.0.3")); !ok {
		t.Fatalf("the model does not answer in b")
	}
	if err := b.Sysctl("net.ipv4.conf.all.ignore_routes_with_linkdown", "1"); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.modelRoute(b, netip.MustParseAddr("10.60.0.3")); ok {
		t.Errorf("the model answers after a sysctl")
	}
	// A rule: 10.61.0.0/24 is unreachable from c, whatever its links say.
	c, err := l.NewNetns("c")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Up: true}, PeerNS: c, PeerName: "eth0"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Link("eth0").AddAddr(mustPrefix(t, "10.61.0.2/24")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddRule(RuleSpec{To: mustPrefix(t, "10.61.0.0/24"), Priority: 10, Action: "unreachable"}); err != nil {
		t.Fatal(err)
	}
	if a, ok := l.modelRoute(c, netip.MustParseAddr("10.61.0.3")); ok {
		t.Errorf("the model answers %+v in a namespace with a rule", a)
	}
}

// Once a program has started anywhere in the lab, the kernel answers
// every lookup: a program can change any namespace's routes.
func TestRouteModelStopsAtPrograms(t *testing.T) {
	l := newLab(t, Options{})
	ns, err := l.NewNetns("a")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Up: true}, PeerNS: ns, PeerName: "eth0"}); err != nil {
		t.Fatal(err)
	}
	if err := ns.Link("eth0").AddAddr(mustPrefix(t, "10.61.0.2/24")); err != nil {
		t.Fatal(err)
	}
	dst := netip.MustParseAddr("10.61.0.3")
	if _, ok := l.modelRoute(ns, dst); !ok {
		t.Fatalf("the model does not answer before any program")
	}
	pr, err := l.Start(l.Host, Program{Argv: []string{"true"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	<-pr.Done()
	if _, ok := l.modelRoute(ns, dst); ok {
		t.Errorf("the model answers after a program started")
	}
}

// describeAnswer names a model's answer as the cases above do.
func describeAnswer(ns *Netns, a routeAnswer) string {
	switch {
	case !a.ok:
		return "none"
	case a.local:
		return "local"
	}
	for _, lk := range ns.order {
		if lk.index == a.oif {
			return fmt.Sprintf("%s %s", lk.name, a.src)
		}
	}
	return fmt.Sprintf("oif %d %s", a.oif, a.src)
}
