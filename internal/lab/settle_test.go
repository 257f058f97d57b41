package lab

import (
	"context"
	"runtime"
	"testing"
)

// A probe that calls Settle while another probe's Settle is still waiting
// for a link does not go ahead of it: the link that came up is not ready
// for it either. Here the link's IPv6 link-local goes through duplicate
// address detection (turned back on), which keeps it tentative for about
// a second.
func TestSettleWaitsForAnEarlierSettle(t *testing.T) {
	t.Parallel()
	l := newLab(t, Options{})
	ns, err := l.NewNetns("dad")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"net.ipv6.conf.default.accept_dad", "net.ipv6.conf.all.accept_dad"} {
		if err := ns.Sysctl(key, "1"); err != nil {
			t.Fatal(err)
		}
	}
	_, in, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Up: true}, PeerNS: ns})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.AddAddr(mustPrefix(t, "2001:db8:7::2/64")); err != nil {
		t.Fatal(err)
	}
	first := make(chan struct{})
	go func() {
		defer close(first)
		l.Settle(context.Background())
	}()
	for taken := false; !taken; {
		l.mu.Lock()
		taken = len(l.pending) == 0
		l.mu.Unlock()
		runtime.Gosched()
	}
	l.Settle(context.Background())
	notReady, err := unreadyLinks(ns, make([]byte, 1<<16))
	if err != nil {
		t.Fatal(err)
	}
	if notReady[in.name] {
		select {
		case <-first:
			t.Log("the first Settle gave up (SettleTimeout) before the link was ready")
		default:
			t.Errorf("Settle returned while another Settle still waited for %s", in.name)
		}
	}
	<-first
}

// Moving a veth end into another namespace takes the carrier of its peer,
// and so of the bridge that peer is a port of: when the moved end comes up
// again, Settle waits for that bridge too, two links away from the one
// that came up (scripts/netns-bridges.star's host_bridge1).
func TestSettleWaitsForTheBridgeBehindAPeer(t *testing.T) {
	t.Parallel()
	l := newLab(t, Options{Plan: true})
	ns, err := l.NewNetns("edge")
	if err != nil {
		t.Fatal(err)
	}
	hostBr, err := l.Bridge(l.Host, LinkSpec{Name: "host_bridge1", Up: true})
	if err != nil {
		t.Fatal(err)
	}
	edgeBr, err := l.Bridge(ns, LinkSpec{Name: "edge_bridge1", Up: true})
	if err != nil {
		t.Fatal(err)
	}
	hv, ev, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Name: "host_veth1", Up: true}, PeerName: "edge_veth1"})
	if err != nil {
		t.Fatal(err)
	}
	mv, err := l.Macvlan(MacvlanSpec{Parent: ev, NS: ns, Mode: "bridge"})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []func() error{
		func() error { return hv.SetMaster(hostBr) },
		func() error { return ev.Move(ns) },
		func() error { return ev.SetMaster(edgeBr) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	l.mu.Lock()
	l.pending = map[*Link]bool{}
	l.mu.Unlock()
	if err := ev.SetUp(true); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, want := range []*Link{ev, hv, hostBr, edgeBr, mv} {
		if !l.pending[want] {
			t.Errorf("%s is not waited for after %s came up (pending: %v)", want, ev, l.pending)
		}
	}
}
