package lab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// DefaultVxlanPort is the IANA port for VXLAN (the kernel's own default is
// the pre-standard 8472, so the lab always sets it).
const DefaultVxlanPort = 4789

// VxlanSpec says how to create a VXLAN tunnel endpoint.
type VxlanSpec struct {
	LinkSpec
	NS  *Netns // where the vxlan device lives (nil means host)
	VNI int    // VXLAN network identifier, 1 to 16777215
	// Remotes are the other endpoints' underlay addresses: frames for
	// unknown MACs (and broadcasts) are sent to each of them.
	Remotes []netip.Addr
	// Group is a multicast group to use instead of Remotes (needs Dev).
	Group netip.Addr
	// Local is this endpoint's underlay source address (optional).
	Local netip.Addr
	// Dev is the underlay link. When it lives in another namespace than NS,
	// the tunnel's UDP socket stays in Dev's namespace while the device
	// moves to NS (a container's overlay NIC).
	Dev *Link
	// Port is the UDP destination port (DefaultVxlanPort when 0).
	Port int
	// NoLearning turns off learning of remote MACs from received frames.
	NoLearning bool
}

// Vxlan creates a VXLAN device: an Ethernet segment carried in UDP over the
// underlay, to the endpoints in s.Remotes (or s.Group). Attach it to a
// bridge to join the nodes behind two "hosts" into one layer-2 segment. With
// one remote, the kernel's default destination is set (`remote X`); with
// several, an all-zeros forwarding entry per remote floods to each
// (`bridge fdb append 00:00:00:00:00:00 dev vxlan0 dst X`).
func (l *Lab) Vxlan(s VxlanSpec) (*Link, error) {
	if s.NS == nil {
		s.NS = l.Host
	}
	if s.Port == 0 {
		s.Port = DefaultVxlanPort
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	if s.Name == "" {
		s.Name = l.lowerName(s.NS, "vxlan")
	}
	if s.Dev != nil {
		s.via = s.Dev.ns // the tunnel's socket stays with its underlay
	}
	nl, cmd := s.request()
	if !l.opts.Plan && s.Dev != nil {
		idx, err := s.Dev.Index()
		if err != nil {
			return nil, err
		}
		nl.VtepDevIndex = idx
	}
	desc := fmt.Sprintf("create vxlan %s (vni %d) in %s", s.Name, s.VNI, s.NS.Name)
	lk, err := l.addLink(s.NS, "vxlan", nl, s.LinkSpec, desc, []string{cmd})
	if err != nil {
		return nil, err
	}
	lk.parent = s.Dev
	if len(s.Remotes) > 1 {
		if err := l.floodToRemotes(lk, s.Remotes); err != nil {
			return nil, fmt.Errorf("vxlan %s in netns %q: %w", s.Name, s.NS.Name, err)
		}
	}
	return lk, nil
}

// check reports the first thing wrong with s (its namespace and port
// already defaulted).
func (s *VxlanSpec) check() error {
	if s.VNI < 1 || s.VNI > 1<<24-1 {
		return fmt.Errorf("invalid vni %d (want 1 to 16777215)", s.VNI)
	}
	if s.Port < 1 || s.Port > 65535 {
		return fmt.Errorf("invalid port %d", s.Port)
	}
	if len(s.Remotes) > 0 && s.Group.IsValid() {
		return errors.New("give remote or group, not both")
	}
	if s.Group.IsValid() {
		if !s.Group.IsMulticast() {
			return fmt.Errorf("group %s is not a multicast address", s.Group)
		}
		if s.Dev == nil {
			return errors.New("a multicast group needs dev (the underlay link)")
		}
	}
	for _, r := range s.Remotes {
		if r.IsMulticast() {
			return fmt.Errorf("remote %s is a multicast address (use group)", r)
		}
		if s.Local.IsValid() && r.Is4() != s.Local.Is4() {
			return fmt.Errorf("remote %s and local %s are of different IP versions", r, s.Local)
		}
	}
	return nil
}

// request returns the netlink device for s (without the underlay's index)
// and the iproute2 command that makes the same one, in s.via when set.
func (s *VxlanSpec) request() (*netlink.Vxlan, string) {
	nl := &netlink.Vxlan{VxlanId: s.VNI, Port: s.Port, Learning: !s.NoLearning}
	args := []string{"type vxlan id", fmt.Sprint(s.VNI), "dstport", fmt.Sprint(s.Port)}
	if s.Local.IsValid() {
		nl.SrcAddr = net.IP(s.Local.AsSlice())
		args = append(args, "local", s.Local.String())
	}
	if s.Group.IsValid() {
		nl.Group = net.IP(s.Group.AsSlice())
		args = append(args, "group", s.Group.String())
	} else if len(s.Remotes) == 1 {
		nl.Group = net.IP(s.Remotes[0].AsSlice())
		args = append(args, "remote", s.Remotes[0].String())
	}
	if s.Dev != nil {
		args = append(args, "dev", shellQuote(s.Dev.name))
	}
	if s.NoLearning {
		args = append(args, "nolearning")
	}
	where := s.NS
	if s.via != nil {
		where = s.via
	}
	cmd := ipn(where) + " link add " + shellQuote(s.Name) + linkOpts(s.LinkSpec)
	if where != s.NS {
		cmd += " netns " + nsArg(s.NS)
	}
	return nl, cmd + " " + strings.Join(args, " ")
}

// floodToRemotes adds an all-zeros forwarding entry to lk for each remote,
// so that frames for unknown MACs go to every one of them.
func (l *Lab) floodToRemotes(lk *Link, remotes []netip.Addr) error {
	ns := lk.ns
	var cmds []string
	for _, r := range remotes {
		cmds = append(cmds, inNS(ns, "bridge fdb append 00:00:00:00:00:00 dev "+shellQuote(lk.name)+" dst "+r.String()))
	}
	step := Step{NS: ns.Name, Op: "fdb append", Desc: fmt.Sprintf("flood %s to %d remotes", lk.name, len(remotes)), Cmds: cmds}
	return l.apply(step, func() error {
		idx, err := lk.Index()
		if err != nil {
			return err
		}
		for _, r := range remotes {
			err := ns.h.NeighAppend(&netlink.Neigh{
				LinkIndex:    idx,
				Family:       unix.AF_BRIDGE,
				State:        netlink.NUD_PERMANENT | netlink.NUD_NOARP,
				Flags:        netlink.NTF_SELF,
				IP:           net.IP(r.AsSlice()),
				HardwareAddr: make(net.HardwareAddr, 6),
			})
			if err != nil {
				return fmt.Errorf("add remote %s: %w", r, err)
			}
		}
		return nil
	})
}
