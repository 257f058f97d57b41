// Package nsutil is the one place in nsscript that switches an OS thread's
// network namespace.
//
// A namespace switch applies to one OS thread, not to a goroutine. Every
// function here runs its work on a fresh goroutine locked to its thread and
// unlocks the thread only after the original namespace has been restored; if
// restoring fails, the goroutine exits with the thread still locked, and the Go
// runtime discards the thread instead of reusing it in the wrong namespace
// (the pattern of containernetworking's pkg/ns).
//
// Everything else in nsscript works through per-namespace netlink handles and
// sockets, which stay bound to the namespace they were opened in.
package nsutil

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// threadNetnsPath names the current thread's network namespace. It reads the
// thread's own entry, never /proc/self, which names the main thread's; and
// /proc/thread-self rather than /proc/PID/task/TID, because in the sandbox's
// PID namespace getpid and gettid number the thread as that namespace does,
// which a /proc of another PID namespace (the host's, where the kernel
// refused a fresh one) does not.
func threadNetnsPath() string { return "/proc/thread-self/ns/net" }

// Do runs fn on a thread whose network namespace is the one behind nsFD and
// returns fn's error. The calling goroutine's thread is never switched.
func Do(nsFD int, fn func() error) error {
	type result struct{ err error }
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open(threadNetnsPath(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{fmt.Errorf("open current netns: %w", err)}
			return
		}
		defer unix.Close(orig)
		if err := unix.Setns(nsFD, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- result{fmt.Errorf("enter netns: %w", err)}
			return
		}
		ferr := fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: the runtime kills it when this
			// goroutine exits, so no other goroutine runs in the wrong netns.
			done <- result{fmt.Errorf("restore netns: %w (after: %v)", err, ferr)}
			return
		}
		runtime.UnlockOSThread()
		done <- result{ferr}
	}()
	return (<-done).err
}

// New creates a network namespace and returns a file descriptor for it. The
// namespace lives as long as the descriptor (or anything inside it) does. The
// caller's thread stays in its namespace.
func New() (int, error) { return NewWith(nil) }

// NewWith is New that also runs setup, when not nil, on the thread that
// made the namespace while it is still inside: what setup opens (netlink
// and other sockets, files under /proc/sys/net) belongs to the new
// namespace, for the price of one switch. When setup fails, the namespace
// is closed and its error returned.
func NewWith(setup func() error) (int, error) {
	type result struct {
		fd  int
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open(threadNetnsPath(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{-1, fmt.Errorf("open current netns: %w", err)}
			return
		}
		defer unix.Close(orig)
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- result{-1, fmt.Errorf("unshare netns: %w", err)}
			return
		}
		fd, ferr := unix.Open(threadNetnsPath(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		var serr error
		if ferr == nil && setup != nil {
			serr = setup()
		}
		if ferr == nil && serr != nil {
			unix.Close(fd)
		}
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			// The thread stays locked (the runtime discards it); the new
			// namespace is of no use to the caller, who gets an error.
			if ferr == nil && serr == nil {
				unix.Close(fd)
			}
			done <- result{-1, fmt.Errorf("restore netns: %w", err)}
			return
		}
		runtime.UnlockOSThread()
		switch {
		case ferr != nil:
			done <- result{-1, fmt.Errorf("open new netns: %w", ferr)}
		case serr != nil:
			done <- result{-1, serr}
		default:
			done <- result{fd, nil}
		}
	}()
	r := <-done
	return r.fd, r.err
}

// NewHandle returns a netlink handle whose sockets (one per family given,
// NETLINK_ROUTE when none is) are opened inside the namespace behind nsFD,
// on a thread Do switches: the sockets stay in that namespace, so the
// handle's calls need no switch, from any goroutine. (netlink.NewHandleAt
// switches the calling thread itself and unlocks it even when switching
// back failed.)
func NewHandle(nsFD int, families ...int) (*netlink.Handle, error) {
	if len(families) == 0 {
		families = []int{unix.NETLINK_ROUTE}
	}
	var h *netlink.Handle
	err := Do(nsFD, func() error {
		var err error
		h, err = netlink.NewHandle(families...)
		return err
	})
	if err != nil {
		if h != nil {
			h.Close()
		}
		return nil, err
	}
	return h, nil
}

// Current returns a new file descriptor for the network namespace of the
// process's unswitched threads (the one nsscript started in).
func Current() (int, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	fd, err := unix.Open(threadNetnsPath(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open current netns: %w", err)
	}
	return fd, nil
}

// Open returns a file descriptor for the network namespace at path, which may
// be a bind mount such as /run/netns/NAME or a /proc/PID/ns/net entry. It
// opens without blocking: a named pipe at path is refused at once (as not
// a namespace) instead of waiting for a writer.
func Open(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return -1, err
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if st.Type != unix.NSFS_MAGIC && st.Type != unix.PROC_SUPER_MAGIC {
		unix.Close(fd)
		return -1, fmt.Errorf("%s is not a network namespace", path)
	}
	return fd, nil
}

// ioctls on namespace descriptors (linux/nsfs.h).
const (
	nsGetUserns = 0xb701 // _IO(0xb7, 0x1): the owning user namespace
	nsGetParent = 0xb702 // _IO(0xb7, 0x2): a user namespace's parent
)

// Owned reports whether the namespace behind nsFD belongs to this process's
// user namespace or to one below it: whether this process, or something it
// started, made it. Inside the sandbox, namespaces of the real host (or of
// anything else outside the sandbox) are not owned, and the kernel would not
// let this process enter them.
func Owned(nsFD int) (bool, error) {
	var self unix.Stat_t
	if err := unix.Stat("/proc/self/ns/user", &self); err != nil {
		return false, fmt.Errorf("read own user namespace: %w", err)
	}
	u, err := unix.IoctlRetInt(nsFD, nsGetUserns)
	if errors.Is(err, unix.EPERM) {
		return false, nil // its owner is outside this process's view
	}
	if err != nil {
		return false, fmt.Errorf("read owning user namespace: %w", err)
	}
	for {
		var st unix.Stat_t
		err := unix.Fstat(u, &st)
		if err == nil && st.Ino == self.Ino && st.Dev == self.Dev {
			unix.Close(u)
			return true, nil
		}
		// Going up from a namespace outside this one's subtree ends with
		// EPERM at the first ancestor this process cannot see.
		p, perr := unix.IoctlRetInt(u, nsGetParent)
		unix.Close(u)
		if err != nil {
			return false, fmt.Errorf("read owning user namespace: %w", err)
		}
		if perr != nil {
			return false, nil
		}
		u = p
	}
}

// LoopbackUp sets IFF_UP on lo in the calling thread's network namespace,
// with one ioctl: cheaper than a netlink request, whose 64 KiB receive
// buffer grows the calling goroutine's stack.
func LoopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}
