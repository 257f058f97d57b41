package lab

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/nsscript/nsscript/internal/probe"
)

// macvlanLAN builds the test LAN: namespace "sw" is an outside switch (bridge
// br, address 192.168.1.1) whose port swp is the other end of eth0, the
// parent NIC of namespace "h" (192.168.1.2); c1 and c2 get macvlans of eth0 in
// mode, 192.168.1.11 and .12.
func macvlanLAN(t *testing.T, mode string, neigh NeighMode) (l *Lab, swp *Link, c1, c2 *Netns) {
	t.Helper()
	l = newLab(t, Options{Neigh: neigh})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	sw, err := l.NewNetns("sw")
	must(err)
	h, err := l.NewNetns("h")
	must(err)
	br, err := l.Bridge(sw, LinkSpec{Name: "br", Up: true})
	must(err)
	must(br.AddAddr(mustPrefix(t, "192.168.1.1/24")))
	eth0, swp, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Name: "eth0", Up: true}, NS: h, PeerNS: sw, PeerName: "swp"})
	must(err)
	must(swp.SetMaster(br))
	must(eth0.AddAddr(mustPrefix(t, "192.168.1.2/24")))
	var cs []*Netns
	for i, name := range []string{"c1", "c2"} {
		c, err := l.NewNetns(name)
		must(err)
		mv, err := l.Macvlan(MacvlanSpec{LinkSpec: LinkSpec{Up: true}, Parent: eth0, NS: c, Mode: mode})
		must(err)
		if mv.Name() != "eth0" || mv.NS() != c || mv.Parent() != eth0 || mv.Kind() != "macvlan" {
			t.Fatalf("macvlan %s in %s, parent %v, kind %s", mv.Name(), mv.NS(), mv.Parent(), mv.Kind())
		}
		must(mv.AddAddr(mustPrefix(t, []string{"192.168.1.11/24", "192.168.1.12/24"}[i])))
		cs = append(cs, c)
	}
	return l, swp, cs[0], cs[1]
}

// wantPing probes dst from src: a wanted reply may take up to three seconds
// (it ends the probe at once; a loaded machine can delay the first ARP
// answer), silence is waited for half a second.
func wantPing(t *testing.T, l *Lab, src *Netns, dst string, reply bool) {
	t.Helper()
	timeout := 500 * time.Millisecond
	if reply {
		timeout = 3 * time.Second
	}
	r := l.Ping(context.Background(), src, netip.MustParseAddr(dst), probe.Options{Timeout: timeout})
	if (r.Outcome == probe.Reply) != reply {
		t.Errorf("%s -> %s: %s (want reply: %v)", src.Name, dst, r.Detail, reply)
	}
}

func TestMacvlanBridge(t *testing.T) {
	t.Parallel()
	l, _, c1, c2 := macvlanLAN(t, "bridge", NeighARP)
	wantPing(t, l, c1, "192.168.1.12", true) // siblings, directly
	wantPing(t, l, c1, "192.168.1.1", true)  // the outside world
	wantPing(t, l, c2, "192.168.1.2", false) // never the parent
	mode, err := c1.Link("eth0").MacvlanMode()
	if err != nil || mode != "bridge" {
		t.Errorf("mode %q, %v", mode, err)
	}
}

// TestMacvlanPrivate: private siblings never resolve each other, even
// through a hairpin switch, because private mode drops the broadcasts (ARP)
// a sibling sent that come back.
func TestMacvlanPrivate(t *testing.T) {
	t.Parallel()
	l, swp, c1, _ := macvlanLAN(t, "private", NeighARP)
	wantPing(t, l, c1, "192.168.1.1", true)
	wantPing(t, l, c1, "192.168.1.12", false)
	// Not even a hairpin switch joins private siblings.
	if err := swp.SetHairpin(true); err != nil {
		t.Fatal(err)
	}
	wantPing(t, l, c1, "192.168.1.12", false)
	wantPing(t, l, c1, "192.168.1.2", false)
}

// TestMacvlanPrivateUnicast: what private mode blocks is broadcast. With
// neighbour entries made by hand, unicast through a hairpin switch gets
// through (so the lab's static-neighbour mode cannot show the isolation).
func TestMacvlanPrivateUnicast(t *testing.T) {
	t.Parallel()
	l, swp, c1, _ := macvlanLAN(t, "private", NeighStatic)
	wantPing(t, l, c1, "192.168.1.12", false) // out, and dropped by the switch
	if err := swp.SetHairpin(true); err != nil {
		t.Fatal(err)
	}
	wantPing(t, l, c1, "192.168.1.12", true)
}

