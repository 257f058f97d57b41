package graph

import (
	"math"
	"sort"
)

// The SVG layout is layered: namespaces are boxes in rows ("layers"), found
// by a breadth-first walk over the veth pairs from the host (or, without
// one, from the best connected namespace), so that most links run from one
// row to the next. Inside a box, interfaces are pills in up to three rows:
// those whose peer is in a row above, then the bridges, then the rest (the
// bridge ports and the links to rows below). Sizes come from the text, in a
// monospace font whose advance is 0.6 em.

// Sizes in pixels.
const (
	margin      = 24.0
	boxPad      = 14.0
	boxGap      = 40.0 // between boxes of a row
	layerGap    = 64.0 // between rows of boxes
	titleH      = 30.0
	rowGap      = 30.0 // between rows of pills (room for bridge-port lines)
	pillGap     = 16.0
	pillPadX    = 10.0
	nameSize    = 14.0
	kindSize    = 11.0
	addrSize    = 12.0
	titleSize   = 16.0
	routeSize   = 12.0
	lineH       = 15.0
	charAdvance = 0.6
)

func textW(s string, size float64) float64 { return float64(len([]rune(s))) * size * charAdvance }

// pill is an interface drawn as a rounded box.
type pill struct {
	it   *Interface
	ns   string
	row  int     // 0 up, 1 bridges, 2 rest
	x, y float64 // top left, absolute once the box is placed
	w, h float64
}

func (p *pill) cx() float64 { return p.x + p.w/2 }

// box is a namespace.
type box struct {
	ns     *Namespace
	layer  int
	x, y   float64
	w, h   float64
	rows   [3][]*pill
	rowY   [3]float64 // top of each row, relative to the box
	rowX   [3]float64 // left of each row, relative to the box
	routeY float64    // first route line's baseline, relative
}

// layout is a laid-out graph.
type layout struct {
	g      *Graph
	boxes  []*box
	pills  map[Ref]*pill
	layers [][]*box
	bottom []float64 // lowest box bottom of each layer
	w, h   float64
}

func newLayout(g *Graph) *layout {
	lo := &layout{g: g, pills: map[Ref]*pill{}}
	byName := map[string]*box{}
	for _, n := range g.Namespaces {
		b := &box{ns: n}
		lo.boxes = append(lo.boxes, b)
		byName[n.Name] = b
	}
	lo.assignLayers(byName)
	for _, b := range lo.boxes {
		lo.sizeBox(b, byName)
	}
	lo.place()
	return lo
}

// neighbours returns, for each namespace, the namespaces it shares a veth
// pair or a lower device with, in edge order.
func (lo *layout) neighbours(byName map[string]*box) map[*box][]*box {
	adj := map[*box][]*box{}
	for _, e := range lo.g.Edges {
		a, b := byName[e.From.NS], byName[e.To.NS]
		if a == nil || b == nil || a == b || e.Kind == EdgePort {
			continue
		}
		adj[a] = append(adj[a], b)
		adj[b] = append(adj[b], a)
	}
	return adj
}

// assignLayers walks each connected group of namespaces breadth first from
// its root: the host, else the namespace with the most links.
func (lo *layout) assignLayers(byName map[string]*box) {
	adj := lo.neighbours(byName)
	done := map[*box]bool{}
	for _, start := range lo.boxes {
		if done[start] {
			continue
		}
		// Collect the group, then pick its root.
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
		root.layer = 0
		done[root] = true
		queue := []*box{root}
		for len(queue) > 0 {
			b := queue[0]
			queue = queue[1:]
			for _, nb := range adj[b] {
				if !done[nb] {
					done[nb] = true
					nb.layer = b.layer + 1
					queue = append(queue, nb)
				}
			}
		}
	}
	for _, b := range lo.boxes {
		for len(lo.layers) <= b.layer {
			lo.layers = append(lo.layers, nil)
		}
		lo.layers[b.layer] = append(lo.layers[b.layer], b)
	}
}

