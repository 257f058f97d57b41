package lab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"

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
	err = l.apply(Step{NS: n.Name, Op: "serve", Desc: desc, Cmds: serveCmds(n, proto, host, port)}, func() error {
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

// The shell stand-ins for the built-in servers, for explain: python3's
// http.server for http and socat for tcp and udp. Each writes its log to a
// file every server of its kind shares (HTTPLog, SocatLog): the client
// address of each request or connection, which is what seen_as checks in a
// script. Each start waits until its server listens (ss from iproute2).
const (
	HTTPLog  = "http.log"
	SocatLog = "socat.log"
)

// serveCmds are the commands that start a stand-in server in n and wait
// until it listens.
func serveCmds(n *Netns, proto, host string, port int) []string {
	ps := strconv.Itoa(port)
	var start string
	switch proto {
	case "http":
		bind := ""
		if host != "" {
			bind = "--bind " + shellQuote(host) + " "
		}
		start = "python3 -m http.server " + bind + ps + " 2>>" + HTTPLog + " &"
	case "udp":
		bind := ""
		if host != "" {
			bind = ",bind=" + host
		}
		start = "socat -d -d UDP-RECVFROM:" + ps + ",fork" + bind + " EXEC:cat 2>>" + SocatLog + " &"
	default:
		bind := ""
		if host != "" {
			bind = ",bind=" + host
		}
		start = "socat -d -d TCP-LISTEN:" + ps + ",fork,reuseaddr" + bind + " EXEC:cat 2>>" + SocatLog + " &"
	}
	cmds := []string{inNS(n, start)}
	if port != 0 {
		cmds = append(cmds, WaitListeningCmd(n, proto, port, 30))
	}
	return cmds
}

// WaitListeningCmd waits, up to timeoutSec, until a server in n listens on
// port (for proto udp a udp socket, otherwise tcp), as ss shows it.
func WaitListeningCmd(n *Netns, proto string, port, timeoutSec int) string {
	flags := "-Hltn"
	if proto == "udp" {
		flags = "-Hlun"
	}
	listening := inNS(n, "ss "+flags+` "sport = :`+strconv.Itoa(port)+`"`) + " | grep -q ."
	return "timeout " + strconv.Itoa(timeoutSec) + " sh -c '" + WaitUntil(listening) + "'"
}

// WaitUntil is a shell loop that runs cond until it succeeds.
func WaitUntil(cond string) string { return "until " + cond + "; do sleep 0.1; done" }

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
// nc for tcp and udp. When seen is valid the probe sends a line and waits
// for its echo, so that the server has logged the client when it returns
// (SeenCmd checks the log).
func ConnectCmd(src *Netns, proto string, addr netip.AddrPort, timeoutSec int, seen netip.Addr) string {
	w := strconv.Itoa(timeoutSec)
	host, port := addr.Addr().String(), strconv.Itoa(int(addr.Port()))
	if proto == "udp" {
		cmd := "echo probe | " + inNS(src, "nc -u -w"+w+" "+host+" "+port) + " | grep -q ."
		return cmd
	}
	if !seen.IsValid() {
		return inNS(src, "nc -z -w"+w+" "+host+" "+port)
	}
	return "echo probe | " + inNS(src, "nc -N -w"+w+" "+host+" "+port) + " | grep -q ."
}

// HTTPCmds are the shell equivalents of an HTTP probe, for explain: curl,
// and a check of the status, of the body or of the client the stand-in
// servers logged last (HTTPLog).
func HTTPCmds(src *Netns, url string, timeoutSec, status int, contains string, seen netip.Addr) []string {
	curl := "curl -sS -m" + strconv.Itoa(timeoutSec) + " "
	var cmds []string
	switch {
	case contains != "":
		cmds = append(cmds, inNS(src, curl+"-f "+shellQuote(url))+" | grep -qF "+shellQuote(contains))
	case seen.IsValid() && status < 400:
		cmds = append(cmds, inNS(src, curl+"-f "+shellQuote(url))+" >/dev/null")
	}
	if status != 0 && (len(cmds) == 0 || status >= 400) {
		cmds = append(cmds, `test "$(`+inNS(src, curl+"-o /dev/null -w '%{http_code}' "+shellQuote(url))+`)" = `+strconv.Itoa(status))
	}
	if len(cmds) == 0 {
		cmds = append(cmds, inNS(src, curl+shellQuote(url))+" >/dev/null")
	}
	if seen.IsValid() {
		cmds = append(cmds, SeenCmd("http", seen))
	}
	return cmds
}

// SeenCmd is a command checking that the last client a stand-in server
// for proto logged had address a: python3's http.server starts each request
// line with it (IPv4 clients of a server on :: as ::ffff:A), socat logs
// "accepting connection from AF=2 A:PORT" (tcp) and "receiving packet from
// ..." (udp).
func SeenCmd(proto string, a netip.Addr) string {
	if proto == "http" {
		re := "^" + regexp.QuoteMeta(a.String()) + " "
		if a.Is4() {
			re = "^(::ffff:)?" + regexp.QuoteMeta(a.String()) + " "
		}
		return "tail -n1 " + HTTPLog + " | grep -Eq " + shellQuote(re)
	}
	from := "from AF=2 " + a.String() + ":"
	if !a.Is4() {
		from = "from AF=10 [" + a.String() + "]:"
	}
	return "grep -E 'accepting connection from|receiving packet from' " + SocatLog + " | tail -n1 | grep -qF " + shellQuote(from)
}
