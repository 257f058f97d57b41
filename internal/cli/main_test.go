package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	// As in cmd/nsscript, the sandboxed child of a run starts from the
	// package inits, and a plain run never goes further in the parent:
	// the tests run nsscript as users do.
	_ "github.com/nsscript/nsscript/internal/sandbox/early"
	"github.com/nsscript/nsscript/internal/testenv"
)

// mainEnv makes the test binary act as nsscript (see TestMain); the sandbox
// re-executes /proc/self/exe with the same environment, so the child does too.
const mainEnv = "NSSCRIPT_CLI_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(subreaperEnv) == "1" {
		os.Exit(subreaperMain())
	}
	if os.Getenv(mainEnv) == "1" {
		os.Exit(Main())
	}
	os.Exit(m.Run())
}

// nsscript returns a command that runs this test binary as nsscript.
func nsscript(t testing.TB, dir string, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Args[0] = "nsscript"
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), mainEnv+"=1")
	return cmd
}

// runNsscript runs nsscript and returns stdout, stderr and the exit code.
func runNsscript(t testing.TB, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := nsscript(t, dir, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Fatalf("nsscript %s: %v", strings.Join(args, " "), err)
	}
	return o.String(), e.String(), code
}

// writeScript writes a script into a fresh directory and returns its path.
func writeScript(t testing.TB, name, src string) (dir string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.WriteFile(dir+"/"+name, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// nobodyCopy makes a directory user nobody can read, holding a copy of this
// test binary named bin and the given files (name -> contents), and returns
// the directory and the copy's path. It is removed when t ends.
func nobodyCopy(t *testing.T, bin string, files map[string][]byte) (dir, exe string) {
	t.Helper()
	// A link where it can be: a copy written here could not be executed
	// while a child that a parallel test forked still held it open
	// ("text file busy").
	exe = testenv.ExecutableCopy(t, bin)
	dir = filepath.Dir(exe)
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, exe
}

// asNobody returns a command that runs exe (from nobodyCopy) as nsscript,
// as user nobody, in dir, with a bare environment whose PATH is path.
func asNobody(exe, dir, path string, args ...string) *exec.Cmd {
	cmd := exec.Command(exe, args...)
	cmd.Args[0] = "nsscript"
	cmd.Dir = dir
	cmd.Env = []string{mainEnv + "=1", "PATH=" + path, "HOME=/nonexistent"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	return cmd
}
