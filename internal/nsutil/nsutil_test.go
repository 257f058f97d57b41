package nsutil_test

import (
	"errors"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/nsutil"
	"github.com/nsscript/nsscript/internal/testenv"
)

// threadNetns returns the inode of the calling thread's network namespace.
func threadNetns(t *testing.T) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// lockThread skips a test that cannot make namespaces, locks the test's
// goroutine to its thread for the rest of the test and returns the
// thread's network namespace.
func lockThread(t *testing.T) uint64 {
	testenv.NeedNamespaces(t)
	testenv.NeedRoot(t)
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
	return threadNetns(t)
}

// TestNewHandle opens a handle in a fresh namespace: it sees that
// namespace's links (loopback only), and no thread of the caller moved.
func TestNewHandle(t *testing.T) {
	before := lockThread(t)
	fd, err := nsutil.New()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	h, err := nsutil.NewHandle(fd)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != 1 || links[0].Attrs().Name != "lo" {
		t.Errorf("links seen through the handle: %d (want lo alone)", len(links))
	}
	if after := threadNetns(t); after != before {
		t.Errorf("the calling thread moved from netns %d to %d", before, after)
	}
}

// NewWith runs its setup inside the namespace it made, on a thread that
// is back in the caller's namespace afterwards; a setup that fails makes
// NewWith fail with its error and no descriptor.
func TestNewWith(t *testing.T) {
	before := lockThread(t)
	var inside uint64
	fd, err := nsutil.NewWith(func() error {
		inside = threadNetns(t)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	if inside != st.Ino || inside == before {
		t.Errorf("setup ran in netns %d; the new one is %d, the caller's %d", inside, st.Ino, before)
	}
	failed := errors.New("setup failed")
	if fd, err := nsutil.NewWith(func() error { return failed }); err != failed || fd != -1 {
		t.Errorf("failing setup: fd %d, error %v", fd, err)
	}
	if after := threadNetns(t); after != before {
		t.Errorf("the calling thread moved from netns %d to %d", before, after)
	}
}

// TestOpenFIFO opens a named pipe as a namespace (netns(path=...) in a
// script, a journal's namespace in nsscript clean): refused at once, not
// blocked until something writes to it.
func TestOpenFIFO(t *testing.T) {
	p := t.TempDir() + "/pipe"
	if err := unix.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if fd, err := nsutil.Open(p); err == nil {
		unix.Close(fd)
		t.Fatal("a named pipe opened as a network namespace")
	}
}
