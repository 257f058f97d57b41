package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
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

// TestShippedExercises grades, for every exercise in exercises/, the
// answers in testdata/exercises/NAME/: solution.star, written as task.md
// asks, gets full marks, and every other answer the score its first line
// names ("# score P/T: why"); the starting script as handed out gets less
// than full marks. So a hidden check cannot ask what the task does not say,
// and no exercise ships unsolvable or solved. The answers live here, not in
// the exercise files, which students may read.
func TestShippedExercises(t *testing.T) {
	testenv.NeedNamespaces(t)
	files, _ := filepath.Glob(filepath.Join("..", "..", "exercises", "*.txtar"))
	if len(files) < 5 {
		t.Fatalf("want at least five exercises (one per seed tutorial), have %v", files)
	}
	for _, f := range files {
		ex, err := exercise.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		if ex.Files["solution.star"] != nil {
			t.Errorf("%s: a shipped exercise keeps its answer in internal/cli/testdata/exercises/%s, not in the file", f, ex.Name)
		}
		answers, _ := filepath.Glob(filepath.Join("testdata", "exercises", ex.Name, "*.star"))
		if !slices.Contains(answers, filepath.Join("testdata", "exercises", ex.Name, "solution.star")) {
			t.Errorf("%s: no reference answer testdata/exercises/%s/solution.star", f, ex.Name)
		}
		abs, _ := filepath.Abs(f)
		for _, a := range answers {
			t.Run(ex.Name+"/"+filepath.Base(a), func(t *testing.T) {
				t.Parallel()
				src, err := os.ReadFile(a)
				if err != nil {
					t.Fatal(err)
				}
				want := ""
				if m := wantScoreRE.FindSubmatch(src); m != nil {
					want = string(m[1])
				} else if filepath.Base(a) != "solution.star" {
					t.Fatal(`an answer other than solution.star starts with "# score P/T: why"`)
				}
				gradeAnswer(t, abs, filepath.Base(a), src, want)
			})
		}
		t.Run(ex.Name+"/start.star", func(t *testing.T) {
			t.Parallel()
			gradeAnswer(t, abs, "start.star", ex.Files["start.star"], "less")
		})
	}
}

var wantScoreRE = regexp.MustCompile(`\A# score (\d+/\d+): `)

// gradeAnswer grades the answer src against the exercise at abs and checks
// the score: want is "P/T", "" for full marks or "less" for less than full.
func gradeAnswer(t *testing.T, abs, name string, src []byte, want string) {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, name), src, 0o644)
	out, errOut, code := runNsscript(t, dir, "check", abs, name)
	m := scoreRE.FindStringSubmatch(out)
	switch {
	case m == nil:
		t.Fatalf("no score: exit %d\n%s%s", code, out, errOut)
	case want == "" && (code != 0 || m[1] != m[2] || strings.Contains(out, "FAIL")):
		t.Errorf("want full marks: exit %d\n%s%s", code, out, errOut)
	case want == "less" && (code != 1 || m[1] == m[2]):
		t.Errorf("want less than full marks: exit %d\n%s%s", code, out, errOut)
	case want != "" && want != "less" && (code != 1 || m[1]+"/"+m[2] != want):
		t.Errorf("want score %s: exit %d\n%s%s", want, code, out, errOut)
	}
}

// TestExercisesCoverSeeds: every seed tutorial has an exercise, named in
// its header ("From seed 004 ...").
func TestExercisesCoverSeeds(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "exercises", "*.txtar"))
	seen := map[string]bool{}
	for _, f := range files {
		ex, err := exercise.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range seedRE.FindAllStringSubmatch(ex.Comment, -1) {
			seen[m[1]] = true
		}
	}
	for _, s := range []string{"000", "001", "002", "003", "004"} {
		if !seen[s] {
			t.Errorf("no exercise says it is from seed %s", s)
		}
	}
}

var seedRE = regexp.MustCompile(`From seed (\d{3})`)

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
