package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	"github.com/nsscript/nsscript/internal/graph"
	"github.com/nsscript/nsscript/internal/lab"
)

// State is what /api/state answers: the lab and every link of every
// namespace as the kernel has it now.
type State struct {
	Lab        Info        `json:"lab"`
	Time       time.Time   `json:"time"`
	Namespaces []Namespace `json:"namespaces"`
}

// Namespace is one namespace of a State.
type Namespace struct {
	Name  string `json:"name"`
	Links []Link `json:"links"`
	// Error says why the links could not be read.
	Error string `json:"error,omitempty"`
}

// Link is one link of a Namespace.
type Link struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// State is "up", "down" (set down) or "no-carrier" (set up, but it
	// carries nothing: a veth whose peer is down, a bridge without ports).
	State string `json:"state"`
	// Oper is the kernel's operational state, as ip link shows it.
	Oper   string   `json:"oper"`
	MTU    int      `json:"mtu"`
	MAC    string   `json:"mac,omitempty"`
	Master string   `json:"master,omitempty"`
	Peer   string   `json:"peer,omitempty"` // NS/NAME of a veth's other end
	Addrs  []string `json:"addrs,omitempty"`
	Stats  Counters `json:"stats"`
}

// Counters are a link's counters.
type Counters struct {
	RxPackets uint64 `json:"rx_packets"`
	TxPackets uint64 `json:"tx_packets"`
	RxBytes   uint64 `json:"rx_bytes"`
	TxBytes   uint64 `json:"tx_bytes"`
	RxDropped uint64 `json:"rx_dropped"`
	TxDropped uint64 `json:"tx_dropped"`
	RxErrors  uint64 `json:"rx_errors"`
	TxErrors  uint64 `json:"tx_errors"`
}

// ReadState reads the state of every namespace of l from the kernel.
func ReadState(l *lab.Lab, info Info) *State {
	st := &State{Lab: info, Time: time.Now().UTC(), Namespaces: []Namespace{}}
	for _, n := range l.Namespaces() {
		ns := Namespace{Name: n.Name, Links: []Link{}}
		links, err := n.LinkStatuses()
		if err != nil {
			ns.Error = err.Error()
		}
		for _, x := range links {
			ns.Links = append(ns.Links, linkOf(x))
		}
		st.Namespaces = append(st.Namespaces, ns)
	}
	return st
}

func linkOf(x lab.LinkStatus) Link {
	state := "up"
	switch {
	case !x.AdminUp:
		state = "down"
	case x.State != "UP" && x.State != "UNKNOWN":
		state = "no-carrier"
	}
	c := x.Stats
	return Link{Name: x.Name, Kind: x.Kind, State: state, Oper: x.State, MTU: x.MTU, MAC: x.MAC,
		Master: x.Master, Peer: x.Peer, Addrs: x.Addrs,
		Stats: Counters{c.RxPackets, c.TxPackets, c.RxBytes, c.TxBytes, c.RxDropped, c.TxDropped, c.RxErrors, c.TxErrors}}
}

func (s *Server) serveState(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, ReadState(s.lab, s.info))
}

// serveGraph draws the lab's topology as nsscript graph --format svg does.
func (s *Server) serveGraph(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	if err := graph.FromLab(s.lab).Write(&buf, "svg"); err != nil {
		http.Error(w, "graph: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Write(buf.Bytes())
}

func writeJSON(w http.ResponseWriter, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(data, '\n'))
}
