package lang

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"
	"golang.org/x/sys/unix"
)

func write(t *testing.T, dir, name, src string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func exec(t *testing.T, file string, o Options) (starlark.StringDict, error) {
	t.Helper()
	o.Filename = file
	return Exec(context.Background(), o)
}

func TestLoadSibling(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "lib/common.star", `def double(x):
    return 2 * x
`)
	main := write(t, dir, "main.star", `load("lib/common.star", "double")
y = double(21)
`)
	g, err := exec(t, main, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if g["y"].String() != "42" {
		t.Errorf("y = %v", g["y"])
	}
}

func TestLoadConfined(t *testing.T) {
	root := t.TempDir()
	write(t, root, "outside.star", "x = 1\n")
	dir := filepath.Join(root, "lab")
	for _, tc := range []struct{ mod, want string }{
		{"../outside.star", `is outside the script's directory`},
		{"/etc/passwd", `only paths relative to the script are allowed`},
		{"missing.star", `missing.star: no such file or directory`},
	} {
		main := write(t, dir, "main.star", "load(\""+tc.mod+"\", \"x\")\n")
		_, err := exec(t, main, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), main+":1:1: ") {
			t.Errorf("load(%q): %v", tc.mod, err)
		}
	}
	// A symlink that points out of the tree is refused too.
	if err := os.Symlink(filepath.Join(root, "outside.star"), filepath.Join(dir, "link.star")); err != nil {
		t.Fatal(err)
	}
	main := write(t, dir, "main.star", "load(\"link.star\", \"x\")\n")
	if _, err := exec(t, main, Options{}); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("symlink escape: %v", err)
	}
}

func TestLoadCycle(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.star", "load(\"b.star\", \"y\")\nx = 1\n")
	write(t, dir, "b.star", "load(\"a.star\", \"x\")\ny = 1\n")
	_, err := exec(t, filepath.Join(dir, "a.star"), Options{})
	if err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle: %v", err)
	}
}

func TestErrorsAreOneLineWithPosition(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ src, want string }{
		{"x = (\n", "lab.star:2:1: syntax error: "},
		{"print(y)\n", "lab.star:1:7: undefined: y"},
		{"def f(n):\n    return f(n)\nf(1)\n", "lab.star:2:12: function f called recursively"},
		{"x = 1 + \"a\"\n", `lab.star:1:7: unknown binary op: int + string`},
		{"x = [1][5]\n", "lab.star:1:8: index 5 out of range: index 5 out of range"},
	} {
		p := write(t, dir, "lab.star", tc.src)
		_, err := exec(t, p, Options{})
		if err == nil {
			t.Errorf("%q: no error", tc.src)
			continue
		}
		msg := strings.TrimPrefix(err.Error(), dir+"/")
		if !strings.HasPrefix(msg, tc.want[:strings.Index(tc.want, " ")]) || strings.Contains(msg, "\n") {
			t.Errorf("%q:\n got %q\nwant prefix %q", tc.src, msg, tc.want)
		}
	}
}

func TestStepLimitAndCancel(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "loop.star", "while True:\n    pass\n")
	_, err := exec(t, p, Options{MaxSteps: 1000})
	if err == nil || !strings.Contains(err.Error(), "too many steps") {
		t.Errorf("step limit: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	// An endless loop without a step limit: only the cancellation ends it.
	_, err = Exec(ctx, Options{Filename: p})
	if err == nil || !strings.Contains(err.Error(), "cancelled") {
		t.Errorf("cancel: %v", err)
	}
}

// TestNothingRunsAfterCancel: a builtin that returns into a cancelled run
// ends the script at its line; the next line never runs, whenever the
// thread's own cancellation lands.
func TestNothingRunsAfterCancel(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	block := starlark.NewBuiltin("block", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
		cancel(errors.New("timeout: run stopped after 2s (--timeout)"))
		return starlark.String("cut short"), nil
	})
	var printed []string
	_, err := Exec(ctx, Options{
		Filename:    "lab.star",
		Src:         []byte("r = block()\nprint(r)\n"),
		Predeclared: starlark.StringDict{"block": block},
		Print:       func(_ *starlark.Thread, msg string) { printed = append(printed, msg) },
	})
	if len(printed) > 0 {
		t.Errorf("the script went on after the run was cancelled: printed %q", printed)
	}
	if err == nil || err.Error() != "lab.star:1:5: timeout: run stopped after 2s (--timeout)" {
		t.Errorf("error = %v, want the cancellation at the builtin's line", err)
	}
}

// TestLoadFIFO loads a named pipe: it is refused with the load's position
// instead of blocking the run until something writes to it.
func TestLoadFIFO(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mkfifo(filepath.Join(dir, "pipe.star"), 0o644); err != nil {
		t.Fatal(err)
	}
	main := write(t, dir, "main.star", "x = 1\nload(\"pipe.star\", \"y\")\n")
	_, err := exec(t, main, Options{})
	want := main + ":2:1: cannot load pipe.star: " + filepath.Join(dir, "pipe.star") + ": not a regular file (a named pipe)"
	if err == nil || err.Error() != want {
		t.Fatalf("load of a named pipe: %v", err)
	}
	if _, err := exec(t, filepath.Join(dir, "pipe.star"), Options{}); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("a named pipe as the script: %v, want ErrNotRegular", err)
	}
}

// TestReservedWordHint: from and in are reserved words, which the builtins
// take as from_ and in_; the syntax error says so.
func TestReservedWordHint(t *testing.T) {
	dir := t.TempDir()
	for src, want := range map[string]string{
		"rule(n, from = 1)\n":   "lab.star:1:9: syntax error: got from, want primary expression (from is reserved in Starlark: as an argument name write from_)",
		"firewall(n, in = 1)\n": "lab.star:1:13: syntax error: got in, want primary expression (in is reserved in Starlark: as an argument name write in_)",
		"x = (\n":               "lab.star:2:1: syntax error: got end of file, want primary expression",
	} {
		_, err := exec(t, write(t, dir, "lab.star", src), Options{})
		if got := strings.TrimPrefix(fmt.Sprint(err), dir+"/"); got != want {
			t.Errorf("%q:\n got %q\nwant %q", src, got, want)
		}
	}
}
