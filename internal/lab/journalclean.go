package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/nsutil"
)

// Journals returns the journal files in dir, oldest run first.
func Journals(dir string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "journal-*.json"))
	if err != nil {
		return nil, err
	}
	sort.Slice(paths, func(i, j int) bool {
		a, _ := os.Stat(paths[i])
		b, _ := os.Stat(paths[j])
		return a != nil && b != nil && a.ModTime().Before(b.ModTime())
	})
	return paths, nil
}

// ReadJournal reads one journal file.
func ReadJournal(path string) (*JournalFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, unwrapPathErr(err, path)
	}
	var f JournalFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: not a journal: %v", path, err)
	}
	return &f, nil
}

func unwrapPathErr(err error, path string) error {
	return fmt.Errorf("%s: %w", path, unwrapPath(err))
}

// Running reports whether the run that wrote the journal is still alive
// (same PID and same start time, so a reused PID does not count).
func (f *JournalFile) Running() bool {
	start, err := procStart(f.PID)
	return err == nil && start == f.Start
}

// CleanOptions configure Clean.
type CleanOptions struct {
	// DryRun only reports what Clean would do.
	DryRun bool
	// NetnsDir is the only directory in which Clean removes files (the
	// namespaces a run bound, and the directory itself when the run made
	// it); default /run/netns.
	NetnsDir string
}

