// Package graph turns a lab's topology into pictures: Graphviz DOT, Mermaid,
// a self-contained SVG laid out by this package, or JSON. It reads the lab
// model only (a planned lab is enough), so drawing needs no root and touches
// no kernel.
package graph

import (
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/nsscript/nsscript/internal/lab"
	"github.com/nsscript/nsscript/internal/privmount"
)

// Graph is a lab's topology as plain data.
type Graph struct {
	Namespaces []*Namespace `json:"namespaces"`
	Edges      []Edge       `json:"edges"`
}

// Namespace is a network namespace and what it holds.
type Namespace struct {
	Name string `json:"name"`
	// Host marks the lab's root namespace.
	Host bool `json:"host,omitempty"`
	// Existing marks a namespace the lab opened rather than created.
	Existing   bool         `json:"existing,omitempty"`
	Forwarding bool         `json:"forwarding,omitempty"`
	Interfaces []*Interface `json:"interfaces"`
	// Routes are the routes the script added, as iproute2 writes them
	// ("default via 10.0.0.1", "10.2.0.0/16 dev eth1").
	Routes []string `json:"routes,omitempty"`
	// Rules are the NAT and filter rules the script added, in order.
	Rules []Rule `json:"rules,omitempty"`
	// Services are the built-in servers ("http :80") and the programs
	// started in the background ("bird") in the namespace.
	Services []string `json:"services,omitempty"`
}

// Rule is a NAT or filter rule in words, as the lab describes it
// ("masquerade out on eth0", "accept in on eth0 in forward").
type Rule struct {
	// Kind is RuleNAT or RuleFilter.
	Kind string `json:"kind"`
	Text string `json:"text"`
}

// Rule kinds.
const (
	RuleNAT    = "nat"
	RuleFilter = "filter"
)

// Interface is a network interface of a namespace.
type Interface struct {
	Name  string   `json:"name"`
	Kind  string   `json:"kind"`
	Up    bool     `json:"up"`
	Addrs []string `json:"addrs,omitempty"`
	// Master is the bridge (in the same namespace) the interface is a
	// port of.
	Master string `json:"master,omitempty"`
	// Peer is the other end of a veth pair; Parent the lower device of a
	// macvlan or similar.
	Peer   *Ref `json:"peer,omitempty"`
	Parent *Ref `json:"parent,omitempty"`
}

// Ref names an interface by namespace and name.
type Ref struct {
	NS   string `json:"ns"`
	Name string `json:"name"`
}

func (r Ref) String() string { return r.NS + "/" + r.Name }

// Edge kinds.
const (
	EdgeVeth  = "veth"  // the two ends of a veth pair
	EdgePort  = "port"  // a bridge port and its bridge
	EdgeLower = "lower" // a macvlan (or similar) and its lower device
)

// Edge connects two interfaces.
type Edge struct {
	Kind string `json:"kind"`
	From Ref    `json:"from"`
	To   Ref    `json:"to"`
}

// FromLab reads the topology of l: every namespace with what the lab made
// in it, and the routes and forwarding its steps set. The host namespace is
// left out when the script put nothing in it.
func FromLab(l *lab.Lab) *Graph {
	g := &Graph{}
	byName := map[string]*Namespace{}
	order := map[*lab.Link]int{}
	for _, n := range l.Namespaces() {
		for _, lk := range n.Links() {
			order[lk] = len(order)
		}
	}
	for _, n := range l.Namespaces() {
		ns := &Namespace{Name: n.Name, Host: n == l.Host, Existing: n.Existing}
		for _, lk := range n.Links() {
			it := &Interface{Name: lk.Name(), Kind: lk.Kind(), Up: lk.IsUp()}
			for _, p := range lk.Addrs() {
				it.Addrs = append(it.Addrs, p.String())
			}
			self := Ref{n.Name, lk.Name()}
			if m := lk.Master(); m != nil {
				it.Master = m.Name()
				g.Edges = append(g.Edges, Edge{EdgePort, self, Ref{n.Name, m.Name()}})
			}
			if p := lk.Peer(); p != nil {
				it.Peer = &Ref{p.NS().Name, p.Name()}
				// One edge per pair: from the end the lab saw first.
				if q, ok := order[p]; !ok || order[lk] < q {
					g.Edges = append(g.Edges, Edge{EdgeVeth, self, *it.Peer})
				}
			}
			if p := lk.Parent(); p != nil {
				it.Parent = &Ref{p.NS().Name, p.Name()}
				g.Edges = append(g.Edges, Edge{EdgeLower, self, *it.Parent})
			}
			ns.Interfaces = append(ns.Interfaces, it)
		}
		byName[n.Name] = ns
		g.Namespaces = append(g.Namespaces, ns)
	}
	for _, s := range l.Steps() {
		ns := byName[s.NS]
		if ns == nil || len(s.Cmds) == 0 {
			continue
		}
		switch s.Op {
		case "nft rule":
			ns.Rules = append(ns.Rules, ruleOf(s))
		case "serve":
			var proto, addr string
			if _, err := fmt.Sscanf(s.Desc, "start the built-in %s server on %s", &proto, &addr); err == nil {
				ns.Services = append(ns.Services, proto+" "+addr)
			}
		case "exec":
			if argv, _, ok := strings.Cut(s.Desc, " in the background in netns "); ok {
				ns.Services = append(ns.Services, programOf(argv))
			}
		case "route add":
			if _, r, ok := strings.Cut(s.Cmds[0], " route add "); ok {
				ns.Routes = append(ns.Routes, r)
			}
		case "sysctl":
			for _, c := range s.Cmds {
				if strings.Contains(c, "net.ipv4.ip_forward=") {
					ns.Forwarding = strings.HasSuffix(c, "=1")
				}
			}
		}
	}
	if len(g.Namespaces) > 0 && g.Namespaces[0].Host && g.Namespaces[0].empty() && !g.referenced(lab.HostName) {
		g.Namespaces = g.Namespaces[1:]
	}
	return g
}

