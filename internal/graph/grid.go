package graph

import (
	"math"
	"sort"
)

// grid is where a box's kids go below it: columns, each with a gutter on its
// left for the wires, and rows, each with a channel above it where the wires
// turn towards their kid.
type grid struct {
	cols           int
	gutter, colW   []float64
	stackW         []float64 // the widest port of each column's stack
	buses          [][]*pill // the bridges whose ports are in each column, nearest first
	rowH, chanH    []float64
	lanes          [][]*pedge // the wires down each gutter, left to right
	col, row       map[*box]int
	width, stacksH float64
	colX           []float64 // absolute left of each column's gutter, once placed
}

// boxGeom holds what arrange works out about a box, relative to its top
// left corner.
type boxGeom struct {
	rowX, rowY     []float64
	notesX, notesY float64
	trackY0        float64
	stackY         float64
	trackOf        map[*pill]*track  // a bridge's bus, or a pill's way to its kids' lanes
	edgeTrack      map[*pedge]*track // a pair inside the box that is not side by side
	up             []*pill
	stacked        map[*pill]bool
}

// arrange sizes b's block, its kids' first, within avail pixels if it can.
func (lo *layout) arrange(b *box, avail float64) {
	for _, k := range b.kids {
		lo.arrange(k, avail-40)
	}
	lo.classify(b)
	if len(b.kids) > 0 {
		b.g = lo.gridFor(b, 1)
		for cols := len(b.kids); cols > 1; cols-- {
			if g := lo.gridFor(b, cols); g.width <= avail {
				// As many rows, as even as they go: 5+5, not 9+1.
				rows := (len(b.kids) + cols - 1) / cols
				b.g = lo.gridFor(b, (len(b.kids)+rows-1)/rows)
				break
			}
		}
	}
	lo.sizeBox(b, avail)
}

// classify sorts b's pills: those facing the parent (up), the ports that
// lead to exactly one kid (stacked above its column), and the rest (the top
// rows, up first, then each bridge followed by what hangs off it).
func (lo *layout) classify(b *box) {
	geo := &b.geo
	geo.stacked = map[*pill]bool{}
	geo.up = nil
	if b.parent != nil {
		for _, e := range b.parent.links[b] {
			geo.up = append(geo.up, b.mine(e))
		}
	}
	isUp := map[*pill]bool{}
	for _, p := range geo.up {
		isUp[p] = true
	}
	cross, inner := map[*pill][]*pedge{}, map[*pill][]*pedge{}
	for _, e := range lo.edges {
		for _, p := range []*pill{e.a, e.b} {
			if p.box != b {
				continue
			}
			if e.a.box == e.b.box {
				inner[p] = append(inner[p], e)
			} else {
				cross[p] = append(cross[p], e)
			}
		}
	}
	for _, p := range b.pills {
		if isUp[p] || p.it.Kind == "bridge" || len(cross[p]) != 1 || b.other(cross[p][0]).box.parent != b {
			continue
		}
		ok := true
		for _, e := range inner[p] {
			ok = ok && e.kind == EdgePort && p.it.Master != ""
		}
		geo.stacked[p] = ok
	}
	order := append([]*pill(nil), geo.up...)
	placed := map[*pill]bool{}
	for _, p := range b.pills {
		placed[p] = isUp[p] || geo.stacked[p]
	}
	var visit func(p *pill)
	visit = func(p *pill) {
		if placed[p] {
			return
		}
		placed[p] = true
		order = append(order, p)
		for _, e := range inner[p] {
			if e.a == p {
				visit(e.b)
			} else {
				visit(e.a)
			}
		}
	}
	for _, p := range b.pills {
		if p.it.Kind == "bridge" {
			visit(p)
		}
	}
	for _, p := range b.pills {
		visit(p)
	}
	b.top = [][]*pill{}
	if len(order) > 0 {
		b.top = [][]*pill{order}
	}
}

