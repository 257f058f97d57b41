package builtins

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/nsscript/nsscript/internal/lab"
	"github.com/nsscript/nsscript/lang"
)

// Expectation is one expect_* call and, once done, its outcome.
type Expectation struct {
	Pos     string // script position of the call
	Builtin string // "expect_reachable", ...
	What    string // "net1 -> 10.100.0.20"
	Src     *lab.Netns
	Dst     netip.Addr
	// From is the probe's chosen source address (src_addr); invalid when
	// the route chose it.
	From netip.Addr
	OK   bool
	// Cut reports that the run ended (--timeout, a signal) before the
	// expectation came to its end: it is neither ok nor FAIL.
	Cut    bool
	Detail string // "reply in 0.1ms", "no reply in 1s"
	Result lab.ProbeResult
	Output string // shown under a FAIL line: what a wrapped program wrote
	done   chan struct{}
}

// newExpectation starts the record of an expect_* call made on thread t.
func newExpectation(t *starlark.Thread, b *starlark.Builtin, src *lab.Netns, dst netip.Addr, what string) *Expectation {
	return &Expectation{Pos: lang.CallerPos(t), Builtin: b.Name(), What: what, Src: src, Dst: dst, done: make(chan struct{})}
}

// queueExpect starts check for an expectation on a worker of the run's
// pool and queues its result line; the script goes on meanwhile. cmds, the shell
// equivalent, are recorded for explain; a plan (explain, graph) probes
// nothing.
func queueExpect(r *Run, t *starlark.Thread, b *starlark.Builtin, src *lab.Netns, dst netip.Addr, what string, cmds []string, check func(e *Expectation)) {
	e := newExpectation(t, b, src, dst, what)
	ns := "" // a custom check (expect, expect_run) has no source namespace
	if src != nil {
		ns = src.Name
	}
	r.Lab.Note(lab.Step{NS: ns, Op: "expect", Desc: b.Name() + " " + what, Cmds: cmds})
	if r.Lab.Planning() {
		return
	}
	r.Lab.Settle(r.Ctx)
	r.checks.do(func() {
		defer close(e.done)
		check(e)
		if e.Cut {
			e.OK = false
		}
	})
	r.emit(&outItem{exp: e})
}

// dstArg unpacks a probe target: an address, a namespace or a link.
type dstArg struct {
	addr  netip.Addr
	label string
}

// Unpack implements starlark.Unpacker.
func (a *dstArg) Unpack(v starlark.Value) error {
	switch v := v.(type) {
	case starlark.String:
		s := string(v)
		if i := strings.IndexByte(s, '/'); i >= 0 {
			s = s[:i]
		}
		ad, ok := parseIP(s)
		if !ok {
			return fmt.Errorf("invalid address %q", string(v))
		}
		a.addr, a.label = ad, ad.String()
		return nil
	case *Netns:
		if err := v.ns.CheckLive(); err != nil {
			return err
		}
		ad, ok := v.ns.FirstAddr()
		if !ok {
			return fmt.Errorf("netns %q has no address to probe", v.ns.Name)
		}
		a.addr, a.label = ad, fmt.Sprintf("%s (%s)", v.ns.Name, ad)
		return nil
	case *Link:
		if err := v.lk.CheckLive(); err != nil {
			return err
		}
		ps := v.lk.Addrs()
		if len(ps) == 0 {
			return fmt.Errorf("link %s has no address to probe", v.lk.Name())
		}
		a.addr, a.label = ps[0].Addr(), fmt.Sprintf("%s/%s (%s)", v.lk.NS().Name, v.lk.Name(), ps[0].Addr())
		return nil
	}
	return fmt.Errorf("got %s, want address string, netns or link", v.Type())
}

// srcAddrArg unpacks src_addr, the source address of a probe: an address
// or a link of the sending namespace (its first address of the
// destination's family). None means absent: the route chooses.
type srcAddrArg struct {
	addr netip.Addr
	lk   *lab.Link
}

