package graph

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// svgDoc is what the tests read back from an SVG: every text, and the
// rectangle of every namespace box and interface pill.
type svgDoc struct {
	width, height float64
	texts         map[string]bool
	boxes         map[string]rect // by netns name
	pills         map[string]rect // by "ns/link"
	pillNS        map[string]string
	pillStroke    map[string]string // by pill id
	members       map[string]string // namespace -> the box that stands for it
	wires         []wire
	textAt        []svgText
}

// svgText is a text element and the id of the group it is drawn in.
type svgText struct {
	group      string
	x, y, size float64
	s          string
}

type rect struct{ x, y, w, h float64 }

func (r rect) inside(o rect) bool {
	return r.x >= o.x && r.y >= o.y && r.x+r.w <= o.x+o.w && r.y+r.h <= o.y+o.h
}

func (r rect) overlaps(o rect) bool {
	return r.x < o.x+o.w && o.x < r.x+r.w && r.y < o.y+o.h && o.y < r.y+r.h
}

// svgReader is parseSVG's state: the enclosing <g class=...> and its id,
// and the text, path or title being read.
type svgReader struct {
	t              *testing.T
	d              *svgDoc
	group, groupID string
	inText, inPath bool
	text           strings.Builder
	cur            svgText
	pathD, stroke  string
}

// parseSVG decodes the SVG as XML (failing the test if it is not well
// formed) and collects what svgDoc holds.
func parseSVG(t *testing.T, data []byte) *svgDoc {
	t.Helper()
	r := &svgReader{t: t, d: &svgDoc{texts: map[string]bool{}, boxes: map[string]rect{}, pills: map[string]rect{},
		pillNS: map[string]string{}, pillStroke: map[string]string{}, members: map[string]string{}}}
	dec := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("svg is not well-formed XML: %v\n%s", err, data)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			r.start(tok)
		case xml.CharData:
			if r.inText || r.inPath {
				r.text.Write(tok)
			}
		case xml.EndElement:
			r.end(tok.Name.Local)
		}
	}
	return r.d
}

func (r *svgReader) num(se xml.StartElement, name string) float64 {
	for _, a := range se.Attr {
		if a.Name.Local == name {
			v, err := strconv.ParseFloat(a.Value, 64)
			if err != nil {
				r.t.Fatalf("<%s %s=%q>: %v", se.Name.Local, name, a.Value, err)
			}
			return v
		}
	}
	return 0
}

