package lab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Snapshot is what a namespace looks like, as text for people: its links,
// addresses, routes, neighbours, key sysctls and nftables rules, read from
// the kernel (what a failed expectation's explanation shows).
type Snapshot struct {
	Name    string
	Dst     netip.Addr // the probe's destination, looked up in Lookup
	Lookup  string     // the route the kernel picks for Dst
	Gateway netip.Addr // its gateway, if any
	Dev     string     // the link it leaves by
	Links   []LinkSnapshot
	Routes  []string // as ip route prints them
	Neigh   []string // as ip neigh prints them
	Sysctls []string // KEY=VALUE
	// KeySysctls are the Sysctls a short explanation shows: forwarding,
	// and bridge netfilter where it is on.
	KeySysctls []string
	Nft        []string // per chain its rule count, then the lab's rules
	Errs       []string // what could not be read
}

// LinkSnapshot is one link of a Snapshot.
type LinkSnapshot struct {
	Name, Kind, State, MAC, Master, Peer string
	MTU                                  int
	Addrs                                []string // with "tentative" or "dadfailed" where so
	// RxDropped and TxDropped count the packets the link dropped (as ip -s
	// link shows them). Sent packets dropped by a link that is up point at
	// its queue: the kernel activates it (until then the noop qdisc drops
	// everything) only when its linkwatch work has seen the carrier.
	RxDropped, TxDropped uint64
}

// Snapshot reads the namespace from the kernel. dst, when valid, is looked
// up in its routing table.
func (n *Netns) Snapshot(dst netip.Addr) *Snapshot { return n.SnapshotFrom(dst, netip.Addr{}) }

// SnapshotFrom is Snapshot where the lookup of dst is for a packet from the
// source address from (a probe's src_addr), when valid: source-based
// routing rules then decide as they did for the probe.
func (n *Netns) SnapshotFrom(dst, from netip.Addr) *Snapshot {
	s := &Snapshot{Name: n.Name, Dst: dst}
	h := n.h
	if h == nil {
		s.Errs = append(s.Errs, "no netlink handle")
		return s
	}
	links, names, addrs, err := n.dumpLinks()
	if err != nil {
		s.Errs = append(s.Errs, "links: "+err.Error())
	}
	for _, nl := range links {
		s.Links = append(s.Links, readLink(n, nl, names, addrs[nl.Attrs().Index]))
	}
	if dst.IsValid() {
		s.Lookup, s.Gateway, s.Dev = lookupRoute(h, dst, from, names)
	}
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes, err := h.RouteList(nil, fam)
		if err != nil {
			s.Errs = append(s.Errs, "routes: "+err.Error())
		}
		for _, r := range routes {
			if fam == netlink.FAMILY_V6 && r.Dst != nil && r.Dst.IP.IsLinkLocalUnicast() {
				continue // fe80::/64 on every IPv6 link
			}
			s.Routes = append(s.Routes, routeText(r, names))
		}
		neighs, err := h.NeighList(0, fam)
		if err != nil {
			s.Errs = append(s.Errs, "neighbours: "+err.Error())
		}
		for _, nb := range neighs {
			if nb.State&netlink.NUD_NOARP != 0 || nb.IP.IsMulticast() {
				continue
			}
			s.Neigh = append(s.Neigh, neighText(nb, names))
		}
	}
	sort.Strings(s.Neigh)
	s.readSysctls(n)
	nft, err := nftRules(n)
	if err != nil {
		s.Errs = append(s.Errs, "nftables: "+err.Error())
	}
	s.Nft = nft
	return s
}

