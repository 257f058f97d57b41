package lab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/nsscript/nsscript/internal/probe"
)

// Service is a built-in server the lab runs in a namespace (see probe.Serve):
// tcp echoes, udp answers each datagram, http serves GET /. Each reports the
// peer address it saw, which is how a script proves that NAT happened.
type Service struct {
	NS    *Netns
	Proto string
	Pos   string

	addr string
	srv  *probe.Server // nil in plan mode
}

// Serve starts a built-in server for proto ("tcp", "udp" or "http") on addr
// (":8080", "10.0.0.2:80", "[fd00::2]:80") in namespace n. It runs until
// Close.
func (l *Lab) Serve(n *Netns, proto, addr string) (*Service, error) {
	switch proto {
	case "tcp", "udp", "http":
	default:
		return nil, fmt.Errorf("unknown protocol %q (want tcp, udp or http)", proto)
	}
	host, port, err := splitListen(addr)
	if err != nil {
		return nil, err
	}
	s := &Service{NS: n, Proto: proto, Pos: l.pos, addr: addr}
	desc := fmt.Sprintf("start the built-in %s server on %s in netns %s (it answers with the peer address it saw)", proto, addr, n.Name)
	err = l.apply(Step{NS: n.Name, Op: "serve", Desc: desc, Cmds: []string{inNS(n, serveCmd(proto, host, port))}}, func() error {
		srv, err := probe.Serve(n.fd, proto, addr)
		if err != nil {
			return unwrapServe(err)
		}
		s.srv = srv
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// splitListen checks a listening address: an optional IP literal and a port.
func splitListen(addr string) (host string, port int, err error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("invalid address %q (want \":PORT\" or \"IP:PORT\")", addr)
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("invalid port in %q (want 0 to 65535)", addr)
	}
	if h != "" {
		if _, err := netip.ParseAddr(h); err != nil {
			return "", 0, fmt.Errorf("invalid address %q: %q is not an IP address", addr, h)
		}
	}
	return h, port, nil
}

// unwrapServe drops probe's "serve tcp: " and net's "listen tcp :80: "
// prefixes, keeping the cause ("address already in use").
func unwrapServe(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
}

// serveCmd is a shell stand-in for a built-in server, for explain.
func serveCmd(proto, host string, port int) string {
	ps := strconv.Itoa(port)
	switch proto {
	case "http":
		if host != "" {
			return "python3 -m http.server --bind " + shellQuote(host) + " " + ps + " &"
		}
		return "python3 -m http.server " + ps + " &"
	case "udp":
		bind := ""
		if host != "" {
			bind = ",bind=" + host
		}
		return "socat UDP-RECVFROM:" + ps + ",fork" + bind + " EXEC:cat &"
	}
	bind := ""
	if host != "" {
		bind = ",bind=" + host
	}
	return "socat TCP-LISTEN:" + ps + ",fork,reuseaddr" + bind + " EXEC:cat &"
}

// Addr returns the address the server listens on, with the port filled in
// when it asked for port 0.
func (s *Service) Addr() string {
	if s.srv == nil {
		return s.addr
	}
	return s.srv.Addr()
}

// Port returns the port the server listens on.
func (s *Service) Port() int {
	_, p, err := net.SplitHostPort(s.Addr())
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

// Peers returns the client addresses ("ip:port") the server has seen, in
// order: one per tcp connection, udp datagram or http request.
func (s *Service) Peers() []string {
	if s.srv == nil {
		return nil
	}
	return s.srv.Peers()
}

// Close stops the server. Closing twice is harmless.
func (s *Service) Close() error {
	if s.srv == nil {
		return nil
	}
	return s.srv.Close()
}

// ConnectCmd is the shell equivalent of a connection probe, for explain:
// nc for tcp and udp, and, when seen is valid, a check of the "peer" line a
// built-in server answers with.
func ConnectCmd(src *Netns, proto string, addr netip.AddrPort, timeoutSec int, seen netip.Addr) string {
	w := strconv.Itoa(timeoutSec)
	host, port := addr.Addr().String(), strconv.Itoa(int(addr.Port()))
	check := " | grep -q ."
	if seen.IsValid() {
		check = " | grep -qF " + shellQuote(peerPrefix(seen))
	}
	if proto == "udp" {
		return "echo probe | " + inNS(src, "nc -u -w"+w+" "+host+" "+port) + check
	}
	if !seen.IsValid() {
		return inNS(src, "nc -z -w"+w+" "+host+" "+port)
	}
	return inNS(src, "nc -w"+w+" "+host+" "+port) + " </dev/null" + check
}

// HTTPCmds are the shell equivalents of an HTTP probe, for explain: curl,
// and a check of the status, of the body or of the peer line a built-in
// server answers with.
func HTTPCmds(src *Netns, url string, timeoutSec, status int, contains string, seen netip.Addr) []string {
	curl := "curl -sS -m" + strconv.Itoa(timeoutSec) + " "
	var cmds []string
	var greps []string
	if contains != "" {
		greps = append(greps, contains)
	}
	if seen.IsValid() {
		greps = append(greps, peerPrefix(seen))
	}
	for _, g := range greps {
		cmds = append(cmds, inNS(src, curl+"-f "+shellQuote(url))+" | grep -qF "+shellQuote(g))
	}
	if status != 0 && (len(greps) == 0 || status >= 400) {
		cmds = append(cmds, `test "$(`+inNS(src, curl+"-o /dev/null -w '%{http_code}' "+shellQuote(url))+`)" = `+strconv.Itoa(status))
	}
	if len(cmds) == 0 {
		cmds = append(cmds, inNS(src, curl+shellQuote(url))+" >/dev/null")
	}
	return cmds
}

// peerPrefix is how a built-in server's answer starts when it saw a client
// at a: "peer 10.0.0.1:" or "peer [fd00::1]:".
func peerPrefix(a netip.Addr) string {
	return "peer " + strings.TrimSuffix(netip.AddrPortFrom(a, 0).String(), "0")
}
