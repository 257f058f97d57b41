package probe

import (
	"net/netip"
	"strings"

	"context"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"testing"
	"time"
)

func TestDialNS(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	serve(t, b, "tcp", ":7000")
	for _, addr := range []string{"localhost:7000", "10.9.0.2", "10.9.0.2:http"} {
		if c, err := dialNS(context.Background(), a, netip.Addr{}, "tcp", addr); err == nil {
			c.Close()
			t.Errorf("dialNS(%q): no error", addr)
		}
	}
	// A link-local address with its zone, resolved inside the namespace.
	for _, x := range []struct {
		ns         int
		link, addr string
	}{{a, "a0", "fe80::a/64"}, {b, "b0", "fe80::b/64"}} {
		h := handle(t, x.ns)
		l, err := h.LinkByName(x.link)
		if err != nil {
			t.Fatal(err)
		}
		ad, _ := netlink.ParseAddr(x.addr)
		ad.Flags = unix.IFA_F_NODAD
		if err := h.AddrAdd(l, ad); err != nil {
			t.Fatal(err)
		}
	}
	// A fresh link-local path loses its first packet now and then (the
	// kernel, not the probe): allow one SYN retransmission.
	r := Connect(context.Background(), a, "tcp", "[fe80::b%a0]:7000", 10*time.Second)
	if !r.OK || !strings.HasPrefix(r.Peer, "[fe80::a]:") {
		t.Errorf("Connect to a link-local address = %+v", r)
	}
	t.Logf("%v %s", r.Outcome, r.Detail)
	res := newPinger(t, a).Ping(context.Background(), netip.MustParseAddr("fe80::b%a0"), Options{Timeout: 10 * time.Second})
	if res.Outcome != Reply {
		t.Errorf("ping fe80::b%%a0 = %+v", res)
	}
	t.Logf("ping: %v %s", res.Outcome, res.Detail)
}
