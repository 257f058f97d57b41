package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/chzyer/readline"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/nsscript/nsscript/builtins"
	"github.com/nsscript/nsscript/internal/control"
	"github.com/nsscript/nsscript/internal/lab"
	"github.com/nsscript/nsscript/lang"
)

func init() {
	register(&command{"repl", "[flags]", "build a lab line by line in an interactive session (sandboxed)", 30, cmdRepl})
}

const replAbout = `Starts an interactive Starlark session with a live lab in a private sandbox,
so a topology can be built one line at a time: every builtin of nsscript run
is there, an expression's value is printed, and an expect_* line prints ok or
FAIL at once (with what explains a failure). The lab ends with the session
(Ctrl-D, or end of input); the session then prints "N passed, N failed" and
exits 2 if a statement raised an error, else 1 if an expectation failed.

On a terminal, lines are edited as in a shell (history, Ctrl-R), Tab
completes a builtin or variable name and, after a dot, an attribute of the
value (a.<Tab>), and Ctrl-C abandons the current line or stops a running
statement. help() prints the reference of every builtin, help(NAME) or
help(value) that of one, as nsscript doc does. Otherwise the lines
are read from standard input, without prompts: nsscript repl < lab.star runs
a script statement by statement.`

// replFileOptions are the language features of the REPL, as of scripts.
var replFileOptions = &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true, LoadBindsGlobally: true}

func cmdRepl(env *Env, args []string) int {
	fs := newFlags(env, "repl", "[flags]", replAbout)
	verbose := fs.Bool("v", false, "log every kernel change with its shell equivalent")
	bundle := fs.String("bundle", "", "write what explains each failed expectation to files in `DIR`")
	if code, done := parseFlags(env, fs, args); done {
		return code
	}
	if fs.NArg() != 0 {
		fmt.Fprintln(env.Stderr, "nsscript repl: want no arguments (to run a file: nsscript run FILE.star)")
		return ExitError
	}
	if code, done := enterSandbox(env, "repl", args, nil); done {
		return code
	}
	opts := lab.Options{}
	if *verbose {
		opts.Log = func(s lab.Step) {
			for _, c := range s.Cmds {
				fmt.Fprintf(env.Stderr, "[%s] %s\n", s.Pos, c)
			}
		}
	}
	l, err := lab.New(opts)
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript repl: %v\n", err)
		return ExitError
	}
	defer l.Close()
	return replLoop(env, l, *bundle)
}

// replLoop reads statements until the end of input and runs each against
// lab l, waiting for its expectations before the next prompt.
func replLoop(env *Env, l *lab.Lab, bundle string) int {
	r := builtins.NewRun(context.Background(), l, env.Stdout)
	defer r.Close()
	setupRun(r, env, l, bundle)
	s := &repl{env: env, r: r, thread: &starlark.Thread{Name: "repl", Print: r.Print}}
	r.SetupThread(s.thread)
	s.globals = flushing(builtins.Predeclared(r), r)
	s.globals["help"] = replHelp(func(text string) { r.Flush(); fmt.Fprint(env.Stdout, text) })
	s.comp = &replCompleter{globals: s.globals}

	in, interactive := newLineReader(env, s.comp)
	defer in.close()
	s.in = in
	if interactive {
		fmt.Fprintln(env.Stdout, "nsscript repl: a private lab is up; build it line by line (Ctrl-D ends it; Tab completes; help() or help(NAME) prints the reference)")
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT)
	defer signal.Stop(sigs)
	go func() {
		for range sigs {
			s.thread.Cancel("interrupted")
		}
	}()
	for {
		f, eof, err := s.read()
		if err != nil {
			if eof {
				break
			}
			if !errors.Is(err, readline.ErrInterrupt) {
				s.report(err)
			}
			continue
		}
		s.exec(f)
	}
	_, failed, cut := r.Finish()
	switch {
	case s.errs > 0, cut > 0:
		return ExitError
	case failed > 0:
		return ExitFail
	}
	return ExitOK
}

// repl is one session of `nsscript repl`: its run and thread, the globals
// the statements share, and how much input it has read.
type repl struct {
	env     *Env
	r       *builtins.Run
	thread  *starlark.Thread
	globals starlark.StringDict
	comp    *replCompleter
	in      *lineReader
	lines   int // input lines read so far
	errs    int // statements that failed
}

