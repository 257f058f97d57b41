package lab

import (
	"context"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// SettleTimeout bounds how long Settle waits for links to come up.
const SettleTimeout = 3 * time.Second

// markPending notes a link that was set up (or re-attached) and may not be
// carrying packets yet, together with every link whose carrier follows its
// own (carrierFollowers): those may not carry packets yet either.
func (l *Lab) markPending(lk *Link) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for x := range l.carrierFollowers(lk) {
		l.pending[x] = true
	}
}

// carrierFollowers returns lk and the links whose carrier the kernel moves
// when lk's moves, transitively: a veth's peer, a port's bridge, the upper
// devices on a link (macvlans), and so on from each of them. A bridge
// two hops away counts: moving a veth end into another namespace takes
// the carrier of its peer in the host, and so of the bridge that peer is a
// port of; the kernel then deactivates that bridge's queue, and brings it
// back only some time after the carrier returns. Not waiting for it let a
// probe from the bridge's namespace lose its ARP request and reply
// (make stress: netns-bridges.star, host -> 10.1.0.10). l.mu is held.
func (l *Lab) carrierFollowers(lk *Link) map[*Link]bool {
	seen := map[*Link]bool{}
	next := []*Link{lk}
	for len(next) > 0 {
		x := next[len(next)-1]
		next = next[:len(next)-1]
		if x == nil || seen[x] {
			continue
		}
		seen[x] = true
		next = append(next, x.peer, x.master)
		next = append(next, l.children(x, "")...)
	}
	return seen
}

// unmarkPending forgets a deleted link: there is nothing to wait for.
func (l *Lab) unmarkPending(lk *Link) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.pending, lk)
}

// canComeUp reports whether the kernel will bring lk's carrier up: a veth
// needs its peer up, a macvlan its parent, a bridge at least one live port.
// Links that cannot come up are not waited for (a script may set a link
// down on purpose to show that traffic stops).
func (l *Lab) canComeUp(lk *Link, depth int) bool {
	if !lk.up || depth > 8 {
		return false
	}
	switch {
	case lk.peer != nil:
		return lk.peer.up
	case lk.kind == "tap" || lk.kind == "tun" || lk.kind == "tuntap":
		return false // no carrier until a program opens the device
	case lk.parent != nil:
		return l.canComeUp(lk.parent, depth+1)
	case lk.kind == "bridge":
		for _, p := range lk.ns.order {
			if p.master == lk && l.canComeUp(p, depth+1) {
				return true
			}
		}
		return false
	}
	return true
}

// Settle waits until every link that was set up since the last call carries
// packets: its operational state is up and it has a carrier (carrying: the
// kernel has activated its queue), the links whose carrier follows it are
// ready too (carrierFollowers), and its IPv6 addresses are usable
// (unreadyLinks). A probe right after link-up
// otherwise loses its first packet (or, worse, the ARP request it triggers,
// which the kernel retries only a second later). Concurrent probes each call
// it: one that finds nothing new still waits for the links an earlier call
// is waiting for. It never waits longer than SettleTimeout (per call).
func (l *Lab) Settle(ctx context.Context) {
	if l.opts.Plan {
		return
	}
	l.mu.Lock()
	// Links another Settle took are not ready either until it is done
	// (settled changes l.settling in place: copy it).
	var earlier []chan struct{}
	if len(l.settling) > 0 {
		earlier = append(earlier, l.settling...)
	}
	if len(l.pending) == 0 {
		// Every probe passes here: nothing to allocate when nothing changed.
		l.mu.Unlock()
		waitSettled(ctx, earlier)
		return
	}
	l.settlePending(ctx, earlier)
}