// Unpack implements starlark.Unpacker.
func (a *srcAddrArg) Unpack(v starlark.Value) error {
	switch v := v.(type) {
	case starlark.String:
		ad, ok := parseIP(string(v))
		if !ok {
			return fmt.Errorf("invalid address %q", string(v))
		}
		a.addr = ad
		return nil
	case *Link:
		a.lk = v.lk
		return v.lk.CheckLive()
	}
	return fmt.Errorf("got %s, want address string or link", v.Type())
}

// resolve returns the source address for a probe from ns to dst (invalid
// when none was given): it must be an address of ns, of dst's family.
func (a srcAddrArg) resolve(ns *lab.Netns, dst netip.Addr) (netip.Addr, error) {
	fam := "IPv4"
	if dst.Is6() {
		fam = "IPv6"
	}
	if a.lk != nil {
		if a.lk.NS() != ns {
			return netip.Addr{}, fmt.Errorf("src_addr: link %s is in netns %q, not %q", a.lk.Name(), a.lk.NS().Name, ns.Name)
		}
		for _, p := range a.lk.Addrs() {
			if p.Addr().Is4() == dst.Is4() {
				return p.Addr(), nil
			}
		}
		return netip.Addr{}, fmt.Errorf("src_addr: link %s has no %s address (the destination %s is %s)", a.lk, fam, dst, fam)
	}
	switch {
	case !a.addr.IsValid():
		return a.addr, nil
	case a.addr.Is4() != dst.Is4():
		return netip.Addr{}, fmt.Errorf("src_addr: %s is not an %s address like the destination %s", a.addr, fam, dst)
	case !ns.HasAddr(a.addr):
		return netip.Addr{}, fmt.Errorf("src_addr: %s is not an address of netns %q", a.addr, ns.Name)
	}
	return a.addr, nil
}

// fromText is what an expectation's line adds for a chosen source.
func fromText(src netip.Addr) string {
	if !src.IsValid() {
		return ""
	}
	return " from " + src.String()
}

// fnPing implements ping(src, dst, count=1, timeout="1s", interval="200ms", size=56, df=False, src_addr=None).
func fnPing(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		src      = nsArg{run: r}
		dst      dstArg
		count    = intIn("count", 1, 10000, 1)
		timeout  = durationArg{time.Second}
		interval = durationArg{200 * time.Millisecond}
		size     = echoSizeArg()
		df       bool
		from     srcAddrArg
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "src", &src, "dst", &dst, "count?", &count, "timeout?", &timeout, "interval?", &interval,
		"size?", &size, "df?", &df, "src_addr??", &from); err != nil {
		return nil, err
	}
	o := lab.ProbeOptions{Count: count.n, Timeout: timeout.d, Interval: interval.d, Size: size.n, DF: df}
	var err error
	if o.Src, err = from.resolve(src.ns, dst.addr); err != nil {
		return nil, err
	}
	r.Lab.Note(lab.Step{NS: src.ns.Name, Op: "ping", Desc: fmt.Sprintf("ping %s -> %s%s", src.ns.Name, dst.label, fromText(o.Src)),
		Cmds: []string{pingFlags(lab.PingCmd(src.ns, dst.addr, count.n, ceilSeconds(timeout.d), interval.d), o) + " || true"}})
	res := r.Lab.Ping(r.Ctx, src.ns, dst.addr, o)
	return resultValue(res), nil
}

// reply reports whether a probe got an answer.
func reply(res *lab.ProbeResult) bool { return res.Outcome == lab.Reply }

