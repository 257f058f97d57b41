package cli

import (
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/nsscript/nsscript/internal/testenv"
)

// hostState is what a sandboxed run must leave untouched on the real host.
func hostState(t *testing.T) string {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range ifs {
		names = append(names, i.Name)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("links: " + strings.Join(names, " ") + "\n")
	if _, err := os.Stat("/run/netns"); err == nil {
		ents, _ := os.ReadDir("/run/netns")
		for _, e := range ents {
			b.WriteString("netns: " + e.Name() + "\n")
		}
	} else {
		b.WriteString("no /run/netns\n")
	}
	for _, k := range []string{"ipv4/ip_forward", "ipv6/conf/all/forwarding", "ipv6/conf/default/disable_ipv6"} {
		v, _ := os.ReadFile("/proc/sys/net/" + k)
		b.WriteString(k + "=" + string(v))
	}
	return b.String()
}

func repoScript(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "scripts", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunBridgeScript(t *testing.T) {
	testenv.NeedNamespaces(t)
	t.Parallel()
	testenv.LockHost(t, false)
	before := hostState(t)
	script := repoScript(t, "bridge.star")
	out, errOut, code := runNsscript(t, filepath.Dir(script), "run", "bridge.star")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || lines[4] != "4 passed, 0 failed" {
		t.Fatalf("output:\n%s", out)
	}
	for _, l := range lines[:4] {
		if !strings.HasPrefix(l, "ok   bridge.star:") {
			t.Errorf("line %q", l)
		}
	}
	if after := hostState(t); after != before {
		t.Errorf("host changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func TestRunRootless(t *testing.T) {
	testenv.NeedNamespaces(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch to the nobody user")
	}
	t.Parallel()
	// The test binary and the script must be readable by nobody.
	src, _ := os.ReadFile(repoScript(t, "bridge.star"))
	dir, bin := nobodyCopy(t, "nsscript.test", map[string][]byte{"bridge.star": src})
	testenv.LockHost(t, false)
	before := hostState(t)
	cmd := asNobody(bin, dir, "/usr/bin:/bin", "run", "bridge.star")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("rootless run: %v\n%s", err, out)
	}
	if !strings.HasSuffix(string(out), "4 passed, 0 failed\n") {
		t.Fatalf("rootless output:\n%s", out)
	}
	if after := hostState(t); after != before {
		t.Errorf("host changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func TestRunExitCodes(t *testing.T) {
	testenv.NeedNamespaces(t)
	t.Parallel()
	for _, tc := range []struct {
		name, src string
		args      []string
		code      int
		stdout    string
		stderr    string
	}{
		{name: "netns42", src: "a = netns(\"a\")\nnetns(42)\n", code: 2,
			stderr: "lab.star:2:1: netns: for parameter name: got int, want string\n"},
		{name: "fail", src: "a = netns(\"a\")\nexpect_reachable(a, \"10.0.0.1\", timeout = \"200ms\")\n", code: 1,
			stdout: "FAIL lab.star:2:1: expect_reachable: a -> 10.0.0.1: network is unreachable\n" +
				"     a (source):\n       route to 10.0.0.1: none (network is unreachable)\n" + // the failure bundle (bundle.go)
				"       routes: none\n       net.ipv4.ip_forward=0\n" +
				"0 passed, 1 failed\n"},
		{name: "set", src: "print(n + 1, type(n), name, vars)\n", args: []string{"--set", "n=41", "--set", "name=x"}, code: 0,
			stdout: "42 int x {\"n\": 41, \"name\": \"x\"}\n0 passed, 0 failed\n"},
		{name: "timeout", src: "while True:\n    pass\n", args: []string{"--timeout", "300ms"}, code: 2,
			stderr: "lab.star:1:1: Starlark computation cancelled: timeout: run stopped after 300ms (--timeout)\n"},
		{name: "badset", src: "", args: []string{"--set", "veth=1"}, code: 2,
			stderr: "nsscript run: --set \"veth=1\": \"veth\" is a builtin; pick another name\n"},
		{name: "keep", src: "", args: []string{"--keep"}, code: 2,
			stderr: "nsscript run: --keep only makes sense with --host (a sandboxed lab ends with its run)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := writeScript(t, "lab.star", tc.src)
			out, errOut, code := runNsscript(t, dir, append(append([]string{"run"}, tc.args...), "lab.star")...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			if tc.stdout != "" && out != tc.stdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", out, tc.stdout)
			}
			if tc.stderr != "" && errOut != tc.stderr {
				t.Errorf("stderr:\n%s\nwant:\n%s", errOut, tc.stderr)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	out, _, code := runNsscript(t, "", "run", "--help")
	if code != 0 || !strings.Contains(out, "Exit status:") || !strings.Contains(out, "-set NAME=VALUE") {
		t.Errorf("run --help: exit %d\n%s", code, out)
	}
	_, errOut, code := runNsscript(t, "", "frobnicate")
	if code != 2 || errOut != "nsscript: unknown command \"frobnicate\" (try nsscript help)\n" {
		t.Errorf("unknown command: %d %q", code, errOut)
	}
}

func TestFlagsAfterScript(t *testing.T) {
	testenv.NeedNamespaces(t)
	t.Parallel()
	dir := writeScript(t, "lab.star", "print(n)\n")
	out, errOut, code := runNsscript(t, dir, "run", "lab.star", "--set", "n=7", "-v")
	if code != 0 || out != "7\n0 passed, 0 failed\n" || !strings.Contains(errOut, "sandbox:") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}
