package lab

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"testing"

	"golang.org/x/sys/unix"
)

// Benchmarks of the state reads on a namespace with a 1000-route main
// table (go test -run '^$' -bench 'Route' -benchmem ./internal/lab).

const benchRoutes = 1000

// routeTable returns namespace a of a fresh lab with benchRoutes /24 routes
// via 10.0.1.2 (besides the connected 10.0.1.0/24), and their prefixes.
func routeTable(b *testing.B) (*Netns, []netip.Prefix) {
	b.Helper()
	l := benchLab(b, Options{})
	b.Cleanup(func() { l.Close() })
	a, _, x, _ := vethPair(b, l)
	if err := x.AddAddr(netip.MustParsePrefix("10.0.1.1/24")); err != nil {
		b.Fatal(err)
	}
	var ps []netip.Prefix
	for i := range benchRoutes {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 64 + byte(i>>8), byte(i), 0}), 24)
		if err := a.Route(RouteSpec{Dst: p, Via: netip.MustParseAddr("10.0.1.2")}); err != nil {
			b.Fatal(err)
		}
		ps = append(ps, p)
	}
	return a, ps
}

// BenchmarkRouteGet1000 asks the FIB for one destination
// (route_get(ns, dst)): the decision plus the fibmatch lookup.
func BenchmarkRouteGet1000(b *testing.B) {
	a, ps := routeTable(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dst := ps[i%len(ps)].Addr().Next()
		rt, err := a.RouteGet(dst, RouteQuery{})
		if err != nil || rt.Via.String() != "10.0.1.2" {
			b.Fatalf("route get %s: %+v, %v", dst, rt, err)
		}
	}
}

// BenchmarkRoutes1000 lists the main table (routes(ns)).
func BenchmarkRoutes1000(b *testing.B) {
	a, _ := routeTable(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rs, err := a.Routes(RouteFilter{Table: unix.RT_TABLE_MAIN, Proto: -1})
		if err != nil || len(rs) != benchRoutes+1 {
			b.Fatalf("routes: %d, %v", len(rs), err)
		}
	}
}

// BenchmarkRouteGetIP is the same question asked the way a script could
// without route_get: run(ns, "ip route get ...") (needs iproute2).
func BenchmarkRouteGetIP(b *testing.B) {
	if _, err := exec.LookPath("ip"); err != nil {
		b.Skip("needs iproute2 (ip)")
	}
	a, ps := routeTable(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dst := ps[i%len(ps)].Addr().Next()
		pr, err := a.lab.Start(a, Program{Argv: []string{"ip", "route", "get", dst.String()}}, false)
		if err != nil {
			b.Fatal(err)
		}
		res, err := pr.Wait(context.Background(), 0)
		if err != nil || res.Status != 0 {
			b.Fatal(fmt.Errorf("ip route get %s: %v %s", dst, err, res.Stderr))
		}
	}
}