func TestMacvlanVEPA(t *testing.T) {
	t.Parallel()
	l, swp, c1, c2 := macvlanLAN(t, "vepa", NeighARP)
	wantPing(t, l, c1, "192.168.1.1", true)
	wantPing(t, l, c1, "192.168.1.12", false)
	wantPing(t, l, c1, "192.168.1.2", false)
	if on, err := swp.Hairpin(); err != nil || on {
		t.Fatalf("hairpin %v, %v before SetHairpin", on, err)
	}
	if err := swp.SetHairpin(true); err != nil {
		t.Fatal(err)
	}
	if on, err := swp.Hairpin(); err != nil || !on {
		t.Fatalf("hairpin %v, %v after SetHairpin", on, err)
	}
	wantPing(t, l, c2, "192.168.1.11", true)
	// The parent too is only reachable through the switch.
	wantPing(t, l, c1, "192.168.1.2", true)
}

func TestMacvlanPassthru(t *testing.T) {
	t.Parallel()
	l := newLab(t, Options{})
	a, b, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Name: "eth0", Up: true}, PeerName: "wire"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := l.NewNetns("c")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Macvlan(MacvlanSpec{LinkSpec: LinkSpec{Up: true}, Parent: a, NS: c, Mode: "passthru"}); err != nil {
		t.Fatal(err)
	}
	_, err = l.Macvlan(MacvlanSpec{LinkSpec: LinkSpec{Name: "mv1"}, Parent: a, Mode: "bridge"})
	if err == nil || !strings.Contains(err.Error(), "parent eth0 has passthru macvlan eth0 (in c), which takes the parent alone") {
		t.Errorf("second macvlan on a passthru parent: %v", err)
	}
	// The other way round: passthru on a parent that has a macvlan.
	if _, err := l.Macvlan(MacvlanSpec{Parent: b, Mode: "bridge"}); err != nil {
		t.Fatal(err)
	}
	_, err = l.Macvlan(MacvlanSpec{Parent: b, Mode: "passthru"})
	if err == nil || !strings.Contains(err.Error(), "parent wire already has macvlan macvlan0 (in host); a passthru macvlan must be its parent's only one") {
		t.Errorf("passthru next to a macvlan: %v", err)
	}
	if _, err := l.Macvlan(MacvlanSpec{Parent: b, Mode: "bogus"}); err == nil || !strings.Contains(err.Error(), `unknown macvlan mode "bogus" (want private, vepa, bridge, passthru)`) {
		t.Errorf("bad mode: %v", err)
	}
}

// TestMacvlanHostAccess is seed 002's recipe: the host cannot reach its
// macvlan containers through their parent, but can through an aux macvlan
// with a /32 and a route to the containers' range.
func TestMacvlanHostAccess(t *testing.T) {
	t.Parallel()
	l, _, c1, _ := macvlanLAN(t, "bridge", NeighARP)
	h := l.Lookup("h")
	wantPing(t, l, h, "192.168.1.11", false)
	aux, err := l.Macvlan(MacvlanSpec{LinkSpec: LinkSpec{Name: "mynet-aux", Up: true}, Parent: h.Link("eth0"), Mode: "bridge"})
	if err != nil {
		t.Fatal(err)
	}
	if err := aux.AddAddr(mustPrefix(t, "192.168.1.223/32")); err != nil {
		t.Fatal(err)
	}
	if err := h.Route(RouteSpec{Dst: mustPrefix(t, "192.168.1.8/29"), Dev: aux}); err != nil {
		t.Fatal(err)
	}
	wantPing(t, l, h, "192.168.1.11", true)
	wantPing(t, l, c1, "192.168.1.223", true)
}

func TestMacvlanPlan(t *testing.T) {
	t.Parallel()
	l, err := New(Options{Plan: true})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := l.NewNetns("c")
	a, _, _ := l.Veth(VethSpec{LinkSpec: LinkSpec{Name: "eth0"}})
	if _, err := l.Macvlan(MacvlanSpec{LinkSpec: LinkSpec{Up: true}, Parent: a, NS: c, Mode: "vepa"}); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	l.WriteSteps(&b)
	for _, want := range []string{
		"ip link add link eth0 name eth0 netns c type macvlan mode vepa",
		"ip -n c link set eth0 up",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("steps lack %q:\n%s", want, b.String())
		}
	}
}
