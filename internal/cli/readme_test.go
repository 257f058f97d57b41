package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestReadmeBridgeSnippet: the README's first example is scripts/bridge.star,
// byte for byte, so the positions in the output shown below it are true.
func TestReadmeBridgeSnippet(t *testing.T) {
	readme := readRepoFile(t, "README.md")
	const intro = "`scripts/bridge.star`:\n\n```python\n"
	i := strings.Index(readme, intro)
	if i < 0 {
		t.Fatalf("README.md has no %q block", intro)
	}
	block := readme[i+len(intro):]
	block = block[:strings.Index(block, "```\n")]
	if want := readRepoFile(t, "scripts/bridge.star"); block != want {
		t.Errorf("README.md's bridge.star differs from scripts/bridge.star:\n--- README\n%s--- file\n%s", block, want)
	}
}

// TestReadmeGoVersion: the install section names the Go version go.mod
// needs.
func TestReadmeGoVersion(t *testing.T) {
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(readRepoFile(t, "go.mod"))
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	if want := "**Go " + m[1] + " or newer**"; !strings.Contains(readRepoFile(t, "README.md"), want) {
		t.Errorf("README.md does not say %s", want)
	}
}
