// Package sandbox runs nsscript inside a private world: a re-executed copy of
// the program in new mount and network namespaces, plus a user namespace that
// maps the caller to root when the caller is not privileged (rootless).
//
// The parent calls Run, which re-executes /proc/self/exe with EnvVar=1 and
// waits. The child sees Inside() == true and calls Setup before doing anything
// else. When the child exits, or its parent is killed, the kernel destroys the
// namespaces and everything the lab made in them: nothing leaks to the host and
// parallel runs cannot collide, because every name is private.
//
// Everything the child starts (a user's "bash setup.sh") inherits the sandbox.
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

// Rootless reports whether the sandbox has its own user namespace, in which
// the unprivileged caller is mapped to root. In the parent it tells what Run
// will do; in the child, what Run did.
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
	s := fmt.Sprintf("sandbox: pid %d, %s, %s", os.Getpid(), mode, netns)
	if n := setupNotes(); n != "" {
		s += ", " + n
	}
	return s
}

// needUserNS reports whether this process needs a user namespace to create
// mount and network namespaces: it is not root, or it is a root without
// CAP_SYS_ADMIN (as in some containers).
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

// sysProcAttr returns the attributes that put a child into a new sandbox.
//
// Rootless, only the caller's own uid and gid can be mapped: an unprivileged
// process may write a single line mapping its effective ids, and must deny
// setgroups first for the gid map (GidMappingsEnableSetgroups false). Wider
// ranges from /etc/subuid would need the setuid newuidmap helper, which
// nsscript does not run; inside, every other uid is the overflow uid.
func sysProcAttr(userNS bool) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWNET,
		// The kernel sends this when the thread that forked the child
		// exits; Run keeps that thread locked for the child's whole life.
		Pdeathsig: syscall.SIGKILL,
	}
	if userNS {
		attr.Cloneflags |= syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
		attr.GidMappingsEnableSetgroups = false
	}
	return attr
}
