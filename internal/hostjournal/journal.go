// Package hostjournal owns the --host write-ahead journal: the record of
// every change a run makes to the real machine, its undo on exit, and
// `nsscript clean`, which undoes what a killed run left behind.
package hostjournal

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/nsscript/nsscript/internal/proc"
)

// DefaultDir is where host-mode runs keep their journals, one file per
// run, journal-PID.json. The directory is on tmpfs: a journal outlives the
// run (a SIGKILL) but not a reboot, which also undoes everything it lists.
const DefaultDir = "/run/nsscript"

// A host-mode run writes every change it is about to make to the real
// machine into its journal file before making it (write-ahead), marks the
// entry done once made, and drops it once undone. A run that exits normally,
// fails or is interrupted undoes its changes itself and removes the file;
// after a SIGKILL, `nsscript clean` (Clean) reads the file and undoes what it
// lists. Every link the lab creates on the host carries an alias naming its
// entry (Entry.Tag), so that clean deletes only the run's own links.

// Journal entry kinds.
const (
	Link     = "link"      // a link in the host (or an existing namespace)
	Netns    = "netns"     // a namespace bound at Path
	Dir      = "dir"       // a directory the run created (/run/netns)
	Sysctl   = "sysctl"    // a sysctl changed from Old to New
	Route    = "route"     // a route added
	NftTable = "nft-table" // an nftables table created
	Addr     = "addr"      // an address added to a link the lab did not make
	Qdisc    = "qdisc"     // an impairment (root qdisc) on a link the lab did not make
)

// Entry is one change to the real machine.
type Entry struct {
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

// File is the on-disk form of one run's journal.
type File struct {
	PID     int      `json:"pid"`
	Start   uint64   `json:"start"` // the run's start time (clock ticks since boot), to tell a live run from a reused PID
	Args    []string `json:"args"`
	Keep    bool     `json:"keep,omitempty"` // made with --keep: left in place on purpose
	Entries []Entry  `json:"entries"`
}

// Journal is a --host run's journal: the file its changes to the real
// machine are written to before they are made, and the list of their undo
// actions, which Close runs newest first.
type Journal struct {
	mu   sync.Mutex
	path string
	f    File
	next int
	run  string // "PID.START", the prefix of link tags
	keep bool
	undo []undoEntry // guarded by the one goroutine that changes the lab
}

type undoEntry struct {
	desc string
	fn   func() error
}

// Open creates the journal file of this process in dir; with dir "", the
// journal stays in memory (a FreshHost lab in tests: its "host" is not the
// machine's, and nsscript clean must never apply its entries there). With
// keep, Close leaves the changes (and the file) in place.
func Open(dir string, keep bool) (*Journal, error) {
	pid := os.Getpid()
	start, err := proc.StartTime(pid)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	path := ""
	if dir != "" {
		path = filepath.Join(dir, fmt.Sprintf("journal-%d.json", pid))
	}
	j := &Journal{path: path, keep: keep,
		f:   File{PID: pid, Start: start, Args: os.Args, Keep: keep, Entries: []Entry{}},
		run: fmt.Sprintf("%d.%d", pid, start)}
	if err := j.save(); err != nil {
		return nil, err
	}
	return j, nil
}

// Path returns the journal's file ("" for one kept in memory).
func (j *Journal) Path() string { return j.path }

// save writes the journal atomically (a rename), so a kill leaves either
// the old or the new version.
func (j *Journal) save() error {
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
func (j *Journal) intend(e Entry) (*Entry, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.next++
	e.ID = j.next
	if e.Kind == Link {
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
func (j *Journal) done(e *Entry) error {
	e.Done = true
	return j.update(e)
}

// update writes what was learnt so far while making an entry's change.
func (j *Journal) update(e *Entry) error {
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
func (j *Journal) drop(e *Entry) error {
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

// Close undoes every change, newest first, unless the journal was opened
// with keep, and then removes the journal file when nothing is left to
// undo; a run kept with --keep, or one whose undo failed, keeps it for
// nsscript clean.
func (j *Journal) Close() error {
	var errs []error
	if !j.keep {
		for i := len(j.undo) - 1; i >= 0; i-- {
			if err := j.undo[i].fn(); err != nil {
				errs = append(errs, fmt.Errorf("undo %s: %w", j.undo[i].desc, err))
			}
		}
	}
	j.undo = nil
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.f.Entries) > 0 || j.path == "" {
		return errors.Join(errs...)
	}
	if err := os.Remove(j.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("journal: %w", err))
	}
	return errors.Join(errs...) // the directory stays: other runs and paused labs use it
}

// unwrapPath drops the *PathError wrapper, whose text repeats the path.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
