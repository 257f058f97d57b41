// Package testenv holds helpers shared by nsscript's tests.
package testenv

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsscript/nsscript/internal/sandbox"
	"github.com/nsscript/nsscript/internal/testenv/hostlock"
)

// RequireEnv names the environment variable that turns "cannot create
// namespaces here, skipping" into a test failure (CI sets it).
const RequireEnv = "NSSCRIPT_REQUIRE_NAMESPACES"

// NeedNamespaces skips the test when this machine cannot create network
// namespaces (not root and no unprivileged user namespaces), or fails it
// when RequireEnv is set to 1.
func NeedNamespaces(t testing.TB) {
	t.Helper()
	if err := sandbox.Check(); err != nil {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("cannot create namespaces and %s=1: %v", RequireEnv, err)
		}
		t.Skipf("cannot create namespaces: %v", err)
	}
}

// NeedProgram skips the test when the program name is not on PATH, or
// fails it when RequireEnv is set to 1: CI installs every program a test
// needs, so a missing one there is a broken CI, not a reason to skip.
func NeedProgram(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("%s is not installed and %s=1 (.ci/run installs it)", name, RequireEnv)
		}
		t.Skipf("%s is not installed", name)
	}
}

// NeedRoot skips the test unless it runs as root.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// LockHost serialises tests that change the real host (--host mode) with
// tests that compare the real host's state before and after a run; see
// hostlock.Lock.
func LockHost(t testing.TB, exclusive bool) { t.Helper(); hostlock.Lock(t, exclusive) }

// ExecutableCopy copies the running test binary, as name, into a new
// directory every user may read and returns its path: a test run as root can
// then start it as an unprivileged user (go test's own build directories are
// private). The copy is removed when the test ends.
func ExecutableCopy(t testing.TB, name string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "nsscript-exe-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, name)
	if err := copyFile(exe, bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// copyFile makes to a hard link of from where it can, else a copy. A link
// is not only cheaper: a copy is written through a file descriptor that a
// program forked meanwhile by a parallel test holds open until it execs,
// and exec of the copy then fails with "text file busy" (ETXTBSY).
func copyFile(from, to string) error {
	if os.Link(from, to) == nil {
		return nil
	}
	src, err := os.Open(from)
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

// Context is the test's context, ended a little before the test's
// deadline: a test that waits for something that never comes reports what
// it saw instead of being killed by go test's timeout.
func Context(t *testing.T) context.Context {
	ctx := t.Context()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-15*time.Second))
		t.Cleanup(cancel)
	}
	return ctx
}

// LockedBuffer is a strings.Builder safe for a writer (a process's output
// copier) and a reader (the test).
type LockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

// Write appends p.
func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns what was written so far.
func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
