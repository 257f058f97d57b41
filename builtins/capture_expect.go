package builtins

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"github.com/nsscript/nsscript/internal/lab"
)

// packetMatchArg unpacks what selects packets: a capture's filter and what
// expect_packets counts. As a dict ({"proto": "arp", "src": net1}) it is one
// argument; params lists the same keys as keyword arguments.
type packetMatchArg struct {
	run                *Run
	proto, typ, flags  string
	src, dst, host     addrMatchArg
	sport, dport, port portArg
	m                  lab.PacketMatch
}

// params returns the match keys as UnpackArgs pairs, all optional.
func (a *packetMatchArg) params() []any {
	a.src.run, a.dst.run, a.host.run = a.run, a.run, a.run
	return []any{"proto??", &a.proto, "type??", &a.typ, "flags??", &a.flags,
		"src??", &a.src, "dst??", &a.dst, "host??", &a.host,
		"sport??", &a.sport, "dport??", &a.dport, "port??", &a.port}
}

// build makes the match of the unpacked keys and checks it.
func (a *packetMatchArg) build() error {
	a.m = lab.PacketMatch{Proto: a.proto, Type: a.typ, Flags: a.flags,
		Src: a.src.p, Dst: a.dst.p, Host: a.host.p, Sport: int(a.sport.n), Dport: int(a.dport.n), Port: int(a.port.n)}
	return a.m.Check()
}

// given reports whether any key was unpacked.
func (a *packetMatchArg) given() bool {
	return a.proto != "" || a.typ != "" || a.flags != "" || a.src.p.IsValid() || a.dst.p.IsValid() || a.host.p.IsValid() ||
		a.sport.n != 0 || a.dport.n != 0 || a.port.n != 0
}

// Unpack implements starlark.Unpacker for the dict form.
func (a *packetMatchArg) Unpack(v starlark.Value) error {
	d, ok := v.(*starlark.Dict)
	if !ok {
		return fmt.Errorf("got %s, want dict such as {\"proto\": \"arp\"}", v.Type())
	}
	ps := a.params()
	var names []string
	for i := 0; i < len(ps); i += 2 {
		names = append(names, strings.TrimSuffix(ps[i].(string), "??"))
	}
	var kwargs []starlark.Tuple
	for _, item := range d.Items() {
		k, ok := item[0].(starlark.String)
		if !ok {
			return fmt.Errorf("got %s key, want one of %s", item[0].Type(), strings.Join(names, ", "))
		}
		kwargs = append(kwargs, starlark.Tuple{k, item[1]})
	}
	if err := starlark.UnpackArgs("match", nil, kwargs, ps...); err != nil {
		return fmt.Errorf("%s (keys: %s)", strings.TrimPrefix(err.Error(), "match: "), strings.Join(names, ", "))
	}
	return a.build()
}

// addrMatchArg unpacks an address ("10.0.0.1"), a network ("10.0.0.0/24")
// or a netns or link (its first address).
type addrMatchArg struct {
	run *Run
	p   netip.Prefix
}

// Unpack implements starlark.Unpacker.
func (a *addrMatchArg) Unpack(v starlark.Value) error {
	if s, ok := v.(starlark.String); ok && strings.Contains(string(s), "/") {
		p, err := ParsePrefix(string(s))
		if err != nil {
			return fmt.Errorf("invalid network %q (want e.g. \"10.0.0.0/24\")", string(s))
		}
		a.p = p.Masked()
		return nil
	}
	var d dstArg
	if err := d.Unpack(v); err != nil {
		return err
	}
	a.p = netip.PrefixFrom(d.addr, d.addr.BitLen())
	return nil
}

// countArg returns the unpacker of a packet count; -1 stands for absent.
func countArg(noun string) intArg { return intIn(noun, 0, MaxCount, -1) }

// MaxCount bounds the packet counts expect_packets takes.
const MaxCount = 1 << 30

// countBounds turns count, min and max (each -1 when absent) into bounds;
// hi < 0 means none. Without any of them, at least one packet is expected.
func countBounds(count, lo, hi int) (int, int, error) {
	switch {
	case count >= 0 && (lo >= 0 || hi >= 0):
		return 0, 0, fmt.Errorf("give count or min/max, not both")
	case count >= 0:
		return count, count, nil
	case lo >= 0 && hi >= 0 && lo > hi:
		return 0, 0, fmt.Errorf("min %d is more than max %d", lo, hi)
	case lo < 0 && hi < 0:
		return 1, -1, nil
	case lo < 0:
		return 0, hi, nil
	}
	return lo, hi, nil
}

