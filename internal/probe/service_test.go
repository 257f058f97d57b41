package probe

import (
	"context"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

func serve(t *testing.T, fd int, proto, addr string) *Server {
	t.Helper()
	s, err := Serve(fd, proto, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// checkPeer checks that a probe from client address want was reported and
// recorded as the server's last peer.
func checkPeer(t *testing.T, s *Server, r ConnResult, want string) {
	t.Helper()
	if !r.OK || r.Outcome != Reply {
		t.Fatalf("probe = %+v, want a reply", r)
	}
	if !strings.HasPrefix(r.Peer, want+":") {
		t.Errorf("peer = %q, want %s:PORT", r.Peer, want)
	}
	peers := s.Peers()
	if len(peers) == 0 || peers[len(peers)-1] != r.Peer {
		t.Errorf("server peers = %q, want last %q", peers, r.Peer)
	}
}

func TestServeTCP(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	s := serve(t, b, "tcp", ":7000")
	if s.Addr() != "[::]:7000" {
		t.Errorf("Addr() = %q", s.Addr())
	}
	for _, tc := range []struct{ addr, peer string }{
		{"10.9.0.2:7000", "10.9.0.1"},
		{"[fd00::2]:7000", "[fd00::1]"},
	} {
		r := Connect(context.Background(), a, "tcp", tc.addr, 10*time.Second)
		t.Logf("%s: %v %s", tc.addr, r.Outcome, r.Detail)
		checkPeer(t, s, r, tc.peer)
	}

	// The connection echoes after the greeting.
	c, err := dialNS(context.Background(), a, netip.Addr{}, "tcp", "10.9.0.2:7000")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	c.Write([]byte("hello\n"))
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil || !strings.HasPrefix(string(got), "peer 10.9.0.1:") || !strings.HasSuffix(string(got), "\nhello\n") {
		t.Errorf("echo = %q, %v", got, err)
	}
}

func TestServeUDP(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	// A second address of b that b's routing would not choose as the
	// source towards a: the answer must still come from it.
	lo, err := handle(t, b).LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := handle(t, b).AddrAdd(lo, &netlink.Addr{IPNet: mustCIDR(t, "10.9.1.2/32")}); err != nil {
		t.Fatal(err)
	}
	route(t, a, "10.9.1.0/24", "10.9.0.2")
	s := serve(t, b, "udp", ":7001")
	for _, tc := range []struct{ addr, peer string }{
		{"10.9.0.2:7001", "10.9.0.1"},
		{"10.9.1.2:7001", "10.9.0.1"},
		{"[fd00::2]:7001", "[fd00::1]"},
	} {
		r := Connect(context.Background(), a, "udp", tc.addr, 10*time.Second)
		t.Logf("%s: %v %s", tc.addr, r.Outcome, r.Detail)
		checkPeer(t, s, r, tc.peer)
		if want := int64(len("peer " + r.Peer + "\nnsscript probe\n")); r.Bytes != want {
			t.Errorf("%s: %d bytes back, want %d", tc.addr, r.Bytes, want)
		}
	}
}

func mustCIDR(t *testing.T, s string) *net.IPNet {
	t.Helper()
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	n.IP = ip
	return n
}

func TestServeHTTP(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	s := serve(t, b, "http", "10.9.0.2:8080")
	status, body, r := HTTPGet(context.Background(), a, "http://10.9.0.2:8080/", 10*time.Second)
	t.Logf("GET /: %d %v %s", status, r.Outcome, r.Detail)
	if status != 200 || string(body) != "peer "+r.Peer+"\n" {
		t.Errorf("GET / = %d %q", status, body)
	}
	checkPeer(t, s, r, "10.9.0.1")

	const n = 3 << 20
	status, body, r = HTTPGet(context.Background(), a, "http://10.9.0.2:8080/bytes/3145728", 10*time.Second)
	t.Logf("GET /bytes: %d %v %s", status, r.Outcome, r.Detail)
	if status != 200 || len(body) != n || r.Bytes != n || !r.OK {
		t.Errorf("GET /bytes/%d = %d, %d bytes, %+v", n, status, len(body), r)
	}

	for _, path := range []string{"/nope", "/bytes/x", "/bytes/1073741825"} {
		status, _, r = HTTPGet(context.Background(), a, "http://10.9.0.2:8080"+path, 10*time.Second)
		if status != 404 || !r.OK {
			t.Errorf("GET %s = %d %+v, want 404", path, status, r)
		}
	}
}

func TestServeErrors(t *testing.T) {
	t.Parallel()
	_, b := pair(t)
	if _, err := Serve(b, "sctp", ":1"); err == nil || !strings.Contains(err.Error(), `unknown protocol "sctp"`) {
		t.Errorf("Serve(sctp) error = %v", err)
	}
	serve(t, b, "tcp", ":7000")
	if _, err := Serve(b, "http", ":7000"); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("Serve on a used port: error = %v", err)
	}
	if _, err := Serve(b, "udp", "192.0.2.9:53"); err == nil {
		t.Error("Serve on an address the namespace lacks: no error")
	}
}

func TestServeClose(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	s := serve(t, b, "tcp", ":7000")
	// An open connection must not keep Close waiting.
	c, err := dialNS(context.Background(), a, netip.Addr{}, "tcp", "10.9.0.2:7000")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan error)
	go func() { done <- s.Close() }()
	// Close returns although a connection is open (or the test hangs).
	if err := <-done; err != nil {
		t.Error(err)
	}
	if r := Connect(context.Background(), a, "tcp", "10.9.0.2:7000", time.Second); r.Outcome != Unreachable {
		t.Errorf("connect after Close = %+v", r)
	}
	// The port is free again.
	if s2, err := Serve(b, "tcp", ":7000"); err != nil {
		t.Error(err)
	} else {
		s2.Close()
	}
}
