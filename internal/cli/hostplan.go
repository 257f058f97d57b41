package cli

import (
	"context"
	"fmt"
	"io"

	"go.starlark.net/starlark"

	"github.com/nsscript/nsscript/builtins"
	"github.com/nsscript/nsscript/internal/lab"
	"github.com/nsscript/nsscript/lang"
)

// noChange lists the step kinds that only look at the lab.
var noChange = map[string]bool{"ping": true, "expect": true, "netns open": true, "show": true}

// planHost runs the script in plan mode (no kernel) and prints, before a
// --host run touches the real machine, the changes it is about to make.
// A script that fails to plan fails here, before any change; ok is false
// then and code is the exit status.
func planHost(ctx context.Context, env *Env, file string, vars map[string]starlark.Value, f runFlags) (code int, ok bool) {
	l, err := lab.New(lab.Options{Plan: true, MaxObjects: f.maxObjects})
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript run: %v\n", err)
		return ExitError, false
	}
	defer l.Close()
	r := builtins.NewRun(ctx, l, io.Discard)
	defer r.Close()
	r.Vars = vars
	_, err = lang.Exec(ctx, lang.Options{
		Filename:    file,
		Src:         f.src,
		Predeclared: builtins.Predeclared(r),
		Print:       func(*starlark.Thread, string) {},
		SetupThread: r.SetupThread,
		MaxSteps:    f.maxSteps,
	})
	r.Flush()
	if err != nil {
		fmt.Fprintln(env.Stderr, lang.Wrap(err).Error())
		return ExitError, false
	}
	if c := context.Cause(ctx); c != nil {
		fmt.Fprintf(env.Stderr, "nsscript run: %v\n", c)
		return ExitError, false
	}
	var steps []lab.Step
	for _, s := range l.Steps() {
		if !noChange[s.Op] {
			steps = append(steps, s)
		}
	}
	end := "undone when the run ends"
	if f.keep {
		end = "left in place (--keep; undo them later with nsscript clean)"
	}
	fmt.Fprintf(env.Stderr, "nsscript run: --host: %d changes to this machine, %s:\n", len(steps), end)
	for _, s := range steps {
		fmt.Fprintf(env.Stderr, "  %s: %s\n", s.Pos, s.Desc)
	}
	return 0, true
}
