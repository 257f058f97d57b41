package lab

import (
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
)

// TestImpairHTB: qdisc htb puts an htb root with default class 1:1 at the
// rate (the rate itself is measured by the impair_rate_htb spec).
func TestImpairHTB(t *testing.T) {
	t.Parallel()
	_, a, _, x := pair(t)
	if err := x.Impair(Impairment{Rate: 2e6, Shaper: "htb"}); err != nil {
		if strings.Contains(err.Error(), "not supported") {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	dev := &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: x.index}}
	qs, err := a.h.QdiscList(dev)
	if err != nil || len(qs) != 1 || qs[0].Type() != "htb" || qs[0].(*netlink.Htb).Defcls != 1 {
		t.Fatalf("qdiscs %v, %v; want one htb with default class 1", qs, err)
	}
	cs, err := a.h.ClassList(dev, netlink.MakeHandle(1, 0))
	if err != nil || len(cs) != 1 {
		t.Fatalf("classes %v, %v; want one", cs, err)
	}
	if c, ok := cs[0].(*netlink.HtbClass); !ok || c.Handle != netlink.MakeHandle(1, 1) || c.Rate != 2e6/8 || c.Ceil != 2e6/8 {
		t.Fatalf("class %+v, want 1:1 at 2mbit rate and ceil", cs[0])
	}
	if err := x.ClearImpairment(); err != nil {
		t.Fatal(err)
	}
	for im, want := range map[Impairment]string{
		{Rate: 1e6, Shaper: "cbq"}:               "unknown qdisc",
		{Delay: 1e6, Shaper: "htb"}:              "needs a rate",
		{Rate: 1e6, Latency: 1e6, Shaper: "htb"}: "htb has none",
	} {
		if err := x.Impair(im); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Impair(%+v) = %v, want %q", im, err, want)
		}
	}
}

func TestForwardingFamily(t *testing.T) {
	t.Parallel()
	l := newLab(t, Options{})
	n, err := l.NewNetns("r")
	if err != nil {
		t.Fatal(err)
	}
	read := func() string {
		v4, err1 := n.ReadSysctl("net.ipv4.ip_forward")
		v6, err2 := n.ReadSysctl("net.ipv6.conf.all.forwarding")
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		return v4 + v6
	}
	for _, step := range []struct {
		on   bool
		fam  string
		want string
	}{{true, "ipv4", "10"}, {true, "ipv6", "11"}, {false, "ipv4", "01"}, {false, "both", "00"}} {
		if err := n.SetForwarding(step.on, step.fam); err != nil {
			t.Fatal(err)
		}
		if got := read(); got != step.want {
			t.Errorf("after SetForwarding(%v, %s): ip_forward+forwarding = %s, want %s", step.on, step.fam, got, step.want)
		}
	}
	if err := n.SetForwarding(true, "ipx"); err == nil {
		t.Error("family ipx accepted")
	}
}
