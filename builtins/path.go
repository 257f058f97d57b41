package builtins

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/nsscript/nsscript/internal/lab"
)

// traceArgs are the arguments traceroute and expect_path share.
type traceArgs struct {
	src     nsArg
	dst     dstArg
	proto   traceProto
	maxHops intArg
	timeout durationArg
}

func newTraceArgs(r *Run) traceArgs {
	return traceArgs{src: nsArg{run: r}, proto: traceProto{"icmp"}, maxHops: intIn("max_hops", 1, 255, 30),
		timeout: durationArg{time.Second}}
}

func (a *traceArgs) options() lab.TraceOptions {
	return lab.TraceOptions{UDP: a.proto.s == "udp", MaxHops: a.maxHops.n, Timeout: a.timeout.d}
}

func (a *traceArgs) cmd() string {
	return lab.TracerouteCmd(a.src.ns, a.dst.addr, a.proto.s == "udp", a.maxHops.n, ceilSeconds(a.timeout.d))
}

// traceProto unpacks a traceroute protocol: "icmp" or "udp".
type traceProto struct{ s string }

// Unpack implements starlark.Unpacker.
func (a *traceProto) Unpack(v starlark.Value) error {
	s, ok := starlark.AsString(v)
	if !ok {
		return fmt.Errorf("got %s, want \"icmp\" or \"udp\"", v.Type())
	}
	if s != "icmp" && s != "udp" {
		return fmt.Errorf("invalid protocol %q (want \"icmp\" or \"udp\")", s)
	}
	a.s = s
	return nil
}

// fnTraceroute implements traceroute(src, dst, proto="icmp", max_hops=30, timeout="1s").
func fnTraceroute(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	a := newTraceArgs(r)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "src", &a.src, "dst", &a.dst, "proto?", &a.proto,
		"max_hops?", &a.maxHops, "timeout?", &a.timeout); err != nil {
		return nil, err
	}
	r.Lab.Note(lab.Step{NS: a.src.ns.Name, Op: "traceroute", Desc: fmt.Sprintf("traceroute %s -> %s", a.src.ns.Name, a.dst.label),
		Cmds: []string{a.cmd() + " || true"}})
	tr := r.Lab.Traceroute(r.Ctx, a.src.ns, a.dst.addr, a.options())
	hops := make([]starlark.Value, len(tr.Hops))
	for i, h := range tr.Hops {
		hops[i] = hopValue(r, h)
	}
	return starlark.NewList(hops), nil
}

// hopValue is one hop of a trace as a Starlark value.
func hopValue(r *Run, h lab.Hop) starlark.Value {
	var ns, rtt starlark.Value = starlark.None, starlark.None
	if h.Addr.IsValid() {
		rtt = starlark.Float(float64(h.RTT) / float64(time.Millisecond))
		if n := r.Lab.Owner(h.Addr); n != nil {
			ns = NetnsValue(n)
		}
	}
	return starlarkstruct.FromStringDict(starlark.String("hop"), starlark.StringDict{
		"ttl":   starlark.MakeInt(h.TTL),
		"addr":  addrOrNone(h.Addr),
		"rtt":   rtt,
		"ns":    ns,
		"error": stringOrNone(h.Error),
	})
}

