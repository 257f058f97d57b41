package graph

import (
	"bytes"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The geometry tests read the SVG back and check what makes a picture
// readable at any size: boxes and pills apart, every wire ending on the
// borders of the two pills it joins and crossing no other pill, texts inside
// their boxes, each bridge's ports in that bridge's own colour, and the
// picture no wider than a screen.

// screenW is the width bound of a picture of up to 50 namespaces.
const screenW = 1600

// hostBridges is a host bridge with n namespaces, per to a bridge: past per
// the hosts go on further bridges joined to br0 (as scripts/scale.star).
func hostBridges(n, per int) string {
	return fmt.Sprintf(`
n, per = %d, %d
br = [bridge("br0", addr = "10.10.0.1/16")]
for b in range(1, (n + per - 1) // per):
    br.append(bridge("br%%d" %% b))
    up, down = veth("trunk%%d" %% b, peer = "br%%d-up" %% b)
    up.set(master = br[0])
    down.set(master = br[b])
for i in range(n):
    ns = netns("h%%d" %% i)
    outer, inner = veth(peer_ns = ns)
    outer.set(master = br[i // per])
    inner.addr("10.10.%%d.%%d/16" %% ((i + 2) // 256, (i + 2) %% 256))
    route(ns, "default", via = "10.10.0.1")
`, n, per)
}

// routerChain is a line of k routers between two hosts, each router also
// serving a LAN of two namespaces.
func routerChain(k int) string {
	return fmt.Sprintf(`
prev = netns("left")
for i in range(%d):
    r = netns("r%%d" %% i)
    forwarding(r)
    a, b = veth(ns = prev, peer_ns = r)
    a.addr("10.0.%%d.1/30" %% i)
    for j in range(2):
        x, y = veth(ns = r, peer_ns = netns("lan%%d-%%d" %% (i, j)))
        y.addr("192.168.%%d.%%d/24" %% (i, j + 10))
    prev = r
veth(ns = prev, peer_ns = netns("right"))
masquerade(prev)
serve(prev, "http", 80)
`, k)
}

// twoLANs is two bridges in one namespace with their own namespaces.
const twoLANs = `
r = netns("router")
forwarding(r)
for l in ["blue", "green"]:
    br = bridge(l, ns = r)
    for i in range(3):
        o, x = veth(ns = r, peer_ns = netns("%s%d" % (l, i)))
        o.set(master = br)
`

func TestSVGGeometry(t *testing.T) {
	labs := map[string]string{
		"one":        `netns("a")`,
		"two":        `veth("x", peer = "y", ns = netns("a"), peer_ns = netns("b"))`,
		"bridge5":    hostBridges(5, 1000),
		"bridge30":   hostBridges(30, 1000),
		"bridge50":   hostBridges(50, 1000),
		"bridge200":  hostBridges(200, 1000),
		"bridges30":  hostBridges(30, 10),
		"bridges200": hostBridges(200, 40),
		"chain":      routerChain(4),
		"twoLANs":    twoLANs,
	}
	for name, src := range labs {
		t.Run(name, func(t *testing.T) { checkGeometry(t, plan(t, name+".star", src)) })
	}
	for _, f := range repoScripts(t) {
		g, err := tryPlan(f, "")
		if err != nil {
			continue // TestSVGRepoScripts says why
		}
		t.Run(filepath.Base(f), func(t *testing.T) { checkGeometry(t, g) })
	}
}

// checkGeometry renders g and checks the picture's geometry.
func checkGeometry(t *testing.T, g *Graph) {
	t.Helper()
	d := checkSVG(t, g)
	if d.width > screenW {
		t.Errorf("picture is %v px wide; want at most %d", d.width, screenW)
	}
	if len(g.Namespaces) > 50 && d.height > 2*screenW {
		t.Errorf("picture of %d namespaces is %v px high; want at most %d", len(g.Namespaces), d.height, 2*screenW)
	}
	bridgeColour := map[string]string{}
	for _, w := range d.wires {
		p, okp := d.pills["link-"+w.from.NS+"-"+w.from.Name]
		q, okq := d.pills["link-"+w.to.NS+"-"+w.to.Name]
		if !okp || !okq {
			t.Errorf("wire %s joins %v and %v, which have no pills", w.title, w.from, w.to)
			continue
		}
		first, last := w.pts[0], w.pts[len(w.pts)-1]
		if !(onBorder(first, p) && onBorder(last, q) || onBorder(first, q) && onBorder(last, p)) {
			t.Errorf("wire %s runs %v to %v: not from border to border of %+v and %+v", w.title, first, last, p, q)
		}
		for id, r := range d.pills {
			if id == "link-"+w.from.NS+"-"+w.from.Name || id == "link-"+w.to.NS+"-"+w.to.Name {
				continue
			}
			if w.crosses(r) {
				t.Errorf("wire %s crosses pill %s %+v", w.title, id, r)
			}
		}
		for name, r := range d.boxes {
			if name != d.boxOf(w.from.NS) && name != d.boxOf(w.to.NS) && w.crosses(r) {
				t.Errorf("wire %s crosses the box of %s %+v", w.title, name, r)
			}
		}
		if w.kind == EdgePort {
			br := w.to
			if it := g.Interface(w.from); it != nil && it.Kind == "bridge" {
				br = w.from
			}
			want := d.pillStroke["link-"+br.NS+"-"+br.Name]
			if w.stroke != want {
				t.Errorf("port wire %s is %s; its bridge %v is %s", w.title, w.stroke, br, want)
			}
			bridgeColour[br.String()] = want
		}
	}
	seen := map[string]string{}
	for br, c := range bridgeColour {
		if other, ok := seen[c]; ok && len(bridgeColour) <= len(bridgePalette) {
			t.Errorf("bridges %s and %s share the colour %s", br, other, c)
		}
		seen[c] = br
	}
	for _, tx := range d.textAt {
		r, ok := d.pills[tx.group]
		if !ok {
			r, ok = d.boxes[strings.TrimPrefix(tx.group, "netns-")]
		}
		if !ok {
			continue
		}
		if tx.x < r.x || tx.x+textW(tx.s, tx.size) > r.x+r.w+0.5 || tx.y > r.y+r.h || tx.y-tx.size < r.y {
			t.Errorf("text %q at (%v,%v) size %v does not fit %s %+v", tx.s, tx.x, tx.y, tx.size, tx.group, r)
		}
	}
}

// boxOf names the box that shows namespace ns.
func (d *svgDoc) boxOf(ns string) string {
	if b, ok := d.members[ns]; ok {
		return b
	}
	return ns
}

// onBorder says whether pt lies on the border of r (within rounding).
func onBorder(pt [2]float64, r rect) bool {
	const e = 0.6
	x, y := pt[0], pt[1]
	inX := x >= r.x-e && x <= r.x+r.w+e
	inY := y >= r.y-e && y <= r.y+r.h+e
	return inX && (math.Abs(y-r.y) < e || math.Abs(y-r.y-r.h) < e) ||
		inY && (math.Abs(x-r.x) < e || math.Abs(x-r.x-r.w) < e)
}

// wire is a drawn edge read back from the SVG.
type wire struct {
	kind, title, stroke string
	from, to            Ref
	pts                 [][2]float64 // the path's corners (curves sampled)
}

var titleRE = regexp.MustCompile(`^(\w+): ([^/]+)/(\S+) — ([^/]+)/(\S+)`)

func parseWire(t *testing.T, title, d, stroke string) wire {
	t.Helper()
	m := titleRE.FindStringSubmatch(title)
	if m == nil {
		t.Fatalf("wire title %q does not name its ends", title)
	}
	w := wire{kind: m[1], title: title, stroke: stroke, from: Ref{m[2], m[3]}, to: Ref{m[4], m[5]}}
	toks := regexp.MustCompile(`[MLHVC]|-?[0-9.]+`).FindAllString(d, -1)
	var cur [2]float64
	var cmd string
	nums := func(k int) []float64 {
		out := make([]float64, k)
		for i := range out {
			if len(toks) == 0 {
				t.Fatalf("path %q ends early", d)
			}
			v, err := strconv.ParseFloat(toks[0], 64)
			if err != nil {
				t.Fatalf("path %q: %v", d, err)
			}
			out[i], toks = v, toks[1:]
		}
		return out
	}
	for len(toks) > 0 {
		if strings.ContainsAny(toks[0], "MLHVC") {
			cmd, toks = toks[0], toks[1:]
		}
		switch cmd {
		case "M", "L":
			v := nums(2)
			cur = [2]float64{v[0], v[1]}
		case "H":
			cur[0] = nums(1)[0]
		case "V":
			cur[1] = nums(1)[0]
		case "C":
			v, p0 := nums(6), cur
			for s := 1; s <= 8; s++ {
				u := float64(s) / 8
				a, b, c, e := (1-u)*(1-u)*(1-u), 3*(1-u)*(1-u)*u, 3*(1-u)*u*u, u*u*u
				w.pts = append(w.pts, [2]float64{a*p0[0] + b*v[0] + c*v[2] + e*v[4], a*p0[1] + b*v[1] + c*v[3] + e*v[5]})
			}
			cur = [2]float64{v[4], v[5]}
			continue
		default:
			t.Fatalf("path %q: unknown command %q", d, cmd)
		}
		w.pts = append(w.pts, cur)
	}
	return w
}

// crosses says whether a segment of w passes through the inside of r.
func (w wire) crosses(r rect) bool {
	in := rect{r.x + 1, r.y + 1, r.w - 2, r.h - 2}
	for i := 1; i < len(w.pts); i++ {
		a, b := w.pts[i-1], w.pts[i]
		for s := 0; s <= 40; s++ {
			u := float64(s) / 40
			x, y := a[0]+(b[0]-a[0])*u, a[1]+(b[1]-a[1])*u
			if x > in.x && x < in.x+in.w && y > in.y && y < in.y+in.h {
				return true
			}
		}
	}
	return false
}

func TestGeometryCheckFindsFaults(t *testing.T) {
	// The checks themselves: a wire that stops short of its pill and one
	// that crosses a third pill are found.
	d := []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">
<path d="M0 0L10 10" stroke="#000"><title>veth: a/x — b/y</title></path></svg>`)
	var b bytes.Buffer
	b.Write(d)
	w := parseSVG(t, b.Bytes()).wires[0]
	if onBorder(w.pts[1], rect{20, 20, 10, 10}) || !onBorder(w.pts[1], rect{10, 0, 10, 40}) {
		t.Error("onBorder is wrong")
	}
	if !w.crosses(rect{2, 2, 6, 6}) || w.crosses(rect{20, 0, 5, 5}) {
		t.Error("crosses is wrong")
	}
}
