package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"

	"github.com/nsscript/nsscript/internal/control"
	"github.com/nsscript/nsscript/internal/exercise"
	"github.com/nsscript/nsscript/internal/lab"
)

// checkLab grades the paused lab id with the exercise's checks (nsscript
// check --lab): the checks travel over the lab's socket and run inside it,
// against its live namespaces; the lab writes the checks' heading (and with
// -v their expectation lines) to this command's output and sends back the
// outcome, which is printed here as nsscript check prints it.
func checkLab(env *Env, id string, ex *exercise.Exercise, verbose bool) int {
	path, err := findLab(env, id)
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript check: %v\n", err)
		return ExitError
	}
	// Only the checks: the lab needs nothing else.
	sent := exercise.Exercise{Name: ex.Name, Title: ex.Title, ChecksAt: ex.ChecksAt,
		Files: map[string][]byte{"checks.star": ex.Files["checks.star"]}}
	b, err := json.Marshal(&sent)
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript check: %v\n", err)
		return ExitError
	}
	stdio, wait, err := stdFiles(env)
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript check: %v\n", err)
		return ExitError
	}
	var note sync.Once
	r, err := control.Check(path, control.Request{Exercise: b, Verbose: verbose}, stdio[1], func() {
		note.Do(func() { fmt.Fprintln(env.Stderr, "nsscript: waiting for the lab to finish its script and pause...") })
	})
	wait() // the lab's output comes before the report
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript check: %v\n", err)
		return ExitError
	}
	var res exercise.Result
	if err := json.Unmarshal(r.Result, &res); err != nil {
		fmt.Fprintf(env.Stderr, "nsscript check: bad answer from the lab: %v\n", err)
		return ExitError
	}
	return report(env, &res, detectTerm(env).color)
}

// liveChecker answers nsscript check --lab in a paused lab: it grades lab
// l as it is now with the exercise the request carries, one request at a
// time.
func liveChecker(l *lab.Lab) control.CheckFunc {
	var mu sync.Mutex
	return func(req *control.Request, out *os.File) (json.RawMessage, error) {
		var ex exercise.Exercise
		if err := json.Unmarshal(req.Exercise, &ex); err != nil {
			return nil, fmt.Errorf("bad exercise: %w", err)
		}
		mu.Lock()
		defer mu.Unlock()
		res, err := exercise.GradeLive(l, &ex, exercise.Options{Out: out, Verbose: req.Verbose})
		if err != nil {
			return nil, err
		}
		return json.Marshal(res)
	}
}
