package lab

import (
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
)

// TestSyncReadsHandMadeChanges: what a student does by hand with ip in a
// paused lab (here through the namespaces' own handles, as ip would) shows
// in the model after Sync: a bridge and a veth pair made by hand, one end
// moved to another namespace and made a port of the bridge, an address
// added to a lab link, a lab link renamed and another deleted.
func TestSyncReadsHandMadeChanges(t *testing.T) {
	t.Parallel()
	l := newLab(t, Options{})
	a, err := l.NewNetns("a")
	if err != nil {
		t.Fatal(err)
	}
	kept, _, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Name: "kept", Up: true}, PeerNS: a})
	if err != nil {
		t.Fatal(err)
	}
	gone, _, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Name: "gone", Up: true}, PeerNS: a})
	if err != nil {
		t.Fatal(err)
	}
	h := l.Host.h
	// ip link add br0 type bridge; ip link add foo type veth peer name bar
	// ip link set bar netns a; ip link set foo master br0; ip link set foo up
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}}
	must(t, h.LinkAdd(br))
	must(t, h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "foo"}, PeerName: "bar"}))
	bar, err := h.LinkByName("bar")
	must(t, err)
	must(t, h.LinkSetNsFd(bar, a.fd))
	foo, err := h.LinkByName("foo")
	must(t, err)
	must(t, h.LinkSetMaster(foo, br))
	must(t, h.LinkSetUp(foo))
	// ip addr add 10.9.0.1/24 dev kept; ip link set kept name renamed
	ip, ipnet, _ := net.ParseCIDR("10.9.0.1/24")
	ipnet.IP = ip
	must(t, h.AddrAdd(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: kept.index}}, &netlink.Addr{IPNet: ipnet}))
	must(t, h.LinkSetName(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: kept.index}}, "renamed"))
	// ip link del gone
	must(t, h.LinkDel(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: gone.index}}))

	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if kept.Name() != "renamed" || l.Host.Link("renamed") != kept || l.Host.Link("kept") != nil {
		t.Errorf("renamed link: model name %q", kept.Name())
	}
	if !slices.Equal(kept.Addrs(), []netip.Prefix{mustPrefix(t, "10.9.0.1/24")}) {
		t.Errorf("address added by hand: model has %v", kept.Addrs())
	}
	if gone.CheckLive() == nil || l.Host.Link("gone") != nil || a.Link(gone.Peer().Name()) != nil {
		t.Error("a veth pair deleted by hand is still in the model")
	}
	mFoo, mBar, mBr := l.Host.Link("foo"), a.Link("bar"), l.Host.Link("br0")
	if mFoo == nil || mBar == nil || mBr == nil {
		t.Fatalf("hand-made links not adopted: foo %v, bar %v, br0 %v", mFoo, mBar, mBr)
	}
	if mFoo.Master() != mBr || mFoo.Peer() != mBar || mBar.Peer() != mFoo || !mFoo.IsUp() || mBar.IsUp() || mBr.Kind() != "bridge" {
		t.Errorf("foo: master %v, peer %v, up %v; bar: peer %v, up %v; br0 kind %s",
			mFoo.Master(), mFoo.Peer(), mFoo.IsUp(), mBar.Peer(), mBar.IsUp(), mBr.Kind())
	}
	// A second Sync changes nothing.
	if err := l.Sync(); err != nil || l.Host.Link("foo") != mFoo || len(l.Host.Links()) != 3 {
		t.Errorf("second sync: %v, host links %v", err, l.Host.Links())
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
