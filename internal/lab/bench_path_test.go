package lab

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/nsscript/nsscript/internal/probe"
)

// benchChain builds a chain of hops namespaces, n0 - n1 - ... - n<hops>,
// with n1 to n<hops-1> forwarding, and returns the first and the address of
// the last: a traceroute between them crosses hops-1 routers.
func benchChain(b *testing.B, l *Lab, hops int) (*Netns, netip.Addr) {
	b.Helper()
	nss := make([]*Netns, hops+1)
	for i := range nss {
		var err error
		if nss[i], err = l.NewNetns(fmt.Sprintf("n%d", i)); err != nil {
			b.Fatal(err)
		}
	}
	addr := func(seg, side int) netip.Prefix {
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 70, byte(seg), byte(side)}), 24)
	}
	for i := 0; i < hops; i++ {
		x, y, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Up: true}, NS: nss[i], PeerNS: nss[i+1]})
		if err != nil {
			b.Fatal(err)
		}
		if err := x.AddAddr(addr(i, 1)); err != nil {
			b.Fatal(err)
		}
		if err := y.AddAddr(addr(i, 2)); err != nil {
			b.Fatal(err)
		}
	}
	for i, ns := range nss {
		// The kernel answers one ICMP error per second per peer after a
		// burst of six: back-to-back traces would measure that limit.
		for k, v := range map[string]string{"net.ipv4.icmp_ratelimit": "0", "net.ipv4.icmp_msgs_per_sec": "100000"} {
			if err := ns.Sysctl(k, v); err != nil {
				b.Fatal(err)
			}
		}
		if i > 0 && i < hops {
			if err := ns.Forwarding(true); err != nil {
				b.Fatal(err)
			}
		}
		// Towards the far end through the next namespace, back through the
		// previous one.
		if i < hops-1 {
			if err := ns.Route(RouteSpec{Dst: netip.MustParsePrefix("10.70.0.0/16"), Via: addr(i, 2).Addr()}); err != nil {
				b.Fatal(err)
			}
		}
		if i > 1 {
			if err := ns.Route(RouteSpec{Dst: netip.MustParsePrefix("10.70.0.0/24"), Via: addr(i-1, 1).Addr()}); err != nil {
				b.Fatal(err)
			}
		}
	}
	return nss[0], addr(hops-1, 2).Addr()
}

// BenchmarkTraceroute8Hops traces a chain of 8 hops (7 routers and the
// destination): traceroute(n0, dst), all TTLs probed at once, with the
// kernel's ICMP rate limit off in the chain.
func BenchmarkTraceroute8Hops(b *testing.B) {
	for _, udp := range []bool{false, true} {
		b.Run(map[bool]string{false: "icmp", true: "udp"}[udp], func(b *testing.B) {
			l := benchLab(b, Options{})
			defer l.Close()
			src, dst := benchChain(b, l, 8)
			o := probe.TraceOptions{UDP: udp, MaxHops: 30}
			if tr := l.Traceroute(context.Background(), src, dst, o); !tr.Reached || len(tr.Hops) != 8 {
				b.Fatalf("warm-up trace: %d hops: %s", len(tr.Hops), tr.Detail)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if tr := l.Traceroute(context.Background(), src, dst, o); !tr.Reached || len(tr.Hops) != 8 {
					b.Fatalf("%d hops: %s", len(tr.Hops), tr.Detail)
				}
			}
		})
	}
}
