package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// DefaultJournalDir is where host-mode runs keep their journals, one file per
// run, journal-PID.json. The directory is on tmpfs: a journal outlives the
// run (a SIGKILL) but not a reboot, which also undoes everything it lists.
const DefaultJournalDir = "/run/nsscript"

// A host-mode lab writes every change it is about to make to the real
// machine into its journal file before making it (write-ahead), marks the
// entry done once made, and drops it once undone. A run that exits normally,
// fails or is interrupted undoes its changes itself and removes the file;
// after a SIGKILL, `nsscript clean` (Clean) reads the file and undoes what it
// lists. Every link the lab creates on the host carries an alias naming its
// entry (JournalEntry.Tag), so that clean deletes only the run's own links.

// Journal entry kinds.
const (
	JLink  = "link"      // a link in the host (or an existing namespace)
	JNetns = "netns"     // a namespace bound at Path
	JDir   = "dir"       // a directory the run created (/run/netns)
	JSys   = "sysctl"    // a sysctl changed from Old to New
	JRoute = "route"     // a route added
	JNft   = "nft-table" // an nftables table created
	JAddr  = "addr"      // an address added to a link the lab did not make
	JQdisc = "qdisc"     // an impairment (root qdisc) on a link the lab did not make
)

// JournalEntry is one change to the real machine.
type JournalEntry struct {
	ID   int    `json:"id"`
	Kind string `json:"kind"`
	// Done is false while the change is about to be made: after a SIGKILL
	// it may or may not have happened.
	Done bool `json:"done"`
	// NS is the namespace the change is in: "" for the host's own, or the
	// path of an existing namespace the script opened.
	NS     string `json:"ns,omitempty"`
	Name   string `json:"name,omitempty"`   // link, namespace or nft table name, sysctl key
	Tag    string `json:"tag,omitempty"`    // link: the alias it carries
	Index  int    `json:"index,omitempty"`  // link: interface index once made
	Path   string `json:"path,omitempty"`   // netns: bind mount; dir: the directory
	Inode  uint64 `json:"inode,omitempty"`  // netns: the namespace's inode
	File   uint64 `json:"file,omitempty"`   // netns: inode of the file it is bound on, once made
	Old    string `json:"old,omitempty"`    // sysctl: value before
	New    string `json:"new,omitempty"`    // sysctl: value set
	Family int    `json:"family,omitempty"` // route, nft table: address family
	Dst    string `json:"dst,omitempty"`    // route: destination prefix; addr: the address
	Via    string `json:"via,omitempty"`    // route: gateway
	Dev    int    `json:"dev,omitempty"`    // route: interface index
	Metric int    `json:"metric,omitempty"` // route: priority
}

// JournalFile is the on-disk form of one run's journal.
type JournalFile struct {
	PID     int            `json:"pid"`
	Start   uint64         `json:"start"` // the run's start time (clock ticks since boot), to tell a live run from a reused PID
	Args    []string       `json:"args"`
	Keep    bool           `json:"keep,omitempty"` // made with --keep: left in place on purpose
	Entries []JournalEntry `json:"entries"`
}

// journal is the write side of a run's journal file.
type journal struct {
	mu   sync.Mutex
	path string
	f    JournalFile
	next int
	run  string // "PID.START", the prefix of link tags
}

// openJournal creates the journal file of this process in dir; with dir
// "", the journal stays in memory (a FreshHost lab in tests: its "host" is
// not the machine's, and nsscript clean must never apply its entries there).
func openJournal(dir string, keep bool) (*journal, error) {
	pid := os.Getpid()
	start, err := procStart(pid)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	path := ""
	if dir != "" {
		path = filepath.Join(dir, fmt.Sprintf("journal-%d.json", pid))
	}
	j := &journal{path: path,
		f:   JournalFile{PID: pid, Start: start, Args: os.Args, Keep: keep, Entries: []JournalEntry{}},
		run: fmt.Sprintf("%d.%d", pid, start)}
	if err := j.save(); err != nil {
		return nil, err
	}
	return j, nil
}

