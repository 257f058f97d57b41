package hostjournal

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/nsutil"
)

// NS is the namespace on the real machine that a change is made in.
type NS struct {
	Name   string          // for messages: the lab's name of it
	Path   string          // "" for the host's own, else an existing namespace's path
	FD     int             // a descriptor of it
	Handle *netlink.Handle // a route socket in it
}

// Change makes one change to the real machine through the journal: it
// checks that the object e describes is not there yet (a link's name, a
// route, an nftables table: clean must never take away what was there
// before the run), writes e, runs act, which makes the change, drops e when
// act fails, else learns what the kernel made (a link's index, which it
// tags with an alias naming e; the value a sysctl reads back as) and marks
// e done. Close undoes the change, after which e leaves the journal.
func (j *Journal) Change(ns NS, e Entry, act func() error) error {
	e.NS = ns.Path
	if err := vacant(ns, &e); err != nil {
		return err
	}
	pe, err := j.intend(e)
	if err != nil {
		return err
	}
	if err := act(); err != nil {
		j.drop(pe)
		return err
	}
	j.reread(pe) // what act had the journal record (Bound)
	err = learn(ns, pe)
	if err == nil {
		err = j.done(pe)
	}
	// Undo even when learning failed: a link entry not done matches the
	// link by its name.
	j.OnUndo(undoDesc(pe), func() error {
		if err := undo(ns, pe); err != nil {
			return err
		}
		return j.drop(pe)
	})
	if err != nil && pe.Kind == Link {
		return fmt.Errorf("tag new link %s: %w", pe.Name, err)
	}
	return err
}

// Bound records the inode of the file a namespace is about to be bound on
// at path, while the Netns change that binds it runs: after a kill at any
// point of the bind or of its undo, clean can tell what at path is the
// run's.
func (j *Journal) Bound(path string, file uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i := range j.f.Entries {
		if e := &j.f.Entries[i]; e.Kind == Netns && e.Path == path && !e.Done {
			e.File = file
		}
	}
	return j.save()
}

// reread copies e's recorded form into e.
func (j *Journal) reread(e *Entry) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, x := range j.f.Entries {
		if x.ID == e.ID {
			*e = x
		}
	}
}

// OnUndo registers an action that reverses a change to the real machine
// that needs no entry of its own (clean undoes it along with another
// entry); Close runs it.
func (j *Journal) OnUndo(desc string, fn func() error) {
	j.undo = append(j.undo, undoEntry{desc, fn})
}

// Pending returns descriptions of the pending undo actions, newest first.
func (j *Journal) Pending() []string {
	var out []string
	for i := len(j.undo) - 1; i >= 0; i-- {
		out = append(out, j.undo[i].desc)
	}
	return out
}

// vacant refuses a change whose object already exists.
func vacant(ns NS, e *Entry) error {
	switch e.Kind {
	case Link:
		// The name must be free now: then, after a kill between this entry
		// and the change, a link of that name can only be the run's own.
		if _, err := ns.Handle.LinkByName(e.Name); err == nil {
			return unix.EEXIST // as the kernel would say
		}
	case Route:
		if have, err := findRoute(ns.Handle, e, false); err != nil {
			return err
		} else if have != nil {
			return fmt.Errorf("a route to %s already exists: %w", e.Dst, unix.EEXIST)
		}
	case NftTable:
		if have, err := nftTableExists(ns.FD, nftables.TableFamily(e.Family), e.Name); err != nil {
			return err
		} else if have {
			return fmt.Errorf("nftables table %s already exists in netns %q: %w", e.Name, ns.Name, unix.EEXIST)
		}
	}
	return nil
}

// learn fills in what the change made: a link's index, once it carries the
// entry's tag; a sysctl's value as the kernel normalised it ("01" reads
// back as "1"), which clean compares against.
func learn(ns NS, e *Entry) error {
	switch e.Kind {
	case Link:
		nl, err := ns.Handle.LinkByName(e.Name)
		if err == nil {
			err = ns.Handle.LinkSetAlias(nl, e.Tag)
		}
		if err != nil {
			return err
		}
		e.Index = nl.Attrs().Index
	case Sysctl:
		if now, err := readSysctl(ns.FD, e.Name); err == nil {
			e.New = now
		}
	}
	return nil
}

// undo reverses a change the run made (and has not been killed in).
func undo(ns NS, e *Entry) error {
	switch e.Kind {
	case Link:
		_, err := deleteTagged(ns.Handle, e)
		return err
	case Dir:
		return removeEmptyDir(e.Path)
	case Netns:
		if err := unix.Unmount(e.Path, unix.MNT_DETACH); err != nil {
			return err
		}
		return os.Remove(e.Path)
	case Sysctl:
		err := nsutil.Do(ns.FD, func() error { return os.WriteFile(nsutil.SysctlPath(e.Name), []byte(e.Old), 0o644) })
		if errors.Is(err, os.ErrNotExist) {
			return nil // a link's setting, gone with its link
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", e.Name, unwrapPath(err))
		}
		return nil
	case Route:
		return delRoute(ns.Handle, e)
	case Addr:
		return delAddr(ns.Handle, e)
	case Qdisc:
		return DeleteRootQdisc(ns.Handle, e.Index, func(netlink.Qdisc) bool { return true })
	case NftTable:
		return delNftTable(ns.FD, nftables.TableFamily(e.Family), e.Name)
	}
	return fmt.Errorf("unknown journal entry kind %q", e.Kind)
}

// undoDesc says what undoing e does.
func undoDesc(e *Entry) string {
	switch e.Kind {
	case Link:
		return "delete link " + e.Name
	case Dir:
		return "remove " + e.Path
	case Netns:
		return "delete namespace " + e.Name
	case Sysctl:
		return fmt.Sprintf("restore %s=%s", e.Name, e.Old)
	case Route:
		return "delete route to " + e.Dst
	case Addr:
		return fmt.Sprintf("remove %s from %s", e.Dst, e.Name)
	case Qdisc:
		return "clear impairment of " + e.Name
	case NftTable:
		return "delete nftables table " + e.Name
	}
	return "undo " + e.Kind
}

// readSysctl returns a sysctl's value in the namespace behind fd.
func readSysctl(fd int, key string) (string, error) {
	var now string
	err := nsutil.Do(fd, func() error {
		b, err := os.ReadFile(nsutil.SysctlPath(key))
		now = strings.TrimSpace(string(b))
		return err
	})
	return now, err
}
