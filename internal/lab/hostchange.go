package lab

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/hostjournal"
)

// With --host, every change the lab makes to the real machine goes through
// hostChange, which hands it to the run's journal (internal/hostjournal):
// the lab only says what it changes, as a journal entry; the journal writes
// it ahead, learns what the kernel made, and undoes it on Close.

// hostChange runs act, which makes the change e describes in ns. When ns is
// on the real machine (the host's namespace, or one the script opened with
// existing=True, in host mode), the change goes through the journal; an
// entry of no kind needs none.
func (l *Lab) hostChange(ns *Netns, e hostjournal.Entry, act func() error) error {
	if !l.journaled(ns) || e.Kind == "" {
		return act()
	}
	return l.jr.Change(hostjournal.NS{Name: ns.Name, Path: nsPath(ns), FD: ns.fd, Handle: ns.h}, e, act)
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

// linkEntry is the entry of a link the lab makes (or moves) into a
// namespace; on the real machine it carries an alias naming its entry.
func linkEntry(name string) hostjournal.Entry {
	return hostjournal.Entry{Kind: hostjournal.Link, Name: name}
}

// withPeer returns create, which makes the link nl, journaling the peer
// too when nl is a veth whose peer lands on the real machine.
func (l *Lab) withPeer(nl netlink.Link, create func() error) func() error {
	v, ok := nl.(*netlink.Veth)
	if !ok || v.PeerName == "" {
		return create
	}
	fd, ok := v.PeerNamespace.(netlink.NsFd)
	if !ok {
		return create
	}
	for _, n := range l.order {
		if n.fd == int(fd) {
			return func() error { return l.hostChange(n, linkEntry(v.PeerName), create) }
		}
	}
	return create
}

// hostBind binds a new namespace under NetnsDir on the real machine,
// journaling the bind (and the directory, when the run creates it).
func (l *Lab) hostBind(n *Netns) error {
	if l.jr == nil {
		return n.Bind()
	}
	dir := l.opts.NetnsDir
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		err := l.jr.Change(hostjournal.NS{}, hostjournal.Entry{Kind: hostjournal.Dir, Path: dir}, func() error {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("create %s: %w", dir, unwrapPath(err))
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	// The entry names the namespace by its inode before the bind, and the
	// file it is bound on once that exists (Journal.Bound).
	var st unix.Stat_t
	if err := unix.Fstat(n.fd, &st); err != nil {
		return fmt.Errorf("bind netns %q: %w", n.Name, err)
	}
	p := filepath.Join(dir, n.Name)
	e := hostjournal.Entry{Kind: hostjournal.Netns, Name: n.Name, Path: p, Inode: st.Ino}
	return l.jr.Change(hostjournal.NS{}, e, func() error {
		return n.bindAt(p, func(file uint64) error { return l.jr.Bound(p, file) })
	})
}

// hostRoute runs add, which adds rt in n; on the real machine rt carries
// the lab's protocol mark, by which clean knows it.
func (l *Lab) hostRoute(n *Netns, rt *netlink.Route, add func() error) error {
	n.routesCustom = true
	if l.journaled(n) {
		rt.Protocol = hostjournal.RouteProto
	}
	e := hostjournal.Entry{Kind: hostjournal.Route, Family: rt.Family, Dev: rt.LinkIndex, Metric: rt.Priority}
	if rt.Dst != nil {
		e.Dst = rt.Dst.String()
	}
	if rt.Gw != nil {
		e.Via = rt.Gw.String()
	}
	return l.hostChange(n, e, add)
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
	return l.hostChange(lk.ns, hostjournal.Entry{Kind: hostjournal.Addr, Name: lk.name, Index: idx, Dst: p.String()}, add)
}

// hostQdisc runs set, which replaces the root qdisc of lk (index idx)
// with the lab's impairment. On a link the lab found (in the host, or a
// namespace opened with existing=True) rather than made, the change is
// journaled; undo and clean delete the lab's root qdisc, and the kernel's
// default queue takes over. The lab's own links there take theirs along
// when clean deletes them; the lab's undo clears it first all the same.
func (l *Lab) hostQdisc(lk *Link, idx int, set func() error) error {
	if !l.journaled(lk.ns) || lk.adopted {
		return l.hostChange(lk.ns, hostjournal.Entry{Kind: hostjournal.Qdisc, Name: lk.name, Index: idx}, set)
	}
	if err := set(); err != nil {
		return err
	}
	l.onUndo("clear impairment of "+lk.name, func() error { return lk.deleteRoot(idx) })
	return nil
}
