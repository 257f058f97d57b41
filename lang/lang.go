// Package lang is nsscript's Starlark front end: it loads a script and the
// modules it load()s (only from the script's own directory tree), runs it on
// a thread with cancellation and a step limit, and turns every error into a
// single line that starts with the script position, "lab.star:7:5: veth: …".
package lang

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// DefaultMaxSteps bounds the Starlark computation of one run.
const DefaultMaxSteps = 50_000_000

// Options configure a run of a script.
type Options struct {
	// Filename is the script's path as the user gave it; positions in
	// messages use it.
	Filename string
	// Src is the script's text; when nil, Filename is read.
	Src []byte
	// Predeclared are the names every module sees (the builtins, vars).
	Predeclared starlark.StringDict
	// Print receives the script's print() output.
	Print func(thread *starlark.Thread, msg string)
	// SetupThread is called for every new thread (the main one and one per
	// loaded module), e.g. to store per-run state with SetLocal.
	SetupThread func(thread *starlark.Thread)
	// MaxSteps bounds the computation (DefaultMaxSteps when 0).
	MaxSteps uint64
}

// fileOptions enable the language features scripts may use.
var fileOptions = &syntax.FileOptions{
	Set:             true,
	While:           true,
	TopLevelControl: true,
	GlobalReassign:  true,
}

// Exec runs the script and returns its globals. A cancelled ctx stops the
// script at its next step with the context's cause.
func Exec(ctx context.Context, o Options) (starlark.StringDict, error) {
	src := o.Src
	if src == nil {
		b, err := ReadSource(o.Filename)
		if err != nil {
			return nil, &Error{Msg: fmt.Sprintf("read script: %v", err), cause: err}
		}
		src = b
	}
	root, err := filepath.Abs(filepath.Dir(o.Filename))
	if err != nil {
		return nil, &Error{Msg: err.Error()}
	}
	if r, err := filepath.EvalSymlinks(root); err == nil {
		root = r
	}
	o.Predeclared = guard(ctx, o.Predeclared)
	ld := &loader{opts: o, root: root, ctx: ctx, cache: map[string]*entry{}, pos: newPositions()}
	globals, err := ld.exec(o.Filename, src)
	if err != nil {
		return globals, ld.wrap(err)
	}
	return globals, nil
}

// Stopped returns nil while ctx is live, and once it has ended an error that
// gives the cause ("timeout: run stopped after 2s (--timeout)").
func Stopped(ctx context.Context) error {
	if ctx.Err() == nil {
		return nil
	}
	return errors.New(cancelReason(ctx))
}

// guard wraps every builtin of d so that a call which returns into a
// cancelled run fails with the cancellation: the thread's own cancellation
// comes from another goroutine and could let the next lines run (a print of
// the cut-short result) before it lands. Other values are kept.
func guard(ctx context.Context, d starlark.StringDict) starlark.StringDict {
	out := make(starlark.StringDict, len(d))
	for name, v := range d {
		b, ok := v.(*starlark.Builtin)
		if !ok {
			out[name] = v
			continue
		}
		out[name] = starlark.NewBuiltin(b.Name(), func(t *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			v, err := b.CallInternal(t, args, kwargs)
			if stop := Stopped(ctx); stop != nil {
				t.Cancel(stop.Error())
				return nil, stop
			}
			return v, err
		})
	}
	return out
}

func cancelReason(ctx context.Context) string {
	if c := context.Cause(ctx); c != nil {
		return c.Error()
	}
	return ctx.Err().Error()
}

// loader implements load() for one run, confined to the script's directory.
type loader struct {
	opts  Options
	root  string
	ctx   context.Context
	cache map[string]*entry
	pos   *positions
}

type entry struct {
	globals starlark.StringDict
	err     error
	loading bool
}

// exec runs one module, the script or a loaded file, on a thread of its own
// that the run's context cancels. The syntax tree it executes also gives
// the module's call positions, so no file is parsed twice.
func (ld *loader) exec(name string, src []byte) (starlark.StringDict, error) {
	t := &starlark.Thread{Name: name, Load: ld.load, Print: ld.opts.Print}
	t.SetMaxExecutionSteps(ld.maxSteps())
	t.SetLocal(posKey, ld.pos)
	if ld.opts.SetupThread != nil {
		ld.opts.SetupThread(t)
	}
	stop := context.AfterFunc(ld.ctx, func() { t.Cancel(cancelReason(ld.ctx)) })
	defer stop()
	if err := checkNUL(name, src); err != nil {
		return nil, err
	}
	f, prog, err := starlark.SourceProgramOptions(fileOptions, name, src, ld.opts.Predeclared.Has)
	if err != nil {
		return nil, err
	}
	ld.pos.addFile(f)
	g, err := prog.Init(t, ld.opts.Predeclared)
	g.Freeze()
	return g, err
}