// settlePending is Settle when links are pending, entered with l.mu held.
// Apart from Settle, so that the fast path every probe takes has a small
// frame (a probe's goroutine would grow its stack for this one).
func (l *Lab) settlePending(ctx context.Context, earlier []chan struct{}) {
	byNS := map[*Netns][]*Link{}
	for lk := range l.pending {
		if l.canComeUp(lk, 0) {
			byNS[lk.ns] = append(byNS[lk.ns], lk)
		}
	}
	l.pending = map[*Link]bool{}
	done := make(chan struct{})
	l.settling = append(l.settling, done)
	l.mu.Unlock()
	defer waitSettled(ctx, earlier)
	defer l.settled(done)
	if len(byNS) == 0 {
		return
	}
	if l.probed.Load() {
		defer flushUnresolved(byNS)
	}
	waiting := map[*Netns][]*Link{}
	for ns, links := range byNS {
		waiting[ns] = append([]*Link(nil), links...)
	}
	deadline := time.Now().Add(SettleTimeout)
	delay := 500 * time.Microsecond
	rb := make([]byte, 1<<16)
	for len(waiting) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		for ns, links := range waiting {
			if ns.fd < 0 {
				delete(waiting, ns)
				continue
			}
			notReady, err := unreadyLinks(ns, rb)
			if err != nil {
				delete(waiting, ns)
				continue
			}
			rest := links[:0]
			for _, lk := range links {
				if notReady[lk.name] {
					rest = append(rest, lk)
				}
			}
			if len(rest) == 0 {
				delete(waiting, ns)
			} else {
				waiting[ns] = rest
			}
		}
		if len(waiting) > 0 {
			time.Sleep(delay)
			if delay < 20*time.Millisecond {
				delay *= 2
			}
		}
	}
}

// settled ends the Settle that done stands for.
func (l *Lab) settled(done chan struct{}) {
	l.mu.Lock()
	for i, ch := range l.settling {
		if ch == done {
			l.settling = append(l.settling[:i], l.settling[i+1:]...)
			break
		}
	}
	l.mu.Unlock()
	close(done)
}

