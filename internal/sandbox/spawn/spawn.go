// Package spawn starts the sandboxed child of nsscript (package sandbox
// describes the sandbox) and hands it, once the command has decided, its
// environment and descriptors.
//
// A child is started in two steps. Start forks and executes /proc/self/exe
// in new user, mount, network, PID and UTS namespaces with the command line
// and the environment the program started with, its standard descriptors and
// one end of a socket pair, the lifeline. Hand then sends the child, over the
// lifeline, the environment and the descriptors it is to run with; the child
// waits for them (Receive) before it reads any of them. The split lets the
// binary start its child from a package init function (Early, called by
// internal/sandbox/early), so that the child's start, which takes as long as
// the parent's own, runs while the parent initialises its packages and parses
// its flags, instead of after them.
//
// The package is light on purpose: it imports only packages that the
// program initialises among its first (os, syscall, strconv and what they
// need; not fmt, strings or x/sys/unix, which wait for others), because a
// package initialises only after everything it imports, and the earlier
// it does, the earlier the child starts.
package spawn

import (
	"errors"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"unsafe"
)

// EnvVar marks the sandboxed child: it is "1" in the environment of every
// child Start makes.
const EnvVar = "NSSCRIPT_SANDBOX"

// LifelineEnv names the descriptor of the child's end of the lifeline.
const LifelineEnv = "NSSCRIPT_SANDBOX_LIFELINE"

// MaxExtraFiles is how many descriptors besides the standard three a child
// can be handed. Start gives the child the lifeline as descriptor 3 and
// again as 4 to 3+MaxExtraFiles, so that nothing the child's runtime or
// packages open before Receive can take the numbers where Receive places
// the handed files (3 to 2+MaxExtraFiles).
const MaxExtraFiles = 4

// LifelineFD is where a child finds the lifeline until Receive moves it
// above the handed descriptors.
const LifelineFD = 3

// BeforeGo is true in a binary that starts the sandboxed child of a run
// before the Go runtime (package nsexec, built with cgo, sets it in its
// init), so that a run starts Go once; otherwise Early and Start start it
// from Go.
var BeforeGo bool

// Child is a sandboxed child that Start started.
type Child struct {
	args     []string
	env      []string
	rootless bool
	keep     *os.File // this process's end of the lifeline
	theirs   *os.File // the child's, until it was started

	started  chan struct{} // closed when the start is done (proc or err set)
	proc     *os.Process
	startErr error

	done    chan struct{} // closed when the child was waited for
	state   *os.ProcessState
	waitErr error

	handOnce sync.Once
}

// Start starts a child with argv args and environment env (to which it adds
// EnvVar=1 and LifelineEnv). It returns at once; the fork happens on a
// goroutine locked to its thread, which stays until the child has ended: the
// child gets SIGKILL when the thread that forked it exits (Pdeathsig), so
// that thread must live as long as the child. Started reports how the start
// went.
func Start(args, env []string) *Child {
	c := newChild(args, env)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if c.start() {
			c.wait()
		}
	}()
	return c
}

// startHere starts a child on the calling thread and returns when it was
// started; a goroutine waits for it. Only a thread that lives as long as the
// process may call it (see Start): Early's, the main thread, on which
// package initialisation runs.
func startHere(args, env []string) *Child {
	c := newChild(args, env)
	if c.start() {
		go c.wait()
	}
	return c
}

// newChild makes the lifeline and prepares the start of a child.
func newChild(args, env []string) *Child {
	c := &Child{args: args, env: env, rootless: NeedUserNS(), started: make(chan struct{}), done: make(chan struct{})}
	pair, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		c.startErr = &Error{"make the lifeline", err}
		return c
	}
	c.keep = os.NewFile(uintptr(pair[0]), "lifeline")
	c.theirs = os.NewFile(uintptr(pair[1]), "lifeline")
	return c
}

// start forks and executes the child; it reports whether the child runs.
// The child gets the standard descriptors, the lifeline, and the lifeline
// again in each reserved slot.
func (c *Child) start() bool {
	if c.startErr == nil {
		files := []*os.File{os.Stdin, os.Stdout, os.Stderr}
		for range 1 + MaxExtraFiles {
			files = append(files, c.theirs)
		}
		env := append(childEnv(c.env), LifelineEnv+"="+strconv.Itoa(LifelineFD))
		c.proc, c.startErr = os.StartProcess("/proc/self/exe", c.args, &os.ProcAttr{
			Env: env, Files: files, Sys: SysProcAttr(c.rootless),
		})
		c.theirs.Close()
		if c.startErr != nil {
			c.keep.Close()
		}
	}
	close(c.started)
	if c.startErr != nil {
		close(c.done)
		return false
	}
	return true
}

// wait waits for the child to end.
func (c *Child) wait() {
	c.state, c.waitErr = c.proc.Wait()
	close(c.done)
}

