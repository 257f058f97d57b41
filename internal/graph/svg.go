package graph

import (
	"fmt"
	"io"
	"math"
	"strings"
)

const fontFamily = "DejaVu Sans Mono, Menlo, Consolas, Liberation Mono, monospace"

// SVG writes g as a self-contained SVG picture (see layout.go for how it is
// laid out). It needs no external program and no web font.
func (g *Graph) SVG(w io.Writer) error {
	lo := newLayout(g)
	legendH := 34.0
	width, height := math.Max(lo.w, lo.legendWidth()+2*margin), lo.h+legendH
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" font-family="%s">`+"\n",
		num(width), num(height), num(width), num(height), fontFamily)
	b.WriteString("<title>nsscript lab topology</title>\n")
	fmt.Fprintf(&b, `<rect width="%s" height="%s" fill="#ffffff"/>`+"\n", num(width), num(height))
	for _, bx := range lo.boxes {
		lo.drawBox(&b, bx)
	}
	b.WriteString(`<g fill="none" stroke-width="2" stroke-linejoin="round">` + "\n")
	lanes := map[int]int{} // edges drawn so far through each gap between rows
	for _, e := range g.Edges {
		lo.drawEdge(&b, e, lanes)
	}
	b.WriteString("</g>\n")
	for _, bx := range lo.boxes {
		for _, ps := range bx.rows {
			for _, p := range ps {
				drawPill(&b, p)
			}
		}
	}
	lo.drawLegend(&b, lo.h)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func (lo *layout) drawBox(b *strings.Builder, bx *box) {
	fill, stroke := "#f8fafc", "#64748b"
	if bx.ns.Host {
		fill, stroke = "#f0fdf4", "#15803d"
	}
	dash := ""
	if bx.ns.Existing {
		dash = ` stroke-dasharray="6 4"`
	}
	fmt.Fprintf(b, `<g class="netns" id=%s>`+"\n", attr("netns-"+bx.ns.Name))
	fmt.Fprintf(b, `<rect x="%s" y="%s" width="%s" height="%s" rx="12" fill="%s" stroke="%s" stroke-width="1.5"%s/>`+"\n",
		num(bx.x), num(bx.y), num(bx.w), num(bx.h), fill, stroke, dash)
	text(b, bx.x+boxPad, bx.y+22, titleSize, "bold", "#0f172a", bx.ns.title())
	if len(bx.ns.Interfaces) == 0 {
		text(b, bx.x+boxPad, bx.y+titleH+6+addrSize, addrSize, "", "#64748b", "(no links)")
	}
	for i, r := range bx.ns.Routes {
		text(b, bx.x+boxPad, bx.y+bx.routeY+float64(i)*lineH, routeSize, "", "#334155", "route "+r)
	}
	b.WriteString("</g>\n")
}

func drawPill(b *strings.Builder, p *pill) {
	c := colorOf(p.it.Kind)
	dash := ""
	if !p.it.Up {
		dash = ` stroke-dasharray="5 3"`
	}
	fmt.Fprintf(b, `<g class="link" id=%s>`+"\n", attr("link-"+p.ns+"-"+p.it.Name))
	fmt.Fprintf(b, `<rect x="%s" y="%s" width="%s" height="%s" rx="8" fill="%s" stroke="%s" stroke-width="1.5"%s/>`+"\n",
		num(p.x), num(p.y), num(p.w), num(p.h), c[0], c[1], dash)
	y := p.y + 8 + nameSize - 2
	text(b, p.x+pillPadX, y, nameSize, "bold", "#0f172a", p.it.Name)
	y += kindSize + 4
	lines := p.it.label()
	text(b, p.x+pillPadX, y, kindSize, "", "#475569", lines[1])
	for _, a := range p.it.Addrs {
		y += lineH
		text(b, p.x+pillPadX, y, addrSize, "", "#0f172a", a)
	}
	b.WriteString("</g>\n")
}

