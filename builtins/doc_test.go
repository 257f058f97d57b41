package builtins

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// TestDocCommentsMatchTable: the comment above each builtin's Go function
// states the signature of its table entry, so the two cannot drift apart.
func TestDocCommentsMatchTable(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{} // function name -> its doc comment on one line
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
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
