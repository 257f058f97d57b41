package lab

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/nsscript/nsscript/internal/sandbox"
)

// TestUnsupportedLinkTypes checks that dummy, vlan and ipvlan either work or,
// on kernels without them, fail with the one line a user can act on.
func TestUnsupportedLinkTypes(t *testing.T) {
	t.Parallel()
	l := newLab(t, Options{})
	a, _, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Name: "eth0", Up: true}})
	if err != nil {
		t.Fatal(err)
	}
	for kind, create := range map[string]func() (*Link, error){
		"dummy":  func() (*Link, error) { return l.Dummy(nil, LinkSpec{Up: true}) },
		"vlan":   func() (*Link, error) { return l.Vlan(VlanSpec{Parent: a, ID: 10}) },
		"ipvlan": func() (*Link, error) { return l.IPVlan(IPVlanSpec{Parent: a}) },
	} {
		lk, err := create()
		if err != nil {
			want := "link type " + kind + " is not supported by this kernel"
			if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: %v (want one line with %q)", kind, err, want)
			}
			continue
		}
		if lk.Kind() != kind {
			t.Errorf("%s: kind %s", kind, lk.Kind())
		}
	}
}

func TestLowerDefaultsAndBadInput(t *testing.T) {
	t.Parallel()
	l, err := New(Options{Plan: true})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := l.NewNetns("c")
	a, _, _ := l.Veth(VethSpec{LinkSpec: LinkSpec{Name: "enp0s31f6long"}})
	v, err := l.Vlan(VlanSpec{Parent: a, ID: 100, NS: c})
	if err != nil || v.Name() != "enp0s31f6lo.100" || v.NS() != c {
		t.Errorf("vlan %v, %v", v, err)
	}
	d, err := l.Dummy(c, LinkSpec{})
	if err != nil || d.Name() != "dummy0" {
		t.Errorf("dummy %v, %v", d, err)
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{second(l.Vlan(VlanSpec{Parent: a, ID: 4095})), "invalid vlan id 4095"},
		{second(l.Vlan(VlanSpec{Parent: a, ID: 5, Protocol: "isl"})), `unknown vlan protocol "isl"`},
		{second(l.IPVlan(IPVlanSpec{Parent: a, Mode: "l4"})), `unknown ipvlan mode "l4"`},
		{second(l.IPVlan(IPVlanSpec{Parent: a, Flag: "open"})), `unknown ipvlan flag "open"`},
		{second(l.Macvlan(MacvlanSpec{})), "macvlan needs a parent link"},
		{second(l.Tap(c, TapSpec{LinkSpec: LinkSpec{Name: "dummy0"}})), `link dummy0 already exists in netns "c"`},
		{a.SetHairpin(true), "enp0s31f6long is not a bridge port (set master first)"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("got %v, want %q", tc.err, tc.want)
		}
	}
	var b strings.Builder
	l.WriteSteps(&b)
	for _, want := range []string{
		"ip link add link enp0s31f6long name enp0s31f6lo.100 netns c type vlan protocol 802.1Q id 100",
		"ip -n c link add dummy0 type dummy",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("steps lack %q:\n%s", want, b.String())
		}
	}
}

func second[T any](_ T, err error) error { return err }

