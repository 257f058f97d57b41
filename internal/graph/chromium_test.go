package graph

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nsscript/nsscript/internal/testenv"
)

// TestSVGInChromium has a real browser draw the pictures of a bridge lab, a
// firewall lab and host bridges of 30 and 200 namespaces, and checks the
// screenshots: not blank, and showing the veth blue and the first bridge's
// colour. It needs Chromium (.ci/run installs it).
func TestSVGInChromium(t *testing.T) {
	browser := testenv.NeedBrowser(t)
	names := []string{"bridge", "firewall", "scale30", "scale200"}
	labs := map[string]*Graph{
		"bridge":   plan(t, filepath.Join("..", "..", "scripts", "bridge.star"), ""),
		"firewall": plan(t, filepath.Join("..", "..", "scripts", "firewall.star"), ""),
		"scale30":  plan(t, "scale30.star", hostBridges(30, 1000)),
		"scale200": plan(t, "scale200.star", hostBridges(200, 40)),
	}
	// One page shows the four pictures one below the other, so that one
	// browser run takes one screenshot of them all.
	dir := t.TempDir()
	var page strings.Builder
	page.WriteString(`<!doctype html><html><body style="margin:0;background:#fff">` + "\n")
	regions := map[string]image.Rectangle{}
	width, top := 0, 0
	for _, name := range names {
		var svg bytes.Buffer
		if err := labs[name].SVG(&svg); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".svg"), svg.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		d := parseSVG(t, svg.Bytes())
		w, h := int(math.Ceil(d.width)), int(math.Ceil(d.height))
		fmt.Fprintf(&page, `<img src="%s.svg" style="position:absolute;left:0;top:%dpx">`+"\n", name, top)
		regions[name] = image.Rect(0, top, w, top+h)
		width, top = max(width, w), top+h
	}
	if err := os.WriteFile(filepath.Join(dir, "page.html"), []byte(page.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "page.png")
	cmd := exec.Command(browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--screenshot="+out,
		"--window-size="+strconv.Itoa(width)+","+strconv.Itoa(top), "file://"+filepath.Join(dir, "page.html"))
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", browser, err, msg)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	type sub interface {
		SubImage(image.Rectangle) image.Image
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			checkScreenshot(t, img.(sub).SubImage(regions[name]), labs[name])
		})
	}
}

// checkScreenshot checks that a good part of img is drawn on and that the
// veth blue (and, with a bridge, the first bridge's colour) shows.
func checkScreenshot(t *testing.T, img image.Image, g *Graph) {
	t.Helper()
	want := map[string]bool{vethStroke: false}
	if len(g.sortedKinds()) > 0 && g.sortedKinds()[0] == "bridge" {
		want[bridgePalette[0]] = false
	}
	b := img.Bounds()
	inked, all := 0, 0
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			all++
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			if c.R < 200 || c.G < 200 || c.B < 200 {
				inked++
			}
			for hex := range want {
				if near(c, hex) {
					want[hex] = true
				}
			}
		}
	}
	if inked*100 < all {
		t.Errorf("screenshot %v is nearly blank: %d of %d pixels drawn on", b, inked, all)
	}
	for hex, seen := range want {
		if !seen {
			t.Errorf("screenshot shows no %s", hex)
		}
	}
}

// near says whether c is within a small distance of the colour #rrggbb.
func near(c color.RGBA, hex string) bool {
	v, _ := strconv.ParseUint(hex[1:], 16, 32)
	d := func(a uint8, b uint64) float64 { return math.Abs(float64(a) - float64(b&0xff)) }
	return d(c.R, v>>16)+d(c.G, v>>8)+d(c.B, v) < 30
}
