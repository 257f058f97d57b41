package lab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// RouteSpec describes a route. Dst is invalid (zero) for the default route.
type RouteSpec struct {
	Dst    netip.Prefix
	Via    netip.Addr
	Dev    *Link
	Metric int
	V6     bool // default route for IPv6 (when Dst and Via say nothing)
}

func (r RouteSpec) family() int {
	switch {
	case r.Dst.IsValid():
		if r.Dst.Addr().Is4() {
			return unix.AF_INET
		}
		return unix.AF_INET6
	case r.Via.IsValid():
		if r.Via.Is4() {
			return unix.AF_INET
		}
		return unix.AF_INET6
	case r.V6:
		return unix.AF_INET6
	}
	return unix.AF_INET
}

// Route adds a route in the namespace.
func (n *Netns) Route(r RouteSpec) error {
	if r.Dev != nil && r.Dev.ns != n {
		return fmt.Errorf("dev %s is in netns %q, not %q", r.Dev.name, r.Dev.ns.Name, n.Name)
	}
	if !r.Via.IsValid() && r.Dev == nil {
		return errors.New("a route needs via or dev")
	}
	fam := r.family()
	if r.Via.IsValid() && r.Dst.IsValid() && r.Via.Is4() != r.Dst.Addr().Is4() {
		return fmt.Errorf("gateway %s and destination %s are of different families", r.Via, r.Dst)
	}
	dst := "default"
	if r.Dst.IsValid() {
		dst = r.Dst.Masked().String()
	}
	cmd := ipn(n)
	if fam == unix.AF_INET6 {
		cmd += " -6"
	}
	cmd += " route add " + dst
	if r.Via.IsValid() {
		cmd += " via " + r.Via.String()
	}
	if r.Dev != nil {
		cmd += " dev " + shellQuote(r.Dev.name)
	}
	if r.Metric > 0 {
		cmd += fmt.Sprintf(" metric %d", r.Metric)
	}
	err := n.lab.apply(Step{NS: n.Name, Op: "route add", Desc: fmt.Sprintf("%s in %s", cmd[len(ipn(n))+1:], n.Name), Cmds: []string{cmd}}, func() error {
		rt := &netlink.Route{Family: fam, Priority: r.Metric}
		if r.Dst.IsValid() {
			rt.Dst = prefixNet(r.Dst.Masked())
		} else if fam == unix.AF_INET {
			rt.Dst = &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}
		} else {
			rt.Dst = &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}
		}
		if r.Via.IsValid() {
			rt.Gw = net.IP(r.Via.AsSlice())
		}
		if r.Dev != nil {
			idx, err := r.Dev.Index()
			if err != nil {
				return err
			}
			rt.LinkIndex = idx
		}
		if err := n.lab.hostRoute(n, rt, func() error { return n.h.RouteAdd(rt) }); err != nil {
			switch {
			case errors.Is(err, unix.ENETUNREACH):
				return fmt.Errorf("gateway %s is not on any directly connected network", r.Via)
			case errors.Is(err, unix.EEXIST):
				return fmt.Errorf("a route to %s already exists", dst)
			}
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("add route %s in netns %q: %w", dst, n.Name, err)
	}
	return nil
}
