package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/signals"
)

// Options configures Run. Zero values mean os.Args, os.Environ() and the
// process's own standard files.
type Options struct {
	Args       []string // the child's argv, argv[0] included and kept as is
	Env        []string // the child's environment; Run adds EnvVar=1
	Stdin      io.Reader
	Stdout     io.Writer
	Stderr     io.Writer
	ExtraFiles []*os.File // passed as descriptors 3, 4, ...
	// Signals, when set, is where SIGINT and SIGTERM arrive (the caller
	// asked for them early); otherwise Run asks for them itself.
	Signals <-chan os.Signal
}

// Run re-executes /proc/self/exe in a new sandbox and waits for it. It returns
// the child's exit code, or 128+N if the child died of signal N; the code is
// meaningful only when the error is nil.
//
// SIGINT and SIGTERM that reach this process, from the terminal (Ctrl-C) or
// anyone else, are forwarded to the child, which decides what to do with
// them; Run returns when the child exits. The child is in a session of its
// own, so nothing sent to this process's group reaches it directly. If this
// process is killed, the kernel kills the child (and so the whole sandbox)
// with SIGKILL, and the child also ends once it sees the lifeline closed.
func Run(opts Options) (int, error) {
	cmd, err := childCmd(opts)
	if err != nil {
		return 1, err
	}
	rootless := needUserNS()
	cmd.SysProcAttr = sysProcAttr(rootless)
	keep, lifeline, err := addLifeline(cmd)
	if err != nil {
		return 1, err
	}
	defer keep.Close()

	// Listen before starting, so that a signal in between is forwarded
	// rather than killing this process.
	sigs, stopCatching := signals.Or(opts.Signals)
	defer stopCatching()

	started := make(chan error, 1)
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the forking thread exits, not the process:
		// hold this thread until the child is gone.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := cmd.Start()
		lifeline.Close()
		started <- err
		if err == nil {
			go func() {
				var b [1]byte
				keep.Read(b[:]) // a byte, or EOF if the child ended first
				close(ready)
			}()
			done <- cmd.Wait()
		}
	}()

	// Signals wait until the child handles them: the child is init of its
	// PID namespace, and the kernel drops a signal that init has no
	// handler for.
	var pending []os.Signal
	for {
		select {
		case sig := <-sigs:
			pending = append(pending, sig)
			if ready == nil {
				forward(cmd, pending)
				pending = nil
			}
		case err := <-started:
			if err != nil {
				return 1, startError(err, cmd.Args[0], rootless)
			}
		case <-ready:
			ready = nil
			forward(cmd, pending)
			pending = nil
		case err := <-done:
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				return 1, fmt.Errorf("sandbox: wait for child: %w", err)
			}
			ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if ws.Signaled() {
				return 128 + int(ws.Signal()), nil
			}
			return ws.ExitStatus(), nil
		}
	}
}

// addLifeline gives cmd one end of a socket pair, the lifeline, and returns
// this process's end and the child's (to close once the child started). The
// child reads its end until EOF, which comes when this process is gone,
// however it ended (see watchParent); it writes a byte once it handles
// signals (see Setup).
func addLifeline(cmd *exec.Cmd) (keep, child *os.File, err error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("sandbox: %w", err)
	}
	keep, child = os.NewFile(uintptr(pair[0]), "lifeline"), os.NewFile(uintptr(pair[1]), "lifeline")
	cmd.ExtraFiles = append(cmd.ExtraFiles[:len(cmd.ExtraFiles):len(cmd.ExtraFiles)], child)
	cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d", lifelineEnv, 2+len(cmd.ExtraFiles)))
	return keep, child, nil
}

// startError explains why the child did not start: the namespaces could not
// be made, or the program could not be executed.
func startError(err error, argv0 string, rootless bool) error {
	var errno syscall.Errno
	if errors.As(err, &errno) && errno != syscall.ENOENT && errno != syscall.EACCES {
		return explain(err, rootless)
	}
	return fmt.Errorf("sandbox: re-execute %s: %w", argv0, err)
}

// forward sends sigs to the child; it fails only if the child is gone.
func forward(cmd *exec.Cmd, sigs []os.Signal) {
	for _, sig := range sigs {
		cmd.Process.Signal(sig)
	}
}

// childCmd returns the command that re-executes this program as opts say.
func childCmd(opts Options) (*exec.Cmd, error) {
	args := opts.Args
	if args == nil {
		args = os.Args
	}
	if len(args) == 0 {
		return nil, errors.New("sandbox: no arguments to re-execute with")
	}
	env := opts.Env
	if env == nil {
		env = os.Environ()
	}
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       args,
		Env:        childEnv(env),
		Stdin:      opts.Stdin,
		Stdout:     opts.Stdout,
		Stderr:     opts.Stderr,
		ExtraFiles: opts.ExtraFiles,
	}
	if cmd.Stdin == nil {
		cmd.Stdin = os.Stdin
	}
	if cmd.Stdout == nil {
		cmd.Stdout = os.Stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	return cmd, nil
}

// childEnv returns env without any EnvVar or lifelineEnv entry, plus
// EnvVar=1.
func childEnv(env []string) []string {
	out := make([]string, 0, len(env)+2)
	for _, kv := range env {
		if !strings.HasPrefix(kv, EnvVar+"=") && !strings.HasPrefix(kv, lifelineEnv+"=") {
			out = append(out, kv)
		}
	}
	return append(out, EnvVar+"=1")
}
