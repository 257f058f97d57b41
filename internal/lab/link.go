package lab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Link is a network interface of the lab, in one namespace at a time.
type Link struct {
	Pos string // where the script made it

	ns      *Netns
	name    string
	index   int
	kind    string
	peer    *Link // other end of a veth
	parent  *Link // lower device of a macvlan, vlan, ipvlan
	master  *Link
	up      bool
	adopted bool // existed before the lab saw it
	addrs   []netip.Prefix
	mac     net.HardwareAddr // the address the lab gave it; nil: ask the kernel
	front   front            // the script's value for it (api.go)
	deleted string           // where it was deleted, once it was (delete.go)
}

func (lk *Link) String() string { return lk.ns.Name + "/" + lk.name }

// Name returns the interface name.
func (lk *Link) Name() string { return lk.name }

// NS returns the namespace the link is in.
func (lk *Link) NS() *Netns { return lk.ns }

// Adopted reports whether the link existed before the lab saw it (lo, a
// program's link): the lab never deletes it.
func (lk *Link) Adopted() bool { return lk.adopted }

// Kind returns the link type ("veth", "bridge", ...).
func (lk *Link) Kind() string { return lk.kind }

// Peer returns the other end of a veth pair, or nil.
func (lk *Link) Peer() *Link { return lk.peer }

// Parent returns the lower device of a macvlan, ipvlan or vlan, or nil.
func (lk *Link) Parent() *Link { return lk.parent }

// Master returns the bridge the link is a port of, or nil.
func (lk *Link) Master() *Link { return lk.master }

// IsUp reports whether the lab set the link administratively up.
func (lk *Link) IsUp() bool { return lk.up }

// Addrs returns the addresses the lab added to the link.
func (lk *Link) Addrs() []netip.Prefix { return append([]netip.Prefix(nil), lk.addrs...) }

// Index returns the interface index (0 in plan mode).
func (lk *Link) Index() (int, error) {
	if lk.index != 0 || lk.ns.lab.opts.Plan {
		return lk.index, nil
	}
	nl, err := lk.ns.h.LinkByName(lk.name)
	if err != nil {
		return 0, fmt.Errorf("find %s in netns %q: %w", lk.name, lk.ns.Name, err)
	}
	lk.index = nl.Attrs().Index
	return lk.index, nil
}

// State reads the link's current attributes from the kernel.
func (lk *Link) State() (*netlink.LinkAttrs, error) {
	if lk.ns.lab.opts.Plan {
		return &netlink.LinkAttrs{Name: lk.name}, nil
	}
	nl, err := lk.ns.h.LinkByName(lk.name)
	if err != nil {
		return nil, fmt.Errorf("find %s in netns %q: %w", lk.name, lk.ns.Name, err)
	}
	lk.index = nl.Attrs().Index
	return nl.Attrs(), nil
}

// ref returns a minimal netlink value naming the link by index.
func (lk *Link) ref() (netlink.Link, error) {
	idx, err := lk.Index()
	if err != nil {
		return nil, err
	}
	return &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: idx, Name: lk.name}}, nil
}

// CheckLinkName reports whether name is a valid Linux interface name.
func CheckLinkName(name string) error {
	switch {
	case name == "":
		return errors.New("empty link name")
	case len(name) > 15:
		return fmt.Errorf("invalid link name %q: longer than 15 bytes", name)
	case name == "." || name == "..":
		return fmt.Errorf("invalid link name %q", name)
	case strings.IndexFunc(name, badIfnameRune) >= 0 || strings.IndexByte(name, 0xa0) >= 0:
		return fmt.Errorf("invalid link name %q: contains '/', ':' or white space", name)
	}
	return nil
}

// badIfnameRune reports the characters the kernel refuses in a name
// (dev_valid_name: '/', ':', NUL and isspace, which also counts byte 0xa0).
func badIfnameRune(r rune) bool {
	return r == '/' || r == ':' || r == 0 || r == ' ' || (r >= '\t' && r <= '\r')
}

// genName picks a free name in ns: eth0, eth1, ... inside a lab namespace
// (as in a container) and veth0, veth1, ... in host.
func (l *Lab) genName(ns *Netns, taken string) string {
	base := "eth"
	if ns == l.Host {
		base = "veth"
	}
	// Start where the last search ended: a thousand veths in host would
	// otherwise cost a million lookups. Removing a link resets the hint.
	for i := ns.nameHint; ; i++ {
		name := base + strconv.Itoa(i)
		if ns.links[name] == nil && name != taken {
			if taken == "" {
				ns.nameHint = i
			}
			return name
		}
	}
}

