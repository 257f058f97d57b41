package lab

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/nsutil"
)

// Dummy creates a dummy interface (a NIC that drops what it sends, useful to
// hold addresses) in ns, up unless told otherwise. Kernels without the dummy
// module refuse with "link type dummy is not supported by this kernel".
func (l *Lab) Dummy(ns *Netns, s LinkSpec) (*Link, error) {
	if ns == nil {
		ns = l.Host
	}
	if s.Name == "" {
		s.Name = l.lowerName(ns, "dummy")
	}
	cmd := ipn(ns) + " link add " + shellQuote(s.Name) + linkOpts(s) + " type dummy"
	return l.addLink(ns, "dummy", &netlink.Dummy{}, s, "create dummy "+s.Name+" in "+ns.Name, []string{cmd})
}

// VlanSpec says how to create an 802.1Q (or 802.1ad) VLAN interface.
type VlanSpec struct {
	LinkSpec
	Parent *Link
	NS     *Netns // where it lives (nil means the parent's namespace)
	ID     int    // VLAN id, 1 to 4094
	// Protocol is "802.1q" (default) or "802.1ad".
	Protocol string
}

// Vlan creates a VLAN interface on s.Parent: frames it sends leave the parent
// tagged with s.ID, and it receives the parent's frames with that tag. An
// empty name becomes PARENT.ID (eth0.10).
func (l *Lab) Vlan(s VlanSpec) (*Link, error) {
	if s.Parent == nil {
		return nil, errors.New("vlan needs a parent link")
	}
	if s.ID < 1 || s.ID > 4094 {
		return nil, fmt.Errorf("invalid vlan id %d (want 1 to 4094)", s.ID)
	}
	nl := &netlink.Vlan{VlanId: s.ID, VlanProtocol: netlink.VLAN_PROTOCOL_8021Q}
	switch strings.ToLower(s.Protocol) {
	case "", "802.1q":
		s.Protocol = "802.1Q"
	case "802.1ad":
		s.Protocol, nl.VlanProtocol = "802.1ad", netlink.VLAN_PROTOCOL_8021AD
	default:
		return nil, fmt.Errorf("unknown vlan protocol %q (want 802.1q or 802.1ad)", s.Protocol)
	}
	if s.Name == "" {
		id := "." + strconv.Itoa(s.ID)
		s.Name = s.Parent.name[:min(len(s.Parent.name), 15-len(id))] + id
	}
	return l.addLower(s.Parent, s.NS, "vlan", nl, s.LinkSpec, fmt.Sprintf("type vlan protocol %s id %d", s.Protocol, s.ID))
}

// IPVlanSpec says how to create an ipvlan.
type IPVlanSpec struct {
	LinkSpec
	Parent *Link
	NS     *Netns // where it lives (nil means the parent's namespace)
	// Mode is "l2" (default), "l3" or "l3s"; Flag is "bridge" (default),
	// "private" or "vepa", with the meaning they have for macvlan.
	Mode, Flag string
}

var (
	ipvlanModes = map[string]netlink.IPVlanMode{"l2": netlink.IPVLAN_MODE_L2, "l3": netlink.IPVLAN_MODE_L3, "l3s": netlink.IPVLAN_MODE_L3S}
	ipvlanFlags = map[string]netlink.IPVlanFlag{"bridge": netlink.IPVLAN_FLAG_BRIDGE, "private": netlink.IPVLAN_FLAG_PRIVATE, "vepa": netlink.IPVLAN_FLAG_VEPA}
)

