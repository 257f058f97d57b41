package cli_test

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsscript/nsscript/internal/cli"
)

// slowSpec outlasts any short -timeout.
const slowSpec = "# a spec that runs for a minute.\nexec sleep 60\n"

// TestTestCutShort: a spec that -timeout stops is cut short, never a pass
// or a plain failure: CUT in the text, "cut" in JSON, an error in JUnit,
// exit 2.
func TestTestCutShort(t *testing.T) {
	t.Parallel()
	dir := writeSpecs(t, map[string]string{"probe_slow.txtar": slowSpec})
	junit := filepath.Join(t.TempDir(), "report.xml")
	out, errOut, code := nsscriptTest(t, "-timeout", "3s", "--json", "--junit", junit, dir)
	if code != cli.ExitError {
		t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, cli.ExitError, out, errOut)
	}
	lines := readJSONLines(t, out)
	if len(lines) != 1 || lines[0].Status != "cut" {
		t.Errorf("json: %+v, want one spec with status cut", lines)
	}
	if errOut != "0 passed, 0 failed, 1 cut short\n" {
		t.Errorf("summary %q, want 1 cut short", errOut)
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Suites   []struct {
			Cases []struct {
				Error *struct {
					Message string `xml:"message,attr"`
					Type    string `xml:"type,attr"`
				} `xml:"error"`
				Failure *struct{} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("junit report does not parse: %v\n%s", err, b)
	}
	if doc.Tests != 1 || doc.Failures != 0 || doc.Errors != 1 || len(doc.Suites) != 1 || len(doc.Suites[0].Cases) != 1 {
		t.Fatalf("junit: tests=%d failures=%d errors=%d, want 1, 0, 1:\n%s", doc.Tests, doc.Failures, doc.Errors, b)
	}
	c := doc.Suites[0].Cases[0]
	if c.Failure != nil || c.Error == nil || c.Error.Type != "CUT" || !strings.Contains(c.Error.Message, "probe_slow.txtar:2: test timed out") {
		t.Errorf("junit case: error %+v failure %v, want a CUT error at the spec's line", c.Error, c.Failure)
	}
}
