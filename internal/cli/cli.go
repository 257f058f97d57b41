// Package cli is the nsscript command line: flags, subcommands, exit codes
// and output. It holds no networking logic; see lang, builtins and
// internal/lab for that.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/nsscript/nsscript/internal/sandbox"
	"github.com/nsscript/nsscript/internal/signals"
)

// Exit statuses of nsscript.
const (
	ExitOK    = 0 // every expectation passed
	ExitFail  = 1 // an expectation failed
	ExitError = 2 // script error, usage error, or the lab could not be built
)

// command is one subcommand. Each lives in its own file and registers itself
// in an init function.
type command struct {
	name    string
	args    string
	summary string
	rank    int // position in the help listing
	run     func(env *Env, args []string) int
}

var commands []*command

// register adds a subcommand; help lists commands by rank.
func register(c *command) {
	commands = append(commands, c)
	sort.SliceStable(commands, func(i, j int) bool { return commands[i].rank < commands[j].rank })
}

func init() {
	register(&command{"run", "[flags] FILE.star", "build a lab from a script, check its expectations, tear it down", 10, cmdRun})
	register(&command{"version", "", "print the version", 90, cmdVersion})
	register(&command{"help", "[COMMAND]", "print help", 99, cmdHelp})
}

// Env is the process environment a command runs in (swapped in tests).
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Signals, when set, delivers the SIGINT and SIGTERM this process got
	// since it started (signals.Take); run reads it instead of asking for
	// its own, so that no signal comes between two handlers.
	Signals <-chan os.Signal
}

// enterSandbox runs command name in a private sandbox. Outside one, it
// re-executes the command line (args) there and returns the child's exit
// status and true; prepare, when set, adds to the child's options first and
// returns what to do once the child exited. Inside, it sets the sandbox up
// and returns false, so that the command goes on, or ExitError and true when
// that failed.
func enterSandbox(env *Env, name string, args []string, prepare func(*sandbox.Options) (done func(), err error)) (int, bool) {
	if sandbox.Inside() {
		if err := sandbox.Setup(); err != nil {
			fmt.Fprintf(env.Stderr, "nsscript %s: set up sandbox: %v\n", name, err)
			return ExitError, true
		}
		return 0, false
	}
	// No sandbox.Check first: Run explains a failure to create the
	// namespaces as well, and a probe child would cost a second set.
	// The child sees the terminal as the parent does (termEnv).
	o := sandbox.Options{
		Args:    append([]string{os.Args[0], name}, args...),
		Stdin:   env.Stdin,
		Stdout:  env.Stdout,
		Stderr:  env.Stderr,
		Env:     append(os.Environ(), termEnv+"="+detectTerm(env).String()),
		Signals: env.Signals,
	}
	done := func() {}
	if prepare != nil {
		var err error
		if done, err = prepare(&o); err != nil {
			fmt.Fprintf(env.Stderr, "nsscript %s: %v\n", name, err)
			return ExitError, true
		}
	}
	code, err := sandbox.Run(o)
	done()
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript %s: %v\n", name, err) // "sandbox: ..."
		return ExitError, true
	}
	return code, true
}

// Main runs nsscript with os.Args and returns the exit status.
func Main() int {
	if sandbox.Inside() {
		// Before anything reads the environment or standard input: the
		// parent hands both over.
		if err := sandbox.Receive(); err != nil {
			fmt.Fprintf(os.Stderr, "nsscript: %v\n", err)
			return ExitError
		}
	}
	defer sandbox.DiscardEarly()
	env := &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	if len(os.Args) > 1 && runsLab(os.Args[1]) {
		env.Signals = signals.Take()
	} else {
		signals.Release()
	}
	return MainArgs(env, os.Args[1:])
}

// runsLab reports whether the command named name is nsscript run, which
// answers SIGINT and SIGTERM from its first moment by stopping the run.
func runsLab(name string) bool { return name == "run" || strings.HasSuffix(name, ".star") }

// MainArgs runs nsscript with args (without the program name).
func MainArgs(env *Env, args []string) int {
	if len(args) == 0 {
		usage(env.Stderr)
		return ExitError
	}
	name := args[0]
	if name == "-h" || name == "--help" || name == "-help" {
		usage(env.Stdout)
		return ExitOK
	}
	for _, c := range commands {
		if c.name == name {
			return c.run(env, args[1:])
		}
	}
	if strings.HasSuffix(name, ".star") {
		return cmdRun(env, args)
	}
	fmt.Fprintf(env.Stderr, "nsscript: unknown command %q (try nsscript help)\n", name)
	return ExitError
}

func usage(w io.Writer) {
	fmt.Fprint(w, `nsscript turns network recipes into Starlark scripts: it builds the topology
through netlink inside a private sandbox, checks who can reach whom, and
tears it all down.

Usage:
  nsscript COMMAND [ARGS]

Commands:
`)
	for _, c := range commands {
		if c.summary == "" {
			continue // internal (shell.go's __enter)
		}
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run 'nsscript help COMMAND' for a command's flags.

Exit status: 0 all expectations passed, 1 an expectation failed,
2 script or usage error.
`)
}

const helpAbout = `
Print the list of commands, or the usage and flags of one command
(the same as nsscript COMMAND -h).`

func cmdHelp(env *Env, args []string) int {
	fs := newFlags(env, "help", "[COMMAND]", helpAbout)
	if code, done := parseFlags(env, fs, args); done {
		return code
	}
	args = fs.Args()
	if len(args) == 0 {
		usage(env.Stdout)
		return ExitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(env, []string{"-h"})
		}
	}
	fmt.Fprintf(env.Stderr, "nsscript help: unknown command %q\n", args[0])
	return ExitError
}

// newFlags returns a flag set whose -h prints the command's help to stdout.
func newFlags(env *Env, name, args, about string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: nsscript %s %s\n\n%s\n", name, args, strings.TrimSpace(about))
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		if len(names) > 0 {
			fmt.Fprintf(w, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args; it returns (exit, true) when the command is done
// (help shown or a usage error).
func parseFlags(env *Env, fs *flag.FlagSet, args []string) (int, bool) {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(env.Stdout)
		}
	}
	// The flag package prints a bad flag's error and then the whole usage;
	// a usage error is one line instead, and help shows the usage.
	out := fs.Output()
	fs.SetOutput(io.Discard)
	err := fs.Parse(flagsFirst(fs, args))
	fs.SetOutput(out)
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return ExitOK, true
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript %s: %v (see nsscript help %s)\n", fs.Name(), err, fs.Name())
		return ExitError, true
	}
	return 0, false
}

// flagsFirst moves flags given after positional arguments in front of them,
// so `nsscript run lab.star --set n=5` works as users type it. Everything
// from "--" on stays where it is, and so does everything after the first
// positional argument of a command that runs a command line
// (`nsscript exec net1 ip -br addr`).
func flagsFirst(fs *flag.FlagSet, args []string) []string {
	if takesCommandLine[fs.Name()] {
		return args
	}
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil && !isBoolFlag(f) && i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	return append(flags, pos...)
}

// takesCommandLine names the subcommands whose arguments end with a command
// to run, whose flags are not nsscript's.
var takesCommandLine = map[string]bool{"exec": true}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }
