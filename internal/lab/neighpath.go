package lab

import (
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// prepareNeigh makes sure, in static mode, that the path of a probe from src
// to dst and the path of its reply have permanent neighbour entries. Hops it
// cannot work out (a device the lab did not make, NAT, a tunnel) are left to
// ARP. Every probe calls it, through beforeProbe. It is safe for concurrent
// use by probes: those that wait for the lock meanwhile are prepared
// together by whichever gets it first (see nlbatch.go).
func (l *Lab) prepareNeigh(src *Netns, dst netip.Addr) {
	if !dst.Is4() || l.opts.Neigh == NeighARP {
		return
	}
	s := &l.neigh
	s.pendMu.Lock()
	s.pending = append(s.pending, walkKey{src, dst})
	s.pendMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pendMu.Lock()
	n := min(len(s.pending), maxTogether)
	batch := append([]walkKey(nil), s.pending[:n]...)
	s.pending = append(s.pending[:0], s.pending[n:]...)
	s.pendMu.Unlock()
	l.refreshView()
	if !s.static {
		return
	}
	// This probe's own walk may have been taken by an earlier holder of
	// the lock, under a view that has changed since: walk it again (free
	// if it is still remembered).
	l.prepareAll(append(batch, walkKey{src, dst}))
}

// maxTogether bounds how many waiting probes one holder of the lock
// prepares: the one that holds it keeps its own probe waiting for all of
// them, and they all start together once it is done. A namespace's one
// reader then competes with them for the CPU, and a reply it reads late
// counts as late (see BENCHMARKS.md). A cap of 128 left most writes
// with two or three requests (probes start in no particular order, and
// each write is for one namespace): 1,130 writes for the 2,500 lookups of
// a mesh of 50, against about 300 with this one.
const maxTogether = 1024

// prepareAll prepares the paths of probes (source, destination), and of
// their replies, together. neigh.mu is held.
func (l *Lab) prepareAll(probes []walkKey) {
	ends := l.walkAll(probes)
	var back []walkKey
	for _, end := range ends {
		if end.ns != nil && end.src.IsValid() {
			back = append(back, walkKey{end.ns, end.src})
		}
	}
	l.walkAll(back)
	l.flushNeigh()
}

// walkAll follows the kernel's routes from each key's namespace towards its
// destination, one namespace at a time, queueing a permanent entry for each
// next hop, and returns where each walk ended. All walks take their next
// step together: the lookups of one step go to each namespace in one write.
// The rest of a walk from the namespace of the next hop on is itself a walk
// to the destination, remembered like the whole one: in a mesh, the walk
// from b to a's address is the reply path of a's probe to b and the path of
// b's probe to a, and every probe to a ends with the same lookup in a. Each
// (namespace, destination) costs one route lookup per view of the lab, not
// one per probe. A walk longer than maxHops is cut and not remembered.
func (l *Lab) walkAll(keys []walkKey) []walkEnd {
	if out, ok := l.walkedAll(keys); ok {
		return out
	}
	return l.walkNew(keys)
}

// walkedAll returns where each key's walk ended when none needs a route
// lookup: each is remembered or cannot be walked (no namespace or handle).
// Most probes find their paths walked by an earlier holder of the lock;
// kept apart from walkNew, whose frame is big, this is all they run.
func (l *Lab) walkedAll(keys []walkKey) ([]walkEnd, bool) {
	out := make([]walkEnd, len(keys))
	for i, k := range keys {
		end, ok := l.neigh.walked[k]
		if !ok && k.ns != nil && k.ns.h != nil {
			return nil, false
		}
		out[i] = end
	}
	return out, true
}

// walkNew is walkAll for keys of which some are not remembered.
func (l *Lab) walkNew(keys []walkKey) []walkEnd {
	s := &l.neigh
	first := map[walkKey]walkEnd{} // each looked-up key's own hop
	next := map[walkKey]walkKey{}  // the walk that continues it
	var step []walkKey
	queued := map[walkKey]bool{}
	add := func(k walkKey) {
		if _, done := s.walked[k]; !done && !queued[k] && k.ns != nil && k.ns.h != nil {
			queued[k] = true
			step = append(step, k)
		}
	}
	for _, k := range keys {
		add(k)
	}
	for hops := 0; hops < maxHops && len(step) > 0; hops++ {
		cur, answers := step, l.lookupAll(step)
		step = nil
		for i, k := range cur {
			r, end := answers[i], walkEnd{}
			if r.ok {
				end.src = r.src
				if r.local {
					end.ns = k.ns
				} else if target := l.nextHop(k.ns, k.dst, r); target != nil {
					next[k] = walkKey{target.ns, k.dst}
					add(next[k])
				}
			}
			first[k] = end
		}
	}
	visiting := map[walkKey]bool{}
	var finish func(k walkKey) (ns *Netns, cut bool)
	finish = func(k walkKey) (*Netns, bool) {
		if end, ok := s.walked[k]; ok {
			return end.ns, false
		}
		end, looked := first[k]
		switch {
		case !looked:
			return nil, true // beyond maxHops
		case end.ns != nil:
			return end.ns, false
		case visiting[k]:
			return nil, false // a routing loop ends here
		}
		nk, ok := next[k]
		if !ok {
			return nil, false
		}
		visiting[k] = true
		defer delete(visiting, k)
		return finish(nk)
	}
	ends := map[walkKey]walkEnd{}
	for k, end := range first {
		ns, cut := finish(k)
		ends[k] = walkEnd{ns, end.src}
		if !cut {
			s.walked[k] = ends[k]
		}
	}
	out := make([]walkEnd, len(keys))
	for i, k := range keys {
		if end, ok := s.walked[k]; ok {
			out[i] = end
		} else {
			out[i] = ends[k]
		}
	}
	return out
}

// lookupAll finds each key's namespace's route to the key's destination:
// from the lab's model where it knows every route there (routemodel.go),
// else from the kernel, the keys of one namespace in one write.
func (l *Lab) lookupAll(keys []walkKey) []routeAnswer {
	out := make([]routeAnswer, len(keys))
	byNS := map[*Netns][]int{}
	var order []*Netns
	for i, k := range keys {
		if a, ok := l.modelRoute(k.ns, k.dst); ok {
			out[i] = a
			l.neigh.modelled++
			continue
		}
		if byNS[k.ns] == nil {
			order = append(order, k.ns)
		}
		byNS[k.ns] = append(byNS[k.ns], i)
	}
	wb, rb := l.neigh.buffers()
	for _, ns := range order {
		idx := byNS[ns]
		dsts := make([]netip.Addr, len(idx))
		for j, i := range idx {
			dsts[j] = keys[i].dst
		}
		l.neigh.lookups += len(dsts)
		l.neigh.writes++
		for j, a := range routeGetMany(ns, dsts, wb, rb) {
			out[idx[j]] = a
		}
	}
	return out
}

// nextHop queues the permanent entry for route r's next hop from ns
// towards dst and returns the link that has the next hop's address, or nil
// where the lab cannot tell.
func (l *Lab) nextHop(ns *Netns, dst netip.Addr, r routeAnswer) *Link {
	nh := dst
	if r.gw.IsValid() {
		nh = r.gw
	}
	oif := l.linkAt(ns, r.oif)
	if oif == nil {
		return nil
	}
	target := l.ownerOn(nh, l.neigh.segment[oif], oif)
	if target != nil {
		l.installNeigh(ns, oif, nh, target)
	}
	return target
}

// linkAt returns the lab's link with interface index idx in ns, or nil.
func (l *Lab) linkAt(ns *Netns, idx int) *Link {
	m := l.neigh.byIndex[ns]
	if m == nil {
		m = map[int]*Link{}
		for _, lk := range ns.order {
			if lk.index != 0 {
				m[lk.index] = lk
			}
		}
		l.neigh.byIndex[ns] = m
	}
	if lk := m[idx]; lk != nil {
		return lk
	}
	nl, err := ns.h.LinkByIndex(idx)
	if err != nil {
		return nil
	}
	lk := ns.links[nl.Attrs().Name]
	if lk != nil && lk.index == 0 {
		lk.index = idx
		m[idx] = lk
	}
	if lk != nil && lk.index == idx {
		return lk
	}
	return nil
}

// ownerOn returns the link that has address a on the segment seg (not from,
// the link the packet leaves by), or nil if none or more than one has it.
func (l *Lab) ownerOn(a netip.Addr, seg int, from *Link) *Link {
	var found *Link
	for _, lk := range l.neigh.owners[a] {
		if lk == from || l.neigh.segment[lk] != seg {
			continue
		}
		if found != nil {
			return nil // the same address twice on one segment: let ARP decide
		}
		found = lk
	}
	return found
}

// installNeigh adds a permanent entry in ns: addr is at target's MAC, out of
// oif. Only namespaces the lab created get entries (a --host run must leave
// the real host's table alone).
func (l *Lab) installNeigh(ns *Netns, oif *Link, addr netip.Addr, target *Link) {
	if ns.Existing || (l.opts.HostMode && ns == l.Host) {
		return
	}
	mac := target.mac
	if mac == nil {
		nl, err := target.ns.h.LinkByName(target.name)
		if err != nil {
			return
		}
		mac = nl.Attrs().HardwareAddr
		target.mac = mac
	}
	key := neighKey{ns, oif.index, addr}
	if l.neigh.installed[key] == mac.String() {
		return
	}
	l.neigh.installed[key] = mac.String() // until flushNeigh finds it failed
	l.queueNeigh(ns, key, &netlink.Neigh{
		LinkIndex:    oif.index,
		Family:       unix.AF_INET,
		State:        netlink.NUD_PERMANENT,
		IP:           net.IP(addr.AsSlice()),
		HardwareAddr: mac,
	})
	l.teachBridges(target, mac)
}

// queuedNeigh is an entry waiting for flushNeigh; key is set for the
// entries the lab remembers as installed.
type queuedNeigh struct {
	key   *neighKey
	entry *netlink.Neigh
}

func (l *Lab) queueNeigh(ns *Netns, key neighKey, e *netlink.Neigh) {
	s := &l.neigh
	if s.queue == nil {
		s.queue = map[*Netns][]queuedNeigh{}
	}
	if s.queue[ns] == nil {
		s.queueOrder = append(s.queueOrder, ns)
	}
	q := queuedNeigh{entry: e}
	if key.ns != nil {
		q.key = &key
	}
	s.queue[ns] = append(s.queue[ns], q)
}

// flushNeigh installs the queued entries, those of one namespace in one
// write. neigh.mu is held.
func (l *Lab) flushNeigh() {
	s := &l.neigh
	wb, rb := s.buffers()
	for _, ns := range s.queueOrder {
		q := s.queue[ns]
		entries := make([]*netlink.Neigh, len(q))
		for i, e := range q {
			entries[i] = e.entry
		}
		s.writes++
		for i, err := range neighSetMany(ns, entries, wb, rb) {
			if err != nil && q[i].key != nil {
				delete(s.installed, *q[i].key)
			}
		}
	}
	s.queue, s.queueOrder = nil, nil
}

// teachBridges gives every bridge on target's segment a static forwarding
// entry for target's MAC. Without ARP, no frame from target has taught a
// bridge where it is, and the bridge floods each unknown unicast frame to all
// its ports: with a thousand ports, that is most of a probe's cost.
func (l *Lab) teachBridges(target *Link, mac net.HardwareAddr) {
	s := &l.neigh
	if s.fdbDone[target] {
		return
	}
	s.fdbDone[target] = true
	// Walk from bridge to bridge (across veths between them); the port by
	// which the walk enters a bridge is the one that leads back to target.
	type hop struct{ br, port *Link }
	var queue []hop
	seen := map[*Link]bool{}
	enter := func(br, port *Link) {
		if br != nil && !seen[br] {
			seen[br] = true
			queue = append(queue, hop{br, port})
		}
	}
	if target.kind == "bridge" {
		enter(target, nil)
	}
	enter(target.master, target)
	if target.peer != nil {
		enter(target.peer.master, target.peer)
	}
	for len(queue) > 0 {
		h := queue[0]
		queue = queue[1:]
		if h.port != nil && h.port.index != 0 && !h.br.ns.Existing && !(l.opts.HostMode && h.br.ns == l.Host) {
			l.queueNeigh(h.br.ns, neighKey{}, &netlink.Neigh{
				LinkIndex:    h.port.index,
				Family:       unix.AF_BRIDGE,
				Flags:        netlink.NTF_MASTER,
				State:        netlink.NUD_NOARP,
				HardwareAddr: mac,
			})
		}
		for _, p := range s.trunks[h.br] {
			if p != h.port {
				enter(p.peer.master, p.peer)
			}
		}
	}
}
