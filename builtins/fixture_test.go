package builtins

import (
	"context"
	"strings"
	"testing"

	"github.com/nsscript/nsscript/internal/lab"
	"github.com/nsscript/nsscript/internal/testenv"
	"github.com/nsscript/nsscript/lang"
)

// runScript runs src as lab.star against a lab whose host is a fresh
// namespace and returns the output (expectation lines, prints and the
// summary) and the script error, if any.
func runScript(t *testing.T, src string) (string, error) {
	t.Helper()
	l := newLab(t, lab.Options{})
	defer l.Close()
	return runIn(t, l, src)
}

// newLab skips the test where namespaces cannot be made, and returns a lab
// with opts whose host is a fresh namespace. The caller closes it.
func newLab(t *testing.T, opts lab.Options) *lab.Lab {
	t.Helper()
	testenv.NeedNamespaces(t)
	testenv.NeedRoot(t)
	opts.FreshHost = true
	l, err := lab.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// runIn runs src as lab.star in lab l, as runScript does.
func runIn(t *testing.T, l *lab.Lab, src string) (string, error) {
	t.Helper()
	return runFile(t, l, "lab.star", src)
}

// runFile runs src as file in lab l and closes the run (stopping its
// programs and servers) before it returns.
func runFile(t *testing.T, l *lab.Lab, file, src string) (string, error) {
	t.Helper()
	var out strings.Builder
	r := NewRun(context.Background(), l, &out)
	defer r.Close()
	_, err := lang.Exec(context.Background(), lang.Options{
		Filename:    file,
		Src:         []byte(src),
		Predeclared: Predeclared(r),
		Print:       r.Print,
		SetupThread: r.SetupThread,
	})
	r.Flush()
	if err == nil {
		r.Finish()
	}
	return out.String(), err
}

// wantLines checks that every line of want occurs in got, in order.
func wantLines(t *testing.T, got string, want ...string) {
	t.Helper()
	rest := got
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("output lacks %q (in order); output:\n%s", w, got)
		}
		rest = rest[i+len(w):]
	}
}

// wantError checks that script src failed with a one-line error that
// contains want.
func wantError(t *testing.T, src string, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%q:\n got %v\nwant %s", src, err, want)
		return
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("%q: multi-line error %q", src, err)
	}
}

// wantErrors runs each script with run (runPlan for argument errors, which
// need no privileges; runScript for what only the kernel can refuse) and
// checks its error with wantError.
func wantErrors(t *testing.T, run func(*testing.T, string) (string, error), cases []struct{ src, want string }) {
	t.Helper()
	for _, tc := range cases {
		_, err := run(t, tc.src)
		wantError(t, tc.src, err, tc.want)
	}
}

// runPlan runs src as lab.star against a plan-mode lab, which records
// steps without touching the kernel: argument checks need no privileges.
func runPlan(t *testing.T, src string) (string, error) {
	t.Helper()
	l, err := lab.New(lab.Options{Plan: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return runIn(t, l, src)
}
