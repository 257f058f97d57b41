package cli

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/nsscript/nsscript/internal/lab"
)

// stopGrace is how long a cancelled run (--timeout, SIGINT, SIGTERM) may
// take to stop by itself before the watchdog ends it: longer than a builtin
// that was running needs to stop what it started (a foreground program that
// ignores SIGTERM is killed lab.StopTime later at most).
const stopGrace = lab.StopTime + time.Second

// watchdog makes a cancelled script end within stopGrace. A script stops at
// its next Starlark step once its context is cancelled, but a single step
// can run for long ("x = x * x" on a huge int): then the watchdog prints
// the cause, undoes a --host lab's changes, and exits with ExitError. It
// returns a function to call as soon as the script's execution returned:
// stopping the lab's programs afterwards is not the watchdog's business, so
// it never exits in the middle of that cleanup.
func watchdog(ctx context.Context, env *Env, l *lab.Lab, host bool) (stop func()) {
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		select {
		case <-done:
			return
		case <-time.After(stopGrace):
		}
		fmt.Fprintf(env.Stderr, "nsscript run: %v (the script did not stop within %s, so the run was ended)\n", context.Cause(ctx), stopGrace)
		if host {
			// The script is stuck in a Starlark step, not in the lab: undo
			// the journaled changes before leaving.
			if err := l.Close(); err != nil {
				fmt.Fprintf(env.Stderr, "nsscript run: clean up: %v\n", err)
			}
		}
		os.Exit(ExitError)
	}()
	return sync.OnceFunc(func() { close(done) })
}
