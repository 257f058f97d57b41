// Package hostlock is the lock that tests changing the real host take
// against tests that compare the host's state before and after a run. It
// depends on nothing of the project, so that every package's tests can take
// it (testenv.LockHost is the same lock).
package hostlock

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// hostLockPath is shared by every test process of this module on a machine.
var hostLockPath = filepath.Join(os.TempDir(), "nsscript-tests-host.lock")

// Lock serialises tests that change the real host (--host mode) with
// tests that compare the real host's state before and after a run: go test
// runs packages in parallel processes, and a snapshot taken while another
// package's --host test has its links up would report a leak that is not
// one. Observers take the lock shared, changers exclusive; it is released
// when the test ends.
//
// The lock file is shared by every user: root and unprivileged test runs
// take the same lock, whoever made the file (flock needs only read access).
func Lock(t testing.TB, exclusive bool) {
	t.Helper()
	f, err := openLockFile(hostLockPath)
	if err != nil {
		t.Fatalf("host lock: %v", err)
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	if err := unix.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		t.Fatalf("host lock: %v", err)
	}
	t.Cleanup(func() { f.Close() })
}

// openLockFile opens path for flock, creating it readable and writable by
// every user (whatever the umask) if it does not exist yet.
func openLockFile(path string) (*os.File, error) {
	for {
		f, err := os.Open(path)
		if !errors.Is(err, os.ErrNotExist) {
			return f, err
		}
		f, err = os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o666)
		if errors.Is(err, os.ErrExist) {
			continue // another test process made it meanwhile
		}
		if err != nil {
			return nil, err
		}
		if err := f.Chmod(0o666); err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	}
}
