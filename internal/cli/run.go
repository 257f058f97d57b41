package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.starlark.net/starlark"

	"github.com/nsscript/nsscript/builtins"
	"github.com/nsscript/nsscript/internal/lab"
	"github.com/nsscript/nsscript/internal/sandbox"
	"github.com/nsscript/nsscript/internal/signals"
	"github.com/nsscript/nsscript/lang"
)

const runAbout = `Runs a lab script. By default the lab is built inside a private sandbox (new
user, mount, network, PID and UTS namespaces): nothing it creates is visible
on the real host, and the kernel tears it all down, every program the script
started included, when the run ends, even if nsscript is killed. The sandbox
does not isolate files: programs run with the caller's file access. Root is
not needed where the kernel allows unprivileged user namespaces.

With - for FILE.star the script is read from standard input: positions
say <stdin>:LINE:COL, and load() paths are relative to the working
directory.

Every expect_* line prints "ok" or "FAIL" with its script position; the run
ends with "N passed, N failed". An expectation that the end of the run (--timeout,
Ctrl-C) cut short prints "CUT" instead and never counts as passed; the summary
then adds ", N cut short".

Exit status:
  0  every expectation passed
  1  an expectation failed
  2  script error, usage error, or the lab could not be built
     (also when interrupted or stopped by --timeout, or an expectation was
     cut short)`

// runFlags are the flags of nsscript run.
type runFlags struct {
	sets    multiFlag
	timeout time.Duration
	host    bool
	keep    bool
	verbose bool
	explain bool
	// limits (see docs/reliability.md)
	maxObjects int
	maxSteps   uint64
	// pause.go, bundle.go
	pause, pauseOnFail bool
	bundle             string
	// web.go: the live view's address, and its socket once open
	web       string
	webPublic bool
	webLn     *net.TCPListener
	neigh     lab.NeighMode // perf.go
	// src is the script read from standard input (nsscript run -); nil
	// when the script is a file.
	src []byte
}

// stdinName is the file name of a script read from standard input, as
// positions show it; load() paths in it are relative to the working
// directory.
const stdinName = "<stdin>"

// readStdinScript reads the script of nsscript run - from standard input.
func readStdinScript(env *Env, f *runFlags) error {
	if env.Stdin == nil {
		return errors.New("read script: no standard input")
	}
	src, err := io.ReadAll(env.Stdin)
	if err != nil {
		return fmt.Errorf("read script: %s: %w", stdinName, err)
	}
	f.src = src
	return nil
}

func cmdRun(env *Env, args []string) int {
	var f runFlags
	fs := runFlagSet(env, &f)
	if code, done := parseFlags(env, fs, args); done {
		return code
	}
	if f.maxObjects < 1 || f.maxSteps < 1 {
		fmt.Fprintln(env.Stderr, "nsscript run: --max-objects and --max-steps must be at least 1")
		return ExitError
	}
	if err := checkWebFlags(&f); err != nil {
		fmt.Fprintf(env.Stderr, "nsscript run: %v\n", err)
		return ExitError
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(env.Stderr, "nsscript run: want exactly one script (nsscript run FILE.star)")
		return ExitError
	}
	file := fs.Arg(0)
	vars, err := parseSets(f.sets)
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript run: %v\n", err)
		return ExitError
	}
	if f.keep && !f.host {
		fmt.Fprintln(env.Stderr, "nsscript run: --keep only makes sense with --host (a sandboxed lab ends with its run)")
		return ExitError
	}
	if f.timeout < 0 {
		fmt.Fprintln(env.Stderr, "nsscript run: --timeout must not be negative")
		return ExitError
	}
	if file == "-" {
		// Read once, here; a sandboxed child gets the text as its
		// standard input and reads it again.
		if err := readStdinScript(env, &f); err != nil {
			fmt.Fprintf(env.Stderr, "nsscript run: %v\n", err)
			return ExitError
		}
		file = stdinName
	} else if err := lang.CheckSource(file); err != nil {
		fmt.Fprintf(env.Stderr, "nsscript run: %v\n", err)
		return ExitError
	}
	if f.host {
		sandbox.DiscardEarly()
		if os.Geteuid() != 0 {
			fmt.Fprintln(env.Stderr, "nsscript run: --host needs root (it changes the real host's network); run without --host for a private sandbox")
			return ExitError
		}
		return runWithWeb(env, file, vars, f)
	}
	if code, done := enterSandbox(env, "run", args, func(o *sandbox.Options) (func(), error) {
		if f.src != nil {
			o.Stdin = bytes.NewReader(f.src)
		}
		pauseDone, err := passPauseSocket(env, o, file, f)
		if err != nil {
			return nil, err
		}
		webDone, err := passWebSocket(o, f)
		if err != nil {
			pauseDone()
			return nil, err
		}
		return func() { webDone(); pauseDone() }, nil
	}); done {
		return code
	}
	return runWithWeb(env, file, vars, f)
}

