package cli

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/sandbox/spawn"
	"github.com/nsscript/nsscript/internal/testenv"
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

// A run whose command line turns out wrong in the parent has had its
// sandboxed child started already (internal/sandbox/early); the parent
// kills and reaps it before it exits, as it reaps a child it used. The test
// runs nsscript under a child subreaper (subreaperMain): a child nsscript
// left unreaped would become the subreaper's once nsscript exited.
func TestEarlyChildReapedBeforeExit(t *testing.T) {
	testenv.NeedNamespaces(t)
	dir := writeScript(t, "lab.star", "a = 1\n")
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"run", "--no-such-flag", "lab.star"}, ExitError},
		{[]string{"run", "--pause-on-fail", "missing.star"}, ExitError},
		{[]string{"run", "--web", "not-an-address", "lab.star"}, ExitError},
		{[]string{"lab.star", "--max-objects=0"}, ExitError},
		{[]string{"run", "lab.star"}, ExitOK},
		{[]string{"lab.star"}, ExitOK},
	} {
		// Not "nsscript run ...": the helper itself must not start a run.
		cmd := nsscript(t, dir, append([]string{"as-subreaper"}, tc.args...)...)
		cmd.Env = append(cmd.Env, subreaperEnv+"=1")
		out, _ := cmd.CombinedOutput()
		switch code := cmd.ProcessState.ExitCode(); {
		case code == exitOrphans:
			t.Errorf("nsscript %s left a child unreaped:\n%s", strings.Join(tc.args, " "), out)
		case code != tc.code:
			t.Errorf("nsscript %s: exit %d, want %d\n%s", strings.Join(tc.args, " "), code, tc.code, out)
		}
	}
}

// subreaperEnv makes the test binary, started as "nsscript as-subreaper
// ARGS...", run "nsscript ARGS..." (this test binary with mainEnv) as a
// child subreaper: it exits with nsscript's status, or exitOrphans when
// nsscript left a process that became the subreaper's.
const subreaperEnv = "NSSCRIPT_CLI_TEST_SUBREAPER"

const exitOrphans = 99

func subreaperMain() int {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 98
	}
	cmd := exec.Command("/proc/self/exe", os.Args[2:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, subreaperEnv+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Run()
	// A process nsscript left behind was made this process's child when
	// nsscript exited, before nsscript could be waited for.
	orphans := 0
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if pid <= 0 {
			break
		}
		orphans++
	}
	if orphans > 0 {
		fmt.Fprintf(os.Stderr, "%d processes left by nsscript\n", orphans)
		return exitOrphans
	}
	return cmd.ProcessState.ExitCode()
}
