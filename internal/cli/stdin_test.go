package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsscript/nsscript/builtins"
	"github.com/nsscript/nsscript/internal/testenv"
)

// TestRunStdin: nsscript run - reads the script from standard input;
// positions say <stdin>, and load() is relative to the working directory.
func TestRunStdin(t *testing.T) {
	testenv.NeedNamespaces(t)
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "lib.star"), []byte("greeting = \"hi from lib\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := "load(\"lib.star\", \"greeting\")\nprint(greeting)\na = netns(\"a\")\nexpect(True, \"fine\")\nnetns(42)\n"
	cmd := nsscript(t, dir, "run", "-")
	cmd.Stdin = strings.NewReader(src)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != ExitError {
		t.Errorf("exit %d, want %d", code, ExitError)
	}
	if !strings.Contains(o.String(), "hi from lib\n") || !strings.Contains(o.String(), "ok   <stdin>:4:1:") {
		t.Errorf("stdout:\n%s", o.String())
	}
	if want := "<stdin>:5:1: netns: for parameter name: got int, want string\n"; e.String() != want {
		t.Errorf("stderr %q, want %q", e.String(), want)
	}
}

// TestDocPrefix: nsscript doc NAME shows every builtin whose name starts
// with NAME; doc expect lists expect and every expect_*.
func TestDocPrefix(t *testing.T) {
	out, errOut, code := runNsscript(t, t.TempDir(), "doc", "expect")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	n := 0
	for _, x := range builtins.Table {
		if strings.HasPrefix(x.Name, "expect") {
			n++
			if !strings.Contains(out, "\n"+x.Sig+"\n") && !strings.HasPrefix(out, x.Sig+"\n") {
				t.Errorf("doc expect lacks %s", x.Sig)
			}
		}
	}
	if n < 5 {
		t.Errorf("only %d expect builtins in the table", n)
	}
	if out, _, code := runNsscript(t, t.TempDir(), "doc", "link.addr"); code != ExitOK || !strings.HasPrefix(out, "link.addr(") {
		t.Errorf("doc link.addr: exit %d:\n%s", code, out)
	}
	if _, errOut, code := runNsscript(t, t.TempDir(), "doc", "nosuch"); code != ExitError || !strings.Contains(errOut, `no builtin "nosuch"`) {
		t.Errorf("doc nosuch: exit %d: %s", code, errOut)
	}
}
