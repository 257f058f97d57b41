package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/txtar"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/nsscript/nsscript/builtins"
	"github.com/nsscript/nsscript/internal/lab"
	"github.com/nsscript/nsscript/lang"
)

func init() {
	register(&command{"check", "[flags] EXERCISE STUDENT.star", "grade a student's script against an exercise's hidden checks", 40, cmdCheck})
}

const checkAbout = `Grades STUDENT.star against EXERCISE: an exercise.txtar archive (or a
directory) holding task.md (the task), start.star (the starting script handed
out), checks.star (the hidden checks) and, optionally, solution.star (the
teacher's answer). The student's script runs in a private sandbox as with
nsscript run; then checks.star runs in the same lab. Each check(title, fn)
in it calls fn and passes when fn neither fails nor sees an expectation
fail. The report lists every check and ends with "score: P/T".

  nsscript check --task EXERCISE          print what to hand out (task and start.star)
  nsscript check --handout DIR EXERCISE   write task.md and start.star into DIR

Exit status: 0 full marks, 1 not full marks (also when the student's script
stopped with an error: the checks still grade what it built), 2 a bad
exercise, a usage error or an error in checks.star.`

// exercise is a classroom exercise: a task, a starting script, hidden
// checks and, optionally, a solution.
type exercise struct {
	name     string // file or directory name, without .txtar
	title    string // first line of the archive's comment
	files    map[string][]byte
	checksAt string // where checks.star is, for positions
}

// exerciseFiles are the parts of an exercise, and whether each is required.
var exerciseFiles = []struct {
	name     string
	required bool
}{{"task.md", true}, {"start.star", true}, {"checks.star", true}, {"solution.star", false}}

// loadExercise reads an exercise from a .txtar archive or a directory.
func loadExercise(path string) (*exercise, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, unwrapPathErr(err, path)
	}
	ex := &exercise{files: map[string][]byte{}}
	if fi.IsDir() {
		ex.name = filepath.Base(filepath.Clean(path))
		for _, f := range exerciseFiles {
			b, err := os.ReadFile(filepath.Join(path, f.name))
			if err == nil {
				ex.files[f.name] = b
			} else if !errors.Is(err, os.ErrNotExist) {
				return nil, err
			}
		}
		if t, ok := ex.files["task.md"]; ok {
			ex.title = firstLine(strings.TrimLeft(string(t), "# "))
		}
		ex.checksAt = filepath.Join(path, "checks.star")
	} else {
		ar, err := txtar.ParseFile(path)
		if err != nil {
			return nil, err
		}
		ex.name = strings.TrimSuffix(filepath.Base(path), ".txtar")
		known := map[string]bool{}
		for _, f := range exerciseFiles {
			known[f.name] = true
		}
		for _, f := range ar.Files {
			if !known[f.Name] {
				return nil, fmt.Errorf("%s: unknown file %q in exercise (want task.md, start.star, checks.star, solution.star)", path, f.Name)
			}
			if _, dup := ex.files[f.Name]; dup {
				return nil, fmt.Errorf("%s: %s appears twice", path, f.Name)
			}
			ex.files[f.Name] = f.Data
		}
		ex.title = firstLine(strings.TrimLeft(string(ar.Comment), "# "))
		ex.checksAt = path + ":checks.star"
	}
	for _, f := range exerciseFiles {
		if _, ok := ex.files[f.name]; f.required && !ok {
			return nil, fmt.Errorf("%s: exercise has no %s", path, f.name)
		}
	}
	if ex.title == "" {
		ex.title = ex.name
	}
	return ex, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(s)
}

