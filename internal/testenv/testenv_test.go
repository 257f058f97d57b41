package testenv

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// childEnv makes this test binary take the host lock and exit (the child
// side of TestLockHostAnyUser).
const childEnv = "NSSCRIPT_TESTENV_LOCK_CHILD"

// TestLockHostAnyUser: after a root run made the lock file, an unprivileged
// test process takes the lock too. (Shared: an exclusive lock would wait for
// every other test process of the machine that observes the host.)
func TestLockHostAnyUser(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		LockHost(t, false)
		return
	}
	NeedRoot(t)
	// As a root test run does: the file exists, made by root.
	t.Run("root", func(t *testing.T) { LockHost(t, false) })
	dir, err := os.MkdirTemp("", "nsscript-testenv-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "testenv.test")
	if err := copyExe(bin); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run", "^TestLockHostAnyUser$", "-test.count=1")
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/bin:/bin", "TMPDIR=" + os.TempDir(), childEnv + "=1"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("LockHost as nobody after root: %v\n%s", err, out)
	}
}

func copyExe(to string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	src, err := os.Open(exe)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}
