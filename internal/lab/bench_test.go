package lab

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/nsscript/nsscript/internal/probe"
	"github.com/nsscript/nsscript/internal/testenv"
)

// Benchmarks of the lab's operations, one kernel object per iteration. Run
// them with `make bench` (or go test -run '^$' -bench . -benchmem
// ./internal/lab). Each benchmark builds at most benchChunk objects in one
// lab and then starts a new lab outside the timer, so that -benchtime=10s
// does not ask the kernel for a hundred thousand namespaces at once.

const benchChunk = 500

// benchLab returns a fresh lab for a benchmark (host is a new namespace).
func benchLab(b *testing.B, opts Options) *Lab {
	b.Helper()
	testenv.NeedNamespaces(b)
	testenv.NeedRoot(b)
	opts.FreshHost = true
	l, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// chunked runs op b.N times, handing it a lab that is replaced (outside the
// timer) every benchChunk iterations. setup prepares each new lab.
func chunked[S any](b *testing.B, setup func(*Lab) S, op func(l *Lab, s S, i int) error) {
	b.Helper()
	b.ReportAllocs()
	var l *Lab
	var s S
	b.StopTimer()
	defer func() {
		if l != nil {
			l.Close()
		}
	}()
	for i := 0; i < b.N; i++ {
		if i%benchChunk == 0 {
			if l != nil {
				l.Close()
			}
			l = benchLab(b, Options{})
			s = setup(l)
			b.StartTimer()
		}
		if err := op(l, s, i%benchChunk); err != nil {
			b.Fatal(err)
		}
		if i%benchChunk == benchChunk-1 {
			b.StopTimer()
		}
	}
}

func none(*Lab) struct{} { return struct{}{} }

// benchAddr returns the i-th address of 10.64.0.0/10 with the given prefix
// length.
func benchAddr(i, bits int) netip.Prefix {
	i += 2
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 64 + byte(i>>16), byte(i >> 8), byte(i)}), bits)
}

// BenchmarkNetns creates a namespace with loopback up (netns("x")).
func BenchmarkNetns(b *testing.B) {
	chunked(b, none, func(l *Lab, _ struct{}, i int) error {
		_, err := l.NewNetns(fmt.Sprintf("n%d", i))
		return err
	})
}

// BenchmarkVeth creates a veth pair from host into a namespace, both ends up
// (veth(peer_ns = ns)).
func BenchmarkVeth(b *testing.B) {
	chunked(b, func(l *Lab) *Netns {
		ns, err := l.NewNetns("peer")
		if err != nil {
			b.Fatal(err)
		}
		return ns
	}, func(l *Lab, ns *Netns, i int) error {
		_, _, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Up: true}, PeerNS: ns})
		return err
	})
}

// benchVeths is the setup of benchmarks that change existing links: a
// bridge and benchChunk veth pairs from host into one namespace.
type benchVeths struct {
	br           *Link
	outer, inner []*Link
	ns           *Netns
}

func setupVeths(b *testing.B) func(*Lab) *benchVeths {
	return func(l *Lab) *benchVeths {
		s := &benchVeths{}
		var err error
		if s.ns, err = l.NewNetns("peer"); err != nil {
			b.Fatal(err)
		}
		if s.br, err = l.Bridge(l.Host, LinkSpec{Name: "br0", Up: true}); err != nil {
			b.Fatal(err)
		}
		for range benchChunk {
			x, y, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Up: true}, PeerNS: s.ns})
			if err != nil {
				b.Fatal(err)
			}
			s.outer, s.inner = append(s.outer, x), append(s.inner, y)
		}
		return s
	}
}

// BenchmarkBridgePort attaches a veth end to a bridge (outer.set(master = br)).
func BenchmarkBridgePort(b *testing.B) {
	chunked(b, setupVeths(b), func(l *Lab, s *benchVeths, i int) error {
		return s.outer[i].SetMaster(s.br)
	})
}

