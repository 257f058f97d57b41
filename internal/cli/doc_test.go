package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsscript/nsscript/builtins"
)

// TestReadmeReferenceUpToDate fails when the README's reference drifts from
// the builtins table.
func TestReadmeReferenceUpToDate(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	start, end, err := readmeRegion(data)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(data[start:end]), referenceMarkdown(); got != want {
		t.Errorf("README.md's reference differs from the builtins table; run `go generate ./internal/cli` (nsscript doc --readme README.md):\n%s",
			lineDiff(want, got))
	}
}

func TestDocMarkdownCoversTable(t *testing.T) {
	md := referenceMarkdown()
	for _, b := range builtins.Table {
		if !strings.Contains(md, "#### `"+b.Sig+"`\n") {
			t.Errorf("markdown lacks %s", b.Sig)
		}
	}
	headings := map[string]int{}
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "### ") {
			if headings[line]++; headings[line] == 2 {
				t.Errorf("markdown has %q twice: a domain's builtins belong under one heading", line)
			}
		}
	}
	if strings.Count(md, "```")%2 != 0 {
		t.Error("unbalanced code fences")
	}
	if got := mdEscape("a*b <c> `d`"); got != "a\\*b &lt;c> \\`d\\`" {
		t.Errorf("mdEscape = %q", got)
	}
}

func TestDocCommand(t *testing.T) {
	out, _, code := mainArgs("doc", "veth")
	if code != ExitOK || !strings.HasPrefix(out, builtins.Lookup("veth").Sig+"\n") {
		t.Errorf("doc veth: exit %d:\n%s", code, out)
	}
	out, _, code = mainArgs("doc", "--markdown")
	if code != ExitOK || out != referenceMarkdown() {
		t.Errorf("doc --markdown: exit %d", code)
	}
	for _, args := range [][]string{{"doc", "nosuch"}, {"doc", "a", "b"}, {"doc", "--markdown", "veth"}} {
		out, errOut, code := mainArgs(args...)
		if code != ExitError || out != "" || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}

func TestDocRewriteReadme(t *testing.T) {
	file := filepath.Join(t.TempDir(), "README.md")
	before := "# x\n\nintro\n\n" + refBegin + "\nstale text\n" + refEnd + "\n\nafter\n"
	if err := os.WriteFile(file, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second run changes nothing
		if _, errOut, code := mainArgs("doc", "--readme", file); code != ExitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		got, _ := os.ReadFile(file)
		want := "# x\n\nintro\n\n" + refBegin + "\n" + referenceMarkdown() + refEnd + "\n\nafter\n"
		if string(got) != want {
			t.Fatalf("rewritten README:\n%s", got)
		}
	}
	if err := os.WriteFile(file, []byte("no markers\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := mainArgs("doc", "--readme", file); code != ExitError || !strings.Contains(errOut, "README.md: no ") {
		t.Errorf("no markers: exit %d, %q", code, errOut)
	}
}
