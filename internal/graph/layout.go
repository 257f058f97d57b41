package graph

import (
	"sort"
	"strconv"
	"strings"
)

// The SVG layout is a tree of blocks. The links between namespaces (veth
// pairs, lower devices) are walked breadth first from a root (the host, else
// the best connected namespace), and each namespace's box sits on top of a
// grid of the blocks of the namespaces it reached first ("kids"). The grid
// wraps into rows to stay within the picture's width. Each grid column has a
// gutter on its left where the wires run down, one lane each, so that no wire
// crosses a box.
//
// Inside a box, the interfaces that lead to exactly one kid ("ports") stand
// in a stack above that kid's column; a wire leaves a port on its left into
// the lane and enters the kid's interface from above. A bridge's ports hang
// off a bus in the bridge's own colour: a track under the top row, then a
// line down the right of each column's stack. The other interfaces form the
// top row(s) of the box, the ones facing the parent first and right of the
// title so that the wire from above crosses no text.
//
// Big labs collapse runs of alike leaf namespaces into one box (collapse.go).
// Sizes come from the text, in a monospace font whose advance is 0.6 em.

// Sizes in pixels.
const (
	margin      = 24.0
	boxPad      = 14.0
	titleH      = 30.0
	pillGap     = 12.0 // between pills of a row or a stack
	pillPadX    = 10.0
	nameSize    = 14.0
	kindSize    = 11.0
	addrSize    = 12.0
	titleSize   = 16.0
	noteSize    = 12.0
	lineH       = 15.0
	laneGap     = 6.0 // between wires running side by side
	trackGap    = 7.0 // between the horizontal tracks inside a box
	charAdvance = 0.6
)

// Options shape the SVG picture.
type Options struct {
	// MaxWidth is how wide the picture may grow, in pixels, where the lab
	// allows it (DefaultMaxWidth when 0).
	MaxWidth float64
	// CollapseAbove is the number of namespaces past which runs of alike
	// namespaces on one hub are drawn as one box (DefaultCollapseAbove
	// when 0; negative: never).
	CollapseAbove int
}

// Defaults of Options.
const (
	DefaultMaxWidth      = 1600
	DefaultCollapseAbove = 50
)

func textW(s string, size float64) float64 { return float64(len([]rune(s))) * size * charAdvance }

// pill is an interface (or, collapsed, a run of alike ones) drawn as a
// rounded box.
type pill struct {
	ref     Ref
	it      *Interface
	box     *box
	lines   []string // name, kind, addresses
	count   int      // interfaces it stands for
	members []string // their namespace/name, when more than one
	color   string   // stroke: the kind's, or its bridge's
	fill    string
	x, y    float64 // top left, absolute once placed
	w, h    float64
}

func (p *pill) cx() float64 { return p.x + p.w/2 }
func (p *pill) cy() float64 { return p.y + p.h/2 }

// note is a line of text in a box: a route, a rule, a service.
type note struct{ tag, text string }

func (n note) String() string { return n.tag + " " + n.text }

// box is a namespace (or a collapsed run of alike ones) and, below it, the
// grid of its kids.
type box struct {
	ns      *Namespace
	members []string // the namespaces it stands for, when more than one
	title   string
	notes   []note
	pills   []*pill
	parent  *box
	kids    []*box
	links   map[*box][]*pedge // wires to each kid, in the kid's order

	top        [][]*pill // rows of pills at the top
	stacks     [][]*pill // ports, by grid column, top to bottom
	tracks     []*track
	notesRight bool

	x, y, w, h float64 // the box
	bw, bh     float64 // the block: the box and the grid below it
	g          grid
	geo        boxGeom
}

// track is a horizontal line inside a box that wires run along.
type track struct{ y float64 }

// pedge is an edge between two pills.
type pedge struct {
	kind  string
	a, b  *pill
	count int
}

// layout is a laid-out graph.
type layout struct {
	g      *Graph
	opts   Options
	boxes  []*box
	roots  []*box
	byNS   map[string]*box
	pills  map[Ref]*pill
	edges  []*pedge
	colors map[*pill]string // each bridge's colour
	w, h   float64
}

func newLayout(g *Graph, o Options) *layout {
	if o.MaxWidth <= 0 {
		o.MaxWidth = DefaultMaxWidth
	}
	if o.CollapseAbove == 0 {
		o.CollapseAbove = DefaultCollapseAbove
	}
	lo := &layout{g: g, opts: o, byNS: map[string]*box{}, pills: map[Ref]*pill{}, colors: map[*pill]string{}}
	for _, n := range g.Namespaces {
		b := &box{ns: n, title: n.title(), notes: notesOf(n), links: map[*box][]*pedge{}}
		for _, it := range n.Interfaces {
			p := &pill{ref: Ref{n.Name, it.Name}, it: it, box: b, lines: it.label(), count: 1}
			c := colorOf(it.Kind)
			p.fill, p.color = c[0], c[1]
			if it.Kind == "bridge" {
				p.color = bridgePalette[len(lo.colors)%len(bridgePalette)]
				lo.colors[p] = p.color
			}
			b.pills = append(b.pills, p)
			lo.pills[p.ref] = p
		}
		lo.boxes = append(lo.boxes, b)
		lo.byNS[n.Name] = b
	}
	for _, p := range lo.pills {
		if m := p.it.Master; m != "" && lo.pills[Ref{p.ref.NS, m}] != nil {
			p.color = lo.pills[Ref{p.ref.NS, m}].color
		}
	}
	lo.edges = lo.pillEdges(nil)
	lo.buildTree()
	if o.CollapseAbove > 0 && lo.guests() > o.CollapseAbove {
		lo.collapse()
	}
	for _, b := range lo.boxes {
		for _, p := range b.pills {
			sizePill(p)
		}
	}
	for _, r := range lo.roots {
		lo.arrange(r, o.MaxWidth-2*margin)
	}
	lo.place()
	return lo
}

