package lab

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/nsscript/nsscript/internal/probe"
	"github.com/nsscript/nsscript/internal/sandbox"
	"github.com/nsscript/nsscript/internal/testenv"
)

// newLab returns a lab whose host is a fresh namespace, closed at the end.
func newLab(t *testing.T, opts Options) *Lab {
	t.Helper()
	testenv.NeedNamespaces(t)
	testenv.NeedRoot(t)
	// As nsscript run does: programs' orphans stay below the test process.
	sandbox.Reap()
	opts.FreshHost = true
	l, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// vethPair returns new namespaces a and b joined by a veth that is up, and
// its ends in a and in b.
func vethPair(t testing.TB, l *Lab) (a, b *Netns, x, y *Link) {
	t.Helper()
	a, err := l.NewNetns("a")
	if err != nil {
		t.Fatal(err)
	}
	b, err = l.NewNetns("b")
	if err != nil {
		t.Fatal(err)
	}
	x, y, err = l.Veth(VethSpec{LinkSpec: LinkSpec{Up: true}, NS: a, PeerNS: b})
	if err != nil {
		t.Fatal(err)
	}
	return a, b, x, y
}

func mustPrefix(t *testing.T, s string) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// ping probes dst from src for a reply: the timeout is generous, for a
// loaded machine; a reply ends it at once.
func ping(t *testing.T, l *Lab, src *Netns, dst string) probe.Result {
	t.Helper()
	return l.Ping(context.Background(), src, netip.MustParseAddr(dst), probe.Options{Timeout: 10 * time.Second})
}

// pingSilent probes dst where the test expects no reply: silence is only
// proven by a whole timeout, so it is short.
func pingSilent(t *testing.T, l *Lab, src *Netns, dst string) probe.Result {
	t.Helper()
	return l.Ping(context.Background(), src, netip.MustParseAddr(dst), probe.Options{Timeout: 500 * time.Millisecond})
}

func TestVethBetweenNamespaces(t *testing.T) {
	t.Parallel()
	l := newLab(t, Options{})
	a, b, x, y := vethPair(t, l)
	if x.Name() != "eth0" || y.Name() != "eth0" || x.Peer() != y || y.Peer() != x {
		t.Fatalf("names %s/%s, peers %v %v", x.Name(), y.Name(), x.Peer(), y.Peer())
	}
	if err := x.AddAddr(mustPrefix(t, "10.1.0.1/24")); err != nil {
		t.Fatal(err)
	}
	if err := y.AddAddr(mustPrefix(t, "10.1.0.2/24")); err != nil {
		t.Fatal(err)
	}
	if err := y.AddAddr(mustPrefix(t, "fd00::2/64")); err != nil {
		t.Fatal(err)
	}
	if err := x.AddAddr(mustPrefix(t, "fd00::1/64")); err != nil {
		t.Fatal(err)
	}
	for _, dst := range []string{"10.1.0.2", "fd00::2"} {
		if r := ping(t, l, a, dst); r.Outcome != probe.Reply {
			t.Errorf("a -> %s: %s", dst, r.Detail)
		}
	}
	if got, _ := b.FirstAddr(); got.String() != "10.1.0.2" {
		t.Errorf("FirstAddr = %v", got)
	}
	// Down on one end: silence; up again: replies at once.
	if err := y.SetUp(false); err != nil {
		t.Fatal(err)
	}
	if r := pingSilent(t, l, a, "10.1.0.2"); r.Outcome == probe.Reply {
		t.Errorf("reply with peer down")
	}
	if err := y.SetUp(true); err != nil {
		t.Fatal(err)
	}
	if r := ping(t, l, a, "10.1.0.2"); r.Outcome != probe.Reply {
		t.Errorf("after up: %s in %v", r.Detail, r.Elapsed)
	}
}

func TestBridgeRouteSysctl(t *testing.T) {
	t.Parallel()
	l := newLab(t, Options{})
	br, err := l.Bridge(l.Host, LinkSpec{Name: "br0", Up: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := br.AddAddr(mustPrefix(t, "10.2.0.1/16")); err != nil {
		t.Fatal(err)
	}
	var spaces []*Netns
	for i, name := range []string{"n1", "n2"} {
		n, err := l.NewNetns(name)
		if err != nil {
			t.Fatal(err)
		}
		outer, inner, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Up: true}, PeerNS: n})
		if err != nil {
			t.Fatal(err)
		}
		if err := outer.SetMaster(br); err != nil {
			t.Fatal(err)
		}
		if err := inner.AddAddr(netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 2, 0, byte(10 + i)}), 16)); err != nil {
			t.Fatal(err)
		}
		if err := n.Route(RouteSpec{Via: netip.MustParseAddr("10.2.0.1")}); err != nil {
			t.Fatal(err)
		}
		spaces = append(spaces, n)
	}
	if r := ping(t, l, spaces[0], "10.2.0.11"); r.Outcome != probe.Reply {
		t.Errorf("n1 -> n2: %s", r.Detail)
	}
	// A second address outside the bridge subnet is reached through the
	// default route.
	x, _, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Name: "up0", Up: true}, PeerName: "up1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := x.AddAddr(mustPrefix(t, "192.0.2.1/24")); err != nil {
		t.Fatal(err)
	}
	if r := ping(t, l, spaces[1], "192.0.2.1"); r.Outcome != probe.Reply {
		t.Errorf("n2 -> 192.0.2.1: %s", r.Detail)
	}
	if err := spaces[0].Forwarding(true); err != nil {
		t.Fatal(err)
	}
	if v, err := spaces[0].ReadSysctl("net.ipv4.ip_forward"); err != nil || v != "1" {
		t.Errorf("ip_forward = %q, %v", v, err)
	}
	if v, _ := spaces[1].ReadSysctl("net.ipv4.ip_forward"); v != "0" {
		t.Errorf("forwarding leaked to n2: %q", v)
	}
	if err := spaces[0].Sysctl("kernel.hostname", "x"); err == nil || !strings.Contains(err.Error(), "only net.*") {
		t.Errorf("kernel.* sysctl: %v", err)
	}
	// Route through a gateway not on any connected network.
	err = spaces[0].Route(RouteSpec{Dst: mustPrefix(t, "10.9.0.0/16"), Via: netip.MustParseAddr("172.16.0.1")})
	if err == nil || !strings.Contains(err.Error(), "not on any directly connected network") {
		t.Errorf("bad gateway: %v", err)
	}
}

