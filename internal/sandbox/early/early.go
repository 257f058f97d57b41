// Package early starts the sandboxed child of `nsscript run` from its init
// function (spawn.Early), so that the child starts while the rest of the
// program initialises. Only cmd/nsscript imports it, for that side effect.
//
// When the run needs nothing of the command in the parent (spawn.Alone: a
// script file and flags that the child handles), this process goes no
// further than here: it hands the child its environment and standard files,
// forwards SIGINT and SIGTERM, and exits with the child's status, without
// initialising the rest of the program. The child, which runs the same
// command line, parses it and reports what is wrong with it.
//
// It imports internal/signals/early, so that SIGINT and SIGTERM are caught
// (to be forwarded to the child) before the child exists.
package early

import (
	"os"

	// With cgo, the sandboxed child may have started before Go did;
	// nsexec's init marks it as such before Early looks.
	_ "github.com/nsscript/nsscript/internal/sandbox/nsexec"
	"github.com/nsscript/nsscript/internal/sandbox/spawn"
	"github.com/nsscript/nsscript/internal/signals"
	_ "github.com/nsscript/nsscript/internal/signals/early"
)

func init() {
	c := spawn.Early(os.Args)
	if c == nil || !spawn.Alone(c.Args()) || c.Started() != nil {
		return // the command takes the child over (or reports why it did not start)
	}
	os.Exit(runAlone(c)) // the program goes no further: nothing else takes c
}

// runAlone hands c this process's environment and standard files, waits for
// it and returns the exit status, as nsscript run in the parent would.
func runAlone(c *spawn.Child) int {
	sigs := signals.Take()
	err := c.Hand(spawn.Handover{Env: os.Environ(), Files: []*os.File{os.Stdin, os.Stdout, os.Stderr}})
	if err != nil {
		c.Discard()
		os.Stderr.WriteString("nsscript run: " + err.Error() + "\n")
		return 2
	}
	code, err := c.Supervise(sigs)
	if err != nil {
		os.Stderr.WriteString("nsscript run: " + err.Error() + "\n")
		return 2
	}
	return code
}