// runFlagSet returns the flags of nsscript run, which set f. (The binary's
// early start of a run's sandbox tells from spawn.AloneFlags which of them
// the child can handle without the command in the parent; a test checks
// that every flag here is in that table or needs the parent.)
func runFlagSet(env *Env, f *runFlags) *flag.FlagSet {
	fs := newFlags(env, "run", "[flags] FILE.star|-", runAbout)
	fs.Var(&f.sets, "set", "set a script variable: `NAME=VALUE` (repeatable; integers become ints; also in the vars dict)")
	fs.DurationVar(&f.timeout, "timeout", 0, "stop the whole run after this `duration` (e.g. 30s; 0 means no limit)")
	fs.BoolVar(&f.host, "host", false, "build on the real host namespace instead of a sandbox (root only); every change is undone on exit")
	fs.BoolVar(&f.keep, "keep", false, "with --host: leave the lab in place on exit")
	fs.BoolVar(&f.verbose, "v", false, "log every kernel change with its script position and shell equivalent")
	fs.BoolVar(&f.explain, "explain", false, "print the steps as a bash script, as nsscript explain does; the results become comments")
	addPauseFlags(fs, f)
	addWebFlags(fs, f)
	addNeighFlag(fs, f)
	fs.IntVar(&f.maxObjects, "max-objects", lab.DefaultMaxObjects, "fail the script when its lab would hold more than `N` namespaces plus links")
	fs.Uint64Var(&f.maxSteps, "max-steps", lang.DefaultMaxSteps, "stop the script after `N` Starlark computation steps")
	return fs
}

// runWithWeb runs the script with the live view's socket open when --web
// asks for one (see web.go).
func runWithWeb(env *Env, file string, vars map[string]starlark.Value, f runFlags) int {
	var err error
	if f.webLn, err = webListener(f); err != nil {
		fmt.Fprintf(env.Stderr, "nsscript run: %v\n", err)
		return ExitError
	}
	if f.webLn != nil {
		defer f.webLn.Close()
	}
	return runLab(env, file, vars, f)
}

