// Package builtins holds nsscript's Starlark builtins, one file per domain,
// and the table (table.go) that lists every one of them with its doc. A
// builtin unpacks and checks its arguments and calls one method of the lab
// model; it never talks to the kernel itself.
package builtins

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"go.starlark.net/starlark"

	"github.com/nsscript/nsscript/internal/lab"
)

const localKey = "nsscript.run"

// Run is the state of one script run: the lab, the output, and the
// expectations so far. It lives in the Starlark thread's locals.
type Run struct {
	Lab *lab.Lab
	Ctx context.Context
	Out io.Writer
	// Vars are the values given with --set, also predeclared by name.
	Vars map[string]starlark.Value
	// OnFail, when set, is called (in script order) for every failed
	// expectation, e.g. to print what explains it.
	OnFail func(e *Expectation)
	// Color marks ok and FAIL with terminal colours.
	Color bool

	mu      sync.Mutex
	queue   []*outItem // output waiting for earlier expectations, in order
	passed  int
	failed  int
	cut     int
	results []*Expectation
	closers []func() // see Defer
	checks  *pool    // runs the expectations' checks (pool.go)
}

// outItem is one line of output held until the expectations before it are
// done: a print or an expectation's result.
type outItem struct {
	text string
	exp  *Expectation
}

// NewRun returns the state of a run that builds lab l and writes to out.
func NewRun(ctx context.Context, l *lab.Lab, out io.Writer) *Run {
	return &Run{Lab: l, Ctx: ctx, Out: out, Vars: map[string]starlark.Value{}, checks: newPool()}
}

// SetupThread stores the run in a thread's locals (lang.Options.SetupThread).
func (r *Run) SetupThread(t *starlark.Thread) { t.SetLocal(localKey, r) }

// Print is the thread's print function: output keeps script order even
// while expectations are still probing.
func (r *Run) Print(_ *starlark.Thread, msg string) { r.emit(&outItem{text: msg}) }

func runOf(t *starlark.Thread) *Run {
	r, _ := t.Local(localKey).(*Run)
	return r
}

func (r *Run) emit(it *outItem) {
	r.mu.Lock()
	r.queue = append(r.queue, it)
	r.mu.Unlock()
	r.drain(false)
}

// drain writes queued output up to the first expectation still probing (all
// of it, waiting, when wait is set). What is ready at once goes out in one
// write (a mesh's 2,450 result lines were 2,450 writes, each waking whoever
// reads a pipe); what came before a wait goes out before it.
func (r *Run) drain(wait bool) {
	var out bytes.Buffer
	defer r.write(&out)
	for {
		r.mu.Lock()
		if len(r.queue) == 0 {
			r.mu.Unlock()
			return
		}
		it := r.queue[0]
		if it.exp != nil {
			select {
			case <-it.exp.done:
			default:
				r.mu.Unlock()
				if !wait {
					return
				}
				r.write(&out)
				<-it.exp.done
				continue
			}
		}
		r.queue = r.queue[1:]
		r.mu.Unlock()
		if it.exp != nil {
			r.report(&out, it.exp)
		} else {
			out.WriteString(it.text)
			out.WriteByte('\n')
		}
	}
}

// write writes out to r.Out and empties it.
func (r *Run) write(out *bytes.Buffer) {
	if out.Len() > 0 {
		r.Out.Write(out.Bytes())
		out.Reset()
	}
}

// Flush waits for every expectation in flight and writes its result. It runs
// before anything that changes the lab, so a probe always sees the topology
// of the line that asked for it.
func (r *Run) Flush() { r.drain(true) }

// report adds e's line to out: ok, FAIL, or CUT for an expectation that the
// end of the run cut short (never counted as passed or failed). Before
// OnFail, out is written.
func (r *Run) report(out *bytes.Buffer, e *Expectation) {
	r.mu.Lock()
	word, color := "ok  ", "32"
	switch {
	case e.Cut:
		r.cut++
		word, color = "CUT ", "1;33"
	case e.OK:
		r.passed++
	default:
		r.failed++
		word, color = "FAIL", "1;31"
	}
	r.results = append(r.results, e)
	r.mu.Unlock()
	if r.Color {
		w := strings.TrimSpace(word)
		word = "\x1b[" + color + "m" + w + "\x1b[0m" + word[len(w):]
	}
	fmt.Fprintf(out, "%s %s: %s: %s: %s\n", word, e.Pos, e.Builtin, e.What, e.Detail)
	if !e.OK && !e.Cut {
		for _, l := range strings.SplitAfter(e.Output, "\n") {
			if l != "" {
				fmt.Fprintf(out, "     %s", l)
			}
		}
	}
	if !e.OK && !e.Cut && r.OnFail != nil {
		r.write(out)
		r.OnFail(e)
	}
}

// Finish waits for every expectation, then writes the summary line
// "N passed, N failed", followed by ", N cut short" when the end of the run
// cut expectations short, and returns the counts.
func (r *Run) Finish() (passed, failed, cut int) {
	r.Flush()
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.Out, "%d passed, %d failed", r.passed, r.failed)
	if r.cut > 0 {
		fmt.Fprintf(r.Out, ", %d cut short", r.cut)
	}
	fmt.Fprintln(r.Out)
	return r.passed, r.failed, r.cut
}

// Defer registers fn to run when the run is closed, to stop what a builtin
// left running (a built-in server, a background program).
func (r *Run) Defer(fn func()) {
	r.mu.Lock()
	r.closers = append(r.closers, fn)
	r.mu.Unlock()
}

// Close waits for the expectations' workers to end, then runs the
// functions given to Defer, newest first. The CLI calls it when the script
// has ended, before the lab is closed.
func (r *Run) Close() {
	r.checks.close()
	r.mu.Lock()
	fns := r.closers
	r.closers = nil
	r.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

// Counts returns the expectations reported so far.
func (r *Run) Counts() (passed, failed int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.passed, r.failed
}

// Results returns the reported expectations in order.
func (r *Run) Results() []*Expectation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Expectation(nil), r.results...)
}
