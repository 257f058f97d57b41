package lab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// After Settle, every IPv6 address of a link it waited for can be
// resolved: its solicited-node multicast group is joined. The kernel joins
// it on its addrconf workqueue, also for the lab's NODAD addresses, so
// right after the address is added it often is not (on a loaded machine,
// for a long time): Settle waits for it.
func TestSettleWaitsForSolicitedNodeGroups(t *testing.T) {
	t.Parallel()
	l := newLab(t, Options{})
	ns, err := l.NewNetns("sn")
	if err != nil {
		t.Fatal(err)
	}
	_, in, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Up: true}, PeerNS: ns})
	if err != nil {
		t.Fatal(err)
	}
	idx, err := in.Index()
	if err != nil {
		t.Fatal(err)
	}
	rb := make([]byte, 1<<16)
	for i := range 40 {
		p := mustPrefix(t, fmt.Sprintf("fd00:5::%x/64", 0x100+i))
		if err := in.AddAddr(p); err != nil {
			t.Fatal(err)
		}
		l.Settle(context.Background())
		joined, err := groups6(ns, rb)
		if err != nil {
			t.Fatal(err)
		}
		if !joined[mcGroup{index: idx, group: solicitedNode(p.Addr())}] {
			t.Fatalf("Settle returned before %s joined %s, the solicited-node group of %s", in.name, solicitedNode(p.Addr()), p.Addr())
		}
	}
}

func TestSolicitedNode(t *testing.T) {
	for addr, want := range map[string]string{
		"fd00:2::2":                 "ff02::1:ff00:2",
		"fe80::4c2a:11ff:fe3b:9dc7": "ff02::1:ff3b:9dc7",
	} {
		if got := solicitedNode(netip.MustParseAddr(addr)); got != netip.MustParseAddr(want) {
			t.Errorf("solicitedNode(%s) = %s, want %s", addr, got, want)
		}
	}
}

// unready marks a link whose IPv6 address has no solicited-node group yet,
// but not a link without neighbour discovery, nor when the groups could
// not be read.
func TestUnreadyWantsSolicitedNodeGroups(t *testing.T) {
	links := []linkState{
		{index: 2, name: "eth0", oper: netlink.OperUp, flags: unix.IFF_UP | unix.IFF_LOWER_UP | unix.IFF_MULTICAST},
		{index: 3, name: "tun0", oper: netlink.OperUnknown, flags: unix.IFF_UP | unix.IFF_LOWER_UP | unix.IFF_NOARP},
	}
	addr := func(index int, s string) netlink.Addr {
		return netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP(s), Mask: net.CIDRMask(64, 128)}, LinkIndex: index}
	}
	addrs := []netlink.Addr{
		addr(2, "fe80::1"), addr(2, "fd00:2::2"),
		addr(3, "fe80::2"), addr(3, "fd00:3::2"),
	}
	group := func(index int, s string) mcGroup {
		return mcGroup{index: index, group: netip.MustParseAddr(s)}
	}
	wantLL := map[string]bool{"eth0": true, "tun0": true}
	all := map[mcGroup]bool{group(2, "ff02::1:ff00:1"): true, group(2, "ff02::1:ff00:2"): true}
	for _, c := range []struct {
		name   string
		joined map[mcGroup]bool
		want   bool // eth0 is not ready
	}{
		{"all joined", all, false},
		{"global's group missing", map[mcGroup]bool{group(2, "ff02::1:ff00:1"): true}, true},
		{"group on another link", map[mcGroup]bool{group(2, "ff02::1:ff00:1"): true, group(3, "ff02::1:ff00:2"): true}, true},
		{"groups unknown", nil, false},
	} {
		m := unready(links, nil, addrs, c.joined, wantLL)
		if m["eth0"] != c.want {
			t.Errorf("%s: eth0 not ready = %v, want %v", c.name, m["eth0"], c.want)
		}
		if m["tun0"] {
			t.Errorf("%s: tun0 (NOARP) not ready", c.name)
		}
	}
}

// A link carries packets only once its operational state and its carrier
// agree: a bridge that lost its carrier when its first port was added
// still says unknown (or up) until the kernel's linkwatch work runs, which
// then deactivates its queue; a probe let through then loses its packets.
func TestUnreadyWantsCarrier(t *testing.T) {
	for _, c := range []struct {
		oper  netlink.LinkOperState
		lower bool
		ready bool
	}{
		{netlink.OperUp, true, true},
		{netlink.OperUnknown, true, true}, // a new bridge, lo
		{netlink.OperUnknown, false, false},
		{netlink.OperUp, false, false},
		{netlink.OperDown, false, false},
		{netlink.OperDown, true, false}, // carrier back, queue not yet active
		{netlink.OperLowerLayerDown, true, false},
	} {
		flags := uint32(unix.IFF_UP)
		if c.lower {
			flags |= unix.IFF_LOWER_UP
		}
		m := unready([]linkState{{index: 2, name: "switch", oper: c.oper, flags: flags}}, nil, nil, nil, nil)
		if m["switch"] == c.ready {
			t.Errorf("oper %v, carrier %v: not ready = %v, want %v", c.oper, c.lower, m["switch"], !c.ready)
		}
	}
}

// A bridge the lab made (with its own MAC address) is ready only when its
// state says up: "unknown" with a carrier means the kernel has not yet
// activated its queue (bridgesWithMAC). Other links keep the general rule.
func TestUnreadyWantsLabBridgesUp(t *testing.T) {
	up := uint32(unix.IFF_UP | unix.IFF_LOWER_UP)
	links := []linkState{
		{index: 2, name: "switch", oper: netlink.OperUnknown, flags: up},
		{index: 3, name: "br0", oper: netlink.OperUnknown, flags: up},
		{index: 4, name: "lo", oper: netlink.OperUnknown, flags: up},
		{index: 5, name: "core", oper: netlink.OperUp, flags: up},
	}
	m := unready(links, map[string]bool{"switch": true, "core": true}, nil, nil, nil)
	for name, want := range map[string]bool{"switch": true, "br0": false, "lo": false, "core": false} {
		if m[name] != want {
			t.Errorf("%s: not ready = %v, want %v", name, m[name], want)
		}
	}
}

// The kernel side of that rule: a bridge the lab makes leaves "unknown"
// once its port forwards, so Settle does not wait for it in vain (it would
// give up after SettleTimeout and let probes through).
func TestLabBridgeReportsUp(t *testing.T) {
	t.Parallel()
	l := newLab(t, Options{})
	ns, err := l.NewNetns("lan")
	if err != nil {
		t.Fatal(err)
	}
	br, err := l.Bridge(ns, LinkSpec{Name: "switch", Up: true})
	if err != nil {
		t.Fatal(err)
	}
	_, port, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Up: true}, PeerNS: ns})
	if err != nil {
		t.Fatal(err)
	}
	if err := port.SetMaster(br); err != nil {
		t.Fatal(err)
	}
	if !bridgesWithMAC(ns)["switch"] {
		t.Fatal("the lab's bridge is not held to the strict rule")
	}
	l.Settle(context.Background())
	st, err := linkStates(ns, make([]byte, 1<<16))
	if err != nil {
		t.Fatal(err)
	}
	for _, ls := range st {
		if ls.name == "switch" && ls.oper != netlink.OperUp {
			t.Errorf("after Settle the bridge says %v, want up", ls.oper)
		}
	}
}
