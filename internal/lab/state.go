package lab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Kernel state as the scripts see it: routes, FIB decisions, neighbours and
// forwarding database entries, read fresh through the namespace's netlink
// handle on every call, so that what programs (run(), routing daemons, DHCP
// clients) changed is visible too. Nothing here changes the kernel, and
// nothing reads the lab's own model, so a read may run beside the script
// (an expectation's goroutine) as the probes do.

// Route is one route of a routing table, or the kernel's decision for one
// destination (RouteGet).
type Route struct {
	Dst     netip.Prefix // 0.0.0.0/0 or ::/0 for a default route
	Via     netip.Addr   // gateway; invalid when directly connected
	Dev     string       // outgoing interface name ("" for none)
	DevIdx  int
	Src     netip.Addr // preferred source; invalid when unset
	Metric  int
	Table   int
	Proto   int
	Scope   int
	Type    int
	Default bool // Dst is the default route
}

// RouteFilter selects the routes Routes returns.
type RouteFilter struct {
	Table int // unix.RT_TABLE_MAIN, ...; 0 for every table
	Proto int // unix.RTPROT_*; -1 for any
}

// RouteQuery holds the optional inputs of a FIB lookup (ip route get).
type RouteQuery struct {
	Src  netip.Addr
	IIF  string // incoming interface: simulate a forwarded packet
	Mark uint32
}

// ErrNoRoute is returned by RouteGet when the kernel has no route at all
// (ENETUNREACH, "network is unreachable").
var ErrNoRoute = errors.New("no route")

// Routes dumps the namespace's IPv4 and IPv6 routes that match f, in the
// kernel's order. In plan mode there are none.
func (n *Netns) Routes(f RouteFilter) ([]Route, error) {
	if n.h == nil {
		return nil, nil
	}
	filter := &netlink.Route{Table: f.Table}
	mask := uint64(netlink.RT_FILTER_TABLE)
	if f.Proto >= 0 {
		filter.Protocol = netlink.RouteProtocol(f.Proto)
		mask |= netlink.RT_FILTER_PROTOCOL
	}
	rs, names, err := dumpNamed(n, "routes", func() ([]netlink.Route, error) {
		return n.h.RouteListFiltered(netlink.FAMILY_ALL, filter, mask)
	})
	if err != nil {
		return nil, err
	}
	out := make([]Route, 0, len(rs))
	for _, r := range rs {
		out = append(out, routeValue(r, names))
	}
	return out, nil
}

// RouteGet asks the kernel which route a packet to dst would take, as
// ip route get does. A destination with no route returns ErrNoRoute; one
// that meets an unreachable, prohibit or blackhole route returns a Route of
// that type and no device. In plan mode the decision is a unicast route
// with nothing known about it.
func (n *Netns) RouteGet(dst netip.Addr, q RouteQuery) (Route, error) {
	if n.h == nil { // plan mode: a decision of the right shape, saying nothing
		return Route{Dst: netip.PrefixFrom(dst, dst.BitLen()), Type: unix.RTN_UNICAST}, nil
	}
	o := &netlink.RouteGetOptions{Iif: q.IIF, Mark: q.Mark}
	if q.Src.IsValid() {
		o.SrcAddr = net.IP(q.Src.AsSlice())
	}
	rs, err := n.h.RouteGetWithOptions(net.IP(dst.AsSlice()), o)
	host := netip.PrefixFrom(dst, dst.BitLen())
	switch {
	case errors.Is(err, unix.ENETUNREACH):
		return Route{}, ErrNoRoute
	case errors.Is(err, unix.EHOSTUNREACH):
		return Route{Dst: host, Type: unix.RTN_UNREACHABLE}, nil
	case errors.Is(err, unix.EACCES):
		return Route{Dst: host, Type: unix.RTN_PROHIBIT}, nil
	case errors.Is(err, unix.EINVAL) && q.IIF == "":
		return Route{Dst: host, Type: unix.RTN_BLACKHOLE}, nil
	case err != nil:
		return Route{}, fmt.Errorf("route get %s in netns %q: %w", dst, n.Name, err)
	case len(rs) == 0:
		return Route{}, ErrNoRoute
	}
	// One link to name: ask for it alone rather than dump them all.
	names := map[int]string{}
	if idx := rs[0].LinkIndex; idx != 0 {
		lk, err := n.h.LinkByIndex(idx)
		if err != nil {
			return Route{}, fmt.Errorf("route get %s in netns %q: link %d: %w", dst, n.Name, idx, err)
		}
		names[idx] = lk.Attrs().Name
	}
	out := routeValue(rs[0], names)
	out.Dst = host
	if !out.Src.IsValid() {
		out.Src = q.Src // the kernel reports a given source as RTA_SRC
	}
	// The decision says where the packet goes; the FIB entry that made it
	// (fibmatch) says where that came from: its protocol, metric and scope.
	o.FIBMatch = true
	if ms, err := n.h.RouteGetWithOptions(net.IP(dst.AsSlice()), o); err == nil && len(ms) > 0 {
		m := ms[0]
		out.Proto, out.Metric, out.Scope, out.Type = int(m.Protocol), m.Priority, int(m.Scope), m.Type
	}
	return out, nil
}

