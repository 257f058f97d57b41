package lab

import (
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
)

// LinkStatus is a link as the kernel has it now, with its counters: what
// the live view of a paused lab shows.
type LinkStatus struct {
	LinkSnapshot
	// AdminUp tells whether the link is set up (State tells whether it
	// also carries traffic: a veth whose peer is down is "DOWN" too).
	AdminUp bool
	Stats   LinkCounters
}

// LinkCounters are a link's packet, byte, drop and error counters.
type LinkCounters struct {
	RxPackets, TxPackets, RxBytes, TxBytes   uint64
	RxDropped, TxDropped, RxErrors, TxErrors uint64
}

// LinkStatuses reads every link of the namespace from the kernel (those
// the lab did not make too, such as lo or one added by hand in a paused
// lab), in one dump of links and one of addresses.
func (n *Netns) LinkStatuses() ([]LinkStatus, error) {
	if n.h == nil {
		return nil, fmt.Errorf("read links of netns %q: no netlink handle", n.Name)
	}
	links, names, addrs, err := n.dumpLinks()
	if err != nil {
		return nil, err
	}
	out := make([]LinkStatus, 0, len(links))
	for _, nl := range links {
		a := nl.Attrs()
		st := LinkStatus{LinkSnapshot: readLink(n, nl, names, addrs[a.Index]), AdminUp: a.Flags&net.FlagUp != 0}
		if s := a.Statistics; s != nil {
			st.Stats = LinkCounters{s.RxPackets, s.TxPackets, s.RxBytes, s.TxBytes, s.RxDropped, s.TxDropped, s.RxErrors, s.TxErrors}
		}
		out = append(out, st)
	}
	return out, nil
}

// dumpLinks reads the namespace's links, their names by index and their
// addresses by link index. Addresses are one dump of all, not one per link
// (AddrList dumps them all and filters in this process anyway); where they
// cannot be read, the links come without them.
func (n *Netns) dumpLinks() ([]netlink.Link, map[int]string, map[int][]netlink.Addr, error) {
	links, err := listLinks(n.h)
	names := map[int]string{}
	for _, nl := range links {
		names[nl.Attrs().Index] = nl.Attrs().Name
	}
	addrs := map[int][]netlink.Addr{}
	if all, aerr := retryDump(func() ([]netlink.Addr, error) { return n.h.AddrList(nil, netlink.FAMILY_ALL) }); aerr == nil {
		for _, ad := range all {
			addrs[ad.LinkIndex] = append(addrs[ad.LinkIndex], ad)
		}
	}
	return links, names, addrs, err
}
