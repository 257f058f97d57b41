package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nsscript/nsscript/builtins"
	"github.com/nsscript/nsscript/internal/lab"
	"github.com/nsscript/nsscript/lang"
)

// plan runs a script (src, or the file when src is empty) against a lab in
// plan mode, as nsscript graph does, and returns its graph.
func plan(t *testing.T, file, src string) *Graph {
	t.Helper()
	g, err := tryPlan(file, src)
	if err != nil {
		t.Fatalf("plan %s: %v", file, err)
	}
	return g
}

func tryPlan(file, src string) (*Graph, error) {
	l, err := lab.New(lab.Options{Plan: true})
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	r := builtins.NewRun(context.Background(), l, &out)
	o := lang.Options{Filename: file, Predeclared: builtins.Predeclared(r), Print: r.Print, SetupThread: r.SetupThread}
	if src != "" {
		o.Src = []byte(src)
	}
	if _, err := lang.Exec(context.Background(), o); err != nil {
		return nil, lang.Wrap(err)
	}
	r.Flush()
	return FromLab(l), nil
}

const bridgeLab = `
net1 = netns("net1")
net2 = netns("net2")
br = bridge("br00", addr = "10.100.0.1/16")
for ns, ip in [(net1, "10.100.0.10/16"), (net2, "10.100.0.20/16")]:
    outer, inner = veth(peer_ns = ns)
    outer.set(master = br)
    inner.addr(ip)
    route(ns, "default", via = "10.100.0.1")
forwarding(net2)
net2.link("eth0").down()
`

func TestFromLab(t *testing.T) {
	g := plan(t, "lab.star", bridgeLab)
	var names []string
	for _, n := range g.Namespaces {
		names = append(names, n.Name)
	}
	if want := []string{"host", "net1", "net2"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("namespaces %q, want %q", names, want)
	}
	br := g.Interface(Ref{"host", "br00"})
	if br == nil || br.Kind != "bridge" || !reflect.DeepEqual(br.Addrs, []string{"10.100.0.1/16"}) || !br.Up {
		t.Errorf("br00 = %+v", br)
	}
	v0 := g.Interface(Ref{"host", "veth0"})
	if v0 == nil || v0.Master != "br00" || v0.Peer == nil || *v0.Peer != (Ref{"net1", "eth0"}) {
		t.Errorf("veth0 = %+v", v0)
	}
	if e := g.Interface(Ref{"net2", "eth0"}); e == nil || e.Up {
		t.Errorf("net2/eth0 should be down: %+v", e)
	}
	wantEdges := []Edge{
		{EdgePort, Ref{"host", "veth0"}, Ref{"host", "br00"}},
		{EdgeVeth, Ref{"host", "veth0"}, Ref{"net1", "eth0"}},
		{EdgePort, Ref{"host", "veth1"}, Ref{"host", "br00"}},
		{EdgeVeth, Ref{"host", "veth1"}, Ref{"net2", "eth0"}},
	}
	if !reflect.DeepEqual(g.Edges, wantEdges) {
		t.Errorf("edges\n%+v\nwant\n%+v", g.Edges, wantEdges)
	}
	n2 := g.Namespace("net2")
	if !reflect.DeepEqual(n2.Routes, []string{"default via 10.100.0.1"}) || !n2.Forwarding {
		t.Errorf("net2 = %+v", n2)
	}
	if g.Namespace("net1").Forwarding {
		t.Error("net1 should not forward")
	}
}

func TestFromLabOmitsEmptyHost(t *testing.T) {
	g := plan(t, "lab.star", `a = netns("a")
b = netns("b")
veth("x", peer = "y", ns = a, peer_ns = b)
`)
	if len(g.Namespaces) != 2 || g.Namespace("host") != nil {
		t.Errorf("namespaces %+v; want a and b only", g.Namespaces)
	}
	if len(g.Edges) != 1 || g.Edges[0] != (Edge{EdgeVeth, Ref{"a", "x"}, Ref{"b", "y"}}) {
		t.Errorf("edges %+v", g.Edges)
	}
}

