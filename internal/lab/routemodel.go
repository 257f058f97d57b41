package lab

import "net/netip"

// Static neighbour mode walks each probe's path by asking the kernel for
// its route in each namespace on the way (nlbatch.go): in a mesh of 50 that
// is 2,500 lookups, most of them in namespaces whose only routes are those
// of their own addresses. There the lab answers from its model instead:
// the route to one of the namespace's addresses is local, the route to an
// address in the prefix of exactly one of its up links leaves by that link
// from its address, and there is no other. It answers only where the
// kernel's table cannot hold anything else:
//
//   - a namespace the lab made, in a sandboxed run;
//   - no route or rule added in it, and no sysctl set by the script (one
//     such as ignore_routes_with_linkdown changes lookups; routesCustom);
//   - no program started anywhere in the lab (one can change any
//     namespace's routes: the same flag as bridgenf.go's);
//   - a plain IPv4 unicast destination that is not a prefix's network or
//     broadcast address, and whose prefix is on one link with one address.
//
// Everything else goes to the kernel. An answer only decides which
// neighbour entries a probe's path gets before it is sent, each of them an
// address at its owner's MAC on the owner's segment (nextHop): were the
// model wrong, the probe's real first hop would be resolved by ARP, as in
// ARP mode, and the verdict would be the same.
//
// TestRouteModelMatchesKernel compares its answers with the kernel's.

// modelRoute answers ns's route lookup for dst from the lab's model;
// false when the kernel must.
func (l *Lab) modelRoute(ns *Netns, dst netip.Addr) (routeAnswer, bool) {
	if l.opts.Plan || l.opts.HostMode || ns.Existing || ns.routesCustom || l.programsStarted() {
		return routeAnswer{}, false
	}
	if !dst.Is4() || dst.IsLoopback() || dst.IsMulticast() || dst.IsUnspecified() || dst == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return routeAnswer{}, false
	}
	var best netip.Prefix
	var via *Link
	ambiguous := false
	for _, lk := range ns.order {
		for _, p := range lk.addrs {
			if !p.Addr().Is4() {
				continue
			}
			if p.Addr() == dst {
				if !lk.up || samePrefix(lk, p) > 1 {
					// A down link's local route, or a secondary address,
					// whose route's source is its prefix's primary: ask.
					return routeAnswer{}, false
				}
				return routeAnswer{ok: true, local: true, src: dst, oif: 1}, true
			}
			net := p.Masked()
			if !net.Contains(dst) || p.Bits() == 32 {
				continue
			}
			if !lk.up || lk.index == 0 || p.Bits() < 31 && (dst == net.Addr() || dst == lastAddr(net)) {
				return routeAnswer{}, false
			}
			switch {
			case !best.IsValid() || p.Bits() > best.Bits():
				best, via, ambiguous = net, lk, false
			case p.Bits() == best.Bits():
				ambiguous = true // a second address or link for it
			}
		}
	}
	if ambiguous {
		return routeAnswer{}, false
	}
	if via == nil {
		return routeAnswer{}, true // no route: the kernel says unreachable
	}
	for _, p := range via.addrs {
		if p.Masked() == best {
			return routeAnswer{ok: true, src: p.Addr(), oif: via.index}, true
		}
	}
	return routeAnswer{}, false
}

// samePrefix counts lk's addresses in the prefix of p (p included).
func samePrefix(lk *Link, p netip.Prefix) int {
	n := 0
	for _, q := range lk.addrs {
		if q.Bits() == p.Bits() && q.Masked() == p.Masked() {
			n++
		}
	}
	return n
}

// lastAddr returns the last address of an IPv4 prefix (its broadcast).
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	bits := p.Bits()
	for i := range 4 {
		hostBits := max(0, min(8, 32-bits-8*(3-i)))
		a[i] |= byte(1<<hostBits - 1)
	}
	return netip.AddrFrom4(a)
}