// routeValue converts a netlink route; names maps interface indexes to names.
func routeValue(r netlink.Route, names map[int]string) Route {
	out := Route{DevIdx: r.LinkIndex, Dev: names[r.LinkIndex], Metric: r.Priority, Table: r.Table,
		Proto: int(r.Protocol), Scope: int(r.Scope), Type: r.Type}
	if r.Dst != nil {
		if a, ok := netip.AddrFromSlice(r.Dst.IP); ok {
			ones, _ := r.Dst.Mask.Size()
			out.Dst = netip.PrefixFrom(a.Unmap(), ones)
		}
	} else if r.Family == unix.AF_INET6 {
		out.Dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
	} else {
		out.Dst = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	}
	out.Default = out.Dst.Bits() == 0
	if a, ok := netip.AddrFromSlice(r.Gw); ok {
		out.Via = a.Unmap()
	} else if len(r.MultiPath) > 0 {
		if a, ok := netip.AddrFromSlice(r.MultiPath[0].Gw); ok {
			out.Via = a.Unmap()
		}
		out.DevIdx = r.MultiPath[0].LinkIndex
		out.Dev = names[out.DevIdx]
	}
	if a, ok := netip.AddrFromSlice(r.Src); ok {
		out.Src = a.Unmap()
	}
	return out
}

// Neighbour is one entry of a neighbour (ARP/NDP) table.
type Neighbour struct {
	Addr  netip.Addr
	MAC   net.HardwareAddr // nil while incomplete
	State string           // "reachable", "stale", "permanent", ... as ip neigh prints it
	Dev   string
}

// Neighbours dumps the namespace's IPv4 and IPv6 neighbour entries, or
// only those on lk when it is not nil.
func (n *Netns) Neighbours(lk *Link) ([]Neighbour, error) {
	if n.h == nil {
		return nil, nil
	}
	idx := 0
	if lk != nil {
		var err error
		if idx, err = lk.Index(); err != nil {
			return nil, err
		}
	}
	ns, names, err := dumpNamed(n, "neighbours", func() ([]netlink.Neigh, error) { return n.h.NeighList(idx, netlink.FAMILY_ALL) })
	if err != nil {
		return nil, err
	}
	var out []Neighbour
	for _, e := range ns {
		a, ok := netip.AddrFromSlice(e.IP)
		if !ok || (e.Family != unix.AF_INET && e.Family != unix.AF_INET6) {
			continue
		}
		out = append(out, Neighbour{Addr: a.Unmap(), MAC: e.HardwareAddr, State: NeighState(e.State), Dev: names[e.LinkIndex]})
	}
	return out, nil
}

// NeighState names a NUD state as ip neigh prints it ("reachable",
// "stale", ...; several flags joined by "," are reported by the first).
func NeighState(s int) string {
	for _, x := range []struct {
		bit  int
		name string
	}{
		{netlink.NUD_PERMANENT, "permanent"}, {netlink.NUD_NOARP, "noarp"}, {netlink.NUD_REACHABLE, "reachable"},
		{netlink.NUD_STALE, "stale"}, {netlink.NUD_DELAY, "delay"}, {netlink.NUD_PROBE, "probe"},
		{netlink.NUD_INCOMPLETE, "incomplete"}, {netlink.NUD_FAILED, "failed"},
	} {
		if s&x.bit != 0 {
			return x.name
		}
	}
	return "none"
}

// FDBEntry is one entry of a bridge's or a VXLAN device's forwarding
// database.
type FDBEntry struct {
	MAC    net.HardwareAddr
	Dev    string     // the port (or the VXLAN device) the entry points to
	Remote netip.Addr // VXLAN: the remote endpoint; invalid otherwise
	Vlan   int        // 0 when the entry has no VLAN
	State  string     // "permanent" (local or static) or "reachable"/"stale" (learnt)
}

