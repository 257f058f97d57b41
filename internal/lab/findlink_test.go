package lab

import (
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
)

// TestFindLinkAdopts: a link something else made in a namespace (here the
// test, through the namespace's own handle, as a program would) is found,
// adopted once with its addresses, and a missing name lists what the kernel
// has, lo included.
func TestFindLinkAdopts(t *testing.T) {
	t.Parallel()
	l := newLab(t, Options{})
	n, err := l.NewNetns("n")
	if err != nil {
		t.Fatal(err)
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "foo"}, PeerName: "bar"}
	if err := n.h.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	ip, ipnet, _ := net.ParseCIDR("10.55.0.1/24")
	ipnet.IP = ip
	if err := n.h.AddrAdd(veth, &netlink.Addr{IPNet: ipnet}); err != nil {
		t.Fatal(err)
	}
	if n.Link("foo") != nil {
		t.Fatal("the model knew foo before it was looked up")
	}
	foo, err := n.FindLink("foo")
	if err != nil {
		t.Fatal(err)
	}
	if foo.Kind() != "veth" || !slices.Equal(foo.Addrs(), []netip.Prefix{mustPrefix(t, "10.55.0.1/24")}) {
		t.Errorf("adopted foo: kind %q, addrs %v", foo.Kind(), foo.Addrs())
	}
	if again, _ := n.FindLink("foo"); again != foo || n.Link("foo") != foo {
		t.Error("a second lookup made a second link")
	}
	_, err = n.FindLink("baz")
	if want := `no link "baz" in netns "n" (it has: bar, foo, lo)`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	isLoopback := func(p netip.Prefix) bool { return p.Addr().IsLoopback() }
	if _, err := n.FindLink("lo"); err != nil || slices.ContainsFunc(n.Addrs(), isLoopback) {
		t.Errorf("lo: %v; the namespace's addresses %v must not include loopback", err, n.Addrs())
	}
}
