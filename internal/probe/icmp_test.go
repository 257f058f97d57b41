package probe

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

func newPinger(t testing.TB, fd int) *Pinger {
	t.Helper()
	p, err := NewPinger(fd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// inParallel calls f(0), ..., f(n-1) at the same time and returns their
// results in order.
func inParallel[R any](n int, f func(i int) R) []R {
	results := make([]R, n)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() { results[i] = f(i) })
	}
	wg.Wait()
	return results
}

func TestPingReachable(t *testing.T) {
	t.Parallel()
	a, _ := pair(t)
	p := newPinger(t, a)
	for _, dst := range []string{"10.9.0.2", "fd00::2", "10.9.0.1", "127.0.0.1", "::1"} {
		r := p.Ping(context.Background(), netip.MustParseAddr(dst), Options{Timeout: 10 * time.Second})
		t.Logf("%s: %v %s (%v)", dst, r.Outcome, r.Detail, r.Elapsed)
		if r.Outcome != Reply || r.Received != 1 || r.RTT <= 0 {
			t.Errorf("ping %s = %+v, want one reply", dst, r)
		}
	}
}

func TestPingCount(t *testing.T) {
	t.Parallel()
	a, _ := pair(t)
	p := newPinger(t, a)
	r := p.Ping(context.Background(), netip.MustParseAddr("10.9.0.2"),
		Options{Count: 3, Interval: 20 * time.Millisecond})
	t.Logf("%v %s (%v)", r.Outcome, r.Detail, r.Elapsed)
	if r.Outcome != Reply || r.Sent != 3 || r.Received != 3 {
		t.Errorf("got %+v, want 3/3 replies", r)
	}
	if r.Elapsed < 40*time.Millisecond {
		t.Errorf("elapsed %v, want at least 2 intervals", r.Elapsed)
	}
}

// TestPingCountOutlastsTimeout: a count is sent in full, its timeout is per
// reply (ping's -W), not a cap on the whole probe.
func TestPingCountOutlastsTimeout(t *testing.T) {
	t.Parallel()
	a, _ := pair(t)
	p := newPinger(t, a)
	r := p.Ping(context.Background(), netip.MustParseAddr("10.9.0.2"),
		Options{Count: 4, Interval: 60 * time.Millisecond, Timeout: 20 * time.Millisecond})
	t.Logf("%v %s (%v)", r.Outcome, r.Detail, r.Elapsed)
	if r.Outcome != Reply || r.Sent != 4 || r.Received != 4 || r.Cut {
		t.Errorf("got %+v, want 4/4 replies", r)
	}
	if !strings.HasPrefix(r.Detail, "4/4 replies") {
		t.Errorf("detail %q, want it to start with 4/4 replies", r.Detail)
	}
}

func TestPingTimeout(t *testing.T) {
	t.Parallel()
	a, _ := pair(t)
	p := newPinger(t, a)
	for _, dst := range []string{"10.9.0.77", "fd00::77"} {
		r := p.Ping(context.Background(), netip.MustParseAddr(dst), Options{Timeout: 300 * time.Millisecond, Interval: 50 * time.Millisecond})
		t.Logf("%s: %v %s sent %d (%v)", dst, r.Outcome, r.Detail, r.Sent, r.Elapsed)
		if r.Outcome != Timeout || r.Detail != "no reply in 300ms" {
			t.Errorf("ping %s = %+v, want timeout", dst, r)
		}
		if r.Elapsed < 300*time.Millisecond {
			t.Errorf("ping %s took %v, want the whole 300ms", dst, r.Elapsed)
		}
		// One request per interval while it waits (how many fit in
		// 300ms depends on the machine's load: at least a second one).
		if r.Sent < 2 {
			t.Errorf("ping %s sent %d requests, want one per interval", dst, r.Sent)
		}
	}
}

func TestPingNoRoute(t *testing.T) {
	t.Parallel()
	a, _ := pair(t)
	p := newPinger(t, a)
	for _, dst := range []string{"192.0.2.1", "2001:db8::1"} {
		r := p.Ping(context.Background(), netip.MustParseAddr(dst), Options{})
		t.Logf("%s: %v %s (%v)", dst, r.Outcome, r.Detail, r.Elapsed)
		if r.Outcome != NoRoute || r.Detail != "network is unreachable" {
			t.Errorf("ping %s = %+v, want no route", dst, r)
		}
	}
}

