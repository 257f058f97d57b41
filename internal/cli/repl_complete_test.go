package cli

import (
	"reflect"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/nsscript/nsscript/internal/testenv"
)

func TestReplCompletions(t *testing.T) {
	noop := func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
		return starlark.None, nil
	}
	inner := starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{"name": starlark.String("x"), "ns": starlark.None})
	c := &replCompleter{globals: starlark.StringDict{
		"netns":  starlark.NewBuiltin("netns", noop),
		"net1":   starlark.String("n"),
		"a":      starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{"addr": starlark.None, "addrs": starlark.None, "peer": inner}),
		"_local": starlark.None,
	}}
	for _, tc := range []struct {
		line string
		want []string
		n    int
	}{
		{"ne", []string{"t1", "tns"}, 2}, // net1, netns
		{"x = netn", []string{"s"}, 4},
		{"print(le", []string{"n"}, 2}, // len, a universal
		{"a.", []string{"addr", "addrs", "peer"}, 0},
		{"f(a.ad", []string{"dr", "drs"}, 2},
		{"a.peer.n", []string{"ame", "s"}, 1},
		{"a.nope.x", nil, 1},
		{"zz.", nil, 0},
		{"_", nil, 1},
		{"12", nil, 0},
		{`"ne`, []string{"t1", "tns"}, 2}, // a name inside a string is still a name
		{"", nil, 0},
	} {
		got, n := c.Do([]rune(tc.line), len([]rune(tc.line)))
		var gs []string
		for _, r := range got {
			gs = append(gs, string(r))
		}
		if !reflect.DeepEqual(gs, tc.want) || (len(tc.want) > 0 && n != tc.n) {
			t.Errorf("%q: got %q, %d; want %q, %d", tc.line, gs, n, tc.want, tc.n)
		}
	}
}

// TestReplHelp: help() prints what nsscript doc prints, for a name, a
// builtin, a value (its type's reference) and a method's name; an unknown name is an error that leaves
// the session alive.
func TestReplHelp(t *testing.T) {
	testenv.NeedNamespaces(t)
	t.Parallel()
	in := `help("veth")
help(veth)
a = netns("a")
help(a)
help("link.addr")
help("nope")
help()
`
	cmd := nsscript(t, t.TempDir(), "repl")
	cmd.Stdin = strings.NewReader(in)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	cmd.Run()
	var want strings.Builder
	for _, name := range []string{"veth", "veth", "netns", "link.addr", ""} {
		text, err := docText(name)
		if err != nil {
			t.Fatal(err)
		}
		want.WriteString(text)
	}
	want.WriteString("0 passed, 0 failed\n")
	if o.String() != want.String() {
		t.Errorf("stdout:\n%s\nwant:\n%s", o.String(), want.String())
	}
	if !strings.Contains(e.String(), "<stdin>:6:1: help: ") || strings.Count(e.String(), "\n") != 1 {
		t.Errorf("stderr: %q", e.String())
	}
}

// TestReplTabOnTerminal types Tab in the REPL on a terminal: a builtin's
// name is completed, and a value's attributes are listed.
func TestReplTabOnTerminal(t *testing.T) {
	testenv.NeedNamespaces(t)
	t.Parallel()
	cmd := nsscript(t, t.TempDir(), "repl")
	cmd.Env = append(cmd.Env, "TERM=xterm")
	term := onPty(t, cmd)
	term.waitFor(">>> ", 1)
	term.m.WriteString("x = net\t") // netns only (neighbours, ... are not net...)
	term.waitFor("x = netns", 1)
	term.m.WriteString("(\"a\")\r")
	term.waitFor(">>> ", 2)
	term.m.WriteString("x.\t")
	term.waitFor("addrs", 1)
	term.waitFor("links", 1)
	term.m.WriteString("\x03\x04") // Ctrl-C abandons the line, Ctrl-D ends the session
}
