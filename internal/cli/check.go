package cli

import (
	"fmt"
	"os"
	"time"

	"github.com/nsscript/nsscript/internal/exercise"
	"github.com/nsscript/nsscript/internal/lab"
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
  nsscript check --lab ID EXERCISE        grade a paused lab as it is now

With --lab, the checks grade the live state of a lab that nsscript run
--pause keeps alive (typically the exercise's start.star, built or repaired
by hand with ip in nsscript shell): they run inside that lab, which first
reads back what was changed by hand; what the checks build to test
behaviour is removed afterwards, so grading can be repeated.

Exit status: 0 full marks, 1 not full marks (also when the student's script
stopped with an error: the checks still grade what it built), 2 a bad
exercise, a usage error or an error in checks.star.`

func cmdCheck(env *Env, args []string) int {
	fs := newFlags(env, "check", "[flags] EXERCISE STUDENT.star", checkAbout)
	task := fs.Bool("task", false, "print the task and the starting script of EXERCISE, and exit")
	handout := fs.String("handout", "", "write task.md and start.star of EXERCISE into `DIR`, and exit")
	timeout := fs.Duration("timeout", 2*time.Minute, "stop the student's script after this `duration`")
	verbose := fs.Bool("v", false, "also print the checks' own expectation lines")
	live := fs.String("lab", "", "grade the paused lab `ID` as it is now (nsscript ps lists them), not a script")
	if code, done := parseFlags(env, fs, args); done {
		return code
	}
	want := 2
	if *task || *handout != "" || *live != "" {
		want = 1
	}
	if fs.NArg() != want {
		if *live != "" {
			fmt.Fprintln(env.Stderr, "nsscript check: want one exercise (nsscript check --lab ID EXERCISE)")
			return ExitError
		}
		fmt.Fprintln(env.Stderr, "nsscript check: want an exercise and a student's script (nsscript check EXERCISE STUDENT.star)")
		return ExitError
	}
	ex, err := exercise.Load(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript check: %v\n", err)
		return ExitError
	}
	if *task {
		fmt.Fprintf(env.Stdout, "%s\n-- start.star --\n%s", ex.Files["task.md"], ex.Files["start.star"])
		return ExitOK
	}
	if *handout != "" {
		if err := ex.WriteHandout(*handout); err != nil {
			fmt.Fprintf(env.Stderr, "nsscript check: %v\n", err)
			return ExitError
		}
		return ExitOK
	}
	if *live != "" {
		return checkLab(env, *live, ex, *verbose)
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

// grade runs the student's script, then the exercise's checks, in lab l and
// prints the report.
func grade(env *Env, l *lab.Lab, ex *exercise.Exercise, student string, timeout time.Duration, verbose bool) int {
	color := detectTerm(env).color
	res, err := exercise.Grade(l, ex, student, exercise.Options{Out: env.Stdout, Verbose: verbose, Timeout: timeout, Color: color})
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript check: %v\n", err)
		return ExitError
	}
	return report(env, res, color)
}

// report prints one line per check and the score, and returns the exit
// status: 0 for full marks.
func report(env *Env, res *exercise.Result, color bool) int {
	got, total := 0, 0
	okWord, failWord := "ok  ", "FAIL"
	if color {
		okWord, failWord = "\x1b[32mok\x1b[0m  ", "\x1b[1;31mFAIL\x1b[0m"
	}
	for _, c := range res.Checks {
		total += c.Points
		if c.OK {
			got += c.Points
			fmt.Fprintf(env.Stdout, "%s [%d/%d] %s\n", okWord, c.Points, c.Points, c.Title)
		} else {
			fmt.Fprintf(env.Stdout, "%s [0/%d] %s: %s\n", failWord, c.Points, c.Title, c.Detail)
		}
	}
	if res.StudentErr {
		fmt.Fprintln(env.Stdout, "(the script stopped with an error; the checks graded what it built)")
	}
	fmt.Fprintf(env.Stdout, "score: %d/%d\n", got, total)
	if got < total || res.StudentErr {
		return ExitFail
	}
	return ExitOK
}
