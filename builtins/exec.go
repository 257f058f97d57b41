package builtins

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/nsscript/nsscript/internal/lab"
)

// argvArg unpacks a command: a list of strings, or one string run by sh -c.
type argvArg struct {
	argv  []string
	label string // for messages
}

// Unpack implements starlark.Unpacker.
func (a *argvArg) Unpack(v starlark.Value) error {
	if s, ok := v.(starlark.String); ok {
		if strings.TrimSpace(string(s)) == "" {
			return fmt.Errorf("empty command")
		}
		a.argv, a.label = []string{"sh", "-c", string(s)}, string(s)
		return nil
	}
	it, ok := v.(starlark.Iterable)
	if !ok {
		return fmt.Errorf("got %s, want list of strings or a shell command string", v.Type())
	}
	iter := it.Iterate()
	defer iter.Done()
	var x starlark.Value
	for iter.Next(&x) {
		s, ok := x.(starlark.String)
		if !ok {
			return fmt.Errorf("got %s in the command list, want string", x.Type())
		}
		a.argv = append(a.argv, string(s))
	}
	if len(a.argv) == 0 || a.argv[0] == "" {
		return fmt.Errorf("empty command")
	}
	a.label = lab.ShellJoin(a.argv)
	return nil
}

// envArg unpacks environment variables to add: a dict of strings.
type envArg struct{ env []string }

// Unpack implements starlark.Unpacker.
func (a *envArg) Unpack(v starlark.Value) error {
	kvs, err := stringDict(v)
	if err != nil {
		return err
	}
	for _, kv := range kvs {
		k := kv[0]
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return fmt.Errorf("invalid environment variable name %q", k)
		}
		a.env = append(a.env, k+"="+kv[1])
	}
	return nil
}

// stringDict unpacks a dict of strings to strings, in its order.
func stringDict(v starlark.Value) ([][2]string, error) {
	d, ok := v.(*starlark.Dict)
	if !ok {
		return nil, fmt.Errorf("got %s, want dict of strings", v.Type())
	}
	var out [][2]string
	for _, kv := range d.Items() {
		k, kok := kv[0].(starlark.String)
		val, vok := kv[1].(starlark.String)
		if !kok || !vok {
			return nil, fmt.Errorf("got %s: %s entry, want string: string", kv[0].Type(), kv[1].Type())
		}
		out = append(out, [2]string{string(k), string(val)})
	}
	return out, nil
}

// readyArg unpacks where a background server will listen: "IP:PORT" or a
// port number (on 127.0.0.1).
type readyArg struct{ addr string }

// Unpack implements starlark.Unpacker.
func (a *readyArg) Unpack(v starlark.Value) error {
	switch v := v.(type) {
	case starlark.String:
		var t connTarget
		if err := t.Unpack(v); err != nil {
			return err
		}
		a.addr = t.addr.String()
		return nil
	case starlark.Int:
		var p portArg
		if err := p.Unpack(v); err != nil {
			return err
		}
		a.addr = "127.0.0.1:" + strconv.Itoa(int(p.n))
		return nil
	}
	return fmt.Errorf("got %s, want \"IP:PORT\" string or port number", v.Type())
}

// fnRun implements run(ns, argv, timeout="30s", check=True, stdin="",
// env=None, background=False, ready=None).
func fnRun(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		ns         = nsArg{run: r}
		argv       argvArg
		timeout    = durationArg{30 * time.Second}
		check      = true
		stdin      string
		env        envArg
		background bool
		ready      readyArg
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "ns", &ns, "argv", &argv, "timeout?", &timeout,
		"check?", &check, "stdin?", &stdin, "env??", &env, "background?", &background, "ready??", &ready); err != nil {
		return nil, err
	}
	if ready.addr != "" && !background {
		return nil, fmt.Errorf("ready needs background=True")
	}
	status := 0
	if !check {
		status = lab.AnyStatus
	}
	pr, err := startProgram(r, t, ns.ns, lab.Program{Argv: argv.argv, Env: env.env, Stdin: stdin}, background, status)
	if err != nil {
		return nil, err
	}
	if background {
		if ready.addr != "" {
			port, _ := strconv.Atoi(ready.addr[strings.LastIndexByte(ready.addr, ':')+1:])
			r.Lab.Note(lab.Step{NS: ns.ns.Name, Op: "wait", Desc: "wait until it listens on " + ready.addr,
				Cmds: []string{lab.WaitListeningCmd(ns.ns, "tcp", port, ceilSeconds(timeout.d))}})
			if err := r.Lab.WaitListening(r.Ctx, pr, ready.addr, timeout.d); err != nil {
				pr.Stop()
				return nil, err
			}
		}
		return &Process{run: r, p: pr}, nil
	}
	res, err := pr.Wait(r.Ctx, timeout.d)
	if err != nil {
		return nil, err
	}
	if check && res.Status != 0 {
		return nil, fmt.Errorf("%s: %s (pass check=False to go on)", argv.label, res.Failure())
	}
	return runResult(res), nil
}

