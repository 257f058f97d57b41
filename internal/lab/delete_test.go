package lab

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestRuleAddDelete(t *testing.T) {
	t.Parallel()
	_, a, _, _, a1, _ := twoUplinks(t, Options{})
	ru, err := a.AddRule(RuleSpec{From: mustPrefix(t, "10.0.2.0/24"), IIF: a1.name, Mark: 1, Mask: 0xff, HasMark: true, Table: 102, Priority: 1001})
	if err != nil {
		t.Fatal(err)
	}
	find := func() *netlink.Rule {
		rules, err := a.h.RuleList(unix.AF_INET)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rules {
			if r.Priority == 1001 {
				return &rules[i]
			}
		}
		return nil
	}
	got := find()
	if got == nil || got.Table != 102 || got.IifName != a1.name || got.Mark != 1 || got.Mask == nil || *got.Mask != 0xff || got.Src.String() != "10.0.2.0/24" {
		t.Fatalf("kernel rule %+v, want priority 1001 from 10.0.2.0/24 iif %s fwmark 0x1/0xff lookup 102", got, a1.name)
	}
	if err := ru.Delete(); err != nil {
		t.Fatal(err)
	}
	if got := find(); got != nil {
		t.Fatalf("rule still there after Delete: %+v", got)
	}
	if _, err := a.AddRule(RuleSpec{V6: true, To: mustPrefix(t, "10.0.0.0/8"), Table: 5, Priority: -1}); err == nil || !strings.Contains(err.Error(), "IPv6 rule") {
		t.Fatalf("IPv6 rule to an IPv4 network: %v", err)
	}
}

func TestNetnsDeleteTakesPeersAlong(t *testing.T) {
	t.Parallel()
	l, a, r1, _, a1, a2 := twoUplinks(t, Options{})
	peer := a1.peer
	if err := r1.Delete(); err != nil {
		t.Fatal(err)
	}
	// a1's veth peer was in r1: a1 is gone from the kernel and the model now.
	if _, err := a.h.LinkByName(a1.name); err == nil {
		t.Fatalf("%s still exists in the kernel", a1.name)
	}
	if lks := a.Links(); len(lks) != 1 || lks[0] != a2 {
		t.Fatalf("a has links %v, want only %s", lks, a2.name)
	}
	if l.Lookup("r1") != nil {
		t.Fatal("the lab still knows r1")
	}
	for _, err := range []error{r1.CheckLive(), a1.CheckLive(), peer.CheckLive(), r1.Delete(), a1.Delete()} {
		if err == nil || !strings.Contains(err.Error(), "was deleted") {
			t.Errorf("use after delete: %v, want 'was deleted'", err)
		}
	}
	if _, err := a.AddRoute(RouteSpec{Dst: mustPrefix(t, "10.1.0.0/16"), Via: netip.MustParseAddr("10.0.2.1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.NewNetns("r1"); err != nil {
		t.Fatalf("the name of a deleted namespace is free again: %v", err)
	}
	if err := l.Host.Delete(); err == nil {
		t.Fatal("the host namespace was deleted")
	}
}
