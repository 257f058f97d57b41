package web

import (
	"context"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/nsscript/nsscript/internal/lab"
	"github.com/nsscript/nsscript/internal/probe"
)

// ProbeTimeout bounds each probe of a re-probe: a silent pair costs this
// long, and all silent pairs wait it together.
const ProbeTimeout = time.Second

// maxProbes bounds the probes of one re-probe in flight at once.
const maxProbes = 512

// Matrix is what /api/matrix answers: who reaches whom by ping, between
// the lab's namespaces that have an address.
type Matrix struct {
	Probed bool      `json:"probed"` // false until the first re-probe
	Time   time.Time `json:"time"`
	// Namespaces are the rows and columns: each with the address it is
	// probed at (its first lab address).
	Namespaces []MatrixNS `json:"namespaces"`
	// Cells[i][j] is the probe from Namespaces[i] to Namespaces[j] (nil
	// on the diagonal).
	Cells [][]*Cell `json:"cells"`
	// Skipped are the namespaces left out: they have no address.
	Skipped []string `json:"skipped,omitempty"`
}

// MatrixNS is a row and column of a Matrix.
type MatrixNS struct {
	Name string `json:"name"`
	Addr string `json:"addr"`
}

// Cell is one probe of a Matrix.
type Cell struct {
	Reply   bool   `json:"reply"`
	Outcome string `json:"outcome"` // "reply", "timeout", "unreachable", ...
	Detail  string `json:"detail"`
	Cut     bool   `json:"cut,omitempty"` // the lab ended before the probe did
}

// ProbeMatrix pings every ordered pair of l's namespaces that have an
// address, all at once, through the lab's probes.
func ProbeMatrix(ctx context.Context, l *lab.Lab) *Matrix {
	m := &Matrix{Probed: true, Namespaces: []MatrixNS{}, Cells: [][]*Cell{}}
	var srcs []*lab.Netns
	var dsts []netip.Addr
	for _, n := range l.Namespaces() {
		a, ok := n.FirstAddr()
		if !ok {
			m.Skipped = append(m.Skipped, n.Name)
			continue
		}
		srcs, dsts = append(srcs, n), append(dsts, a)
		m.Namespaces = append(m.Namespaces, MatrixNS{n.Name, a.String()})
	}
	sem := make(chan struct{}, maxProbes)
	var wg sync.WaitGroup
	for range srcs {
		m.Cells = append(m.Cells, make([]*Cell, len(srcs)))
	}
	for i := range srcs {
		for j := range dsts {
			if i == j {
				continue
			}
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				res := l.Ping(ctx, srcs[i], dsts[j], probe.Options{Timeout: ProbeTimeout})
				m.Cells[i][j] = &Cell{Reply: res.Outcome == probe.Reply, Outcome: res.Outcome.String(),
					Detail: res.Detail, Cut: ctx.Err() != nil && res.Outcome != probe.Reply}
			})
		}
	}
	wg.Wait()
	m.Time = time.Now().UTC()
	return m
}

// serveMatrix answers the last matrix (Probed false before the first).
func (s *Server) serveMatrix(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	m := s.last
	s.mu.Unlock()
	if m == nil {
		m = &Matrix{Namespaces: []MatrixNS{}, Cells: [][]*Cell{}}
	}
	writeJSON(w, m)
}

// reprobe probes the matrix again and answers it. Re-probes take turns: a
// second one waits for the first and then probes anew.
func (s *Server) reprobe(w http.ResponseWriter, r *http.Request) {
	s.probing.Lock()
	defer s.probing.Unlock()
	if r.Context().Err() != nil {
		return // the page went away, or the lab ended
	}
	m := ProbeMatrix(r.Context(), s.lab)
	s.mu.Lock()
	s.last = m
	s.mu.Unlock()
	writeJSON(w, m)
}
