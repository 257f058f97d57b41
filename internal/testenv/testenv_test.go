package testenv

import (
	"os"
	"os/exec"
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
	bin := ExecutableCopy(t, "testenv.test")
	cmd := exec.Command(bin, "-test.run", "^TestLockHostAnyUser$", "-test.count=1")
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/bin:/bin", "TMPDIR=" + os.TempDir(), childEnv + "=1"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("LockHost as nobody after root: %v\n%s", err, out)
	}
}
