package lab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

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
	// Table is the routing table (0: main); Src the preferred source
	// address; Scope "", "global", "link" or "host"; Type "" (unicast),
	// "blackhole", "unreachable" or "prohibit".
	Table int
	Src   netip.Addr
	Scope string
	Type  string
	// Nexthops, when set, make a multipath route (Via and Dev then stay
	// unset).
	Nexthops []Nexthop
}

// Nexthop is one path of a multipath route: a gateway, a link or both, and
// a weight from 1 to 256 (0 means 1).
type Nexthop struct {
	Via    netip.Addr
	Dev    *Link
	Weight int
}

// RouteTypes are the route types besides unicast; such routes have no
// gateway and no link.
var RouteTypes = map[string]int{"blackhole": unix.RTN_BLACKHOLE, "unreachable": unix.RTN_UNREACHABLE, "prohibit": unix.RTN_PROHIBIT}

var routeScopes = map[string]netlink.Scope{"global": netlink.SCOPE_UNIVERSE, "link": netlink.SCOPE_LINK, "host": netlink.SCOPE_HOST}

// AddedRoute is a route the lab added; Delete removes it again.
type AddedRoute struct {
	added
	Spec RouteSpec
	nl   *netlink.Route
}

func (r RouteSpec) family() int {
	switch {
	case r.Dst.IsValid():
		return famOf(r.Dst.Addr())
	case r.Via.IsValid():
		return famOf(r.Via)
	case len(r.Nexthops) > 0 && r.Nexthops[0].Via.IsValid():
		return famOf(r.Nexthops[0].Via)
	case r.V6:
		return unix.AF_INET6
	}
	return unix.AF_INET
}

func famOf(a netip.Addr) int {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

// DstString returns the destination as iproute2 writes it ("default" or a
// prefix).
func (r RouteSpec) DstString() string {
	if r.Dst.IsValid() {
		return r.Dst.Masked().String()
	}
	return "default"
}

// check validates the spec for a route in n.
func (r RouteSpec) check(n *Netns) error {
	fam := r.family()
	for _, d := range append([]*Link{r.Dev}, nexthopDevs(r.Nexthops)...) {
		if d != nil && d.ns != n {
			return fmt.Errorf("dev %s is in netns %q, not %q", d.name, d.ns.Name, n.Name)
		}
	}
	gws := []netip.Addr{r.Via, r.Src}
	for _, h := range r.Nexthops {
		if !h.Via.IsValid() && h.Dev == nil {
			return errors.New("a nexthop needs a gateway or a link")
		}
		if h.Weight < 0 || h.Weight > 256 {
			return fmt.Errorf("invalid weight %d (want 1 to 256)", h.Weight)
		}
		gws = append(gws, h.Via)
	}
	for _, a := range gws {
		if a.IsValid() && famOf(a) != fam {
			return fmt.Errorf("address %s and destination %s are of different families", a, r.DstString())
		}
	}
	if _, ok := routeScopes[r.Scope]; !ok && r.Scope != "" {
		return fmt.Errorf("unknown scope %q (want global, link or host)", r.Scope)
	}
	if r.Type != "" && r.Type != "unicast" {
		if _, ok := RouteTypes[r.Type]; !ok {
			return fmt.Errorf("unknown route type %q (want unicast, blackhole, unreachable or prohibit)", r.Type)
		}
		if r.Via.IsValid() || r.Dev != nil || len(r.Nexthops) > 0 {
			return fmt.Errorf("a %s route has no gateway and no dev", r.Type)
		}
		return nil
	}
	if len(r.Nexthops) > 0 && (r.Via.IsValid() || r.Dev != nil) {
		return errors.New("a multipath route takes its gateways from its nexthops, not from via or dev")
	}
	if !r.Via.IsValid() && r.Dev == nil && len(r.Nexthops) == 0 {
		return errors.New("a route needs via or dev")
	}
	return nil
}

func nexthopDevs(hs []Nexthop) []*Link {
	var out []*Link
	for _, h := range hs {
		out = append(out, h.Dev)
	}
	return out
}

// ipWords renders the route as iproute2 words after "ip route add".
func (r RouteSpec) ipWords() string {
	w := []string{}
	if r.Type != "" && r.Type != "unicast" {
		w = append(w, r.Type)
	}
	w = append(w, r.DstString())
	if r.Via.IsValid() {
		w = append(w, "via", r.Via.String())
	}
	if r.Dev != nil {
		w = append(w, "dev", shellQuote(r.Dev.name))
	}
	if r.Table != 0 {
		w = append(w, "table", TableName(r.Table))
	}
	if r.Metric > 0 {
		w = append(w, "metric", strconv.Itoa(r.Metric))
	}
	if r.Src.IsValid() {
		w = append(w, "src", r.Src.String())
	}
	if r.Scope != "" {
		w = append(w, "scope", r.Scope)
	}
	for _, h := range r.Nexthops {
		w = append(w, "nexthop")
		if h.Via.IsValid() {
			w = append(w, "via", h.Via.String())
		}
		if h.Dev != nil {
			w = append(w, "dev", shellQuote(h.Dev.name))
		}
		w = append(w, "weight", strconv.Itoa(max(h.Weight, 1)))
	}
	return strings.Join(w, " ")
}

// netlinkRoute builds the kernel's form of the route (links resolved to
// their indexes).
func (r RouteSpec) netlinkRoute() (*netlink.Route, error) {
	fam := r.family()
	rt := &netlink.Route{Family: fam, Priority: r.Metric, Table: r.Table, Scope: routeScopes[r.Scope]}
	if r.Dst.IsValid() {
		rt.Dst = prefixNet(r.Dst.Masked())
	} else if fam == unix.AF_INET {
		rt.Dst = &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}
	} else {
		rt.Dst = &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}
	}
	if t, ok := RouteTypes[r.Type]; ok {
		rt.Type = t
	}
	if r.Via.IsValid() {
		rt.Gw = net.IP(r.Via.AsSlice())
	} else if r.Scope == "" && (r.Type == "" || r.Type == "unicast") && len(r.Nexthops) == 0 {
		rt.Scope = netlink.SCOPE_LINK // as ip route add does for a route without gateway
	}
	if r.Src.IsValid() {
		rt.Src = net.IP(r.Src.AsSlice())
	}
	var err error
	if r.Dev != nil {
		if rt.LinkIndex, err = r.Dev.Index(); err != nil {
			return nil, err
		}
	}
	for _, h := range r.Nexthops {
		nh := &netlink.NexthopInfo{Hops: max(h.Weight, 1) - 1}
		if h.Via.IsValid() {
			nh.Gw = net.IP(h.Via.AsSlice())
		}
		if h.Dev != nil {
			if nh.LinkIndex, err = h.Dev.Index(); err != nil {
				return nil, err
			}
		}
		rt.MultiPath = append(rt.MultiPath, nh)
	}
	return rt, nil
}

