package lab

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/probe"
)

// starLab builds n namespaces on bridge br0 in host (10.30.0.1/16), as
// scripts/scale.star does, and returns them.
func starLab(t *testing.T, l *Lab, n int) (*Link, []*Netns) {
	t.Helper()
	br, err := l.Bridge(l.Host, LinkSpec{Name: "br0", Up: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := br.AddAddr(mustPrefix(t, "10.30.0.1/16")); err != nil {
		t.Fatal(err)
	}
	var hosts []*Netns
	for i := range n {
		ns, err := l.NewNetns(fmt.Sprintf("h%d", i))
		if err != nil {
			t.Fatal(err)
		}
		x, y, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Up: true}, PeerNS: ns})
		if err != nil {
			t.Fatal(err)
		}
		if err := x.SetMaster(br); err != nil {
			t.Fatal(err)
		}
		if err := y.AddAddr(mustPrefix(t, fmt.Sprintf("10.30.0.%d/16", i+2))); err != nil {
			t.Fatal(err)
		}
		hosts = append(hosts, ns)
	}
	return br, hosts
}

func TestStaticNeighInstallsPathEntries(t *testing.T) {
	t.Parallel()
	l := newLab(t, Options{Neigh: NeighStatic})
	br, hosts := starLab(t, l, 3)
	if r := ping(t, l, hosts[0], "10.30.0.3"); r.Outcome != probe.Reply {
		t.Fatalf("h0 -> h1: %s", r.Detail)
	}
	if r := ping(t, l, hosts[1], "10.30.0.1"); r.Outcome != probe.Reply {
		t.Fatalf("h1 -> gateway: %s", r.Detail)
	}
	// h0 knows h1 and h1 knows h0 (the reply's path), permanently; h1
	// knows the gateway at the bridge's own MAC.
	want := []struct {
		ns   *Netns
		addr string
		mac  string
	}{
		{hosts[0], "10.30.0.3", hosts[1].Link("eth0").mac.String()},
		{hosts[1], "10.30.0.2", hosts[0].Link("eth0").mac.String()},
		{hosts[1], "10.30.0.1", br.mac.String()},
		{l.Host, "10.30.0.3", hosts[1].Link("eth0").mac.String()},
	}
	for _, w := range want {
		if !hasNeigh(t, w.ns, w.addr, w.mac, netlink.NUD_PERMANENT) {
			t.Errorf("netns %s: no permanent entry %s at %s", w.ns.Name, w.addr, w.mac)
		}
	}
	// The bridge knows where h1 is without having seen a frame from it.
	fdb, err := l.Host.h.NeighList(0, unix.AF_BRIDGE)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range fdb {
		if e.HardwareAddr.String() == hosts[1].Link("eth0").mac.String() && e.State&netlink.NUD_NOARP != 0 {
			found = true
		}
	}
	if !found {
		t.Errorf("bridge has no static forwarding entry for h1's MAC")
	}
}

// In a mesh every probe's path and its reply's are walks another probe
// needs too: each (namespace, destination) costs one route lookup, not
// one per probe (a mesh of 50 made 7,350 lookups for 2,450 probes).
func TestStaticNeighMeshLooksUpEachHopOnce(t *testing.T) {
	t.Parallel()
	l := newLab(t, Options{Neigh: NeighStatic})
	_, hosts := starLab(t, l, 4)
	for i, src := range hosts {
		for j := range hosts {
			if i == j {
				continue
			}
			dst := fmt.Sprintf("10.30.0.%d", j+2)
			if r := ping(t, l, src, dst); r.Outcome != probe.Reply {
				t.Fatalf("%s -> %s: %s", src.Name, dst, r.Detail)
			}
			mac := hosts[j].Link("eth0").mac.String()
			if !hasNeigh(t, src, dst, mac, netlink.NUD_PERMANENT) {
				t.Errorf("netns %s: no permanent entry %s at %s", src.Name, dst, mac)
			}
		}
	}
	// 12 first hops (each also a reply's path) and 4 lookups that end at
	// the destination's own address, all answered by the lab's model (the
	// hosts have no route but their addresses').
	l.neigh.mu.Lock()
	defer l.neigh.mu.Unlock()
	if got, want := l.neigh.lookups+l.neigh.modelled, 4*3+4; got != want {
		t.Errorf("route lookups for the 12 probes of a 4-host mesh: %d, want %d", got, want)
	}
	if l.neigh.lookups != 0 {
		t.Errorf("%d of the lookups went to the kernel, want none", l.neigh.lookups)
	}
}

