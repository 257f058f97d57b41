package hostjournal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/nft"
	"github.com/nsscript/nsscript/internal/nsutil"
)

// A journal file is read back by nsscript clean, as root, from a directory
// anyone with root could have written into: clean trusts none of it. Each
// entry must describe a kind of object nsscript makes, in the places
// nsscript makes it (checkEntry), and clean then changes only an object
// that still proves to be the run's: a link that carries the run's alias, a
// route with the lab's protocol mark, a namespace file whose inode the
// journal recorded, a sysctl still at the value the run set.

// RouteProto marks the routes a --host run adds (the route's protocol, as
// `ip route` shows it: "proto 110"), so that clean deletes no route the
// run did not add, whatever a journal says.
const RouteProto = 110

// madeKinds are the link types a lab creates.
var madeKinds = map[string]bool{"veth": true, "bridge": true, "dummy": true, "ipvlan": true,
	"macvlan": true, "tuntap": true, "vlan": true, "vxlan": true}

// journalNS matches the namespace paths a journal may name besides the
// netns directory's entries: those of processes and threads.
var journalNS = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^/proc/[0-9]+(/task/[0-9]+)?/ns/net$`)
})

// linkTag matches the aliases Journal.intend gives links (compiled on
// first use, as journalNS: package init runs in every exec).
var linkTag = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^nsscript:[0-9]+\.[0-9]+:[0-9]+$`) })

// checkEntry refuses an entry that nsscript could not have written: a kind
// it does not make, a file outside netnsDir, a sysctl outside net.*, a tag
// that is not the run's.
func checkEntry(e *Entry, netnsDir string) error {
	if e.NS != "" && !journalNS().MatchString(e.NS) && !inNetnsDir(e.NS, netnsDir) {
		return fmt.Errorf("namespace %q is neither under %s nor a process's", e.NS, netnsDir)
	}
	switch e.Kind {
	case Link:
		if e.Name == "" || len(e.Name) > 15 || strings.ContainsAny(e.Name, "/ \t\n\x00") {
			return fmt.Errorf("invalid link name %q", e.Name)
		}
		if !linkTag().MatchString(e.Tag) || !strings.HasSuffix(e.Tag, fmt.Sprintf(":%d", e.ID)) {
			return fmt.Errorf("link tag %q is not one nsscript gives (nsscript:PID.START:%d)", e.Tag, e.ID)
		}
	case Netns:
		if !inNetnsDir(e.Path, netnsDir) || filepath.Base(e.Path) != e.Name {
			return fmt.Errorf("namespace file %q is not %s/%s", e.Path, netnsDir, e.Name)
		}
	case Dir:
		if e.Path != netnsDir {
			return fmt.Errorf("directory %q is not %s", e.Path, netnsDir)
		}
	case Sysctl:
		return nsutil.CheckSysctlKey(e.Name)
	case Route:
		_, err := routeOf(e)
		return err
	case NftTable:
		if e.Name != nft.Table {
			return fmt.Errorf("nftables table %q is not the lab's (%s)", e.Name, nft.Table)
		}
	case Addr:
		if _, _, err := parseCIDR(e.Dst); err != nil {
			return err
		}
	case Qdisc:
		if e.Index <= 0 {
			return fmt.Errorf("invalid link index %d", e.Index)
		}
	default:
		return fmt.Errorf("unknown kind %q", e.Kind)
	}
	return nil
}

// describe names an entry for messages.
func describe(e *Entry) string {
	where := ""
	if e.NS != "" {
		where = " in " + e.NS
	}
	switch e.Kind {
	case Link:
		return "link " + e.Name + where
	case Netns:
		return "namespace " + e.Path
	case Dir:
		return "directory " + e.Path
	case Sysctl:
		return "sysctl " + e.Name + where
	case Route:
		return "route to " + e.Dst + where
	case NftTable:
		return "nftables table " + e.Name + where
	case Addr:
		return "address " + e.Dst + " on " + e.Name + where
	case Qdisc:
		return "impairment of " + e.Name + where
	}
	return e.Kind + " " + e.Name
}

// inNetnsDir reports whether path is a namespace file directly in dir.
func inNetnsDir(path, dir string) bool {
	return filepath.Dir(path) == dir && nsutil.CheckNetnsName(filepath.Base(path)) == nil && filepath.Clean(path) == path
}

// realDir reports whether dir is a directory itself, not a symbolic link to
// one (clean follows no link planted in place of the netns directory).
func realDir(dir string) error {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

// unaliasedMade reports whether a link may be the one an interrupted
// change made: no alias yet, and of a type the lab creates.
func unaliasedMade(nl netlink.Link) bool {
	return nl.Attrs().Alias == "" && madeKinds[nl.Type()]
}

// mountedElsewhere reports whether some mount namespace on the machine has
// a mount on the directory dir. Removing it would silently detach that
// mount (the kernel allows rmdir of another namespace's mount point): a
// sandboxed run whose private tmpfs covers /run/netns would then bind its
// namespaces on the real host's file system.
func mountedElsewhere(dir string) bool {
	var st unix.Stat_t
	if unix.Lstat(dir, &st) != nil {
		return false
	}
	dev := fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
	procs, _ := os.ReadDir("/proc")
	seen := map[uint64]bool{}
	for _, p := range procs {
		if p.Name()[0] < '0' || p.Name()[0] > '9' {
			continue
		}
		var ns unix.Stat_t
		if unix.Stat("/proc/"+p.Name()+"/ns/mnt", &ns) != nil || seen[ns.Ino] {
			continue
		}
		seen[ns.Ino] = true
		if mountedOn("/proc/"+p.Name()+"/mountinfo", dir, dev) {
			return true
		}
	}
	return false
}

// mountedOn reports whether the mountinfo file lists a mount at dir whose
// parent is on the file system dev ("major:minor"), the one dir is on: a
// mount on this very directory, not on another file system's dir of the
// same name (a sandbox that covers all of /run has its own /run/netns).
func mountedOn(mountinfo, dir, dev string) bool {
	b, err := os.ReadFile(mountinfo)
	if err != nil {
		return false
	}
	devOf := map[string]string{} // mount ID -> major:minor
	var parents []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		devOf[f[0]] = f[2]
		if f[4] == dir {
			parents = append(parents, f[1])
		}
	}
	for _, p := range parents {
		if devOf[p] == dev {
			return true
		}
	}
	return false
}

// RemoveNetnsDir removes dir, a netns directory such as /run/netns, unless
// something put files in it or any mount namespace has a mount on it
// (tests that made /run/netns remove it the same way).
func RemoveNetnsDir(dir string) error { return removeEmptyDir(dir) }

// removeEmptyDir removes dir, the netns directory a run created, unless
// something else put files in it or mounted on it.
func removeEmptyDir(dir string) error {
	if mountedElsewhere(dir) {
		return nil // in use: it stays, as `ip netns` leaves it
	}
	err := os.Remove(dir)
	if err == nil || errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST) {
		return nil
	}
	return unwrapPath(err)
}

// labQdisc reports whether q is a root qdisc an impairment installs:
// netem or tbf with handle 1:.
func labQdisc(q netlink.Qdisc) bool {
	return (q.Type() == "netem" || q.Type() == "tbf") && q.Attrs().Handle == netlink.MakeHandle(1, 0)
}
