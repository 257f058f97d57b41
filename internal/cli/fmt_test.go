package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.starlark.net/syntax"

	"github.com/nsscript/nsscript/internal/lab"
	"github.com/nsscript/nsscript/internal/testenv"
)

const messy = `# a lab
net1=netns( "net1" )
br = bridge("br0",addr="10.0.0.1/24")   # the bridge
for ns,ip in [(net1,"10.0.0.2/24")]:
  a,b=veth(peer_ns=ns)
  a.set(master=br)
  b.addr(ip)
expect_reachable(net1,"10.0.0.1")
`

const tidy = `# a lab
net1 = netns("net1")
br = bridge("br0", addr = "10.0.0.1/24")  # the bridge
for ns, ip in [(net1, "10.0.0.2/24")]:
    a, b = veth(peer_ns = ns)
    a.set(master = br)
    b.addr(ip)
expect_reachable(net1, "10.0.0.1")
`

func TestFormatStar(t *testing.T) {
	got, err := FormatStar("lab.star", []byte(messy))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != tidy {
		t.Errorf("formatted:\n%s\nwant:\n%s", got, tidy)
	}
	again, _ := FormatStar("lab.star", got)
	if string(again) != string(got) {
		t.Errorf("formatting is not idempotent:\n%s", again)
	}
	_, err = FormatStar("lab.star", []byte("x = 1\nif x:\n    while x:\n        x = 0\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "lab.star:3:5: cannot format a while loop") || strings.Contains(err.Error(), "\n") {
		t.Errorf("while loop: err = %v; want a one-line positioned cannot format a while loop", err)
	}
	_, err = FormatStar("lab.star", []byte("x = 1\nwhile x:\n    x = \n"))
	if err == nil || !strings.HasPrefix(err.Error(), "lab.star:3:") || strings.Contains(err.Error(), "while loop") {
		t.Errorf("syntax error in a while loop: err = %v; want the syntax error", err)
	}
}

func TestFmtCommand(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "lab.star")
	clean := filepath.Join(dir, "sub", "clean.star")
	os.MkdirAll(filepath.Dir(clean), 0o755)
	os.WriteFile(file, []byte(messy), 0o644)
	os.WriteFile(clean, []byte(tidy), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a script"), 0o644)

	out, _, code := mainArgs("fmt", file)
	if code != ExitOK || out != tidy {
		t.Errorf("fmt FILE: exit %d:\n%s", code, out)
	}
	out, _, code = mainArgs("fmt", "-l", dir)
	if code != ExitFail || out != file+"\n" {
		t.Errorf("fmt -l DIR: exit %d, %q; want exit 1 and only %s", code, out, file)
	}
	out, _, code = mainArgs("fmt", "-d", dir)
	wantDiff := "--- " + file + "\n+++ " + file + " (formatted)\n@@ -1,8 +1,8 @@\n # a lab\n-net1=netns( \"net1\" )\n"
	if code != ExitFail || !strings.HasPrefix(out, wantDiff) || !strings.Contains(out, "+    a, b = veth(peer_ns = ns)\n") {
		t.Errorf("fmt -d: exit %d:\n%s", code, out)
	}
	if _, errOut, code := mainArgs("fmt", "-w", dir); code != ExitOK {
		t.Fatalf("fmt -w: exit %d: %s", code, errOut)
	}
	if b, _ := os.ReadFile(file); string(b) != tidy {
		t.Errorf("fmt -w wrote:\n%s", b)
	}
	if out, _, code := mainArgs("fmt", "-d", dir); code != ExitOK || out != "" {
		t.Errorf("fmt -d after -w: exit %d, %q; want clean", code, out)
	}

	bad := filepath.Join(dir, "bad.star")
	os.WriteFile(bad, []byte("x = (\n"), 0o644)
	for _, args := range [][]string{{"fmt"}, {"fmt", bad}, {"fmt", filepath.Join(dir, "none.star")}} {
		out, errOut, code := mainArgs(args...)
		if code != ExitError || out != "" || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and one line", args, code, out, errOut)
		}
	}
}

