package builtins

import (
	"go/ast"
	"strings"
	"testing"
)

// TestOneAddressParser: builtins parse addresses in addr.go only, so every
// argument refuses zones and unmaps IPv4-mapped addresses the same way.
func TestOneAddressParser(t *testing.T) {
	fset, files := packageFiles(t, 0)
	for name, file := range files {
		if name == "addr.go" {
			continue
		}
		ast.Inspect(file, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if pkg, ok := sel.X.(*ast.Ident); ok && (pkg.Name == "netip" || pkg.Name == "net") && strings.HasPrefix(sel.Sel.Name, "Parse") {
				t.Errorf("%s: %s.%s: parse addresses with addr.go's functions", fset.Position(sel.Pos()), pkg.Name, sel.Sel.Name)
			}
			return true
		})
	}
}

func TestParseIP(t *testing.T) {
	for s, want := range map[string]string{
		"10.0.0.1": "10.0.0.1", "fd00::1": "fd00::1", "::ffff:10.0.0.1": "10.0.0.1",
		"fe80::1%eth0": "", "10.0.0.1/24": "", "10.0.0.300": "", "": "",
	} {
		a, ok := parseIP(s)
		if got := a.String(); ok != (want != "") || ok && got != want {
			t.Errorf("parseIP(%q) = %s, %v; want %q", s, got, ok, want)
		}
	}
	for s, want := range map[string]string{
		"10.0.0.1:80": "10.0.0.1:80", "[fd00::1]:80": "[fd00::1]:80", "[::ffff:10.0.0.1]:80": "10.0.0.1:80",
		"[fe80::1%eth0]:80": "", "10.0.0.1": "", "10.0.0.1:x": "",
	} {
		ap, ok := parseIPPort(s)
		if got := ap.String(); ok != (want != "") || ok && got != want {
			t.Errorf("parseIPPort(%q) = %s, %v; want %q", s, got, ok, want)
		}
	}
}
