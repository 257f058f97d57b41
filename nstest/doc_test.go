package nstest_test

import (
	"os"
	"strings"
	"testing"
)

// TestDocExamples checks that the documentation shows exactly the example
// test and example spec that the example package runs (nstest/example), so
// the documented examples are tested ones. The spec section lives in
// docs/specs.md and, once merged, in README.md: every file that has it is
// checked.
func TestDocExamples(t *testing.T) {
	examples := map[string]string{}
	for _, f := range []string{"example/specs_test.go", "example/testdata/bridge_two_hosts.txtar"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		examples[f] = string(b)
	}
	if n := strings.Count(examples["example/specs_test.go"], "\n"); n != 10 {
		t.Errorf("the example test has %d lines, want 10", n)
	}
	checked := 0
	for _, doc := range []string{"../docs/specs.md", "../README.md"} {
		b, err := os.ReadFile(doc)
		if err != nil || !strings.Contains(string(b), "nstest.Run(t, ") {
			continue
		}
		checked++
		for f, text := range examples {
			if !strings.Contains(string(b), "\n"+text+"```\n") {
				t.Errorf("%s does not show %s verbatim in a code block", doc, f)
			}
		}
	}
	if checked == 0 {
		t.Error("no documentation shows the nstest example (docs/specs.md or README.md)")
	}
}
