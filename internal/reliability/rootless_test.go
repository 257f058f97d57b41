package reliability

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsscript/nsscript/internal/testenv"
)

// nobody is the unprivileged user the parity tests run as.
var nobody = &syscall.Credential{Uid: 65534, Gid: 65534}

// asNobody makes a command run as nobody with a minimal environment.
func asNobody(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: nobody}
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/nonexistent", "TMPDIR=/tmp", "NO_COLOR=1"}
}

// needNobody skips unless this test can switch to nobody and nobody can
// make namespaces (unprivileged user namespaces).
func needNobody(t *testing.T) {
	t.Helper()
	testenv.NeedNamespaces(t)
	testenv.NeedRoot(t)
	if _, err := exec.LookPath("unshare"); err == nil {
		cmd := exec.Command("unshare", "-Urn", "true")
		asNobody(cmd)
		if err := cmd.Run(); err != nil {
			t.Skipf("nobody cannot create user namespaces here: %v", err)
		}
	}
}

// timingRE drops what differs between two runs of a script: times, rates.
var timingRE = regexp.MustCompile(`\d+(\.\d+)?\s?(ms|µs|us|s|ns|[KMG]?bit/s|[KMG]?B/s)\b|\d+/\d+ replies.*|\d+(\.\d+)?%`)

// scriptResult is the part of a run that must not depend on the user.
func scriptResult(code int, stdout string) string {
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "ok ") || strings.HasPrefix(line, "FAIL ") || strings.Contains(line, " passed, ") {
			// Keep the verdict and position, not the measured detail.
			f := strings.SplitN(line, ": ", 4)
			if len(f) > 3 {
				line = strings.Join(f[:3], ": ")
			}
			b.WriteString(timingRE.ReplaceAllString(line, "T") + "\n")
		}
	}
	b.WriteString("exit " + string(rune('0'+code)) + "\n")
	return b.String()
}

// TestRootlessScripts runs every script in scripts/ as root and as nobody
// (a rootless sandbox: user + mount + network namespaces) and compares the
// verdicts: the same lines ok or FAIL, the same summary, the same exit.
func TestRootlessScripts(t *testing.T) {
	if os.Getenv(RunsEnv) == "" {
		t.Skipf("the long version only (set %s, as make reliability does); CI compares the spec suite", RunsEnv)
	}
	needNobody(t)
	scripts, _ := filepath.Glob("../../scripts/*.star")
	if len(scripts) == 0 {
		t.Fatal("no scripts")
	}
	// nobody needs to read the scripts and the files beside them.
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	src := filepath.Dir(scripts[0])
	ents, _ := os.ReadDir(src)
	for _, e := range ents {
		if b, err := os.ReadFile(filepath.Join(src, e.Name())); err == nil {
			os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644)
		}
	}
	same := 0
	for _, s := range scripts {
		name := filepath.Base(s)
		run := func(nob bool) string {
			p := start(t, []string{"run", name}, func(c *exec.Cmd) {
				c.Dir = dir
				if nob {
					asNobody(c)
				}
			})
			code := p.wait(t, 2*time.Minute)
			return scriptResult(code, p.stdout.String())
		}
		root, rootless := run(false), run(true)
		if root != rootless {
			// A probe may flake under load: one more try each before failing.
			root, rootless = run(false), run(true)
		}
		if root != rootless {
			t.Errorf("%s: root and nobody differ\nroot:\n%s\nnobody:\n%s", name, root, rootless)
			continue
		}
		same++
	}
	t.Logf("%d scripts: %d gave the same verdicts as root and as nobody", len(scripts), same)
}

// specResult is one line of nsscript test -json.
type specResult struct {
	Name   string `json:"name"`
	File   string `json:"file"`
	Status string `json:"status"`
}

// userConds are the spec conditions whose answer depends on the user, not
// on the machine: a spec that declares one may end differently as nobody.
var userConds = []string{"[root]", "[!root]", "[tun]", "[!tun]"}

func userDependent(spec []byte) bool {
	for _, c := range userConds {
		if bytes.Contains(spec, []byte(c)) {
			return true
		}
	}
	return false
}

// TestRootlessSpecs runs the spec suite (testdata/*.txtar) with nsscript
// test as root and as nobody: every spec must end the same way, except the
// specs that declare a condition that depends on the user (userConds).
func TestRootlessSpecs(t *testing.T) {
	needNobody(t)
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	launch := func(nob bool, only string) *proc {
		args := []string{"test", "-json", "-p", "2"}
		if only != "" {
			args = append(args, "-run", only)
		}
		return start(t, append(args, "testdata"), func(c *exec.Cmd) {
			c.Dir = root
			if nob {
				asNobody(c)
			}
		})
	}
	results := func(p *proc) map[string]specResult {
		p.wait(t, 15*time.Minute)
		res := map[string]specResult{}
		for _, line := range bytes.Split([]byte(p.stdout.String()), []byte("\n")) {
			var r specResult
			if json.Unmarshal(line, &r) == nil && r.Name != "" {
				res[r.Name] = r
			}
		}
		if len(res) == 0 {
			t.Fatalf("nsscript test printed no results\nstderr:\n%s", p.stderr)
		}
		return res
	}
	suite := func(nob bool, only string) map[string]specResult { return results(launch(nob, only)) }
	// The two suites run at the same time: their labs mostly wait (for
	// daemons, for within= windows), and one after the other they took
	// most of go test's default 10 minutes on a loaded machine.
	rootRun, userRun := launch(false, ""), launch(true, "")
	asRoot, asUser := results(rootRun), results(userRun)
	var names []string
	for n := range asRoot {
		names = append(names, n)
	}
	sort.Strings(names)
	same, rootOnly := 0, 0
	for _, n := range names {
		r := asRoot[n]
		if b, _ := os.ReadFile(filepath.Join(root, r.File)); userDependent(b) {
			rootOnly++
			continue
		}
		u := asUser[n]
		if r.Status != u.Status {
			// Once more each, alone, before calling it a difference.
			only := "^" + regexp.QuoteMeta(n) + "$"
			r, u = suite(false, only)[n], suite(true, only)[n]
		}
		if r.Status != u.Status {
			t.Errorf("spec %s: %s as root, %s as nobody", n, r.Status, u.Status)
			continue
		}
		same++
	}
	t.Logf("%d specs: %d ended the same as root and as nobody, %d declare a user-dependent condition", len(names), same, rootOnly)
}

// TestHostRefusedWithoutRoot: --host changes the real machine, so it needs
// root, and says so in one line before doing anything.
func TestHostRefusedWithoutRoot(t *testing.T) {
	testenv.LockHost(t, false)
	testenv.NeedRoot(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	os.WriteFile(filepath.Join(dir, "lab.star"), []byte("netns(\"nsthost\")\n"), 0o644)
	before := snapshot(t)
	p := start(t, []string{"run", "--host", "lab.star"}, func(c *exec.Cmd) { c.Dir = dir; asNobody(c) })
	code := p.wait(t, 10*time.Second)
	want := "nsscript run: --host needs root (it changes the real host's network); run without --host for a private sandbox\n"
	if code != 2 || p.stderr.String() != want || p.stdout.String() != "" {
		t.Errorf("--host as nobody: exit %d\nstdout:\n%s\nstderr:\n%s", code, p.stdout, p.stderr)
	}
	mustEqual(t, "after --host as nobody", before, snapshot(t))
}