// countText says what a count must be: "exactly 1", "at least 2".
func countText(lo, hi int) string {
	switch {
	case lo == hi:
		return fmt.Sprintf("exactly %d", lo)
	case hi < 0:
		return fmt.Sprintf("at least %d", lo)
	case lo == 0:
		return fmt.Sprintf("at most %d", hi)
	}
	return fmt.Sprintf("%d to %d", lo, hi)
}

// fnExpectPackets implements expect_packets(capture, match=None, count=None, min=None, max=None, within=None, proto=None, type=None, flags=None, src=None, dst=None, host=None, sport=None, dport=None, port=None).
func fnExpectPackets(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		cv      *CaptureValue
		dict    = packetMatchArg{run: r}
		kw      = packetMatchArg{run: r}
		count   = countArg("count")
		atLeast = countArg("min")
		atMost  = countArg("max")
		within  durationArg
	)
	params := append([]any{"capture", &cv, "match??", &dict, "count??", &count, "min??", &atLeast, "max??", &atMost, "within??", &within}, kw.params()...)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, params...); err != nil {
		return nil, err
	}
	if dict.given() && kw.given() {
		return nil, fmt.Errorf("give match or keyword arguments, not both")
	}
	if err := kw.build(); err != nil {
		return nil, err
	}
	m := dict.m
	if kw.given() {
		m = kw.m
	}
	lo, hi, err := countBounds(count.n, atLeast.n, atMost.n)
	if err != nil {
		return nil, err
	}
	c := cv.c
	what := fmt.Sprintf("%s/%s %s", c.Link.NS().Name, c.Link.Name(), m)
	// tcpdump writes a packet a moment after the kernel handed it over: the
	// shell waits a second for it (or within) where the run reads at once.
	cmd := untilCmd(c.CountCmd(m, lo, hi), max(within.d, time.Second))
	// The run was flushed (expect_packets is a barrier): the capture holds
	// every packet of the probes before this line, and only what it holds
	// now counts unless within gives later packets time to come.
	seen := c.Packets()
	queueExpect(r, t, b, c.Link.NS(), netip.Addr{}, what, []string{cmd}, func(e *Expectation) {
		deadline := time.Now().Add(within.d)
		for {
			n := countMatching(seen, m)
			if n >= lo || !time.Now().Before(deadline) {
				settlePackets(e, c, seen, m, n, lo, hi)
				return
			}
			if r.Ctx.Err() != nil { // the run ended before the time was up
				took := fmtSeconds(time.Since(deadline.Add(-within.d)))
				e.Cut, e.Detail = true, fmt.Sprintf("stopped after %s: %d of %s packets so far", took, n, countText(lo, hi))
				return
			}
			select {
			case <-time.After(20 * time.Millisecond):
			case <-r.Ctx.Done():
			}
			seen = c.Packets()
		}
	})
	return starlark.None, nil
}

func countMatching(ps []lab.Packet, m lab.PacketMatch) int {
	n := 0
	for i := range ps {
		if m.Match(&ps[i]) {
			n++
		}
	}
	return n
}

// maxShown bounds the packets a failed expect_packets lists.
const maxShown = 20

// settlePackets records the verdict: n of the packets seen match m, and the
// bounds are lo and hi (hi < 0: none). A failure lists what the capture
// saw, so the reader sees which packet was missing or extra.
func settlePackets(e *Expectation, c *lab.Capture, seen []lab.Packet, m lab.PacketMatch, n, lo, hi int) {
	e.OK = n >= lo && (hi < 0 || n <= hi)
	word := "packets"
	if n == 1 {
		word = "packet"
	}
	if e.OK {
		e.Detail = fmt.Sprintf("%d %s (want %s)", n, word, countText(lo, hi))
		for i := range seen {
			if m.Match(&seen[i]) {
				e.Detail += ", first: " + seen[i].Summary
				break
			}
		}
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s, want %s; the capture on %s saw %d:", n, word, countText(lo, hi), c.Link.Name(), len(seen))
	for i := range seen {
		if i == maxShown {
			fmt.Fprintf(&b, "\n       ... and %d more", len(seen)-maxShown)
			break
		}
		mark := " "
		if m.Match(&seen[i]) {
			mark = "*"
		}
		fmt.Fprintf(&b, "\n     %s %5.3fs %-3s %s", mark, seen[i].Time.Sub(c.Started).Seconds(), seen[i].Dir, seen[i].Summary)
	}
	if d := c.Dropped(); d > 0 {
		fmt.Fprintf(&b, "\n       (%d packets were dropped)", d)
	}
	e.Detail = b.String()
}