// TestTap creates a tap in a namespace, bridged and addressed: it is a
// bridge port without carrier until a program opens it, so the lab does not
// wait for it, and its own address answers locally.
func TestTap(t *testing.T) {
	t.Parallel()
	l := newLab(t, Options{})
	c, err := l.NewNetns("vmhost")
	if err != nil {
		t.Fatal(err)
	}
	tp, err := l.Tap(c, TapSpec{LinkSpec: LinkSpec{Name: "tap0", MTU: 1400, Up: true}})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := l.Tap(c, TapSpec{Tun: true, LinkSpec: LinkSpec{Up: true}})
	if err != nil {
		t.Fatal(err)
	}
	if tn.Name() != "tun0" || tn.Kind() != "tun" || tp.Kind() != "tap" {
		t.Errorf("tun %s kind %s, tap kind %s", tn.Name(), tn.Kind(), tp.Kind())
	}
	br, err := l.Bridge(c, LinkSpec{Name: "br0", Up: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.SetMaster(br); err != nil {
		t.Fatal(err)
	}
	if err := tp.AddAddr(mustPrefix(t, "10.9.0.1/24")); err != nil {
		t.Fatal(err)
	}
	st, err := tp.State()
	if err != nil || st.MTU != 1400 || st.MasterIndex == 0 {
		t.Fatalf("tap state %+v, %v", st, err)
	}
	if host := l.Host.Link("tap0"); host != nil {
		t.Errorf("tap0 also in host")
	}
	// Settle does not wait for a tap's carrier, which comes only when a
	// program opens the device.
	if l.canComeUp(tp, 0) {
		t.Errorf("Settle would wait for a tap without carrier")
	}
	wantPing(t, l, c, "10.9.0.1", true)
}

// TestOpenNetnsPID joins a running process's namespace (a "container"), as
// seed 003 does with docker inspect's PID, adds a link there and renames it.
func TestOpenNetnsPID(t *testing.T) {
	t.Parallel()
	l := newLab(t, Options{})
	cmd := exec.Command("sleep", "30")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	// Through the reaper's StartCmd, which newLab's Reap requires of
	// every child this test process waits for.
	if err := sandbox.StartCmd(cmd, cmd.Start); err != nil {
		t.Skipf("cannot start a process in a new netns: %v", err)
	}
	defer func() { cmd.Process.Kill(); sandbox.WaitCmd(cmd) }()

	c, err := l.OpenNetnsPID("container", cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Existing {
		t.Error("not marked existing")
	}
	vnet, peer, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Name: "vnet01", Up: true}, PeerName: "vnetabcd"})
	if err != nil {
		t.Fatal(err)
	}
	if err := vnet.AddAddr(mustPrefix(t, "192.168.6.1/24")); err != nil {
		t.Fatal(err)
	}
	if err := peer.Move(c); err != nil {
		t.Fatal(err)
	}
	if err := peer.Rename("eth1"); err != nil {
		t.Fatal(err)
	}
	if err := peer.SetUp(true); err != nil {
		t.Fatal(err)
	}
	if err := peer.AddAddr(mustPrefix(t, "192.168.6.2/24")); err != nil {
		t.Fatal(err)
	}
	wantPing(t, l, l.Host, "192.168.6.2", true)
	wantPing(t, l, c, "192.168.6.1", true)

	// A second lab (a later run) adopts what the first one left there.
	l2 := newLab(t, Options{})
	c2, err := l2.OpenNetnsPID("again", cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	eth1 := c2.Link("eth1")
	if eth1 == nil || len(eth1.Addrs()) != 1 || eth1.Addrs()[0].String() != "192.168.6.2/24" {
		t.Fatalf("adopted eth1 = %v", eth1)
	}
	if err := eth1.SetUp(false); err != nil {
		t.Fatal(err)
	}
	if err := eth1.Rename("eth2"); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		pid  int
		want string
	}{{0, "invalid pid 0"}, {1 << 30, "no process 1073741824"}} {
		if _, err := l.OpenNetnsPID("x", tc.pid); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("pid %d: %v, want %q", tc.pid, err, tc.want)
		}
	}
}

// TestBridgeInsideNamespace is seed 000's flow: a bridge made inside a
// namespace, an uplink and a veth end moved in and attached to it.
func TestBridgeInsideNamespace(t *testing.T) {
	t.Parallel()
	l := newLab(t, Options{})
	ns1, err := l.NewNetns("ns_1")
	if err != nil {
		t.Fatal(err)
	}
	far, err := l.NewNetns("far")
	if err != nil {
		t.Fatal(err)
	}
	br, err := l.Bridge(ns1, LinkSpec{Name: "edge_bridge1", Up: true})
	if err != nil {
		t.Fatal(err)
	}
	eth1, wire, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Name: "eth1", Up: true}, PeerName: "wire", PeerNS: far})
	if err != nil {
		t.Fatal(err)
	}
	if err := wire.AddAddr(mustPrefix(t, "10.0.0.1/24")); err != nil {
		t.Fatal(err)
	}
	if err := eth1.Move(ns1); err != nil {
		t.Fatal(err)
	}
	if err := eth1.SetMaster(br); err != nil {
		t.Fatal(err)
	}
	if err := eth1.SetUp(true); err != nil {
		t.Fatal(err)
	}
	if err := br.AddAddr(mustPrefix(t, "10.0.0.2/24")); err != nil {
		t.Fatal(err)
	}
	wantPing(t, l, ns1, "10.0.0.1", true)
	if l.Host.Link("eth1") != nil || ns1.Link("eth1") != eth1 {
		t.Error("eth1 not moved in the model")
	}
}
