package builtins

import (
	"fmt"
	"time"

	"go.starlark.net/starlark"

	"github.com/nsscript/nsscript/internal/lab"
)

// Time as values: watch() measures loss over time; durations in values are
// milliseconds (as rtt), and duration() converts "500ms" to them.

// ms is a duration as a value: a number of milliseconds.
func ms(d time.Duration) starlark.Value {
	return starlark.Float(float64(d) / float64(time.Millisecond))
}

// fnDuration implements duration(d).
func fnDuration(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var d durationArg
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "d", &d); err != nil {
		return nil, err
	}
	return ms(d.d), nil
}

// fnWatch implements watch(src, dst, interval="50ms", timeout="1s").
func fnWatch(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		src      = nsArg{run: r}
		dst      dstArg
		interval = durationArg{50 * time.Millisecond}
		timeout  = durationArg{time.Second}
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "src", &src, "dst", &dst, "interval?", &interval, "timeout?", &timeout); err != nil {
		return nil, err
	}
	if interval.d < time.Millisecond {
		return nil, fmt.Errorf("interval %s is below 1ms", interval.d)
	}
	r.Lab.Note(lab.Step{NS: src.ns.Name, Op: "watch", Desc: fmt.Sprintf("watch %s -> %s every %s", src.ns.Name, dst.label, interval.d),
		Cmds: []string{lab.WatchCmd(src.ns, dst.addr, interval.d, timeout.d)}})
	w, err := r.Lab.StartWatch(r.Ctx, src.ns, dst.addr, interval.d, timeout.d)
	if err != nil {
		return nil, err
	}
	r.Defer(w.Stop)
	return &WatchValue{run: r, w: w, label: dst.label}, nil
}

// WatchValue is the Starlark value of a watch started by watch(). Its
// attributes report what the watch saw until now: reading them does not
// wait for anything.
type WatchValue struct {
	run   *Run
	w     *lab.Watch
	label string
}

var _ starlark.HasAttrs = (*WatchValue)(nil)

func (v *WatchValue) String() string {
	return fmt.Sprintf("<watch %s -> %s>", v.w.Src.Name, v.label)
}

// Type implements starlark.Value.
func (v *WatchValue) Type() string { return "watch" }

// Freeze implements starlark.Value.
func (v *WatchValue) Freeze() {}

// Truth implements starlark.Value.
func (v *WatchValue) Truth() starlark.Bool { return true }

// Hash implements starlark.Value.
func (v *WatchValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: watch") }

var watchAttrs = []string{"elapsed", "first_reply", "last_reply", "lost", "max_outage", "outages", "received", "running", "sent", "stop", "windows"}

// AttrNames implements starlark.HasAttrs.
func (v *WatchValue) AttrNames() []string { return watchAttrs }

// Attr implements starlark.HasAttrs.
func (v *WatchValue) Attr(name string) (starlark.Value, error) {
	if name == "stop" {
		return starlark.NewBuiltin("stop", v.stop), nil
	}
	res := v.w.Result()
	offset := func(d time.Duration) starlark.Value {
		if d < 0 {
			return starlark.None
		}
		return ms(d)
	}
	switch name {
	case "sent":
		return starlark.MakeInt(res.Sent), nil
	case "received":
		return starlark.MakeInt(res.Received), nil
	case "lost":
		return starlark.MakeInt(res.Lost), nil
	case "outages":
		return starlark.MakeInt(len(res.Windows)), nil
	case "max_outage":
		return ms(res.MaxOutage), nil
	case "windows":
		ws := make([]starlark.Value, len(res.Windows))
		for i, win := range res.Windows {
			ws[i] = starlark.Tuple{ms(win.Start), ms(win.End)}
		}
		return starlark.NewList(ws), nil
	case "first_reply":
		return offset(res.FirstReply), nil
	case "last_reply":
		return offset(res.LastReply), nil
	case "elapsed":
		return ms(res.Elapsed), nil
	case "running":
		return starlark.Bool(res.Running), nil
	}
	return nil, nil
}

// stop implements watch.stop(): the watch sends no more requests, and those
// in flight settle, so the attributes read after it are final.
func (v *WatchValue) stop(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	return call(v.run, b.Name(), true, t, func() (starlark.Value, error) {
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
			return nil, err
		}
		v.run.Lab.Note(lab.Step{NS: v.w.Src.Name, Op: "watch stop", Desc: "stop the watch " + v.w.Src.Name + " -> " + v.label,
			Cmds: []string{"kill %?ping"}})
		v.w.Stop()
		return v, nil
	})
}