// read reads one statement, over several lines when it is a compound one,
// and parses it at its place in the input, so that positions name the input
// line as they do in a file. eof reports that the input ended.
func (s *repl) read() (f *syntax.File, eof bool, err error) {
	s.in.prompt(">>> ")
	start := s.lines
	var chunk strings.Builder
	read := func() ([]byte, error) {
		line, err := s.in.line()
		s.in.prompt("... ")
		if err == io.EOF {
			eof = true
		}
		if err != nil {
			return nil, err
		}
		s.lines++
		chunk.WriteString(line + "\n")
		return []byte(line + "\n"), nil
	}
	f, err = replFileOptions.ParseCompoundStmt("<stdin>", read)
	if err == nil || !eof && !errors.Is(err, readline.ErrInterrupt) {
		f, err = replFileOptions.Parse("<stdin>", strings.Repeat("\n", start)+chunk.String(), 0)
	}
	return f, eof, err
}

// exec runs a parsed statement; an expression's value other than None is
// printed, as Python's prompt does.
func (s *repl) exec(f *syntax.File) {
	s.thread.Uncancel()
	s.comp.mu.Lock()
	lang.TrackFile(s.thread, f)
	if expr := soleExpr(f); expr != nil {
		v, err := starlark.EvalExprOptions(f.Options, s.thread, expr, s.globals)
		if err == nil && v != starlark.None {
			s.r.Flush()
			fmt.Fprintln(s.env.Stdout, v)
		}
		s.report(err)
	} else {
		s.report(starlark.ExecREPLChunk(f, s.thread, s.globals))
	}
	s.comp.mu.Unlock()
	s.r.Flush()
}

// report prints a statement's error, if any, with its position, and counts
// it.
func (s *repl) report(err error) {
	if err != nil {
		s.errs++
		fmt.Fprintln(s.env.Stderr, lang.WrapIn(s.thread, err).Error())
	}
}

func soleExpr(f *syntax.File) syntax.Expr {
	if len(f.Stmts) == 1 {
		if stmt, ok := f.Stmts[0].(*syntax.ExprStmt); ok {
			return stmt.X
		}
	}
	return nil
}

// flushing wraps every builtin of globals so that, once it returns, the
// run's output is written: an expectation prints its result before the
// next prompt instead of at the next change.
func flushing(globals starlark.StringDict, r *builtins.Run) starlark.StringDict {
	for name, v := range globals {
		b, ok := v.(*starlark.Builtin)
		if !ok {
			continue
		}
		globals[name] = starlark.NewBuiltin(name, func(t *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			// CallInternal pushes no frame: the builtin still sees the
			// script line as its caller (for positions).
			v, err := b.CallInternal(t, args, kwargs)
			r.Flush()
			return v, err
		})
	}
	return globals
}

// lineReader reads the REPL's input: with line editing on a terminal, plain
// lines without prompts otherwise.
type lineReader struct {
	rl *readline.Instance
	br *bufio.Reader
}

func newLineReader(env *Env, comp readline.AutoCompleter) (*lineReader, bool) {
	in, inOK := env.Stdin.(*os.File)
	out, outOK := env.Stdout.(*os.File)
	if inOK && outOK && control.IsTerminal(in) && control.IsTerminal(out) {
		rl, err := readline.NewEx(&readline.Config{Prompt: ">>> ", Stdin: in, Stdout: out, Stderr: env.Stderr, AutoComplete: comp})
		if err == nil {
			return &lineReader{rl: rl}, true
		}
	}
	return &lineReader{br: bufio.NewReader(env.Stdin)}, false
}

func (lr *lineReader) prompt(p string) {
	if lr.rl != nil {
		lr.rl.SetPrompt(p)
	}
}

func (lr *lineReader) line() (string, error) {
	if lr.rl != nil {
		return lr.rl.Readline()
	}
	s, err := lr.br.ReadString('\n')
	if err == io.EOF && s != "" {
		err = nil
	}
	return strings.TrimSuffix(s, "\n"), err
}

func (lr *lineReader) close() {
	if lr.rl != nil {
		lr.rl.Close()
	}
}