func cmdCheck(env *Env, args []string) int {
	fs := newFlags(env, "check", "[flags] EXERCISE STUDENT.star", checkAbout)
	task := fs.Bool("task", false, "print the task and the starting script of EXERCISE, and exit")
	handout := fs.String("handout", "", "write task.md and start.star of EXERCISE into `DIR`, and exit")
	timeout := fs.Duration("timeout", 2*time.Minute, "stop the student's script after this `duration`")
	verbose := fs.Bool("v", false, "also print the checks' own expectation lines")
	if code, done := parseFlags(env, fs, args); done {
		return code
	}
	want := 2
	if *task || *handout != "" {
		want = 1
	}
	if fs.NArg() != want {
		fmt.Fprintln(env.Stderr, "nsscript check: want an exercise and a student's script (nsscript check EXERCISE STUDENT.star)")
		return ExitError
	}
	ex, err := loadExercise(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript check: %v\n", err)
		return ExitError
	}
	if *task {
		fmt.Fprintf(env.Stdout, "%s\n-- start.star --\n%s", ex.files["task.md"], ex.files["start.star"])
		return ExitOK
	}
	if *handout != "" {
		if err := writeHandout(*handout, ex); err != nil {
			fmt.Fprintf(env.Stderr, "nsscript check: %v\n", err)
			return ExitError
		}
		return ExitOK
	}
	student := fs.Arg(1)
	if _, err := os.Stat(student); err != nil {
		fmt.Fprintf(env.Stderr, "nsscript check: %v\n", unwrapPathErr(err, student))
		return ExitError
	}
	if code, done := enterSandbox(env, "check", args, nil); done {
		return code
	}
	l, err := lab.New(lab.Options{})
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript check: %v\n", err)
		return ExitError
	}
	defer l.Close()
	return grade(env, l, ex, student, *timeout, *verbose)
}

func writeHandout(dir string, ex *exercise) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, name := range []string{"task.md", "start.star"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%s exists; not overwriting it", p)
		}
		if err := os.WriteFile(p, ex.files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// checkResult is the outcome of one check(title, fn).
type checkResult struct {
	title  string
	points int
	ok     bool
	detail string
}

// grade runs the student's script, then the exercise's checks, in lab l and
// prints the report.
func grade(env *Env, l *lab.Lab, ex *exercise, student string, timeout time.Duration, verbose bool) int {
	// The student's script: output as with nsscript run.
	ctx, cancel := context.WithTimeoutCause(context.Background(), timeout, fmt.Errorf("timeout: the script ran longer than %s", timeout))
	defer cancel()
	sr := builtins.NewRun(ctx, l, env.Stdout)
	defer sr.Close() // servers the student started stay up for the checks
	sr.Color = detectTerm(env).color
	_, err := lang.Exec(ctx, lang.Options{Filename: student, Predeclared: builtins.Predeclared(sr),
		Print: sr.Print, SetupThread: sr.SetupThread})
	sr.Flush()
	studentErr := err != nil
	if err != nil {
		fmt.Fprintln(env.Stdout, lang.Wrap(err).Error())
	}
	sr.Finish()

	// The checks, in the same lab, with output of their own.
	var out io.Writer = io.Discard
	if verbose {
		out = &prefixWriter{w: env.Stdout, prefix: "  | "}
	}
	cr := builtins.NewRun(context.Background(), l, out)
	defer cr.Close()
	var results []*checkResult
	pre := builtins.Predeclared(cr)
	pre["check"] = starlark.NewBuiltin("check", func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		res, err := runCheck(t, b, args, kwargs, cr)
		if err != nil {
			return nil, err
		}
		results = append(results, res)
		return starlark.None, nil
	})
	pre["lab"] = labValue(l)
	fmt.Fprintf(env.Stdout, "\nchecks of %s: %s\n", ex.name, ex.title)
	_, err = lang.Exec(context.Background(), lang.Options{Filename: ex.checksAt, Src: ex.files["checks.star"],
		Predeclared: pre, Print: cr.Print, SetupThread: cr.SetupThread})
	cr.Flush()
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript check: error in the exercise's checks: %s\n", lang.Wrap(err).Error())
		return ExitError
	}
	if len(results) == 0 {
		fmt.Fprintln(env.Stderr, "nsscript check: the exercise's checks.star defines no check(...)")
		return ExitError
	}
	got, total := 0, 0
	okWord, failWord := "ok  ", "FAIL"
	if sr.Color {
		okWord, failWord = "\x1b[32mok\x1b[0m  ", "\x1b[1;31mFAIL\x1b[0m"
	}
	for _, r := range results {
		total += r.points
		if r.ok {
			got += r.points
			fmt.Fprintf(env.Stdout, "%s [%d/%d] %s\n", okWord, r.points, r.points, r.title)
		} else {
			fmt.Fprintf(env.Stdout, "%s [0/%d] %s: %s\n", failWord, r.points, r.title, r.detail)
		}
	}
	if studentErr {
		fmt.Fprintln(env.Stdout, "(the script stopped with an error; the checks graded what it built)")
	}
	fmt.Fprintf(env.Stdout, "score: %d/%d\n", got, total)
	if got < total || studentErr {
		return ExitFail
	}
	return ExitOK
}

