package lab

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestServe(t *testing.T) {
	t.Parallel()
	l := newLab(t, Options{})
	n, err := l.NewNetns("srv")
	if err != nil {
		t.Fatal(err)
	}
	s := serveIn(t, l, n, "tcp", "127.0.0.1:0")
	if s.Port() == 0 || !strings.HasPrefix(s.Addr(), "127.0.0.1:") {
		t.Fatalf("addr %s port %d", s.Addr(), s.Port())
	}
	r := l.Connect(context.Background(), n, "tcp", s.Addr(), time.Second)
	if !r.OK || len(s.Peers()) != 1 || s.Peers()[0] != r.Peer {
		t.Errorf("connect %s; peers %v", r.Detail, s.Peers())
	}
	// The server listens inside n only: the host has no such socket.
	if r := l.Connect(context.Background(), l.Host, "tcp", s.Addr(), time.Second); r.OK {
		t.Errorf("host reached a server of netns srv: %s", r.Detail)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}

	for _, c := range []struct{ proto, addr, want string }{
		{"sctp", ":80", `unknown protocol "sctp" (want tcp, udp or http)`},
		{"tcp", "8080", `invalid address "8080" (want ":PORT" or "IP:PORT")`},
		{"tcp", ":70000", `invalid port in ":70000" (want 0 to 65535)`},
		{"udp", "host:53", `invalid address "host:53": "host" is not an IP address`},
		{"http", "192.0.2.1:80", "bind: cannot assign requested address"},
	} {
		if _, err := l.Serve(n, c.proto, c.addr); err == nil || err.Error() != c.want {
			t.Errorf("Serve(%s, %s) = %v, want %q", c.proto, c.addr, err, c.want)
		}
	}
	s = serveIn(t, l, n, "udp", ":5353")
	if _, err := l.Serve(n, "udp", ":5353"); err == nil || err.Error() != "bind: address already in use" {
		t.Errorf("port taken: %v", err)
	}
}

func TestServePlanAndCmds(t *testing.T) {
	t.Parallel()
	l, err := New(Options{Plan: true})
	if err != nil {
		t.Fatal(err)
	}
	n, err := l.NewNetns("blue")
	if err != nil {
		t.Fatal(err)
	}
	s, err := l.Serve(n, "http", "10.0.0.2:8080")
	if err != nil {
		t.Fatal(err)
	}
	if s.Addr() != "10.0.0.2:8080" || s.Port() != 8080 || s.Peers() != nil || s.Close() != nil {
		t.Errorf("planned service %s", s.Addr())
	}
	if r := l.Connect(context.Background(), n, "tcp", "10.0.0.2:8080", 0); !r.OK {
		t.Errorf("planned connect: %s", r.Detail)
	}
	steps := l.Steps()
	if got := strings.Join(steps[len(steps)-1].Cmds, "\n"); got != "ip netns exec blue python3 -m http.server --bind 10.0.0.2 8080 2>>http.log &\n"+
		`timeout 30 sh -c 'until ip netns exec blue ss -Hltn "sport = :8080" | grep -q .; do sleep 0.1; done'` {
		t.Errorf("serve cmds %q", got)
	}
	seen := netip.MustParseAddr("10.0.0.1")
	ap := netip.MustParseAddrPort("10.0.0.2:8080")
	for _, c := range []struct{ got, want string }{
		{ConnectCmd(n, "tcp", ap, 1, netip.Addr{}), "ip netns exec blue nc -z -w1 10.0.0.2 8080"},
		{ConnectCmd(n, "tcp", ap, 2, seen), "echo probe | ip netns exec blue nc -N -w2 10.0.0.2 8080 | grep -q ."},
		{SeenCmd("tcp", seen), "grep -E 'accepting connection from|receiving packet from' socat.log | tail -n1 | grep -qF 'from AF=2 10.0.0.1:'"},
		{ConnectCmd(l.Host, "udp", ap, 1, netip.MustParseAddr("fd00::1")), "echo probe | nc -u -w1 10.0.0.2 8080 | grep -q ."},
		{SeenCmd("udp", netip.MustParseAddr("fd00::1")), "grep -E 'accepting connection from|receiving packet from' socat.log | tail -n1 | grep -qF 'from AF=10 [fd00::1]:'"},
		{strings.Join(HTTPCmds(n, "http://10.0.0.2:8080/", 1, 200, "", netip.Addr{}), "\n"),
			`test "$(ip netns exec blue curl -sS -m1 -o /dev/null -w '%{http_code}' http://10.0.0.2:8080/)" = 200`},
		{strings.Join(HTTPCmds(n, "http://10.0.0.2:8080/", 1, 200, "Directory listing", seen), "\n"),
			"ip netns exec blue curl -sS -m1 -f http://10.0.0.2:8080/ | grep -qF 'Directory listing'\n" +
				`tail -n1 http.log | grep -Eq '^(::ffff:)?10\.0\.0\.1 '`},
		{strings.Join(HTTPCmds(n, "http://10.0.0.2:8080/", 1, 200, "", netip.MustParseAddr("fd00::1")), "\n"),
			"ip netns exec blue curl -sS -m1 -f http://10.0.0.2:8080/ >/dev/null\n" +
				`tail -n1 http.log | grep -Eq '^fd00::1 '`},
		{strings.Join(HTTPCmds(n, "http://10.0.0.2:8080/", 1, 0, "", netip.Addr{}), "\n"),
			"ip netns exec blue curl -sS -m1 http://10.0.0.2:8080/ >/dev/null"},
	} {
		if c.got != c.want {
			t.Errorf("got  %s\nwant %s", c.got, c.want)
		}
	}
}
