package cli

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nsscript/nsscript/internal/lab"
)

// stopGrace is how long a cancelled run (--timeout, SIGINT, SIGTERM) may
// take to stop by itself before the watchdog ends it.
const stopGrace = time.Second

// watchdog makes a cancelled run end within stopGrace. A script stops at
// its next Starlark step once its context is cancelled, but a single step
// can run for long ("x = x * x" on a huge int): then the watchdog prints
// the cause, undoes a --host lab's changes, and exits with ExitError. It
// returns a function to call once the script is done; after that, ending
// the run is the caller's business again.
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
	return func() { close(done) }
}