// IPVlan creates an ipvlan on s.Parent: like a macvlan, but every ipvlan
// shares the parent's MAC address (for switches that allow one MAC per
// port).
func (l *Lab) IPVlan(s IPVlanSpec) (*Link, error) {
	if s.Parent == nil {
		return nil, errors.New("ipvlan needs a parent link")
	}
	if s.Mode == "" {
		s.Mode = "l2"
	}
	if s.Flag == "" {
		s.Flag = "bridge"
	}
	mode, ok := ipvlanModes[s.Mode]
	if !ok {
		return nil, fmt.Errorf("unknown ipvlan mode %q (want l2, l3 or l3s)", s.Mode)
	}
	flag, ok := ipvlanFlags[s.Flag]
	if !ok {
		return nil, fmt.Errorf("unknown ipvlan flag %q (want bridge, private or vepa)", s.Flag)
	}
	if s.MAC != nil {
		return nil, errors.New("an ipvlan has its parent's mac address; mac cannot be set")
	}
	return l.addLower(s.Parent, s.NS, "ipvlan", &netlink.IPVlan{Mode: mode, Flag: flag}, s.LinkSpec, "type ipvlan mode "+s.Mode+" "+s.Flag)
}

// TapSpec says how to create a tap (or tun) device.
type TapSpec struct {
	LinkSpec
	// Tun makes a layer-3 tun device instead of a layer-2 tap.
	Tun bool
	// Owner is the user id allowed to attach to the device (as
	// `ip tuntap add ... user UID`); 0 means root.
	Owner int
}

// Tap creates a persistent tap (or tun) device in ns, as `ip tuntap add`
// does: the device a virtual machine or a userspace program attaches to.
// Until a program opens it, it has no carrier, so packets sent to it are
// dropped; Settle does not wait for it.
func (l *Lab) Tap(ns *Netns, s TapSpec) (*Link, error) {
	if ns == nil {
		ns = l.Host
	}
	kind, mode := "tap", netlink.TUNTAP_MODE_TAP
	if s.Tun {
		kind, mode = "tun", netlink.TUNTAP_MODE_TUN
	}
	if s.Name == "" {
		s.Name = l.lowerName(ns, kind)
	}
	if s.Owner < 0 {
		return nil, fmt.Errorf("invalid owner %d", s.Owner)
	}
	if err := CheckLinkName(s.Name); err != nil {
		return nil, err
	}
	if prev := ns.links[s.Name]; prev != nil {
		return nil, fmt.Errorf("link %s already exists in netns %q (made at %s)", s.Name, ns.Name, prev.Pos)
	}
	if err := l.countObject(1); err != nil {
		return nil, err
	}
	cmd := fmt.Sprintf("%s tuntap add dev %s mode %s", ipn(ns), shellQuote(s.Name), kind)
	if s.Owner != 0 {
		cmd += " user " + strconv.Itoa(s.Owner)
	}
	err := l.apply(Step{NS: ns.Name, Op: "link add", Desc: fmt.Sprintf("create %s %s in %s", kind, s.Name, ns.Name), Cmds: []string{cmd}}, func() error {
		tt := &netlink.Tuntap{
			LinkAttrs: netlink.LinkAttrs{Name: s.Name},
			Mode:      mode,
			Flags:     netlink.TUNTAP_NO_PI | netlink.TUNTAP_TUN_EXCL,
			Owner:     uint32(s.Owner),
		}
		// /dev/net/tun creates the device in the namespace of the thread
		// that opens it, so this one step runs inside ns.
		// With --host the device is journaled (hostchange.go).
		err := l.hostChange(ns, linkEntry(s.Name), func() error { return nsutil.Do(ns.fd, func() error { return ns.h.LinkAdd(tt) }) })
		if err != nil {
			return tunError(err)
		}
		return nil
	})
	if err != nil {
		l.objects--
		return nil, fmt.Errorf("create %s %s in netns %q: %w", kind, s.Name, ns.Name, err)
	}
	lk := &Link{Pos: l.pos, name: s.Name, kind: kind}
	ns.addLink(lk)
	if s.MTU != 0 {
		if err := lk.SetMTU(s.MTU); err != nil {
			return nil, err
		}
	}
	if s.MAC != nil {
		if err := lk.SetMAC(s.MAC); err != nil {
			return nil, err
		}
	}
	if s.Up {
		if err := lk.SetUp(true); err != nil {
			return nil, err
		}
	}
	return lk, nil
}

