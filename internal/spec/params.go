// Package spec runs nsscript's executable specs: txtar scenarios run by
// testscript, with the nsscript program on PATH and nsscript's conditions
// ([root], [userns], [tun], [linktype:NAME], [qdisc:NAME], [sysctl:KEY]).
// Both `go test` (package nstest) and `nsscript test` (internal/cli) build
// their testscript.Params here, so a spec behaves the same under either. For
// nsscript test, Runner runs spec files in parallel and reports each as it
// ends (pass, fail, skip, or cut short by the timeout or an interruption),
// and WriteJSONLine and WriteJUnit write the reports.
package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// MarkerEnv, set to 1, tells a program started as "nsscript" (argv[0]) that
// it is meant to be nsscript even if it is a test binary: package nstest then
// runs the CLI instead of the tests. Params sets it for every spec.
const MarkerEnv = "NSSCRIPT_AS_NSSCRIPT"

// UpdateEnv, set to 1, makes a failing "cmp stdout file" rewrite file inside
// the spec's archive instead of failing (testscript's UpdateScripts).
const UpdateEnv = "NSSCRIPT_UPDATE"

// Options select the specs and tune their run.
type Options struct {
	// Dir holds the specs (every *.txtar and *.txt file in it).
	Dir string
	// Files lists spec files instead of Dir; they should share one
	// directory, which plays the part of Dir for Scripts.
	Files []string
	// Scripts is the directory specs see as $SCRIPTS; by default the
	// scripts directory beside the spec directory (../scripts from
	// testdata/), so that a spec can copy a project's real scripts in.
	Scripts string
	// Update rewrites golden files in the archives (see UpdateEnv); it is
	// also on when UpdateEnv is 1.
	Update bool
	// Deadline stops specs still running at that time.
	Deadline time.Time
}

// Params returns the testscript parameters for the specs of o, and a cleanup
// function to call once they have all run. The program running them (an
// nsscript binary, or a test binary that imports nstest) is put on PATH as
// nsscript, through a symlink in a temporary directory: argv[0] stays
// "nsscript", also when the sandbox re-executes /proc/self/exe.
func Params(o Options) (testscript.Params, func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return testscript.Params{}, nil, fmt.Errorf("find this program: %w", err)
	}
	bin, err := os.MkdirTemp("", "nsscript-bin-")
	if err != nil {
		return testscript.Params{}, nil, err
	}
	cleanup := func() { os.RemoveAll(bin) }
	if err := os.Symlink(exe, filepath.Join(bin, "nsscript")); err != nil {
		cleanup()
		return testscript.Params{}, nil, err
	}
	scripts := o.Scripts
	if scripts == "" {
		dir := o.Dir
		if dir == "" && len(o.Files) > 0 {
			dir = filepath.Dir(o.Files[0])
		}
		scripts = filepath.Join(dir, "..", "scripts")
	}
	if scripts, err = filepath.Abs(scripts); err != nil {
		cleanup()
		return testscript.Params{}, nil, err
	}
	p := testscript.Params{
		Dir:                 o.Dir,
		Files:               o.Files,
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		UpdateScripts:       o.Update || os.Getenv(UpdateEnv) == "1",
		Deadline:            o.Deadline,
		Condition:           Condition,
		Setup: func(e *testscript.Env) error {
			e.Setenv("PATH", bin+string(os.PathListSeparator)+e.Getenv("PATH"))
			e.Setenv(MarkerEnv, "1")
			e.Setenv("SCRIPTS", scripts)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// The program is a separate process: say so in the spec.
			"nsscript": func(ts *testscript.TestScript, neg bool, args []string) {
				ts.Fatalf("use 'exec nsscript' rather than 'nsscript' (each run is its own process and sandbox)")
			},
		},
	}
	return p, cleanup, nil
}
