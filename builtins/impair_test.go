package builtins

import (
	"strings"
	"testing"

	"go.starlark.net/starlark"
)

// TestImpairRateScript: a rate limit shows in transfers, and expect_rate
// fails when the rate is not what it says.
func TestImpairRateScript(t *testing.T) {
	t.Parallel()
	out, err := runScript(t, `
a, b = netns("a"), netns("b")
x, y = veth(ns = a, peer_ns = b)
x.addr("10.0.0.1/24")
y.addr("10.0.0.2/24")
expect_rate(a, b, min = "50mbit")
expect_rtt(a, b, max = "20ms")
impair(x, rate = "2mbit")
r = transfer(a, "10.0.0.2", size = "128KB")
print(r.ok, r.bytes, 0.4 < r.seconds and r.seconds < 0.7, 1.4e6 < r.rate and r.rate < 2.6e6)
expect_rate(a, y, rate = "2mbit", size = "128KB")
expect_rate(a, b, rate = "8mbit", size = "100KB")
impair(x, clear = True)
expect_rate(a, b, min = "50mbit", size = "4MB")
r = transfer(a, "10.0.0.9:1", timeout = "300ms")
print(r.ok, r.detail)
`)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out,
		"ok   lab.star:6:1: expect_rate: a -> b (10.0.0.2): at least 50mbit: ",
		"ok   lab.star:7:1: expect_rtt: a -> b (10.0.0.2): rtt at most 20ms: 5 of 5 replies, rtt min/avg/max ",
		"True 128000 True True\n",
		"ok   lab.star:11:1: expect_rate: a -> b/eth0 (10.0.0.2): 2mbit ± 20%: ",
		"FAIL lab.star:12:1: expect_rate: a -> b (10.0.0.2): 8mbit ± 20%: 100000 bytes in ",
		"ok   lab.star:14:1: expect_rate: a -> b (10.0.0.2): at least 50mbit: 4000000 bytes in ",
		"False ",
		"4 passed, 1 failed")
}

func TestImpairErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ src, want string }{
		{"x, y = veth()\nimpair(x)", "lab.star:2:1: impair: nothing to do: give delay, jitter, loss or rate"},
		{"x, y = veth()\nimpair(x, rate = 'fast')", `impair: for parameter "rate": invalid rate "fast" (want e.g. "1mbit", "500kbit" or "10gbit")`},
		{"x, y = veth()\nimpair(x, loss = '120%')", "percentage 120 is out of range (want 0 to 100)"},
		{"x, y = veth()\nimpair(x, loss = 'a lot')", `invalid percentage "a lot"`},
		{"x, y = veth()\nimpair(x, jitter = '5ms')", "impair: jitter needs a delay"},
		{"x, y = veth()\nimpair(x, rate = '1mbit', clear = True)", "impair: clear=True takes no other option"},
		{"x, y = veth()\nimpair(x, delay = '20ms')", "qdisc netem is not supported by this kernel"},
		{"impair(host, rate = '1mbit')", "impair: for parameter link: got netns, want link"},
		{"transfer(host, '10.1.1.1')", "transfer: for parameter dst: no lab namespace has address 10.1.1.1"},
		{"x, y = veth()\ny.addr('10.0.0.1/24')\ntransfer(host, y, size = '1 parsec')", `invalid size "1 parsec"`},
		{"expect_rate(host, '10.0.0.1:80')", "expect_rate: want rate, min or max"},
		{"expect_rate(host, '10.0.0.1:80', rate = '1mbit', min = '1kbit')", "give rate (with tolerance) or min and max, not both"},
		{"expect_rate(host, '10.0.0.1:80', min = '2mbit', max = '1mbit')", "expect_rate: min 2mbit is above max 1mbit"},
		{"expect_rtt(host, '10.0.0.1')", "expect_rtt: want min, max or both"},
	} {
		_, err := runPlan(t, tc.src)
		if err == nil && strings.Contains(tc.want, "netem") {
			continue // this kernel has netem
		}
		wantError(t, tc.src, err, tc.want)
	}
}

func TestSizeAndLossArgs(t *testing.T) {
	for in, want := range map[string]int64{"64KB": 64000, "1MiB": 1 << 20, "2 kib": 2048, "10b": 10, "1.5MB": 1500000} {
		var a sizeArg
		if err := a.Unpack(starlarkString(in)); err != nil || a.n != want {
			t.Errorf("size %q = %d, %v; want %d", in, a.n, err, want)
		}
	}
	for _, in := range []string{"", "KB", "-1KB", "0.1b", "1TB"} {
		var a sizeArg
		if err := a.Unpack(starlarkString(in)); err == nil {
			t.Errorf("size %q accepted", in)
		}
	}
	for in, want := range map[string]float64{"1%": 1, "0.5%": 0.5, "100%": 100} {
		var a lossArg
		if err := a.Unpack(starlarkString(in)); err != nil || a.pct != want {
			t.Errorf("loss %q = %g, %v", in, a.pct, err)
		}
	}
}

func starlarkString(s string) starlark.String { return starlark.String(s) }