func resultValue(res lab.ProbeResult) starlark.Value {
	return starlarkstruct.FromStringDict(starlark.String("ping_result"), starlark.StringDict{
		"ok":       starlark.Bool(reply(&res) && (res.Received > 0 || res.Sent == 0)),
		"sent":     starlark.MakeInt(res.Sent),
		"received": starlark.MakeInt(res.Received),
		"rtt":      starlark.Float(float64(res.RTT) / float64(time.Millisecond)),
		"outcome":  starlark.String(res.Outcome.String()),
		"detail":   starlark.String(res.Detail),
		"ttl":      starlark.MakeInt(res.TTL),
		"mtu":      starlark.MakeInt(res.MTU),
		"sender":   addrOrNone(res.From),
		"src":      addrOrNone(res.Src),
	})
}

// fnExpectReachable implements expect_reachable(src, dst, timeout="1s", within=None, size=56, df=False, src_addr=None).
func fnExpectReachable(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	return expect(r, t, b, args, kwargs, true)
}

// fnExpectUnreachable implements expect_unreachable(src, dst, timeout="1s", within=None, size=56, df=False, src_addr=None).
func fnExpectUnreachable(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	return expect(r, t, b, args, kwargs, false)
}

// expect starts a probe for expect_reachable / expect_unreachable and
// queues its result line; the script goes on while it probes.
func expect(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple, reachable bool) (starlark.Value, error) {
	var (
		src     = nsArg{run: r}
		dst     dstArg
		timeout = durationArg{time.Second}
		within  = durationArg{}
		size    = echoSizeArg()
		df      bool
		from    srcAddrArg
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "src", &src, "dst", &dst, "timeout?", &timeout, "within??", &within,
		"size?", &size, "df?", &df, "src_addr??", &from); err != nil {
		return nil, err
	}
	o := lab.ProbeOptions{Timeout: timeout.d, Size: size.n, DF: df}
	var err error
	if o.Src, err = from.resolve(src.ns, dst.addr); err != nil {
		return nil, err
	}
	what := fmt.Sprintf("%s -> %s%s", src.ns.Name, dst.label, fromText(o.Src))
	if size.n != 56 || df {
		what += fmt.Sprintf(" (%d bytes%s)", size.n, map[bool]string{true: ", df"}[df])
	}
	cmd := pingFlags(expectCmd(src.ns, dst.addr, timeout.d, within.d, reachable), o)
	queueExpect(r, t, b, src.ns, dst.addr, what, []string{cmd}, func(e *Expectation) {
		e.From = o.Src
		if within.d > 0 {
			expectWithin(r, e, reachable, o, within.d)
		} else {
			expectOnce(r, e, reachable, o)
		}
	})
	return starlark.None, nil
}

// expectOnce settles e with a single probe: echo requests re-sent every
// 200ms until a reply, an error or the timeout.
func expectOnce(r *Run, e *Expectation, reachable bool, o lab.ProbeOptions) {
	// Into e, not a local copy: the probe's goroutine needs less stack.
	e.Result = r.Lab.Ping(r.Ctx, e.Src, e.Dst, o)
	res := &e.Result
	got := reply(res)
	e.OK, e.Cut = got == reachable, res.Cut
	e.Detail = res.Detail
	if got && !reachable {
		e.Detail = "got a " + res.Detail
	}
}

// withinPause separates two probes of a within= expectation when the last
// one ended early (an ICMP error, no route, or a reply that was not wanted).
const withinPause = 100 * time.Millisecond

