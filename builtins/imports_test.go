package builtins

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// kernelPackages are the packages that talk to the kernel: sockets, netlink
// and nftables. Builtins unpack arguments and call the lab; the lab (and the
// packages beneath it) own every kernel conversation.
var kernelPackages = []string{
	"github.com/nsscript/nsscript/internal/probe",
	"github.com/nsscript/nsscript/internal/nsutil",
	"github.com/vishvananda/netlink",
	"github.com/vishvananda/netns",
	"github.com/google/nftables",
	"golang.org/x/sys/unix",
	"syscall",
}

// TestNoKernelImports keeps builtins off sockets, netlink and nftables.
func TestNoKernelImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, k := range kernelPackages {
				if path == k || strings.HasPrefix(path, k+"/") {
					t.Errorf("%s imports %s: builtins reach the kernel only through internal/lab", name, path)
				}
			}
		}
	}
}
