package cli

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGraphFormats(t *testing.T) {
	script := repoScript(t, "bridge.star")
	for format, want := range map[string]string{
		"dot":     `"host/veth0" -- "net1/eth0";`,
		"mermaid": "flowchart TB\n",
		"svg":     `<svg xmlns="http://www.w3.org/2000/svg"`,
		"json":    `"name": "br00"`,
	} {
		// Flags may follow the file, as in the README.
		out, errOut, code := mainArgs("graph", script, "--format", format)
		if code != ExitOK || errOut != "" {
			t.Fatalf("graph --format %s: exit %d: %s", format, code, errOut)
		}
		if !strings.Contains(out, want) {
			t.Errorf("graph --format %s lacks %q:\n%s", format, want, out)
		}
	}
	dot, _, _ := mainArgs("graph", script)
	if !strings.HasPrefix(dot, "graph lab {") {
		t.Errorf("default format is not dot:\n%s", dot)
	}
}

func TestGraphOutputFile(t *testing.T) {
	dir := t.TempDir()
	svg := filepath.Join(dir, "lab.svg")
	if _, errOut, code := mainArgs("graph", "-o", svg, repoScript(t, "veth.star")); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	data, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		XMLName xml.Name
		Texts   []string `xml:"g>text"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil || doc.XMLName.Local != "svg" {
		t.Fatalf("-o lab.svg did not write an SVG (%v):\n%s", err, data)
	}
	for _, want := range []string{"net1", "net2", "veth1", "veth2", "10.100.0.1/16", "10.100.0.2/16"} {
		if !strings.Contains(strings.Join(doc.Texts, "\n"), want) {
			t.Errorf("svg texts %q lack %q", doc.Texts, want)
		}
	}
	js := filepath.Join(dir, "lab.json")
	if _, errOut, code := mainArgs("graph", repoScript(t, "veth.star"), "-o", js); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	data, _ = os.ReadFile(js)
	if !json.Valid(data) {
		t.Errorf("-o lab.json did not write JSON:\n%s", data)
	}
}

func TestGraphErrors(t *testing.T) {
	dir := writeScript(t, "bad.star", "netns(\"a\")\nnetns(\"a\")\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"graph", repoScript(t, "bridge.star"), "--format", "png"}, `nsscript graph: unknown format "png" (want dot|mermaid|svg|json)`},
		{[]string{"graph"}, "nsscript graph: want exactly one script"},
		{[]string{"graph", "a.star", "b.star"}, "nsscript graph: want exactly one script"},
		{[]string{"graph", filepath.Join(dir, "bad.star")}, `bad.star:2:1: netns: namespace "a" already exists (made at `},
		{[]string{"graph", filepath.Join(dir, "nope.star")}, "nope.star: no such file or directory"},
	} {
		out, errOut, code := mainArgs(tc.args...)
		if code != ExitError || out != "" || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and one line with %q", tc.args, code, out, errOut, tc.want)
		}
	}
}

// svgWidth reads the width of the svg element.
func svgWidth(t *testing.T, svg string) float64 {
	t.Helper()
	var doc struct {
		Width float64 `xml:"width,attr"`
	}
	if err := xml.Unmarshal([]byte(svg), &doc); err != nil {
		t.Fatalf("not an svg (%v):\n%.300s", err, svg)
	}
	return doc.Width
}

func TestGraphSVGSize(t *testing.T) {
	scale := repoScript(t, "scale.star")
	for _, tc := range []struct {
		args     []string
		maxW     float64
		has, not string
	}{
		{[]string{"--set", "n=30"}, 1600, `id="netns-h29"`, "namespaces)"},
		{[]string{"--set", "n=30", "--width", "900"}, 900, `id="netns-h29"`, "namespaces)"},
		{[]string{"--set", "n=200"}, 1600, "h2 … h198 (197 namespaces)", `id="netns-h100"`},
		{[]string{"--set", "n=200", "--all"}, 1e9, `id="netns-h100"`, "namespaces)"},
	} {
		out, errOut, code := mainArgs(append([]string{"graph", scale, "--format", "svg"}, tc.args...)...)
		if code != ExitOK {
			t.Fatalf("%q: exit %d: %s", tc.args, code, errOut)
		}
		if w := svgWidth(t, out); w > tc.maxW {
			t.Errorf("%q: svg is %v px wide; want at most %v", tc.args, w, tc.maxW)
		}
		if !strings.Contains(out, tc.has) || strings.Contains(out, tc.not) {
			t.Errorf("%q: want %q and not %q in the svg", tc.args, tc.has, tc.not)
		}
	}
	for _, args := range [][]string{{"--format", "dot", "--all"}, {"--format", "json", "--width", "900"}, {"--width", "50", "--format", "svg"}} {
		out, errOut, code := mainArgs(append([]string{"graph", scale}, args...)...)
		if code != ExitError || out != "" || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "nsscript graph: --") {
			t.Errorf("%q: exit %d, stdout %.80q, stderr %q; want exit 2 and one line", args, code, out, errOut)
		}
	}
}