// gridFor works out the grid of b's kids in cols columns.
func (lo *layout) gridFor(b *box, cols int) grid {
	n := len(b.kids)
	rows := (n + cols - 1) / cols
	g := grid{cols: cols, col: map[*box]int{}, row: map[*box]int{},
		gutter: make([]float64, cols), colW: make([]float64, cols), stackW: make([]float64, cols),
		buses: make([][]*pill, cols), lanes: make([][]*pedge, cols),
		rowH: make([]float64, rows), chanH: make([]float64, rows)}
	for i, k := range b.kids {
		c, r := i%cols, i/cols
		g.col[k], g.row[k] = c, r
		g.colW[c] = math.Max(g.colW[c], k.bw)
		g.rowH[r] = math.Max(g.rowH[r], k.bh)
		g.chanH[r] = math.Max(g.chanH[r], 30+laneGap*float64(len(b.links[k])))
	}
	for c := range g.lanes {
		var tracked, ported []*pedge
		for _, k := range b.kids {
			if g.col[k] != c {
				continue
			}
			for _, e := range b.links[k] {
				if b.geo.stacked[b.mine(e)] {
					ported = append(ported, e)
				} else {
					tracked = append(tracked, e)
				}
			}
		}
		// Deeper rows run further left, so that no wire crosses the turn of
		// one to a row above; the ports stack in the same order.
		sort.SliceStable(ported, func(i, j int) bool {
			return g.row[b.other(ported[i]).box] > g.row[b.other(ported[j]).box]
		})
		g.lanes[c] = append(tracked, ported...)
		g.gutter[c] = 12 + laneGap*float64(len(g.lanes[c]))
		stackH, seen := 0.0, map[*pill]bool{}
		for _, e := range ported {
			p := b.mine(e)
			g.stackW[c] = math.Max(g.stackW[c], p.w)
			if stackH > 0 {
				stackH += pillGap
			}
			stackH += p.h
			if br := lo.bridgeOf(p); br != nil && !seen[br] {
				seen[br] = true
				g.buses[c] = append(g.buses[c], br)
			}
		}
		g.stacksH = math.Max(g.stacksH, stackH)
		w := g.stackW[c]
		if len(g.buses[c]) > 0 {
			w += 8 + laneGap*float64(len(g.buses[c]))
		}
		g.colW[c] = math.Max(g.colW[c], w)
		g.width += g.gutter[c] + g.colW[c]
	}
	g.width += boxPad
	return g
}

// bridgeOf returns the bridge p is a port of, or nil.
func (lo *layout) bridgeOf(p *pill) *pill {
	if p.it.Master == "" {
		return nil
	}
	return lo.pills[Ref{p.ref.NS, p.it.Master}]
}

// sizePill sizes p from its text.
func sizePill(p *pill) {
	w := textW(p.lines[0], nameSize)
	for i, l := range p.lines[1:] {
		size := addrSize
		if i == 0 {
			size = kindSize
		}
		w = math.Max(w, textW(l, size))
	}
	p.w = math.Max(w+2*pillPadX, 60)
	p.h = 8 + nameSize + 4 + kindSize + 4 + float64(len(p.lines)-2)*lineH + 4
}

// sizeBox wraps b's top rows, gives its wires their tracks and sizes the box
// and the block.
func (lo *layout) sizeBox(b *box, avail float64) {
	geo := &b.geo
	titleEnd := boxPad + textW(b.title, titleSize) + 10
	b.top = wrapTop(b, avail, titleEnd)
	lo.assignTracks(b)
	b.notesRight = len(b.tracks) > 0 || b.g.stacksH > 0
	notesW, notesH := 0.0, float64(len(b.notes))*lineH
	for _, n := range b.notes {
		notesW = math.Max(notesW, textW(n.String(), noteSize)+10)
	}
	w := math.Max(textW(b.title, titleSize)+2*boxPad, 140)
	y, topW, topH := titleH+6, 0.0, 0.0
	geo.rowX, geo.rowY = nil, nil
	for i, row := range b.top {
		x := boxPad
		if i == 0 && len(geo.up) > 0 {
			x = math.Max(x, titleEnd-row[0].w/2)
		}
		rowW, rowH := x-pillGap, 0.0
		for _, p := range row {
			rowW += p.w + pillGap
			rowH = math.Max(rowH, p.h)
		}
		geo.rowX, geo.rowY = append(geo.rowX, x), append(geo.rowY, y+topH)
		topW, topH = math.Max(topW, rowW), topH+rowH+pillGap
	}
	if len(b.ns.Interfaces) == 0 {
		topH = lineH + 10 + pillGap // "(no links)"
	}
	if b.notesRight {
		geo.notesX, geo.notesY = boxPad, y+noteSize
		if topW > 0 {
			geo.notesX = topW + 20
		}
		w = math.Max(w, geo.notesX+notesW+boxPad)
		topH = math.Max(topH, notesH+pillGap)
	}
	w = math.Max(w, topW+boxPad)
	y += topH
	geo.trackY0 = y
	if n := len(b.tracks); n > 0 {
		y += float64(n)*trackGap + 6
	}
	geo.stackY = y
	if b.g.stacksH > 0 {
		y += b.g.stacksH + pillGap
	}
	if !b.notesRight && len(b.notes) > 0 {
		geo.notesX, geo.notesY = boxPad, y+noteSize
		y += notesH + 6
		w = math.Max(w, notesW+2*boxPad)
	}
	b.h = math.Max(y-pillGap+boxPad, titleH+30)
	if len(b.kids) > 0 {
		if w > b.g.width {
			b.g.colW[b.g.cols-1] += w - b.g.width
			b.g.width = w
		}
		w = b.g.width
	}
	b.w, b.bw, b.bh = w, w, b.h
	for r := range b.g.rowH {
		b.bh += b.g.chanH[r] + b.g.rowH[r]
	}
}