// runCheck implements check(title, fn, points=1): it calls fn and judges
// it by its error and by the expectations it made.
func runCheck(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple, cr *builtins.Run) (*checkResult, error) {
	var (
		title  string
		fn     starlark.Callable
		points = 1
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "title", &title, "fn", &fn, "points?", &points); err != nil {
		return nil, err
	}
	if points < 0 {
		return nil, fmt.Errorf("%s: points must not be negative", b.Name())
	}
	cr.Flush()
	before := len(cr.Results())
	_, err := starlark.Call(t, fn, nil, nil)
	cr.Flush()
	res := &checkResult{title: title, points: points, ok: err == nil}
	if err != nil {
		res.detail = checkFailure(err)
	}
	for _, e := range cr.Results()[before:] {
		if !e.OK && res.ok {
			res.ok = false
			res.detail = fmt.Sprintf("%s: %s: %s", e.Builtin, e.What, e.Detail)
		}
	}
	return res, nil
}

// checkFailure is the message of an error in a check's function, without
// the check file's position (the checks are hidden) and without fail's
// own prefix.
func checkFailure(err error) string {
	var ee *starlark.EvalError
	msg := err.Error()
	if errors.As(err, &ee) {
		msg = ee.Msg
	}
	msg = strings.TrimPrefix(msg, "fail: ")
	return firstLine(msg)
}

// labValue is the checks' view of the student's lab: lab.netns(name)
// returns a namespace the student made (failing the check with the list of
// names when there is none), lab.namespaces lists their names.
func labValue(l *lab.Lab) starlark.Value {
	var names []starlark.Value
	for _, n := range l.Namespaces() {
		names = append(names, starlark.String(n.Name))
	}
	get := starlark.NewBuiltin("netns", func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var name string
		if err := starlark.UnpackPositionalArgs("lab.netns", args, kwargs, 1, &name); err != nil {
			return nil, err
		}
		n := l.Lookup(name)
		if n == nil {
			var have []string
			for _, n := range l.Namespaces() {
				have = append(have, n.Name)
			}
			sort.Strings(have)
			return nil, fmt.Errorf("there is no namespace %q (the lab has: %s)", name, strings.Join(have, ", "))
		}
		return builtins.NetnsValue(n), nil
	})
	return starlarkstruct.FromStringDict(starlark.String("lab"), starlark.StringDict{
		"netns":      get,
		"namespaces": starlark.NewList(names),
	})
}

// prefixWriter writes each line with a prefix (for -v).
type prefixWriter struct {
	w      io.Writer
	prefix string
	mid    bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line == "" {
			continue
		}
		if !p.mid {
			io.WriteString(p.w, p.prefix)
		}
		io.WriteString(p.w, line)
		p.mid = !strings.HasSuffix(line, "\n")
	}
	return len(b), nil
}