// fnExpectPath implements expect_path(src, dst, via, proto="icmp", max_hops=30, timeout="1s", within=None).
func fnExpectPath(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	a := newTraceArgs(r)
	var (
		via    *starlark.List
		within durationArg
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "src", &a.src, "dst", &a.dst, "via", &via, "proto?", &a.proto,
		"max_hops?", &a.maxHops, "timeout?", &a.timeout, "within??", &within); err != nil {
		return nil, err
	}
	want := make([]*lab.Netns, via.Len())
	names := make([]string, via.Len())
	for i := range want {
		n := nsArg{run: r}
		if err := n.Unpack(via.Index(i)); err != nil {
			return nil, fmt.Errorf("%s: for parameter \"via\": element %d: %w", b.Name(), i, err)
		}
		want[i], names[i] = n.ns, n.ns.Name
	}
	what := fmt.Sprintf("%s -> %s via %s", a.src.ns.Name, a.dst.label, strings.Join(names, ", "))
	// traceroute's last line is the destination's when the trace reached it.
	cmd := a.cmd() + " | tail -n1 | grep -qF " + lab.ShellJoin([]string{" " + a.dst.addr.String() + " "})
	if within.d > 0 {
		// As the run does, trace again until the path is there (a
		// routing protocol still converging).
		cmd = untilCmd(cmd, within.d)
	}
	queueExpect(r, t, b, a.src.ns, a.dst.addr, what, []string{cmd}, func(e *Expectation) {
		deadline := time.Now().Add(within.d)
		for n := 1; ; n++ {
			tr := r.Lab.Traceroute(r.Ctx, e.Src, e.Dst, a.options())
			e.OK, e.Cut = tr.Reached && crosses(r, tr.Hops, want), tr.Cut
			e.Detail = pathText(r, tr)
			if e.OK || e.Cut || r.Ctx.Err() != nil || time.Until(deadline) <= 0 {
				if within.d > 0 {
					e.Detail += fmt.Sprintf(" (%d traces within %s)", n, within.d)
				}
				if !e.OK && !e.Cut {
					e.Output = walkBothWays(r.Lab, e.Src, e.Dst)
				}
				return
			}
			select {
			case <-time.After(min(withinPause, time.Until(deadline))):
			case <-r.Ctx.Done():
			}
		}
	})
	return starlark.None, nil
}

// crosses reports whether the namespaces of the hops include want, in order.
func crosses(r *Run, hops []lab.Hop, want []*lab.Netns) bool {
	i := 0
	for _, h := range hops {
		if i < len(want) && h.Addr.IsValid() && r.Lab.Owner(h.Addr) == want[i] {
			i++
		}
	}
	return i == len(want)
}

// pathText lists the hops a trace saw, as traceroute prints them on one
// line: "1 r1 (10.0.1.1), 2 *, 3 b (10.0.2.2): reached 10.0.2.2 in 3 hops".
func pathText(r *Run, tr lab.Trace) string {
	parts := make([]string, len(tr.Hops))
	for i, h := range tr.Hops {
		switch n := r.Lab.Owner(h.Addr); {
		case !h.Addr.IsValid():
			parts[i] = fmt.Sprintf("%d *", h.TTL)
		case n != nil:
			parts[i] = fmt.Sprintf("%d %s (%s)", h.TTL, n.Name, h.Addr)
		default:
			parts[i] = fmt.Sprintf("%d %s", h.TTL, h.Addr)
		}
	}
	return "hops " + strings.Join(parts, ", ") + ": " + tr.Detail
}

// walkBothWays walks the FIB from src to dst and, when the packet would
// arrive, the answer's way back from dst's namespace to the source address
// the first hop chose.
func walkBothWays(l *lab.Lab, src *lab.Netns, dst netip.Addr) string {
	hops := l.WalkFIB(src, dst, netip.Addr{})
	out := walkText("on the way", hops)
	if len(hops) < 2 {
		return out
	}
	if last, from := hops[len(hops)-1], hops[0].Route.Src; last.Done && from.IsValid() {
		out += walkText("on the way back, for "+last.NS.Name+"'s answer", l.WalkFIB(last.NS, from, dst))
	}
	return out
}

// walkText writes a FIB walk, one hop a line, as ip route get would answer
// in each namespace: "2 r1 (in eth0): via 10.0.2.2 dev eth1 src 10.0.2.1
// table main", ending with where and why the packet stops.
func walkText(way string, hops []lab.FIBHop) string {
	if len(hops) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("FIB decisions " + way + " (ip route get in each namespace):\n")
	for i, h := range hops {
		fmt.Fprintf(&b, "  %d ", i+1)
		if h.NS == nil {
			b.WriteString(h.Stop + "\n")
			continue
		}
		b.WriteString(h.NS.Name)
		if h.IIF != "" {
			b.WriteString(" (in " + h.IIF + ")")
		}
		var w []string
		if rt := h.Route; rt.Dev != "" && !h.Done {
			if h.IIF != "" {
				rt.Src = netip.Addr{} // the packet's own source, which the first hop shows
			}
			w = append(w, describeRoute(rt))
		}
		if h.Stop != "" {
			w = append(w, h.Stop)
		}
		if h.Firewall != "" {
			w = append(w, h.Firewall)
		}
		b.WriteString(": " + strings.Join(w, "; ") + "\n")
	}
	return b.String()
}
