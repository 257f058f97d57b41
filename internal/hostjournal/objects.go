package hostjournal

// The kernel objects the entries name: finding them again and deleting
// them, for a run's own undo and for clean alike.

import (
	"errors"
	"fmt"
	"net"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// routeOf rebuilds the route an entry describes.
func routeOf(e *Entry) (*netlink.Route, error) {
	rt := &netlink.Route{Family: e.Family, LinkIndex: e.Dev, Priority: e.Metric, Table: unix.RT_TABLE_MAIN,
		Protocol: RouteProto}
	if e.Dst != "" {
		_, dst, err := parseCIDR(e.Dst)
		if err != nil {
			return nil, err
		}
		rt.Dst = dst
	}
	if e.Via != "" {
		if rt.Gw = net.ParseIP(e.Via); rt.Gw == nil {
			return nil, fmt.Errorf("bad gateway %q in journal", e.Via)
		}
	}
	return rt, nil
}

// findRoute returns the main-table route with e's family, destination and
// metric (the kernel's key for "already exists"), or nil; with marked, only
// a route that carries the lab's protocol mark.
func findRoute(h *netlink.Handle, e *Entry, marked bool) (*netlink.Route, error) {
	want, err := routeOf(e)
	if err != nil {
		return nil, err
	}
	routes, err := h.RouteListFiltered(e.Family, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, err
	}
	for i, r := range routes {
		if r.Priority == want.Priority && sameDst(r.Dst, want.Dst) && (!marked || r.Protocol == RouteProto) {
			return &routes[i], nil
		}
	}
	return nil, nil
}

// sameDst compares destinations, a nil one being the default route.
func sameDst(a, b *net.IPNet) bool {
	norm := func(n *net.IPNet) string {
		if n == nil {
			return "default"
		}
		if ones, _ := n.Mask.Size(); ones == 0 && n.IP.IsUnspecified() {
			return "default"
		}
		return n.String()
	}
	return norm(a) == norm(b)
}

// delRoute deletes e's route; one already gone (with its link) is fine.
func delRoute(h *netlink.Handle, e *Entry) error {
	rt, err := routeOf(e)
	if err != nil {
		return err
	}
	err = h.RouteDel(rt)
	if errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV) {
		return nil
	}
	return err
}

// nftTableExists reports whether the namespace behind fd has the table.
func nftTableExists(fd int, family nftables.TableFamily, name string) (bool, error) {
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		return false, fmt.Errorf("nftables: %w", err)
	}
	tables, err := c.ListTablesOfFamily(family)
	if err != nil {
		return false, fmt.Errorf("nftables: %w", err)
	}
	for _, t := range tables {
		if t.Name == name {
			return true, nil
		}
	}
	return false, nil
}

// delNftTable deletes the table, which takes its chains and rules along.
func delNftTable(fd int, family nftables.TableFamily, name string) error {
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	c.DelTable(&nftables.Table{Family: family, Name: name})
	if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("nftables: %w", err)
	}
	return nil
}

// parseCIDR parses a prefix a journal names.
func parseCIDR(s string) (net.IP, *net.IPNet, error) {
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		return nil, nil, fmt.Errorf("bad prefix %q in journal", s)
	}
	return ip, n, nil
}

// delAddr removes e's address from the link with e's index; an address or
// link already gone is fine.
func delAddr(h *netlink.Handle, e *Entry) error {
	ip, ipnet, err := parseCIDR(e.Dst)
	if err != nil {
		return err
	}
	ipnet.IP = ip
	nl, err := h.LinkByIndex(e.Index)
	if err != nil {
		return nil // the link is gone, and the address with it
	}
	err = h.AddrDel(nl, &netlink.Addr{IPNet: ipnet})
	if errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV) {
		return nil
	}
	return err
}

// deleteTagged deletes the link that carries e's tag; for an entry that was
// never marked done, a link of e's name without any alias. It reports
// whether it deleted one.
func deleteTagged(h *netlink.Handle, e *Entry) (bool, error) {
	if e.Index != 0 {
		if nl, err := h.LinkByIndex(e.Index); err == nil && nl.Attrs().Alias == e.Tag {
			return true, h.LinkDel(nl)
		}
	}
	links, err := listLinks(h)
	if err != nil {
		return false, err
	}
	for _, nl := range links {
		a := nl.Attrs()
		if a.Alias == e.Tag || (!e.Done && a.Name == e.Name && unaliasedMade(nl)) {
			return true, h.LinkDel(nl)
		}
	}
	return false, nil
}

// DeleteRootQdisc removes the root qdisc of the link with index idx, if
// it is not the kernel's default queue and which accepts it.
func DeleteRootQdisc(h *netlink.Handle, idx int, which func(netlink.Qdisc) bool) error {
	qs, err := h.QdiscList(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: idx}})
	if err != nil {
		return fmt.Errorf("list qdiscs: %w", err)
	}
	for _, q := range qs {
		a := q.Attrs()
		if a.Parent != netlink.HANDLE_ROOT || a.Handle == 0 || q.Type() == "noqueue" || !which(q) {
			continue
		}
		if err := h.QdiscDel(q); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("delete %s qdisc: %w", q.Type(), err)
		}
	}
	return nil
}

// listLinks dumps links, retrying when a concurrent deletion interrupted it.
func listLinks(h *netlink.Handle) ([]netlink.Link, error) {
	for try := 0; ; try++ {
		links, err := h.LinkList()
		if !errors.Is(err, netlink.ErrDumpInterrupted) || try == 4 {
			return links, err
		}
	}
}
