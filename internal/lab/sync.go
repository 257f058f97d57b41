package lab

import (
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
)

// Sync makes the model match the kernel after changes made outside the
// script: by hand with ip in a paused lab's shell, or by programs. In every
// namespace of the lab, a link that is gone is forgotten (one moved to
// another namespace is forgotten there and adopted where it is now), a
// renamed one is renamed, a new one is adopted, and every link's up state,
// addresses, bridge master, veth peer and lower device are read again. The
// namespaces are the lab's own: one made outside it is not seen. Nothing
// else may use the lab meanwhile.
func (l *Lab) Sync() error {
	if l.opts.Plan {
		return nil
	}
	kernel := map[*Netns][]netlink.Link{}
	for _, n := range l.order {
		links, err := listLinks(n.h)
		if err != nil {
			return fmt.Errorf("read links of netns %q: %w", n.Name, err)
		}
		kernel[n] = links
	}
	byIndex := map[*Netns]map[int]*Link{}
	for _, n := range l.order {
		byIndex[n] = n.syncLinks(kernel[n])
	}
	ids := map[*Netns]map[int]*Netns{}
	for _, n := range l.order {
		for _, nl := range kernel[n] {
			lk := byIndex[n][nl.Attrs().Index]
			if lk == nil {
				continue // lo
			}
			l.syncRelations(n, lk, nl, byIndex, ids)
		}
	}
	l.neigh.mu.Lock()
	l.neigh.gen++ // the topology may have changed: neigh.go recomputes its view
	l.neigh.mu.Unlock()
	return nil
}

// syncLinks matches the namespace's model links with the kernel's, by
// index (or name, for a link whose index was never read): it forgets the
// ones that are gone, renames the renamed and adopts the new. It returns
// the model's links by index.
func (n *Netns) syncLinks(links []netlink.Link) map[int]*Link {
	have := map[int]netlink.Link{}
	for _, nl := range links {
		have[nl.Attrs().Index] = nl
	}
	idx := map[int]*Link{}
	for _, lk := range n.Links() {
		var nl netlink.Link
		if lk.index != 0 {
			nl = have[lk.index]
		} else if i := slices.IndexFunc(links, func(x netlink.Link) bool { return x.Attrs().Name == lk.name }); i >= 0 {
			nl = links[i]
		}
		if nl == nil {
			lk.forget()
			continue
		}
		a := nl.Attrs()
		lk.index = a.Index
		if a.Name != lk.name {
			delete(n.links, lk.name)
			lk.name = a.Name
			n.links[lk.name] = lk
		}
		idx[a.Index] = lk
	}
	for _, nl := range links {
		if a := nl.Attrs(); a.Name != "lo" && idx[a.Index] == nil {
			idx[a.Index] = n.adopt(nl)
		}
	}
	return idx
}

// syncRelations reads lk's state, addresses, master, peer and lower device
// from nl, its kernel link. ids caches each namespace's view of the others'
// netns ids.
func (l *Lab) syncRelations(n *Netns, lk *Link, nl netlink.Link, byIndex map[*Netns]map[int]*Link, ids map[*Netns]map[int]*Netns) {
	a := nl.Attrs()
	lk.up = a.Flags&net.FlagUp != 0
	lk.addrs = keepOrder(lk.addrs, n.kernelAddrs(nl))
	lk.master = byIndex[n][a.MasterIndex]
	if a.ParentIndex == 0 {
		return
	}
	where := n
	if a.NetNsID >= 0 {
		where = l.netnsByID(n, a.NetNsID, ids)
	}
	other := byIndex[where][a.ParentIndex]
	switch nl.Type() {
	case "veth":
		lk.peer = other
	case "macvlan", "macvtap", "ipvlan", "vlan":
		lk.parent = other
	}
}

// netnsByID returns the lab namespace that n knows by netns id id, or nil.
func (l *Lab) netnsByID(n *Netns, id int, ids map[*Netns]map[int]*Netns) *Netns {
	m, ok := ids[n]
	if !ok {
		m = map[int]*Netns{}
		for _, o := range l.order {
			if o != n {
				if got, err := n.h.GetNetNsIdByFd(o.fd); err == nil && got >= 0 {
					m[got] = o
				}
			}
		}
		ids[n] = m
	}
	return m[id]
}

// kernelAddrs returns nl's addresses as the kernel has them, without the
// kernel's link-local and loopback ones, which probes never stand for.
func (n *Netns) kernelAddrs(nl netlink.Link) []netip.Prefix {
	addrs, err := n.h.AddrList(nl, netlink.FAMILY_ALL)
	if err != nil {
		return nil
	}
	var out []netip.Prefix
	for _, ad := range addrs {
		if ad.IP.IsLinkLocalUnicast() || ad.IP.IsLoopback() {
			continue
		}
		if ip, ok := netip.AddrFromSlice(ad.IP); ok {
			ones, _ := ad.Mask.Size()
			out = append(out, netip.PrefixFrom(ip.Unmap(), ones))
		}
	}
	return out
}

// keepOrder returns now, the kernel's addresses of a link, with those the
// model had first, in the model's order (a namespace stands for its first
// address), then the new ones.
func keepOrder(had, now []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range had {
		if slices.Contains(now, p) {
			out = append(out, p)
		}
	}
	for _, p := range now {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}