// readSysctls reads the settings that decide what the namespace passes on:
// IPv4 forwarding (and IPv6 forwarding, where it has IPv6 addresses), and,
// where it holds a bridge, whether bridged frames go through the IP
// firewall hooks (br_netfilter). s.KeySysctls gets the ones the terminal shows.
func (s *Snapshot) readSysctls(n *Netns) {
	v6, bridge := false, false
	for _, l := range s.Links {
		bridge = bridge || l.Kind == "bridge"
		if l.Name == "lo" {
			continue
		}
		for _, a := range l.Addrs {
			v6 = v6 || strings.Contains(a, ":") && !strings.HasPrefix(a, "fe80:")
		}
	}
	keys := []string{"net.ipv4.ip_forward"}
	if v6 {
		keys = append(keys, "net.ipv6.conf.all.forwarding")
	}
	if bridge {
		keys = append(keys, "net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables")
	}
	for _, key := range append(keys, "net.ipv4.conf.all.rp_filter") {
		v, err := n.ReadSysctl(key)
		if err != nil {
			continue // no br_netfilter: no bridge-nf keys
		}
		kv := key + "=" + strings.TrimSpace(v)
		s.Sysctls = append(s.Sysctls, kv)
		if strings.Contains(key, "forward") || strings.Contains(key, "bridge-nf") && v != "0" {
			s.KeySysctls = append(s.KeySysctls, kv)
		}
	}
}

func readLink(n *Netns, nl netlink.Link, names map[int]string, addrs []netlink.Addr) LinkSnapshot {
	a := nl.Attrs()
	li := LinkSnapshot{Name: a.Name, Kind: nl.Type(), MTU: a.MTU, MAC: a.HardwareAddr.String()}
	if st := a.Statistics; st != nil {
		li.RxDropped, li.TxDropped = st.RxDropped, st.TxDropped
	}
	switch {
	case a.Flags&net.FlagUp == 0:
		li.State = "DOWN"
	case a.OperState == netlink.OperUp:
		li.State = "UP"
	case a.OperState == netlink.OperUnknown:
		li.State = "UNKNOWN"
	default:
		li.State = strings.ToUpper(a.OperState.String())
	}
	if a.MasterIndex != 0 {
		li.Master = names[a.MasterIndex]
		if li.Master == "" {
			li.Master = fmt.Sprintf("if%d", a.MasterIndex)
		}
	}
	if lk := n.Link(a.Name); lk != nil && lk.Peer() != nil {
		li.Peer = lk.Peer().String()
	}
	for _, ad := range addrs {
		if text, ok := addrText(ad); ok {
			li.Addrs = append(li.Addrs, text)
		}
	}
	return li
}

// addrText writes an address with its prefix length, and "tentative" or
// "dadfailed" when duplicate address detection has not let it be used. An
// IPv6 link-local address is left out (every IPv6 link has one) unless it
// is not usable.
func addrText(ad netlink.Addr) (string, bool) {
	state := ""
	switch {
	case ad.Flags&unix.IFA_F_DADFAILED != 0:
		state = " dadfailed"
	case ad.Flags&unix.IFA_F_TENTATIVE != 0:
		state = " tentative"
	}
	if ad.IP.IsLinkLocalUnicast() && ad.IP.To4() == nil && state == "" {
		return "", false
	}
	return ad.IPNet.String() + state, true
}

// lookupRoute asks the kernel which route it would take to dst and
// returns it as text, with its gateway and the link it leaves by.
func lookupRoute(h *netlink.Handle, dst, from netip.Addr, names map[int]string) (string, netip.Addr, string) {
	what := "route to " + dst.String()
	o := &netlink.RouteGetOptions{}
	if from.IsValid() {
		what += " from " + from.String()
		o.SrcAddr = from.AsSlice()
	}
	rs, err := h.RouteGetWithOptions(dst.AsSlice(), o)
	if err != nil {
		var errno unix.Errno
		if errors.As(err, &errno) {
			return fmt.Sprintf("%s: none (%s)", what, errno.Error()), netip.Addr{}, ""
		}
		return fmt.Sprintf("%s: %v", what, err), netip.Addr{}, ""
	}
	if len(rs) == 0 {
		return what + ": none", netip.Addr{}, ""
	}
	r := rs[0]
	gw, _ := netip.AddrFromSlice(r.Gw)
	var w []string
	if r.Type == unix.RTN_LOCAL {
		w = append(w, "local")
	}
	if r.Gw != nil {
		w = append(w, "via "+r.Gw.String())
	}
	if r.LinkIndex != 0 {
		w = append(w, "dev "+names[r.LinkIndex])
	}
	if r.Src != nil {
		w = append(w, "src "+r.Src.String())
	}
	return what + ": " + strings.Join(w, " "), gw.Unmap(), names[r.LinkIndex]
}