// save writes the journal atomically (a rename), so a kill leaves either
// the old or the new version.
func (j *journal) save() error {
	if j.path == "" {
		return nil
	}
	b, err := json.MarshalIndent(&j.f, "", "\t")
	if err != nil {
		return err
	}
	tmp := j.path + ".tmp"
	for try := 0; ; try++ {
		err = os.WriteFile(tmp, append(b, '\n'), 0o600)
		if errors.Is(err, os.ErrNotExist) && try < 3 {
			// The directory is new, or a finishing run just removed it.
			if err = os.MkdirAll(filepath.Dir(j.path), 0o700); err == nil {
				continue
			}
		}
		break
	}
	if err == nil {
		err = os.Rename(tmp, j.path)
	}
	if err != nil {
		return fmt.Errorf("journal: write %s: %w", j.path, unwrapPath(err))
	}
	return nil
}

// intend writes an entry before its change is made and returns it.
func (j *journal) intend(e JournalEntry) (*JournalEntry, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.next++
	e.ID = j.next
	if e.Kind == JLink {
		e.Tag = fmt.Sprintf("nsscript:%s:%d", j.run, e.ID)
	}
	j.f.Entries = append(j.f.Entries, e)
	if err := j.save(); err != nil {
		j.f.Entries = j.f.Entries[:len(j.f.Entries)-1]
		return nil, err
	}
	return &e, nil
}

// done marks an entry as made, with what was learnt while making it.
func (j *journal) done(e *JournalEntry) error {
	e.Done = true
	return j.update(e)
}

// update writes what was learnt so far while making an entry's change.
func (j *journal) update(e *JournalEntry) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i := range j.f.Entries {
		if j.f.Entries[i].ID == e.ID {
			j.f.Entries[i] = *e
		}
	}
	return j.save()
}

// drop removes an entry: its change was undone or never happened.
func (j *journal) drop(e *JournalEntry) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i := range j.f.Entries {
		if j.f.Entries[i].ID == e.ID {
			j.f.Entries = append(j.f.Entries[:i], j.f.Entries[i+1:]...)
			break
		}
	}
	return j.save()
}

// close removes the journal file when nothing is left to undo; a lab kept
// with --keep, or one whose undo failed, keeps it for nsscript clean.
func (j *journal) close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.f.Entries) > 0 || j.path == "" {
		return nil
	}
	if err := os.Remove(j.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("journal: %w", err)
	}
	return nil // the directory stays: other runs and paused labs use it
}

