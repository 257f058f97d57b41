package spec

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/nsutil"
)

// errNoNetns means this process may not create network namespaces itself
// (it is not privileged); the check then runs in a sandboxed child.
var errNoNetns = errors.New("cannot create a network namespace in this process")

// inThrowaway runs fn on a thread inside a fresh, empty network namespace
// that disappears when fn returns. Nothing on the host changes.
func inThrowaway(fn func() error) error {
	fd, err := nsutil.New()
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return errNoNetns
		}
		return err
	}
	defer unix.Close(fd)
	return nsutil.Do(fd, fn)
}

// canCreateLink reports whether the kernel creates a link of kind. It builds
// one in a throwaway namespace: a veth pair first, since some kinds (macvlan,
// vlan, ipvlan) need a parent.
func canCreateLink(kind string) (bool, error) {
	ok := false
	err := inThrowaway(func() error {
		parent := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "cond0"}, PeerName: "cond1"}
		if kind == "veth" {
			ok = netlink.LinkAdd(parent) == nil
			return nil
		}
		if err := netlink.LinkAdd(parent); err != nil {
			return fmt.Errorf("create veth: %w", err)
		}
		pidx := 0
		if l, err := netlink.LinkByName("cond0"); err == nil {
			pidx = l.Attrs().Index
		}
		ok = netlink.LinkAdd(linkOfKind(kind, pidx)) == nil
		return nil
	})
	return ok, err
}

// linkOfKind returns a minimal valid link of kind, on parent index pidx for
// the kinds that need one. Kinds not listed go through GenericLink, which is
// enough for those that take no mandatory attributes (dummy, ifb, nlmon).
func linkOfKind(kind string, pidx int) netlink.Link {
	attrs := netlink.LinkAttrs{Name: "probe0"}
	child := attrs
	child.ParentIndex = pidx
	local, remote := net.IPv4(192, 0, 2, 1), net.IPv4(192, 0, 2, 2)
	switch kind {
	case "bridge":
		return &netlink.Bridge{LinkAttrs: attrs}
	case "macvlan":
		return &netlink.Macvlan{LinkAttrs: child, Mode: netlink.MACVLAN_MODE_BRIDGE}
	case "macvtap":
		return &netlink.Macvtap{Macvlan: netlink.Macvlan{LinkAttrs: child, Mode: netlink.MACVLAN_MODE_BRIDGE}}
	case "ipvlan":
		return &netlink.IPVlan{LinkAttrs: child, Mode: netlink.IPVLAN_MODE_L2}
	case "ipvtap":
		return &netlink.IPVtap{IPVlan: netlink.IPVlan{LinkAttrs: child, Mode: netlink.IPVLAN_MODE_L2}}
	case "vlan":
		return &netlink.Vlan{LinkAttrs: child, VlanId: 10}
	case "vxlan":
		return &netlink.Vxlan{LinkAttrs: attrs, VxlanId: 42, Port: 4789}
	case "geneve":
		return &netlink.Geneve{LinkAttrs: attrs, ID: 42, Remote: remote}
	case "vrf":
		return &netlink.Vrf{LinkAttrs: attrs, Table: 10}
	case "bond":
		return netlink.NewLinkBond(attrs)
	case "dummy":
		return &netlink.Dummy{LinkAttrs: attrs}
	case "ifb":
		return &netlink.Ifb{LinkAttrs: attrs}
	case "tun":
		return &netlink.Tuntap{LinkAttrs: attrs, Mode: netlink.TUNTAP_MODE_TUN}
	case "tap":
		return &netlink.Tuntap{LinkAttrs: attrs, Mode: netlink.TUNTAP_MODE_TAP}
	case "gretap":
		return &netlink.Gretap{LinkAttrs: attrs, Local: local, Remote: remote}
	case "gre":
		return &netlink.Gretun{LinkAttrs: attrs, Local: local, Remote: remote}
	case "ipip":
		return &netlink.Iptun{LinkAttrs: attrs, Local: local, Remote: remote}
	case "sit":
		return &netlink.Sittun{LinkAttrs: attrs, Local: local, Remote: remote}
	case "vti":
		return &netlink.Vti{LinkAttrs: attrs, Local: local, Remote: remote}
	case "wireguard":
		return &netlink.Wireguard{LinkAttrs: attrs}
	}
	return &netlink.GenericLink{LinkAttrs: attrs, LinkType: kind}
}

// canAddQdisc reports whether the kernel attaches a qdisc of kind, trying it
// as the root qdisc of a veth in a throwaway namespace.
func canAddQdisc(kind string) (bool, error) {
	ok := false
	err := inThrowaway(func() error {
		if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "cond0"}, PeerName: "cond1"}); err != nil {
			return fmt.Errorf("create veth: %w", err)
		}
		l, err := netlink.LinkByName("cond0")
		if err != nil {
			return err
		}
		ok = netlink.QdiscAdd(qdiscOfKind(kind, l.Attrs().Index)) == nil
		return nil
	})
	return ok, err
}

// qdiscOfKind returns a minimal valid qdisc of kind on link index idx.
func qdiscOfKind(kind string, idx int) netlink.Qdisc {
	root := netlink.QdiscAttrs{LinkIndex: idx, Handle: netlink.MakeHandle(1, 0), Parent: netlink.HANDLE_ROOT}
	switch kind {
	case "netem":
		return netlink.NewNetem(root, netlink.NetemQdiscAttrs{Latency: 1000})
	case "tbf":
		return &netlink.Tbf{QdiscAttrs: root, Rate: 1 << 20, Limit: 1 << 16, Buffer: 1 << 14}
	case "htb":
		return netlink.NewHtb(root)
	case "hfsc":
		return netlink.NewHfsc(root)
	case "prio":
		return netlink.NewPrio(root)
	case "fq_codel":
		return netlink.NewFqCodel(root)
	case "sfq":
		return &netlink.Sfq{QdiscAttrs: root}
	case "fq":
		return &netlink.Fq{QdiscAttrs: root}
	case "ingress":
		return &netlink.Ingress{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: idx, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_INGRESS}}
	case "clsact":
		return &netlink.Clsact{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: idx, Handle: netlink.HANDLE_CLSACT & 0xffff0000, Parent: netlink.HANDLE_CLSACT}}
	}
	return &netlink.GenericQdisc{QdiscAttrs: root, QdiscType: kind}
}

// hasSysctl reports whether a fresh network namespace has the sysctl key
// (some exist only where a module is loaded: net.bridge.* needs
// br_netfilter).
func hasSysctl(key string) (bool, error) {
	ok := false
	err := inThrowaway(func() error {
		_, err := os.Stat("/proc/sys/" + strings.ReplaceAll(key, ".", "/"))
		ok = err == nil
		return nil
	})
	return ok, err
}
