//go:build cgo

package nsexec

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/nsscript/nsscript/internal/sandbox/spawn"
)

// The constructor's table of flags is spawn.AloneFlags.
func TestFlagsAreAloneFlags(t *testing.T) {
	if got := flags(); !maps.Equal(got, spawn.AloneFlags) {
		t.Errorf("decide.h's flags\n  %v\nspawn.AloneFlags\n  %v", got, spawn.AloneFlags)
	}
}

// The constructor's copies of spawn's constants are spawn's.
func TestConstantsAreSpawns(t *testing.T) {
	env, lifelineEnv, fd, extra := constants()
	if env != spawn.EnvVar || lifelineEnv != spawn.LifelineEnv || fd != spawn.LifelineFD || extra != spawn.MaxExtraFiles {
		t.Errorf("start.h has %q %q %d %d, spawn %q %q %d %d", env, lifelineEnv, fd, extra,
			spawn.EnvVar, spawn.LifelineEnv, spawn.LifelineFD, spawn.MaxExtraFiles)
	}
}

// The constructor takes a command line exactly when Go would start the
// child early and hand it over without the command (spawn.Early's
// EarlyArgs, then spawn.Alone): every command line of a table, and every
// flag of AloneFlags and a few others in each of their spellings.
func TestDecideAsGo(t *testing.T) {
	lines := []string{
		"", "run", "run x.star", "x.star", "run -", "run ''", "run --host x.star", "run --host=false x.star",
		"run -h", "run --help x.star", "help run", "x.star --set n=1", "x.star -v", "-v x.star",
		"run x.star y.star", "run -- x.star", "run -v -- x.star", "run --=x x.star", "run -=1 x.star",
		"run --keep x.star", "run --pause x.star", "run --web :0 x.star", "run ---v x.star",
		"run --set n=1 --timeout 2s -v --explain x.star", "run --set=n=1 x.star", "run --set", "run --set x.star",
		"run -v=true x.star", "fmt x.star", "test", "explain x.star", ".star", "a.star", "x.STAR",
		"run x", "run -x.star", "run --timeout", "nsscript.star run x.star",
	}
	for f := range spawn.AloneFlags {
		for _, dash := range []string{"-", "--"} {
			lines = append(lines, "run "+dash+f+" 1 x.star", "run "+dash+f+"=1 x.star", "run "+dash+f+" x.star")
		}
	}
	for _, f := range []string{"host", "keep", "pause", "pause-on-fail", "web", "web-public", "nope"} {
		lines = append(lines, "run --"+f+" x.star", "run --"+f+"=1 x.star")
	}
	for _, line := range lines {
		args := append([]string{"nsscript"}, strings.Fields(line)...)
		if line == "run ''" {
			args = []string{"nsscript", "run", ""}
		}
		childArgs, early := spawn.EarlyArgs(args)
		want := early && spawn.Alone(childArgs)
		if got := decide(args); got != want {
			t.Errorf("decide(%q) = %v, Go says %v", args, got, want)
		}
	}
	if !slices.ContainsFunc(lines, func(l string) bool { return decide(append([]string{"nsscript"}, strings.Fields(l)...)) }) {
		t.Error("decide took no command line at all")
	}
}
