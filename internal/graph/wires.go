package graph

import (
	"fmt"
	"math"
	"strings"
)

// wire is an edge as drawn: an SVG path and its style.
type drawnWire struct {
	e            *pedge
	d            string
	stroke, dash string
}

// Line colours and dashes of the edge kinds; a bridge port takes its
// bridge's colour.
const (
	vethStroke  = "#1d4ed8"
	lowerStroke = "#4b5563"
	portDash    = "6 4"
	lowerDash   = "2 3"
)

// bridgePalette are the bridges' colours, in the order the lab made them.
var bridgePalette = []string{"#b45309", "#7c3aed", "#0f766e", "#be123c", "#15803d", "#a21caf", "#0e7490", "#854d0e"}

// route draws every edge: inside a box along its tracks, from a box down to
// a kid through the column's gutter, and any other pair as a straight line.
func (lo *layout) route() []drawnWire {
	var out []drawnWire
	across := map[*box]int{} // wires from elsewhere into each box so far
	for _, e := range lo.edges {
		w := drawnWire{e: e, stroke: vethStroke}
		switch e.kind {
		case EdgePort:
			w.dash = portDash
			if br := lo.bridgeOf(e.a); br == e.b {
				w.stroke = br.color
			} else if br := lo.bridgeOf(e.b); br == e.a {
				w.stroke = br.color
			}
		case EdgeLower:
			w.stroke, w.dash = lowerStroke, lowerDash
		}
		a, b := e.a.box, e.b.box
		switch {
		case a == b:
			w.d = lo.routeInside(a, e)
		case b.parent == a:
			w.d = lo.routeDown(a, b, e)
		case a.parent == b:
			w.d = lo.routeDown(b, a, e)
		default:
			w.d = lo.routeAcross(e, across)
		}
		out = append(out, w)
	}
	return out
}

// routeInside joins two pills of box b: a bridge to a port along the
// bridge's bus, a pair that is not side by side along its own track, else
// a short line between facing sides.
func (lo *layout) routeInside(b *box, e *pedge) string {
	geo := &b.geo
	br, port := e.a, e.b
	if lo.bridgeOf(br) == port {
		br, port = port, br
	}
	if e.kind == EdgePort && lo.bridgeOf(port) == br {
		t := geo.trackOf[br]
		if geo.stacked[port] {
			c, k := lo.columnOf(b, port)
			busX := b.g.colX[c] + b.g.gutter[c] + b.g.stackW[c] + 8 + float64(k)*laneGap
			return pathD(br.cx(), br.y+br.h, "V", t.y, "H", busX, "V", port.cy(), "H", port.x+port.w)
		}
		return pathD(br.cx(), br.y+br.h, "V", t.y, "H", port.cx(), "V", port.y+port.h)
	}
	if t := geo.edgeTrack[e]; t != nil {
		return pathD(e.a.cx(), e.a.y+e.a.h, "V", t.y, "H", e.b.cx(), "V", e.b.y+e.b.h)
	}
	l, r := e.a, e.b
	if r.x < l.x {
		l, r = r, l
	}
	y := math.Max(l.y, r.y) + 16 // level with the names
	return pathD(l.x+l.w, y, "H", r.x)
}

// columnOf returns the grid column of a stacked port of b and the place of
// its bridge's bus in that column.
func (lo *layout) columnOf(b *box, port *pill) (int, int) {
	for c, lanes := range b.g.lanes {
		for _, e := range lanes {
			if b.mine(e) == port {
				for k, br := range b.g.buses[c] {
					if br == lo.bridgeOf(port) {
						return c, k
					}
				}
				return c, 0
			}
		}
	}
	return 0, 0
}

// routeDown joins a pill of b to one of its kid k: out of a port's left
// side (or down from a top pill to its track) into the lane, down the
// gutter, along the channel above the kid and into its pill from above.
func (lo *layout) routeDown(b, k *box, e *pedge) string {
	mine, theirs := b.mine(e), b.other(e)
	c := b.g.col[k]
	laneX, turn := b.g.colX[c]+8, 0
	for i, l := range b.g.lanes[c] {
		if l == e {
			laneX += float64(i) * laneGap
		}
	}
	for _, l := range b.g.lanes[c] {
		if l == e {
			break
		}
		if b.other(l).box == k {
			turn++
		}
	}
	turnY := k.y - 10 - float64(turn)*laneGap
	if b.geo.stacked[mine] {
		return pathD(mine.x, mine.cy(), "H", laneX, "V", turnY, "H", theirs.cx(), "V", theirs.y)
	}
	t := b.geo.trackOf[mine]
	return pathD(mine.cx(), mine.y+mine.h, "V", t.y, "H", laneX, "V", turnY, "H", theirs.cx(), "V", theirs.y)
}

// routeAcross joins pills of two boxes that are not parent and kid. When
// one box lies wholly above the other, the wire drops from the upper pill
// to the channel above the lower box and enters its pill from above, like a
// wire from a parent; else it is a straight line.
func (lo *layout) routeAcross(e *pedge, across map[*box]int) string {
	p, q := e.a, e.b
	if q.box.y < p.box.y {
		p, q = q, p
	}
	b := q.box
	if b.parent == nil || p.box.y+p.box.h >= b.y-20 || len(b.top) == 0 || b.top[0][0].y != q.y {
		return straight(p, q)
	}
	turnY := b.y - 10 - float64(len(b.parent.links[b])+across[b])*laneGap
	across[b]++
	return pathD(p.cx(), p.y+p.h, "V", turnY, "H", q.cx(), "V", q.y)
}

// straight joins two pills of unrelated boxes by a line between the sides
// that face each other.
func straight(p, q *pill) string {
	switch {
	case q.y >= p.y+p.h:
		return pathD(p.cx(), p.y+p.h, "L", q.cx(), q.y)
	case p.y >= q.y+q.h:
		return pathD(p.cx(), p.y, "L", q.cx(), q.y+q.h)
	case q.x >= p.x+p.w:
		return pathD(p.x+p.w, p.cy(), "L", q.x, q.cy())
	}
	return pathD(p.x, p.cy(), "L", q.x+q.w, q.cy())
}

// pathD writes an SVG path from (x, y) through steps: "H" x, "V" y, or "L"
// x, y.
func pathD(x, y float64, steps ...any) string {
	var b strings.Builder
	fmt.Fprintf(&b, "M%s %s", num(x), num(y))
	for i := 0; i < len(steps); i++ {
		cmd := steps[i].(string)
		b.WriteString(cmd)
		i++
		b.WriteString(num(steps[i].(float64)))
		if cmd == "L" {
			i++
			b.WriteString(" " + num(steps[i].(float64)))
		}
	}
	return b.String()
}
