package lab

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// overlay builds n "hosts" h1..hn on one underlay bridge (192.168.100.0/24 in
// namespace "underlay"), each with a bridge br0 joining vxlan0 (vni 42, to
// every other host) and a node nI (10.0.0.I/24) behind it.
func overlay(t *testing.T, n int) (*Lab, []*Netns, []*Link) {
	t.Helper()
	l := newLab(t, Options{})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	u, err := l.NewNetns("underlay")
	must(err)
	sw, err := l.Bridge(u, LinkSpec{Name: "sw", Up: true})
	must(err)
	under := func(i int) netip.Addr { return netip.MustParseAddr(fmt.Sprintf("192.168.100.%d", i)) }
	var nodes []*Netns
	var uplinks []*Link
	for i := 1; i <= n; i++ {
		h, err := l.NewNetns(fmt.Sprintf("h%d", i))
		must(err)
		up, port, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Name: "eth0", Up: true}, NS: h, PeerNS: u, PeerName: fmt.Sprintf("p%d", i)})
		must(err)
		must(port.SetMaster(sw))
		must(up.AddAddr(netip.PrefixFrom(under(i), 24)))
		var remotes []netip.Addr
		for j := 1; j <= n; j++ {
			if j != i {
				remotes = append(remotes, under(j))
			}
		}
		vx, err := l.Vxlan(VxlanSpec{LinkSpec: LinkSpec{Up: true}, NS: h, VNI: 42, Remotes: remotes, Local: under(i), Dev: up})
		must(err)
		if vx.Name() != "vxlan0" || vx.Kind() != "vxlan" {
			t.Fatalf("vxlan %s kind %s", vx.Name(), vx.Kind())
		}
		br, err := l.Bridge(h, LinkSpec{Name: "br0", Up: true})
		must(err)
		must(vx.SetMaster(br))
		node, err := l.NewNetns(fmt.Sprintf("n%d", i))
		must(err)
		a, b, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Up: true}, NS: h, PeerNS: node})
		must(err)
		must(a.SetMaster(br))
		must(b.AddAddr(mustPrefix(t, fmt.Sprintf("10.0.0.%d/24", i))))
		nodes = append(nodes, node)
		uplinks = append(uplinks, up)
	}
	return l, nodes, uplinks
}

func TestVxlanTwoHosts(t *testing.T) {
	t.Parallel()
	l, nodes, uplinks := overlay(t, 2)
	wantPing(t, l, nodes[0], "10.0.0.2", true)
	wantPing(t, l, nodes[1], "10.0.0.1", true)
	wantPing(t, l, nodes[0], "192.168.100.2", false) // the underlay is not part of the overlay
	if err := uplinks[1].SetUp(false); err != nil {
		t.Fatal(err)
	}
	wantPing(t, l, nodes[0], "10.0.0.2", false) // no underlay, no overlay
}

func TestVxlanThreeHosts(t *testing.T) {
	t.Parallel()
	l, nodes, _ := overlay(t, 3)
	wantPing(t, l, nodes[0], "10.0.0.3", true)
	wantPing(t, l, nodes[2], "10.0.0.2", true)
	wantPing(t, l, nodes[1], "10.0.0.1", true)
}

func TestVxlanBadInputAndPlan(t *testing.T) {
	t.Parallel()
	l, err := New(Options{Plan: true})
	if err != nil {
		t.Fatal(err)
	}
	r := []netip.Addr{netip.MustParseAddr("192.168.0.2")}
	for _, tc := range []struct {
		s    VxlanSpec
		want string
	}{
		{VxlanSpec{VNI: 0, Remotes: r}, "invalid vni 0"},
		{VxlanSpec{VNI: 1 << 24, Remotes: r}, "invalid vni 16777216"},
		{VxlanSpec{VNI: 1, Remotes: r, Group: netip.MustParseAddr("239.1.1.1")}, "give remote or group, not both"},
		{VxlanSpec{VNI: 1, Group: netip.MustParseAddr("10.1.1.1")}, "group 10.1.1.1 is not a multicast address"},
		{VxlanSpec{VNI: 1, Group: netip.MustParseAddr("239.1.1.1")}, "a multicast group needs dev"},
		{VxlanSpec{VNI: 1, Remotes: r, Local: netip.MustParseAddr("fd00::1")}, "of different IP versions"},
		{VxlanSpec{VNI: 1, Remotes: r, Port: 70000}, "invalid port 70000"},
	} {
		if _, err := l.Vxlan(tc.s); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.s, err, tc.want)
		}
	}
	two := append(r, netip.MustParseAddr("192.168.0.3"))
	if _, err := l.Vxlan(VxlanSpec{VNI: 7, Remotes: two, NoLearning: true}); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	l.WriteSteps(&b)
	for _, want := range []string{
		"ip link add vxlan0 type vxlan id 7 dstport 4789 nolearning",
		"bridge fdb append 00:00:00:00:00:00 dev vxlan0 dst 192.168.0.3",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("steps lack %q:\n%s", want, b.String())
		}
	}
}