// sizeBox sizes the pills of a namespace, sorts them into rows and sizes
// the box around them.
func (lo *layout) sizeBox(b *box, byName map[string]*box) {
	for _, it := range b.ns.Interfaces {
		p := &pill{it: it, ns: b.ns.Name, row: 2}
		w := textW(it.Name, nameSize)
		for i, l := range it.label()[1:] {
			size := addrSize
			if i == 0 {
				size = kindSize
			}
			w = math.Max(w, textW(l, size))
		}
		p.w = math.Max(w+2*pillPadX, 60)
		p.h = 8 + nameSize + 4 + kindSize + 4 + float64(len(it.Addrs))*lineH + 4
		switch {
		case it.Kind == "bridge":
			p.row = 1
		case it.Peer != nil && byName[it.Peer.NS] != nil && byName[it.Peer.NS].layer < b.layer:
			p.row = 0
		case it.Parent != nil && byName[it.Parent.NS] != nil && byName[it.Parent.NS].layer < b.layer:
			p.row = 0
		}
		b.rows[p.row] = append(b.rows[p.row], p)
		lo.pills[Ref{b.ns.Name, it.Name}] = p
	}
	titleW := textW(b.ns.title(), titleSize)
	b.w = math.Max(titleW+2*boxPad, 140)
	y := titleH + 6
	for r := range b.rows {
		ps := b.rows[r]
		if len(ps) == 0 {
			continue
		}
		rowW, rowH := 0.0, 0.0
		for i, p := range ps {
			if i > 0 {
				rowW += pillGap
			}
			rowW += p.w
			rowH = math.Max(rowH, p.h)
		}
		need := rowW + 2*boxPad
		if r == 0 {
			// Lines leave the up row upwards through the title row: keep
			// the first pill's centre clear of the title.
			need = math.Max(need, boxPad+titleW+10-ps[0].w/2+rowW+boxPad)
		}
		b.w = math.Max(b.w, need)
		b.rowY[r] = y
		y += rowH + rowGap
	}
	if len(b.ns.Interfaces) == 0 {
		y += lineH + 10 // "(no links)"
	}
	y -= rowGap - boxPad
	if len(b.ns.Routes) > 0 {
		y += 4
		b.routeY = y + routeSize
		for _, r := range b.ns.Routes {
			b.w = math.Max(b.w, textW("route "+r, routeSize)+2*boxPad)
		}
		y += float64(len(b.ns.Routes))*lineH + 6
	}
	b.h = math.Max(y, titleH+30)
	// Rows are centred; the up row also clears the title.
	titleW += boxPad + 10
	for r, ps := range b.rows {
		if len(ps) == 0 {
			continue
		}
		rowW := -pillGap
		for _, p := range ps {
			rowW += p.w + pillGap
		}
		b.rowX[r] = (b.w - rowW) / 2
		if r == 0 && b.rowX[r]+ps[0].w/2 < titleW {
			b.rowX[r] = titleW - ps[0].w/2
		}
	}
}

// place positions the boxes: row by row, each box under the pills it
// connects to in the rows above, without overlaps; then the pills.
func (lo *layout) place() {
	y := margin
	for k, layer := range lo.layers {
		desired := map[*box]float64{}
		if k > 0 {
			for _, b := range layer {
				sum, n := 0.0, 0
				for _, e := range lo.g.Edges {
					if e.Kind == EdgePort {
						continue
					}
					for _, pair := range [2][2]Ref{{e.From, e.To}, {e.To, e.From}} {
						if pair[0].NS != b.ns.Name {
							continue
						}
						if q := lo.pills[pair[1]]; q != nil && lo.layerOf(q.ns) < k {
							sum += q.cx()
							n++
						}
					}
				}
				if n > 0 {
					desired[b] = sum / float64(n)
				}
			}
			sort.SliceStable(layer, func(i, j int) bool {
				di, oki := desired[layer[i]]
				dj, okj := desired[layer[j]]
				if oki != okj {
					return oki
				}
				return di < dj
			})
		}
		right := math.Inf(-1)
		var shift, n float64
		for _, b := range layer {
			x := right + boxGap
			if math.IsInf(right, -1) {
				x = margin
			}
			if d, ok := desired[b]; ok {
				x = math.Max(x, d-b.w/2)
				shift += d - (x + b.w/2)
				n++
			}
			b.x, b.y = x, y
			right = x + b.w
		}
		if n > 0 {
			for _, b := range layer {
				b.x += shift / n
			}
		}
		h := 0.0
		for _, b := range layer {
			h = math.Max(h, b.h)
			lo.placePills(b)
		}
		lo.bottom = append(lo.bottom, y+h)
		y += h + layerGap
	}
	// Shift everything right so that nothing starts left of the margin.
	minX := math.Inf(1)
	for _, b := range lo.boxes {
		minX = math.Min(minX, b.x)
	}
	dx := margin - minX
	for _, b := range lo.boxes {
		b.x += dx
		lo.w = math.Max(lo.w, b.x+b.w+margin)
		for _, ps := range b.rows {
			for _, p := range ps {
				p.x += dx
			}
		}
	}
	lo.w = math.Max(lo.w, 360)
	lo.h = y - layerGap + margin
}

func (lo *layout) layerOf(ns string) int {
	for _, b := range lo.boxes {
		if b.ns.Name == ns {
			return b.layer
		}
	}
	return -1
}

func (lo *layout) placePills(b *box) {
	for r, ps := range b.rows {
		x := b.x + b.rowX[r]
		for _, p := range ps {
			p.x, p.y = x, b.y+b.rowY[r]
			x += p.w + pillGap
		}
	}
}
