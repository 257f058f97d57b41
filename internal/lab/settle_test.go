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
