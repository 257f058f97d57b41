package reliability

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsscript/nsscript/internal/testenv"
)

// killWays are the ways TestNothingOutlivesARun ends a run, and the exit
// statuses each may give besides 0 (the run ended before the signal came):
// SIGKILL's own, or 2 for a run that stopped itself. A SIGINT or SIGTERM
// that comes before the program's first package initialised (its first
// milliseconds, longer on a loaded machine) still ends it with 128+N, as
// it ends any program; such runs are counted apart.
var killWays = []struct {
	name  string
	sig   syscall.Signal
	stop  bool // SIGSTOP to the process group first
	codes []int
}{
	{"SIGKILL", syscall.SIGKILL, false, []int{128 + 9}},
	{"SIGINT", syscall.SIGINT, false, []int{2}},
	{"SIGTERM", syscall.SIGTERM, false, []int{2}},
	{"SIGSTOP+SIGKILL", syscall.SIGKILL, true, []int{128 + 9}},
}

// TestNothingOutlivesARun runs testdata/procs.star (background programs, a
// double fork, setsid, a program that ignores SIGTERM) in its sandbox, as
// root and as nobody, and ends each run at a random moment with SIGKILL,
// SIGINT, SIGTERM, or SIGSTOP to its process group then SIGKILL. After every
// run no process of the lab, no nsscript process and nothing on the host
// (links, mounts, /run/netns, ...) may be left.
func TestNothingOutlivesARun(t *testing.T) {
	testenv.LockHost(t, false)
	testenv.NeedNamespaces(t)
	asRootAndNobody(t, func(t *testing.T, as func(*exec.Cmd)) {
		killRuns(t, as, "testdata/procs.star", 2*len(killWays))
	})
}

// asRootAndNobody runs f as a subtest as root and as nobody: as is nil for
// root and asNobody for nobody, to apply to the commands f starts.
func asRootAndNobody(t *testing.T, f func(t *testing.T, as func(*exec.Cmd))) {
	for _, user := range []string{"root", "nobody"} {
		t.Run(user, func(t *testing.T) {
			var as func(*exec.Cmd)
			if user == "nobody" {
				needNobody(t)
				as = asNobody
			} else {
				testenv.NeedRoot(t)
			}
			f(t, as)
		})
	}
}

// TestNothingOutlivesABGPLab does the same to scripts/bgp-line.star, a lab
// of three BIRD daemons: after every killed run no daemon, mount or link is
// left. The daemons' argv is BIRD's own, so they are found by the mark in
// their environment, which they inherit from the run.
func TestNothingOutlivesABGPLab(t *testing.T) {
	testenv.LockHost(t, false)
	testenv.NeedNamespaces(t)
	testenv.NeedProgram(t, "bird")
	asRootAndNobody(t, func(t *testing.T, as func(*exec.Cmd)) {
		killRuns(t, as, "../../scripts/bgp-line.star", len(killWays))
	})
}

// publicScript copies the script at path (relative to this package) to a
// directory that nobody may read.
func publicScript(t *testing.T, path string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "nsscript-lifetime-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, filepath.Base(path))
	if err := os.WriteFile(script, src, 0o644); err != nil {
		t.Fatal(err)
	}
	return script
}

// markEnv is the environment variable that carries a kill test's mark to
// the run and, through it, to every program the lab starts.
const markEnv = "NSSCRIPT_TEST_MARK"

// killRuns runs the script at path once to the end, then shortRuns times (or
// RunsEnv's number) ended at a random moment, the kill ways taking turns,
// and checks after each run that nothing of it is left.
func killRuns(t *testing.T, as func(*exec.Cmd), path string, shortRuns int) {
	script := publicScript(t, path)
	// A mark no other process on the machine has in its command line or
	// environment.
	mark := strconv.Itoa(700000 + os.Getpid()%100000)
	launch := func(out *os.File) *proc {
		return start(t, []string{"run", "--set", "mark=" + mark, script}, func(c *exec.Cmd) {
			if as != nil {
				as(c)
			}
			c.Env = append(c.Env, markEnv+"="+mark)
			// A process group of its own, as a shell's job.
			if c.SysProcAttr == nil {
				c.SysProcAttr = &syscall.SysProcAttr{}
			}
			c.SysProcAttr.Setpgid = true
			if out != nil {
				c.Stdout, c.Stderr = out, out
			}
		})
	}
	before := snapshot(t)
	t0 := time.Now()
	p := launch(nil)
	if code := p.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("normal run: exit %d\nstdout:\n%s\nstderr:\n%s", code, p.stdout, p.stderr)
	}
	full := time.Since(t0)
	noSurvivors(t, mark, "a normal run")
	mustEqual(t, "after a normal run", before, snapshot(t))

	n := runs(shortRuns) // the ways take turns
	ended := map[string]int{}
	for i := range n {
		way := killWays[i%len(killWays)]
		at := time.Duration(rand.Int64N(int64(full)))
		out, err := os.Create(filepath.Join(t.TempDir(), "out"))
		if err != nil {
			t.Fatal(err)
		}
		p := launch(out)
		time.Sleep(at)
		if way.stop {
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGSTOP)
		}
		p.signal(way.sig)
		code := p.wait(t, 60*time.Second)
		what := fmt.Sprintf("run %d (%s after %v)", i, way.name, at)
		switch {
		case code == 0:
			ended["before the signal"]++
		case containsInt(way.codes, code):
			ended[way.name]++
			// The lab's programs ignore SIGTERM or stay in the background:
			// stopping them must not be cut short by the watchdog.
			if b, _ := os.ReadFile(out.Name()); strings.Contains(string(b), "did not stop within") {
				t.Fatalf("%s: the watchdog ended the run:\n%s", what, b)
			}
		case !way.stop && code == 128+int(way.sig):
			ended[way.name+" before its handler"]++
		default:
			b, _ := os.ReadFile(out.Name())
			t.Fatalf("%s: exit %d\noutput:\n%s", what, code, b)
		}
		out.Close()
		noSurvivors(t, mark, what)
		mustEqual(t, what, before, snapshot(t))
	}
	t.Logf("%d runs (normal run %v; signals at uniform random moments within it): %v; 0 processes, links, mounts or /run/netns entries left",
		n, full.Round(time.Millisecond), ended)
}

// noSurvivors fails when a process of the lab (one with mark in its command
// line) or of nsscript outlives a run (see waitGone): the kernel kills a
// PID namespace's processes when its init dies, and that takes a moment.
func noSurvivors(t *testing.T, mark, what string) {
	t.Helper()
	waitGone(t, what, func() []string { return append(leftovers(), marked(mark)...) })
}

// marked lists the live processes whose command line holds mark or whose
// environment holds markEnv=mark.
func marked(mark string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		env, _ := os.ReadFile("/proc/" + e.Name() + "/environ")
		if !strings.Contains(string(b), mark) && !bytes.Contains(env, []byte(markEnv+"="+mark)) {
			continue
		}
		if st, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil && strings.Contains(string(st), ") Z ") {
			continue // dead, waiting for its parent
		}
		out = append(out, e.Name()+": "+strings.ReplaceAll(string(b), "\x00", " "))
	}
	return out
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
