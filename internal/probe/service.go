package probe

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxHTTPBytes bounds the size a GET /bytes/N may ask for.
const maxHTTPBytes = 1 << 30

// A Server is a built-in responder running inside a network namespace. Each
// protocol reports the peer address it saw, which is what a masquerade (NAT)
// check compares against the client's own address:
//
//   - tcp: on accept, writes "peer IP:PORT\n", then echoes everything it
//     receives until the client closes its side.
//   - udp: answers each datagram with "peer IP:PORT\n" followed by the
//     datagram's payload, sent from the address the datagram was sent to.
//   - http: GET / answers 200 "peer IP:PORT\n"; GET /bytes/N answers 200 with
//     N bytes (N up to 1<<30); anything else is 404.
type Server struct {
	proto string
	ln    net.Listener // tcp, http
	udp   *net.UDPConn // udp
	hs    *http.Server // http

	mu     sync.Mutex
	peers  []string
	conns  map[net.Conn]struct{} // tcp connections being served
	closed bool
	wg     sync.WaitGroup
}

// Serve starts a built-in server for proto ("tcp", "udp" or "http") on addr
// (":8080", "10.0.0.2:80", "[fd00::2]:80") inside the network namespace nsFD.
// The socket is opened inside the namespace; the server runs on ordinary
// goroutines until Close. An address with an empty host listens on every
// IPv4 and IPv6 address of the namespace.
func Serve(nsFD int, proto string, addr string) (*Server, error) {
	s := &Server{proto: proto, conns: make(map[net.Conn]struct{})}
	var err error
	switch proto {
	case "tcp", "http":
		s.ln, err = within(nsFD, func() (net.Listener, error) { return net.Listen("tcp", addr) })
	case "udp":
		s.udp, err = within(nsFD, func() (*net.UDPConn, error) { return listenUDP(addr) })
	default:
		return nil, fmt.Errorf("serve: unknown protocol %q (want tcp, udp or http)", proto)
	}
	if err != nil {
		return nil, fmt.Errorf("serve %s: %w", proto, err)
	}
	s.wg.Add(1)
	switch proto {
	case "tcp":
		go s.acceptTCP()
	case "udp":
		go s.serveUDP()
	case "http":
		s.hs = &http.Server{
			Handler:           http.HandlerFunc(s.serveHTTP),
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          log.New(io.Discard, "", 0),
		}
		go func() {
			defer s.wg.Done()
			s.hs.Serve(s.ln)
		}()
	}
	return s, nil
}

// Addr returns the address the server listens on, with the port filled in
// when addr asked for port 0.
func (s *Server) Addr() string {
	if s.udp != nil {
		return s.udp.LocalAddr().String()
	}
	return s.ln.Addr().String()
}

// Peers returns the remote addresses the server has seen, as "ip:port" (IPv6
// in brackets), in order: one per accepted tcp connection, udp datagram or
// http request.
func (s *Server) Peers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.peers...)
}

// Close stops the server, closes its connections and waits for its
// goroutines. Closing twice is harmless.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var err error
	switch {
	case s.hs != nil:
		err = s.hs.Close()
	case s.udp != nil:
		err = s.udp.Close()
	default:
		err = s.ln.Close()
		for c := range s.conns {
			c.Close()
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

// addPeer records and returns the normalised form of a remote address.
func (s *Server) addPeer(addr string) string {
	p := peerString(addr)
	s.mu.Lock()
	s.peers = append(s.peers, p)
	s.mu.Unlock()
	return p
}

// peerString normalises a remote address: IPv4-mapped IPv6 addresses (seen
// on dual-stack sockets) are unmapped, and zones are dropped, because Go names
// a zone after the interface with that index in the process's own namespace,
// not the server's.
func peerString(addr string) string {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return addr
	}
	return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port()).String()
}

func (s *Server) acceptTCP() {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors or similar: wait and go on, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveTCP(c)
	}
}

func (s *Server) serveTCP(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	peer := s.addPeer(c.RemoteAddr().String())
	if _, err := io.WriteString(c, "peer "+peer+"\n"); err != nil {
		return
	}
	io.Copy(c, c)
	// Half-close so that the client sees EOF after the last echoed byte.
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}

// zeros is what GET /bytes/N sends (made on first use: a program that
// never serves HTTP does not pay for it at start).
var zeros = sync.OnceValue(func() []byte { return make([]byte, 64<<10) })

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	peer := s.addPeer(r.RemoteAddr)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.NotFound(w, r)
		return
	}
	if r.URL.Path == "/" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "peer "+peer+"\n")
		return
	}
	ns, ok := strings.CutPrefix(r.URL.Path, "/bytes/")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || n < 0 || n > maxHTTPBytes {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	if r.Method == http.MethodHead {
		return
	}
	for n > 0 {
		k := min(n, int64(len(zeros())))
		if _, err := w.Write(zeros()[:k]); err != nil {
			return
		}
		n -= k
	}
}
