package lab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The FIB walk: what a failed path or route expectation shows. Each
// namespace on the way is asked, as ip route get would be, where it sends
// a packet to the destination, and the namespace that owns the next hop is
// asked next, with the interface the packet comes in on, until the packet
// arrives or dies. Everything is read from the kernel; nothing is sent.

// maxWalk bounds a walk: a routing loop stops it too, by itself.
const maxWalk = 32

// FIBHop is one namespace's decision on a packet's way (WalkFIB).
type FIBHop struct {
	NS    *Netns
	IIF   string // the interface the packet came in on; "" at the source
	Route Route  // the decision; zero when Stop says there was none
	Stop  string // why the packet goes no further from here; "" if it goes on
	Done  bool   // the packet arrived: dst is an address of NS
	// Firewall names the nftables rules of the hook the packet crosses
	// here (output at the source, forward on the way, input where it
	// arrives) that drop or reject, "" when there are none: a hint where
	// a packet the FIB lets through may die.
	Firewall string
}

// WalkFIB follows a packet from src to dst through the FIB of each
// namespace on the way (from, when valid, is its source address, as a
// probe's src_addr). The last hop says where and why the walk stopped. In
// plan mode there is nothing to walk.
func (l *Lab) WalkFIB(src *Netns, dst, from netip.Addr) []FIBHop {
	if l.opts.Plan {
		return nil
	}
	var hops []FIBHop
	ns, iif := src, ""
	seen := map[string]bool{}
	for len(hops) < maxWalk {
		h := FIBHop{NS: ns, IIF: iif}
		key := ns.Name + "/" + iif
		if seen[key] {
			h.Stop = "a routing loop: the packet came this way before"
			return append(hops, h)
		}
		seen[key] = true
		if iif != "" && ns.HasAddr(dst) {
			h.Done = true
			h.Stop = fmt.Sprintf("arrived: %s is an address of %s", dst, ns.Name)
			h.Firewall = dropRules(ns, hookInput)
			return append(hops, h)
		}
		if iif != "" {
			if off := ForwardingOff(ns, dst); off != "" {
				h.Stop = "forwarding is off (" + off + "): the packet is dropped"
				return append(hops, h)
			}
		}
		next, stop := h.decide(dst, from)
		if stop != "" {
			h.Stop = stop
			return append(hops, h)
		}
		if !from.IsValid() {
			from = h.Route.Src // the source the first hop chose stays
		}
		h.Firewall = dropRules(ns, map[bool]uint32{true: hookOutput, false: hookForward}[iif == ""])
		hops = append(hops, h)
		owner, in := l.ownerLink(next)
		if owner == nil {
			hops = append(hops, FIBHop{Stop: fmt.Sprintf("the next hop %s is not in the lab", next)})
			return hops
		}
		ns, iif = owner, in
	}
	return append(hops, FIBHop{Stop: fmt.Sprintf("more than %d hops", maxWalk)})
}

// decide asks h.NS's FIB where a packet to dst from src goes, and returns
// the next hop's address or why there is none.
func (h *FIBHop) decide(dst, src netip.Addr) (netip.Addr, string) {
	q := RouteQuery{IIF: h.IIF}
	if src.IsValid() && (h.IIF != "" || h.NS.HasAddr(src)) {
		q.Src = src
	}
	rt, err := h.NS.RouteGet(dst, q)
	switch {
	case errors.Is(err, ErrNoRoute):
		return netip.Addr{}, "no route to " + dst.String()
	case err != nil:
		return netip.Addr{}, err.Error()
	}
	h.Route = rt
	switch rt.Type {
	case unix.RTN_LOCAL:
		h.Done = true
		return netip.Addr{}, fmt.Sprintf("arrived: %s is an address of %s", dst, h.NS.Name)
	case unix.RTN_UNREACHABLE, unix.RTN_PROHIBIT, unix.RTN_BLACKHOLE:
		return netip.Addr{}, fmt.Sprintf("%s meets %s %s route", dst, map[bool]string{true: "an", false: "a"}[rt.Type == unix.RTN_UNREACHABLE], RouteTypeName(rt.Type))
	}
	if rt.Dev == "" {
		return netip.Addr{}, "no device to send it on"
	}
	if rt.Via.IsValid() {
		return rt.Via, ""
	}
	return dst, ""
}

// ownerLink returns the lab namespace that has address a, and the
// interface there that has it: where a packet sent to a comes in.
func (l *Lab) ownerLink(a netip.Addr) (*Netns, string) {
	a = a.Unmap().WithZone("")
	for _, n := range l.Namespaces() {
		for _, lk := range n.order {
			if slices.ContainsFunc(lk.addrs, func(p netip.Prefix) bool { return p.Addr() == a }) {
				return n, lk.name
			}
		}
	}
	return nil, ""
}

// ForwardingOff returns the sysctl that keeps ns from forwarding dst's
// family ("net.ipv4.ip_forward=0"), or "" when it forwards.
func ForwardingOff(ns *Netns, dst netip.Addr) string {
	key := "net.ipv4.ip_forward"
	if dst.Is6() {
		key = "net.ipv6.conf.all.forwarding"
	}
	if v, err := ns.ReadSysctl(key); err == nil && v == "0" {
		return key + "=0"
	}
	return ""
}

