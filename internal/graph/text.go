package graph

import (
	"fmt"
	"io"
	"strings"
)

// Colours of interface kinds: fill, stroke.
var kindColors = map[string][2]string{
	"bridge": {"#fdecc8", "#b45309"},
	"veth":   {"#dbeafe", "#1d4ed8"},
}

var otherColor = [2]string{"#e5e7eb", "#4b5563"}

func colorOf(kind string) [2]string {
	if c, ok := kindColors[kind]; ok {
		return c
	}
	return otherColor
}

// label returns the lines that describe an interface: name, kind (and
// state when down), addresses.
func (it *Interface) label() []string {
	kind := it.Kind
	if !it.Up {
		kind += ", down"
	}
	return append([]string{it.Name, kind}, it.Addrs...)
}

// DOT writes g in Graphviz's language: a cluster per namespace, a node per
// interface, solid edges for veth pairs, dashed for bridge ports, dotted for
// lower devices.
func (g *Graph) DOT(w io.Writer) error {
	var b strings.Builder
	b.WriteString("graph lab {\n")
	b.WriteString("  rankdir=TB; compound=true; newrank=true;\n")
	b.WriteString("  node [shape=box, style=\"rounded,filled\", fontname=\"monospace\", fontsize=11];\n")
	b.WriteString("  edge [fontname=\"monospace\", fontsize=10];\n")
	for i, n := range g.Namespaces {
		fmt.Fprintf(&b, "  subgraph cluster_%d {\n", i)
		fmt.Fprintf(&b, "    label=%s; style=\"rounded\"; fontname=\"monospace bold\";\n", dotQuote(n.title()))
		if len(n.Interfaces) == 0 {
			// An empty cluster vanishes: keep the namespace visible.
			fmt.Fprintf(&b, "    %s [label=\"(no links)\", shape=plaintext, style=\"\"];\n", dotQuote(n.Name+"/"))
		}
		for _, it := range n.Interfaces {
			c := colorOf(it.Kind)
			style := "rounded,filled"
			if !it.Up {
				style += ",dashed"
			}
			fmt.Fprintf(&b, "    %s [label=%s, fillcolor=%q, color=%q, style=%q];\n",
				dotQuote(n.Name+"/"+it.Name), dotQuote(strings.Join(it.label(), "\n")), c[0], c[1], style)
		}
		if lines := noteLines(n); len(lines) > 0 {
			fmt.Fprintf(&b, "    %s [label=%s, shape=note, style=\"\", fontsize=10];\n",
				dotQuote(n.Name+"/routes"), dotQuote(strings.Join(lines, "\n")))
		}
		b.WriteString("  }\n")
	}
	for _, e := range g.Edges {
		style := ""
		switch e.Kind {
		case EdgePort:
			style = " [style=dashed]"
		case EdgeLower:
			style = " [style=dotted]"
		}
		fmt.Fprintf(&b, "  %s -- %s%s;\n", dotQuote(e.From.String()), dotQuote(e.To.String()), style)
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// noteLines are the lines of a namespace's note in dot and mermaid: its
// routes, then its rules and services with their tags ("nat ...", "fw ...",
// "serve http :80").
func noteLines(n *Namespace) []string {
	lines := append([]string(nil), n.Routes...)
	for _, nt := range notesOf(n)[len(n.Routes):] {
		lines = append(lines, nt.String())
	}
	return lines
}

// title is what a namespace's box is called.
func (n *Namespace) title() string {
	t := n.Name
	var notes []string
	if n.Existing {
		notes = append(notes, "existing")
	}
	if n.Forwarding {
		notes = append(notes, "forwarding")
	}
	if len(notes) > 0 {
		t += " (" + strings.Join(notes, ", ") + ")"
	}
	return t
}

func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// Mermaid writes g as a Mermaid flowchart: a subgraph per namespace, a node
// per interface, --- for veth pairs, -.- for bridge ports, ~~~ for lower
// devices.
func (g *Graph) Mermaid(w io.Writer) error {
	var b strings.Builder
	b.WriteString("flowchart TB\n")
	ids := newIDs()
	for _, n := range g.Namespaces {
		fmt.Fprintf(&b, "  subgraph %s[%s]\n", ids.get("ns:"+n.Name), mermaidQuote(n.title()))
		if len(n.Interfaces) == 0 {
			fmt.Fprintf(&b, "    %s[%s]\n", ids.get("empty:"+n.Name), mermaidQuote("(no links)"))
		}
		for _, it := range n.Interfaces {
			open, close := "[", "]"
			if it.Kind == "bridge" {
				open, close = "[[", "]]"
			}
			fmt.Fprintf(&b, "    %s%s%s%s\n", ids.get(n.Name+"/"+it.Name), open, mermaidQuote(strings.Join(it.label(), "<br/>")), close)
		}
		if lines := noteLines(n); len(lines) > 0 {
			fmt.Fprintf(&b, "    %s>%s]\n", ids.get("routes:"+n.Name), mermaidQuote(strings.Join(lines, "<br/>")))
		}
		b.WriteString("  end\n")
	}
	for _, e := range g.Edges {
		arrow := "---"
		switch e.Kind {
		case EdgePort:
			arrow = "-.-"
		case EdgeLower:
			arrow = "-.->"
		}
		fmt.Fprintf(&b, "  %s %s %s\n", ids.get(e.From.String()), arrow, ids.get(e.To.String()))
	}
	for _, k := range []string{"bridge", "veth"} {
		c := kindColors[k]
		fmt.Fprintf(&b, "  classDef %s fill:%s,stroke:%s\n", k, c[0], c[1])
	}
	for _, n := range g.Namespaces {
		for _, it := range n.Interfaces {
			if _, ok := kindColors[it.Kind]; ok {
				fmt.Fprintf(&b, "  class %s %s\n", ids.get(n.Name+"/"+it.Name), it.Kind)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mermaidQuote makes s a quoted Mermaid label; quotes become #quot;.
func mermaidQuote(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, "#quot;") + `"`
}

// ids gives every key a short identifier that Mermaid accepts.
type ids struct {
	m    map[string]string
	used map[string]bool
}

func newIDs() *ids { return &ids{m: map[string]string{}, used: map[string]bool{}} }

func (x *ids) get(key string) string {
	if id, ok := x.m[key]; ok {
		return id
	}
	var b strings.Builder
	for _, r := range key {
		if r < 128 && (r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	base := "n_" + b.String()
	id := base
	for i := 2; x.used[id]; i++ {
		id = fmt.Sprintf("%s_%d", base, i)
	}
	x.used[id] = true
	x.m[key] = id
	return id
}