// guests counts the namespaces besides the host.
func (lo *layout) guests() int {
	n := 0
	for _, ns := range lo.g.Namespaces {
		if !ns.Host {
			n++
		}
	}
	return n
}

// notesOf lists what a namespace's box says besides its interfaces.
func notesOf(n *Namespace) []note {
	var out []note
	for _, r := range n.Routes {
		out = append(out, note{"route", r})
	}
	for _, r := range n.Rules {
		tag := "fw"
		if r.Kind == RuleNAT {
			tag = "nat"
		}
		out = append(out, note{tag, r.Text})
	}
	for _, s := range n.Services {
		tag := "run" // a program started in the background
		if strings.Contains(s, " ") {
			tag = "serve" // a built-in server: "http :80"
		}
		out = append(out, note{tag, s})
	}
	return out
}

// pillEdges maps the graph's edges onto pills, through merged (a collapsed
// pill's members to the pill that stands for them), dropping repeats.
func (lo *layout) pillEdges(merged map[*pill]*pill) []*pedge {
	var out []*pedge
	seen := map[[2]*pill]*pedge{}
	get := func(r Ref) *pill {
		p := lo.pills[r]
		if m, ok := merged[p]; ok {
			return m
		}
		return p
	}
	for _, e := range lo.g.Edges {
		a, b := get(e.From), get(e.To)
		if a == nil || b == nil || a == b {
			continue
		}
		if pe := seen[[2]*pill{a, b}]; pe != nil {
			pe.count++
			continue
		}
		pe := &pedge{kind: e.Kind, a: a, b: b, count: 1}
		seen[[2]*pill{a, b}] = pe
		out = append(out, pe)
	}
	return out
}

// neighbours returns, for each box, the boxes it shares an edge with, in
// edge order.
func (lo *layout) neighbours() map[*box][]*box {
	adj := map[*box][]*box{}
	for _, e := range lo.edges {
		a, b := e.a.box, e.b.box
		if a != b {
			adj[a] = append(adj[a], b)
			adj[b] = append(adj[b], a)
		}
	}
	return adj
}

// buildTree walks each connected group of boxes breadth first from its
// root: the host, else the box with the most links.
func (lo *layout) buildTree() {
	adj := lo.neighbours()
	done := map[*box]bool{}
	for _, start := range lo.boxes {
		if done[start] {
			continue
		}
		group := []*box{start}
		seen := map[*box]bool{start: true}
		for i := 0; i < len(group); i++ {
			for _, nb := range adj[group[i]] {
				if !seen[nb] {
					seen[nb] = true
					group = append(group, nb)
				}
			}
		}
		root := group[0]
		for _, b := range group {
			if b.ns.Host {
				root = b
				break
			}
			if len(adj[b]) > len(adj[root]) {
				root = b
			}
		}
		lo.roots = append(lo.roots, root)
		done[root] = true
		for queue := []*box{root}; len(queue) > 0; queue = queue[1:] {
			b := queue[0]
			for _, nb := range adj[b] {
				if !done[nb] {
					done[nb] = true
					nb.parent = b
					b.kids = append(b.kids, nb)
					queue = append(queue, nb)
				}
			}
		}
	}
	lo.linkKids()
}

// linkKids records, for every box, the edges to each of its kids, and
// orders the kids: those behind a bridge by bridge, then the rest.
func (lo *layout) linkKids() {
	for _, b := range lo.boxes {
		b.links = map[*box][]*pedge{}
	}
	for _, e := range lo.edges {
		a, b := e.a.box, e.b.box
		switch {
		case a == b:
		case b.parent == a:
			a.links[b] = append(a.links[b], e)
		case a.parent == b:
			b.links[a] = append(b.links[a], e)
		}
	}
	for _, b := range lo.boxes {
		rank := func(k *box) int {
			mine := b.mine(b.links[k][0])
			if m := mine.it.Master; m != "" {
				for i, p := range b.pills {
					if p.ref.Name == m {
						return i
					}
				}
			}
			return len(b.pills)
		}
		sort.SliceStable(b.kids, func(i, j int) bool { return rank(b.kids[i]) < rank(b.kids[j]) })
	}
}

// mine returns the end of e in b.
func (b *box) mine(e *pedge) *pill {
	if e.a.box == b {
		return e.a
	}
	return e.b
}

// other returns the end of e not in b.
func (b *box) other(e *pedge) *pill {
	if e.a.box == b {
		return e.b
	}
	return e.a
}

// memberList names the namespaces of a collapsed box, for its title.
func memberList(names []string) string {
	return names[0] + " … " + names[len(names)-1] + " (" + strconv.Itoa(len(names)) + " namespaces)"
}
