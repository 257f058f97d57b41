package sandbox

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/nsscript/nsscript/internal/sandbox/spawn"
)

// probePath cannot exist (nothing can be created in /proc/self), so exec'ing it
// fails with ENOENT after the namespaces were made, and the probe child exits.
const probePath = "/proc/self/nsscript-sandbox-probe"

var check = sync.OnceValue(func() error {
	if _, err := os.Stat("/proc/self/exe"); err != nil {
		return fmt.Errorf("sandbox: cannot re-execute nsscript (%w): /proc must be mounted", err)
	}
	rootless := spawn.NeedUserNS()
	// The probe child is cloned exactly as Run's, with the id mappings
	// written; it fails to exec and ForkExec reaps it. Nothing stays behind.
	pid, err := syscall.ForkExec(probePath, []string{probePath}, &syscall.ProcAttr{
		Env: []string{},
		Sys: spawn.SysProcAttr(rootless),
	})
	switch {
	case errors.Is(err, syscall.ENOENT):
		return nil
	case err == nil: // cannot happen; do not leave a zombie
		var ws syscall.WaitStatus
		syscall.Wait4(pid, &ws, 0, nil)
		return nil
	}
	return explain(err, rootless)
})

// Check reports whether a sandbox can be made here: nil, or an error whose
// one-line text says why not and what to do. The first call forks a child that
// creates the namespaces and exits at once (about a millisecond); the result
// is cached.
func Check() error { return check() }

// nsError is a failure to create the namespaces, with the reason and the
// remedy spelled out for a user.
type nsError struct {
	msg string
	err error
}

func (e *nsError) Error() string { return e.msg }
func (e *nsError) Unwrap() error { return e.err }

// explain turns an error from creating the sandbox's namespaces into one that
// says why and what to do.
func explain(err error, rootless bool) error {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return fmt.Errorf("sandbox: create namespaces: %w", err)
	}
	why := errno.Error()
	fix := "run as root, or enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0)"
	if !rootless {
		fix = "enable user namespaces (user.max_user_namespaces > 0), or build on the real host with --host; in a container, the runtime's seccomp profile may forbid them"
	}
	switch {
	case rootless && sysctl("kernel/unprivileged_userns_clone") == "0":
		why = "unprivileged user namespaces are disabled: kernel.unprivileged_userns_clone=0"
		fix = "run as root, or enable them with sysctl kernel.unprivileged_userns_clone=1"
	case sysctl("user/max_user_namespaces") == "0":
		why = "user namespaces are disabled: user.max_user_namespaces=0"
		fix = "enable them with sysctl user.max_user_namespaces=10000"
	case errno == syscall.ENOSPC || errno == syscall.EUSERS:
		why = "too many namespaces: user.max_user_namespaces, user.max_pid_namespaces, user.max_net_namespaces or user.max_mnt_namespaces reached"
		fix = "wait for other runs to end, or raise the limit with sysctl"
	case rootless && (errno == syscall.EPERM || errno == syscall.EACCES):
		fix += "; in a container, the runtime's seccomp profile may forbid them"
	}
	return &nsError{fmt.Sprintf("sandbox: cannot create a user namespace (%s): %s", why, fix), err}
}

// sysctl returns the trimmed value of /proc/sys/NAME, or "" if unreadable.
func sysctl(name string) string {
	b, err := os.ReadFile("/proc/sys/" + name)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
