package cli_test

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsscript/nsscript/internal/cli"
	"github.com/nsscript/nsscript/internal/testenv"

	// The specs run this test binary as nsscript; nstest's init turns it
	// into the CLI when it is started under that name.
	_ "github.com/nsscript/nsscript/nstest"
)

// nsscriptTest runs "nsscript test args..." in this process.
func nsscriptTest(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e strings.Builder
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &o, Stderr: &e, Getenv: os.Getenv}
	code = cli.MainArgs(env, append([]string{"test"}, args...))
	return o.String(), e.String(), code
}

// writeSpecs writes name -> content into a fresh directory.
func writeSpecs(t *testing.T, specs map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, s := range specs {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const passSpec = `# veth: a pair carries echo requests both ways.
exec nsscript run lab.star
stdout '^2 passed, 0 failed$'

-- lab.star --
a, b = netns("a"), netns("b")
x, y = veth(ns = a, peer_ns = b)
x.addr("10.0.0.1/24")
y.addr("10.0.0.2/24")
expect_reachable(a, "10.0.0.2")
expect_reachable(b, a)
`

// failSpec expects a pass from a lab where one expectation fails.
const failSpec = `# veth: nothing answers at .9, so this spec fails.
exec nsscript run lab.star
stdout '^1 passed, 0 failed$'

-- lab.star --
a, b = netns("a"), netns("b")
x, y = veth(ns = a, peer_ns = b)
x.addr("10.0.0.1/24")
y.addr("10.0.0.2/24")
expect_reachable(a, "10.0.0.9", timeout = "300ms")
`

func TestTestPassAndFail(t *testing.T) {
	testenv.NeedNamespaces(t)
	t.Parallel()
	dir := writeSpecs(t, map[string]string{"veth_pass.txtar": passSpec, "veth_fail.txtar": failSpec})
	junit := filepath.Join(t.TempDir(), "report.xml")
	out, errOut, code := nsscriptTest(t, "--junit", junit, dir)
	if code != cli.ExitFail {
		t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, cli.ExitFail, out, errOut)
	}
	for _, want := range []string{
		"\nok   veth_pass ",
		"FAIL veth_fail ",
		"    FAIL lab.star:5:1: expect_reachable: a -> 10.0.0.9: no reply in 300ms\n",
		"veth_fail.txtar:2: unexpected command failure",
		"\n1 passed, 1 failed\n",
	} {
		if !strings.Contains("\n"+out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}

	// The JUnit report parses and says the same.
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		XMLName  xml.Name `xml:"testsuites"`
		Tests    int      `xml:"tests,attr"`
		Failures int      `xml:"failures,attr"`
		Suites   []struct {
			Cases []struct {
				Name    string  `xml:"name,attr"`
				Time    float64 `xml:"time,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("junit report does not parse: %v\n%s", err, b)
	}
	if doc.Tests != 2 || doc.Failures != 1 || len(doc.Suites) != 1 || len(doc.Suites[0].Cases) != 2 {
		t.Fatalf("junit: tests=%d failures=%d, want 2 and 1:\n%s", doc.Tests, doc.Failures, b)
	}
	for _, c := range doc.Suites[0].Cases {
		switch c.Name {
		case "veth_pass":
			if c.Failure != nil {
				t.Errorf("junit: veth_pass has a failure: %+v", c.Failure)
			}
		case "veth_fail":
			if c.Failure == nil || !strings.Contains(c.Failure.Message, "veth_fail.txtar:2:") ||
				!strings.Contains(c.Failure.Text, "lab.star:5:1: expect_reachable") {
				t.Errorf("junit: veth_fail failure = %+v, want the spec and script positions", c.Failure)
			}
		default:
			t.Errorf("junit: unexpected case %q", c.Name)
		}
	}
}

// specLine is one line of nsscript test --json.
type specLine struct {
	Name    string    `json:"name"`
	File    string    `json:"file"`
	Status  string    `json:"status"`
	Start   time.Time `json:"start"`
	Elapsed float64   `json:"elapsed"`
	Log     string    `json:"log"`
}

func readJSONLines(t *testing.T, out string) []specLine {
	t.Helper()
	var lines []specLine
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var l specLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q is not a JSON object: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines
}

func TestTestJSON(t *testing.T) {
	testenv.NeedNamespaces(t)
	t.Parallel()
	dir := writeSpecs(t, map[string]string{"veth_pass.txtar": passSpec, "veth_fail.txtar": failSpec})
	out, errOut, code := nsscriptTest(t, "--json", "-run", "pass|fail", dir)
	if code != cli.ExitFail || errOut != "1 passed, 1 failed\n" {
		t.Errorf("exit %d, stderr %q; want 1 and the summary", code, errOut)
	}
	got := map[string]specLine{}
	for _, l := range readJSONLines(t, out) {
		got[l.Name] = l
	}
	if p := got["veth_pass"]; p.Status != "pass" || p.Log != "" || p.Elapsed <= 0 || p.File != filepath.Join(dir, "veth_pass.txtar") {
		t.Errorf("veth_pass = %+v", p)
	}
	if f := got["veth_fail"]; f.Status != "fail" || !strings.Contains(f.Log, "expect_reachable: a -> 10.0.0.9") {
		t.Errorf("veth_fail = %+v", f)
	}
}

// TestTestParallelCopies runs 8 copies of one spec, all with the same
// namespace names, bridge and addresses, at the same time: each nsscript run
// is its own sandbox, so none disturbs another.
func TestTestParallelCopies(t *testing.T) {
	testenv.NeedNamespaces(t)
	t.Parallel()
	src, err := os.ReadFile("../../testdata/isolation_same_names.txtar")
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	specs := map[string]string{}
	for i := range n {
		specs[fmt.Sprintf("isolation_copy%d.txtar", i)] = string(src)
	}
	dir := writeSpecs(t, specs)
	out, errOut, code := nsscriptTest(t, "-p", fmt.Sprint(n), "--json", dir)
	if code != cli.ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	lines := readJSONLines(t, out)
	if len(lines) != n {
		t.Fatalf("%d results, want %d:\n%s", len(lines), n, out)
	}
	// All ran at once: some instant lies inside every spec's run.
	var lastStart, firstEnd time.Time
	for i, l := range lines {
		if l.Status != "pass" {
			t.Errorf("%s: %s\n%s", l.Name, l.Status, l.Log)
		}
		end := l.Start.Add(time.Duration(l.Elapsed * float64(time.Second)))
		if i == 0 || l.Start.After(lastStart) {
			lastStart = l.Start
		}
		if i == 0 || end.Before(firstEnd) {
			firstEnd = end
		}
	}
	if !lastStart.Before(firstEnd) {
		t.Errorf("the copies did not overlap: last start %v, first end %v", lastStart, firstEnd)
	}
}

// TestTestRules checks the conditions, skipping, and the rules every spec
// follows: nsscript only through exec, and unique file names.
func TestTestRules(t *testing.T) {
	testenv.NeedNamespaces(t)
	t.Parallel()
	dir := writeSpecs(t, map[string]string{
		"cond_unknown.txtar": "[bogus] exec true\n",
		"cond_skip.txtar":    "[windows] exec false\n[!linktype:veth] exec false\nskip 'nothing more to do'\n",
		"rule_exec.txtar":    "nsscript run lab.star\n",
		"rule_unique.txtar":  "exec true\n-- lab.star --\n-- lab.star --\n",
	})
	out, _, code := nsscriptTest(t, dir)
	if code != cli.ExitFail {
		t.Errorf("exit %d, want %d", code, cli.ExitFail)
	}
	for _, want := range []string{
		"FAIL cond_unknown", `unknown condition "bogus"`, "skip cond_skip", "nothing more to do",
		"FAIL rule_exec", "rule_exec.txtar:1: use 'exec nsscript' rather than 'nsscript'",
		"FAIL rule_unique", "because RequireUniqueNames is enabled",
		"0 passed, 3 failed, 1 skipped",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}

	out, _, code = nsscriptTest(t, "-conditions", "root", "linktype:veth")
	want := fmt.Sprintf("root %t\nlinktype:veth true\n", os.Geteuid() == 0)
	if code != cli.ExitOK || out != want {
		t.Errorf("-conditions: exit %d, stdout %q; want 0 and %q", code, out, want)
	}
}

func TestTestUsageErrors(t *testing.T) {
	t.Parallel()
	dir := writeSpecs(t, map[string]string{"a.txtar": "exec true\n"})
	empty := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-p", "0", dir}, "-p must be at least 1"},
		{[]string{"-run", "(", dir}, "-run: error parsing regexp"},
		{[]string{"-run", "nomatch", dir}, `none of the 1 specs matches -run "nomatch"`},
		{[]string{filepath.Join(dir, "missing")}, "missing: no such file or directory"},
		{[]string{empty}, "no specs (*.txtar, *.txt) in " + empty},
		{[]string{"-conditions", "linktype:Bad Name"}, `"Bad Name" is not a valid linktype name`},
		{[]string{"-conditions", "nosuch"}, `unknown condition "nosuch"`},
	} {
		_, errOut, code := nsscriptTest(t, tc.args...)
		if code != cli.ExitError || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("nsscript test %q: exit %d, stderr %q; want 2 and one line with %q", tc.args, code, errOut, tc.want)
		}
	}
}