func hasNeigh(t *testing.T, ns *Netns, addr, mac string, state int) bool {
	t.Helper()
	list, err := ns.h.NeighList(0, unix.AF_INET)
	if err != nil {
		t.Fatal(err)
	}
	for _, nb := range list {
		if nb.IP.String() == addr && nb.HardwareAddr.String() == mac && nb.State&state != 0 {
			return true
		}
	}
	return false
}

func TestNeighARPLeavesResolutionToKernel(t *testing.T) {
	t.Parallel()
	l := newLab(t, Options{Neigh: NeighARP})
	_, hosts := starLab(t, l, 2)
	if r := ping(t, l, hosts[0], "10.30.0.3"); r.Outcome != probe.Reply {
		t.Fatalf("h0 -> h1: %s", r.Detail)
	}
	if hasNeigh(t, hosts[0], "10.30.0.3", hosts[1].Link("eth0").mac.String(), netlink.NUD_PERMANENT) {
		t.Errorf("arp mode installed a permanent entry")
	}
	if on, why := l.StaticNeigh(); on || !strings.Contains(why, "ARP") {
		t.Errorf("StaticNeigh() = %v, %q", on, why)
	}
}

func TestNeighAutoFollowsDemand(t *testing.T) {
	t.Parallel()
	tbl, err := ReadNeighTable()
	if err != nil {
		t.Fatal(err)
	}
	l := newLab(t, Options{})
	_, hosts := starLab(t, l, 2)
	// Three addresses on one segment could need 6 entries.
	if room := tbl.Thresh3 - tbl.Entries; room > 100 {
		if on, why := l.StaticNeigh(); on || !strings.Contains(why, "could need 6 neighbour entries") {
			t.Errorf("small lab: StaticNeigh() = %v, %q", on, why)
		}
	}
	// Forty more addresses: 43*42 = 1806 possible entries, more than any
	// default table holds. Adding addresses is a change, so the lab looks
	// again.
	for i := range 40 {
		if err := hosts[0].Link("eth0").AddAddr(mustPrefix(t, fmt.Sprintf("10.30.1.%d/16", i+1))); err != nil {
			t.Fatal(err)
		}
	}
	if tbl.Thresh3 < 1806 {
		if on, why := l.StaticNeigh(); !on {
			t.Errorf("big lab: StaticNeigh() = false, %q", why)
		}
	}
	if r := ping(t, l, hosts[1], "10.30.1.7"); r.Outcome != probe.Reply {
		t.Fatalf("h1 -> h0's 10.30.1.7: %s", r.Detail)
	}
	if !hasNeigh(t, hosts[1], "10.30.1.7", hosts[0].Link("eth0").mac.String(), netlink.NUD_PERMANENT) {
		t.Errorf("auto mode past the limit installed no permanent entry")
	}
}

func TestSegments(t *testing.T) {
	t.Parallel()
	l, err := New(Options{Plan: true})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := l.NewNetns("a")
	b, _ := l.NewNetns("b")
	br0, _ := l.Bridge(l.Host, LinkSpec{Name: "br0"})
	br1, _ := l.Bridge(l.Host, LinkSpec{Name: "br1"})
	other, _ := l.Bridge(l.Host, LinkSpec{Name: "br2"})
	xa, ya, _ := l.Veth(VethSpec{PeerNS: a})
	xb, yb, _ := l.Veth(VethSpec{PeerNS: b})
	t0, t1, _ := l.Veth(VethSpec{})
	for _, p := range []struct{ port, br *Link }{{xa, br0}, {xb, br1}, {t0, br0}, {t1, br1}} {
		if err := p.port.SetMaster(p.br); err != nil {
			t.Fatal(err)
		}
	}
	seg := segments(l)
	for _, lk := range []*Link{xa, ya, xb, yb, t0, t1, br1} {
		if seg[lk] != seg[br0] {
			t.Errorf("%s is not on br0's segment", lk)
		}
	}
	if seg[other] == seg[br0] {
		t.Errorf("br2 joined br0's segment")
	}
}

func TestNewMACIsDeterministic(t *testing.T) {
	t.Parallel()
	var macs []string
	for range 2 {
		l, err := New(Options{Plan: true})
		if err != nil {
			t.Fatal(err)
		}
		macs = append(macs, l.newMAC().String()+" "+l.newMAC().String())
	}
	if macs[0] != macs[1] || macs[0] != "02:6e:00:00:00:01 02:6e:00:00:00:02" {
		t.Errorf("MACs of two labs: %q", macs)
	}
}

