package builtins

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"

	"go.starlark.net/starlark"

	"github.com/nsscript/nsscript/internal/lab"
)

// fnRoute implements route(ns, dst, via=None, dev=None, metric=0,
// table=None, src=None, scope=None, type=None).
func fnRoute(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		ns       = nsArg{run: r}
		dst, typ string
		via      starlark.Value
		dev      linkArg
		metric   = intIn("metric", 0, math.MaxUint32, 0)
		table    tableArg
		src      ipArg
		scope    string
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "ns", &ns, "dst", &dst, "via??", &via, "dev??", &dev, "metric?", &metric,
		"table??", &table, "src??", &src, "scope??", &scope, "type??", &typ); err != nil {
		return nil, err
	}
	if err := table.addable(); err != nil {
		return nil, err
	}
	spec := lab.RouteSpec{Metric: metric.n, Dev: dev.lk, Table: table.id, Src: src.addr, Scope: scope, Type: typ}
	switch dst {
	case "default":
	case "default6":
		spec.V6 = true
	default:
		p, err := ParsePrefix(dst)
		if err != nil {
			return nil, fmt.Errorf("invalid destination %q (want a prefix such as \"10.1.0.0/16\", an address, or \"default\")", dst)
		}
		spec.Dst = p
	}
	fam := lab.FamilyV4
	if spec.V6 || (spec.Dst.IsValid() && spec.Dst.Addr().Is6()) {
		fam = lab.FamilyV6
	}
	if via != nil && via != starlark.None {
		if err := viaSpec(&spec, ns.ns, via, fam); err != nil {
			return nil, fmt.Errorf("for parameter via: %w", err)
		}
	}
	if spec.V6 && spec.Via.IsValid() && spec.Via.Is4() {
		return nil, fmt.Errorf("default6 is an IPv6 route but gateway %s is IPv4", spec.Via)
	}
	if (typ == "" || typ == "unicast") && !spec.Via.IsValid() && spec.Dev == nil && len(spec.Nexthops) == 0 {
		return nil, fmt.Errorf("route to %s needs via or dev", dst)
	}
	rt, err := ns.ns.AddRoute(spec)
	if err != nil {
		return nil, err
	}
	return &Route{rt: rt}, nil
}

// viaSpec fills spec's gateway from via: an address, a netns or link (see
// gateway), or a list of those, each alone or with a weight as
// (gateway, weight), for a multipath route.
func viaSpec(spec *lab.RouteSpec, ns *lab.Netns, via starlark.Value, fam int) error {
	list, ok := via.(*starlark.List)
	if !ok {
		a, dev, err := gateway(ns, via, fam)
		if err != nil {
			return err
		}
		spec.Via = a
		if dev != nil && spec.Dev == nil {
			spec.Dev = dev
		}
		return nil
	}
	if list.Len() == 0 {
		return fmt.Errorf("empty list of gateways")
	}
	if spec.Dev != nil {
		return fmt.Errorf("a multipath route takes its links from its gateways, not from dev")
	}
	for i := range list.Len() {
		x, w := list.Index(i), 1
		if tup, ok := x.(starlark.Tuple); ok {
			weight := intIn("weight", 1, 256, 1)
			if len(tup) != 2 {
				return fmt.Errorf("nexthop %d: got a tuple of %d, want (gateway, weight)", i+1, len(tup))
			}
			if err := weight.Unpack(tup[1]); err != nil {
				return fmt.Errorf("nexthop %d: %w", i+1, err)
			}
			x, w = tup[0], weight.n
		}
		a, dev, err := gateway(ns, x, fam)
		if err != nil {
			return fmt.Errorf("nexthop %d: %w", i+1, err)
		}
		spec.Nexthops = append(spec.Nexthops, lab.Nexthop{Via: a, Dev: dev, Weight: w})
	}
	return nil
}

// gateway resolves one gateway: an address string, a netns (its address on
// a subnet ns is on) or a link (a link of ns stands for its peer's address
// and is the route's dev; another namespace's link for its own address on a
// subnet ns is on).
func gateway(ns *lab.Netns, v starlark.Value, fam int) (a netip.Addr, dev *lab.Link, err error) {
	switch v := v.(type) {
	case starlark.String:
		ad, ok := parseIP(string(v))
		if !ok {
			return a, nil, fmt.Errorf("invalid gateway %q (want an address such as \"10.0.0.1\", a netns or a link)", string(v))
		}
		return ad, nil, nil
	case *Netns:
		ad, err := ns.GatewayNetns(v.ns, fam)
		return ad, nil, err
	case *Link:
		return ns.GatewayLink(v.lk, fam)
	}
	return a, nil, fmt.Errorf("got %s, want gateway address, netns, link or a list of them", v.Type())
}

// fnRule implements rule(ns, from_=None, to=None, iif=None, oif=None,
// fwmark=None, table=None, priority=None, action="lookup", family=None).
func fnRule(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		ns       = nsArg{run: r}
		from, to netArg
		iif, oif ifaceArg
		mark     fwmarkArg
		table    tableArg
		prio     = intIn("priority", 0, math.MaxUint32, -1)
		action   = "lookup"
		family   string
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "ns", &ns, "from_??", &from, "to??", &to, "iif??", &iif, "oif??", &oif,
		"fwmark??", &mark, "table??", &table, "priority??", &prio, "action?", &action, "family??", &family); err != nil {
		return nil, err
	}
	if err := table.addable(); err != nil {
		return nil, err
	}
	spec := lab.RuleSpec{From: from.p, To: to.p, Mark: mark.mark, Mask: mark.mask, HasMark: mark.set, Table: table.id, Priority: prio.n, Action: action}
	switch family {
	case "", "ipv4":
	case "ipv6":
		spec.V6 = true
	default:
		return nil, fmt.Errorf("invalid family %q (want ipv4 or ipv6)", family)
	}
	var err error
	if spec.IIF, err = iif.in(ns.ns, "iif"); err != nil {
		return nil, err
	}
	if spec.OIF, err = oif.in(ns.ns, "oif"); err != nil {
		return nil, err
	}
	ru, err := ns.ns.AddRule(spec)
	if err != nil {
		return nil, err
	}
	return &Rule{ru: ru}, nil
}

// fwmarkArg unpacks a rule's firewall mark: an int, or "0x1/0xff" (mark/mask).
type fwmarkArg struct {
	mark, mask uint32
	set        bool
}

// Unpack implements starlark.Unpacker.
func (a *fwmarkArg) Unpack(v starlark.Value) error {
	a.set = true
	if s, ok := v.(starlark.String); ok {
		m, k, hasMask := strings.Cut(string(s), "/")
		mark, err1 := strconv.ParseUint(m, 0, 32)
		mask, err2 := strconv.ParseUint(k, 0, 32)
		if err1 != nil || (hasMask && (err2 != nil || mask == 0)) {
			return fmt.Errorf("invalid fwmark %q (want a number or \"MARK/MASK\" such as \"0x1/0xff\")", string(s))
		}
		a.mark, a.mask = uint32(mark), uint32(mask)
		return nil
	}
	x := intIn("fwmark", 0, math.MaxUint32, 0)
	if err := x.Unpack(v); err != nil {
		return err
	}
	a.mark = uint32(x.n)
	return nil
}

// addable refuses the pseudo-table "all" (0) where a route or rule goes
// into one table.
func (a *tableArg) addable() error {
	if a.name != "" && a.id == 0 {
		return fmt.Errorf("for parameter table: %q is no table to add to (want \"main\" or a number)", a.name)
	}
	return nil
}