// Args returns the child's argv.
func (c *Child) Args() []string { return c.args }

// Rootless reports whether the child's user namespace maps an unprivileged
// caller (rather than root to itself).
func (c *Child) Rootless() bool { return c.rootless }

// Started waits until the child was started and returns the error that
// kept it from starting, if any.
func (c *Child) Started() error {
	<-c.started
	return c.startErr
}

// Lifeline returns this process's end of the lifeline: the child writes a
// byte to it once it handles signals, and sees end of file on its own end
// when this process is gone.
func (c *Child) Lifeline() *os.File { return c.keep }

// Done is closed once the child has ended and was waited for.
func (c *Child) Done() <-chan struct{} { return c.done }

// Wait returns how the child ended, once Done is closed.
func (c *Child) Wait() (*os.ProcessState, error) {
	<-c.done
	return c.state, c.waitErr
}

// Discard ends a child that will not be used: it closes the lifeline, which
// ends a child waiting in Receive, kills it and waits for it.
func (c *Child) Discard() {
	c.handOnce.Do(func() {})
	if c.Started() != nil {
		return
	}
	c.keep.Close()
	c.proc.Kill()
	<-c.done
}

// SysProcAttr returns the attributes that put a child into a new sandbox.
//
// The child always gets a user namespace of its own, so that the namespaces
// it makes belong to it and nothing else does: as root, the map is the
// identity over the whole range (daemons that switch to their own user, as
// FRR or dnsmasq do, keep working, and files keep their owners); rootless,
// only the caller's own uid and gid can be mapped: an unprivileged process
// may write a single line mapping its effective ids, and must deny setgroups
// first for the gid map (GidMappingsEnableSetgroups false). Wider ranges from
// /etc/subuid would need the setuid newuidmap helper, which nsscript does not
// run; inside, every other uid is the overflow uid.
func SysProcAttr(rootless bool) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWNET |
			syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS,
		// The kernel sends this when the thread that forked the child
		// exits; Start keeps that thread locked for the child's whole
		// life. It reaches the child although the child is init of its
		// PID namespace, because it comes from outside that namespace.
		// (Go's own check that the parent is still there compares
		// getppid, which is 0 in a new PID namespace: its SIGKILL to
		// itself is ignored, as by any init. The child watches the
		// lifeline instead.)
		Pdeathsig: syscall.SIGKILL,
		// A session of its own: a SIGSTOP or SIGKILL sent to the caller's
		// process group reaches the parent only. A child stopped before
		// it could ask for Pdeathsig (the parent writes its id maps
		// meanwhile) would otherwise stay stopped forever once the parent
		// was killed; as it is, it runs on and sees the lifeline closed.
		// Terminal signals (Ctrl-C) reach the parent, which forwards them.
		Setsid: true,
	}
	if rootless {
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
		attr.GidMappingsEnableSetgroups = false
	} else {
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: allIDs}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: allIDs}}
		attr.GidMappingsEnableSetgroups = true
	}
	return attr
}

// allIDs is the size of an identity map of every uid or gid (0 to 2^32-2).
const allIDs = 4294967295

// NeedUserNS reports whether this process is unprivileged: it is not root,
// or it is a root without CAP_SYS_ADMIN (as in some containers). Then the
// user namespace can map only the caller.
func NeedUserNS() bool {
	if os.Geteuid() != 0 {
		return true
	}
	// capget(2) with _LINUX_CAPABILITY_VERSION_3: a header, then two
	// sets of effective, permitted and inheritable masks.
	hdr := struct{ version, pid uint32 }{version: 0x20080522}
	var data [2]struct{ effective, permitted, inheritable uint32 }
	_, _, errno := syscall.RawSyscall(syscall.SYS_CAPGET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0)
	if errno != 0 {
		return true
	}
	const capSysAdmin = 21
	return data[0].effective&(1<<capSysAdmin) == 0
}

// Error is an error of the sandbox's start or handover.
type Error struct {
	Op  string // what failed, such as "hand over to the child"
	Err error
}

func (e *Error) Error() string { return "sandbox: " + e.Op + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// childEnv returns env without any EnvVar or LifelineEnv entry, plus
// EnvVar=1. (The first of two entries with one name would win.)
func childEnv(env []string) []string {
	out := make([]string, 0, len(env)+2)
	for _, kv := range env {
		if !hasPrefix(kv, EnvVar+"=") && !hasPrefix(kv, LifelineEnv+"=") {
			out = append(out, kv)
		}
	}
	return append(out, EnvVar+"=1")
}

func hasPrefix(s, prefix string) bool { return len(s) >= len(prefix) && s[:len(prefix)] == prefix }

// errHanded is returned by a second Hand.
var errHanded = errors.New("sandbox: child already handed its files")
