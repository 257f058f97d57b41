package graph

import (
	"fmt"
	"io"
	"math"
	"strings"
)

const fontFamily = "DejaVu Sans Mono, Menlo, Consolas, Liberation Mono, monospace"

// SVG writes g as a self-contained SVG picture (see layout.go for how it is
// laid out) with the default Options. It needs no external program and no
// web font.
func (g *Graph) SVG(w io.Writer) error { return SVG(w, g, Options{}) }

// SVG writes g as a self-contained SVG picture shaped by o. Each namespace
// is a <g class="netns" id="netns-NAME"> (a collapsed run of namespaces
// lists them in data-members), each interface a <g class="link"
// id="link-NS-NAME">, and each edge a <path class="KIND"> whose <title> names
// its two ends.
func SVG(w io.Writer, g *Graph, o Options) error {
	lo := newLayout(g, o)
	width := math.Max(lo.w, 360)
	legendH := lo.legend(nil, width, lo.h)
	height := lo.h + legendH
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" font-family="%s">`+"\n",
		num(width), num(height), num(width), num(height), fontFamily)
	b.WriteString("<title>nsscript lab topology</title>\n")
	fmt.Fprintf(&b, `<rect width="%s" height="%s" fill="#ffffff"/>`+"\n", num(width), num(height))
	for _, bx := range lo.boxes {
		drawBox(&b, bx)
	}
	b.WriteString(`<g fill="none" stroke-width="2" stroke-linejoin="round">` + "\n")
	for _, wr := range lo.route() {
		drawWire(&b, wr)
	}
	b.WriteString("</g>\n")
	for _, bx := range lo.boxes {
		for _, p := range bx.pills {
			drawPill(&b, p)
		}
	}
	b.WriteString(`<g class="legend">` + "\n")
	lo.legend(&b, width, lo.h)
	b.WriteString("</g>\n</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// noteColors are the colours of a box's lines of text, by tag.
var noteColors = map[string]string{"route": "#334155", "nat": "#9d174d", "fw": "#b91c1c", "serve": "#047857", "run": "#047857"}

func drawBox(b *strings.Builder, bx *box) {
	fill, stroke, sw := "#f8fafc", "#64748b", "1.5"
	if bx.ns.Host {
		fill, stroke = "#f0fdf4", "#15803d"
	}
	if len(bx.members) > 1 {
		fill, sw = "#eef2ff", "3"
	}
	dash := ""
	if bx.ns.Existing {
		dash = ` stroke-dasharray="6 4"`
	}
	members := ""
	if len(bx.members) > 1 {
		members = " data-members=" + attr(strings.Join(bx.members, " "))
	}
	fmt.Fprintf(b, `<g class="netns" id=%s%s>`+"\n", attr("netns-"+bx.ns.Name), members)
	fmt.Fprintf(b, `<rect x="%s" y="%s" width="%s" height="%s" rx="12" fill="%s" stroke="%s" stroke-width="%s"%s/>`+"\n",
		num(bx.x), num(bx.y), num(bx.w), num(bx.h), fill, stroke, sw, dash)
	text(b, bx.x+boxPad, bx.y+22, titleSize, "bold", "#0f172a", bx.title)
	if len(bx.ns.Interfaces) == 0 {
		text(b, bx.x+boxPad, bx.y+titleH+6+addrSize, addrSize, "", "#64748b", "(no links)")
	}
	for i, n := range bx.notes {
		text(b, bx.x+bx.geo.notesX, bx.y+bx.geo.notesY+float64(i)*lineH, noteSize, "", noteColors[n.tag], n.String())
	}
	b.WriteString("</g>\n")
}

func drawPill(b *strings.Builder, p *pill) {
	dash, sw := "", "1.5"
	if !p.it.Up {
		dash = ` stroke-dasharray="5 3"`
	}
	if p.color != colorOf(p.it.Kind)[1] {
		sw = "2.5" // a bridge's colour
	}
	if p.count > 1 {
		sw = "3"
	}
	members := ""
	if len(p.members) > 1 {
		members = " data-members=" + attr(strings.Join(p.members, " "))
	}
	fmt.Fprintf(b, `<g class="link" id=%s%s>`+"\n", attr("link-"+p.ref.NS+"-"+p.ref.Name), members)
	fmt.Fprintf(b, `<rect x="%s" y="%s" width="%s" height="%s" rx="8" fill="%s" stroke="%s" stroke-width="%s"%s/>`+"\n",
		num(p.x), num(p.y), num(p.w), num(p.h), p.fill, p.color, sw, dash)
	y := p.y + 8 + nameSize - 2
	text(b, p.x+pillPadX, y, nameSize, "bold", "#0f172a", p.lines[0])
	y += kindSize + 4
	text(b, p.x+pillPadX, y, kindSize, "", "#475569", p.lines[1])
	for _, a := range p.lines[2:] {
		y += lineH
		text(b, p.x+pillPadX, y, addrSize, "", "#0f172a", a)
	}
	b.WriteString("</g>\n")
}

func drawWire(b *strings.Builder, w drawnWire) {
	dash, width := "", ""
	if w.dash != "" {
		dash = ` stroke-dasharray="` + w.dash + `"`
	}
	title := w.e.kind + ": " + w.e.a.ref.String() + " — " + w.e.b.ref.String()
	if w.e.count > 1 {
		width = ` stroke-width="3.5"`
		title += fmt.Sprintf(" (and %d more alike)", w.e.count-1)
	}
	fmt.Fprintf(b, `<path class="%s" d="%s" stroke="%s"%s%s><title>%s</title></path>`+"\n",
		w.e.kind, w.d, w.stroke, dash, width, esc(title))
}

// legend draws (with b nil: only measures) the lines that explain colours
// and lines below the picture, wrapped to width, and returns their height.
func (lo *layout) legend(b *strings.Builder, width, y float64) float64 {
	type item struct{ fill, stroke, dash, label string }
	var items []item
	for _, k := range lo.g.sortedKinds() {
		c := colorOf(k)
		items = append(items, item{c[0], c[1], "", k})
	}
	kinds := map[string]bool{}
	for _, e := range lo.edges {
		kinds[e.kind] = true
	}
	if kinds[EdgeVeth] {
		items = append(items, item{"", vethStroke, "", "veth pair"})
	}
	if kinds[EdgeLower] {
		items = append(items, item{"", lowerStroke, lowerDash, "lower device"})
	}
	for _, bx := range lo.boxes {
		for _, p := range bx.pills {
			if c, ok := lo.colors[p]; ok {
				items = append(items, item{"", c, portDash, "port of " + p.ref.String()})
			}
		}
	}
	x, y0 := margin, y
	y += 4
	for _, it := range items {
		w := 32 + textW(it.label, kindSize)
		if x > margin && x+w > width-margin {
			x, y = margin, y+22
		}
		if b != nil {
			if it.fill != "" {
				fmt.Fprintf(b, `<rect x="%s" y="%s" width="14" height="14" rx="3" fill="%s" stroke="%s"/>`+"\n", num(x), num(y), it.fill, it.stroke)
				text(b, x+20, y+11, kindSize, "", "#334155", it.label)
			} else {
				dash := ""
				if it.dash != "" {
					dash = ` stroke-dasharray="` + it.dash + `"`
				}
				fmt.Fprintf(b, `<path d="M%s %sh26" stroke="%s" stroke-width="2"%s/>`+"\n", num(x), num(y+7), it.stroke, dash)
				text(b, x+32, y+11, kindSize, "", "#334155", it.label)
			}
		}
		x += w + 18
	}
	return y + 30 - y0
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
