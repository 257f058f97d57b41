package lab

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// MacvlanModes lists the macvlan modes by name, in the order the kernel
// numbers them; each decides which traffic between siblings (macvlans of one
// parent) the kernel lets through:
//
//   - private: none; siblings never see each other, even through an
//     outside switch.
//   - vepa: none directly; every frame leaves through the parent, and
//     siblings meet only if the switch beyond sends it back (a bridge port in
//     hairpin mode, a "VEPA-capable switch").
//   - bridge: directly, inside the kernel, without leaving the parent.
//   - passthru: one macvlan takes the parent over (it may change its MAC);
//     the parent can then have no other macvlan.
//
// No macvlan reaches its parent's addresses directly; in vepa mode it does
// through a hairpin switch, as it reaches its siblings.
var MacvlanModes = []string{"private", "vepa", "bridge", "passthru"}

var macvlanModes = map[string]netlink.MacvlanMode{
	"private":  netlink.MACVLAN_MODE_PRIVATE,
	"vepa":     netlink.MACVLAN_MODE_VEPA,
	"bridge":   netlink.MACVLAN_MODE_BRIDGE,
	"passthru": netlink.MACVLAN_MODE_PASSTHRU,
}

// MacvlanSpec says how to create a macvlan.
type MacvlanSpec struct {
	LinkSpec
	// Parent is the lower device the macvlan sends through.
	Parent *Link
	// NS is where the macvlan lives (nil means the parent's namespace).
	NS *Netns
	// Mode is one of MacvlanModes ("bridge" when empty).
	Mode string
}

// Macvlan creates a macvlan on s.Parent, in s.NS, up unless told otherwise.
// An empty name is generated (ethN inside a namespace, as a container's NIC,
// macvlanN in host). The kernel refuses a second macvlan on a parent that
// has a passthru one, and a passthru one on a parent with other macvlans;
// the error then names the macvlan in the way.
func (l *Lab) Macvlan(s MacvlanSpec) (*Link, error) {
	if s.Parent == nil {
		return nil, errors.New("macvlan needs a parent link")
	}
	if s.Mode == "" {
		s.Mode = "bridge"
	}
	mode, ok := macvlanModes[s.Mode]
	if !ok {
		return nil, fmt.Errorf("unknown macvlan mode %q (want %s)", s.Mode, strings.Join(MacvlanModes, ", "))
	}
	nl := &netlink.Macvlan{Mode: mode}
	lk, err := l.addLower(s.Parent, s.NS, "macvlan", nl, s.LinkSpec, "type macvlan mode "+s.Mode)
	if err != nil {
		if errors.Is(err, unix.EINVAL) {
			if why := l.passthruConflict(s.Parent, s.Mode); why != "" {
				return nil, fmt.Errorf("%w: %s", err, why)
			}
		}
		return nil, err
	}
	return lk, nil
}

// addLower creates a link of kind (macvlan, ipvlan, vlan) on parent in ns
// (the parent's namespace when nil). typeArgs is what follows the name in
// `ip link add` ("type macvlan mode bridge").
func (l *Lab) addLower(parent *Link, ns *Netns, kind string, nl netlink.Link, s LinkSpec, typeArgs string) (*Link, error) {
	if ns == nil {
		ns = parent.ns
	}
	if parent.ns.lab != l {
		return nil, fmt.Errorf("parent %s belongs to another lab", parent.name)
	}
	if s.Name == "" {
		s.Name = l.lowerName(ns, kind)
	}
	if !l.opts.Plan {
		idx, err := parent.Index()
		if err != nil {
			return nil, err
		}
		nl.Attrs().ParentIndex = idx
	}
	s.via = parent.ns
	cmd := ipn(parent.ns) + " link add link " + shellQuote(parent.name) + " name " + shellQuote(s.Name) + linkOpts(s)
	if ns != parent.ns {
		cmd += " netns " + nsArg(ns)
	}
	cmd += " " + typeArgs
	desc := fmt.Sprintf("create %s %s on %s (%s) in %s", kind, s.Name, parent.name, parent.ns.Name, ns.Name)
	lk, err := l.addLink(ns, kind, nl, s, desc, []string{cmd})
	if err != nil {
		return nil, err
	}
	lk.parent = parent
	return lk, nil
}

// lowerName picks a free name for a new link of kind in ns: ethN in a lab
// namespace for the devices a container uses as its NIC (macvlan, ipvlan),
// KINDN otherwise (macvlan0 in host, tap0, vxlan0, dummy0).
func (l *Lab) lowerName(ns *Netns, kind string) string {
	base := kind
	if ns != l.Host && (kind == "macvlan" || kind == "ipvlan") {
		base = "eth"
	}
	for i := 0; ; i++ {
		name := fmt.Sprintf("%s%d", base, i)
		if ns.links[name] == nil {
			return name
		}
	}
}

// passthruConflict explains why the kernel refused a macvlan in mode on
// parent, if a passthru macvlan is involved: it names the macvlan in the way.
func (l *Lab) passthruConflict(parent *Link, mode string) string {
	for _, sib := range l.children(parent, "macvlan") {
		if mode == "passthru" {
			return fmt.Sprintf("parent %s already has macvlan %s (in %s); a passthru macvlan must be its parent's only one",
				parent.name, sib.name, sib.ns.Name)
		}
		if m, err := sib.macvlanMode(); err == nil && m == netlink.MACVLAN_MODE_PASSTHRU {
			return fmt.Sprintf("parent %s has passthru macvlan %s (in %s), which takes the parent alone",
				parent.name, sib.name, sib.ns.Name)
		}
	}
	return ""
}

// children returns the links of kind (any kind when "") whose parent is p,
// in every namespace.
func (l *Lab) children(p *Link, kind string) []*Link {
	var out []*Link
	for _, n := range l.order {
		for _, x := range n.order {
			if x.parent == p && (kind == "" || x.kind == kind) {
				out = append(out, x)
			}
		}
	}
	return out
}

// macvlanMode reads a macvlan's mode from the kernel.
func (lk *Link) macvlanMode() (netlink.MacvlanMode, error) {
	nl, err := lk.ns.h.LinkByName(lk.name)
	if err != nil {
		return 0, err
	}
	mv, ok := nl.(*netlink.Macvlan)
	if !ok {
		return 0, fmt.Errorf("%s is not a macvlan", lk.name)
	}
	return mv.Mode, nil
}

// MacvlanMode returns the mode of a macvlan as one of MacvlanModes, read from
// the kernel ("" in plan mode).
func (lk *Link) MacvlanMode() (string, error) {
	if lk.ns.lab.opts.Plan {
		return "", nil
	}
	m, err := lk.macvlanMode()
	if err != nil {
		return "", err
	}
	for name, v := range macvlanModes {
		if v == m {
			return name, nil
		}
	}
	return fmt.Sprintf("mode(%d)", m), nil
}
