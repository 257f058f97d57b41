package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/nsscript/nsscript/internal/sandbox/spawn"
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
	ExtraFiles []*os.File // passed as descriptors 3, 4, ... (at most spawn.MaxExtraFiles)
	// Signals, when set, is where SIGINT and SIGTERM arrive (the caller
	// asked for them early); otherwise Run asks for them itself.
	Signals <-chan os.Signal
}

// Run re-executes /proc/self/exe in a new sandbox and waits for it. It returns
// the child's exit code, or 128+N if the child died of signal N; the code is
// meaningful only when the error is nil.
//
// When the program started a child for these arguments already (the binary's
// early start, see package spawn), Run hands that child its environment and
// descriptors; otherwise it starts one first.
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
	// Listen before starting, so that a signal in between is forwarded
	// rather than killing this process.
	sigs, stopCatching := signals.Or(opts.Signals)
	defer stopCatching()

	c := spawn.TakeEarly(args)
	if c == nil {
		c = spawn.Start(args, env)
	}
	if err := c.Started(); err != nil {
		return 1, startError(err, args[0], c.Rootless())
	}
	defer c.Lifeline().Close()
	s, err := openStreams(opts)
	if err != nil {
		c.Discard()
		return 1, err
	}
	err = c.Hand(spawn.Handover{Env: env, Files: append(s.files, opts.ExtraFiles...)})
	s.started()
	if err != nil {
		c.Discard()
		s.wait()
		return 1, err
	}
	code, err := c.Supervise(sigs)
	s.wait()
	return code, err
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
