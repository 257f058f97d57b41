package exercise

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/nsscript/nsscript/builtins"
	"github.com/nsscript/nsscript/internal/lab"
	"github.com/nsscript/nsscript/lang"
)

// Options tune Grade.
type Options struct {
	// Out receives the student's run as nsscript run prints it (with its
	// error line, if it stopped with one), then the heading of the checks.
	Out io.Writer
	// Verbose also writes the checks' own expectation lines to Out,
	// prefixed "  | ".
	Verbose bool
	// Timeout stops the student's script.
	Timeout time.Duration
	// Color marks the student's ok and FAIL lines with terminal colours.
	Color bool
}

// Check is the outcome of one check(title, fn, points=1).
type Check struct {
	Title  string
	Points int
	OK     bool
	Detail string // why it failed
}

// Result is a graded exercise: its checks in order, and whether the
// student's script stopped with an error (the checks graded what it built).
type Result struct {
	Checks     []*Check
	StudentErr bool
}

// Grade runs the student's script, then the exercise's checks, in lab l. The
// error reports a broken exercise: an error in checks.star, or no check.
func Grade(l *lab.Lab, ex *Exercise, student string, o Options) (*Result, error) {
	// The student's script: output as with nsscript run.
	ctx, cancel := context.WithTimeoutCause(context.Background(), o.Timeout, fmt.Errorf("timeout: the script ran longer than %s", o.Timeout))
	defer cancel()
	sr := builtins.NewRun(ctx, l, o.Out)
	defer sr.Close() // servers the student started stay up for the checks
	sr.Color = o.Color
	_, err := lang.Exec(ctx, lang.Options{Filename: student, Predeclared: builtins.Predeclared(sr),
		Print: sr.Print, SetupThread: sr.SetupThread})
	sr.Flush()
	res := &Result{StudentErr: err != nil}
	if err != nil {
		fmt.Fprintln(o.Out, lang.Wrap(err).Error())
	}
	sr.Finish()

	if err := runChecks(l, ex, o, res); err != nil {
		return nil, err
	}
	return res, nil
}

// runChecks runs the exercise's checks in lab l, with output of their own,
// and appends their outcomes to res.
func runChecks(l *lab.Lab, ex *Exercise, o Options, res *Result) error {
	var out io.Writer = io.Discard
	if o.Verbose {
		out = &prefixWriter{w: o.Out, prefix: "  | "}
	}
	cr := builtins.NewRun(context.Background(), l, out)
	defer cr.Close()
	pre := builtins.Predeclared(cr)
	pre["check"] = starlark.NewBuiltin("check", func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		c, err := runCheck(t, b, args, kwargs, cr)
		if err != nil {
			return nil, err
		}
		res.Checks = append(res.Checks, c)
		return starlark.None, nil
	})
	pre["lab"] = labValue(l)
	fmt.Fprintf(o.Out, "\nchecks of %s: %s\n", ex.Name, ex.Title)
	_, err := lang.Exec(context.Background(), lang.Options{Filename: ex.ChecksAt, Src: ex.Files["checks.star"],
		Predeclared: pre, Print: cr.Print, SetupThread: cr.SetupThread})
	cr.Flush()
	if err != nil {
		return fmt.Errorf("error in the exercise's checks: %s", lang.Wrap(err).Error())
	}
	if len(res.Checks) == 0 {
		return errors.New("the exercise's checks.star defines no check(...)")
	}
	return nil
}

// runCheck implements check(title, fn, points=1): it calls fn and judges
// it by its error and by the expectations it made.
func runCheck(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple, cr *builtins.Run) (*Check, error) {
	var (
		title  string
		fn     starlark.Callable
		points = 1
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "title", &title, "fn", &fn, "points?", &points); err != nil {
		return nil, err
	}
	if points < 0 {
		return nil, fmt.Errorf("%s: points must not be negative", b.Name())
	}
	cr.Flush()
	before := len(cr.Results())
	_, err := starlark.Call(t, fn, nil, nil)
	cr.Flush()
	res := &Check{Title: title, Points: points, OK: err == nil}
	if err != nil {
		res.Detail = checkFailure(err)
	}
	for _, e := range cr.Results()[before:] {
		if !e.OK && res.OK {
			res.OK = false
			res.Detail = fmt.Sprintf("%s: %s: %s", e.Builtin, e.What, e.Detail)
		}
	}
	return res, nil
}

// checkFailure is the message of an error in a check's function, without
// the check file's position (the checks are hidden) and without fail's
// own prefix.
func checkFailure(err error) string {
	var ee *starlark.EvalError
	msg := err.Error()
	if errors.As(err, &ee) {
		msg = ee.Msg
	}
	msg = strings.TrimPrefix(msg, "fail: ")
	return firstLine(msg)
}

// labValue is the checks' view of the student's lab: lab.netns(name)
// returns a namespace the student made (failing the check with the list of
// names when there is none), lab.namespaces lists their names.
func labValue(l *lab.Lab) starlark.Value {
	var names []starlark.Value
	for _, n := range l.Namespaces() {
		names = append(names, starlark.String(n.Name))
	}
	get := starlark.NewBuiltin("netns", func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var name string
		if err := starlark.UnpackPositionalArgs("lab.netns", args, kwargs, 1, &name); err != nil {
			return nil, err
		}
		n := l.Lookup(name)
		if n == nil {
			var have []string
			for _, n := range l.Namespaces() {
				have = append(have, n.Name)
			}
			sort.Strings(have)
			return nil, fmt.Errorf("there is no namespace %q (the lab has: %s)", name, strings.Join(have, ", "))
		}
		return builtins.NetnsValue(n), nil
	})
	return starlarkstruct.FromStringDict(starlark.String("lab"), starlark.StringDict{
		"netns":      get,
		"namespaces": starlark.NewList(names),
	})
}

// prefixWriter writes each line with a prefix (for -v).
type prefixWriter struct {
	w      io.Writer
	prefix string
	mid    bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line == "" {
			continue
		}
		if !p.mid {
			io.WriteString(p.w, p.prefix)
		}
		io.WriteString(p.w, line)
		p.mid = !strings.HasSuffix(line, "\n")
	}
	return len(b), nil
}