// firstIndex is where the lab's own interface indexes start. The kernel
// numbers the devices it is not told a number for (a veth's peer, say) upward
// from 2, one after the other; the lab's numbers must stay out of their way,
// or the thousandth veth in a namespace collides with a peer.
const firstIndex = 100000

// pickIndex returns the interface index for a link the lab creates in ns, or
// 0 to let the kernel choose. In namespaces the lab owns, every link gets a
// lab-wide unique index. This matters: the kernel's link watcher treats a
// carrier change as urgent only when a device's index differs from its
// peer's (dev_get_iflink); two veth ends that both got index 2 in two fresh
// namespaces would otherwise wait up to a second before passing packets.
// It also saves a lookup for every later change of the link.
func (l *Lab) pickIndex(ns *Netns) int {
	if l.opts.Plan || ns.Existing || (l.opts.HostMode && ns == l.Host) {
		return 0
	}
	l.nextIndex++
	return firstIndex + l.nextIndex
}

// kernelError turns a netlink error into a message a user can act on.
func kernelError(kind string, err error) error {
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, syscall.EOPNOTSUPP) {
		return fmt.Errorf("link type %s is not supported by this kernel: %w", kind, err)
	}
	return err
}

// LinkSpec says how to create a link of any kind.
type LinkSpec struct {
	Name string
	MTU  int
	MAC  net.HardwareAddr
	Up   bool

	// via, when set, is the namespace whose netlink handle creates the
	// link (where a macvlan's parent or a vxlan's underlay lives); the
	// kernel places the new link in its own namespace at once.
	via *Netns
}

// addLink creates nl (whose LinkAttrs name the link) in ns and records it.
func (l *Lab) addLink(ns *Netns, kind string, nl netlink.Link, s LinkSpec, desc string, cmds []string) (*Link, error) {
	if err := CheckLinkName(s.Name); err != nil {
		return nil, err
	}
	if prev := ns.links[s.Name]; prev != nil {
		return nil, fmt.Errorf("link %s already exists in netns %q (made at %s)", s.Name, ns.Name, prev.Pos)
	}
	if err := l.countObject(1); err != nil {
		return nil, err
	}
	a := nl.Attrs()
	a.Name, a.MTU, a.HardwareAddr = s.Name, s.MTU, s.MAC
	if a.HardwareAddr == nil && (kind == "veth" || kind == "bridge") {
		// A bridge otherwise takes the lowest MAC of its ports and changes
		// it as ports come and go, leaving stale neighbour entries behind.
		a.HardwareAddr = l.newMAC()
	}
	a.Index = l.pickIndex(ns)
	if s.Up {
		a.Flags |= net.FlagUp
		cmds = append(cmds, ipn(ns)+" link set "+shellQuote(s.Name)+" up")
	}
	lk := &Link{Pos: l.pos, name: s.Name, kind: kind, up: s.Up, index: a.Index, mac: a.HardwareAddr}
	err := l.apply(Step{NS: ns.Name, Op: "link add", Desc: desc, Cmds: cmds}, func() error {
		return l.hostChange(ns, linkEntry(s.Name), l.withPeer(nl, func() error {
			h := ns.h
			if s.via != nil && s.via != ns {
				h, a.Namespace = s.via.h, netlink.NsFd(ns.fd)
			}
			err := h.LinkAdd(nl)
			if errors.Is(err, unix.EBUSY) && a.Index != 0 {
				// The index is taken (by a link the kernel numbered): let
				// the kernel choose.
				a.Index, lk.index = 0, 0
				err = h.LinkAdd(nl)
			}
			if err != nil {
				return kernelError(kind, err)
			}
			return nil
		}))
	})
	if err != nil {
		l.objects--
		return nil, fmt.Errorf("create %s %s in netns %q: %w", kind, s.Name, ns.Name, err)
	}
	ns.addLink(lk)
	if s.Up {
		l.markPending(lk)
	}
	return lk, nil
}

func delLinkByName(ns *Netns, name string) error {
	nl, err := ns.h.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil // already gone, e.g. with its veth peer
		}
		return err
	}
	return ns.h.LinkDel(nl)
}

