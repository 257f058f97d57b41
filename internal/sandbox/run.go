package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
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
	args := opts.Args
	if args == nil {
		args = os.Args
	}
	if len(args) == 0 {
		return 1, errors.New("sandbox: no arguments to re-execute with")
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
	rootless := needUserNS()
	cmd.SysProcAttr = sysProcAttr(rootless)
	// The lifeline: the child reads its end until EOF, which comes when
	// this process is gone, however it ended (see watchParent).
	lifeline, keep, err := os.Pipe()
	if err != nil {
		return 1, fmt.Errorf("sandbox: %w", err)
	}
	defer keep.Close()
	cmd.ExtraFiles = append(cmd.ExtraFiles[:len(cmd.ExtraFiles):len(cmd.ExtraFiles)], lifeline)
	cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d", lifelineEnv, 2+len(cmd.ExtraFiles)))

	// Listen before starting, so that a signal in between is forwarded
	// rather than killing this process.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	started := make(chan error, 1)
	done := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the forking thread exits, not the process:
		// hold this thread until the child is gone.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := cmd.Start()
		lifeline.Close()
		if err != nil {
			started <- err
			return
		}
		started <- nil
		done <- cmd.Wait()
	}()

	var pending []os.Signal
	for running := false; ; {
		select {
		case sig := <-sigs:
			if !running {
				pending = append(pending, sig)
				continue
			}
			cmd.Process.Signal(sig) // fails only if the child is gone already
		case err := <-started:
			if err != nil {
				var errno syscall.Errno
				if errors.As(err, &errno) && errno != syscall.ENOENT && errno != syscall.EACCES {
					return 1, explain(err, rootless)
				}
				return 1, fmt.Errorf("sandbox: re-execute %s: %w", args[0], err)
			}
			running = true
			for _, sig := range pending {
				cmd.Process.Signal(sig)
			}
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
