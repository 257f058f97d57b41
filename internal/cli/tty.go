package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nsscript/nsscript/internal/control"
	"github.com/nsscript/nsscript/internal/lab"
	"github.com/nsscript/nsscript/internal/sandbox"
)

// termEnv tells the sandboxed child what the parent's terminal is like:
// "color", "progress", both ("color,progress") or "plain". The parent
// decides, before re-executing, from its own standard files (the child's are
// the same descriptors, or pipes when a test gave buffers) and NO_COLOR.
const termEnv = "NSSCRIPT_TERM"

// termInfo is what the run may do on the user's terminal.
type termInfo struct {
	color    bool // colour ok and FAIL on stdout
	progress bool // draw a progress line on stderr
}

func (t termInfo) String() string {
	var w []string
	if t.color {
		w = append(w, "color")
	}
	if t.progress {
		w = append(w, "progress")
	}
	if len(w) == 0 {
		return "plain"
	}
	return strings.Join(w, ",")
}

func parseTerm(s string) termInfo {
	var t termInfo
	for _, w := range strings.Split(s, ",") {
		switch w {
		case "color":
			t.color = true
		case "progress":
			t.progress = true
		}
	}
	return t
}

// inheritedTerm is the child's termEnv, read once and then removed from the
// environment (programs the lab runs decide for themselves). A parent that
// hands the child its own standard files (a run whose child the binary
// started early, see package spawn) leaves it unset: then the child decides,
// once, from those files as the parent would have.
var inheritedTerm = sync.OnceValue(func() termInfo {
	v, ok := os.LookupEnv(termEnv)
	os.Unsetenv(termEnv)
	if !ok {
		return termOf(os.Getenv, os.Stdout, os.Stderr)
	}
	return parseTerm(v)
})

// detectTerm returns what env's terminal allows (termOf). In the sandboxed
// child, the parent's verdict (its files are the child's, or pipes when a
// test gave buffers).
func detectTerm(env *Env) termInfo {
	if sandbox.Inside() {
		return inheritedTerm()
	}
	return termOf(env.Getenv, env.Stdout, env.Stderr)
}

// termOf returns what a terminal allows: colour when stdout is a terminal
// and NO_COLOR is unset or empty; a progress line when stderr is a
// terminal; neither with TERM=dumb.
func termOf(getenv func(string) string, stdout, stderr io.Writer) termInfo {
	if getenv("TERM") == "dumb" {
		return termInfo{}
	}
	isTerm := func(w io.Writer) bool {
		f, ok := w.(*os.File)
		return ok && control.IsTerminal(f)
	}
	return termInfo{
		color:    isTerm(stdout) && getenv("NO_COLOR") == "",
		progress: isTerm(stderr),
	}
}

// progressDelay is how long a build runs before the progress line shows:
// small labs never see it.
const progressDelay = 300 * time.Millisecond

// progress draws "building: 120 namespaces, 240 links, ..." on stderr,
// updated in place, while a lab is built; any other output clears it first.
type progress struct {
	mu     sync.Mutex
	w      io.Writer
	start  time.Time
	last   time.Time
	shown  bool
	counts map[string]int
	now    func() time.Time
}

// progressNames are the counted steps, in display order, by Step.Op.
var progressNames = []struct{ op, one, many string }{
	{"netns add", "namespace", "namespaces"},
	{"link add", "link", "links"},
	{"addr add", "address", "addresses"},
	{"route add", "route", "routes"},
	{"nft rule", "rule", "rules"},
}

// withProgress returns env with stdout and stderr that clear the progress
// line before they write, and a step logger that counts steps and draws the
// line (after calling next, the logger already in place, if any). When the
// terminal has no room for progress, it returns env and next unchanged.
func withProgress(env *Env, t termInfo, next func(lab.Step)) (*Env, func(lab.Step)) {
	if !t.progress {
		return env, next
	}
	p := &progress{w: env.Stderr, counts: map[string]int{}, now: time.Now}
	p.start = p.now()
	e := *env
	e.Stdout = &clearingWriter{p, env.Stdout}
	e.Stderr = &clearingWriter{p, env.Stderr}
	return &e, func(s lab.Step) {
		if next != nil {
			p.clear()
			next(s)
		}
		p.step(s)
	}
}

func (p *progress) step(s lab.Step) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts[s.Op]++
	now := p.now()
	if now.Sub(p.start) < progressDelay || now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	fmt.Fprintf(p.w, "\r\x1b[Kbuilding: %s", p.line())
	p.shown = true
}

// line is the text of the progress line.
func (p *progress) line() string {
	var parts []string
	for _, n := range progressNames {
		c := p.counts[n.op]
		if c == 0 {
			continue
		}
		word := n.many
		if c == 1 {
			word = n.one
		}
		parts = append(parts, fmt.Sprintf("%d %s", c, word))
	}
	if len(parts) == 0 {
		return "starting"
	}
	return strings.Join(parts, ", ")
}

// clear erases the progress line if it is on screen.
func (p *progress) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}

// clearingWriter clears the progress line before each write.
type clearingWriter struct {
	p *progress
	w io.Writer
}

func (c *clearingWriter) Write(b []byte) (int, error) {
	c.p.clear()
	return c.w.Write(b)
}