// startProgram starts p in ns for a builtin called on thread t, in the
// directory of the calling script, and stops it (and what it left running)
// when the run ends. status is the exit status the script expects of a
// program in the foreground (lab.StartExpecting).
func startProgram(r *Run, t *starlark.Thread, ns *lab.Netns, p lab.Program, background bool, status int) (*lab.Process, error) {
	dir, err := filepath.Abs(filepath.Dir(t.CallFrame(1).Pos.Filename()))
	if err != nil {
		return nil, err
	}
	p.Dir = dir
	// Programs such as `ip netns exec` find namespaces by name.
	if err := r.Lab.BindAll(); err != nil {
		return nil, err
	}
	var pr *lab.Process
	if background {
		pr, err = r.Lab.Start(ns, p, true)
	} else {
		pr, err = r.Lab.StartExpecting(ns, p, status)
	}
	if err != nil {
		return nil, err
	}
	r.Defer(func() { pr.Stop() }) // also ends what a finished program left running
	return pr, nil
}

func runResult(res lab.ExecResult) starlark.Value {
	return starlarkstruct.FromStringDict(starlark.String("run_result"), starlark.StringDict{
		"ok":     starlark.Bool(res.Status == 0 && !res.Running),
		"status": starlark.MakeInt(res.Status),
		"signal": starlark.String(res.Signal),
		"stdout": starlark.String(res.Stdout),
		"stderr": starlark.String(res.Stderr),
	})
}

// Process is the Starlark value of a program started with
// run(..., background=True).
type Process struct {
	run *Run
	p   *lab.Process
}

var _ starlark.HasAttrs = (*Process)(nil)

func (p *Process) String() string {
	return fmt.Sprintf("<process %d %q in %s>", p.p.Pid(), strings.Join(p.p.Argv, " "), p.p.NS.Name)
}
func (p *Process) Type() string          { return "process" }
func (p *Process) Freeze()               {}
func (p *Process) Truth() starlark.Bool  { return true }
func (p *Process) Hash() (uint32, error) { return identityHash(p) }

var processAttrs = []string{"argv", "ns", "pid", "running", "status", "stderr", "stdout", "stop"}

// AttrNames implements starlark.HasAttrs.
func (p *Process) AttrNames() []string { return processAttrs }

// Attr implements starlark.HasAttrs.
func (p *Process) Attr(name string) (starlark.Value, error) {
	res := p.p.Result()
	switch name {
	case "pid":
		return starlark.MakeInt(p.p.Pid()), nil
	case "argv":
		vs := make([]starlark.Value, len(p.p.Argv))
		for i, a := range p.p.Argv {
			vs[i] = starlark.String(a)
		}
		return starlark.NewList(vs), nil
	case "ns":
		return NetnsValue(p.p.NS), nil
	case "running":
		return starlark.Bool(res.Running), nil
	case "status":
		if res.Running {
			return starlark.None, nil
		}
		return starlark.MakeInt(res.Status), nil
	case "stdout":
		return starlark.String(res.Stdout), nil
	case "stderr":
		return starlark.String(res.Stderr), nil
	case "stop":
		return starlark.NewBuiltin("stop", p.stop), nil
	}
	return nil, nil
}

func (p *Process) stop(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	return call(p.run, b.Name(), true, t, func() (starlark.Value, error) {
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
			return nil, err
		}
		return runResult(p.p.Stop()), nil
	})
}

// fnSleep implements sleep(duration). It is a barrier that waits: the
// expectations queued before it finish first (it is marked Mutates), then it
// waits while background programs go on; the end of the run ends it at once.
func fnSleep(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var d durationArg
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "duration", &d); err != nil {
		return nil, err
	}
	secs := strconv.FormatFloat(d.d.Seconds(), 'f', -1, 64)
	r.Lab.Note(lab.Step{NS: r.Lab.Host.Name, Op: "sleep", Desc: "sleep " + d.d.String(), Cmds: []string{"sleep " + secs}})
	if r.Lab.Planning() {
		return starlark.None, nil
	}
	tm := time.NewTimer(d.d)
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-r.Ctx.Done(): // call reports the end of the run at this line
	}
	return starlark.None, nil
}