// Clean undoes the changes a journal lists, newest first, and removes the
// journal once nothing is left. It trusts no entry (see journalcheck.go)
// and deletes only what the run made: links that carry the run's tag (or,
// for a change a kill interrupted, a link of the journaled name and of a
// type the lab makes with no alias at all), routes with the lab's protocol
// mark, namespace files whose inode the journal recorded, sysctls still at
// the value the run set. report receives one line per entry. What it could
// not undo, or refused to, is in the error, and stays in the journal.
func Clean(path string, o CleanOptions, report func(string)) error {
	if o.NetnsDir == "" {
		o.NetnsDir = "/run/netns"
	}
	f, err := ReadJournal(path)
	if err != nil {
		return err
	}
	if f.Running() {
		return fmt.Errorf("run %d is still running (stop it, and it cleans up itself)", f.PID)
	}
	var errs []error
	left := []JournalEntry{}
	for i := len(f.Entries) - 1; i >= 0; i-- {
		e := f.Entries[i]
		msg, err := "", checkEntry(&e, o.NetnsDir)
		if err != nil {
			err = fmt.Errorf("refused: %w", err)
		} else {
			msg, err = cleanEntry(&e, o.DryRun)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", describe(&e), err))
			left = append([]JournalEntry{e}, left...)
			continue
		}
		report(msg)
	}
	if o.DryRun {
		return errors.Join(errs...)
	}
	os.Remove(path + ".tmp") // a save the kill interrupted
	if len(left) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}
	f.Entries = left
	j := &journal{path: path, f: *f}
	if err := j.save(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// cleanEntry undoes one entry (or says what it would do).
func cleanEntry(e *JournalEntry, dryRun bool) (string, error) {
	what := describe(e)
	switch e.Kind {
	case JNetns:
		return cleanNetns(e, dryRun)
	case JDir:
		if err := realDir(e.Path); errors.Is(err, os.ErrNotExist) {
			return what + ": already gone", nil
		} else if err != nil {
			return "", err
		}
		if dryRun {
			return "would remove " + what + " if empty", nil
		}
		if err := removeEmptyDir(e.Path); err != nil {
			return "", err
		}
		if _, err := os.Lstat(e.Path); err == nil {
			return what + ": left, it is not empty or in use", nil
		}
		return "removed " + what, nil
	}
	var msg string
	err := inJournalNS(e.NS, func(h *netlink.Handle, fd int) error {
		var err error
		switch e.Kind {
		case JLink:
			msg, err = cleanLink(h, e, dryRun)
		case JSys:
			msg, err = cleanSysctl(fd, e, dryRun)
		case JRoute:
			if have, ferr := findRoute(h, e, true); ferr != nil || have == nil {
				msg, err = what+": already gone", ferr
			} else if dryRun {
				msg = "would delete " + what
			} else {
				msg, err = "deleted "+what, delRoute(h, e)
			}
		case JAddr:
			if dryRun {
				msg = "would remove " + what
			} else {
				msg, err = "removed "+what, delAddr(h, e)
			}
		case JQdisc:
			if dryRun {
				msg = "would clear " + what
			} else {
				msg, err = "cleared "+what, deleteRootQdisc(h, e.Index, labQdisc)
			}
		case JNft:
			family := nftables.TableFamily(e.Family)
			if have, ferr := nftTableExists(fd, family, e.Name); ferr != nil || !have {
				msg, err = what+": already gone", ferr
			} else if dryRun {
				msg = "would delete " + what
			} else {
				msg, err = "deleted "+what, delNftTable(fd, family, e.Name)
			}
		default:
			err = fmt.Errorf("unknown journal entry kind %q", e.Kind)
		}
		return err
	})
	if errors.Is(err, errNSGone) {
		return what + ": its namespace is gone (and the change with it)", nil
	}
	return msg, err
}

var errNSGone = errors.New("namespace gone")

// inJournalNS runs fn with a netlink handle and a namespace descriptor for
// an entry's namespace: this process's own for "", else the one at path.
func inJournalNS(path string, fn func(h *netlink.Handle, fd int) error) error {
	var (
		fd  int
		err error
	)
	if path == "" {
		fd, err = nsutil.Current()
	} else {
		fd, err = nsutil.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			return errNSGone
		}
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	h, err := newHandle(fd)
	if err != nil {
		return err
	}
	defer h.Close()
	return fn(h, fd)
}

func cleanLink(h *netlink.Handle, e *JournalEntry, dryRun bool) (string, error) {
	what := describe(e)
	if dryRun {
		if nl := findTagged(h, e); nl != nil {
			return "would delete " + what + fmt.Sprintf(" (index %d)", nl.Attrs().Index), nil
		}
		return what + ": already gone", nil
	}
	deleted, err := deleteTagged(h, e)
	if err != nil {
		return "", err
	}
	if !deleted {
		return what + ": already gone", nil
	}
	return "deleted " + what, nil
}

// findTagged is deleteTagged's search, without deleting.
func findTagged(h *netlink.Handle, e *JournalEntry) netlink.Link {
	links, _ := listLinks(h)
	for _, nl := range links {
		a := nl.Attrs()
		if a.Alias == e.Tag || (!e.Done && a.Name == e.Name && unaliasedMade(nl)) {
			return nl
		}
	}
	return nil
}

// cleanNetns removes the namespace file a run bound, after a kill at any
// point of the bind or of its undo: the bind mount of the namespace the
// journal names, or the empty file the run created for it (once unmounted,
// or before it was mounted). Anything else at the path is not the run's.
func cleanNetns(e *JournalEntry, dryRun bool) (string, error) {
	what := describe(e)
	if err := realDir(filepath.Dir(e.Path)); errors.Is(err, os.ErrNotExist) {
		return what + ": already gone", nil
	} else if err != nil {
		return "", err
	}
	var st unix.Stat_t
	if err := unix.Lstat(e.Path, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return what + ": already gone", nil
		}
		return "", err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return what + ": left alone, a symbolic link is not the run's", nil
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(e.Path, &fs); err != nil {
		return "", err
	}
	bound := fs.Type == unix.NSFS_MAGIC
	var ours bool
	switch {
	case bound:
		ours = e.Inode != 0 && st.Ino == e.Inode
	case st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size == 0:
		// The file made for the bind: recorded, or made by a run killed
		// before it could record it (the name was free when the entry was
		// written).
		ours = st.Ino == e.File || (e.File == 0 && !e.Done)
	}
	if !ours {
		return what + ": left alone, it is not the run's namespace any more", nil
	}
	if dryRun {
		return "would delete " + what, nil
	}
	if bound {
		if err := unix.Unmount(e.Path, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW); err != nil && !errors.Is(err, unix.EINVAL) {
			return "", fmt.Errorf("unmount: %w", err)
		}
	}
	if err := unix.Unlink(e.Path); err != nil && !errors.Is(err, unix.ENOENT) {
		return "", fmt.Errorf("remove: %w", err)
	}
	return "deleted " + what, nil
}

func cleanSysctl(fd int, e *JournalEntry, dryRun bool) (string, error) {
	what := describe(e)
	var now string
	err := nsutil.Do(fd, func() error {
		b, err := os.ReadFile(sysctlPath(e.Name))
		now = strings.TrimSpace(string(b))
		return err
	})
	if errors.Is(err, os.ErrNotExist) {
		return what + ": already gone (with its link)", nil
	}
	if err != nil {
		return "", unwrapPath(err)
	}
	switch {
	case now == e.Old:
		return what + fmt.Sprintf(": already %s", e.Old), nil
	case now != e.New:
		return what + fmt.Sprintf(": left at %s, changed by someone else since the run set %s", now, e.New), nil
	case dryRun:
		return fmt.Sprintf("would restore %s from %s to %s", what, now, e.Old), nil
	}
	err = nsutil.Do(fd, func() error { return os.WriteFile(sysctlPath(e.Name), []byte(e.Old), 0o644) })
	if err != nil {
		return "", unwrapPath(err)
	}
	return fmt.Sprintf("restored %s to %s", what, e.Old), nil
}

// routeOf rebuilds the route an entry describes.
func routeOf(e *JournalEntry) (*netlink.Route, error) {
	rt := &netlink.Route{Family: e.Family, LinkIndex: e.Dev, Priority: e.Metric, Table: unix.RT_TABLE_MAIN,
		Protocol: routeProto}
	if e.Dst != "" {
		_, dst, err := parseCIDR(e.Dst)
		if err != nil {
			return nil, err
		}
		rt.Dst = dst
	}
	if e.Via != "" {
		if rt.Gw = net.ParseIP(e.Via); rt.Gw == nil {
			return nil, fmt.Errorf("bad gateway %q in journal", e.Via)
		}
	}
	return rt, nil
}

// findRoute returns the main-table route with e's family, destination and
// metric (the kernel's key for "already exists"), or nil; with marked, only
// a route that carries the lab's protocol mark.
func findRoute(h *netlink.Handle, e *JournalEntry, marked bool) (*netlink.Route, error) {
	want, err := routeOf(e)
	if err != nil {
		return nil, err
	}
	routes, err := h.RouteListFiltered(e.Family, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, err
	}
	for i, r := range routes {
		if r.Priority == want.Priority && sameDst(r.Dst, want.Dst) && (!marked || r.Protocol == routeProto) {
			return &routes[i], nil
		}
	}
	return nil, nil
}

// sameDst compares destinations, a nil one being the default route.
func sameDst(a, b *net.IPNet) bool {
	norm := func(n *net.IPNet) string {
		if n == nil {
			return "default"
		}
		if ones, _ := n.Mask.Size(); ones == 0 && n.IP.IsUnspecified() {
			return "default"
		}
		return n.String()
	}
	return norm(a) == norm(b)
}

// delRoute deletes e's route; one already gone (with its link) is fine.
func delRoute(h *netlink.Handle, e *JournalEntry) error {
	rt, err := routeOf(e)
	if err != nil {
		return err
	}
	err = h.RouteDel(rt)
	if errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV) {
		return nil
	}
	return err
}