func svgAttr(se xml.StartElement, name string) string {
	for _, a := range se.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (r *svgReader) start(tok xml.StartElement) {
	d := r.d
	switch tok.Name.Local {
	case "svg":
		if tok.Name.Space != "http://www.w3.org/2000/svg" {
			r.t.Errorf("svg namespace %q", tok.Name.Space)
		}
		d.width, d.height = r.num(tok, "width"), r.num(tok, "height")
	case "g":
		r.group, r.groupID = svgAttr(tok, "class"), svgAttr(tok, "id")
		for _, m := range strings.Fields(svgAttr(tok, "data-members")) {
			if r.group == "netns" {
				d.members[m] = strings.TrimPrefix(r.groupID, "netns-")
			} else {
				d.members["link-"+strings.Replace(m, "/", "-", 1)] = r.groupID
			}
		}
	case "path":
		r.inPath, r.pathD, r.stroke = true, svgAttr(tok, "d"), svgAttr(tok, "stroke")
	case "rect":
		rc := rect{r.num(tok, "x"), r.num(tok, "y"), r.num(tok, "width"), r.num(tok, "height")}
		switch r.group {
		case "netns":
			d.boxes[strings.TrimPrefix(r.groupID, "netns-")] = rc
		case "link":
			if _, ok := d.pills[r.groupID]; !ok {
				d.pills[r.groupID] = rc
				d.pillStroke[r.groupID] = svgAttr(tok, "stroke")
			}
		}
	case "title":
		r.text.Reset()
	case "text":
		r.inText = true
		r.text.Reset()
		r.cur = svgText{group: r.groupID, x: r.num(tok, "x"), y: r.num(tok, "y"), size: r.num(tok, "font-size")}
	}
}

func (r *svgReader) end(name string) {
	switch name {
	case "text":
		r.inText = false
		r.d.texts[r.text.String()] = true
		r.cur.s = r.text.String()
		r.d.textAt = append(r.d.textAt, r.cur)
	case "title":
		if r.inPath {
			r.d.wires = append(r.d.wires, parseWire(r.t, r.text.String(), r.pathD, r.stroke))
		}
	case "path":
		r.inPath = false
	case "g":
		r.group, r.groupID = "", ""
	}
}

// checkSVG renders g and checks that the picture names every namespace,
// interface and address, that no two boxes and no two pills overlap, that
// every pill lies inside its namespace's box, and that everything lies
// inside the picture.
func checkSVG(t *testing.T, g *Graph) *svgDoc {
	t.Helper()
	var b bytes.Buffer
	if err := g.SVG(&b); err != nil {
		t.Fatal(err)
	}
	d := parseSVG(t, b.Bytes())
	page := rect{0, 0, d.width, d.height}
	for _, n := range g.Namespaces {
		if b, ok := d.members[n.Name]; ok && b != n.Name {
			continue // drawn in the box of a group of alike namespaces
		}
		if !d.texts[n.title()] && d.members[n.Name] == "" {
			t.Errorf("no text names namespace %s", n.Name)
		}
		box, ok := d.boxes[n.Name]
		if !ok {
			t.Errorf("no box for namespace %s", n.Name)
			continue
		}
		if !box.inside(page) {
			t.Errorf("box %s %+v is not inside the page %+v", n.Name, box, page)
		}
		for _, it := range n.Interfaces {
			if id := "link-" + n.Name + "-" + it.Name; d.members[id] != "" && d.members[id] != id {
				continue // drawn in the pill of a run of alike interfaces
			}
			if !d.texts[it.Name] && d.members["link-"+n.Name+"-"+it.Name] == "" {
				t.Errorf("no text names link %s/%s", n.Name, it.Name)
			}
			for _, a := range it.Addrs {
				if !d.texts[a] && !(d.members[n.Name] != "" && d.textWith(a+" … ")) {
					t.Errorf("no text shows address %s of %s/%s", a, n.Name, it.Name)
				}
			}
			p, ok := d.pills["link-"+n.Name+"-"+it.Name]
			if !ok {
				t.Errorf("no pill for %s/%s", n.Name, it.Name)
				continue
			}
			if !p.inside(box) {
				t.Errorf("pill %s/%s %+v is outside its box %+v", n.Name, it.Name, p, box)
			}
		}
		for _, r := range n.Routes {
			if !d.texts["route "+r] {
				t.Errorf("no text shows route %q of %s", r, n.Name)
			}
		}
	}
	overlapFree(t, "boxes", d.boxes)
	overlapFree(t, "pills", d.pills)
	return d
}

// textWith says whether some text contains s.
func (d *svgDoc) textWith(s string) bool {
	for t := range d.texts {
		if strings.Contains(t, s) {
			return true
		}
	}
	return false
}

func overlapFree(t *testing.T, what string, m map[string]rect) {
	t.Helper()
	for a, ra := range m {
		for b, rb := range m {
			if a < b && ra.overlaps(rb) {
				t.Errorf("%s %s %+v and %s %+v overlap", what, a, ra, b, rb)
			}
		}
	}
}

func TestSVGRepoScripts(t *testing.T) {
	for _, f := range repoScripts(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			g, err := tryPlan(f, "")
			if err != nil {
				// A script that opens namespaces something else made
				// (netns(existing=True)) cannot be planned.
				if src, _ := os.ReadFile(f); bytes.Contains(src, []byte("existing")) {
					t.Skipf("cannot be planned: %v", err)
				}
				t.Fatalf("plan: %v", err)
			}
			if len(g.Namespaces) == 0 {
				t.Fatal("no namespaces")
			}
			checkSVG(t, g)
		})
	}
}

func TestSVGRouterLab(t *testing.T) {
	g := plan(t, "lab.star", `
r = netns("router")
a = netns("client")
b = netns("server")
netns("isolated")
forwarding(r)
br = bridge("lan", ns = r, addr = "192.168.1.1/24")
for ns, ip in [(a, "192.168.1.10/24"), (netns("laptop"), "192.168.1.11/24")]:
    o, i = veth(ns = r, peer_ns = ns)
    o.set(master = br)
    i.addr(ip)
    route(ns, "default", via = "192.168.1.1")
x, y = veth("wan0", peer = "uplink", ns = r, peer_ns = b)
x.addr("203.0.113.1/24", "2001:db8::1/64")
y.addr("203.0.113.2/24")
route(b, "192.168.1.0/24", via = "203.0.113.1")
h1, h2 = veth("mgmt", peer = "mgmt-r", peer_ns = r)
h2.down()
veth("lb0", peer = "lb1", ns = b, peer_ns = b)
`)
	d := checkSVG(t, g)
	// Rows follow the veth pairs: host, then the router, then the rest.
	if !(d.boxes["host"].y < d.boxes["router"].y && d.boxes["router"].y < d.boxes["client"].y &&
		d.boxes["client"].y == d.boxes["server"].y) {
		t.Errorf("rows: %+v", d.boxes)
	}
	if !d.texts["router (forwarding)"] || !d.texts["veth, down"] || !d.texts["(no links)"] {
		t.Errorf("texts %v", d.texts)
	}
}

func TestSVGEscapes(t *testing.T) {
	g := &Graph{Namespaces: []*Namespace{{Name: `a<&>"b`, Interfaces: []*Interface{{Name: "x", Kind: "veth", Up: true}}}}}
	checkSVG(t, g)
}
