package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"go.starlark.net/starlark"

	"github.com/nsscript/nsscript/builtins"
	"github.com/nsscript/nsscript/internal/lab"
	"github.com/nsscript/nsscript/lang"
)

const explainAbout = `Prints what a script does as a bash script: the iproute2, sysctl and nft
commands of every step, in order, each under a comment naming the script line
that causes it. Expectations become ping commands: "ip netns exec net1 ping
-c1 -W1 10.0.0.2" for expect_reachable, and the same negated for
expect_unreachable, so that under "set -e" the script stops at the first
surprise and goes on past an expected silence.

The script declares the tools it needs ("# needs: ip curl"), waits until the
servers it starts listen, and stops what it started in the background when it
ends (docs/explain-graph.md says how each builtin reads in shell).

explain only plans: it touches no kernel state, creates no namespace and needs
no root. "nsscript run --explain" prints the same script while it really
builds the lab, with the results of the expectations as comments.`

func init() {
	register(&command{"explain", "[flags] FILE.star", "print the shell commands that do what a script does (plans only; no root)", 20, cmdExplain})
}

func cmdExplain(env *Env, args []string) int {
	var sets multiFlag
	fs := newFlags(env, "explain", "[flags] FILE.star", explainAbout)
	fs.Var(&sets, "set", "set a script variable: `NAME=VALUE` (as for nsscript run)")
	if code, done := parseFlags(env, fs, args); done {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(env.Stderr, "nsscript explain: want exactly one script (nsscript explain FILE.star)")
		return ExitError
	}
	file := fs.Arg(0)
	vars, err := parseSets(sets)
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript explain: %v\n", err)
		return ExitError
	}
	var body bytes.Buffer
	x := newExplainer(&body)
	l, err := planScript(file, vars, x.step, x.comments())
	if err != nil {
		fmt.Fprintf(env.Stderr, "%s\n", err)
		return ExitError
	}
	x.footer(l)
	x.w = env.Stdout
	x.header(file, "nsscript explain")
	env.Stdout.Write(body.Bytes())
	return ExitOK
}

// planScript runs the script against a lab in plan mode: every builtin checks
// its arguments and records its steps, and nothing touches the kernel. Each
// step goes to log (when set) as it is recorded; print() output goes to out.
// The error is a one-line message with the script position.
func planScript(file string, vars map[string]starlark.Value, log func(lab.Step), out io.Writer) (*lab.Lab, error) {
	if err := lang.CheckSource(file); err != nil {
		return nil, err
	}
	l, err := lab.New(lab.Options{Plan: true, Log: log})
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	r := builtins.NewRun(ctx, l, out)
	defer r.Close()
	r.Vars = vars
	_, err = lang.Exec(ctx, lang.Options{
		Filename:    file,
		Predeclared: builtins.Predeclared(r),
		Print:       r.Print,
		SetupThread: r.SetupThread,
	})
	r.Flush()
	if err != nil {
		return nil, lang.Wrap(err)
	}
	return l, nil
}

// explainRun is --explain for nsscript run: it prints the script's header at
// once and returns the environment and step log the run should use (the
// run's own output becomes comments) and a function that ends the script.
// The tools and background programs the header declares come from a plan
// of the script made first (when the plan fails, the header has none).
func explainRun(env *Env, file string, vars map[string]starlark.Value, log func(lab.Step)) (*Env, func(lab.Step), func(*lab.Lab)) {
	x := newExplainer(io.Discard)
	if _, err := planScript(file, vars, x.step, io.Discard); err != nil {
		x = newExplainer(io.Discard)
	}
	x.w, x.lastPos = env.Stdout, ""
	x.header(file, "nsscript run --explain")
	cw := x.comments()
	e := *env
	e.Stdout = cw
	logStep := func(s lab.Step) {
		x.step(s)
		if log != nil {
			log(s)
		}
	}
	return &e, logStep, func(l *lab.Lab) {
		cw.flush()
		x.footer(l)
	}
}

// explainer writes a lab's steps as a bash script. Steps and comments may
// come from different goroutines; each line is written whole.
type explainer struct {
	mu         sync.Mutex
	w          io.Writer
	lastPos    string
	tools      toolSet  // the programs the commands run
	background bool     // a command starts a program in the background
	outside    []string // directories outside /run the commands write to (lab.Step.Outside)
	declared   bool     // the header declared the tools and the trap
	vars       shellVars
}

func newExplainer(w io.Writer) *explainer { return &explainer{w: w} }

func (x *explainer) printf(format string, args ...any) {
	x.mu.Lock()
	defer x.mu.Unlock()
	fmt.Fprintf(x.w, format, args...)
}