func TestLinkChanges(t *testing.T) {
	t.Parallel()
	l := newLab(t, Options{})
	n, err := l.NewNetns("c1")
	if err != nil {
		t.Fatal(err)
	}
	x, _, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Name: "up0", Up: true}, PeerName: "up1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := x.SetMTU(1400); err != nil {
		t.Fatal(err)
	}
	if err := x.SetMAC([]byte{2, 0, 0, 0, 0, 9}); err != nil {
		t.Fatal(err)
	}
	st, err := x.State()
	if err != nil || st.MTU != 1400 || st.HardwareAddr.String() != "02:00:00:00:00:09" {
		t.Fatalf("state %+v, %v", st, err)
	}
	if err := x.Move(n); err != nil {
		t.Fatal(err)
	}
	if x.NS() != n || l.Host.Link("up0") != nil || n.Link("up0") != x {
		t.Fatalf("move not recorded")
	}
	if err := x.Rename("eth1"); err != nil {
		t.Fatal(err)
	}
	if err := x.SetUp(true); err != nil {
		t.Fatal(err)
	}
	if st, err := x.State(); err != nil || st.Name != "eth1" {
		t.Fatalf("after rename: %+v %v", st, err)
	}
	if err := x.Rename("has/slash"); err == nil {
		t.Error("rename to a bad name worked")
	}
	if err := x.Delete(); err != nil {
		t.Fatal(err)
	}
	if n.Link("eth1") != nil || l.Host.Link("up1") != nil {
		t.Error("delete not recorded for the pair")
	}
}

func TestBadInputs(t *testing.T) {
	t.Parallel()
	l := newLab(t, Options{MaxObjects: 3})
	if _, err := l.NewNetns("a/b"); err == nil {
		t.Error("netns with slash")
	}
	if _, err := l.NewNetns("host"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("netns host: %v", err)
	}
	if _, _, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Name: "sixteen-bytes-xx"}}); err == nil || !strings.Contains(err.Error(), "longer than 15 bytes") {
		t.Errorf("long name: %v", err)
	}
	if _, _, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Name: "same"}, PeerName: "same"}); err == nil {
		t.Error("same names in one netns")
	}
	a, _, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Name: "v0"}, PeerName: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Name: "v0"}, PeerName: "v2"}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate: %v", err)
	}
	n, err := l.NewNetns("n")
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Route(RouteSpec{Dev: a}); err == nil || !strings.Contains(err.Error(), "is in netns") {
		t.Errorf("dev in wrong netns: %v", err)
	}
	if _, err := l.NewNetns("m"); err == nil || !strings.Contains(err.Error(), "object limit") {
		t.Errorf("object cap: %v", err)
	}
}

func TestPlanRecordsSteps(t *testing.T) {
	t.Parallel()
	l, err := New(Options{Plan: true})
	if err != nil {
		t.Fatal(err)
	}
	n, _ := l.NewNetns("net1")
	l.SetPos("x.star:3:1")
	a, b, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Up: true}, PeerNS: n})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.AddAddr(mustPrefix(t, "10.0.0.2/24")); err != nil {
		t.Fatal(err)
	}
	_ = a
	var sb strings.Builder
	if err := l.WriteSteps(&sb); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ip netns add net1",
		"ip link add veth0 type veth peer name eth0 netns net1",
		"ip link set veth0 up",
		"ip -n net1 link set eth0 up",
		"# x.star:3:1: create veth pair veth0 (host) <-> eth0 (net1)",
		"ip -n net1 addr add 10.0.0.2/24 dev eth0",
	}
	for _, w := range want {
		if !strings.Contains(sb.String(), w+"\n") {
			t.Errorf("plan lacks %q:\n%s", w, sb.String())
		}
	}
}