// BenchmarkAddr adds an IPv4 address to a link in a namespace
// (inner.addr("10.64.0.2/16")).
func BenchmarkAddr(b *testing.B) {
	chunked(b, setupVeths(b), func(l *Lab, s *benchVeths, i int) error {
		return s.inner[i].AddAddr(benchAddr(i, 16))
	})
}

// BenchmarkRoute adds a route through a gateway in a namespace
// (route(ns, "10.x.y.z/32", via = gw)).
func BenchmarkRoute(b *testing.B) {
	chunked(b, func(l *Lab) *Netns {
		ns, err := l.NewNetns("r")
		if err != nil {
			b.Fatal(err)
		}
		_, y, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Up: true}, PeerNS: ns})
		if err != nil {
			b.Fatal(err)
		}
		if err := y.AddAddr(netip.MustParsePrefix("192.168.0.2/24")); err != nil {
			b.Fatal(err)
		}
		return ns
	}, func(l *Lab, ns *Netns, i int) error {
		return ns.Route(RouteSpec{Dst: benchAddr(i, 32), Via: netip.MustParseAddr("192.168.0.1")})
	})
}

// BenchmarkHost builds one host of scale.star: a namespace, a veth into it
// attached to the bridge, an address and a default route.
func BenchmarkHost(b *testing.B) {
	chunked(b, func(l *Lab) *Link {
		br, err := l.Bridge(l.Host, LinkSpec{Name: "br0", Up: true})
		if err != nil {
			b.Fatal(err)
		}
		if err := br.AddAddr(netip.MustParsePrefix("10.64.0.1/10")); err != nil {
			b.Fatal(err)
		}
		return br
	}, func(l *Lab, br *Link, i int) error {
		ns, err := l.NewNetns(fmt.Sprintf("h%d", i))
		if err != nil {
			return err
		}
		x, y, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Up: true}, PeerNS: ns})
		if err != nil {
			return err
		}
		if err := x.SetMaster(br); err != nil {
			return err
		}
		if err := y.AddAddr(benchAddr(i, 10)); err != nil {
			return err
		}
		return ns.Route(RouteSpec{Via: netip.MustParseAddr("10.64.0.1")})
	})
}

// pingPair returns a lab with two namespaces joined by a veth, a->b
// already resolved (one probe sent).
func pingPair(b *testing.B) (*Lab, *Netns, netip.Addr) {
	b.Helper()
	l := benchLab(b, Options{})
	a, _, x, y := vethPair(b, l)
	if err := x.AddAddr(netip.MustParsePrefix("10.9.0.1/24")); err != nil {
		b.Fatal(err)
	}
	if err := y.AddAddr(netip.MustParsePrefix("10.9.0.2/24")); err != nil {
		b.Fatal(err)
	}
	dst := netip.MustParseAddr("10.9.0.2")
	if r := l.Ping(context.Background(), a, dst, probe.Options{Timeout: 2 * time.Second}); r.Outcome != probe.Reply {
		b.Fatalf("warm-up probe: %s", r.Detail)
	}
	return l, a, dst
}

// BenchmarkPing is one expect_reachable probe across a veth, in turn.
func BenchmarkPing(b *testing.B) {
	l, a, dst := pingPair(b)
	defer l.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if r := l.Ping(context.Background(), a, dst, probe.Options{}); r.Outcome != probe.Reply {
			b.Fatal(r.Detail)
		}
	}
}

// BenchmarkPingConcurrent is the same probe with 64 in flight at a time, as
// a script's expectations run.
func BenchmarkPingConcurrent(b *testing.B) {
	l, a, dst := pingPair(b)
	defer l.Close()
	b.ReportAllocs()
	b.ResetTimer()
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for range b.N {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if r := l.Ping(context.Background(), a, dst, probe.Options{}); r.Outcome != probe.Reply {
				b.Error(r.Detail)
			}
		}()
	}
	wg.Wait()
}
