package lang

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestNULByte: Starlark's scanner ends a file at a NUL byte; a script or a
// loaded file with one is a positioned syntax error instead of a run that
// silently skips the rest.
func TestNULByte(t *testing.T) {
	dir := t.TempDir()
	main := write(t, dir, "main.star", "x = 1\ny = \"é\"  \x00\nfail(\"never\")\n")
	_, err := exec(t, main, Options{})
	want := main + ":2:10: syntax error: NUL byte"
	if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Errorf("got %v, want one line starting %q", err, want)
	}

	write(t, dir, "lib.star", "y = 2\x00\nfail(\"never\")\n")
	main = write(t, dir, "load.star", "load(\"lib.star\", \"y\")\n")
	_, err = exec(t, main, Options{})
	lib := filepath.Join(dir, "lib.star")
	if err == nil || !strings.HasPrefix(err.Error(), main+":1:1: ") || !strings.Contains(err.Error(), "lib.star:1:6: syntax error: NUL byte") {
		t.Errorf("got %v, want the load's position and lib.star:1:6 (%s)", err, lib)
	}
}
