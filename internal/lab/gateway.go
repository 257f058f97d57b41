package lab

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// connected returns the subnets of n's addresses of family fam.
func (n *Netns) connected(fam int) []netip.Prefix {
	var out []netip.Prefix
	for _, lk := range n.order {
		for _, p := range linkFamilyAddrs(lk, fam) {
			out = append(out, p.Masked())
		}
	}
	return out
}

// onSubnet returns the first of addrs that lies in one of subnets, or false.
func onSubnet(addrs []netip.Prefix, subnets []netip.Prefix) (netip.Addr, bool) {
	for _, a := range addrs {
		for _, s := range subnets {
			if s.Contains(a.Addr()) && s.Bits() < a.Addr().BitLen() {
				return a.Addr(), true
			}
		}
	}
	return netip.Addr{}, false
}

func famName(fam int) string {
	if fam == unix.AF_INET6 {
		return "IPv6"
	}
	return "IPv4"
}

// GatewayNetns returns the address that stands for namespace g as a
// gateway of n: the first address g has (in link order) on a subnet that
// one of n's own addresses of family fam (unix.AF_INET or AF_INET6) is on.
func (n *Netns) GatewayNetns(g *Netns, fam int) (netip.Addr, error) {
	if g == n {
		return netip.Addr{}, fmt.Errorf("netns %q cannot be its own gateway", n.Name)
	}
	if err := g.checkLive(); err != nil {
		return netip.Addr{}, err
	}
	var addrs []netip.Prefix
	for _, lk := range g.order {
		addrs = append(addrs, linkFamilyAddrs(lk, fam)...)
	}
	if a, ok := onSubnet(addrs, n.connected(fam)); ok {
		return a, nil
	}
	return netip.Addr{}, fmt.Errorf("netns %q has no %s address on a subnet of netns %q", g.Name, famName(fam), n.Name)
}

// GatewayLink returns the gateway that link lk stands for in a route of n,
// and the link the route then goes out of. A link of n itself stands for
// its peer's address on the link's subnet (the far end of a veth), and is
// also the route's dev; a link in another namespace stands for its own
// address on a subnet of n (dev stays nil).
func (n *Netns) GatewayLink(lk *Link, fam int) (netip.Addr, *Link, error) {
	if err := lk.checkLive(); err != nil {
		return netip.Addr{}, nil, err
	}
	if lk.ns != n {
		if a, ok := onSubnet(linkFamilyAddrs(lk, fam), n.connected(fam)); ok {
			return a, nil, nil
		}
		return netip.Addr{}, nil, fmt.Errorf("link %s in netns %q has no %s address on a subnet of netns %q", lk.name, lk.ns.Name, famName(fam), n.Name)
	}
	p := lk.peer
	if p == nil {
		return netip.Addr{}, nil, fmt.Errorf("link %s in netns %q has no peer to stand for (give the gateway's address)", lk.name, n.Name)
	}
	var subnets []netip.Prefix
	for _, s := range linkFamilyAddrs(lk, fam) {
		subnets = append(subnets, s.Masked())
	}
	if a, ok := onSubnet(linkFamilyAddrs(p, fam), subnets); ok {
		return a, lk, nil
	}
	return netip.Addr{}, nil, fmt.Errorf("the peer of %s (%s in netns %q) has no %s address on the subnet of %s", lk.name, p.name, p.ns.Name, famName(fam), lk.name)
}