// routeText writes a route as ip route does.
func routeText(r netlink.Route, names map[int]string) string {
	var w []string
	switch {
	case r.Type == unix.RTN_UNREACHABLE:
		w = append(w, "unreachable")
	case r.Type == unix.RTN_BLACKHOLE:
		w = append(w, "blackhole")
	case r.Type == unix.RTN_PROHIBIT:
		w = append(w, "prohibit")
	}
	if r.Dst == nil || r.Dst.IP.IsUnspecified() && isZeroMask(r.Dst.Mask) {
		w = append(w, "default")
	} else {
		w = append(w, r.Dst.String())
	}
	if r.Gw != nil {
		w = append(w, "via", r.Gw.String())
	}
	for _, nh := range r.MultiPath {
		w = append(w, "nexthop via", nh.Gw.String(), "dev", names[nh.LinkIndex])
	}
	if r.LinkIndex != 0 {
		w = append(w, "dev", names[r.LinkIndex])
	}
	if r.Src != nil {
		w = append(w, "src", r.Src.String())
	}
	if r.Priority != 0 {
		w = append(w, "metric", fmt.Sprint(r.Priority))
	}
	if r.Flags&unix.RTNH_F_LINKDOWN != 0 {
		w = append(w, "linkdown")
	}
	return strings.Join(w, " ")
}

func isZeroMask(m net.IPMask) bool {
	ones, _ := m.Size()
	return ones == 0
}

var nudNames = []struct {
	bit  int
	name string
}{
	{netlink.NUD_PERMANENT, "PERMANENT"}, {netlink.NUD_REACHABLE, "REACHABLE"}, {netlink.NUD_STALE, "STALE"},
	{netlink.NUD_DELAY, "DELAY"}, {netlink.NUD_PROBE, "PROBE"}, {netlink.NUD_FAILED, "FAILED"},
	{netlink.NUD_INCOMPLETE, "INCOMPLETE"},
}

// neighText writes a neighbour entry as ip neigh does.
func neighText(nb netlink.Neigh, names map[int]string) string {
	state := "NONE"
	for _, n := range nudNames {
		if nb.State&n.bit != 0 {
			state = n.name
			break
		}
	}
	s := fmt.Sprintf("%s dev %s", nb.IP, names[nb.LinkIndex])
	if len(nb.HardwareAddr) > 0 {
		s += " lladdr " + nb.HardwareAddr.String()
	}
	return s + " " + state
}

// nftRules lists a namespace's nftables rules: per chain the kernel's rule
// count, then the text of each rule the lab added (from its recorded steps,
// with the script position).
func nftRules(n *Netns) ([]string, error) {
	c, err := nftables.New(nftables.WithNetNSFd(n.fd))
	if err != nil {
		return nil, err
	}
	chains, err := c.ListChains()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, ch := range chains {
		rules, err := c.GetRules(ch.Table, ch)
		if err != nil {
			return out, err
		}
		hook := ""
		if h, ok := hookNames[hookNum(ch.Hooknum)]; ok {
			hook = " (" + h + " hook)"
		}
		out = append(out, fmt.Sprintf("table %s %s chain %s%s: %d rule%s", familyName(ch.Table.Family), ch.Table.Name, ch.Name, hook, len(rules), plural(len(rules))))
	}
	for _, s := range n.lab.Steps() {
		if s.NS != n.Name || s.Op != "nft rule" {
			continue
		}
		for _, c := range s.Cmds {
			if _, rule, ok := strings.Cut(c, "add rule "); ok {
				out = append(out, fmt.Sprintf("rule %s  (%s)", strings.TrimRight(rule, "'"), s.Pos))
			}
		}
	}
	return out, nil
}

var hookNames = map[uint32]string{0: "prerouting", 1: "input", 2: "forward", 3: "output", 4: "postrouting"}

func hookNum(h *nftables.ChainHook) uint32 {
	if h == nil {
		return 99
	}
	return uint32(*h)
}

func familyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyINet:
		return "inet"
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyARP:
		return "arp"
	case nftables.TableFamilyBridge:
		return "bridge"
	case nftables.TableFamilyNetdev:
		return "netdev"
	}
	return fmt.Sprint(uint8(f))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
