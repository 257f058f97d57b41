// Package proc owns the programs and daemons a lab runs in its namespaces:
// starting them inside a namespace, waiting for them to be ready, keeping
// their output, and stopping them with whatever they left behind.
package proc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/nsutil"
	"github.com/nsscript/nsscript/internal/probe"
	"github.com/nsscript/nsscript/internal/sandbox"
)

// maxOutput bounds the bytes of each of a program's stdout and stderr that
// are kept; the rest is read and dropped, so a chatty program never blocks.
const maxOutput = 4 << 20

// outputGrace is how long a finished program's output is waited for when
// something it started in the background still holds its stdout or stderr.
const outputGrace = 500 * time.Millisecond

// stopGrace is how long Stop waits after SIGTERM before it sends SIGKILL.
const stopGrace = time.Second

// StopTime bounds how long Stop takes: SIGTERM, SIGKILL after stopGrace, at
// most stopGrace more for the group to die, and the output's grace.
const StopTime = 2*stopGrace + outputGrace

// Program is a program to run inside a namespace.
type Program struct {
	Argv  []string // program and arguments; Argv[0] is looked up in PATH
	Dir   string   // working directory ("" for nsscript's own)
	Env   []string // NAME=VALUE entries added to nsscript's environment
	Stdin string   // standard input (empty: /dev/null)
}

// Valid reports whether p names a program to run.
func (p Program) Valid() error {
	if len(p.Argv) == 0 || p.Argv[0] == "" {
		return errors.New("empty command")
	}
	return nil
}

// Result is what a program left: its output and how it ended.
type Result struct {
	Stdout, Stderr string
	// Status is the exit status, or -1 while running or when a signal
	// ended the program (Signal then names it).
	Status  int
	Signal  string
	Running bool
	Elapsed time.Duration
}

// Process is a program started in a namespace. It runs in a process
// group of its own, so Stop also ends what it started; members of the group
// whose parent exited are still found, as descendants of nsscript, which is
// their reaper (init of the sandbox's PID namespace, or a child subreaper
// with --host: see sandbox.Reap). In the sandbox, whatever left the group
// (setsid) dies with the sandbox.
type Process struct {
	Argv []string

	nsFD     int // the namespace it runs in
	cmd      *exec.Cmd
	started  time.Time
	out, err outBuf
	readers  sync.WaitGroup
	done     chan struct{} // closed once the program exited and was reaped
	state    *os.ProcessState
	end      time.Time
	stopOnce sync.Once
}

// Start runs p in the namespace behind nsFD and returns at once. The child
// is forked from a thread inside the namespace (nsutil.Do), so it and
// everything it starts live there; its mount namespace is nsscript's.
func Start(nsFD int, p Program) (*Process, error) {
	if err := p.Valid(); err != nil {
		return nil, err
	}
	pr := &Process{Argv: append([]string(nil), p.Argv...), nsFD: nsFD, done: make(chan struct{})}
	if err := pr.start(p); err != nil {
		return nil, err
	}
	return pr, nil
}

// Planned returns the process of a program that a plan only records: it
// never runs, and has exited with status 0.
func Planned(p Program) *Process {
	pr := &Process{Argv: append([]string(nil), p.Argv...), nsFD: -1, done: make(chan struct{})}
	close(pr.done)
	return pr
}

func (pr *Process) start(p Program) error {
	cmd := exec.Command(p.Argv[0], p.Argv[1:]...)
	cmd.Dir = p.Dir
	cmd.Env = append(os.Environ(), p.Env...)
	if p.Stdin != "" {
		cmd.Stdin = strings.NewReader(p.Stdin)
	}
	// Pdeathsig is a second line of defence should nsscript die without
	// stopping its programs. It fires when the forking thread exits, which
	// nsutil.Do's threads do only if restoring their namespace failed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// Our own pipes rather than exec's copying goroutines: a daemon the
	// program leaves behind may keep writing to them long after it exited,
	// and must not get SIGPIPE for it.
	var ends []*os.File
	for _, b := range []*outBuf{&pr.out, &pr.err} {
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		ends = append(ends, w)
		pr.readers.Add(1)
		go func() {
			defer pr.readers.Done()
			defer r.Close()
			io.Copy(b, r)
		}()
	}
	cmd.Stdout, cmd.Stderr = ends[0], ends[1]
	err := sandbox.StartCmd(cmd, func() error { return nsutil.Do(pr.nsFD, cmd.Start) })
	for _, w := range ends {
		w.Close()
	}
	if err != nil {
		return fmt.Errorf("start %s: %w", p.Argv[0], unwrapExec(err))
	}
	pr.cmd, pr.started = cmd, time.Now()
	go func() {
		sandbox.WaitCmd(cmd)
		pr.state, pr.end = cmd.ProcessState, time.Now()
		close(pr.done)
	}()
	return nil
}