// Bridge creates a Linux bridge in ns (up unless told otherwise). STP stays
// off, so ports forward as soon as they are up.
func (l *Lab) Bridge(ns *Netns, s LinkSpec) (*Link, error) {
	if err := ns.offBridgeNetfilter(); err != nil {
		return nil, err
	}
	cmd := ipn(ns) + " link add " + shellQuote(s.Name) + linkOpts(s) + " type bridge"
	return l.addLink(ns, "bridge", &netlink.Bridge{}, s, "create bridge "+s.Name+" in "+ns.Name, []string{cmd})
}

func linkOpts(s LinkSpec) string {
	var b strings.Builder
	if s.MTU > 0 {
		fmt.Fprintf(&b, " mtu %d", s.MTU)
	}
	if s.MAC != nil {
		fmt.Fprintf(&b, " address %s", s.MAC)
	}
	return b.String()
}

// VethSpec says how to create a veth pair.
type VethSpec struct {
	LinkSpec
	NS, PeerNS *Netns // namespaces of the two ends (nil means host)
	PeerName   string
	PeerMAC    net.HardwareAddr
}

// Veth creates a veth pair whose ends may live in any two namespaces, both
// up unless told otherwise. Empty names are generated.
func (l *Lab) Veth(s VethSpec) (*Link, *Link, error) {
	if s.NS == nil {
		s.NS = l.Host
	}
	if s.PeerNS == nil {
		s.PeerNS = l.Host
	}
	taken := ""
	if s.Name == "" {
		s.Name = l.genName(s.NS, "")
	}
	if s.NS == s.PeerNS {
		taken = s.Name
	}
	if s.PeerName == "" {
		s.PeerName = l.genName(s.PeerNS, taken)
	}
	if err := CheckLinkName(s.PeerName); err != nil {
		return nil, nil, err
	}
	if s.NS == s.PeerNS && s.Name == s.PeerName {
		return nil, nil, fmt.Errorf("both ends are called %s in netns %q", s.Name, s.NS.Name)
	}
	if prev := s.PeerNS.links[s.PeerName]; prev != nil {
		return nil, nil, fmt.Errorf("link %s already exists in netns %q (made at %s)", s.PeerName, s.PeerNS.Name, prev.Pos)
	}
	// One queue per end, said at creation: otherwise the kernel gives each
	// end a queue per possible CPU and then cuts them to one, which waits
	// for an RCU grace period twice per pair (most of a veth's cost).
	v := &netlink.Veth{PeerName: s.PeerName, PeerHardwareAddr: s.PeerMAC,
		LinkAttrs: netlink.LinkAttrs{NumTxQueues: 1, NumRxQueues: 1}, PeerNumTxQueues: 1, PeerNumRxQueues: 1}
	if !l.opts.Plan {
		v.PeerNamespace = netlink.NsFd(s.PeerNS.fd)
	}
	if v.PeerHardwareAddr == nil {
		v.PeerHardwareAddr = l.newMAC()
	}
	cmd := ipn(s.NS) + " link add " + shellQuote(s.Name) + linkOpts(s.LinkSpec) + " type veth peer name " + shellQuote(s.PeerName)
	if s.MTU > 0 {
		cmd += fmt.Sprintf(" mtu %d", s.MTU) // netlink gives the peer the same mtu
	}
	if s.PeerMAC != nil {
		cmd += " address " + s.PeerMAC.String()
	}
	if s.PeerNS != s.NS {
		cmd += " netns " + nsArg(s.PeerNS)
	}
	desc := fmt.Sprintf("create veth pair %s (%s) <-> %s (%s)", s.Name, s.NS.Name, s.PeerName, s.PeerNS.Name)
	a, err := l.addLink(s.NS, "veth", v, s.LinkSpec, desc, []string{cmd})
	if err != nil {
		if errors.Is(err, unix.EEXIST) {
			return nil, nil, fmt.Errorf("%w (%s or %s)", err, s.Name, s.PeerName)
		}
		return nil, nil, err
	}
	if err := l.countObject(1); err != nil {
		return nil, nil, err
	}
	b := &Link{Pos: l.pos, name: s.PeerName, kind: "veth", peer: a, mac: v.PeerHardwareAddr}
	a.peer = b
	s.PeerNS.addLink(b)
	if s.Up {
		if err := b.SetUp(true); err != nil {
			return nil, nil, err
		}
	}
	return a, b, nil
}

// nsArg names a namespace for `ip link ... netns X`.
func nsArg(n *Netns) string {
	if n.Name == HostName {
		return "$$" // the shell's own namespace: the lab's host
	}
	if n.shellPID != "" {
		return n.shellPID
	}
	return shellQuote(n.Name)
}