// expectWithin settles e by probing until the outcome is the wanted one or
// the deadline passes: the network may converge (a route appears, a link
// goes down) while the script waits. Each probe lasts at most o.Timeout.
//
// A reply counts only when it comes before the deadline, so a probe for
// one waits no longer than what is left. A silence counts only when it
// lasts the whole timeout: a probe that the deadline cut short and that got
// no reply says nothing (a loaded machine or a full queue can take longer
// than the few milliseconds left), so a probe for silence, once sent before
// the deadline, waits its timeout, and "unreachable after" is when it was
// sent.
func expectWithin(r *Run, e *Expectation, reachable bool, o lab.ProbeOptions, within time.Duration) {
	timeout := o.Timeout
	start := time.Now()
	deadline := start.Add(within)
	for n := 1; ; n++ {
		sent := time.Now()
		if reachable {
			o.Timeout = min(timeout, max(time.Until(deadline), time.Millisecond))
		}
		res := r.Lab.Ping(r.Ctx, e.Src, e.Dst, o)
		e.Result = res
		got := reply(&res)
		took := fmtSeconds(time.Since(start))
		if res.Cut || r.Ctx.Err() != nil && got != reachable {
			e.Cut = true
			e.Detail = fmt.Sprintf("stopped after %s of %s (%d probes; last: %s)", took, within, n, res.Detail)
			return
		}
		if got == reachable {
			e.OK = true
			if reachable {
				e.Detail = fmt.Sprintf("reply after %s (within %s)", took, within)
			} else {
				e.Detail = fmt.Sprintf("unreachable after %s (within %s): %s", fmtSeconds(sent.Sub(start)), within, res.Detail)
			}
			return
		}
		if time.Until(deadline) <= 0 {
			if reachable {
				e.Detail = fmt.Sprintf("no reply within %s (%d probes; last: %s)", within, n, res.Detail)
			} else {
				e.Detail = fmt.Sprintf("still reachable after %s (%d probes; last: %s)", within, n, res.Detail)
			}
			return
		}
		if res.Elapsed < timeout {
			select {
			case <-time.After(min(withinPause, time.Until(deadline))):
			case <-r.Ctx.Done():
			}
		}
	}
}

// fmtSeconds formats how long convergence took: "0s" when at once, "0.23s",
// "1.2s", "12s".
func fmtSeconds(d time.Duration) string {
	switch {
	case d < 5*time.Millisecond:
		return "0s"
	case d < time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// expectCmd is the shell equivalent of an expectation: one ping that must be
// answered or, negated, must not be, so that under `set -e` either kind of
// surprise stops the script and an expected silence does not. With within,
// a loop probes until the reply comes (reachable; ping -w would stop at the
// first error, such as an ARP try that ran out) or the silence does
// (unreachable).
func expectCmd(src *lab.Netns, dst netip.Addr, timeout, within time.Duration, reachable bool) string {
	cmd := lab.PingCmd(src, dst, 1, ceilSeconds(timeout), 0)
	switch {
	case within > 0 && reachable:
		return untilCmd(cmd, within)
	case within > 0:
		// A ping sent before the deadline may be silent for its whole
		// timeout after it, as in the run.
		return fmt.Sprintf("timeout %d sh -c 'while %s; do sleep 0.1; done'", ceilSeconds(within+timeout), strings.ReplaceAll(cmd, "'", `'\''`))
	case reachable:
		return cmd
	}
	return "! " + cmd + " || exit 1"
}

// untilCmd is the shell equivalent of a check with within: cmd run until
// it succeeds, for at most within (whole seconds).
func untilCmd(cmd string, within time.Duration) string {
	return fmt.Sprintf("timeout %d sh -c '%s'", ceilSeconds(within), lab.WaitUntil(strings.ReplaceAll(cmd, "'", `'\''`)))
}

// ceilSeconds rounds a timeout up to whole seconds, as ping -W takes them.
func ceilSeconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

// echoSizeArg returns the unpacker of an echo request's payload size (ping -s).
func echoSizeArg() intArg { return intIn("size", 1, 65507, 56) }

// pingFlags adds the source address, payload size and "don't fragment" of
// o to a ping command line, as ping's -I, -s and -M do.
func pingFlags(cmd string, o lab.ProbeOptions) string {
	var f string
	if o.Src.IsValid() {
		f += "-I " + o.Src.String() + " "
	}
	if o.DF {
		f += "-M do "
	}
	if o.Size != 56 {
		f += fmt.Sprintf("-s %d ", o.Size)
	}
	return strings.Replace(cmd, "ping ", "ping "+f, 1)
}