// unwrapExec drops the *PathError and exec.Error wrappers around a start
// failure, whose text would repeat the program's name.
func unwrapExec(err error) error {
	var ee *exec.Error
	if errors.As(err, &ee) {
		if errors.Is(ee.Err, exec.ErrNotFound) {
			return errors.New("not found in PATH")
		}
		return ee.Err
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Pid returns the program's process id (0 in plan mode).
func (pr *Process) Pid() int {
	if pr.cmd == nil {
		return 0
	}
	return pr.cmd.Process.Pid
}

// Done is closed when the program has exited.
func (pr *Process) Done() <-chan struct{} { return pr.done }

// Result returns the program's output so far and, once it exited, its
// status.
func (pr *Process) Result() Result {
	r := Result{Stdout: pr.out.String(), Stderr: pr.err.String(), Status: -1}
	select {
	case <-pr.done:
	default:
		r.Running = true
		r.Elapsed = time.Since(pr.started)
		return r
	}
	if pr.state == nil { // plan mode
		r.Status = 0
		return r
	}
	r.Elapsed = pr.end.Sub(pr.started)
	if ws, ok := pr.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		r.Signal = unix.SignalName(ws.Signal())
		return r
	}
	r.Status = pr.state.ExitCode()
	return r
}

// Wait waits for the program to exit, at most timeout (none when 0) and
// while ctx lasts, and returns its result. When time runs out it stops the
// program and returns an error along with what it had written.
func (pr *Process) Wait(ctx context.Context, timeout time.Duration) (Result, error) {
	var expire <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expire = t.C
	}
	select {
	case <-pr.done:
	case <-expire:
		pr.Stop()
		return pr.Result(), fmt.Errorf("%s: timed out after %s", ShellJoin(pr.Argv), timeout)
	case <-ctx.Done():
		pr.Stop()
		return pr.Result(), fmt.Errorf("%s: %w", ShellJoin(pr.Argv), context.Cause(ctx))
	}
	pr.waitOutput(outputGrace)
	return pr.Result(), nil
}

// waitOutput waits until the program's stdout and stderr are closed, or d.
func (pr *Process) waitOutput(d time.Duration) {
	ch := make(chan struct{})
	go func() {
		pr.readers.Wait()
		close(ch)
	}()
	select {
	case <-ch:
	case <-time.After(d):
	}
}

// WaitListening waits until a TCP connection from the program's namespace to
// addr ("127.0.0.1:8080") succeeds, for a server started in the background.
// It fails when the program exits first or timeout passes.
func (pr *Process) WaitListening(ctx context.Context, addr string, timeout time.Duration) error {
	if pr.cmd == nil {
		return nil // planned
	}
	deadline := time.Now().Add(timeout)
	for {
		r := probe.Connect(ctx, pr.nsFD, "tcp", addr, 200*time.Millisecond)
		if r.OK {
			return nil
		}
		if r.Outcome == probe.NoRoute && strings.HasPrefix(r.Detail, "address") {
			return errors.New(r.Detail)
		}
		select {
		case <-pr.done:
			pr.waitOutput(outputGrace)
			res := pr.Result()
			return fmt.Errorf("%s exited (%s) before listening on %s%s", ShellJoin(pr.Argv), res.how(), addr, lastLine(res.Stderr))
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s is not listening on %s after %s (%s)", ShellJoin(pr.Argv), addr, timeout, r.Detail)
		}
	}
}

// Failure describes how a program that did not succeed ended, with the last
// line of its stderr: "exit status 127: bash: nft: command not found".
func (r Result) Failure() string { return r.how() + lastLine(r.Stderr) }

// how says how a finished program ended: "exit status 1", "signal SIGKILL".
func (r Result) how() string {
	if r.Signal != "" {
		return "signal " + r.Signal
	}
	return fmt.Sprintf("exit status %d", r.Status)
}

// lastLine returns ": " and the last non-empty line of s, or "".
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if s == "" {
		return ""
	}
	return ": " + strings.TrimSpace(s)
}

// outBuf keeps the first maxOutput bytes written to it.
type outBuf struct {
	mu sync.Mutex
	b  []byte
}

func (o *outBuf) Write(p []byte) (int, error) {
	o.mu.Lock()
	if room := maxOutput - len(o.b); room > 0 {
		o.b = append(o.b, p[:min(len(p), room)]...)
	}
	o.mu.Unlock()
	return len(p), nil
}

func (o *outBuf) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return string(o.b)
}

// ShellJoin quotes argv as a shell command line, for messages and explain.
func ShellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}

// Quote quotes s for a POSIX shell, leaving plain words as they are.
func Quote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '-' || r == '_' || r == '.' || r == '/' || r == ':' || r == '=' || r == ',' ||
			(r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