// ruleOf reads a rule from its step: the lab's description without the
// namespace, and whether it translates addresses.
func ruleOf(s lab.Step) Rule {
	text := strings.TrimSuffix(s.Desc, " in netns "+s.NS)
	kind := RuleFilter
	if strings.HasPrefix(text, "masquerade") || strings.HasPrefix(text, "forward ") {
		kind = RuleNAT
	}
	return Rule{kind, text}
}

// programOf names the program a background step starts: the base name of
// its first word, past the re-executed nsscript that sets up a daemon's
// private directories.
func programOf(desc string) string {
	words := strings.Fields(strings.TrimPrefix(desc, "start "))
	if len(words) > 1 && words[0] == privmount.Exe {
		words = words[1:]
	}
	if len(words) == 0 {
		return "program"
	}
	return path.Base(words[0])
}

func (n *Namespace) empty() bool {
	return len(n.Interfaces) == 0 && len(n.Routes) == 0 && !n.Forwarding && len(n.Rules) == 0 && len(n.Services) == 0
}

func (g *Graph) referenced(ns string) bool {
	for _, e := range g.Edges {
		if e.From.NS == ns || e.To.NS == ns {
			return true
		}
	}
	return false
}

// Namespace returns the namespace called name, or nil.
func (g *Graph) Namespace(name string) *Namespace {
	for _, n := range g.Namespaces {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Interface returns the interface r names, or nil.
func (g *Graph) Interface(r Ref) *Interface {
	if n := g.Namespace(r.NS); n != nil {
		for _, it := range n.Interfaces {
			if it.Name == r.Name {
				return it
			}
		}
	}
	return nil
}

// Formats lists the output formats, for flags and messages.
var Formats = []string{"dot", "mermaid", "svg", "json"}

// Write writes g in format (one of Formats) to w.
func (g *Graph) Write(w io.Writer, format string) error {
	switch format {
	case "dot":
		return g.DOT(w)
	case "mermaid":
		return g.Mermaid(w)
	case "svg":
		return g.SVG(w)
	case "json":
		return g.JSON(w)
	}
	return &FormatError{format}
}

// FormatError reports an unknown output format.
type FormatError struct{ Format string }

func (e *FormatError) Error() string {
	return "unknown format " + quote(e.Format) + " (want " + strings.Join(Formats, ", ") + ")"
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

// JSON writes g as indented JSON.
func (g *Graph) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(g)
}

// sortedKinds returns the interface kinds used in g, bridge and veth first.
func (g *Graph) sortedKinds() []string {
	seen := map[string]bool{}
	for _, n := range g.Namespaces {
		for _, it := range n.Interfaces {
			seen[it.Kind] = true
		}
	}
	var ks []string
	for k := range seen {
		ks = append(ks, k)
	}
	rank := func(k string) int {
		switch k {
		case "bridge":
			return 0
		case "veth":
			return 1
		}
		return 2
	}
	sort.Slice(ks, func(i, j int) bool {
		if rank(ks[i]) != rank(ks[j]) {
			return rank(ks[i]) < rank(ks[j])
		}
		return ks[i] < ks[j]
	})
	return ks
}
