package lab

import (
	"errors"
	"fmt"
)

// checkLive reports a namespace that a script deleted.
func (n *Netns) checkLive() error {
	if n.deleted != "" {
		return fmt.Errorf("netns %q was deleted at %s", n.Name, n.deleted)
	}
	return nil
}

// Deleted returns where the namespace was deleted, or "".
func (n *Netns) Deleted() string { return n.deleted }

// checkLive reports a link that was deleted, itself or with its namespace.
func (lk *Link) checkLive() error {
	if lk.deleted != "" {
		return fmt.Errorf("link %s of netns %q was deleted at %s", lk.name, lk.ns.Name, lk.deleted)
	}
	return lk.ns.checkLive()
}

// CheckLive returns an error naming where the link (or its namespace) was
// deleted, or nil while it exists.
func (lk *Link) CheckLive() error { return lk.checkLive() }

// CheckLive returns an error naming where the namespace was deleted, or nil.
func (n *Netns) CheckLive() error { return n.checkLive() }

// Delete removes the link (and, for a veth, its peer).
func (lk *Link) Delete() error {
	n := lk.ns
	if err := lk.checkLive(); err != nil {
		return err
	}
	err := n.lab.apply(Step{NS: n.Name, Op: "link del", Desc: fmt.Sprintf("delete %s in %s", lk.name, n.Name),
		Cmds: []string{ipn(n) + " link del " + shellQuote(lk.name)}}, func() error {
		ref, err := lk.ref()
		if err != nil {
			return err
		}
		return n.h.LinkDel(ref)
	})
	if err != nil {
		return fmt.Errorf("delete %s in netns %q: %w", lk.name, n.Name, err)
	}
	lk.forget()
	if p := lk.peer; p != nil {
		p.forget()
	}
	n.lab.forgetChildren(func(c *Link) bool { return c.parent == lk })
	return nil
}

// forget takes the link out of the model and marks it deleted here.
func (lk *Link) forget() {
	lk.ns.removeLink(lk)
	lk.deleted = posOr(lk.ns.lab.pos)
	lk.ns.lab.unmarkPending(lk)
	for _, p := range lk.ns.order {
		if p.master == lk {
			p.master = nil // the kernel detaches a deleted bridge's ports
		}
	}
}

// forgetChildren takes the links that gone(link) says the kernel removed
// with another (macvlans, vlans of a deleted parent) out of the model.
func (l *Lab) forgetChildren(gone func(*Link) bool) {
	for _, n := range l.order {
		for _, c := range n.Links() {
			if gone(c) {
				c.forget()
			}
		}
	}
}

// Delete removes the namespace, as `ip netns del` does: the links in it go
// with it, and so do veth peers and macvlans in other namespaces whose
// other end or parent was in it, at once. Programs and servers still running
// in it keep the kernel's namespace alive until they end, but the lab no
// longer knows it: later use of it, or of its links, is an error.
func (n *Netns) Delete() error {
	l := n.lab
	switch {
	case n == l.Host:
		return errors.New("the host namespace cannot be deleted")
	case n.Existing:
		return fmt.Errorf("netns %q was opened with existing=True: delete it the way it was made", n.Name)
	case l.opts.HostMode:
		return errors.New("with --host, the lab's namespaces are deleted when the run ends")
	}
	if err := n.checkLive(); err != nil {
		return err
	}
	// Links elsewhere that depend on n's: deleting them first makes the
	// kernel's (asynchronous) namespace teardown match the model at once.
	var outside []*Link
	for _, m := range l.order {
		for _, c := range m.order {
			if m != n && ((c.peer != nil && c.peer.ns == n) || (c.parent != nil && c.parent.ns == n)) {
				outside = append(outside, c)
			}
		}
	}
	err := l.apply(Step{NS: n.Name, Op: "netns del", Desc: "delete namespace " + n.Name,
		Cmds: []string{"ip netns del " + shellQuote(n.Name)}}, func() error {
		for _, c := range outside {
			if err := delLinkByName(c.ns, c.name); err != nil {
				return fmt.Errorf("delete %s in netns %q: %w", c.name, c.ns.Name, err)
			}
		}
		return n.unbind()
	})
	if err != nil {
		return fmt.Errorf("delete netns %q: %w", n.Name, err)
	}
	for _, c := range outside {
		c.forget()
	}
	for _, lk := range n.Links() {
		lk.forget()
	}
	n.deleted = posOr(l.pos)
	n.close()
	delete(l.byName, n.Name)
	for i, x := range l.order {
		if x == n {
			l.order = append(l.order[:i], l.order[i+1:]...)
			break
		}
	}
	l.objects--
	return nil
}

// added is what a route or rule the lab added keeps to delete it again.
type added struct {
	NS      *Netns
	Pos     string // where the script added it
	kind    string // "route" or "rule"
	fam     int
	words   string // the iproute2 words after "ip route add" or "ip rule add"
	deleted string // where it was deleted, once it was
}

// String describes the route or rule as iproute2 writes it, with its
// namespace.
func (a *added) String() string { return a.words + " in " + a.NS.Name }

// Deleted returns where it was deleted, or "".
func (a *added) Deleted() string { return a.deleted }

// remove deletes it with del, once, as a step ("ip route del ...").
func (a *added) remove(del func() error) error {
	n := a.NS
	if a.deleted != "" {
		return fmt.Errorf("%s %s was already deleted at %s", a.kind, a, a.deleted)
	}
	if err := n.checkLive(); err != nil {
		return err
	}
	cmd := ipFam(n, a.fam) + " " + a.kind + " del " + a.words
	err := n.lab.apply(Step{NS: n.Name, Op: a.kind + " del", Desc: a.kind + " del " + a.String(), Cmds: []string{cmd}}, del)
	if err != nil {
		return fmt.Errorf("delete %s %s: %w", a.kind, a, err)
	}
	a.deleted = posOr(n.lab.pos)
	return nil
}