// wrapTop wraps b's top pills into rows within avail, the first starting
// right of the title when it faces the parent.
func wrapTop(b *box, avail, titleEnd float64) [][]*pill {
	if len(b.top) == 0 {
		return nil
	}
	var rows [][]*pill
	x, limit := boxPad, math.Max(avail-2*boxPad, 200)
	if len(b.geo.up) > 0 {
		x = math.Max(x, titleEnd-b.geo.up[0].w/2)
	}
	row := []*pill{}
	for _, p := range b.top[0] {
		if len(row) > 0 && x+p.w > limit {
			rows, row, x = append(rows, row), nil, boxPad
		}
		row = append(row, p)
		x += p.w + pillGap
	}
	return append(rows, row)
}

// assignTracks gives a track to each bridge with ports, each top pill with
// wires to kids, and each pair inside the box that is not side by side.
func (lo *layout) assignTracks(b *box) {
	geo := &b.geo
	geo.trackOf, geo.edgeTrack = map[*pill]*track{}, map[*pedge]*track{}
	b.tracks = nil
	add := func() *track { t := &track{}; b.tracks = append(b.tracks, t); return t }
	where := map[*pill][2]int{}
	for r, row := range b.top {
		for i, p := range row {
			where[p] = [2]int{r, i}
		}
	}
	for _, row := range b.top {
		for _, p := range row {
			for _, e := range lo.edges {
				if (e.a == p || e.b == p) && geo.trackOf[p] == nil && (p.it.Kind == "bridge" && e.kind == EdgePort || e.a.box != e.b.box && b.other(e).box.parent == b) {
					geo.trackOf[p] = add()
				}
			}
		}
	}
	for _, e := range lo.edges {
		if e.a.box != b || e.b.box != b || e.kind == EdgePort && (lo.bridgeOf(e.a) == e.b || lo.bridgeOf(e.b) == e.a) {
			continue
		}
		wa, oka := where[e.a]
		wb, okb := where[e.b]
		if oka && okb && wa[0] == wb[0] && (wa[1]-wb[1] == 1 || wb[1]-wa[1] == 1) {
			continue // side by side: a straight line
		}
		geo.edgeTrack[e] = add()
	}
}

// place puts the blocks of the roots on shelves within the width, then
// everything inside them.
func (lo *layout) place() {
	x, y, shelfH := margin, margin, 0.0
	for _, r := range lo.roots {
		if x > margin && x+r.bw > lo.opts.MaxWidth-margin {
			x, y, shelfH = margin, y+shelfH+40, 0
		}
		lo.placeBlock(r, x, y)
		lo.w = math.Max(lo.w, x+r.bw+margin)
		shelfH = math.Max(shelfH, r.bh)
		x += r.bw + 40
	}
	lo.h = y + shelfH + margin
}

func (lo *layout) placeBlock(b *box, x, y float64) {
	b.x, b.y = x, y
	geo := &b.geo
	for r, row := range b.top {
		px := x + geo.rowX[r]
		for _, p := range row {
			p.x, p.y = px, y+geo.rowY[r]
			px += p.w + pillGap
		}
	}
	for i, t := range b.tracks {
		t.y = y + geo.trackY0 + 3 + float64(i)*trackGap
	}
	g := &b.g
	colX := make([]float64, g.cols)
	cx := x
	for c := range colX {
		colX[c] = cx
		sy := y + geo.stackY
		for _, e := range g.lanes[c] {
			if p := b.mine(e); geo.stacked[p] {
				p.x, p.y = cx+g.gutter[c], sy
				sy += p.h + pillGap
			}
		}
		cx += g.gutter[c] + g.colW[c]
	}
	ry := y + b.h
	for r := range g.rowH {
		ry += g.chanH[r]
		for _, k := range b.kids {
			if g.row[k] == r {
				c := g.col[k]
				lo.placeBlock(k, colX[c]+g.gutter[c], ry)
			}
		}
		ry += g.rowH[r]
	}
	g.colX = colX
}