// FDB dumps the forwarding database of lk: for a bridge, the entries of
// its ports and of itself; for any other link (a VXLAN device), its own.
func (lk *Link) FDB() ([]FDBEntry, error) {
	n := lk.ns
	if n.h == nil {
		return nil, nil
	}
	idx, err := lk.Index()
	if err != nil {
		return nil, err
	}
	es, names, err := dumpNamed(n, "the fdb of "+lk.name, func() ([]netlink.Neigh, error) { return n.h.NeighList(0, unix.AF_BRIDGE) })
	if err != nil {
		return nil, err
	}
	var out []FDBEntry
	for _, e := range es {
		if e.LinkIndex != idx && (lk.kind != "bridge" || e.MasterIndex != idx) {
			continue
		}
		x := FDBEntry{MAC: e.HardwareAddr, Dev: names[e.LinkIndex], Vlan: e.Vlan, State: NeighState(e.State)}
		if a, ok := netip.AddrFromSlice(e.IP); ok {
			x.Remote = a.Unmap()
		}
		out = append(out, x)
	}
	return out, nil
}

// Address is one address of an interface, as the kernel has it.
type Address struct {
	Prefix netip.Prefix
	Dev    string
	Scope  int
}

// Addresses dumps the IPv4 and IPv6 addresses of the namespace, or of lk
// only when it is not nil, including those that programs added.
func (n *Netns) Addresses(lk *Link) ([]Address, error) {
	if n.h == nil {
		return nil, nil
	}
	var link netlink.Link
	if lk != nil {
		var err error
		if link, err = lk.ref(); err != nil {
			return nil, err
		}
	}
	as, names, err := dumpNamed(n, "addresses", func() ([]netlink.Addr, error) { return n.h.AddrList(link, netlink.FAMILY_ALL) })
	if err != nil {
		return nil, err
	}
	out := make([]Address, 0, len(as))
	for _, a := range as {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ones, _ := a.Mask.Size()
		out = append(out, Address{Prefix: netip.PrefixFrom(ip.Unmap(), ones), Dev: names[a.LinkIndex], Scope: a.Scope})
	}
	return out, nil
}

// dumpNamed runs a netlink dump of what in n (again when interrupted) and
// maps the namespace's interface indexes to names for its entries.
func dumpNamed[T any](n *Netns, what string, dump func() ([]T, error)) ([]T, map[int]string, error) {
	xs, err := retryDump(dump)
	if err != nil {
		return nil, nil, fmt.Errorf("list %s in netns %q: %w", what, n.Name, err)
	}
	names, err := n.ifNames()
	if err != nil {
		return nil, nil, err
	}
	return xs, names, nil
}

// ifNames maps the namespace's interface indexes to names (one dump).
func (n *Netns) ifNames() (map[int]string, error) {
	links, err := listLinks(n.h)
	if err != nil {
		return nil, fmt.Errorf("list links in netns %q: %w", n.Name, err)
	}
	m := make(map[int]string, len(links))
	for _, l := range links {
		m[l.Attrs().Index] = l.Attrs().Name
	}
	return m, nil
}

// retryDump runs a netlink dump again when a concurrent change interrupted
// it (its result may then be incomplete).
func retryDump[T any](dump func() ([]T, error)) ([]T, error) {
	var err error
	for range 5 {
		var xs []T
		xs, err = dump()
		if err == nil || !errors.Is(err, netlink.ErrDumpInterrupted) {
			return xs, err
		}
	}
	return nil, err
}

// TableName names a routing table as ip route prints it: "main", "local",
// "default" or the number.
func TableName(t int) string {
	switch t {
	case unix.RT_TABLE_MAIN:
		return "main"
	case unix.RT_TABLE_LOCAL:
		return "local"
	case unix.RT_TABLE_DEFAULT:
		return "default"
	case unix.RT_TABLE_UNSPEC:
		return "all"
	}
	return strconv.Itoa(t)
}

// ProtoName names a route's origin as ip route prints it ("kernel",
// "boot", "static", "dhcp", "bird", ... or the number).
func ProtoName(p int) string { return netlink.RouteProtocol(p).String() }

// ScopeName names a route's scope as ip route prints it.
func ScopeName(s int) string {
	if s == int(netlink.SCOPE_UNIVERSE) {
		return "global"
	}
	return netlink.Scope(s).String()
}

// RouteTypeName names a route's type ("unicast", "local", "blackhole", ...).
func RouteTypeName(t int) string {
	names := map[int]string{unix.RTN_UNICAST: "unicast", unix.RTN_LOCAL: "local", unix.RTN_BROADCAST: "broadcast",
		unix.RTN_ANYCAST: "anycast", unix.RTN_MULTICAST: "multicast", unix.RTN_BLACKHOLE: "blackhole",
		unix.RTN_UNREACHABLE: "unreachable", unix.RTN_PROHIBIT: "prohibit", unix.RTN_THROW: "throw", unix.RTN_NAT: "nat"}
	if s, ok := names[t]; ok {
		return s
	}
	return strconv.Itoa(t)
}