func TestDOT(t *testing.T) {
	var b bytes.Buffer
	if err := plan(t, "lab.star", bridgeLab).DOT(&b); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	for _, want := range []string{
		"graph lab {\n",
		`label="net2 (forwarding)"`,
		`"host/br00" [label="br00\nbridge\n10.100.0.1/16"`,
		`"net2/eth0" [label="eth0\nveth, down\n10.100.0.20/16"`,
		`"host/veth0" -- "net1/eth0";`,
		`"host/veth0" -- "host/br00" [style=dashed];`,
		`"net1/routes" [label="default via 10.100.0.1"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("dot output lacks %s:\n%s", want, s)
		}
	}
	if strings.Count(s, "{") != strings.Count(s, "}") {
		t.Errorf("unbalanced braces:\n%s", s)
	}
}

func TestMermaid(t *testing.T) {
	var b bytes.Buffer
	if err := plan(t, "lab.star", bridgeLab).Mermaid(&b); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	for _, want := range []string{
		"flowchart TB\n",
		`  subgraph n_ns_net1["net1"]`,
		`    n_host_br00[["br00<br/>bridge<br/>10.100.0.1/16"]]`,
		"  n_host_veth0 --- n_net1_eth0\n",
		"  n_host_veth0 -.- n_host_br00\n",
		"  class n_host_br00 bridge\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("mermaid output lacks %q:\n%s", want, s)
		}
	}
	if strings.Count(s, "subgraph ") != strings.Count(s, "  end\n") {
		t.Errorf("unbalanced subgraph/end:\n%s", s)
	}
}

func TestMermaidIDsAreUnique(t *testing.T) {
	x := newIDs()
	a, b, c := x.get("a-b/c"), x.get("a_b/c"), x.get("a-b/c")
	if a == b || a != c {
		t.Errorf("ids %q %q %q", a, b, c)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	g := plan(t, "lab.star", bridgeLab)
	var b bytes.Buffer
	if err := g.Write(&b, "json"); err != nil {
		t.Fatal(err)
	}
	var back Graph
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, g) {
		t.Errorf("json round trip changed the graph:\n%s", b.String())
	}
	if !strings.Contains(b.String(), `"peer": {`) {
		t.Errorf("json lacks peers:\n%s", b.String())
	}
}

func TestWriteUnknownFormat(t *testing.T) {
	err := (&Graph{}).Write(&bytes.Buffer{}, "png")
	if err == nil || err.Error() != `unknown format "png" (want dot, mermaid, svg, json)` {
		t.Errorf("err = %v", err)
	}
}

func repoScripts(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "scripts", "*.star"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	return files
}

func TestFromLabRulesAndServices(t *testing.T) {
	g := plan(t, "lab.star", `
r = netns("router")
c = netns("client")
o, i = veth(ns = r, peer_ns = c)
masquerade(r, out = o)
firewall(r, "drop", in_ = o, proto = "tcp", port = 22)
serve(c, "http", 8080)
run(c, ["sleep", "60"], background = True)
`)
	r, c := g.Namespace("router"), g.Namespace("client")
	wantRules := []Rule{{RuleNAT, "masquerade out on eth0"}, {RuleFilter, "drop tcp port 22 in on eth0 in forward"}}
	if !reflect.DeepEqual(r.Rules, wantRules) {
		t.Errorf("rules %q, want %q", r.Rules, wantRules)
	}
	if want := []string{"http :8080", "sleep"}; !reflect.DeepEqual(c.Services, want) {
		t.Errorf("services %q, want %q", c.Services, want)
	}
	var dot, mmd bytes.Buffer
	if g.DOT(&dot) != nil || g.Mermaid(&mmd) != nil {
		t.Fatal("dot or mermaid failed")
	}
	for _, out := range []string{dot.String(), mmd.String()} {
		if !strings.Contains(out, "nat masquerade out on eth0") || !strings.Contains(out, "serve http :8080") {
			t.Errorf("rules and services missing:\n%s", out)
		}
	}
	d := checkSVG(t, g)
	for _, s := range []string{"nat masquerade out on eth0", "fw drop tcp port 22 in on eth0 in forward", "serve http :8080", "run sleep"} {
		if !d.texts[s] {
			t.Errorf("the svg does not say %q", s)
		}
	}
}
