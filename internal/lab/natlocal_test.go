package lab

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

// TestLocalPortForward: the prerouting rule alone leaves the namespace's own
// connections alone; LocalPortForward (hook output) forwards them too, and
// the server sees the address the client connected from.
func TestLocalPortForward(t *testing.T) {
	t.Parallel()
	l := newLab(t, Options{})
	h, c, x, y := vethPair(t, l)
	for lk, p := range map[*Link]string{x: "10.0.0.1/24", y: "10.0.0.2/24"} {
		if err := lk.AddAddr(mustPrefix(t, p)); err != nil {
			t.Fatal(err)
		}
	}
	serveIn(t, l, c, "tcp", ":80")
	ctx := context.Background()
	m := Match{Proto: "tcp", Port: 8080}
	to := netip.MustParseAddrPort("10.0.0.2:80")
	if err := h.PortForward(m, to); err != nil {
		t.Fatal(err)
	}
	if r := l.Connect(ctx, h, "tcp", "10.0.0.1:8080", 300*time.Millisecond); r.OK {
		t.Fatalf("with the prerouting rule only, h's own connection was forwarded: %s", r.Detail)
	}
	if err := h.LocalPortForward(m, to); err != nil {
		t.Fatal(err)
	}
	r := l.Connect(ctx, h, "tcp", "10.0.0.1:8080", time.Second)
	if got := peerIP(t, r); got != "10.0.0.1" {
		t.Fatalf("the server saw %s, want 10.0.0.1", got)
	}
}
