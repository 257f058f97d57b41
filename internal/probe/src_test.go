package probe

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// srcPair is pair(t) where a also has 10.7.0.1 and fd07::1 on lo, which b
// reaches back only once back(t) adds its routes there.
func srcPair(t *testing.T) (a, b int, back func()) {
	t.Helper()
	a, b = pair(t)
	h := handle(t, a)
	lo, err := h.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"10.7.0.1/32", "fd07::1/128"} {
		addAddr(t, h, lo, c)
	}
	return a, b, func() {
		route(t, b, "10.7.0.0/24", "10.9.0.1")
		route(t, b, "fd07::/64", "fd00::1")
	}
}

// TestSourceAddress: a probe from a chosen source carries it (the far end
// must route back to it), and the result reports the source used, chosen
// or not.
func TestSourceAddress(t *testing.T) {
	t.Parallel()
	a, b, back := srcPair(t)
	p := newPinger(t, a)
	ctx := context.Background()
	short := 300 * time.Millisecond
	type probeFn func(src netip.Addr, dst string, timeout time.Duration) (bool, netip.Addr, string)
	ping := func(src netip.Addr, dst string, timeout time.Duration) (bool, netip.Addr, string) {
		r := p.Ping(ctx, netip.MustParseAddr(dst), Options{Src: src, Timeout: timeout})
		return r.Outcome == Reply, r.Src, r.Outcome.String() + ": " + r.Detail
	}
	connect := func(src netip.Addr, dst string, timeout time.Duration) (bool, netip.Addr, string) {
		r := ConnectFrom(ctx, a, src, "tcp", netip.AddrPortFrom(netip.MustParseAddr(dst), 7001).String(), timeout)
		return r.OK, r.Src, r.Detail
	}
	get := func(src netip.Addr, dst string, timeout time.Duration) (bool, netip.Addr, string) {
		_, _, r := HTTPGetFrom(ctx, a, src, "http://"+netip.AddrPortFrom(netip.MustParseAddr(dst), 7002).String()+"/", timeout)
		return r.OK, r.Src, r.Detail
	}
	for _, srv := range []struct{ proto, addr string }{{"tcp", ":7001"}, {"http", ":7002"}} {
		serve(t, b, srv.proto, srv.addr)
	}
	probes := map[string]probeFn{"ping": ping, "connect": connect, "http": get}
	for name, f := range probes {
		for _, c := range []struct{ dst, auto, src string }{{"10.9.0.2", "10.9.0.1", "10.7.0.1"}, {"fd00::2", "fd00::1", "fd07::1"}} {
			if ok, used, d := f(netip.Addr{}, c.dst, 10*time.Second); !ok || used.String() != c.auto {
				t.Errorf("%s %s: ok %v from %v (%s), want a reply from %s", name, c.dst, ok, used, d, c.auto)
			}
			// b has no route back to the chosen source: no answer.
			if ok, _, d := f(netip.MustParseAddr(c.src), c.dst, short); ok {
				t.Errorf("%s %s from %s before b routes back: %s, want no answer", name, c.dst, c.src, d)
			}
		}
	}
	back()
	for name, f := range probes {
		for _, c := range []struct{ dst, src string }{{"10.9.0.2", "10.7.0.1"}, {"fd00::2", "fd07::1"}} {
			if ok, used, d := f(netip.MustParseAddr(c.src), c.dst, 10*time.Second); !ok || used.String() != c.src {
				t.Errorf("%s %s from %s: ok %v from %v (%s), want a reply from the source", name, c.dst, c.src, ok, used, d)
			}
		}
		// An address the namespace does not have: the stack refuses.
		if ok, _, d := f(netip.MustParseAddr("10.9.0.2"), "10.9.0.2", short); ok {
			t.Errorf("%s from a foreign address: %s, want a refusal", name, d)
		}
	}
}

// addAddr adds cidr to link l through h, without DAD for IPv6.
func addAddr(t *testing.T, h *netlink.Handle, l netlink.Link, cidr string) {
	t.Helper()
	ad, err := netlink.ParseAddr(cidr)
	if err != nil {
		t.Fatal(err)
	}
	if ad.IP.To4() == nil {
		ad.Flags = unix.IFA_F_NODAD
	}
	if err := h.AddrAdd(l, ad); err != nil {
		t.Fatalf("add %s: %v", cidr, err)
	}
}
