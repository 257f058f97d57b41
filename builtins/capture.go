package builtins

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/nsscript/nsscript/internal/lab"
)

// CaptureValue is the Starlark value of a packet capture started by capture().
type CaptureValue struct {
	run *Run
	c   *lab.Capture
}

var _ starlark.HasAttrs = (*CaptureValue)(nil)

func (v *CaptureValue) String() string {
	return fmt.Sprintf("<capture on %s in %s>", v.c.Link.Name(), v.c.Link.NS().Name)
}
func (v *CaptureValue) Type() string          { return "capture" }
func (v *CaptureValue) Freeze()               {}
func (v *CaptureValue) Truth() starlark.Bool  { return true }
func (v *CaptureValue) Hash() (uint32, error) { return starlark.String(v.c.File).Hash() }

var captureAttrs = []string{"dropped", "filter", "link", "packets", "save", "stop"}

// AttrNames implements starlark.HasAttrs.
func (v *CaptureValue) AttrNames() []string { return captureAttrs }

// Attr implements starlark.HasAttrs.
func (v *CaptureValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case "link":
		return linkValue(v.c.Link), nil
	case "filter":
		return starlark.String(v.c.Filter.String()), nil
	case "packets":
		v.run.Flush() // the probes queued before this line have sent their packets
		ps := v.c.Packets()
		vs := make([]starlark.Value, len(ps))
		for i := range ps {
			vs[i] = packetValue(&ps[i], v.c.Started)
		}
		return starlark.NewList(vs), nil
	case "dropped":
		v.run.Flush()
		return starlark.MakeInt(v.c.Dropped()), nil
	case "stop":
		return starlark.NewBuiltin("stop", v.stop), nil
	case "save":
		return starlark.NewBuiltin("save", v.save), nil
	}
	return nil, nil
}

func (v *CaptureValue) stop(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	return call(v.run, b.Name(), true, t, func() (starlark.Value, error) {
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
			return nil, err
		}
		v.run.Lab.Note(lab.Step{NS: v.c.Link.NS().Name, Op: "capture stop", Desc: "stop the capture on " + v.c.Link.Name(), Cmds: []string{v.c.StopCmd()}})
		v.c.Stop()
		return starlark.None, nil
	})
}

func (v *CaptureValue) save(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	return call(v.run, b.Name(), true, t, func() (starlark.Value, error) {
		var path string
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &path); err != nil {
			return nil, err
		}
		if path == "" {
			return nil, fmt.Errorf("empty path")
		}
		// The shell equivalent runs beside the script, as the path reads.
		v.run.Lab.Note(lab.Step{NS: v.c.Link.NS().Name, Op: "capture save", Desc: "save the capture on " + v.c.Link.Name() + " to " + path, Cmds: []string{v.c.SaveCmd(path)}})
		if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(t.CallFrame(1).Pos.Filename()), path)
		}
		if err := v.c.Save(path); err != nil {
			return nil, err
		}
		return starlark.None, nil
	})
}

// packetValue is the Starlark value of one recorded packet; what does not
// apply to it is None.
func packetValue(p *lab.Packet, start time.Time) starlark.Value {
	str := func(s string) starlark.Value {
		if s == "" {
			return starlark.None
		}
		return starlark.String(s)
	}
	port := func(n int) starlark.Value {
		if n == 0 {
			return starlark.None
		}
		return starlark.MakeInt(n)
	}
	addr := func(a netip.Addr) starlark.Value {
		if !a.IsValid() {
			return starlark.None
		}
		return starlark.String(a.String())
	}
	return starlarkstruct.FromStringDict(starlark.String("packet"), starlark.StringDict{
		"time":    starlark.Float(p.Time.Sub(start).Seconds()),
		"dir":     starlark.String(p.Dir),
		"proto":   starlark.String(p.Proto),
		"type":    str(p.Type),
		"flags":   str(p.Flags),
		"src":     addr(p.Src),
		"dst":     addr(p.Dst),
		"sport":   port(p.Sport),
		"dport":   port(p.Dport),
		"len":     starlark.MakeInt(p.Len),
		"summary": starlark.String(p.Summary),
	})
}

// fnCapture implements capture(link, filter=None).
func fnCapture(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		lk     linkArg
		filter = packetMatchArg{run: r}
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "link", &lk, "filter??", &filter); err != nil {
		return nil, err
	}
	c, err := r.Lab.Capture(lk.lk, filter.m)
	if err != nil {
		return nil, err
	}
	r.Defer(c.Stop)
	return &CaptureValue{run: r, c: c}, nil
}