// drawEdge draws a veth pair, a bridge port or a lower device as a line
// between the facing sides of two pills. A line from one row of boxes to
// the next runs down, across the gap between the rows (each in its own
// lane) and down again, so that it crosses no box title.
func (lo *layout) drawEdge(b *strings.Builder, e Edge, lanes map[int]int) {
	p, q := lo.pills[e.From], lo.pills[e.To]
	if p == nil || q == nil {
		return
	}
	if lo.layerOf(p.ns) > lo.layerOf(q.ns) {
		p, q = q, p
	}
	stroke, dash := "#1d4ed8", ""
	switch e.Kind {
	case EdgePort:
		stroke, dash = "#b45309", ` stroke-dasharray="6 4"`
	case EdgeLower:
		stroke, dash = "#4b5563", ` stroke-dasharray="2 3"`
	}
	var d string
	lp, lq := lo.layerOf(p.ns), lo.layerOf(q.ns)
	switch {
	case lq == lp+1 && math.Abs(p.cx()-q.cx()) >= 12: // else a straight line reads better
		lane := lanes[lp]
		lanes[lp]++
		mid := lo.bottom[lp] + 14 + float64(lane%5)*9
		d = fmt.Sprintf("M%s %sV%sH%sV%s", num(p.cx()), num(p.y+p.h), num(mid), num(q.cx()), num(q.y))
	case q.y > p.y+p.h-1: // q below p
		d = fmt.Sprintf("M%s %sL%s %s", num(p.cx()), num(p.y+p.h), num(q.cx()), num(q.y))
	case p.y > q.y+q.h-1: // p below q
		d = fmt.Sprintf("M%s %sL%s %s", num(p.cx()), num(p.y), num(q.cx()), num(q.y+q.h))
	case p.ns == q.ns && p.row == q.row: // side by side in one row
		l, r := p, q
		if r.x < l.x {
			l, r = r, l
		}
		y := math.Min(l.y, r.y) + 16 // level with the names
		d = fmt.Sprintf("M%s %sL%s %s", num(l.x+l.w), num(y), num(r.x), num(y))
	default: // same height in two boxes: a curve below them
		dip := math.Max(p.y+p.h, q.y+q.h) + layerGap/2
		d = fmt.Sprintf("M%s %sC%s %s %s %s %s %s", num(p.cx()), num(p.y+p.h),
			num(p.cx()), num(dip), num(q.cx()), num(dip), num(q.cx()), num(q.y+q.h))
	}
	fmt.Fprintf(b, `<path class="%s" d="%s" stroke="%s"%s><title>%s</title></path>`+"\n",
		e.Kind, d, stroke, dash, esc(e.Kind+": "+e.From.String()+" — "+e.To.String()))
}

// edgeStyles are the legend's line samples.
var edgeStyles = []struct{ kind, stroke, dash, label string }{
	{EdgeVeth, "#1d4ed8", "", "veth pair"},
	{EdgePort, "#b45309", ` stroke-dasharray="6 4"`, "bridge port"},
	{EdgeLower, "#4b5563", ` stroke-dasharray="2 3"`, "lower device"},
}

// legend draws (with b nil: only measures) the line that explains colours
// and lines below the picture, and returns its width.
func (lo *layout) legend(b *strings.Builder, y float64) float64 {
	x := margin
	y += 4
	for _, k := range lo.g.sortedKinds() {
		if b != nil {
			c := colorOf(k)
			fmt.Fprintf(b, `<rect x="%s" y="%s" width="14" height="14" rx="3" fill="%s" stroke="%s"/>`+"\n", num(x), num(y), c[0], c[1])
			text(b, x+20, y+11, kindSize, "", "#334155", k)
		}
		x += 20 + textW(k, kindSize) + 18
	}
	kinds := map[string]bool{}
	for _, e := range lo.g.Edges {
		kinds[e.Kind] = true
	}
	for _, l := range edgeStyles {
		if !kinds[l.kind] {
			continue
		}
		if b != nil {
			fmt.Fprintf(b, `<path d="M%s %sh26" stroke="%s" stroke-width="2"%s/>`+"\n", num(x), num(y+7), l.stroke, l.dash)
			text(b, x+32, y+11, kindSize, "", "#334155", l.label)
		}
		x += 32 + textW(l.label, kindSize) + 18
	}
	return x - 18 - margin
}

func (lo *layout) legendWidth() float64 { return lo.legend(nil, 0) }

func (lo *layout) drawLegend(b *strings.Builder, y float64) {
	b.WriteString(`<g class="legend">` + "\n")
	lo.legend(b, y)
	b.WriteString("</g>\n")
}

func text(b *strings.Builder, x, y, size float64, weight, fill, s string) {
	w := ""
	if weight != "" {
		w = ` font-weight="` + weight + `"`
	}
	fmt.Fprintf(b, `<text x="%s" y="%s" font-size="%s"%s fill="%s">%s</text>`+"\n", num(x), num(y), num(size), w, fill, esc(s))
}

// num formats a coordinate with at most one decimal.
func num(f float64) string {
	s := fmt.Sprintf("%.1f", f)
	return strings.TrimSuffix(s, ".0")
}

func esc(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&quot;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func attr(s string) string { return `"` + esc(s) + `"` }