func TestUnifiedDiff(t *testing.T) {
	a := "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n"
	b := "1\n2\nthree\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13"
	want := `--- f
+++ f (formatted)
@@ -1,6 +1,6 @@
 1
 2
-3
+three
 4
 5
 6
@@ -10,3 +10,4 @@
 10
 11
 12
+13
\ No newline at end of file
`
	if got := unifiedDiff("f", a, b); got != want {
		t.Errorf("diff:\n%s\nwant:\n%s", got, want)
	}
}

// TestFmtKeepsRepoScripts formats every script of the repository and checks
// that the result is the same program: the same syntax tree for
// go.starlark.net (positions and layout aside), the same planned steps (or
// the same error), and, for the core scripts, a green run in a sandbox.
func TestFmtKeepsRepoScripts(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "scripts", "*.star"))
	if len(files) == 0 {
		t.Fatal("no scripts")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out, err := FormatStar(f, src)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := syntaxShape(t, f, src), syntaxShape(t, f, out); !reflect.DeepEqual(a, b) {
				t.Fatalf("formatting changed the program:\n%s", lineDiff(strings.Join(a, "\n"), strings.Join(b, "\n")))
			}
			dir := t.TempDir()
			formatted := filepath.Join(dir, filepath.Base(f))
			if err := os.WriteFile(formatted, out, 0o644); err != nil {
				t.Fatal(err)
			}
			// load() and run() find sibling files: give the copy its siblings.
			siblings, _ := filepath.Glob(filepath.Join(filepath.Dir(f), "*"))
			for _, s := range siblings {
				if s != f {
					os.Symlink(s, filepath.Join(dir, filepath.Base(s)))
				}
			}
			if a, b := planOutcome(f), planOutcome(formatted); a != b {
				t.Errorf("formatted %s plans otherwise:\n%s", f, lineDiff(a, b))
			}
			switch filepath.Base(f) {
			case "bridge.star", "veth.star", "root-to-ns.star":
			default:
				return
			}
			t.Run("run", func(t *testing.T) {
				testenv.NeedNamespaces(t)
				if _, errOut, code := runNsscript(t, dir, "run", filepath.Base(f)); code != ExitOK {
					t.Errorf("formatted %s does not run green: exit %d: %s", f, code, errOut)
				}
			})
		})
	}
}

// syntaxShape lists the nodes of a script's syntax tree in walk order, with
// names, literal values and operators, but no positions.
func syntaxShape(t *testing.T, file string, src []byte) []string {
	t.Helper()
	opts := &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true}
	f, err := opts.Parse(file, src, 0)
	if err != nil {
		t.Fatal(err)
	}
	var shape []string
	syntax.Walk(f, func(n syntax.Node) bool {
		s := fmt.Sprintf("%T", n)
		switch n := n.(type) {
		case *syntax.Ident:
			s += " " + n.Name
		case *syntax.Literal:
			s += fmt.Sprintf(" %#v", n.Value)
		case *syntax.BinaryExpr:
			s += " " + n.Op.String()
		case *syntax.UnaryExpr:
			s += " " + n.Op.String()
		case *syntax.AssignStmt:
			s += " " + n.Op.String()
		case *syntax.BranchStmt:
			s += " " + n.Token.String()
		}
		shape = append(shape, s)
		return true
	})
	return shape
}

// planOutcome plans a script and returns the commands of its steps, or its
// error without the directory.
func planOutcome(file string) string {
	var b strings.Builder
	_, err := planScript(file, nil, func(s lab.Step) { b.WriteString(strings.Join(s.Cmds, "\n") + "\n") }, &strings.Builder{})
	if err != nil {
		return strings.ReplaceAll(err.Error(), filepath.Dir(file)+"/", "")
	}
	// Programs run in the script's directory, which the commands name.
	dir, _ := filepath.Abs(filepath.Dir(file))
	return strings.ReplaceAll(b.String(), "(cd "+dir+" && ", "(cd DIR && ")
}