// procStart returns the start time of process pid (field 22 of its stat).
func procStart(pid int) (uint64, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	if len(f) < 20 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// journaled reports whether changes in ns reach the real machine and so go
// through the journal: the host namespace, and namespaces the script opened
// with existing=True, in host mode.
func (l *Lab) journaled(ns *Netns) bool {
	return l.jr != nil && (ns == l.Host || ns.Existing)
}

// nsPath names ns in a journal entry.
func nsPath(ns *Netns) string {
	if ns.Existing {
		return ns.path
	}
	return ""
}

// hostEnd is one link a create call makes, with its journal entry.
type hostEnd struct {
	ns   *Netns
	name string
	e    *JournalEntry
}

// hostLinks runs create, which makes the link called name in ns (and, for a
// veth, its peer in peerNS in the same call). Links that land on the real
// machine are journaled before and tagged with an alias after, and deleted
// on undo.
func (l *Lab) hostLinks(create func() error, ns *Netns, name string, peerNS *Netns, peer string) error {
	var ends []*hostEnd
	if l.journaled(ns) {
		ends = append(ends, &hostEnd{ns: ns, name: name})
	}
	if peerNS != nil && peer != "" && l.journaled(peerNS) {
		ends = append(ends, &hostEnd{ns: peerNS, name: peer})
	}
	if len(ends) == 0 {
		return create()
	}
	for _, x := range ends {
		// The name must be free now: then, after a kill between this entry
		// and the change, a link of that name can only be the run's own.
		if _, err := x.ns.h.LinkByName(x.name); err == nil {
			l.dropEnds(ends)
			return unix.EEXIST // as the kernel would say
		}
		e, err := l.jr.intend(JournalEntry{Kind: JLink, NS: nsPath(x.ns), Name: x.name})
		if err != nil {
			l.dropEnds(ends)
			return err
		}
		x.e = e
	}
	if err := create(); err != nil {
		l.dropEnds(ends)
		return err
	}
	for _, x := range ends {
		nl, err := x.ns.h.LinkByName(x.name)
		if err == nil {
			err = x.ns.h.LinkSetAlias(nl, x.e.Tag)
		}
		if err == nil {
			x.e.Index = nl.Attrs().Index
			err = l.jr.done(x.e)
		}
		// Undo even when tagging failed: an entry not done matches the
		// link by its name.
		l.undoJournaled(x.e, "delete link "+x.name, func() error {
			_, err := deleteTagged(x.ns.h, x.e)
			return err
		})
		if err != nil {
			return fmt.Errorf("tag new link %s: %w", x.name, err)
		}
	}
	return nil
}

// hostBind binds a new namespace under NetnsDir on the real machine,
// journaling the bind (and the directory, when the run creates it).
func (l *Lab) hostBind(n *Netns) error {
	if l.jr == nil {
		return n.Bind()
	}
	dir := l.opts.NetnsDir
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		err := l.journalChange(JournalEntry{Kind: JDir, Path: dir}, "remove "+dir, func(*JournalEntry) error {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("create %s: %w", dir, unwrapPath(err))
			}
			return nil
		}, func(*JournalEntry) error { return removeEmptyDir(dir) })
		if err != nil {
			return err
		}
	}
	// The entry names the namespace by its inode before the bind, and the
	// file it is bound on once that exists: after a kill at any point of
	// the bind or of its undo, clean can tell what at the path is the run's.
	var st unix.Stat_t
	if err := unix.Fstat(n.fd, &st); err != nil {
		return fmt.Errorf("bind netns %q: %w", n.Name, err)
	}
	e := JournalEntry{Kind: JNetns, Name: n.Name, Path: filepath.Join(dir, n.Name), Inode: st.Ino}
	return l.journalChange(e, "delete namespace "+n.Name, func(e *JournalEntry) error {
		return n.bindAt(e.Path, func(file uint64) error {
			e.File = file
			return l.jr.update(e)
		})
	}, func(*JournalEntry) error { return n.unbind() })
}

// hostSysctl runs write, which sets key from old to value in n, journaled
// when n is on the real machine.
func (l *Lab) hostSysctl(n *Netns, key, old, value string, write func() error) error {
	if !l.journaled(n) {
		return write()
	}
	e := JournalEntry{Kind: JSys, NS: nsPath(n), Name: key, Old: old, New: value}
	return l.journalChange(e, fmt.Sprintf("restore %s=%s", key, old), func(e *JournalEntry) error {
		if err := write(); err != nil {
			return err
		}
		// The kernel may normalise the value ("01" reads back as "1"):
		// clean compares against what it reads back.
		if now, err := n.ReadSysctl(key); err == nil {
			e.New = now
		}
		return nil
	}, func(*JournalEntry) error {
		err := n.writeSysctls(map[string]string{key: old})
		if errors.Is(err, os.ErrNotExist) {
			return nil // a link's setting, gone with its link
		}
		return err
	})
}

// hostRoute runs add, which adds rt in n, journaled when n is on the real
// machine.
func (l *Lab) hostRoute(n *Netns, rt *netlink.Route, add func() error) error {
	if !l.journaled(n) {
		return add()
	}
	rt.Protocol = routeProto // clean deletes only routes with this mark
	e := JournalEntry{Kind: JRoute, NS: nsPath(n), Family: rt.Family, Dev: rt.LinkIndex, Metric: rt.Priority}
	if rt.Dst != nil {
		e.Dst = rt.Dst.String()
	}
	if rt.Gw != nil {
		e.Via = rt.Gw.String()
	}
	// Like links, the route must not exist yet, so that clean never takes
	// away one that was there before the run.
	if have, err := findRoute(n.h, &e, false); err != nil {
		return err
	} else if have != nil {
		return fmt.Errorf("a route to %s already exists: %w", e.Dst, unix.EEXIST)
	}
	return l.journalChange(e, "delete route to "+e.Dst, func(*JournalEntry) error { return add() },
		func(e *JournalEntry) error { return delRoute(n.h, e) })
}

