package builtins

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/lab"
)

// pairLab is two namespaces on one veth pair, x0 in a and y0 in b.
const pairLab = `
a, b = netns("a"), netns("b")
x, y = veth("x0", peer = "y0", ns = a, peer_ns = b)
x.addr("10.0.0.1/24")
y.addr("10.0.0.2/24")
`

// nsHandle opens a netlink handle in ns, for a test that changes the
// kernel behind the script's back as another program would; it is closed
// when the test ends.
func nsHandle(t *testing.T, ns *lab.Netns) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(netns.NsHandle(ns.FD()), unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// runConverging builds pairLab plus setup, then runs check, which finds
// a and b by name, and delay after check starts sets y0 in b up or down
// behind the script's back (through netlink, as another program would), so
// that a within= expectation sees the network change while it waits.
func runConverging(t *testing.T, setup, check string, delay time.Duration, up bool) string {
	t.Helper()
	l := newLab(t, lab.Options{})
	defer l.Close()
	if _, err := runIn(t, l, pairLab+setup); err != nil {
		t.Fatal(err)
	}
	h := nsHandle(t, l.Lookup("b"))
	changed := make(chan error, 1)
	go func() {
		time.Sleep(delay)
		lk, err := h.LinkByName("y0")
		if err == nil {
			if up {
				err = h.LinkSetUp(lk)
			} else {
				err = h.LinkSetDown(lk)
			}
		}
		changed <- err
	}()
	out, err := runIn(t, l, check)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-changed; err != nil {
		t.Fatal(err)
	}
	return out
}

// wantConverged checks that out says "PREFIX after 0.43s" with about the
// 0.5s runConverging waited before changing the network.
func wantConverged(t *testing.T, out, prefix string) {
	t.Helper()
	m := regexp.MustCompile(regexp.QuoteMeta(prefix) + ` after ([0-9.]+)s`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %q ... after Ns in:\n%s", prefix, out)
	}
	if s, _ := strconv.ParseFloat(m[1], 64); s < 0.4 || s > 3 {
		t.Errorf("converged after %.2fs, want about 0.5s", s)
	}
}

func TestExpectReachableWithin(t *testing.T) {
	t.Parallel()
	out := runConverging(t, "y.down()\n",
		`expect_reachable("a", "10.0.0.2", timeout = "200ms", within = "4s")`, 500*time.Millisecond, true)
	wantLines(t, out, "ok   lab.star:1:1: expect_reachable: a -> 10.0.0.2: reply after ", "s (within 4s)\n", "1 passed, 0 failed")
	wantConverged(t, out, "reply")
}

func TestExpectUnreachableWithin(t *testing.T) {
	t.Parallel()
	out := runConverging(t, "",
		`expect_unreachable("a", "10.0.0.2", timeout = "200ms", within = "4s")`, 500*time.Millisecond, false)
	wantLines(t, out, "ok   lab.star:1:1: expect_unreachable: a -> 10.0.0.2: unreachable after ", "s (within 4s): ", "1 passed, 0 failed")
	wantConverged(t, out, "unreachable")
}

// A probe for silence that the deadline would cut short is no evidence: a
// reply that is late, but within the probe's timeout, must still count.
// x0 sends at 8 kbit/s from a bucket of one echo request, so a's second
// request (1,000 bytes, 100 ms after the first) waits about a second in
// x0's queue; its reply comes long after the 500 ms window, well within the
// 3 s timeout.
func TestExpectUnreachableWithinWaitsItsTimeout(t *testing.T) {
	t.Parallel()
	out, err := runScript(t, pairLab+`
impair(x, rate = "8kbit", burst = 1100, latency = "10s")
expect_unreachable(a, "10.0.0.2", timeout = "3s", within = "500ms", size = 1000)
`)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out,
		"FAIL lab.star:8:1: expect_unreachable: a -> 10.0.0.2 (1000 bytes): still reachable after 500ms (",
		" probes; last: reply in ",
		"0 passed, 1 failed")
}

func TestExpectWithinFails(t *testing.T) {
	t.Parallel()
	// The reachable address gets timeout = "2s": a reply that a loaded
	// machine delays past a short timeout would count as "unreachable".
	out, err := runScript(t, pairLab+`
expect_reachable(a, "10.0.0.9", timeout = "100ms", within = "350ms")
expect_unreachable(a, "10.0.0.2", timeout = "2s", within = "300ms")
expect_reachable(a, "10.0.0.2", within = "2s")
`)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out,
		"FAIL lab.star:7:1: expect_reachable: a -> 10.0.0.9: no reply within 350ms (",
		" probes; last: no reply in ",
		"FAIL lab.star:8:1: expect_unreachable: a -> 10.0.0.2: still reachable after 300ms (",
		" probes; last: reply in ",
		"ok   lab.star:9:1: expect_reachable: a -> 10.0.0.2: reply after ", "s (within 2s)\n",
		"1 passed, 2 failed")
	if n := strings.Count(out, "\n"); n != 4 {
		t.Errorf("%d lines, want 4:\n%s", n, out)
	}
}

func TestExpectWithinErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ src, want string }{
		{`expect_reachable(a, "10.0.0.2", within = "0s")`, `expect_reachable: for parameter "within": duration "0s" is not positive`},
		{`expect_unreachable(a, "10.0.0.2", within = "soon")`, `expect_unreachable: for parameter "within": invalid duration "soon"`},
		{`expect_reachable(a, "10.0.0.2", within = [])`, `expect_reachable: for parameter "within": got list, want duration string`},
		{`expect_reachable(a, "10.0.0.2", witin = "1s")`, `expect_reachable: unexpected keyword argument "witin" (did you mean within?)`},
	} {
		_, err := runScript(t, pairLab+tc.src)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "lab.star:6:") {
			t.Errorf("%s:\n got %v\nwant lab.star:6:...%s", tc.src, err, tc.want)
		}
	}
}

func TestFmtSeconds(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Millisecond:         "0s",
		230 * time.Millisecond:   "0.23s",
		1234 * time.Millisecond:  "1.2s",
		12600 * time.Millisecond: "13s",
	} {
		if got := fmtSeconds(d); got != want {
			t.Errorf("fmtSeconds(%v) = %q, want %q", d, got, want)
		}
	}
}
