package nstest_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nsscript/nsscript/internal/cli"
	"github.com/nsscript/nsscript/nstest"
)

// TestRepoSpecs runs the repository's own specs, testdata/*.txtar at the
// module root; they copy the real scripts in from $SCRIPTS (../scripts).
func TestRepoSpecs(t *testing.T) { nstest.Run(t, "../testdata") }

// TestEveryScriptHasSpec: each script in scripts/ is exercised by a spec in
// testdata/ that copies it in by name ($SCRIPTS/NAME.star).
func TestEveryScriptHasSpec(t *testing.T) {
	scripts, err := filepath.Glob("../scripts/*.star")
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	specs, err := filepath.Glob("../testdata/*.txtar")
	if err != nil || len(specs) == 0 {
		t.Fatalf("no specs: %v", err)
	}
	var all strings.Builder
	for _, s := range specs {
		data, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(data)
	}
	for _, s := range scripts {
		name := filepath.Base(s)
		if !regexp.MustCompile(`\$SCRIPTS/` + regexp.QuoteMeta(name) + `\b`).MatchString(all.String()) {
			t.Errorf("scripts/%s has no spec: no testdata/*.txtar copies $SCRIPTS/%s", name, name)
		}
	}
}

// TestScriptsFmtClean: every script in scripts/ is as nsscript fmt writes
// it (nsscript fmt -l scripts lists nothing).
func TestScriptsFmtClean(t *testing.T) {
	var out, errOut strings.Builder
	env := &cli.Env{Stdout: &out, Stderr: &errOut, Getenv: os.Getenv}
	if code := cli.MainArgs(env, []string{"fmt", "-l", "../scripts"}); code != cli.ExitOK {
		t.Errorf("nsscript fmt -l scripts: exit %d; not formatted (run nsscript fmt -w on them):\n%s%s", code, out.String(), errOut.String())
	}
}
