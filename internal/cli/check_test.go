package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nsscript/nsscript/internal/exercise"
	"github.com/nsscript/nsscript/internal/testenv"
)

func TestCheckTaskAndHandout(t *testing.T) {
	ex := repoExercise(t, "bridge.txtar")
	out, errOut, code := runNsscript(t, t.TempDir(), "check", "--task", ex)
	if code != 0 || !strings.HasPrefix(out, "# Connect two namespaces through a bridge\n") || !strings.Contains(out, "-- start.star --\n# Connect net1 and net2") || strings.Contains(out, "check(") {
		t.Errorf("--task: exit %d\n%s%s", code, out, errOut)
	}
	dir := t.TempDir()
	if _, errOut, code := runNsscript(t, dir, "check", "--handout", "out", ex); code != 0 {
		t.Fatalf("--handout: exit %d: %s", code, errOut)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "out"))
	if len(ents) != 2 || ents[0].Name() != "start.star" || ents[1].Name() != "task.md" {
		t.Errorf("handout has %v", ents)
	}
	if _, errOut, code := runNsscript(t, dir, "check", "--handout", "out", ex); code != 2 || !strings.Contains(errOut, "exists; not overwriting it") {
		t.Errorf("second --handout: exit %d: %s", code, errOut)
	}
	if _, errOut, code := runNsscript(t, dir, "check", ex); code != 2 || !strings.Contains(errOut, "want an exercise and a student's script") {
		t.Errorf("no student: exit %d: %s", code, errOut)
	}
	if _, errOut, code := runNsscript(t, dir, "check", ex, "nope.star"); code != 2 || errOut != "nsscript check: nope.star: no such file or directory\n" {
		t.Errorf("missing student: exit %d: %q", code, errOut)
	}
}

func repoExercise(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "exercises", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var scoreRE = regexp.MustCompile(`(?m)^score: (\d+)/(\d+)$`)

// TestShippedExercises grades each exercise's own solution (full marks)
// and its starting script (not full marks).
func TestShippedExercises(t *testing.T) {
	testenv.NeedNamespaces(t)
	files, _ := filepath.Glob(filepath.Join("..", "..", "exercises", "*.txtar"))
	if len(files) < 2 {
		t.Fatalf("want at least two exercises, have %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			ex, err := exercise.Load(f)
			if err != nil {
				t.Fatal(err)
			}
			if ex.Files["solution.star"] == nil {
				t.Fatal("a shipped exercise needs a solution.star")
			}
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "solution.star"), ex.Files["solution.star"], 0o644)
			os.WriteFile(filepath.Join(dir, "start.star"), ex.Files["start.star"], 0o644)
			abs, _ := filepath.Abs(f)
			out, errOut, code := runNsscript(t, dir, "check", abs, "solution.star")
			m := scoreRE.FindStringSubmatch(out)
			if code != 0 || m == nil || m[1] != m[2] || strings.Contains(out, "FAIL") {
				t.Errorf("solution: exit %d\n%s%s", code, out, errOut)
			}
			out, errOut, code = runNsscript(t, dir, "check", abs, "start.star")
			m = scoreRE.FindStringSubmatch(out)
			if code != 1 || m == nil || m[1] == m[2] {
				t.Errorf("start.star: exit %d\n%s%s", code, out, errOut)
			}
		})
	}
}

func TestCheckReport(t *testing.T) {
	testenv.NeedNamespaces(t)
	t.Parallel()
	dir := t.TempDir()
	ex := testenv.WriteExercise(t, dir, "ex.txtar", map[string]string{
		"task.md":    "# Two\n",
		"start.star": "",
		"checks.star": `def exists():
    lab.netns("a")
check("a exists", exists)
def reach():
    expect_reachable("a", "10.5.0.2", timeout = "200ms")
check("a reaches 10.5.0.2", reach, points = 2)
def named():
    if "b" not in lab.namespaces:
        fail("no namespace b: make it with netns(\"b\")")
check("b exists", named)
`})
	os.WriteFile(filepath.Join(dir, "half.star"), []byte("a = netns(\"a\")\n"), 0o644)
	out, errOut, code := runNsscript(t, dir, "check", ex, "half.star")
	want := `0 passed, 0 failed

checks of ex: A title
ok   [1/1] a exists
FAIL [0/2] a reaches 10.5.0.2: expect_reachable: a -> 10.5.0.2: network is unreachable
FAIL [0/1] b exists: no namespace b: make it with netns("b")
score: 1/4
`
	if code != 1 || out != want {
		t.Errorf("exit %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", code, out, want, errOut)
	}
	// The student's script stops with an error: the checks still grade
	// what it built, and the exit status says it was not right.
	os.WriteFile(filepath.Join(dir, "err.star"), []byte("a = netns(\"a\")\nnetns(1)\n"), 0o644)
	out, _, code = runNsscript(t, dir, "check", ex, "err.star")
	if code != 1 || !strings.Contains(out, "err.star:2:1: netns: ") || !strings.Contains(out, "ok   [1/1] a exists") ||
		!strings.Contains(out, "(the script stopped with an error; the checks graded what it built)\nscore: 1/4\n") {
		t.Errorf("script error: exit %d\n%s", code, out)
	}
	// A broken checks.star is the teacher's error: exit 2.
	bad := testenv.WriteExercise(t, dir, "bad.txtar", map[string]string{"task.md": "", "start.star": "", "checks.star": "check(\"x\")\n"})
	_, errOut, code = runNsscript(t, dir, "check", bad, "half.star")
	if code != 2 || !strings.Contains(errOut, "nsscript check: error in the exercise's checks: ") || !strings.Contains(errOut, "bad.txtar:checks.star:1:1: check: missing argument for fn") {
		t.Errorf("bad checks: exit %d: %s", code, errOut)
	}
	none := testenv.WriteExercise(t, dir, "none.txtar", map[string]string{"task.md": "", "start.star": "", "checks.star": "x = 1\n"})
	_, errOut, code = runNsscript(t, dir, "check", none, "half.star")
	if code != 2 || !strings.Contains(errOut, "defines no check(...)") {
		t.Errorf("no checks: exit %d: %s", code, errOut)
	}
}