// waitSettled waits until every Settle of chans is done, or ctx ends.
func waitSettled(ctx context.Context, chans []chan struct{}) {
	for _, ch := range chans {
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
}

// carrying reports whether a link's state says it carries packets: its
// operational state is up (or unknown: the kernel has not looked at it
// since it came up, as for a new bridge) and it has a carrier now.
//
// The operational state alone can be stale. The kernel moves it, and
// activates or deactivates the link's queue (the noop qdisc drops every
// packet), in its linkwatch work, which runs some time after a carrier
// change. A bridge whose first port is added before that port's carrier is
// seen loses its own carrier for a moment; until linkwatch runs, it still
// says up (or unknown), and when linkwatch then runs before the port is
// forwarding, it deactivates the bridge's queue and reports it down. A
// probe let through on the stale state had its ARP reply dropped by the
// bridge's noop qdisc (make stress: macvlan_bridge's c1 -> 192.168.1.1
// failed with the bridge's tx_dropped at 2) and waited for the kernel's
// ARP retry a second later. With the carrier required too, Settle waits
// until linkwatch has settled the link.
func carrying(ls linkState) bool {
	return (ls.oper == netlink.OperUp || ls.oper == netlink.OperUnknown) && ls.flags&unix.IFF_LOWER_UP != 0
}

// bridgesWithMAC returns the names of ns's bridges that the lab made. The
// lab gives every bridge its own MAC address when it creates it, and a
// bridge made with an address drops its carrier at once (the kernel
// recomputes its bridge id and finds no forwarding port), so its queue is
// not activated when it comes up: only the kernel's linkwatch work does
// that, once a port forwards, and only then does the bridge's state leave
// "unknown". Until then it can show a carrier (from its port) and "unknown"
// while it drops every frame it sends: ARP replies to a macvlan behind it
// were lost that way (make stress, macvlan-bridge.star, 4 runs in 150 under
// load, each with "state UNKNOWN" and a carrier in `ip monitor` until
// after the failed probe). For these bridges only "up" is ready. A bridge
// made by a program may keep "unknown" for good (made without an address,
// its carrier never changes), so the rule is not applied to it.
func bridgesWithMAC(ns *Netns) map[string]bool {
	m := map[string]bool{}
	for _, lk := range ns.order {
		if lk.kind == "bridge" && !lk.adopted {
			m[lk.name] = true
		}
	}
	return m
}

// unreadyLinks returns the names of ns's links that do not carry packets
// yet: their operational state is not up or they have no carrier
// (carrying), or, where ns has IPv6 addresses,
// one of their IPv6 addresses is still tentative (duplicate address
// detection has not finished) or its solicited-node multicast group not
// joined yet (ndready.go), or a link with IPv6 has no link-local yet. A
// tentative address is not usable: a link whose link-local is tentative
// sends no neighbour solicitation, so a router cannot forward to its
// neighbours. Lab namespaces turn DAD off for their links (setupFresh);
// links of the real host (--host) and of namespaces where a script turned
// it on are waited for here.
func unreadyLinks(ns *Netns, rb []byte) (map[string]bool, error) {
	links, err := linkStates(ns, rb)
	if err != nil {
		if links, err = listLinkStates(ns); err != nil {
			return nil, err
		}
	}
	strict := bridgesWithMAC(ns)
	if !ns.hasIPv6() {
		return unready(links, strict, nil, nil, nil), nil
	}
	addrs, err := ns.h.AddrList(nil, netlink.FAMILY_V6)
	if err != nil {
		return nil, err
	}
	// Read after the addresses: a group joined meanwhile is still seen.
	joined, err := groups6(ns, rb)
	if err != nil {
		joined = nil // no batch socket: the groups cannot be checked
	}
	wantLL := map[string]bool{}
	for _, lk := range ns.order {
		if hasIPv6(lk) {
			wantLL[lk.name] = true
		}
	}
	return unready(links, strict, addrs, joined, wantLL), nil
}

// unready is unreadyLinks on what it read: the links, those of them that
// are ready only when their state says up (bridgesWithMAC), their IPv6
// addresses, the IPv6 multicast groups they joined (nil: unknown) and the
// links that get a link-local because the lab gave them IPv6.
func unready(links []linkState, strict map[string]bool, addrs []netlink.Addr, joined map[mcGroup]bool, wantLL map[string]bool) map[string]bool {
	m := map[string]bool{}
	byIndex := make(map[int]linkState, len(links))
	for _, ls := range links {
		byIndex[ls.index] = ls
		if !carrying(ls) || strict[ls.name] && ls.oper != netlink.OperUp {
			m[ls.name] = true
		}
	}
	usableLL := map[string]bool{}
	for _, a := range addrs {
		ls := byIndex[a.LinkIndex]
		switch {
		case a.Flags&unix.IFA_F_TENTATIVE != 0:
			if a.Flags&unix.IFA_F_DADFAILED == 0 {
				m[ls.name] = true
			}
			continue
		case a.IP.IsLinkLocalUnicast():
			usableLL[ls.name] = true
		}
		ip, ok := netip.AddrFromSlice(a.IP)
		// The kernel joins no solicited-node group on a link without
		// neighbour discovery (addrconf_join_solict).
		if ok && joined != nil && ls.flags&(unix.IFF_NOARP|unix.IFF_LOOPBACK) == 0 &&
			!joined[mcGroup{index: a.LinkIndex, group: solicitedNode(ip.Unmap())}] {
			m[ls.name] = true
		}
	}
	// The kernel makes a link's link-local address when the link's
	// carrier comes up, just after it reports the link up: until it is
	// there, the link is not ready either.
	for name := range wantLL {
		if !usableLL[name] {
			m[name] = true
		}
	}
	return m
}

// listLinkStates is linkStates through ns's handle, for a namespace
// without a batch socket.
func listLinkStates(ns *Netns) ([]linkState, error) {
	links, err := listLinks(ns.h)
	if err != nil {
		return nil, err
	}
	out := make([]linkState, len(links))
	for i, nl := range links {
		a := nl.Attrs()
		out[i] = linkState{index: a.Index, name: a.Name, oper: a.OperState, flags: a.RawFlags}
	}
	return out, nil
}

// hasIPv6 reports whether the lab gave lk an IPv6 address.
func hasIPv6(lk *Link) bool {
	for _, p := range lk.addrs {
		if p.Addr().Is6() {
			return true
		}
	}
	return false
}

// hasIPv6 reports whether a link of n has an IPv6 address the lab knows of.
func (n *Netns) hasIPv6() bool {
	for _, lk := range n.order {
		if hasIPv6(lk) {
			return true
		}
	}
	return false
}

// flushUnresolved deletes the neighbour entries that are still resolving or
// failed on links that just came back. While a link had no carrier, probes
// left such entries behind, and the kernel retries them only on its own
// timer (a second); a fresh lookup answers in microseconds.
func flushUnresolved(byNS map[*Netns][]*Link) {
	for ns, links := range byNS {
		if ns.h == nil {
			continue
		}
		idx := map[int]bool{}
		for _, lk := range links {
			if i, err := lk.Index(); err == nil {
				idx[i] = true
			}
		}
		neighs, err := ns.h.NeighList(0, 0)
		if err != nil {
			continue
		}
		for _, nb := range neighs {
			if idx[nb.LinkIndex] && nb.State&(netlink.NUD_INCOMPLETE|netlink.NUD_FAILED) != 0 {
				n := nb
				_ = ns.h.NeighDel(&n)
			}
		}
	}
}
