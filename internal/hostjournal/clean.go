package hostjournal

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/nsutil"
	"github.com/nsscript/nsscript/internal/proc"
)

// List returns the journal files in dir, oldest run first.
func List(dir string) ([]string, error) {
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

// Read reads one journal file.
func Read(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, unwrapPathErr(err, path)
	}
	var f File
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
func (f *File) Running() bool {
	start, err := proc.StartTime(f.PID)
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
	f, err := Read(path)
	if err != nil {
		return err
	}
	if f.Running() {
		return fmt.Errorf("run %d is still running (stop it, and it cleans up itself)", f.PID)
	}
	var errs []error
	left := []Entry{}
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
			left = append([]Entry{e}, left...)
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
	j := &Journal{path: path, f: *f}
	if err := j.save(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// cleanEntry undoes one entry (or says what it would do).
func cleanEntry(e *Entry, dryRun bool) (string, error) {
	what := describe(e)
	switch e.Kind {
	case Netns:
		return cleanNetns(e, dryRun)
	case Dir:
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
		case Link:
			msg, err = cleanLink(h, e, dryRun)
		case Sysctl:
			msg, err = cleanSysctl(fd, e, dryRun)
		case Route:
			if have, ferr := findRoute(h, e, true); ferr != nil || have == nil {
				msg, err = what+": already gone", ferr
			} else if dryRun {
				msg = "would delete " + what
			} else {
				msg, err = "deleted "+what, delRoute(h, e)
			}
		case Addr:
			if dryRun {
				msg = "would remove " + what
			} else {
				msg, err = "removed "+what, delAddr(h, e)
			}
		case Qdisc:
			if dryRun {
				msg = "would clear " + what
			} else {
				msg, err = "cleared "+what, DeleteRootQdisc(h, e.Index, labQdisc)
			}
		case NftTable:
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
	h, err := nsutil.NewHandle(fd, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer h.Close()
	return fn(h, fd)
}

func cleanLink(h *netlink.Handle, e *Entry, dryRun bool) (string, error) {
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
func findTagged(h *netlink.Handle, e *Entry) netlink.Link {
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
func cleanNetns(e *Entry, dryRun bool) (string, error) {
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

func cleanSysctl(fd int, e *Entry, dryRun bool) (string, error) {
	what := describe(e)
	now, err := readSysctl(fd, e.Name)
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
	err = nsutil.Do(fd, func() error { return os.WriteFile(nsutil.SysctlPath(e.Name), []byte(e.Old), 0o644) })
	if err != nil {
		return "", unwrapPath(err)
	}
	return fmt.Sprintf("restored %s to %s", what, e.Old), nil
}
