package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsscript/nsscript/builtins"
	"github.com/nsscript/nsscript/internal/lab"
	"github.com/nsscript/nsscript/internal/testenv"
	"github.com/nsscript/nsscript/lang"
)

// bundleRun runs src against a fresh lab with the failure hooks of
// nsscript run and returns what it printed.
func bundleRun(t *testing.T, src, dir string) string {
	t.Helper()
	testenv.NeedNamespaces(t)
	testenv.NeedRoot(t)
	l, err := lab.New(lab.Options{FreshHost: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var out strings.Builder
	env := &Env{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}
	r := builtins.NewRun(context.Background(), l, &out)
	defer r.Close()
	setupRun(r, env, l, dir)
	_, err = lang.Exec(context.Background(), lang.Options{Filename: "lab.star", Src: []byte(src),
		Predeclared: builtins.Predeclared(r), Print: r.Print, SetupThread: r.SetupThread})
	if err != nil {
		t.Fatal(err)
	}
	r.Finish()
	return out.String()
}

const natFailSrc = `net1 = netns("net1")
net2 = netns("net2")
br = bridge("br00", addr = "10.100.0.1/16")
for ns, ip in [(net1, "10.100.0.10/16"), (net2, "10.100.0.20/16")]:
    outer, inner = veth(peer_ns = ns)
    outer.set(master = br)
    inner.addr(ip)
route(net1, "default", via = "10.100.0.1")
masquerade(host, src = "10.100.0.0/16", not_out = br)
expect_reachable(net2, "10.200.0.1")
expect_reachable(net1, "10.200.0.1", timeout = "200ms")
net2.links[0].down()
expect_reachable(net1, net2, timeout = "200ms")
`

func TestBundlePrintsWhatExplains(t *testing.T) {
	dir := t.TempDir()
	out := bundleRun(t, natFailSrc, dir)
	inOrder(t, out,
		// No route at all: the source alone explains it.
		"FAIL lab.star:10:1: expect_reachable: net2 -> 10.200.0.1: network is unreachable\n",
		"     net2 (source):\n",
		"       route to 10.200.0.1: none (network is unreachable)\n",
		"       link eth0 UP       10.100.0.20/16 peer host/veth1\n",
		"       routes: 10.100.0.0/16 dev eth0 src 10.100.0.20\n",
		// Through the gateway: the host is shown, with its missing route
		// and its NAT rule.
		"FAIL lab.star:11:1: expect_reachable: net1 -> 10.200.0.1: no reply in 200ms\n",
		"     net1 (source):\n",
		"       route to 10.200.0.1: via 10.100.0.1 dev eth0 src 10.100.0.10\n",
		"       routes: default via 10.100.0.1 dev eth0; 10.100.0.0/16 dev eth0 src 10.100.0.10\n",
		"     host (gateway):\n",
		"       route to 10.200.0.1: none (network is unreachable)\n",
		"       link veth0 UP       - master br00 peer net1/eth0\n",
		"       net.ipv4.ip_forward=0\n",
		"       nft: table inet nsscript chain postrouting (postrouting hook): 1 rule\n",
		`       nft: rule inet nsscript postrouting oifname != "br00" ip saddr 10.100.0.0/16 masquerade  (lab.star:9:1)`,
		// A down link at the destination.
		"FAIL lab.star:13:1: expect_reachable: net1 -> net2 (10.100.0.20): no reply in 200ms\n",
		"     host (bridge br00):\n",
		"     net2 (destination):\n",
		"       link eth0 DOWN     10.100.0.20/16 peer host/veth1\n",
		"       routes: none\n",
		"0 passed, 3 failed\n",
	)
	sum, err := os.ReadFile(filepath.Join(dir, "summary.txt"))
	if err != nil {
		t.Fatal(err)
	}
	inOrder(t, string(sum),
		"1. FAIL lab.star:10:1: expect_reachable: net2 -> 10.200.0.1: network is unreachable\n   see net2.txt\n",
		"2. FAIL lab.star:11:1: expect_reachable: net1 -> 10.200.0.1: no reply in 200ms\n   see net1.txt, host.txt\n",
		"3. FAIL lab.star:13:1: expect_reachable: net1 -> net2 (10.100.0.20): no reply in 200ms\n   see net1.txt, host.txt, net2.txt\n")
	net2, _ := os.ReadFile(filepath.Join(dir, "net2.txt"))
	inOrder(t, string(net2),
		"== failure 1: FAIL lab.star:10:1:", "namespace net2 (source of the probe)",
		"links:\n", "  eth0: veth state UP mtu 1500 mac ", "    inet 10.100.0.20/16\n",
		"routes:\n  10.100.0.0/16 dev eth0 src 10.100.0.20\n", "sysctls:\n  net.ipv4.ip_forward=0\n", "nftables:\n  (none)\n",
		"== failure 3: FAIL lab.star:13:1:", "namespace net2 (destination of the probe)", "  eth0: veth state DOWN")
	host, _ := os.ReadFile(filepath.Join(dir, "host.txt"))
	if !strings.Contains(string(host), "masquerade  (lab.star:9:1)") {
		t.Errorf("host.txt lacks the NAT rule:\n%s", host)
	}
}

func TestBundleBadDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	out := bundleRun(t, "a = netns(\"a\")\nexpect_reachable(a, \"10.1.1.1\")\nexpect_reachable(a, \"10.1.1.2\")\n", filepath.Join(file, "sub"))
	if strings.Count(out, "nsscript: --bundle: ") != 1 {
		t.Errorf("want one --bundle warning:\n%s", out)
	}
}

// TestRunBundleFlag checks the flag end to end, through the sandbox.
func TestRunBundleFlag(t *testing.T) {
	testenv.NeedNamespaces(t)
	t.Parallel()
	dir := writeScript(t, "lab.star", "a = netns(\"a\")\nexpect_reachable(a, \"10.1.1.1\")\n")
	out, errOut, code := runNsscript(t, dir, "run", "--bundle", "why", "lab.star")
	if code != 1 || !strings.Contains(out, "     a (source):\n       route to 10.1.1.1: none (network is unreachable)\n") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, f := range []string{"summary.txt", "a.txt"} {
		if _, err := os.Stat(filepath.Join(dir, "why", f)); err != nil {
			t.Error(err)
		}
	}
}

// inOrder checks that every piece occurs in s, each after the one before.
func inOrder(t *testing.T, s string, pieces ...string) {
	t.Helper()
	rest := s
	for _, p := range pieces {
		i := strings.Index(rest, p)
		if i < 0 {
			t.Errorf("missing (or out of order): %q\nin:\n%s", p, s)
			return
		}
		rest = rest[i+len(p):]
	}
}

func TestBundleCap(t *testing.T) {
	out := bundleRun(t, "a = netns(\"a\")\nfor i in range(12):\n    expect_reachable(a, \"10.1.1.%d\" % i)\n", "")
	if n := strings.Count(out, "     a (source):\n"); n != maxPrinted {
		t.Errorf("%d explanations, want %d", n, maxPrinted)
	}
	if n := strings.Count(out, "     (later failures are not explained here; --bundle DIR writes them)\n"); n != 1 {
		t.Errorf("%d notes, want 1:\n%s", n, out)
	}
}
