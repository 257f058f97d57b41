package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nsscript/nsscript/internal/testenv"
)

func TestNeighFlag(t *testing.T) {
	t.Parallel()
	dir := writeScript(t, "lab.star", "print('hi')\n")
	_, stderr, code := runNsscript(t, dir, "run", "--neigh=ndp", "lab.star")
	if code != ExitError || !strings.Contains(stderr, `invalid value "ndp" for flag -neigh: invalid neighbour mode "ndp" (want auto, static or arp)`) {
		t.Errorf("--neigh=ndp: exit %d, stderr %q", code, stderr)
	}
}

func TestNeighFlagStatic(t *testing.T) {
	t.Parallel()
	testenv.NeedNamespaces(t)
	dir := writeScript(t, "lab.star", `
a = netns("a")
b = netns("b")
x, y = veth(ns = a, peer_ns = b)
x.addr("10.0.0.1/24")
y.addr("10.0.0.2/24")
expect_reachable(a, "10.0.0.2")
print(run(a, ["cat", "/proc/net/arp"]).stdout)
`)
	stdout, stderr, code := runNsscript(t, dir, "run", "--neigh=static", "lab.star")
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	// /proc/net/arp flags: 0x6 is ATF_COM|ATF_PERM, a permanent entry. The
	// peer got the lab's first MAC.
	if !regexp.MustCompile(`(?m)^10\.0\.0\.2 +0x1 +0x6 +02:6e:00:00:00:01 `).MatchString(stdout) {
		t.Errorf("no permanent entry for 10.0.0.2 at the peer's deterministic MAC:\n%s", stdout)
	}
}

func TestProfileEnv(t *testing.T) {
	dir := t.TempDir()
	cpu, mem := filepath.Join(dir, "cpu.prof"), filepath.Join(dir, "mem.prof")
	env := &Env{Getenv: func(k string) string {
		return map[string]string{ProfileEnv: cpu, MemProfileEnv: mem}[k]
	}}
	var stderr bytes.Buffer
	stop := startProfile(env, &stderr)
	stop()
	for _, p := range []string{cpu, mem} {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v (stderr %q)", p, err, stderr.String())
		}
	}

	env = &Env{Getenv: func(k string) string {
		if k == ProfileEnv {
			return filepath.Join(dir, "no-such-dir", "cpu.prof")
		}
		return ""
	}}
	stderr.Reset()
	startProfile(env, &stderr)()
	if !strings.Contains(stderr.String(), "nsscript run: NSSCRIPT_CPUPROFILE: open ") {
		t.Errorf("unwritable profile: stderr %q", stderr.String())
	}
}
