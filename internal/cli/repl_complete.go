package cli

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"go.starlark.net/starlark"
)

// replCompleter completes, with Tab in the REPL's line editor, the name
// before the cursor: a builtin, a global of the session or a Starlark
// universal (ne<Tab> gives netns), or after a dot an attribute of the value
// the dotted name before it stands for (a.<Tab> lists a's attributes).
// Statements hold mu while they run; completion offers nothing meanwhile
// rather than read the globals while a statement changes them.
type replCompleter struct {
	mu      sync.Mutex
	globals starlark.StringDict
}

// Do implements readline.AutoCompleter: it returns the candidates'
// remainders after what is typed, and the length of what is typed.
func (c *replCompleter) Do(line []rune, pos int) ([][]rune, int) {
	word := dottedBefore(string(line[:pos]))
	if !c.mu.TryLock() {
		return nil, 0 // a statement is running: nothing to offer yet
	}
	names := completions(c.globals, word)
	c.mu.Unlock()
	typed := word[strings.LastIndexByte(word, '.')+1:]
	out := make([][]rune, len(names))
	for i, n := range names {
		out[i] = []rune(strings.TrimPrefix(n, typed))
	}
	return out, len([]rune(typed))
}

// dottedBefore returns the dotted name that s ends with ("x.ad" in
// "print(x.ad"), or "" when s ends otherwise (a number, a string).
func dottedBefore(s string) string {
	i := len(s)
	for i > 0 && isNameByte(s[i-1]) || i > 0 && s[i-1] == '.' {
		i--
	}
	w := s[i:]
	if w == "" || w[0] == '.' || w[0] >= '0' && w[0] <= '9' {
		return ""
	}
	return w
}

func isNameByte(b byte) bool {
	return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

// completions returns the sorted names that complete word: globals and
// universals for a plain name, attributes for "x.y.pre" (x.y is looked up,
// attribute by attribute; nothing is called).
func completions(globals starlark.StringDict, word string) []string {
	parts := strings.Split(word, ".")
	prefix := parts[len(parts)-1]
	var pool []string
	if len(parts) == 1 {
		if word == "" {
			return nil
		}
		pool = append(globals.Keys(), starlark.Universe.Keys()...)
	} else {
		v, ok := globals[parts[0]]
		if !ok {
			v, ok = starlark.Universe[parts[0]]
		}
		for _, p := range parts[1 : len(parts)-1] {
			if !ok {
				break
			}
			v, ok = attrOf(v, p)
		}
		if !ok {
			return nil
		}
		if ha, isHA := v.(starlark.HasAttrs); isHA {
			pool = ha.AttrNames()
		}
	}
	var out []string
	for _, n := range pool {
		if strings.HasPrefix(n, prefix) && !strings.HasPrefix(n, "_") && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// attrOf returns v's attribute name, if it has one.
func attrOf(v starlark.Value, name string) (starlark.Value, bool) {
	ha, ok := v.(starlark.HasAttrs)
	if !ok {
		return nil, false
	}
	a, err := ha.Attr(name)
	return a, err == nil && a != nil
}

// replHelp is the REPL's help(): without an argument it prints the whole
// reference, with a name ("veth", "link.addr", "expect") or a value (a
// builtin, or a netns, link, ... whose type names its reference: the type,
// its builtin and its methods) what nsscript doc NAME prints.
func replHelp(print func(string)) *starlark.Builtin {
	return starlark.NewBuiltin("help", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var what starlark.Value = starlark.None
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0, &what); err != nil {
			return nil, err
		}
		name := ""
		switch v := what.(type) {
		case starlark.NoneType:
		case starlark.String:
			name = string(v)
		case *starlark.Builtin:
			name = v.Name()
			if r := v.Receiver(); r != nil {
				name = r.Type() + "." + name // a method: link.addr
			}
		default:
			name = v.Type()
		}
		text, err := docText(name)
		if err != nil {
			return nil, fmt.Errorf("help: %w", err)
		}
		print(text)
		return starlark.None, nil
	})
}
