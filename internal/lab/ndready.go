package lab

import (
	"net/netip"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// A neighbour solicitation for an IPv6 address goes to the address's
// solicited-node multicast group (ff02::1:ffXX:XXXX, RFC 4291 2.7.1), and
// the receiving kernel drops it unless the link has joined that group
// (ip6_mc_input). The kernel joins it in addrconf_dad_begin, on its addrconf
// workqueue, which takes the RTNL lock: also for an address added with
// IFA_F_NODAD, which is never tentative, so that address is usable before
// anyone can resolve it. Under load the work runs late, and a probe's first
// solicitation is lost; the sender retries only a second later, when a
// probe with the default timeout has given up. Settle waits for the groups
// too (unreadyLinks).
//
// The kernel's other groups that neighbour discovery needs are joined
// without delay: all-nodes when the link gets IPv6 (ipv6_add_dev), and
// all-routers when forwarding is turned on (the sysctl's write), so these
// need no wait.

// mcGroup is a link's membership of an IPv6 multicast group.
type mcGroup struct {
	index int // the link's
	group netip.Addr
}

// solicitedNode returns the solicited-node multicast group of a.
func solicitedNode(a netip.Addr) netip.Addr {
	b := a.As16()
	return netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 11: 0x01, 12: 0xff, 13: b[13], 14: b[14], 15: b[15]})
}

// groups6 lists the IPv6 multicast groups that ns's links have joined, on
// ns's batch socket (rb holds each read).
func groups6(ns *Netns, rb []byte) (map[mcGroup]bool, error) {
	m := map[mcGroup]bool{}
	err := dumpBatch(ns, rb, groups6Req, func() { clear(m) }, func(typ uint16, b []byte) {
		if typ == unix.RTM_GETMULTICAST || typ == unix.RTM_NEWMULTICAST {
			if g, ok := parseGroup6(b); ok {
				m[g] = true
			}
		}
	})
	return m, err
}

// groups6Req asks for every IPv6 multicast group of every link (the
// kernel's inet6_dump_ifmcaddr answers).
func groups6Req() *nl.NetlinkRequest {
	req := nl.NewNetlinkRequest(unix.RTM_GETMULTICAST, unix.NLM_F_DUMP)
	req.AddData(nl.NewIfAddrmsg(unix.AF_INET6))
	return req
}

// parseGroup6 reads a link's index and group from the payload of an
// answer to groups6Req: an ifaddrmsg and the IFA_MULTICAST attribute.
func parseGroup6(b []byte) (mcGroup, bool) {
	if len(b) < unix.SizeofIfAddrmsg || b[0] != unix.AF_INET6 {
		return mcGroup{}, false
	}
	g := mcGroup{index: int(nl.NativeEndian().Uint32(b[4:8]))}
	eachAttr(b[unix.SizeofIfAddrmsg:], func(typ uint16, v []byte) {
		if typ == unix.IFA_MULTICAST && len(v) == 16 {
			g.group = netip.AddrFrom16([16]byte(v))
		}
	})
	return g, g.group.IsValid()
}