// Rules returns the namespace's policy routing rules for dst's family in
// the kernel's order.
func (n *Netns) Rules(dst netip.Addr) ([]RuleSpec, error) {
	if n.h == nil {
		return nil, nil
	}
	rs, err := retryDump(func() ([]netlink.Rule, error) { return n.h.RuleList(famOf(dst)) })
	if err != nil {
		return nil, fmt.Errorf("rules in netns %q: %w", n.Name, err)
	}
	out := make([]RuleSpec, 0, len(rs))
	for _, r := range rs {
		out = append(out, ruleSpecOf(r))
	}
	return out, nil
}

// String writes the rule as ip rule add takes it ("priority 1000 from
// 10.1.0.0/24 lookup 101").
func (r RuleSpec) String() string { return r.ipWords() }

// ruleSpecOf converts a rule the kernel listed.
func ruleSpecOf(r netlink.Rule) RuleSpec {
	s := RuleSpec{Priority: r.Priority, Table: r.Table, IIF: r.IifName, OIF: r.OifName, Mark: r.Mark}
	if r.Src != nil {
		s.From = ipNetPrefix(r.Src)
	}
	if r.Dst != nil {
		s.To = ipNetPrefix(r.Dst)
	}
	if r.Mark != 0 || r.Mask != nil && *r.Mask != 0 {
		s.HasMark = true
		if r.Mask != nil && *r.Mask != 0xffffffff {
			s.Mask = *r.Mask
		}
	}
	for name, t := range ruleActions {
		if uint8(r.Type) == t {
			s.Action, s.Table = name, 0
		}
	}
	return s
}

// ipNetPrefix converts a netlink prefix.
func ipNetPrefix(n *net.IPNet) netip.Prefix {
	a, _ := netip.AddrFromSlice(n.IP)
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones)
}

// RoutesTo returns the routes of every table that contain dst (the
// candidates of a lookup), most specific first within each table, tables
// in the order the kernel lists them; the local table is left out unless
// dst is local.
func (n *Netns) RoutesTo(dst netip.Addr) ([]Route, error) {
	all, err := n.Routes(RouteFilter{Proto: -1})
	if err != nil {
		return nil, err
	}
	var out []Route
	order := map[int]int{} // table -> its place in the kernel's listing
	for _, r := range all {
		if r.Dst.Contains(dst) && r.Dst.Addr().Is4() == dst.Is4() && (r.Table != unix.RT_TABLE_LOCAL || r.Type == unix.RTN_LOCAL) {
			if _, ok := order[r.Table]; !ok {
				order[r.Table] = len(order)
			}
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b Route) int {
		if a.Table != b.Table {
			return order[a.Table] - order[b.Table]
		}
		return b.Dst.Bits() - a.Dst.Bits()
	})
	return out, nil
}

// The netfilter hooks a walk looks at.
const (
	hookInput   = 1
	hookForward = 2
	hookOutput  = 3
)

// dropRules says which filter chains of ns on hook drop or reject: "the
// forward hook drops (chain forward: 2 rules that drop or reject)", or ""
// when none does. It reads the kernel's rules, not the lab's record, so
// rules that programs added count too.
func dropRules(ns *Netns, hook uint32) string {
	if ns.lab.opts.Plan {
		return ""
	}
	c, err := nftables.New(nftables.WithNetNSFd(ns.fd))
	if err != nil {
		return ""
	}
	chains, err := c.ListChains()
	if err != nil {
		return ""
	}
	var found []string
	for _, ch := range chains {
		if ch.Hooknum == nil || uint32(*ch.Hooknum) != hook || ch.Type != nftables.ChainTypeFilter {
			continue
		}
		rules, err := c.GetRules(ch.Table, ch)
		if err != nil {
			continue
		}
		n := 0
		for _, r := range rules {
			if dropsOrRejects(r) {
				n++
			}
		}
		var w []string
		if n > 0 {
			w = append(w, fmt.Sprintf("%d drop or reject rule%s", n, plural(n)))
		}
		if ch.Policy != nil && *ch.Policy == nftables.ChainPolicyDrop {
			w = append(w, "policy drop")
		}
		if len(w) > 0 {
			found = append(found, fmt.Sprintf("chain %s %s: %s", ch.Table.Name, ch.Name, strings.Join(w, ", ")))
		}
	}
	if len(found) == 0 {
		return ""
	}
	return fmt.Sprintf("the %s hook may drop it (%s)", hookNames[hook], strings.Join(found, "; "))
}

// dropsOrRejects reports whether a rule's verdict is drop or reject.
func dropsOrRejects(r *nftables.Rule) bool {
	for _, e := range r.Exprs {
		switch e := e.(type) {
		case *expr.Reject:
			return true
		case *expr.Verdict:
			if e.Kind == expr.VerdictDrop {
				return true
			}
		}
	}
	return false
}
