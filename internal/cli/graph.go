package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nsscript/nsscript/internal/graph"
)

const graphAbout = `Draws the topology a script builds: namespaces as boxes, their interfaces
(names, kinds, addresses), veth pairs as lines between them, bridges with
their ports, and the routes the script adds. Like explain it only plans the
script: no root, no namespaces, nothing touches the kernel.

Formats: dot (Graphviz), mermaid (for Markdown that renders Mermaid), svg (a
picture drawn by nsscript itself, no other program needed), json (the
topology as data). Without --format, the extension of -o decides, else dot.

The svg picture stays within --width pixels (1600) where the lab allows; in
labs of more than 50 namespaces besides the host, runs of five or more alike
namespaces on one hub are drawn as one box, unless --all.`

func init() {
	register(&command{"graph", "[flags] FILE.star", "draw the topology of a script as dot, mermaid, svg or json (plans only; no root)", 25, cmdGraph})
}

func cmdGraph(env *Env, args []string) int {
	var (
		sets         multiFlag
		format, out  string
		width        float64
		all          bool
		formatsKnown = strings.Join(graph.Formats, "|")
	)
	fs := newFlags(env, "graph", "[flags] FILE.star", graphAbout)
	fs.Var(&sets, "set", "set a script variable: `NAME=VALUE` (as for nsscript run)")
	fs.StringVar(&format, "format", "", "output `format`: "+formatsKnown)
	fs.StringVar(&out, "o", "", "write to `FILE` instead of standard output")
	fs.Float64Var(&width, "width", graph.DefaultMaxWidth, "svg: the widest the picture may grow, in `PIXELS`")
	fs.BoolVar(&all, "all", false, "svg: draw every namespace, even in big labs")
	if code, done := parseFlags(env, fs, args); done {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(env.Stderr, "nsscript graph: want exactly one script (nsscript graph FILE.star --format svg)")
		return ExitError
	}
	if format == "" {
		format = "dot"
		if f, ok := formatByExt[filepath.Ext(out)]; ok {
			format = f
		}
	}
	if !slices.Contains(graph.Formats, format) {
		fmt.Fprintf(env.Stderr, "nsscript graph: unknown format %q (want %s)\n", format, formatsKnown)
		return ExitError
	}
	if format != "svg" && (all || width != graph.DefaultMaxWidth) {
		fmt.Fprintf(env.Stderr, "nsscript graph: --width and --all shape the svg picture; not for --format %s\n", format)
		return ExitError
	}
	if width < 200 {
		fmt.Fprintf(env.Stderr, "nsscript graph: --width %v: want at least 200 pixels\n", width)
		return ExitError
	}
	vars, err := parseSets(sets)
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript graph: %v\n", err)
		return ExitError
	}
	var discard bytes.Buffer // print() output has no place in a picture
	l, err := planScript(fs.Arg(0), vars, nil, &discard)
	if err != nil {
		fmt.Fprintln(env.Stderr, err)
		return ExitError
	}
	var buf bytes.Buffer
	g := graph.FromLab(l)
	if format == "svg" {
		opts := graph.Options{MaxWidth: width}
		if all {
			opts.CollapseAbove = -1
		}
		err = graph.SVG(&buf, g, opts)
	} else {
		err = g.Write(&buf, format)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript graph: %v\n", err)
		return ExitError
	}
	if out == "" || out == "-" {
		env.Stdout.Write(buf.Bytes())
		return ExitOK
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		fmt.Fprintf(env.Stderr, "nsscript graph: %v\n", unwrapPathErr(err, out))
		return ExitError
	}
	return ExitOK
}

// formatByExt guesses the format from the name given to -o.
var formatByExt = map[string]string{".dot": "dot", ".gv": "dot", ".mmd": "mermaid", ".mermaid": "mermaid", ".svg": "svg", ".json": "json"}
