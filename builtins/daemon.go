package builtins

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"github.com/nsscript/nsscript/internal/lab"
)

// daemonReadyArg unpacks when a daemon counts as started: a port number or
// "IP:PORT" (tcp), "unix:PATH" (a control socket) or "log:REGEX" (a line of
// its output).
type daemonReadyArg struct{ r lab.Ready }

// Unpack implements starlark.Unpacker.
func (a *daemonReadyArg) Unpack(v starlark.Value) error {
	s, ok := v.(starlark.String)
	switch {
	case ok && strings.HasPrefix(string(s), "unix:"):
		p := strings.TrimPrefix(string(s), "unix:")
		if !filepath.IsAbs(p) {
			return fmt.Errorf("invalid socket path %q (want an absolute path)", p)
		}
		a.r.Unix = p
		return nil
	case ok && strings.HasPrefix(string(s), "log:"):
		var re regexArg
		if err := re.Unpack(starlark.String(strings.TrimPrefix(string(s), "log:"))); err != nil {
			return err
		}
		a.r.Log = re.re
		return nil
	}
	var tcp readyArg
	if err := tcp.Unpack(v); err != nil {
		return fmt.Errorf("%v, \"unix:PATH\" or \"log:REGEX\"", strings.TrimSuffix(err.Error(), " or port number")+", port number")
	}
	a.r.TCP = tcp.addr
	return nil
}

// filesArg unpacks a daemon's files: a dict of absolute path to text.
type filesArg struct{ files map[string]string }

// Unpack implements starlark.Unpacker.
func (a *filesArg) Unpack(v starlark.Value) error {
	kvs, err := stringDict(v)
	if err != nil {
		return err
	}
	a.files = map[string]string{}
	for _, kv := range kvs {
		a.files[kv[0]] = kv[1]
	}
	return nil
}

// stringsArg unpacks a list of strings.
type stringsArg struct{ list []string }

// Unpack implements starlark.Unpacker.
func (a *stringsArg) Unpack(v starlark.Value) error {
	l, ok := v.(*starlark.List)
	if !ok {
		return fmt.Errorf("got %s, want list of strings", v.Type())
	}
	for i := 0; i < l.Len(); i++ {
		s, ok := l.Index(i).(starlark.String)
		if !ok {
			return fmt.Errorf("got %s in the list, want string", l.Index(i).Type())
		}
		a.list = append(a.list, string(s))
	}
	return nil
}

// fnDaemon implements daemon(ns, argv, files=None, dirs=None, ready=None,
// env=None, timeout="10s").
func fnDaemon(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		ns      = nsArg{run: r}
		argv    argvArg
		files   filesArg
		dirs    stringsArg
		ready   daemonReadyArg
		env     envArg
		timeout = durationArg{10 * time.Second}
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "ns", &ns, "argv", &argv, "files??", &files, "dirs??", &dirs,
		"ready??", &ready, "env??", &env, "timeout?", &timeout); err != nil {
		return nil, err
	}
	s := lab.DaemonSpec{Argv: argv.argv, Env: env.env, Dirs: dirs.list, Files: files.files, Ready: ready.r}
	return startDaemon(r, t, ns.ns, s, timeout.d)
}

// startDaemon starts a daemon for a builtin called on thread t, waits until
// it is ready and stops it when the run ends.
func startDaemon(r *Run, t *starlark.Thread, ns *lab.Netns, s lab.DaemonSpec, timeout time.Duration) (*Daemon, error) {
	dir, err := filepath.Abs(filepath.Dir(t.CallFrame(1).Pos.Filename()))
	if err != nil {
		return nil, err
	}
	s.Dir = dir
	d, err := r.Lab.StartDaemon(ns, s)
	if err != nil {
		return nil, err
	}
	r.Defer(func() { d.Stop() })
	if err := r.Lab.WaitReady(r.Ctx, d, timeout); err != nil {
		return nil, err
	}
	return &Daemon{run: r, d: d}, nil
}

// Daemon is the Starlark value of a daemon started with daemon() or bird().
type Daemon struct {
	run *Run
	d   *lab.Daemon
}

var _ starlark.HasAttrs = (*Daemon)(nil)

func (d *Daemon) String() string {
	return fmt.Sprintf("<daemon %s %d in %s>", d.d.Name(), d.d.Pid(), d.d.NS.Name)
}
func (d *Daemon) Type() string          { return "daemon" }
func (d *Daemon) Freeze()               {}
func (d *Daemon) Truth() starlark.Bool  { return true }
func (d *Daemon) Hash() (uint32, error) { return identityHash(d) }

var daemonAttrs = []string{"argv", "files", "name", "ns", "pid", "running", "status", "stderr", "stdout", "stop"}

// AttrNames implements starlark.HasAttrs.
func (d *Daemon) AttrNames() []string { return daemonAttrs }

// Attr implements starlark.HasAttrs.
func (d *Daemon) Attr(name string) (starlark.Value, error) {
	switch name {
	case "name":
		return starlark.String(d.d.Name()), nil
	case "files":
		paths := make([]string, 0, len(d.d.Spec.Files))
		for p := range d.d.Spec.Files {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		vs := make([]starlark.Value, len(paths))
		for i, p := range paths {
			vs[i] = starlark.String(p)
		}
		return starlark.NewList(vs), nil
	case "stop":
		return starlark.NewBuiltin("stop", d.stop), nil
	}
	p := &Process{run: d.run, p: d.d.Process}
	return p.Attr(name)
}

func (d *Daemon) stop(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	return call(d.run, b.Name(), true, t, func() (starlark.Value, error) {
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
			return nil, err
		}
		return runResult(d.d.Stop()), nil
	})
}

// daemonArg unpacks a daemon value.
type daemonArg struct{ d *Daemon }

// Unpack implements starlark.Unpacker.
func (a *daemonArg) Unpack(v starlark.Value) error {
	d, ok := v.(*Daemon)
	if !ok {
		return fmt.Errorf("got %s, want daemon", v.Type())
	}
	a.d = d
	return nil
}
