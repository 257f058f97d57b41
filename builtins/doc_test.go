package builtins

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestDocCommentsMatchTable: the comment above each builtin's Go function
// states the signature of its table entry, so the two cannot drift apart.
func TestDocCommentsMatchTable(t *testing.T) {
	docs := map[string]string{} // function name -> its doc comment on one line
	_, files := packageFiles(t, parser.ParseComments)
	for _, file := range files {
		for _, d := range file.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil {
				docs[fd.Name.Name] = strings.Join(strings.Fields(fd.Doc.Text()), " ")
			}
		}
	}
	for _, b := range Table {
		if b.Fn == nil {
			continue
		}
		full := runtime.FuncForPC(reflect.ValueOf(b.Fn).Pointer()).Name()
		fn := full[strings.LastIndexByte(full, '.')+1:]
		doc, ok := docs[fn]
		if want := fn + " implements " + b.Sig + "."; !ok || !strings.HasPrefix(doc, want) {
			t.Errorf("the comment of %s is %q, want it to start %q", fn, doc, want)
		}
	}
}

// packageFiles parses the package's Go files other than tests, by name.
func packageFiles(t *testing.T, mode parser.Mode) (*token.FileSet, map[string]*ast.File) {
	t.Helper()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	files := map[string]*ast.File{}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		if files[name], err = parser.ParseFile(fset, name, nil, mode); err != nil {
			t.Fatal(err)
		}
	}
	return fset, files
}

// TestValueDocsMatchAttrs: the table documents every attribute of the value
// types: each method in an entry of its own (link.addr), the others in the
// type's entry; and every method entry names a method the type has.
func TestValueDocsMatchAttrs(t *testing.T) {
	types := map[string]struct{ attrs, methods []string }{
		"netns":   {netnsAttrs, []string{"delete", "link"}},
		"route":   {routeAttrs, []string{"delete"}},
		"rule":    {ruleAttrs, []string{"delete"}},
		"link":    {linkAttrs, sortedKeys(linkMethods)},
		"service": {serviceAttrs, []string{"close"}},
		"process": {processAttrs, []string{"stop"}},
		"capture": {captureAttrs, []string{"save", "stop"}},
		"watch":   {watchAttrs, []string{"stop"}},
		"daemon":  {daemonAttrs, []string{"stop"}},
	}
	for typ, v := range types {
		var doc string
		for _, b := range byName()[typ] {
			if b.Domain == "values" {
				doc = b.Doc
			}
		}
		words := strings.FieldsFunc(doc, func(r rune) bool { return !(r == '_' || r >= 'a' && r <= 'z') })
		for _, a := range v.attrs {
			switch {
			case slices.Contains(v.methods, a):
				if Lookup(typ+"."+a) == nil {
					t.Errorf("method %s.%s has no table entry", typ, a)
				}
			case !slices.Contains(words, a):
				t.Errorf("the table's %s entry does not mention attribute %s", typ, a)
			}
		}
	}
	for _, b := range Table {
		typ, m, ok := strings.Cut(b.Name, ".")
		if ok && !slices.Contains(types[typ].methods, m) {
			t.Errorf("table entry %s: %s has no method %s", b.Name, typ, m)
		}
	}
}

// TestDocValues: nsscript doc finds methods and value types by name, and a
// name that is both shows the builtin and the value.
func TestDocValues(t *testing.T) {
	for name, want := range map[string][]string{
		"link.addr":   {"link.addr(addr, ...)\n"},
		"link":        {"link(ns, name)\n", "link value\n"},
		"ping_result": {"ping_result\n", "rtt (milliseconds"},
		"netns.link":  {"netns.link(name)\n"},
	} {
		got, err := Doc(name)
		if err != nil {
			t.Fatal(err)
		}
		rest := got
		for _, w := range want {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Errorf("doc %s lacks %q (in order):\n%s", name, w, got)
				break
			}
			rest = rest[i+len(w):]
		}
	}
}

// TestDocListingOneHeadingPerDomain: nsscript doc lists each domain once,
// even where the table lists a builtin of an earlier domain later (sleep
// after the daemons).
func TestDocListingOneHeadingPerDomain(t *testing.T) {
	text, err := Doc("")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "## ") {
			if seen[line] {
				t.Errorf("nsscript doc has %q twice", line)
			}
			seen[line] = true
		}
	}
	if len(seen) != len(Domains()) {
		t.Errorf("%d headings for %d domains", len(seen), len(Domains()))
	}
}
