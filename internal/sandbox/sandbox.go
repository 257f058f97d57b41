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

	"github.com/nsscript/nsscript/internal/sandbox/spawn"
)

// EnvVar marks the re-executed child: it is "1" in the environment Run gives
// the child. Setup removes it from the child's environment, so programs the lab
// starts (a nested nsscript included) do not mistake themselves for it.
const EnvVar = spawn.EnvVar

// inside is read once, before Setup removes EnvVar from the environment.
var inside = os.Getenv(EnvVar) == "1"

// Inside reports whether this process is the sandboxed child, that is whether
// it was started with EnvVar=1. It does not change when Setup unsets EnvVar.
func Inside() bool { return inside }

var rootless = sync.OnceValue(func() bool {
	if Inside() {
		return !identityUIDMap()
	}
	return spawn.NeedUserNS()
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
