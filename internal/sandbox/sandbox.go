// Package sandbox runs nsscript inside a private world: a re-executed copy of
// the program in new user, mount, network, PID and UTS namespaces. The user
// namespace maps an unprivileged caller to root (rootless), and root to
// itself over the whole uid and gid range, so that nothing in the sandbox
// holds capabilities over the host's namespaces, even as root.
//
// The parent calls Run, which re-executes /proc/self/exe with EnvVar=1 and
// waits. The child is PID 1 of its PID namespace: it sees Inside() == true
// and calls Setup before doing anything else. When the child exits, or its
// parent dies, the kernel kills every process in the PID namespace and
// destroys the namespaces and everything the lab made in them: nothing leaks
// to the host and parallel runs cannot collide, because every name is
// private.
//
// Everything the child starts (a user's "bash setup.sh") inherits the sandbox.
// What it does not isolate is files: programs run with the caller's file
// access.
package sandbox

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// EnvVar marks the re-executed child: it is "1" in the environment Run gives
// the child. Setup removes it from the child's environment, so programs the lab
// starts (a nested nsscript included) do not mistake themselves for it.
const EnvVar = "NSSCRIPT_SANDBOX"

// inside is read once, before Setup removes EnvVar from the environment.
var inside = os.Getenv(EnvVar) == "1"

// Inside reports whether this process is the sandboxed child, that is whether
// it was started with EnvVar=1. It does not change when Setup unsets EnvVar.
func Inside() bool { return inside }

var rootless = sync.OnceValue(func() bool {
	if Inside() {
		return !identityUIDMap()
	}
	return needUserNS()
})

// Rootless reports whether the sandbox maps an unprivileged caller to root
// (rather than root to itself). In the parent it tells what Run will do; in
// the child, what Run did.
func Rootless() bool { return rootless() }

// Where returns a one-line description of this process's sandbox for verbose
// logging, such as "sandbox: pid 1234, rootless (uid 1000 is root inside),
// net:[4026532281]".
func Where() string {
	if !Inside() {
		mode := "as root"
		if Rootless() {
			mode = fmt.Sprintf("rootless (uid %d would be root inside)", os.Geteuid())
		}
		return fmt.Sprintf("sandbox: not entered (pid %d; Run would run %s)", os.Getpid(), mode)
	}
	mode := "as root"
	if Rootless() {
		mode = "rootless"
		if m, err := os.ReadFile("/proc/self/uid_map"); err == nil {
			if f := strings.Fields(string(m)); len(f) >= 2 && f[0] == "0" {
				mode = fmt.Sprintf("rootless (uid %s is root inside)", f[1])
			}
		}
	}
	netns, _ := os.Readlink("/proc/self/ns/net")
	s := fmt.Sprintf("sandbox: pid %d (init of its pid namespace), %s, %s", os.Getpid(), mode, netns)
	if n := setupNotes(); n != "" {
		s += ", " + n
	}
	return s
}

// needUserNS reports whether this process is unprivileged: it is not root,
// or it is a root without CAP_SYS_ADMIN (as in some containers). Then the
// user namespace can map only the caller.
func needUserNS() bool {
	if os.Geteuid() != 0 {
		return true
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return true
	}
	return data[0].Effective&(1<<unix.CAP_SYS_ADMIN) == 0
}

// identityUIDMap reports whether this process's user namespace maps every uid
// to itself, as the initial user namespace does.
func identityUIDMap() bool {
	m, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return true
	}
	f := strings.Fields(string(m))
	return len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295"
}

// allIDs is the size of an identity map of every uid or gid (0 to 2^32-2).
const allIDs = 4294967295

// sysProcAttr returns the attributes that put a child into a new sandbox.
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
func sysProcAttr(rootless bool) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWNET |
			syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS,
		// The kernel sends this when the thread that forked the child
		// exits; Run keeps that thread locked for the child's whole life.
		// It reaches the child although the child is init of its PID
		// namespace, because it comes from outside that namespace. (Go's
		// own check that the parent is still there compares getppid, which
		// is 0 in a new PID namespace: its SIGKILL to itself is ignored,
		// as by any init. Setup watches a pipe from the parent instead.)
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
