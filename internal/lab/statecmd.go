package lab

import (
	"fmt"
	"net/netip"
)

// The iproute2 commands a student would type to read what the state
// builtins read, for explain and -v.

// RoutesCmd is the shell equivalent of listing routes: table and proto as
// ip route takes them ("main", "all", "static"; proto "" for any).
func RoutesCmd(n *Netns, table, proto string) string {
	cmd := ipn(n) + " route show"
	if table != "main" {
		cmd += " table " + shellQuote(table)
	}
	if proto != "" {
		cmd += " proto " + shellQuote(proto)
	}
	return cmd
}

// RouteGetCmd is the shell equivalent of a FIB lookup.
func RouteGetCmd(n *Netns, dst netip.Addr, q RouteQuery) string {
	cmd := ipn(n) + " route get " + dst.String()
	if q.Src.IsValid() {
		cmd += " from " + q.Src.String()
	}
	if q.IIF != "" {
		cmd += " iif " + shellQuote(q.IIF)
	}
	if q.Mark != 0 {
		cmd += fmt.Sprintf(" mark %d", q.Mark)
	}
	return cmd
}

// NeighCmd is the shell equivalent of listing neighbours, of dev when it is
// not "" and of addr when it is valid.
func NeighCmd(n *Netns, dev string, addr netip.Addr) string {
	cmd := ipn(n) + " neigh show"
	if addr.IsValid() {
		cmd += " " + addr.String()
	}
	if dev != "" {
		cmd += " dev " + shellQuote(dev)
	}
	return cmd
}

// FDBCmd is the shell equivalent of listing lk's forwarding database.
func FDBCmd(lk *Link) string {
	how := " dev "
	if lk.kind == "bridge" {
		how = " br "
	}
	return inNS(lk.ns, "bridge fdb show"+how+shellQuote(lk.name))
}

// LinkStatsCmd is the shell equivalent of reading lk's counters.
func LinkStatsCmd(lk *Link) string {
	return ipn(lk.ns) + " -s link show " + shellQuote(lk.name)
}

// AddrCmd is the shell equivalent of listing addresses, of dev when it is
// not "".
func AddrCmd(n *Netns, dev string) string {
	cmd := ipn(n) + " addr show"
	if dev != "" {
		cmd += " dev " + shellQuote(dev)
	}
	return cmd
}
