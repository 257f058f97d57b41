package nsutil

import (
	"errors"
	"fmt"
	"strings"
)

// CheckNetnsName reports whether name can name a namespace (a file under
// the netns directory).
func CheckNetnsName(name string) error {
	switch {
	case name == "":
		return errors.New("empty namespace name")
	case name == "." || name == "..":
		return fmt.Errorf("invalid namespace name %q", name)
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("invalid namespace name %q: contains '/'", name)
	case len(name) > 64:
		return fmt.Errorf("invalid namespace name %q: longer than 64 bytes", name)
	case strings.ContainsAny(name, " \t\n"):
		return fmt.Errorf("invalid namespace name %q: contains white space", name)
	}
	return nil
}

// CheckSysctlKey reports whether key names a per-namespace network sysctl.
// Only net.* keys are accepted: other sysctls are global to the machine and
// a lab must not change the real host.
func CheckSysctlKey(key string) error {
	if !strings.HasPrefix(key, "net.") {
		return fmt.Errorf("sysctl %q is not a per-namespace network setting (only net.* keys are allowed)", key)
	}
	for _, part := range strings.Split(strings.TrimPrefix(key, "net."), ".") {
		if part == "" || part == ".." || strings.ContainsAny(part, "/\x00 ") {
			return fmt.Errorf("invalid sysctl key %q", key)
		}
	}
	return nil
}

// SysctlPath returns the file under /proc/sys of a sysctl key. Under
// /proc/sys/net a thread sees its own network namespace's settings: open
// the file inside Do.
func SysctlPath(key string) string {
	return "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
}
