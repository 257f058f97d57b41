package lang

import (
	"sync"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// The interpreter reports a call at its opening parenthesis
// ("lab.star:7:16"); people expect the start of the line's call
// ("lab.star:7:1"). positions maps the one to the other for the files of a
// run: from the syntax tree the run executes (addFile), or for a file it did
// not see, by parsing that file when a position in it is first asked for.
type positions struct {
	mu    sync.Mutex
	files map[string]map[[2]int32][2]int32
}

func newPositions() *positions {
	return &positions{files: map[string]map[[2]int32][2]int32{}}
}

const posKey = "nsscript.lang.positions"

func (p *positions) callStart(pos syntax.Position) syntax.Position {
	if !pos.IsValid() {
		return pos
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	name := pos.Filename()
	m, ok := p.files[name]
	if !ok {
		m = map[[2]int32][2]int32{}
		if src, err := ReadSource(name); err == nil {
			if f, err := fileOptions.Parse(name, src, 0); err == nil {
				addCalls(m, f)
			}
		}
		p.files[name] = m
	}
	if s, ok := m[[2]int32{pos.Line, pos.Col}]; ok {
		return syntax.MakePosition(&name, s[0], s[1])
	}
	return pos
}

// addFile records the call starts of an already parsed file (a module the
// run executes, or a REPL chunk), merging with what is known of its name.
func (p *positions) addFile(f *syntax.File) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.files[f.Path]
	if m == nil {
		m = map[[2]int32][2]int32{}
		p.files[f.Path] = m
	}
	addCalls(m, f)
}

// addCalls maps the opening parenthesis of every call in f to its start.
func addCalls(m map[[2]int32][2]int32, f *syntax.File) {
	syntax.Walk(f, func(n syntax.Node) bool {
		if c, ok := n.(*syntax.CallExpr); ok {
			start, _ := c.Span()
			m[[2]int32{c.Lparen.Line, c.Lparen.Col}] = [2]int32{start.Line, start.Col}
		}
		return true
	})
}

// TrackFile makes CallerPos and WrapIn report the calls of f, a chunk the
// caller parsed itself (as a REPL does), at the start of each call.
func TrackFile(t *starlark.Thread, f *syntax.File) {
	p, _ := t.Local(posKey).(*positions)
	if p == nil {
		p = newPositions()
		t.SetLocal(posKey, p)
	}
	p.addFile(f)
}

// WrapIn is Wrap with call positions moved to the start of each call, as
// Exec reports them, for code run on thread t outside Exec.
func WrapIn(t *starlark.Thread, err error) *Error {
	if p, ok := t.Local(posKey).(*positions); ok {
		return (&loader{pos: p}).wrap(err)
	}
	return Wrap(err)
}

// CallerPos returns the position of the script line that called the builtin
// running on thread t, as "file:line:col" at the start of the call.
func CallerPos(t *starlark.Thread) string {
	pos := t.CallFrame(1).Pos
	if p, ok := t.Local(posKey).(*positions); ok {
		pos = p.callStart(pos)
	}
	return pos.String()
}