// runLab runs the script in this process's network namespace.
func runLab(env *Env, file string, vars map[string]starlark.Value, f runFlags) int {
	defer startProfile(env, env.Stderr)()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	if f.timeout > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeoutCause(ctx, f.timeout, fmt.Errorf("timeout: run stopped after %s (--timeout)", f.timeout))
		defer stop()
	}
	sigs, stopCatching := signals.Or(env.Signals)
	defer stopCatching()
	stopSigs := make(chan struct{})
	defer close(stopSigs)
	go func() {
		for {
			select {
			case s := <-sigs:
				cancel(fmt.Errorf("interrupted by %s", sigName(s)))
			case <-stopSigs:
				return
			}
		}
	}()

	if f.host {
		// Programs' orphans stay below this process, where Stop finds
		// them (in the sandbox, this process is their init already).
		sandbox.Reap()
		if code, ok := planHost(ctx, env, file, vars, f); !ok {
			return code
		}
	}
	opts := lab.Options{HostMode: f.host, Keep: f.keep, MaxObjects: f.maxObjects, Neigh: f.neigh}
	if f.verbose {
		if sandbox.Inside() {
			fmt.Fprintln(env.Stderr, sandbox.Where())
		}
		opts.Log = func(s lab.Step) {
			for _, c := range s.Cmds {
				fmt.Fprintf(env.Stderr, "[%s] %s\n", s.Pos, c)
			}
			if len(s.Cmds) == 0 {
				fmt.Fprintf(env.Stderr, "[%s] # %s\n", s.Pos, s.Desc)
			}
		}
	}
	env, opts.Log = withProgress(env, detectTerm(env), opts.Log)
	var explained func(*lab.Lab)
	if f.explain {
		env, opts.Log, explained = explainRun(env, file, vars, opts.Log)
	}
	l, err := lab.New(opts)
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript run: %v\n", err)
		return ExitError
	}
	code := execScript(ctx, env, l, file, vars, f, watchdog(ctx, env, l, f.host))
	if explained != nil {
		explained(l)
	}
	if err := l.Close(); err != nil {
		fmt.Fprintf(env.Stderr, "nsscript run: clean up: %v\n", err)
		return ExitError
	}
	return code
}

// execScript runs the script against lab l and reports. It calls
// stopWatchdog once the script's execution returned.
func execScript(ctx context.Context, env *Env, l *lab.Lab, file string, vars map[string]starlark.Value, f runFlags, stopWatchdog func()) (code int) {
	r := builtins.NewRun(ctx, l, env.Stdout)
	defer r.Close() // stop servers and background programs before the lab goes
	defer func() { pauseLab(ctx, env, l, file, f, code) }()
	setupRun(r, env, l, f.bundle)
	r.Vars = vars
	_, err := lang.Exec(ctx, lang.Options{
		Filename:    file,
		Src:         f.src,
		Predeclared: builtins.Predeclared(r),
		Print:       r.Print,
		SetupThread: r.SetupThread,
		MaxSteps:    f.maxSteps,
	})
	stopWatchdog()
	r.Flush()
	if err != nil {
		if ctx.Err() != nil && len(r.Results()) > 0 {
			r.Finish() // what the run had found until it was stopped
		}
		le := lang.Wrap(err)
		fmt.Fprintln(env.Stderr, le.Error())
		if f.verbose && le.Backtrace != "" {
			fmt.Fprintln(env.Stderr, strings.TrimRight(le.Backtrace, "\n"))
		}
		return ExitError
	}
	_, failed, _ := r.Finish() // an expectation is cut short only by the end of ctx
	if c := context.Cause(ctx); c != nil {
		fmt.Fprintf(env.Stderr, "nsscript run: %v\n", c)
		return ExitError
	}
	if failed > 0 {
		return ExitFail
	}
	return ExitOK
}

// identRE is compiled on first use, not at every program start.
var identRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`) })

// parseSets turns --set NAME=VALUE flags into script values.
func parseSets(sets []string) (map[string]starlark.Value, error) {
	vars := map[string]starlark.Value{}
	for _, s := range sets {
		name, val, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("--set %q: want NAME=VALUE", s)
		}
		if !identRE().MatchString(name) {
			return nil, fmt.Errorf("--set %q: %q is not a valid name", s, name)
		}
		if builtins.Lookup(name) != nil || name == "vars" || starlark.Universe[name] != nil {
			return nil, fmt.Errorf("--set %q: %q is a builtin; pick another name", s, name)
		}
		if i, err := strconv.ParseInt(val, 10, 64); err == nil {
			vars[name] = starlark.MakeInt64(i)
		} else {
			vars[name] = starlark.String(val)
		}
	}
	return vars, nil
}

func sigName(s os.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

func unwrapPathErr(err error, file string) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %v", file, pe.Err)
	}
	return err
}