// nftTableExists reports whether the namespace behind fd has the table.
func nftTableExists(fd int, family nftables.TableFamily, name string) (bool, error) {
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		return false, fmt.Errorf("nftables: %w", err)
	}
	tables, err := c.ListTablesOfFamily(family)
	if err != nil {
		return false, fmt.Errorf("nftables: %w", err)
	}
	for _, t := range tables {
		if t.Name == name {
			return true, nil
		}
	}
	return false, nil
}

// delNftTable deletes the table, which takes its chains and rules along.
func delNftTable(fd int, family nftables.TableFamily, name string) error {
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	c.DelTable(&nftables.Table{Family: family, Name: name})
	if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("nftables: %w", err)
	}
	return nil
}

// parseCIDR parses a prefix a journal names.
func parseCIDR(s string) (net.IP, *net.IPNet, error) {
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		return nil, nil, fmt.Errorf("bad prefix %q in journal", s)
	}
	return ip, n, nil
}

// delAddr removes e's address from the link with e's index; an address or
// link already gone is fine.
func delAddr(h *netlink.Handle, e *JournalEntry) error {
	ip, ipnet, err := parseCIDR(e.Dst)
	if err != nil {
		return err
	}
	ipnet.IP = ip
	nl, err := h.LinkByIndex(e.Index)
	if err != nil {
		return nil // the link is gone, and the address with it
	}
	err = h.AddrDel(nl, &netlink.Addr{IPNet: ipnet})
	if errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV) {
		return nil
	}
	return err
}

// deleteTagged deletes the link that carries e's tag; for an entry that was
// never marked done, a link of e's name without any alias. It reports
// whether it deleted one.
func deleteTagged(h *netlink.Handle, e *JournalEntry) (bool, error) {
	if e.Index != 0 {
		if nl, err := h.LinkByIndex(e.Index); err == nil && nl.Attrs().Alias == e.Tag {
			return true, h.LinkDel(nl)
		}
	}
	links, err := listLinks(h)
	if err != nil {
		return false, err
	}
	for _, nl := range links {
		a := nl.Attrs()
		if a.Alias == e.Tag || (!e.Done && a.Name == e.Name && unaliasedMade(nl)) {
			return true, h.LinkDel(nl)
		}
	}
	return false, nil
}
