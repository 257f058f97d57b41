package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSpecialFileInputs gives nsscript a script, or a load() target, that
// is not a regular file: a named pipe would block the run forever (nothing
// writes to it), /dev/zero never ends. Each is refused at once with one
// line, with the script position for load(), and exit status 2. The
// commands used need no privileges: a bad script fails before the sandbox,
// and explain runs the script in plan mode.
func TestSpecialFileInputs(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mkfifo(filepath.Join(dir, "pipe.star"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "dir.star"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("loadpipe.star", "x = 1\nload(\"pipe.star\", \"y\")\n")
	write("loaddir.star", "load(\"dir.star\", \"y\")\n")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "pipe.star"}, "nsscript run: pipe.star: not a regular file (a named pipe)"},
		{[]string{"run", "/dev/zero"}, "nsscript run: /dev/zero: not a regular file (a device)"},
		{[]string{"run", "dir.star"}, "nsscript run: dir.star: not a regular file (a directory)"},
		{[]string{"explain", "pipe.star"}, "pipe.star: not a regular file (a named pipe)"},
		{[]string{"fmt", "pipe.star"}, "nsscript fmt: pipe.star: not a regular file (a named pipe)"},
		{[]string{"explain", "loadpipe.star"}, "loadpipe.star:2:1: cannot load pipe.star: " + filepath.Join(dir, "pipe.star") + ": not a regular file (a named pipe)"},
		{[]string{"explain", "loaddir.star"}, "loaddir.star:1:1: cannot load dir.star: " + filepath.Join(dir, "dir.star") + ": not a regular file (a directory)"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			out, errOut, code := runNsscript(t, dir, c.args...)
			if code != ExitError || out != "" {
				t.Errorf("exit %d, stdout %q; want 2 and nothing", code, out)
			}
			if lines := strings.Split(strings.TrimSpace(errOut), "\n"); len(lines) != 1 || !strings.HasSuffix(lines[0], c.want) {
				t.Errorf("stderr %q, want one line ending in %q", errOut, c.want)
			}
		})
	}
}