// hostAddr runs add, which adds address p to lk. On a link the lab found
// (in a namespace opened with existing=True) rather than made, the address
// is journaled and removed on undo; the lab's own links take their
// addresses along when they go.
func (l *Lab) hostAddr(lk *Link, p netip.Prefix, add func() error) error {
	if !lk.adopted || !l.journaled(lk.ns) {
		return add()
	}
	idx, err := lk.Index()
	if err != nil {
		return err
	}
	e := JournalEntry{Kind: JAddr, NS: nsPath(lk.ns), Name: lk.name, Index: idx, Dst: p.String()}
	return l.journalChange(e, fmt.Sprintf("remove %s from %s", p, lk.name), func(*JournalEntry) error { return add() },
		func(e *JournalEntry) error { return delAddr(lk.ns.h, e) })
}

// hostQdisc runs set, which replaces the root qdisc of lk (index idx)
// with the lab's impairment. On a link the lab found (in the host, or a
// namespace opened with existing=True) rather than made, the change is
// journaled; undo and clean delete the lab's root qdisc, and the kernel's
// default queue takes over. The lab's own links there take theirs along
// when clean deletes them; the lab's undo clears it first all the same.
func (l *Lab) hostQdisc(lk *Link, idx int, set func() error) error {
	if !l.journaled(lk.ns) {
		return set()
	}
	if !lk.adopted {
		if err := set(); err != nil {
			return err
		}
		l.onUndo("clear impairment of "+lk.name, func() error { return lk.deleteRoot(idx) })
		return nil
	}
	e := JournalEntry{Kind: JQdisc, NS: nsPath(lk.ns), Name: lk.name, Index: idx}
	return l.journalChange(e, "clear impairment of "+lk.name, func(*JournalEntry) error { return set() },
		func(*JournalEntry) error { return lk.deleteRoot(idx) })
}

// hostNftTable runs create, which creates nftables table name (of family)
// in n, journaled when n is on the real machine; undo deletes the table.
func (l *Lab) hostNftTable(n *Netns, family nftables.TableFamily, name string, create func() error) error {
	if !l.journaled(n) {
		return create()
	}
	if have, err := nftTableExists(n.fd, family, name); err != nil {
		return err
	} else if have {
		return fmt.Errorf("nftables table %s already exists in netns %q: %w", name, n.Name, unix.EEXIST)
	}
	e := JournalEntry{Kind: JNft, NS: nsPath(n), Name: name, Family: int(family)}
	return l.journalChange(e, "delete nftables table "+name, func(*JournalEntry) error { return create() },
		func(*JournalEntry) error { return delNftTable(n.fd, family, name) })
}

// vethPeer returns where a veth about to be made puts its peer.
func (l *Lab) vethPeer(nl netlink.Link) (*Netns, string) {
	v, ok := nl.(*netlink.Veth)
	if !ok {
		return nil, ""
	}
	fd, ok := v.PeerNamespace.(netlink.NsFd)
	if !ok {
		return nil, ""
	}
	for _, n := range l.order {
		if n.fd == int(fd) {
			return n, v.PeerName
		}
	}
	return nil, ""
}

// dropEnds forgets the entries of links that were not made.
func (l *Lab) dropEnds(ends []*hostEnd) {
	for _, x := range ends {
		if x.e != nil {
			l.jr.drop(x.e)
		}
	}
}

// journalChange makes one change to the real machine through the journal:
// e is written before act makes the change, dropped when act fails, and
// marked done after (with what act filled in); undo reverses the change on
// Close, after which e leaves the journal.
func (l *Lab) journalChange(e JournalEntry, desc string, act, undo func(e *JournalEntry) error) error {
	pe, err := l.jr.intend(e)
	if err != nil {
		return err
	}
	if err := act(pe); err != nil {
		l.jr.drop(pe)
		return err
	}
	err = l.jr.done(pe)
	l.undoJournaled(pe, desc, func() error { return undo(pe) })
	return err
}

// undoJournaled registers the undo of a journaled change; once it worked,
// the entry leaves the journal.
func (l *Lab) undoJournaled(e *JournalEntry, desc string, fn func() error) {
	l.onUndo(desc, func() error {
		if err := fn(); err != nil {
			return err
		}
		return l.jr.drop(e)
	})
}