func TestPingUnreachableFromRouter(t *testing.T) {
	t.Parallel()
	c, _ := routed(t)
	p := newPinger(t, c)
	for _, tc := range []struct{ dst, from, detail string }{
		{"203.0.113.1", "10.8.0.254", "destination network unreachable (from 10.8.0.254)"},
		{"2001:db8::1", "fd08::fe", "no route to destination (from fd08::fe)"},
	} {
		r := p.Ping(context.Background(), netip.MustParseAddr(tc.dst), Options{Timeout: 2 * time.Second})
		t.Logf("%s: %v %s (%v)", tc.dst, r.Outcome, r.Detail, r.Elapsed)
		if r.Outcome != Unreachable || r.From != netip.MustParseAddr(tc.from) || r.Detail != tc.detail {
			t.Errorf("ping %s = %+v, want unreachable from %s", tc.dst, r, tc.from)
		}
	}
}

func TestPingConcurrent(t *testing.T) {
	t.Parallel()
	a, _ := pair(t)
	p := newPinger(t, a)
	dsts := []string{"10.9.0.2", "fd00::2", "10.9.0.1", "10.9.0.2"}
	start := time.Now()
	results := inParallel(200, func(i int) Result {
		return p.Ping(context.Background(), netip.MustParseAddr(dsts[i%len(dsts)]), Options{Timeout: 10 * time.Second})
	})
	t.Logf("200 pings in %v", time.Since(start))
	for i, r := range results {
		if r.Outcome != Reply {
			t.Errorf("ping %d to %s = %+v", i, dsts[i%len(dsts)], r)
		}
	}
}

func TestPingContextAndClose(t *testing.T) {
	t.Parallel()
	a, _ := pair(t)
	p := newPinger(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	// A probe that ignored ctx would wait an hour.
	r := p.Ping(ctx, netip.MustParseAddr("10.9.0.77"), Options{Timeout: time.Hour})
	if r.Outcome != Timeout || !r.Cut || !strings.HasPrefix(r.Detail, "stopped after ") {
		t.Errorf("canceled ping = %+v, want cut short", r)
	}

	done := make(chan Result)
	go func() {
		done <- p.Ping(context.Background(), netip.MustParseAddr("fd00::77"), Options{Timeout: time.Hour})
	}()
	time.Sleep(50 * time.Millisecond)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	// Close ends the waiting ping (which would otherwise wait an hour).
	if r := <-done; r.Outcome == Reply {
		t.Errorf("ping after close = %+v", r)
	}
	if r := p.Ping(context.Background(), netip.MustParseAddr("10.9.0.2"), Options{}); r.Outcome != NoRoute {
		t.Errorf("ping on closed pinger = %+v", r)
	}
}

// TestPingThousand checks that silent probes wait their timeout together, not
// in turn (every silent probe started before any of them ended), and do not
// disturb the answered ones.
func TestPingThousand(t *testing.T) {
	t.Parallel()
	a, _ := pair(t)
	p := newPinger(t, a)
	dsts := []string{"10.9.0.2", "10.9.0.77", "fd00::2", "fd00::77"}
	starts, ends := make([]time.Time, 1000), make([]time.Time, 1000)
	results := inParallel(1000, func(i int) Result {
		starts[i] = time.Now()
		// Generous for the answered half on a loaded machine; the silent
		// half waits it out together, which is what this test checks.
		r := p.Ping(context.Background(), netip.MustParseAddr(dsts[i%len(dsts)]), Options{Timeout: 10 * time.Second})
		ends[i] = time.Now()
		return r
	})
	var lastStart, firstEnd time.Time
	for i, r := range results {
		want := Reply
		if i%2 == 1 {
			want = Timeout
		}
		// A silent on-link address may also end as "address unreachable"
		// once neighbour discovery gives up (about 3s): no reply either way.
		if r.Outcome != want && !(want == Timeout && r.Outcome == Unreachable) {
			t.Errorf("ping %d to %s = %+v, want %v", i, dsts[i%len(dsts)], r, want)
		}
		if r.Outcome == Timeout && want == Timeout {
			if starts[i].After(lastStart) {
				lastStart = starts[i]
			}
			if firstEnd.IsZero() || ends[i].Before(firstEnd) {
				firstEnd = ends[i]
			}
		}
	}
	if !lastStart.Before(firstEnd) {
		t.Errorf("a silent ping ended at %v, before the last one started at %v: they waited in turn", firstEnd, lastStart)
	}
}