// checkNUL refuses a source with a NUL byte, where Starlark's scanner would
// silently end the file and ignore everything after it.
func checkNUL(name string, src []byte) error {
	i := bytes.IndexByte(src, 0)
	if i < 0 {
		return nil
	}
	before := src[:i]
	line := bytes.Count(before, []byte("\n")) + 1
	col := utf8.RuneCount(before[bytes.LastIndexByte(before, '\n')+1:]) + 1
	return &Error{Pos: fmt.Sprintf("%s:%d:%d", name, line, col), Msg: "syntax error: NUL byte (a script is text; is this a binary file?)"}
}

func (ld *loader) maxSteps() uint64 {
	if ld.opts.MaxSteps == 0 {
		return DefaultMaxSteps
	}
	return ld.opts.MaxSteps
}

// load resolves module relative to the directory of the loading file and
// refuses anything outside the script's directory tree.
func (ld *loader) load(thread *starlark.Thread, module string) (starlark.StringDict, error) {
	from := thread.CallFrame(0).Pos.Filename()
	if module == "" || filepath.IsAbs(module) {
		return nil, errors.New("only paths relative to the script are allowed")
	}
	path := filepath.Join(filepath.Dir(from), module)
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	if rel, err := filepath.Rel(ld.root, abs); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil, fmt.Errorf("path is outside the script's directory %s", ld.root)
	}
	e := ld.cache[abs]
	if e != nil {
		if e.loading {
			return nil, errors.New("cycle in load graph")
		}
		return e.globals, e.err
	}
	e = &entry{loading: true}
	ld.cache[abs] = e
	src, err := ReadSource(abs)
	if err != nil {
		e.err = err
	} else {
		e.globals, e.err = ld.exec(path, src)
		if e.err != nil {
			// Keep the inner position: the message names the module's line.
			e.err = errors.New(ld.wrap(e.err).Error())
		}
	}
	e.loading = false
	return e.globals, e.err
}

// wrap is Wrap with positions moved to the start of calls.
func (ld *loader) wrap(err error) *Error {
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		for i := range ee.CallStack {
			ee.CallStack[i].Pos = ld.pos.callStart(ee.CallStack[i].Pos)
		}
	}
	le := Wrap(err)
	if le.Msg == "Starlark computation cancelled: too many steps" {
		le.Msg = fmt.Sprintf("too many steps: the limit of %d Starlark steps was reached (raise it with --max-steps)", ld.maxSteps())
	}
	return le
}

// Error is a script error in one line: "file:line:col: message".
type Error struct {
	Pos       string // "lab.star:7:5", or "" when no position applies
	Msg       string
	Backtrace string // the Starlark backtrace, when there is one
	cause     error
}

func (e *Error) Error() string {
	if e.Pos == "" {
		return e.Msg
	}
	return e.Pos + ": " + e.Msg
}

func (e *Error) Unwrap() error { return e.cause }

// Wrap converts any error from the Starlark interpreter into an *Error.
func Wrap(err error) *Error {
	var le *Error
	if errors.As(err, &le) {
		return le
	}
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		pos := ""
		for i := len(ee.CallStack) - 1; i >= 0; i-- {
			if p := ee.CallStack[i].Pos; p.Filename() != "<builtin>" && p.IsValid() {
				pos = p.String()
				break
			}
		}
		return &Error{Pos: pos, Msg: oneLine(ee.Msg), Backtrace: ee.Backtrace(), cause: ee.Unwrap()}
	}
	var se syntax.Error
	if errors.As(err, &se) {
		return &Error{Pos: se.Pos.String(), Msg: "syntax error: " + oneLine(se.Msg) + reservedHint(se.Msg), cause: err}
	}
	var rl resolve.ErrorList
	if errors.As(err, &rl) && len(rl) > 0 {
		msg := rl[0].Msg
		if len(rl) > 1 {
			msg += fmt.Sprintf(" (and %d more errors)", len(rl)-1)
		}
		return &Error{Pos: rl[0].Pos.String(), Msg: oneLine(msg), cause: err}
	}
	return &Error{Msg: oneLine(err.Error()), cause: err}
}

// reservedHint explains a syntax error at a word Starlark reserves that
// the builtins take as a keyword argument with a trailing underscore
// (rule(from_=...), firewall(in_=...)).
func reservedHint(msg string) string {
	for _, w := range []string{"from", "in"} {
		if strings.HasPrefix(msg, "got "+w+", want") {
			return fmt.Sprintf(" (%s is reserved in Starlark: as an argument name write %s_)", w, w)
		}
	}
	return ""
}

// oneLine folds a message onto one line.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	return s
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}
