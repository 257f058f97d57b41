package cli

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/nsscript/nsscript/internal/sandbox"
	"github.com/nsscript/nsscript/internal/spec"
	"github.com/nsscript/nsscript/internal/testenv"
)

// mainArgs runs nsscript in this process and returns stdout, stderr and the
// exit code (for commands that need no sandbox).
func mainArgs(args ...string) (string, string, int) {
	var o, e bytes.Buffer
	code := MainArgs(&Env{Stdout: &o, Stderr: &e, Getenv: os.Getenv}, args)
	return o.String(), e.String(), code
}

func TestExplainBridge(t *testing.T) {
	out, errOut, code := mainArgs("explain", repoScript(t, "bridge.star"))
	if code != ExitOK || errOut != "" {
		t.Fatalf("explain: exit %d, stderr %q", code, errOut)
	}
	if !strings.HasPrefix(out, "#!/bin/bash\n") || !strings.Contains(out, "\nset -e\n") {
		t.Errorf("explain output is not a bash script with set -e:\n%s", out)
	}
	// The commands of a real run, in order, each block under its line; the
	// generated names are those a run creates (veth0 in host, eth0 inside).
	inOrder(t, out,
		"bridge.star:10:8: create namespace net1 with loopback up\nip netns add net1\nip -n net1 link set lo up\n",
		"ip link add br00 type bridge\nip link set br00 up\n",
		"ip addr add 10.100.0.1/16 dev br00\n",
		"bridge.star:15:20: create veth pair veth0 (host) <-> eth0 (net1)\nip link add veth0 type veth peer name eth0 netns net1\n",
		"ip -n net1 link set eth0 up\n",
		"bridge.star:16:5: attach veth0 to br00 in host\nip link set veth0 master br00\n",
		"ip -n net1 addr add 10.100.0.10/16 dev eth0\n",
		"bridge.star:18:5: route add default via 10.100.0.1 in net1\nip -n net1 route add default via 10.100.0.1\n",
		"ip link add veth1 type veth peer name eth0 netns net2\n",
		"bridge.star:20:1: expect_reachable net1 -> 10.100.0.20\nip netns exec net1 ping -c1 -W1 10.100.0.20\n",
		"ip netns exec net2 ping -c1 -W1 10.100.0.10\n",
		"#   ip netns del net1; ip netns del net2; ip link del br00\n",
	)
}

func TestExplainExpectations(t *testing.T) {
	dir := writeScript(t, "x.star", `
a = netns("a")
x, y = veth(ns = host, peer_ns = a)
x.addr("10.0.0.1/24")
y.addr("10.0.0.2/24", "fd00::2/64")
expect_unreachable(host, "10.9.9.9", timeout = "300ms")
expect_reachable(a, "10.0.0.1", timeout = "2s")
expect_reachable(a, x, within = "5s")
expect_unreachable(a, "10.0.0.7", within = "3s")
r = ping(a, "10.0.0.1", count = 3)
print("planned:", r.ok)
`)
	out, errOut, code := mainArgs("explain", filepath.Join(dir, "x.star"))
	if code != ExitOK {
		t.Fatalf("explain: exit %d, stderr %q", code, errOut)
	}
	inOrder(t, out,
		"ip link add veth0 type veth peer name eth0 netns a\n",
		"ip netns exec a sysctl -qw net.ipv6.conf.eth0.disable_ipv6=0\nip -n a addr add fd00::2/64 dev eth0 nodad\n",
		"! ping -c1 -W1 10.9.9.9 || exit 1\n",
		"ip netns exec a ping -c1 -W2 10.0.0.1\n",
		"timeout 5 sh -c 'until ip netns exec a ping -c1 -W1 10.0.0.1; do sleep 0.1; done'\n",
		"timeout 4 sh -c 'while ip netns exec a ping -c1 -W1 10.0.0.7; do sleep 0.1; done'\n",
		"ip netns exec a ping -c3 -W1 -i0.2 10.0.0.1 || true\n",
		"# planned: True\n",
	)
}

func TestExplainErrors(t *testing.T) {
	dir := writeScript(t, "bad.star", "a = netns(\"a\")\nveth(ns = a, mtu = 7)\n")
	out, errOut, code := mainArgs("explain", filepath.Join(dir, "bad.star"))
	if code != ExitError || out != "" {
		t.Errorf("exit %d, stdout %q; want exit 2 and no script", code, out)
	}
	if !regexp.MustCompile(`^\S*bad\.star:2:1: veth: for parameter "mtu": invalid mtu 7 .*\n$`).MatchString(errOut) {
		t.Errorf("stderr %q; want one positioned line", errOut)
	}
	for _, args := range [][]string{{"explain"}, {"explain", "a.star", "b.star"}, {"explain", filepath.Join(dir, "missing.star")}} {
		if _, errOut, code := mainArgs(args...); code != ExitError || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and one line", args, code, errOut)
		}
	}
}

