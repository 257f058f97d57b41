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
	link := func(name, state string, addrs ...string) { modelTestLink(t, l, ns, name, state, addrs...) }
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
}

// modelTestLink adds a veth from l's host to ns, named name in ns, up or
// "down" there, with the addresses given.
func modelTestLink(t *testing.T, l *Lab, ns *Netns, name, state string, addrs ...string) {
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
}

// oneLinkNS returns a new namespace of l called name whose eth0, a veth
// to the host, has address addr.
func oneLinkNS(t *testing.T, l *Lab, name, addr string) *Netns {
	t.Helper()
	ns, err := l.NewNetns(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Up: true}, PeerNS: ns, PeerName: "eth0"}); err != nil {
		t.Fatal(err)
	}
	if err := ns.Link("eth0").AddAddr(mustPrefix(t, addr)); err != nil {
		t.Fatal(err)
	}
	return ns
}

// A route, a rule or a sysctl of the script's in a namespace, or a
// program started anywhere in the lab (it can change any namespace's
// routes), and the kernel answers there again.
func TestRouteModelStopsAtChanges(t *testing.T) {
	for _, c := range []struct {
		what, dst string
		change    func(l *Lab, ns *Netns) error
	}{
		{"a route of the script's", "10.50.0.1", func(_ *Lab, ns *Netns) error {
			return ns.Route(RouteSpec{Dst: mustPrefix(t, "10.50.0.0/16"), Via: netip.MustParseAddr("10.61.0.1")})
		}},
		{"a sysctl", "10.61.0.3", func(_ *Lab, ns *Netns) error {
			return ns.Sysctl("net.ipv4.conf.all.ignore_routes_with_linkdown", "1")
		}},
		// 10.61.0.0/24 is unreachable, whatever the links say.
		{"a rule", "10.61.0.3", func(_ *Lab, ns *Netns) error {
			_, err := ns.AddRule(RuleSpec{To: mustPrefix(t, "10.61.0.0/24"), Priority: 10, Action: "unreachable"})
			return err
		}},
		{"a program started", "10.61.0.3", func(l *Lab, _ *Netns) error {
			pr, err := l.Start(l.Host, Program{Argv: []string{"true"}}, false)
			if err == nil {
				<-pr.Done()
			}
			return err
		}},
	} {
		l := newLab(t, Options{})
		ns := oneLinkNS(t, l, "a", "10.61.0.2/24")
		dst := netip.MustParseAddr(c.dst)
		if _, ok := l.modelRoute(ns, dst); !ok {
			t.Fatalf("before %s: the model does not answer", c.what)
		}
		if err := c.change(l, ns); err != nil {
			t.Fatal(err)
		}
		if a, ok := l.modelRoute(ns, dst); ok {
			t.Errorf("after %s: the model answers %+v", c.what, a)
		}
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
