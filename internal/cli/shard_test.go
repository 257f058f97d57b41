package cli_test

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTestShard: nsscript test --shard K/N over the same specs, K = 1..N,
// runs each spec exactly once, and each shard's JUnit file lists its own.
func TestTestShard(t *testing.T) {
	specs := map[string]string{}
	for i := 0; i < 7; i++ {
		specs[fmt.Sprintf("s%d.txtar", i)] = "env X=1\n"
	}
	dir := writeSpecs(t, specs)
	seen := map[string]int{}
	for k := 1; k <= 3; k++ {
		junit := filepath.Join(t.TempDir(), "junit.xml")
		out, errOut, code := nsscriptTest(t, "--shard", fmt.Sprintf("%d/3", k), "--junit", junit, dir)
		if code != 0 {
			t.Fatalf("shard %d/3: exit %d: %s%s", k, code, out, errOut)
		}
		data, err := os.ReadFile(junit)
		if err != nil {
			t.Fatal(err)
		}
		var suites struct {
			Cases []struct {
				Name string `xml:"name,attr"`
			} `xml:"testsuite>testcase"`
		}
		if err := xml.Unmarshal(data, &suites); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, c := range suites.Cases {
			seen[c.Name]++
			n++
			if !strings.Contains(out, "ok   "+c.Name) {
				t.Errorf("shard %d/3: JUnit has %s, output does not:\n%s", k, c.Name, out)
			}
		}
		if want := fmt.Sprintf("%d passed, 0 failed", n); !strings.Contains(out, want) {
			t.Errorf("shard %d/3: want %q:\n%s", k, want, out)
		}
	}
	if len(seen) != len(specs) {
		t.Errorf("the shards ran %d of %d specs: %v", len(seen), len(specs), seen)
	}
	for name, c := range seen {
		if c != 1 {
			t.Errorf("%s ran in %d shards", name, c)
		}
	}
	if _, errOut, code := nsscriptTest(t, "--shard", "4/3", dir); code != 2 || !strings.Contains(errOut, "want K/N") {
		t.Errorf("--shard 4/3: exit %d: %s", code, errOut)
	}
	t.Setenv("NSSCRIPT_SHARD", "2/7")
	if out, _, code := nsscriptTest(t, dir); code != 0 || !strings.Contains(out, "1 passed, 0 failed") {
		t.Errorf("NSSCRIPT_SHARD=2/7: exit %d:\n%s", code, out)
	}
}
