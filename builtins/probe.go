package builtins

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/nsscript/nsscript/internal/lab"
	"github.com/nsscript/nsscript/internal/probe"
	"github.com/nsscript/nsscript/lang"
)

// Expectation is one expect_* call and, once done, its outcome.
type Expectation struct {
	Pos     string // script position of the call
	Builtin string // "expect_reachable", ...
	What    string // "net1 -> 10.100.0.20"
	Src     *lab.Netns
	Dst     netip.Addr
	OK      bool
	Detail  string // "reply in 0.1ms", "no reply in 1s"
	Result  probe.Result
	done    chan struct{}
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
		ad, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("invalid address %q", string(v))
		}
		a.addr, a.label = ad.Unmap(), ad.Unmap().String()
		return nil
	case *Netns:
		ad, ok := v.ns.FirstAddr()
		if !ok {
			return fmt.Errorf("netns %q has no address to probe", v.ns.Name)
		}
		a.addr, a.label = ad, fmt.Sprintf("%s (%s)", v.ns.Name, ad)
		return nil
	case *Link:
		ps := v.lk.Addrs()
		if len(ps) == 0 {
			return fmt.Errorf("link %s has no address to probe", v.lk.Name())
		}
		a.addr, a.label = ps[0].Addr(), fmt.Sprintf("%s/%s (%s)", v.lk.NS().Name, v.lk.Name(), ps[0].Addr())
		return nil
	}
	return fmt.Errorf("got %s, want address string, netns or link", v.Type())
}

// fnPing implements ping(src, dst, count=1, timeout="1s", interval="200ms").
func fnPing(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		src      = nsArg{run: r}
		dst      dstArg
		count    = 1
		timeout  = durationArg{time.Second}
		interval = durationArg{200 * time.Millisecond}
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "src", &src, "dst", &dst, "count?", &count, "timeout?", &timeout, "interval?", &interval); err != nil {
		return nil, err
	}
	if count < 1 || count > 10000 {
		return nil, fmt.Errorf("invalid count %d (want 1 to 10000)", count)
	}
	res := r.Lab.Ping(r.Ctx, src.ns, dst.addr, probe.Options{Count: count, Timeout: timeout.d, Interval: interval.d})
	return resultValue(res), nil
}

func resultValue(res probe.Result) starlark.Value {
	return starlarkstruct.FromStringDict(starlark.String("ping_result"), starlark.StringDict{
		"ok":       starlark.Bool(res.Outcome == probe.Reply && res.Received > 0 || res.Outcome == probe.Reply && res.Sent == 0),
		"sent":     starlark.MakeInt(res.Sent),
		"received": starlark.MakeInt(res.Received),
		"rtt":      starlark.Float(float64(res.RTT) / float64(time.Millisecond)),
		"outcome":  starlark.String(res.Outcome.String()),
		"detail":   starlark.String(res.Detail),
	})
}

func fnExpectReachable(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	return expect(r, t, b, args, kwargs, true)
}

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
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "src", &src, "dst", &dst, "timeout?", &timeout); err != nil {
		return nil, err
	}
	e := &Expectation{
		Pos:     lang.CallerPos(t),
		Builtin: b.Name(),
		What:    fmt.Sprintf("%s -> %s", src.ns.Name, dst.label),
		Src:     src.ns,
		Dst:     dst.addr,
		done:    make(chan struct{}),
	}
	r.Lab.Settle(r.Ctx)
	go func() {
		defer close(e.done)
		res := r.Lab.Ping(r.Ctx, src.ns, dst.addr, probe.Options{Timeout: timeout.d})
		e.Result = res
		got := res.Outcome == probe.Reply
		e.OK = got == reachable
		e.Detail = res.Detail
		if got && !reachable {
			e.Detail = "got a " + res.Detail
		}
		if r.Ctx.Err() != nil && !e.OK {
			e.Detail += " (run cancelled)"
		}
	}()
	r.emit(&outItem{exp: e})
	return starlark.None, nil
}
