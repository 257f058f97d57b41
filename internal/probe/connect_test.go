package probe

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/nsscript/nsscript/internal/nsutil"
)

func TestConnectFailures(t *testing.T) {
	t.Parallel()
	a, _ := pair(t)
	c, _ := routed(t)
	for _, tc := range []struct {
		name, proto, addr string
		ns                int
		timeout           time.Duration
		want              Outcome
		detail            string
	}{
		{"tcp refused", "tcp", "10.9.0.2:9", a, time.Second, Unreachable, "connection refused"},
		{"tcp6 refused", "tcp", "[fd00::2]:9", a, time.Second, Unreachable, "connection refused"},
		{"udp closed port", "udp", "10.9.0.2:9", a, time.Second, Unreachable, "destination port unreachable (from 10.9.0.2)"},
		{"udp6 closed port", "udp", "[fd00::2]:9", a, time.Second, Unreachable, "port unreachable (from fd00::2)"},
		{"tcp no route", "tcp", "192.0.2.1:80", a, time.Second, NoRoute, "network is unreachable"},
		{"udp no route", "udp", "[2001:db8::1]:53", a, time.Second, NoRoute, "network is unreachable"},
		{"tcp icmp from router", "tcp", "203.0.113.1:80", c, 2 * time.Second, Unreachable, "network is unreachable"},
		{"udp icmp from router", "udp", "203.0.113.1:53", c, 2 * time.Second, Unreachable, "destination network unreachable (from 10.8.0.254)"},
		{"tcp silence", "tcp", "10.9.0.77:80", a, 300 * time.Millisecond, Timeout, "no answer in 300ms"},
		{"udp silence", "udp", "10.9.0.77:53", a, 300 * time.Millisecond, Timeout, "no answer in 300ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := Connect(context.Background(), tc.ns, tc.proto, tc.addr, tc.timeout)
			t.Logf("%v %s (%v)", r.Outcome, r.Detail, r.Elapsed)
			if r.OK || r.Outcome != tc.want || r.Detail != tc.detail {
				t.Errorf("Connect(%s %s) = %+v, want %v %q", tc.proto, tc.addr, r, tc.want, tc.detail)
			}
		})
	}
}

func TestConnectNoGreeting(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	// A server that accepts and says nothing.
	var ln net.Listener
	if err := nsutil.Do(b, func() (err error) {
		ln, err = net.Listen("tcp", "10.9.0.2:2222")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	// Connecting is success: a probe that waited for a greeting would
	// wait out the hour.
	r := Connect(context.Background(), a, "tcp", "10.9.0.2:2222", time.Hour)
	if !r.OK || r.Outcome != Reply || r.Peer != "" {
		t.Errorf("Connect to a silent server = %+v", r)
	}
}

func TestConnectCanceled(t *testing.T) {
	t.Parallel()
	a, _ := pair(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	// A probe that ignored ctx would wait an hour.
	r := Connect(ctx, a, "tcp", "10.9.0.77:80", time.Hour)
	if r.Outcome != Timeout {
		t.Errorf("canceled Connect = %+v", r)
	}
}

func TestConnectConcurrent(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	s := serve(t, b, "tcp", ":7000")
	u := serve(t, b, "udp", ":7000")
	results := inParallel(200, func(i int) ConnResult {
		proto := []string{"tcp", "udp"}[i%2]
		return Connect(context.Background(), a, proto, "10.9.0.2:7000", 10*time.Second)
	})
	for i, r := range results {
		// A tcp probe waits only briefly for the greeting that names
		// the peer, which a loaded machine may miss; the servers' own
		// count below shows every probe arrived.
		if !r.OK || r.Peer == "" && i%2 == 1 {
			t.Errorf("connect %d = %+v", i, r)
		}
	}
	if n := len(s.Peers()) + len(u.Peers()); n < len(results) {
		t.Errorf("servers saw %d peers, want %d", n, len(results))
	}
}