// tunError explains a failure to make a tap or tun device through
// /dev/net/tun: a missing device, or one this user may not open (it is
// often mode 0600, owned by root, and a rootless sandbox's root is the
// caller, not the real root).
func tunError(err error) error {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("no /dev/net/tun (load the tun module): %w", err)
	case errors.Is(err, os.ErrPermission):
		mode := ""
		if fi, serr := os.Stat("/dev/net/tun"); serr == nil {
			mode = fmt.Sprintf(" (it is mode %04o)", fi.Mode().Perm())
		}
		return fmt.Errorf("tap devices need /dev/net/tun to be writable by this user%s: run as root or make it so (chmod 0666 /dev/net/tun); specs can declare [tun]: %w", mode, err)
	}
	return err
}

// SetHairpin turns hairpin mode of a bridge port on or off: with it on, the
// bridge may send a frame back out of the port it came in on, which is what
// a "VEPA-capable" switch does for the macvlans behind that port.
func (lk *Link) SetHairpin(on bool) error {
	n := lk.ns
	if lk.master == nil && !lk.adopted {
		return fmt.Errorf("%s is not a bridge port (set master first)", lk.name)
	}
	word := "off"
	if on {
		word = "on"
	}
	err := n.lab.apply(Step{NS: n.Name, Op: "link set", Desc: fmt.Sprintf("turn hairpin %s for bridge port %s in %s", word, lk.name, n.Name),
		Cmds: []string{inNS(n, "bridge link set dev "+shellQuote(lk.name)+" hairpin "+word)}}, func() error {
		ref, err := lk.ref()
		if err != nil {
			return err
		}
		if lk.adopted && n.lab.opts.HostMode {
			// A port the lab did not make keeps its old mode after the run.
			if pi, err := n.h.LinkGetProtinfo(ref); err == nil && pi.Hairpin != on {
				was := pi.Hairpin
				defer n.lab.onUndo("restore hairpin of "+lk.name, func() error { return n.h.LinkSetHairpin(ref, was) })
			}
		}
		return n.h.LinkSetHairpin(ref, on)
	})
	if err != nil {
		if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL) {
			err = fmt.Errorf("%w (is it a bridge port?)", err)
		}
		return fmt.Errorf("set hairpin %s on %s in netns %q: %w", word, lk.name, n.Name, err)
	}
	// The port, its veth peer and the macvlans on that peer: their
	// failed neighbour lookups, left by probes before the port changed,
	// are flushed by the next Settle, and a probe right after the change
	// sees the new behaviour instead of waiting for the kernel's ARP retry.
	n.lab.markPending(lk)
	return nil
}

// Hairpin reports whether the bridge port's hairpin mode is on, as the
// kernel says (false in plan mode).
func (lk *Link) Hairpin() (bool, error) {
	if lk.ns.lab.opts.Plan {
		return false, nil
	}
	ref, err := lk.ref()
	if err != nil {
		return false, err
	}
	pi, err := lk.ns.h.LinkGetProtinfo(ref)
	if err != nil {
		return false, fmt.Errorf("read bridge port flags of %s in netns %q: %w", lk.name, lk.ns.Name, err)
	}
	return pi.Hairpin, nil
}

// OpenNetnsPID opens the network namespace of process pid (a running
// container, say) as name, through /proc/PID/ns/net, and adopts its links.
func (l *Lab) OpenNetnsPID(name string, pid int) (*Netns, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("open netns %q: invalid pid %d", name, pid)
	}
	path := fmt.Sprintf("/proc/%d/ns/net", pid)
	if !l.opts.Plan {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
			return nil, fmt.Errorf("open netns %q: no process %d%s", name, pid, l.outsideHint())
		}
	}
	return l.OpenNetns(name, path)
}

// outsideHint says, outside HostMode, why a process may not be found: in the
// sandbox's PID namespace only the lab's own processes are visible.
func (l *Lab) outsideHint() string {
	if l.opts.HostMode {
		return ""
	}
	return " (only the lab's own processes are visible; joining a namespace outside the lab needs --host)"
}