func TestBridgeKeepsItsMAC(t *testing.T) {
	t.Parallel()
	l := newLab(t, Options{})
	br, _ := starLab(t, l, 3)
	st, err := br.State()
	if err != nil {
		t.Fatal(err)
	}
	if st.HardwareAddr.String() != br.mac.String() || br.mac == nil {
		t.Errorf("bridge MAC %s, lab gave it %s", st.HardwareAddr, br.mac)
	}
}

func TestReadNeighTable(t *testing.T) {
	t.Parallel()
	tbl, err := ReadNeighTable()
	if err != nil {
		t.Fatal(err)
	}
	if tbl.Thresh3 <= 0 || tbl.Thresh3 < tbl.Thresh2 || tbl.Entries < 0 {
		t.Errorf("implausible table: %+v", tbl)
	}
}

func TestOverflowNote(t *testing.T) {
	t.Parallel()
	w := &overflowWatch{started: true}
	if got := w.note(); got != "" {
		t.Errorf("no baseline: note %q", got)
	}
	w.base = &NeighTable{Thresh3: 1024, TableFulls: 5}
	w.last = &NeighTable{Thresh3: 1024, TableFulls: 5}
	w.lastAt = time.Now()
	if got := w.note(); got != "" {
		t.Errorf("no overflow: note %q", got)
	}
	w.last = &NeighTable{Thresh3: 1024, TableFulls: 8}
	got := w.note()
	for _, want := range []string{"overflowed 3 times", "1024 entries", "--neigh=static", "gc_thresh3"} {
		if !strings.Contains(got, want) {
			t.Errorf("note %q lacks %q", got, want)
		}
	}
}

func TestPingNotesOverflowOnlyOnFailure(t *testing.T) {
	t.Parallel()
	l := newLab(t, Options{})
	_, hosts := starLab(t, l, 1)
	l.neigh.watch.start()
	// Pretend the table overflowed since the first probe.
	l.neigh.watch.mu.Lock()
	if l.neigh.watch.base == nil {
		l.neigh.watch.mu.Unlock()
		t.Skip("neighbour table unreadable")
	}
	l.neigh.watch.base.TableFulls--
	l.neigh.watch.mu.Unlock()
	ok := l.Ping(context.Background(), hosts[0], netip.MustParseAddr("10.30.0.1"), probe.Options{Timeout: 2e9})
	if ok.Outcome != probe.Reply || strings.Contains(ok.Detail, "overflow") {
		t.Errorf("good probe: %v %q", ok.Outcome, ok.Detail)
	}
	bad := l.Ping(context.Background(), hosts[0], netip.MustParseAddr("10.30.9.9"), probe.Options{Timeout: 2e8})
	if bad.Outcome == probe.Reply || !strings.Contains(bad.Detail, "neighbour table overflowed") {
		t.Errorf("failed probe: %v %q", bad.Outcome, bad.Detail)
	}
}

func TestParseNeighMode(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]NeighMode{"auto": NeighAuto, "static": NeighStatic, "arp": NeighARP, "": NeighAuto} {
		if got, err := ParseNeighMode(s); err != nil || got != want {
			t.Errorf("ParseNeighMode(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseNeighMode("ndp"); err == nil || !strings.Contains(err.Error(), "want auto, static or arp") {
		t.Errorf("ParseNeighMode(ndp): %v", err)
	}
}

func TestStaticNeighSurvivesLinkDownUp(t *testing.T) {
	t.Parallel()
	l := newLab(t, Options{Neigh: NeighStatic})
	_, hosts := starLab(t, l, 2)
	eth := hosts[0].Link("eth0")
	peerMAC := hosts[1].Link("eth0").mac.String()
	for round := range 2 {
		if r := ping(t, l, hosts[0], "10.30.0.3"); r.Outcome != probe.Reply {
			t.Fatalf("round %d: h0 -> h1: %s", round, r.Detail)
		}
		// Setting a link down flushes even permanent entries; the next
		// probe must install them again.
		if !hasNeigh(t, hosts[0], "10.30.0.3", peerMAC, netlink.NUD_PERMANENT) {
			t.Errorf("round %d: no permanent entry for h1", round)
		}
		if err := eth.SetUp(false); err != nil {
			t.Fatal(err)
		}
		if err := eth.SetUp(true); err != nil {
			t.Fatal(err)
		}
	}
}
