package lab

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/hostjournal"
	"github.com/nsscript/nsscript/internal/nsutil"
)

// CheckSysctlKey reports whether key names a per-namespace network sysctl
// (net.* only; see nsutil.CheckSysctlKey).
func CheckSysctlKey(key string) error { return nsutil.CheckSysctlKey(key) }

func sysctlPath(key string) string { return nsutil.SysctlPath(key) }

// writeSysctls writes sysctls inside the namespace; /proc/sys/net shows the
// network namespace of the thread that opens it, so the files are opened
// inside (and written and closed there too, which is as cheap).
func (n *Netns) writeSysctls(kv map[string]string) error {
	return nsutil.Do(n.fd, func() error {
		for _, k := range sortedNames(kv) {
			if err := os.WriteFile(sysctlPath(k), []byte(kv[k]), 0o644); err != nil {
				return fmt.Errorf("write %s: %w", k, unwrapPath(err))
			}
		}
		return nil
	})
}

// sysctlValue is a sysctl's name within its directory and the value to write.
type sysctlValue struct{ name, value string }

// writeSysctlsHere writes the sysctls vs of the directory dir (a key such
// as "net.ipv6.conf.default") in the calling thread's network namespace,
// opening the directory once: every lookup under /proc/sys/net compares
// the name with each live namespace's entry, so the fewer the better. With
// optional, a directory or file that does not exist is skipped (a module
// that is not loaded).
func writeSysctlsHere(dir string, vs []sysctlValue, optional bool) error {
	d, err := unix.Open(sysctlPath(dir), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if optional && err == unix.ENOENT {
		return nil
	}
	if err != nil {
		return fmt.Errorf("write %s.%s: %w", dir, vs[0].name, err)
	}
	defer unix.Close(d)
	for _, v := range vs {
		fd, err := unix.Openat(d, v.name, unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if optional && err == unix.ENOENT {
			continue
		}
		if err == nil {
			_, err = unix.Write(fd, []byte(v.value))
			unix.Close(fd)
		}
		if err != nil {
			return fmt.Errorf("write %s.%s: %w", dir, v.name, err)
		}
	}
	return nil
}

// ReadSysctl returns a sysctl's value inside the namespace.
func (n *Netns) ReadSysctl(key string) (string, error) {
	if err := CheckSysctlKey(key); err != nil {
		return "", err
	}
	if n.lab.opts.Plan {
		return "", nil
	}
	if bridgeSysctl(key) {
		if err := n.offBridgeNetfilter(); err != nil {
			return "", err
		}
	}
	var val string
	err := nsutil.Do(n.fd, func() error {
		b, err := os.ReadFile(sysctlPath(key))
		val = strings.TrimSpace(string(b))
		return err
	})
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("no sysctl %s in netns %q", key, n.Name)
		}
		return "", fmt.Errorf("read %s: %w", key, unwrapPath(err))
	}
	return val, nil
}

// Sysctl sets a network sysctl inside the namespace.
func (n *Netns) Sysctl(key, value string) error {
	if err := CheckSysctlKey(key); err != nil {
		return err
	}
	l := n.lab
	n.routesCustom = true // such as ignore_routes_with_linkdown (routemodel.go)
	return l.apply(Step{NS: n.Name, Op: "sysctl", Desc: fmt.Sprintf("set %s=%s in %s", key, value, n.Name),
		Cmds: []string{inNS(n, "sysctl -qw "+shellQuote(key+"="+value))}}, func() error {
		old, err := n.ReadSysctl(key)
		if err != nil {
			return err
		}
		return l.hostChange(n, hostjournal.Entry{Kind: hostjournal.Sysctl, Name: key, Old: old, New: value}, func() error {
			if err := n.writeSysctls(map[string]string{key: value}); err != nil {
				if errors.Is(err, os.ErrNotExist) {
					return fmt.Errorf("no sysctl %s in netns %q", key, n.Name)
				}
				return err
			}
			return nil
		})
	})
}

// Forwarding turns IPv4 and IPv6 forwarding on or off in the namespace.
func (n *Netns) Forwarding(on bool) error { return n.SetForwarding(on, "both") }

// SetForwarding turns forwarding on or off for family "ipv4", "ipv6" or
// "both", leaving the other family as it is.
func (n *Netns) SetForwarding(on bool, family string) error {
	v := "0"
	if on {
		v = "1"
	}
	var keys []string
	switch family {
	case "ipv4":
		keys = []string{"net.ipv4.ip_forward"}
	case "ipv6":
		keys = []string{"net.ipv6.conf.all.forwarding"}
	case "both":
		keys = []string{"net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"}
	default:
		return fmt.Errorf("invalid family %q (want ipv4, ipv6 or both)", family)
	}
	for _, k := range keys {
		if err := n.Sysctl(k, v); err != nil {
			return err
		}
	}
	return nil
}

// unwrapPath drops the *PathError wrapper, whose text repeats the path.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
