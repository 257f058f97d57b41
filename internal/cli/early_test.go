package cli

import (
	"flag"
	"io"
	"testing"

	"github.com/nsscript/nsscript/internal/sandbox/spawn"
)

// Every flag of nsscript run is either one the sandboxed child handles on
// its own, so that the binary's early start may leave the whole command to
// the child (spawn.AloneFlags, with whether it takes a value), or one that
// needs the command in the parent. A new flag must be put in one of the
// two: in AloneFlags only if the parent does nothing for it.
func TestRunFlagsClassified(t *testing.T) {
	needParent := map[string]bool{
		"host": true, "keep": true, // no sandbox at all
		"pause": true, "pause-on-fail": true, // the lab's socket is made outside the sandbox
		"web": true, "web-public": true, // the listening socket is made outside the sandbox
	}
	var f runFlags
	fs := runFlagSet(&Env{Stdout: io.Discard, Stderr: io.Discard}, &f)
	seen := map[string]bool{}
	fs.VisitAll(func(fl *flag.Flag) {
		seen[fl.Name] = true
		takes, alone := spawn.AloneFlags[fl.Name]
		switch {
		case alone && needParent[fl.Name]:
			t.Errorf("--%s is in spawn.AloneFlags but needs the parent", fl.Name)
		case !alone && !needParent[fl.Name]:
			t.Errorf("--%s is neither in spawn.AloneFlags nor among the flags that need the parent", fl.Name)
		case alone && takes == isBoolFlag(fl):
			t.Errorf("spawn.AloneFlags[%q] = %v, but the flag takes a value: %v", fl.Name, takes, !isBoolFlag(fl))
		}
	})
	for name := range spawn.AloneFlags {
		if !seen[name] {
			t.Errorf("spawn.AloneFlags has %q, which nsscript run does not have", name)
		}
	}
}