// simple reports whether the --host journal can record the route: a
// unicast route in the main table with one path.
func (r RouteSpec) simple() bool {
	return (r.Table == 0 || r.Table == unix.RT_TABLE_MAIN) && (r.Type == "" || r.Type == "unicast") &&
		len(r.Nexthops) == 0 && !r.Src.IsValid() && r.Scope == ""
}

// Route adds a route in the namespace.
func (n *Netns) Route(r RouteSpec) error {
	_, err := n.AddRoute(r)
	return err
}

// AddRoute adds a route in the namespace and returns it.
func (n *Netns) AddRoute(r RouteSpec) (*AddedRoute, error) {
	dst := r.DstString()
	if err := n.checkLive(); err != nil {
		return nil, err
	}
	if err := r.check(n); err != nil {
		return nil, fmt.Errorf("add route %s in netns %q: %w", dst, n.Name, err)
	}
	rt := &AddedRoute{added: added{NS: n, Pos: n.lab.pos, kind: "route", fam: r.family(), words: r.ipWords()}, Spec: r}
	cmd := ipFam(n, r.family()) + " route add " + rt.words
	err := n.lab.apply(Step{NS: n.Name, Op: "route add", Desc: "route add " + rt.words + " in " + n.Name, Cmds: []string{cmd}}, func() error {
		if n.lab.journaled(n) && !r.simple() {
			return errors.New("with --host, only main-table unicast routes with one path can be journaled and undone")
		}
		nl, err := r.netlinkRoute()
		if err != nil {
			return err
		}
		rt.nl = nl
		if err := n.lab.hostRoute(n, nl, func() error { return n.h.RouteAdd(nl) }); err != nil {
			switch {
			case errors.Is(err, unix.ENETUNREACH):
				return fmt.Errorf("gateway %s is not on any directly connected network", gatewayText(r))
			case errors.Is(err, unix.EEXIST):
				return fmt.Errorf("a route to %s already exists", dst)
			}
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("add route %s in netns %q: %w", dst, n.Name, err)
	}
	return rt, nil
}

// gatewayText names the route's gateways for an error.
func gatewayText(r RouteSpec) string {
	if r.Via.IsValid() {
		return r.Via.String()
	}
	var gws []string
	for _, h := range r.Nexthops {
		if h.Via.IsValid() {
			gws = append(gws, h.Via.String())
		}
	}
	return strings.Join(gws, " or ")
}

// ipFam returns the iproute2 prefix for n with -6 for IPv6.
func ipFam(n *Netns, fam int) string {
	if fam == unix.AF_INET6 {
		return ipn(n) + " -6"
	}
	return ipn(n)
}

// Delete removes the route, as `ip route del` does.
func (rt *AddedRoute) Delete() error {
	return rt.remove(func() error {
		if rt.nl == nil {
			return errors.New("the route was never added")
		}
		if err := rt.NS.h.RouteDel(rt.nl); err != nil {
			if errors.Is(err, unix.ESRCH) {
				return errors.New("the kernel has no such route any more (was its link deleted?)")
			}
			return err
		}
		return nil
	})
}

// posOr returns pos, or "a call from Go" when a Go caller set none.
func posOr(pos string) string {
	if pos == "" {
		return "a call from Go"
	}
	return pos
}

// LinkFamilyAddrs returns the addresses of lk of the family fam.
func linkFamilyAddrs(lk *Link, fam int) []netip.Prefix {
	return slices.DeleteFunc(lk.Addrs(), func(p netip.Prefix) bool { return famOf(p.Addr()) != fam })
}
