package builtins

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"github.com/nsscript/nsscript/internal/lab"
	"github.com/nsscript/nsscript/lang"
)

// Counted custom checks: expect(cond) and expect_run(ns, cmd) record ok or
// FAIL at their position like every expect_*.

// outcome is how a polled check ended.
type outcome struct {
	ok, cut bool // cut: the run ended before the check could settle
	detail  string
}

// poll calls check until it reports true, within is over (a single call
// when within is 0) or the run ends, and describes the outcome: check's
// own detail, with how long it took when within was given.
func poll(r *Run, within time.Duration, check func() (bool, string, error)) (outcome, error) {
	start := time.Now()
	for n := 1; ; n++ {
		ok, detail, err := check()
		switch {
		case err != nil:
			return outcome{}, err
		case ok && within > 0:
			return outcome{ok: true, detail: fmt.Sprintf("%s (after %s, within %s)", detail, fmtSeconds(time.Since(start)), within)}, nil
		case ok:
			return outcome{ok: true, detail: detail}, nil
		case r.Ctx.Err() != nil:
			return outcome{cut: true, detail: fmt.Sprintf("stopped after %s (%d checks; last: %s)", fmtSeconds(time.Since(start)), n, detail)}, nil
		case within == 0:
			return outcome{detail: detail}, nil
		}
		left := time.Until(start.Add(within))
		if left <= 0 {
			return outcome{detail: fmt.Sprintf("%s (still after %s, %d checks)", detail, within, n)}, nil
		}
		select {
		case <-time.After(min(withinPause, left)):
		case <-r.Ctx.Done():
		}
	}
}

// settle records o in expectation e.
func (o outcome) settle(e *Expectation) { e.OK, e.Cut, e.Detail = o.ok, o.cut, o.detail }

// settled queues an expectation whose outcome is already known; output is
// shown under its line when it failed.
func settled(r *Run, t *starlark.Thread, b *starlark.Builtin, what string, o outcome, output string) {
	queueExpect(r, t, b, nil, netip.Addr{}, what, nil, func(e *Expectation) {
		o.settle(e)
		if !o.ok {
			e.Output = output
		}
	})
}

// fnExpect implements expect(cond, msg=None, within=None).
//
// A callable condition is called on the script's own thread: Starlark
// values are not safe to share with another goroutine while the script
// goes on, so with within= the script waits here (a barrier) until the
// condition holds or the time is over. Earlier probes keep running.
func fnExpect(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		cond   starlark.Value
		msg    string
		within durationArg
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "cond", &cond, "msg??", &msg, "within??", &within); err != nil {
		return nil, err
	}
	fn, callable := cond.(starlark.Callable)
	if within.d > 0 && !callable {
		return nil, fmt.Errorf("within needs a condition to re-evaluate: pass a function, such as lambda: ... (got %s)", cond.Type())
	}
	if msg == "" {
		msg = "condition"
		if callable {
			msg = fn.Name()
		}
	}
	if r.Lab.Planning() {
		settled(r, t, b, msg, outcome{ok: true}, "")
		return starlark.None, nil
	}
	last := "not evaluated"
	o, err := poll(r, within.d, func() (bool, string, error) {
		v := cond
		if callable {
			var err error
			if v, err = starlark.Call(t, fn, nil, nil); err != nil {
				if r.Ctx.Err() != nil {
					return false, last, nil // the end of the run stopped the call: cut short
				}
				return false, "", err
			}
		}
		last = strings.ToLower(v.Truth().String())
		return bool(v.Truth()), last, nil
	})
	if err != nil {
		return nil, err
	}
	r.Lab.SetPos(lang.CallerPos(t)) // builtins the condition called moved it
	settled(r, t, b, msg, o, "")
	return starlark.None, nil
}

// regexArg unpacks a regular expression (RE2 syntax).
type regexArg struct{ re *regexp.Regexp }

// Unpack implements starlark.Unpacker.
func (a *regexArg) Unpack(v starlark.Value) error {
	s, ok := starlark.AsString(v)
	if !ok {
		return fmt.Errorf("got %s, want regular expression string", v.Type())
	}
	re, err := regexp.Compile(s)
	if err != nil {
		return fmt.Errorf("invalid regular expression %q: %v", s, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	a.re = re
	return nil
}

// programWant is what expect_run wants of a program's run.
type programWant struct {
	status         intArg
	stdout, stderr regexArg
}

// verdict says how res (and werr, from waiting for it) differs from w; ""
// when it does not.
func (w programWant) verdict(res lab.ExecResult, werr error, argv []string) string {
	var why []string
	switch {
	case werr != nil:
		why = append(why, strings.TrimPrefix(werr.Error(), lab.ShellJoin(argv)+": "))
	case res.Status != w.status.n:
		why = append(why, fmt.Sprintf("%s, want exit status %d", res.Failure(), w.status.n))
	}
	for _, o := range []struct {
		name string
		re   *regexp.Regexp
		text string
	}{{"stdout", w.stdout.re, res.Stdout}, {"stderr", w.stderr.re, res.Stderr}} {
		if o.re != nil && !o.re.MatchString(o.text) {
			why = append(why, fmt.Sprintf("%s does not match %q", o.name, o.re))
		}
	}
	return strings.Join(why, "; ")
}

// fnExpectRun implements expect_run(ns, cmd, status=0, stdout=None,
// stderr=None, timeout="30s", stdin="", env=None, within=None).
func fnExpectRun(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		ns      = nsArg{run: r}
		argv    argvArg
		w       = programWant{status: intIn("status", 0, 255, 0)}
		timeout = durationArg{30 * time.Second}
		stdin   string
		env     envArg
		within  durationArg
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "ns", &ns, "cmd", &argv, "status?", &w.status, "stdout??", &w.stdout,
		"stderr??", &w.stderr, "timeout?", &timeout, "stdin?", &stdin, "env??", &env, "within??", &within); err != nil {
		return nil, err
	}
	p := lab.Program{Argv: argv.argv, Env: env.env, Stdin: stdin}
	var output string // what the last run wrote, shown when it failed
	o, err := poll(r, within.d, func() (bool, string, error) {
		pr, err := startProgram(r, t, ns.ns, p, false, int(w.status.n))
		if err != nil {
			return false, "", err
		}
		res, werr := pr.Wait(r.Ctx, timeout.d)
		if why := w.verdict(res, werr, pr.Argv); why != "" {
			output = programOutput(res)
			return false, why, nil
		}
		return true, fmt.Sprintf("exit status %d", res.Status), nil
	})
	if err != nil {
		return nil, err
	}
	settled(r, t, b, ns.ns.Name+": "+argv.label, o, output)
	return starlark.None, nil
}

// outputLines is how much of each stream a failed expect_run shows.
const outputLines = 20

// programOutput is what a failed program wrote: the last lines of its
// stdout and stderr, each marked.
func programOutput(res lab.ExecResult) string {
	var b strings.Builder
	for _, s := range []struct{ name, text string }{{"stdout", res.Stdout}, {"stderr", res.Stderr}} {
		lines := strings.Split(strings.TrimRight(s.text, "\n"), "\n")
		if s.text == "" {
			continue
		}
		if len(lines) > outputLines {
			fmt.Fprintf(&b, "%s: (%d lines before)\n", s.name, len(lines)-outputLines)
			lines = lines[len(lines)-outputLines:]
		}
		for _, l := range lines {
			fmt.Fprintf(&b, "%s: %s\n", s.name, l)
		}
	}
	return b.String()
}