// TestExplainUnprivileged runs explain as user nobody, who can create no
// namespace without a user namespace, and checks that nothing was made.
func TestExplainUnprivileged(t *testing.T) {
	testenv.NeedRoot(t)
	src, _ := os.ReadFile(repoScript(t, "bridge.star"))
	dir, bin := nobodyCopy(t, "nsscript", map[string][]byte{"bridge.star": src})
	script := filepath.Join(dir, "bridge.star")
	cmd := exec.Command(bin, "explain", script)
	cmd.Env = append(os.Environ(), mainEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("explain as nobody: %v: %s", err, e.String())
	}
	want, _, _ := mainArgs("explain", script)
	if o.String() != want {
		t.Errorf("explain as nobody differs from explain as root:\n%s", o.String())
	}
}

// TestExplainRoundTrip is the spec behind explain: for every script in
// scripts/, its output, run by bash -e in a fresh sandbox, exits 0 (its
// checks pass where the script's expectations do), leaves nothing running
// and builds the same lab as nsscript run of the script (links, addresses,
// routes, forwarding and nft rules compared in normalised form). A script
// whose tools are missing is skipped, saying which (in CI, where .ci/run
// installs them, that is a failure); so is one that needs a link type or
// qdisc this kernel lacks.
func TestExplainRoundTrip(t *testing.T) {
	testenv.NeedNamespaces(t)
	scripts, err := filepath.Glob(filepath.Join("..", "..", "scripts", "*.star"))
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, path := range scripts {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			script := repoScript(t, name)
			out, errOut, code := mainArgs("explain", script)
			if code != ExitOK {
				t.Fatalf("explain: exit %d: %s", code, errOut)
			}
			needExplainTools(t, out)
			needKernelKinds(t, out)
			dir := t.TempDir()
			sh := filepath.Join(dir, strings.TrimSuffix(name, ".star")+".sh")
			if err := os.WriteFile(sh, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
			fromShell := maskLeases(sandboxDump(t, "shell", sh, dir), out)
			fromScript := maskLeases(sandboxDump(t, "script", script, dir), out)
			if fromShell != fromScript {
				t.Errorf("bash %s built another lab than nsscript run %s:\n%s", filepath.Base(sh), name, lineDiff(fromScript, fromShell))
			}
			if !regexp.MustCompile(`(?m)^  link .*\n    addr (\d+\.\d+\.\d+\.\d+|[0-9a-f:]+)/\d+$`).MatchString(fromShell) {
				t.Errorf("dump has no links or addresses:\n%s", fromShell)
			}
		})
	}
}

// maskLeases writes, in a dump, each address within the DHCP range of a
// dnsmasq that the explained script starts as "leased from START-END"
// (with its prefix length). dnsmasq picks a client's address from a hash
// of the client's MAC address: the lab gives each link a MAC address of
// its own, the explained "ip link add" leaves it to the kernel (random),
// so the two labs lease other addresses of the same range. Where they
// lease them, how long the prefix is and how many there are still count.
func maskLeases(dump, script string) string {
	for _, m := range regexp.MustCompile(`(?m)^dhcp-range=([0-9.]+),([0-9.]+)`).FindAllStringSubmatch(script, -1) {
		lo, err1 := netip.ParseAddr(m[1])
		hi, err2 := netip.ParseAddr(m[2])
		if err1 != nil || err2 != nil {
			continue
		}
		dump = regexp.MustCompile(`(?m)^(    addr )([0-9.]+)(/\d+)$`).ReplaceAllStringFunc(dump, func(line string) string {
			a, err := netip.ParsePrefix(strings.TrimSpace(strings.TrimPrefix(line, "    addr ")))
			if err != nil || a.Addr().Less(lo) || hi.Less(a.Addr()) {
				return line
			}
			return fmt.Sprintf("    addr leased from %s-%s/%d", lo, hi, a.Bits())
		})
	}
	return dump
}

// toolPackages names the Debian package of each tool explain's output may
// need (.ci/run installs them).
var toolPackages = map[string]string{
	"ip": "iproute2", "ss": "iproute2", "tc": "iproute2", "bridge": "iproute2",
	"nft": "nftables", "sysctl": "procps", "ping": "iputils-ping", "curl": "curl",
	"nc": "netcat-openbsd", "socat": "socat", "python3": "python3", "conntrack": "conntrack",
	"tcpdump": "tcpdump", "traceroute": "traceroute", "bird": "bird2", "birdc": "bird2",
	"iptables": "iptables", "nsenter": "util-linux", "dig": "bind9-dnsutils", "dnsmasq": "dnsmasq-base",
	"udhcpc": "udhcpc",
	"vtysh":  "frr",
}

