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
	testenv.NeedNamespaces(t)
	testenv.NeedRoot(t)
	l, err := lab.New(lab.Options{FreshHost: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return runIn(t, l, src)
}

func runIn(t *testing.T, l *lab.Lab, src string) (string, error) {
	t.Helper()
	var out strings.Builder
	r := NewRun(context.Background(), l, &out)
	_, err := lang.Exec(context.Background(), lang.Options{
		Filename:    "lab.star",
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