// header starts the script: interpreter, what it is, how to run it safely,
// the tools its commands need (checked at once, so that a missing one stops
// it before it changes anything) and, when it starts programs in the
// background, a trap that stops them when it ends, however it ends.
func (x *explainer) header(file, how string) {
	sh := strings.TrimSuffix(filepath.Base(file), ".star") + ".sh"
	x.mu.Lock()
	mounts := "mount -t tmpfs none /run && "
	for _, d := range x.outside {
		mounts += "mount -t tmpfs none " + d + " && "
	}
	x.mu.Unlock()
	x.printf(`#!/bin/bash
# %s %s: the commands that build this lab, step by step,
# each under the script line that causes it. Run as root where changing the
# network is fine, e.g. in a throw-away namespace:
#   sudo unshare --net --mount sh -c '%sbash %s'
set -e
`, how, file, mounts, sh)
	x.mu.Lock()
	tools, bg := x.tools.sorted(), x.background
	x.declared = true
	x.mu.Unlock()
	if len(tools) > 0 {
		list := strings.Join(tools, " ")
		x.printf("# needs: %s\nfor tool in %s; do\n", list, list)
		x.printf("    command -v $tool >/dev/null || { echo \"$0: needs $tool, which is not installed (needs: %s)\" >&2; exit 127; }\ndone\n", list)
	}
	if bg {
		x.printf("# stop the programs started in the background (&) when this script ends\n")
		x.printf("trap 'kill $(jobs -p) 2>/dev/null || true; wait' EXIT\n")
	}
}

// step writes one step: a comment with its position and description, then
// its commands (a step without commands, such as opening a namespace that
// exists already, is only a comment).
// A step from the same script position as the one before it (the second
// end of a veth pair coming up) continues that block.
func (x *explainer) step(s lab.Step) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.vars.add(s.Vars)
	var b strings.Builder
	desc := x.vars.text(s.Desc)
	if s.Pos != x.lastPos || s.Pos == "" {
		fmt.Fprintf(&b, "\n# %s: %s\n", s.Pos, desc)
	} else {
		fmt.Fprintf(&b, "# %s\n", desc)
	}
	x.lastPos = s.Pos
	if !x.declared {
		for _, d := range s.Outside {
			if !slices.Contains(x.outside, d) {
				x.outside = append(x.outside, d)
			}
		}
	}
	for _, c := range s.Cmds {
		c = x.vars.command(c)
		if !x.declared {
			x.tools.addCommand(c)
			x.background = x.background || startsBackground(c)
		}
		b.WriteString(c)
		b.WriteByte('\n')
	}
	io.WriteString(x.w, b.String())
}

// footer ends the script with how to take the lab down again.
func (x *explainer) footer(l *lab.Lab) {
	var undo []string
	gone := map[*lab.Netns]bool{}
	for _, n := range l.Namespaces() {
		if n != l.Host && !n.Existing {
			undo = append(undo, "ip netns del "+shq(n.Name))
			gone[n] = true
		}
	}
	seen := map[*lab.Link]bool{}
	for _, lk := range l.Host.Links() {
		// A veth pair goes with either end, and so with a deleted namespace.
		if p := lk.Peer(); lk.Adopted() || p != nil && (gone[p.NS()] || seen[p]) {
			continue
		}
		seen[lk] = true
		undo = append(undo, "ip link del "+shq(lk.Name()))
	}
	if len(undo) == 0 {
		return
	}
	x.printf("\n# To take the lab down again:\n#   %s\n", strings.Join(undo, "; "))
}

// comments returns a writer that turns what is written to it into comment
// lines of the script (print() output, the results of a real run).
func (x *explainer) comments() *commentWriter { return &commentWriter{x: x} }

// commentWriter prefixes each line with "# "; a partial line waits for the
// rest (or for flush).
type commentWriter struct {
	x       *explainer
	partial []byte
}

func (c *commentWriter) Write(p []byte) (int, error) {
	c.x.mu.Lock()
	defer c.x.mu.Unlock()
	c.partial = append(c.partial, p...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		c.writeLine(c.partial[:i])
		c.partial = c.partial[i+1:]
	}
	return len(p), nil
}

func (c *commentWriter) writeLine(line []byte) {
	if len(line) == 0 {
		io.WriteString(c.x.w, "#\n")
		return
	}
	fmt.Fprintf(c.x.w, "# %s\n", c.x.vars.text(string(line)))
}

func (c *commentWriter) flush() {
	c.x.mu.Lock()
	defer c.x.mu.Unlock()
	if len(c.partial) > 0 {
		c.writeLine(c.partial)
		c.partial = nil
	}
}

// startsBackground reports whether command line c ends a command with a
// single & (a program left running in the background).
func startsBackground(c string) bool {
	c = strings.TrimSpace(c)
	return strings.HasSuffix(c, " &") || strings.Contains(c, " & ")
}

// shq quotes s for the shell when it needs quoting.
func shq(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,:/=@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
