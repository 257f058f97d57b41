package nsutil_test

import (
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

// TestNewHandle opens a handle in a fresh namespace: it sees that
// namespace's links (loopback only), and no thread of the caller moved.
func TestNewHandle(t *testing.T) {
	testenv.NeedNamespaces(t)
	testenv.NeedRoot(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := threadNetns(t)
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
