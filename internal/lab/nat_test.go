package lab

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/nsscript/nsscript/internal/probe"
)

// natLab is inside (10.100.0.10/16) behind router (10.100.0.1/16 on lan,
// 203.0.113.1/24 on wan) and outside (203.0.113.2/24), which has no route
// back to 10.100.0.0/16. Forwarding is on in router.
func natLab(t *testing.T, opts Options) (l *Lab, inside, router, outside *Netns, lan, wan *Link) {
	t.Helper()
	l = newLab(t, opts)
	var err error
	if inside, err = l.NewNetns("inside"); err != nil {
		t.Fatal(err)
	}
	if router, err = l.NewNetns("router"); err != nil {
		t.Fatal(err)
	}
	if outside, err = l.NewNetns("outside"); err != nil {
		t.Fatal(err)
	}
	a, lan, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Up: true}, NS: inside, PeerNS: router})
	if err != nil {
		t.Fatal(err)
	}
	wan, d, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Up: true}, NS: router, PeerNS: outside})
	if err != nil {
		t.Fatal(err)
	}
	for lk, p := range map[*Link]string{a: "10.100.0.10/16", lan: "10.100.0.1/16", wan: "203.0.113.1/24", d: "203.0.113.2/24"} {
		if err := lk.AddAddr(mustPrefix(t, p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := inside.Route(RouteSpec{Via: netip.MustParseAddr("10.100.0.1")}); err != nil {
		t.Fatal(err)
	}
	if err := router.Forwarding(true); err != nil {
		t.Fatal(err)
	}
	return l, inside, router, outside, lan, wan
}

func serveIn(t *testing.T, l *Lab, n *Netns, proto, addr string) *Service {
	t.Helper()
	s, err := l.Serve(n, proto, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// peerIP returns the address part of a built-in server's "ip:port" report.
func peerIP(t *testing.T, r probe.ConnResult) string {
	t.Helper()
	if !r.OK {
		t.Fatalf("probe failed: %s", r.Detail)
	}
	ap, err := netip.ParseAddrPort(r.Peer)
	if err != nil {
		t.Fatalf("peer %q: %v (%s)", r.Peer, err, r.Detail)
	}
	return ap.Addr().String()
}

func TestMasqueradeRewritesSource(t *testing.T) {
	t.Parallel()
	l, inside, router, outside, lan, _ := natLab(t, Options{})
	ctx := context.Background()
	serveIn(t, l, outside, "tcp", ":8080")
	serveIn(t, l, outside, "udp", ":5353")

	// No route back from outside: nothing comes back before the rule.
	if r := pingSilent(t, l, inside, "203.0.113.2"); r.Outcome == probe.Reply {
		t.Fatalf("reply before masquerading: %s", r.Detail)
	}
	err := router.Masquerade(Match{Src: mustPrefix(t, "10.100.0.1/16"), NotOut: lan.Name()})
	if err != nil {
		t.Fatal(err)
	}
	// The same pinger (same ICMP id) works at once: conntrack was flushed.
	if r := ping(t, l, inside, "203.0.113.2"); r.Outcome != probe.Reply {
		t.Fatalf("no reply after masquerading: %s", r.Detail)
	}
	for _, proto := range []string{"tcp", "udp"} {
		port := map[string]string{"tcp": "8080", "udp": "5353"}[proto]
		r := l.Connect(ctx, inside, proto, "203.0.113.2:"+port, time.Second)
		if got := peerIP(t, r); got != "203.0.113.1" {
			t.Errorf("%s: outside saw %s, want the router's 203.0.113.1", proto, got)
		}
	}
	// Traffic that leaves through lan (not_out) keeps its source.
	back := serveIn(t, l, inside, "tcp", ":7")
	r := l.Connect(ctx, router, "tcp", "10.100.0.10:7", time.Second)
	if got := peerIP(t, r); got != "10.100.0.1" {
		t.Errorf("router -> inside seen as %s", got)
	}
	if len(back.Peers()) != 1 {
		t.Errorf("peers = %v", back.Peers())
	}

	var cmds []string
	for _, s := range l.Steps() {
		if s.Op == "nft rule" {
			cmds = append(cmds, s.Cmds...)
		}
	}
	want := []string{
		"ip netns exec router nft add table inet nsscript",
		"ip netns exec router nft 'add chain inet nsscript postrouting { type nat hook postrouting priority srcnat; policy accept; }'",
		`ip netns exec router nft 'add rule inet nsscript postrouting oifname != "eth0" ip saddr 10.100.0.0/16 masquerade'`,
		"ip netns exec router conntrack -F",
	}
	if strings.Join(cmds, "\n") != strings.Join(want, "\n") {
		t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(cmds, "\n"), strings.Join(want, "\n"))
	}
}

func TestWithoutMasqueradeSourceIsKept(t *testing.T) {
	t.Parallel()
	l, inside, _, outside, _, _ := natLab(t, Options{})
	if err := outside.Route(RouteSpec{Dst: mustPrefix(t, "10.100.0.0/16"), Via: netip.MustParseAddr("203.0.113.1")}); err != nil {
		t.Fatal(err)
	}
	serveIn(t, l, outside, "http", ":80")
	_, body, r := l.HTTPGet(context.Background(), inside, "http://203.0.113.2/", time.Second)
	if got := peerIP(t, r); got != "10.100.0.10" {
		t.Errorf("outside saw %s, want inside's own 10.100.0.10 (body %q)", got, body)
	}
}

func TestPortForward(t *testing.T) {
	t.Parallel()
	l, inside, router, outside, _, wan := natLab(t, Options{})
	ctx := context.Background()
	serveIn(t, l, inside, "tcp", ":9000")
	if err := router.PortForward(Match{Proto: "tcp", Port: 8080, In: wan.Name()}, netip.MustParseAddrPort("10.100.0.10:9000")); err != nil {
		t.Fatal(err)
	}
	r := l.Connect(ctx, outside, "tcp", "203.0.113.1:8080", time.Second)
	if got := peerIP(t, r); got != "203.0.113.2" {
		t.Errorf("inside saw %s, want outside's 203.0.113.2", got)
	}
	// Other ports of the router are not forwarded: refused at once.
	if r := l.Connect(ctx, outside, "tcp", "203.0.113.1:8081", time.Second); r.OK || r.Outcome != probe.Unreachable {
		t.Errorf("port 8081: %v %s", r.Outcome, r.Detail)
	}
	// Only connections to the router's own addresses are forwarded: from
	// inside, a port 8080 elsewhere is left alone.
	serveIn(t, l, outside, "tcp", ":8080")
	if err := outside.Route(RouteSpec{Dst: mustPrefix(t, "10.100.0.0/16"), Via: netip.MustParseAddr("203.0.113.1")}); err != nil {
		t.Fatal(err)
	}
	r = l.Connect(ctx, inside, "tcp", "203.0.113.2:8080", time.Second)
	if got := peerIP(t, r); got != "10.100.0.10" {
		t.Errorf("inside -> outside:8080 seen as %s", got)
	}
}

func TestFilter(t *testing.T) {
	t.Parallel()
	l, inside, router, outside, lan, _ := natLab(t, Options{})
	ctx := context.Background()
	if err := outside.Route(RouteSpec{Dst: mustPrefix(t, "10.100.0.0/16"), Via: netip.MustParseAddr("203.0.113.1")}); err != nil {
		t.Fatal(err)
	}
	serveIn(t, l, outside, "tcp", ":80")
	serveIn(t, l, outside, "tcp", ":22")
	serveIn(t, l, outside, "udp", ":53")
	serveIn(t, l, router, "tcp", ":22")
	rules := []struct {
		hook, action string
		m            Match
	}{
		{"forward", Accept, Match{State: []string{"established", "related"}}},
		{"forward", Accept, Match{In: lan.Name(), Proto: "tcp", Port: 80}},
		{"forward", Reject, Match{Proto: "udp", Port: 53}},
		{"forward", Drop, Match{Src: mustPrefix(t, "10.100.0.0/16")}},
		{"input", Drop, Match{Proto: "tcp", Port: 22}},
	}
	for _, x := range rules {
		if err := router.Filter(x.hook, x.action, x.m); err != nil {
			t.Fatalf("%s %s %+v: %v", x.hook, x.action, x.m, err)
		}
	}
	if r := l.Connect(ctx, inside, "tcp", "203.0.113.2:80", time.Second); !r.OK {
		t.Errorf("allowed port 80: %s", r.Detail)
	}
	if r := l.Connect(ctx, inside, "tcp", "203.0.113.2:22", 300*time.Millisecond); r.OK || r.Outcome != probe.Timeout {
		t.Errorf("dropped port 22: %v %s", r.Outcome, r.Detail)
	}
	if r := l.Connect(ctx, inside, "udp", "203.0.113.2:53", time.Second); r.OK || !strings.Contains(r.Detail, "prohibited") {
		t.Errorf("rejected udp 53: %v %s", r.Outcome, r.Detail)
	}
	if r := pingSilent(t, l, inside, "203.0.113.2"); r.Outcome == probe.Reply {
		t.Errorf("dropped icmp: %s", r.Detail)
	}
	// The input rule guards the router's own port 22. outside -> inside
	// passes (the drop is for sources in 10.100.0.0/16) and so does the
	// reply, as part of an established connection.
	if r := l.Connect(ctx, outside, "tcp", "203.0.113.1:22", 300*time.Millisecond); r.OK {
		t.Errorf("router's port 22 open: %s", r.Detail)
	}
	if r := ping(t, l, outside, "10.100.0.10"); r.Outcome != probe.Reply {
		t.Errorf("outside -> inside: %s", r.Detail)
	}
}

func TestNATBadInput(t *testing.T) {
	t.Parallel()
	_, inside, router, _, lan, _ := natLab(t, Options{})
	to := netip.MustParseAddrPort("10.100.0.10:80")
	cases := []struct {
		err  error
		want string
	}{
		{router.Masquerade(Match{Out: "nope0"}), `no link "nope0" in netns "router" (it has: eth0, eth1, lo)`},
		{router.Masquerade(Match{In: lan.Name()}), "an input interface cannot be matched after routing"},
		{router.Masquerade(Match{Src: mustPrefix(t, "10.0.0.0/8"), Dst: mustPrefix(t, "fd00::/64")}), "src 10.0.0.0/8 and dst fd00::/64 are of different families"},
		{router.Masquerade(Match{Out: "bad name"}), "invalid"},
		{router.PortForward(Match{Proto: "icmp", Port: 80}, to), `port forwarding needs proto tcp or udp, not "icmp"`},
		{router.PortForward(Match{Proto: "tcp"}, to), "port forwarding needs a port"},
		{router.PortForward(Match{Proto: "tcp", Port: 80, Out: "eth0"}, to), "an output interface is not known before routing"},
		{router.PortForward(Match{Proto: "tcp", Port: 80, Src: mustPrefix(t, "fd00::/64")}, to), "are of different families"},
		{router.Filter("prerouting", Drop, Match{}), `unknown hook "prerouting"`},
		{router.Filter("forward", "allow", Match{}), `unknown action "allow"`},
		{router.Filter("forward", Drop, Match{Port: 22}), "a port needs proto tcp or udp"},
		{router.Filter("forward", Drop, Match{Proto: "sctp"}), `unknown proto "sctp"`},
		{router.Filter("forward", Drop, Match{Proto: "icmp", Src: mustPrefix(t, "fd00::/64")}), "proto icmp does not go with fd00::/64"},
		{router.Filter("forward", Drop, Match{State: []string{"old"}}), `unknown connection state "old"`},
		{router.Filter("input", Drop, Match{Out: "eth0"}), "hook input has no output interface"},
		{router.Filter("output", Drop, Match{In: "eth0"}), "hook output has no input interface"},
		{inside.Filter("forward", Drop, Match{In: "eth1"}), `no link "eth1" in netns "inside" (it has: eth0, lo)`},
	}
	for i, c := range cases {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("case %d: got %v, want %q", i, c.err, c.want)
		}
	}
	// Nothing above made a table.
	if router.nft != nil || inside.nft != nil {
		t.Errorf("a failed rule left a table")
	}
}

func TestNATPlan(t *testing.T) {
	t.Parallel()
	l, err := New(Options{Plan: true})
	if err != nil {
		t.Fatal(err)
	}
	r, err := l.NewNetns("r")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Masquerade(Match{Src: mustPrefix(t, "10.0.0.0/8")}); err != nil {
		t.Fatal(err)
	}
	if err := r.Masquerade(Match{Src: mustPrefix(t, "fd00::/8")}); err != nil {
		t.Fatal(err)
	}
	if err := r.Filter("forward", Reject, Match{Proto: "icmpv6", Dst: mustPrefix(t, "fd00::1/128")}); err != nil {
		t.Fatal(err)
	}
	if err := r.PortForward(Match{Proto: "udp", Port: 53, Dst: mustPrefix(t, "192.0.2.1/32")}, netip.MustParseAddrPort("[fd00::2]:53")); err == nil {
		t.Error("v4 dst with v6 target planned")
	}
	if err := r.PortForward(Match{Proto: "udp", Port: 53}, netip.MustParseAddrPort("[fd00::2]:5353")); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	l.WriteSteps(&b)
	got := b.String()
	for _, want := range []string{
		"ip netns exec r nft add table inet nsscript\n",
		"ip netns exec r nft add rule inet nsscript postrouting ip6 saddr fd00::/8 masquerade\n",
		"ip netns exec r nft add rule inet nsscript forward ip6 daddr fd00::1 meta l4proto ipv6-icmp reject with icmpx admin-prohibited\n",
		"ip netns exec r nft add rule inet nsscript prerouting fib daddr type local udp dport 53 meta nfproto ipv6 dnat ip6 to [fd00::2]:5353\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("plan lacks %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "add table"); n != 1 {
		t.Errorf("%d add table commands", n)
	}
	if n := strings.Count(got, "add chain inet nsscript postrouting"); n != 1 {
		t.Errorf("%d postrouting chains", n)
	}
}