// needExplainTools skips the test when a tool the script declares ("#
// needs: ...") is not installed; with NSSCRIPT_REQUIRE_NAMESPACES=1 (CI),
// where .ci/run installs them, that fails it instead.
func needExplainTools(t *testing.T, script string) {
	t.Helper()
	m := regexp.MustCompile(`(?m)^# needs: (.*)$`).FindStringSubmatch(script)
	if m == nil {
		t.Fatalf("explain declares no tools (no \"# needs:\" line):\n%s", script)
	}
	var missing []string
	for _, tool := range strings.Fields(m[1]) {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
		if os.Getenv(testenv.RequireEnv) == "1" && toolPackages[tool] == "" {
			t.Errorf("needs %s, whose Debian package toolPackages does not name (add it there and to .ci/run)", tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	var pkgs []string
	for _, tool := range missing {
		pkgs = append(pkgs, toolPackages[tool])
	}
	msg := fmt.Sprintf("needs %s, not installed (Debian: %s)", strings.Join(missing, " "), strings.Join(pkgs, " "))
	if os.Getenv(testenv.RequireEnv) == "1" {
		t.Fatal(msg + "; .ci/run installs them")
	}
	t.Skip(msg)
}

// needKernelKinds skips the test when the script makes a link type or adds
// a qdisc that this kernel lacks (as specs do with [linktype:NAME] and
// [qdisc:NAME]).
func needKernelKinds(t *testing.T, script string) {
	t.Helper()
	conds := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)\blink add .* type (\w+)`).FindAllStringSubmatch(script, -1) {
		conds["linktype:"+m[1]] = true
	}
	for _, m := range regexp.MustCompile(`(?m)\btc qdisc (?:add|replace) .* (?:root|parent \S+)(?: handle \S+)? (\w+)`).FindAllStringSubmatch(script, -1) {
		conds["qdisc:"+m[1]] = true
	}
	for _, c := range sortedKeys(conds) {
		ok, err := spec.Condition(c)
		if err != nil {
			t.Fatalf("condition %s: %v", c, err)
		}
		if !ok {
			t.Skipf("this kernel lacks %s", c)
		}
	}
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string]bool) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// sandboxDump builds the lab of file in a fresh sandbox (mode "shell": with
// bash, in directory dir; "script": with the lab) and returns its topology
// dump.
func sandboxDump(t *testing.T, mode, file, dir string) string {
	t.Helper()
	var o, e bytes.Buffer
	code, err := sandbox.Run(sandbox.Options{
		Args:   []string{"nsscript-roundtrip"},
		Env:    append(os.Environ(), roundTripEnv+"="+mode, roundTripFileEnv+"="+file, roundTripDirEnv+"="+dir),
		Stdout: &o, Stderr: &e, Stdin: strings.NewReader(""),
	})
	if err != nil || code != 0 {
		t.Fatalf("%s %s in a sandbox: exit %d, %v:\n%s", mode, filepath.Base(file), code, err, e.String())
	}
	return o.String()
}

// TestRunExplain checks that nsscript run --explain prints what explain
// prints, with the results of the run as comments.
func TestRunExplain(t *testing.T) {
	testenv.NeedNamespaces(t)
	t.Parallel()
	script := repoScript(t, "root-to-ns.star")
	out, errOut, code := runNsscript(t, filepath.Dir(script), "run", "--explain", "root-to-ns.star")
	if code != ExitOK {
		t.Fatalf("run --explain: exit %d: %s", code, errOut)
	}
	inOrder(t, out,
		"ip netns exec blue_ns ping -c1 -W1 127.0.0.1\n",
		"# ok   root-to-ns.star:14:1: expect_reachable: blue_ns -> 127.0.0.1: reply in ",
		"! ip netns exec blue_ns ping -c1 -W1 192.168.0.194 || exit 1\n",
		"# ok   root-to-ns.star:27:1: expect_unreachable: blue_ns -> 192.168.0.194: ",
		"# 5 passed, 0 failed\n",
	)
	plan, _, _ := mainArgs("explain", filepath.Join(filepath.Dir(script), "root-to-ns.star"))
	plan = strings.ReplaceAll(plan, filepath.Join(filepath.Dir(script), "root-to-ns.star"), "root-to-ns.star")
	var kept []string
	results := regexp.MustCompile(`^# (ok  |FAIL|\d+ passed, \d+ failed\n)`)
	for _, line := range strings.SplitAfter(out, "\n") {
		if !results.MatchString(line) {
			kept = append(kept, line)
		}
	}
	got := strings.Replace(strings.Join(kept, ""), "nsscript run --explain", "nsscript explain", 1)
	if got != plan {
		t.Errorf("run --explain (results taken out) differs from explain:\n%s", lineDiff(plan, got))
	}
}

// lineDiff lists the lines only in want (-) and only in got (+).
func lineDiff(want, got string) string {
	count := func(s string) map[string]int {
		m := map[string]int{}
		for _, l := range strings.Split(s, "\n") {
			m[l]++
		}
		return m
	}
	w, g := count(want), count(got)
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if g[l] < w[l] {
			b.WriteString("- " + l + "\n")
			w[l]--
		}
	}
	w = count(want)
	for _, l := range strings.Split(got, "\n") {
		if w[l] < g[l] {
			b.WriteString("+ " + l + "\n")
			g[l]--
		}
	}
	return b.String()
}
