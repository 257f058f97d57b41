package lab

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/nsscript/nsscript/internal/probe"
)

// pair returns namespaces a (10.7.0.1) and b (10.7.0.2) joined by a veth,
// and a's end of it.
func pair(t *testing.T) (*Lab, *Netns, *Netns, *Link) {
	t.Helper()
	l := newLab(t, Options{})
	a, b, x, y := vethPair(t, l)
	if err := x.AddAddr(mustPrefix(t, "10.7.0.1/24")); err != nil {
		t.Fatal(err)
	}
	if err := y.AddAddr(mustPrefix(t, "10.7.0.2/24")); err != nil {
		t.Fatal(err)
	}
	return l, a, b, x
}

// measure times an echo transfer of n bytes from a to b's built-in server.
func measure(t *testing.T, l *Lab, a, b *Netns, n int64) time.Duration {
	t.Helper()
	l.Settle(context.Background())
	srv, err := probe.Serve(b.FD(), "tcp", "10.7.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	r := probe.Transfer(context.Background(), a.FD(), srv.Addr(), n, 20*time.Second)
	if !r.OK {
		t.Fatalf("transfer: %s", r.Detail)
	}
	return r.Elapsed
}

// TestImpairRate proves tbf's rate limit: a transfer takes as long as the
// rate says, and clearing the impairment makes it fast again. Unimpaired
// and cleared transfers are compared with the limited one, not with a
// fixed time: a loaded machine slows them all.
func TestImpairRate(t *testing.T) {
	t.Parallel()
	l, a, b, x := pair(t)
	const n = 128 << 10
	u := measure(t, l, a, b, n)
	if err := x.Impair(Impairment{Rate: 1e6}); err != nil {
		t.Fatal(err)
	}
	want := time.Duration(float64(n*8) / 1e6 * float64(time.Second))
	d := measure(t, l, a, b, n)
	t.Logf("%d bytes at 1mbit: %s (ideal %s)", n, d, want)
	if d < want*8/10 || d > want*13/10 {
		t.Errorf("transfer took %s, want about %s", d, want)
	}
	qs, err := a.h.QdiscList(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: x.index}})
	if err != nil || len(qs) != 1 || qs[0].Type() != "tbf" {
		t.Fatalf("qdiscs %v, %v", qs, err)
	}
	// Replacing keeps one root; a faster rate is faster.
	if err := x.Impair(Impairment{Rate: 4e6}); err != nil {
		t.Fatal(err)
	}
	if d4 := measure(t, l, a, b, n); d4 > d/2 {
		t.Errorf("at 4mbit: %s, at 1mbit: %s", d4, d)
	}
	if err := x.ClearImpairment(); err != nil {
		t.Fatal(err)
	}
	if qs, err := a.h.QdiscList(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: x.index}}); err != nil || hasTbf(qs) {
		t.Errorf("cleared, the qdiscs are %v, %v", qs, err)
	}
	if dc := measure(t, l, a, b, n); u > d/2 || dc > d/2 {
		t.Errorf("unimpaired %s, cleared %s, at 1mbit %s", u, dc, d)
	}
}

// hasTbf reports whether qs holds a tbf qdisc.
func hasTbf(qs []netlink.Qdisc) bool {
	for _, q := range qs {
		if q.Type() == "tbf" {
			return true
		}
	}
	return false
}

// TestImpairNetem adds delay where the kernel has netem and otherwise checks
// the one-line refusal.
func TestImpairNetem(t *testing.T) {
	t.Parallel()
	l, a, _, x := pair(t)
	err := x.Impair(Impairment{Delay: 50 * time.Millisecond, Rate: 10e6})
	if err != nil {
		if !strings.Contains(err.Error(), "qdisc netem is not supported by this kernel") {
			t.Fatalf("impair: %v", err)
		}
		t.Skipf("no netem here: %v", err)
	}
	r := l.Ping(context.Background(), a, mustPrefix(t, "10.7.0.2/32").Addr(), probe.Options{Count: 3, Interval: 10 * time.Millisecond, Timeout: 2 * time.Second})
	if r.MinRTT < 50*time.Millisecond || r.MaxRTT > 150*time.Millisecond {
		t.Errorf("rtt %s..%s with 50ms delay", r.MinRTT, r.MaxRTT)
	}
}

func TestImpairmentCheckAndPlan(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		im   Impairment
		want string
	}{
		{Impairment{}, "nothing to do"},
		{Impairment{Jitter: time.Millisecond}, "jitter needs a delay"},
		{Impairment{Loss: 101}, "invalid loss 101%"},
		{Impairment{Rate: 100}, "rate 100 bit/s is too low"},
		{Impairment{Delay: time.Millisecond, Burst: 10}, "burst and latency need a rate"},
	} {
		if err := tc.im.check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.im, err, tc.want)
		}
	}
	l, err := New(Options{Plan: true})
	if err != nil {
		t.Fatal(err)
	}
	x, _, _ := l.Veth(VethSpec{LinkSpec: LinkSpec{Name: "x"}})
	if err := x.Impair(Impairment{Delay: 20 * time.Millisecond, Jitter: 5 * time.Millisecond, Loss: 1, Rate: 1e6}); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	l.WriteSteps(&b)
	for _, want := range []string{
		"impair x in host: delay 20ms jitter 5ms loss 1% rate 1mbit",
		"tc qdisc replace dev x root handle 1: netem delay 20ms 5ms loss 1%",
		"tc qdisc add dev x parent 1:1 handle 10: tbf rate 1000000bit burst 3028 limit 28028",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("steps lack %q:\n%s", want, b.String())
		}
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]uint64{
		"1mbit": 1e6, "500kbit": 5e5, "1.5Mbit": 15e5, "10gbit": 1e10, "8000bit": 8000, "1kbps": 8000, "2mbps": 16e6,
	} {
		got, err := ParseRate(in)
		if err != nil || got != want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "fast", "1", "-1mbit", "1 mbit/s", "0kbit"} {
		if _, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) succeeded", in)
		}
	}
	for in, want := range map[uint64]string{1e6: "1mbit", 15e5: "1.5mbit", 999: "999bit", 2e9: "2gbit"} {
		if got := FormatRate(in); got != want {
			t.Errorf("FormatRate(%d) = %s, want %s", in, got, want)
		}
	}
}

// TestImpairJournaled: with --host, an impairment of a link that outlives
// the lab is undone when the lab closes.
func TestImpairJournaled(t *testing.T) {
	t.Parallel()
	l := newLab(t, Options{HostMode: true, NetnsDir: t.TempDir()})
	x, _, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Name: "x", Up: true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Impair(Impairment{Rate: 1e6}); err != nil {
		t.Fatal(err)
	}
	if j := l.Journal(); len(j) == 0 || j[0] != "clear impairment of x" {
		t.Errorf("journal %q", j)
	}
}
