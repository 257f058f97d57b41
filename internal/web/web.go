// Package web serves the live view of a paused lab: a page with the
// topology picture, every link's state and counters, and the reachability
// matrix between the lab's namespaces, re-probed on request. Everything it
// shows is read through the lab (netlink and the lab's own probes); the
// only request that does something is a re-probe.
package web

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"

	"github.com/nsscript/nsscript/internal/lab"
)

//go:embed static
var static embed.FS

// Info names the lab a Server shows.
type Info struct {
	ID     string `json:"id"`     // the paused lab's ID (nsscript exec --lab ID)
	Script string `json:"script"` // the script that built it
	// Public allows any Host header (the page is served beyond loopback
	// on purpose); otherwise only an IP address or localhost is accepted,
	// so that a web site cannot reach the page by rebinding its own name
	// to 127.0.0.1.
	Public bool `json:"-"`
}

// Server serves the live view of one lab.
type Server struct {
	lab  *lab.Lab
	info Info
	srv  *http.Server
	// ctx ends with Close: it cancels a re-probe under way.
	ctx    context.Context
	cancel context.CancelFunc

	probing sync.Mutex // one re-probe at a time
	mu      sync.Mutex // guards last and closed
	last    *Matrix
	closed  bool
	// active counts the requests under way: Close waits for them, so that
	// none reads the lab after it.
	active sync.WaitGroup
}

// New returns a server for the live view of l.
func New(l *lab.Lab, info Info) *Server {
	s := &Server{lab: l, info: info}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.srv = &http.Server{Handler: s.Handler(), BaseContext: func(net.Listener) context.Context { return s.ctx }}
	return s
}

// Handler returns the server's routes: / (the page and its files),
// /api/state, /api/matrix (POST re-probes) and /graph.svg.
func (s *Server) Handler() http.Handler {
	files, _ := fs.Sub(static, "static")
	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServerFS(files))
	mux.HandleFunc("GET /api/state", s.serveState)
	mux.HandleFunc("GET /api/matrix", s.serveMatrix)
	mux.HandleFunc("POST /api/matrix", s.reprobe)
	mux.HandleFunc("GET /graph.svg", s.serveGraph)
	return s.guard(mux)
}

// Serve answers requests on ln until Close.
func (s *Server) Serve(ln net.Listener) error {
	err := s.srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops the server at once: open connections are closed and a
// re-probe under way is cancelled. It returns when no request uses the
// lab any more.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	err := s.srv.Close()
	s.active.Wait()
	return err
}

// enter counts a request in, unless the server is closing.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.active.Add(1)
	return true
}

// guard refuses requests that a web page from another site could make: a
// Host header that is a name other than localhost (DNS rebinding), and a
// cross-origin POST. The page is read-only otherwise and needs no more.
func (s *Server) guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.enter() {
			http.Error(w, "the lab has ended", http.StatusServiceUnavailable)
			return
		}
		defer s.active.Done()
		if !s.info.Public && !localHost(r.Host) {
			http.Error(w, "host "+r.Host+" refused: open the page by its address, as nsscript printed it", http.StatusForbidden)
			return
		}
		if r.Method == http.MethodPost {
			if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
				http.Error(w, "cross-origin request refused", http.StatusForbidden)
				return
			}
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// localHost reports whether host (a Host header, with or without a port)
// is an IP address or localhost: names a web site cannot point at the lab.
func localHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	_, err := netip.ParseAddr(host)
	return err == nil
}
