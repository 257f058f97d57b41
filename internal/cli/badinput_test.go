package cli

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/nsscript/nsscript/builtins"
	"github.com/nsscript/nsscript/internal/spec"
	"github.com/nsscript/nsscript/internal/testenv"
)

// badInput is one bad script or command line. Every one must end with exit
// status 2, print nothing on stdout and exactly one line on
// stderr: "FILE.star:LINE:COL: builtin: message" for a script, or
// "nsscript run: message" for a usage error.
type badInput struct {
	name    string
	src     string            // lab.star
	files   map[string]string // more files beside it
	args    []string          // flags before lab.star
	argv    []string          // the whole command line instead of run ARGS lab.star
	builtin string            // skip unless this builtin exists
	pos     string            // "lab.star:3:" for a script error, "" for a usage error
	want    string            // part of the message
	// needsMissing names a link kind: the case applies only where this
	// kernel cannot create it (decided by trying, as [linktype:NAME]).
	needsMissing string
	stdout       bool // results on stdout are fine (a probe cut short)
}

// A lab with one veth between two namespaces, for the cases that need
// something to misuse.
const twoNS = `a = netns("a")
b = netns("b")
x, y = veth("x", peer = "y", ns = a, peer_ns = b)
`

var badInputs = []badInput{
	// netns
	{name: "netns/type", src: "netns(42)", pos: "lab.star:1:1", want: "netns: for parameter name: got int, want string"},
	{name: "netns/missing", src: "netns()", pos: "lab.star:1:1", want: "netns: missing argument for name"},
	{name: "netns/unknown-kw", src: `netns("a", nmae = 1)`, pos: "lab.star:1:1", want: `unexpected keyword argument "nmae"`},
	{name: "netns/slash", src: `netns("a/b")`, pos: "lab.star:1:1", want: `contains '/'`},
	{name: "netns/empty", src: `netns("")`, pos: "lab.star:1:1", want: "empty namespace name"},
	{name: "netns/dup", src: "netns(\"a\")\nnetns(\"a\")", pos: "lab.star:2:1", want: `"a" already exists (made at lab.star:1:1)`},
	{name: "netns/long", src: `netns("n" * 65)`, pos: "lab.star:1:1", want: "longer than 64 bytes"},
	{name: "netns/host", src: `netns("host")`, pos: "lab.star:1:1", want: `"host" already exists`},
	{name: "netns/unknown-existing", src: `netns("gone", existing = True)`, pos: "lab.star:1:1", want: "no namespace at"},
	// In the sandbox only the lab's processes are visible (PID 1 is nsscript
	// itself); internal/reliability's TestSandboxEscape tries real targets.
	{name: "netns/escape-path", src: `netns("out", path = "/proc/4000000/ns/net")`, pos: "lab.star:1:1", want: "needs --host"},
	{name: "netns/escape-pid", src: `netns("out", pid = 4000000)`, pos: "lab.star:1:1", want: "needs --host"},
	// veth
	{name: "veth/long-name", src: `veth("a123456789012345")`, pos: "lab.star:1:1", want: "longer than 15 bytes"},
	{name: "veth/slash", src: `veth("a/b")`, pos: "lab.star:1:1", want: `contains '/'`},
	{name: "veth/unknown-ns", src: `veth(ns = "nope")`, pos: "lab.star:1:1", want: `no namespace "nope"`},
	{name: "veth/ns-type", src: `veth(peer_ns = 42)`, pos: "lab.star:1:1", want: `for parameter "peer_ns": got int, want netns or string`},
	{name: "veth/mtu-type", src: `veth(mtu = "big")`, pos: "lab.star:1:1", want: `for parameter "mtu": got string, want int`},
	{name: "veth/mtu-range", src: `veth(mtu = 10)`, pos: "lab.star:1:1", want: "invalid mtu 10"},
	{name: "veth/mac", src: `veth(mac = "zz:00")`, pos: "lab.star:1:1", want: "invalid mac address"},
	{name: "veth/same-names", src: `veth("a", peer = "a")`, pos: "lab.star:1:1", want: "both ends are called a"},
	{name: "veth/dup", src: "veth(\"a\")\nveth(\"a\")", pos: "lab.star:2:1", want: "already exists"},
	{name: "veth/unknown-kw", src: `veth(colour = "red")`, pos: "lab.star:1:1", want: `unexpected keyword argument "colour"`},
	// bridge
	{name: "bridge/missing", src: `bridge()`, pos: "lab.star:1:1", want: "missing argument for name"},
	{name: "bridge/bad-addr", src: `bridge("br0", addr = "10.0.0.300/24")`, pos: "lab.star:1:1", want: `invalid address "10.0.0.300/24"`},
	{name: "bridge/bad-prefix", src: `bridge("br0", addr = "10.0.0.1/33")`, pos: "lab.star:1:1", want: `invalid address "10.0.0.1/33"`},
	{name: "bridge/addr-type", src: `bridge("br0", addr = 42)`, pos: "lab.star:1:1", want: "got int, want address string"},
	{name: "bridge/dup-addr", src: `bridge("br0", addr = ["10.0.0.1/24", "10.0.0.1/24"])`, pos: "lab.star:1:1", want: "already has address 10.0.0.1/24"},
	// link and link methods
	{name: "link/unknown", src: `link(host, "nope")`, pos: "lab.star:1:1", want: `no link "nope" in netns "host" (it has: lo)`},
	{name: "link/unknown-ns", src: `link("nope", "x")`, pos: "lab.star:1:1", want: `no namespace "nope"`},
	{name: "addr/bad-v6", src: twoNS + `x.addr("fd00::1/129")`, pos: "lab.star:4:1", want: `invalid address "fd00::1/129"`},
	{name: "addr/none", src: twoNS + `x.addr()`, pos: "lab.star:4:1", want: "want at least one address"},
	{name: "addr/kw", src: twoNS + `x.addr("10.0.0.1/24", foo = 1)`, pos: "lab.star:4:1", want: `unexpected keyword argument "foo"`},
	{name: "set/master-not-bridge", src: twoNS + "p, q = veth(ns = a)\nx.set(master = p)", pos: "lab.star:5:1", want: "not a bridge"},
	{name: "set/master-wrong-ns", src: twoNS + "br = bridge(\"br0\")\nx.set(master = br)", pos: "lab.star:5:1", want: `but bridge br0 is in netns "host"`},
	{name: "set/up-type", src: twoNS + `x.set(up = "yes")`, pos: "lab.star:4:1", want: `for parameter "up": got string, want bool`},
	{name: "rename/long", src: twoNS + "x.down()\nx.rename(\"r123456789012345\")", pos: "lab.star:5:1", want: "longer than 15 bytes"},
	{name: "up/args", src: twoNS + `x.up(1)`, pos: "lab.star:4:1", want: "up: got 1 arguments, want 0"},
	{name: "move/unknown-ns", src: twoNS + `x.move("nope")`, pos: "lab.star:4:1", want: `no namespace "nope"`},
	{name: "link/no-attr", src: twoNS + `x.colour`, pos: "lab.star:4:2", want: "link has no .colour field or method"},
	// route
	{name: "route/bad-dst", src: twoNS + `route(a, "10.0.0.0/33", via = "10.0.0.1")`, pos: "lab.star:4:1", want: `invalid destination "10.0.0.0/33"`},
	{name: "route/no-via", src: twoNS + `route(a, "default")`, pos: "lab.star:4:1", want: "needs via or dev"},
	{name: "route/unreachable-gw", src: twoNS + `route(a, "default", via = "10.9.9.9")`, pos: "lab.star:4:1", want: "gateway 10.9.9.9 is not on any directly connected network"},
	{name: "route/mixed-families", src: twoNS + `route(a, "10.1.0.0/16", via = "fd00::1")`, pos: "lab.star:4:1", want: "different families"},
	{name: "route/dev-wrong-ns", src: twoNS + `route(a, "10.1.0.0/16", dev = y)`, pos: "lab.star:4:1", want: `dev y is in netns "b", not "a"`},
	{name: "route/bad-gw", src: twoNS + `route(a, "default", via = "nonsense")`, pos: "lab.star:4:1", want: `invalid gateway "nonsense"`},
	{name: "route/default6-v4", src: twoNS + `route(a, "default6", via = "10.0.0.1")`, pos: "lab.star:4:1", want: "default6 is an IPv6 route"},
	{name: "route/metric", src: twoNS + `route(a, "default", dev = x, metric = -1)`, pos: "lab.star:4:1", want: "invalid metric -1"},
	{name: "route/metric-wrap", src: twoNS + `route(a, "default", dev = x, metric = 1 << 32)`, pos: "lab.star:4:1", want: "invalid metric 4294967296 (want 0 to 4294967295)"},
	{name: "tap/owner-wrap", src: `tap(owner = (1 << 32) + 1000)`, pos: "lab.star:1:1", want: "invalid owner 4294968296"},
	// sysctl and forwarding
	{name: "sysctl/not-net", src: `sysctl(host, "kernel.hostname", "x")`, pos: "lab.star:1:1", want: "only net.* keys are allowed"},
	{name: "sysctl/unknown", src: `sysctl(host, "net.ipv4.nope", 1)`, pos: "lab.star:1:1", want: "no sysctl net.ipv4.nope"},
	{name: "sysctl/value-type", src: `sysctl(host, "net.ipv4.ip_forward", [1])`, pos: "lab.star:1:1", want: "for parameter value: got list"},
	{name: "sysctl/dotdot", src: `sysctl(host, "net.ipv4/../../kernel.x")`, pos: "lab.star:1:1", want: "invalid sysctl key"},
	{name: "forwarding/unknown-ns", src: `forwarding("nope")`, pos: "lab.star:1:1", want: `no namespace "nope"`},
	{name: "forwarding/on-type", src: `forwarding(host, on = "yes")`, pos: "lab.star:1:1", want: `for parameter "on": got string, want bool`},
	// probes
	{name: "ping/bad-dst", src: `ping(host, "10.0.0.300")`, pos: "lab.star:1:1", want: `invalid address "10.0.0.300"`},
	{name: "ping/count", src: `ping(host, "10.0.0.1", count = 0)`, pos: "lab.star:1:1", want: "invalid count 0"},
	{name: "ping/timeout", src: `ping(host, "10.0.0.1", timeout = "soon")`, pos: "lab.star:1:1", want: `invalid duration "soon"`},
	{name: "expect/missing-dst", src: `expect_reachable(host)`, pos: "lab.star:1:1", want: "missing argument for dst"},
	{name: "expect/no-address", src: "e = netns(\"e\")\nexpect_reachable(host, e)", pos: "lab.star:2:1", want: `netns "e" has no address to probe`},
	{name: "expect/timeout-range", src: `expect_unreachable(host, "10.0.0.1", timeout = -1)`, pos: "lab.star:1:1", want: "out of range"},
	// builtins that other domains add
	{name: "dummy/unsupported", builtin: "dummy", needsMissing: "dummy", src: `dummy("d0")`, pos: "lab.star:1:1", want: "not supported by this kernel"},
	{name: "vlan/unsupported", builtin: "vlan", needsMissing: "vlan", src: "p, _ = veth()\nvlan(p, 10)", pos: "lab.star:2:1", want: "not supported by this kernel"},
	{name: "macvlan/missing-parent", builtin: "macvlan", src: `macvlan("nope")`, pos: "lab.star:1:1", want: "macvlan:"},
	{name: "masquerade/bad-cidr", builtin: "masquerade", src: `masquerade(host, src = "10.0.0.0/33")`, pos: "lab.star:1:1", want: "10.0.0.0/33"},
	{name: "port_forward/bad-port", builtin: "port_forward", src: `port_forward(host, 99999, "10.0.0.1:80")`, pos: "lab.star:1:1", want: "port_forward:"},
	{name: "serve/bad-proto", builtin: "serve", src: `serve(host, "sctp", ":80")`, pos: "lab.star:1:1", want: "serve:"},
	{name: "impair/bad-delay", builtin: "impair", src: "p, _ = veth()\nimpair(p, delay = \"soon\")", pos: "lab.star:2:1", want: "impair:"},
	{name: "reachability/type", builtin: "reachability", src: `reachability(42)`, pos: "lab.star:1:1", want: "for parameter nss: got int"},
	{name: "ipvlan/mode", builtin: "ipvlan", src: "p, _ = veth()\nipvlan(p, mode = \"l9\")", pos: "lab.star:2:1", want: `unknown ipvlan mode "l9"`},
	{name: "tap/mode", builtin: "tap", src: `tap("t0", mode = "x")`, pos: "lab.star:1:1", want: `unknown mode "x"`},
	{name: "vxlan/no-remote", builtin: "vxlan", src: `vxlan("vx0", vni = 42)`, pos: "lab.star:1:1", want: "vxlan: want remote"},
	{name: "firewall/action", builtin: "firewall", src: `firewall(host, "explode")`, pos: "lab.star:1:1", want: `unknown action "explode"`},
	{name: "connect/no-port", builtin: "connect", src: `connect(host, "10.0.0.1")`, pos: "lab.star:1:1", want: `invalid address "10.0.0.1"`},
	{name: "http_get/scheme", builtin: "http_get", src: `http_get(host, "ftp://x")`, pos: "lab.star:1:1", want: `invalid url "ftp://x"`},
	{name: "expect_connect/port", builtin: "expect_connect", src: `expect_connect(host, "10.0.0.1:99999")`, pos: "lab.star:1:1", want: `invalid address "10.0.0.1:99999"`},
	{name: "expect_no_connect/proto", builtin: "expect_no_connect", src: `expect_no_connect(host, "10.0.0.1:80", proto = "icmp")`, pos: "lab.star:1:1", want: `invalid proto "icmp"`},
	{name: "expect_http/status-type", builtin: "expect_http", src: `expect_http(host, "http://10.0.0.1/", status = "ok")`, pos: "lab.star:1:1", want: "got string, want int"},
	{name: "expect_no_http/url-type", builtin: "expect_no_http", src: `expect_no_http(host, 42)`, pos: "lab.star:1:1", want: "for parameter url: got int"},
	{name: "run/empty", builtin: "run", src: `run(host, [])`, pos: "lab.star:1:1", want: "empty command"},
	{name: "transfer/size", builtin: "transfer", src: `transfer(host, "10.0.0.1:5000", size = "lots")`, pos: "lab.star:1:1", want: `invalid size "lots"`},
	{name: "expect_rate/no-server", builtin: "expect_rate", src: `expect_rate(host, "10.0.0.1", rate = "1Mbit")`, pos: "lab.star:1:1", want: "expect_rate:"},
	{name: "expect_rtt/no-bound", builtin: "expect_rtt", src: `expect_rtt(host, "10.0.0.1")`, pos: "lab.star:1:1", want: "want min, max or both"},
	// the language
	{name: "load/outside", src: `load("../x.star", "y")`, pos: "lab.star:1:1", want: "outside the script's directory"},
	{name: "load/absolute", src: `load("/etc/passwd", "y")`, pos: "lab.star:1:1", want: "only paths relative to the script"},
	{name: "load/error-inside", src: `load("lib.star", "z")`, files: map[string]string{"lib.star": "z = 1\nnetns(42)\n"}, pos: "lab.star:1:1", want: "cannot load lib.star: lib.star:2:1: netns: for parameter name"},
	{name: "syntax", src: "def (", pos: "lab.star:1:6", want: "syntax error"},
	{name: "nul-byte", src: "x = 1\x00\nnetns(42)", pos: "lab.star:1:6", want: "syntax error: NUL byte"},
	{name: "load/nul-byte", src: `load("lib.star", "z")`, files: map[string]string{"lib.star": "z = 1\n\x00"}, pos: "lab.star:1:1", want: "cannot load lib.star: lib.star:2:1: syntax error: NUL byte"},
	{name: "undefined", src: "frob()", pos: "lab.star:1:1", want: "undefined: frob"},
	{name: "type-error", src: `x = 1 + "a"`, pos: "lab.star:1:7", want: "unknown binary op: int + string"},
	{name: "recursion", src: "def f(n):\n    return f(n + 1)\nf(0)", pos: "lab.star:2:", want: "called recursively"},
	{name: "endless-loop", src: "while True:\n    pass", args: []string{"--timeout", "500ms", "--max-steps", "100000000000"},
		pos: "lab.star:1:1", want: "timeout: run stopped after 500ms"},
	{name: "probe-outlasts-timeout", src: "a, b = veth()\na.addr(\"10.9.0.1/24\")\nr = ping(host, \"10.9.0.99\", timeout = \"60s\")\nprint(r)",
		args: []string{"--timeout", "500ms"}, pos: "lab.star:3:5", want: "timeout: run stopped after 500ms"},
	{name: "expect-outlasts-timeout", src: "a, b = veth()\na.addr(\"10.9.0.1/24\")\nexpect_reachable(host, \"10.9.0.99\", timeout = \"60s\")",
		args: []string{"--timeout", "500ms"}, want: "nsscript run: timeout: run stopped after 500ms", stdout: true},
	{name: "step-limit", src: "while True:\n    pass", args: []string{"--max-steps", "10000"}, pos: "lab.star:1:1", want: "too many steps"},
	{name: "object-cap", src: "for i in range(100):\n    netns(\"n%d\" % i)", args: []string{"--max-objects", "5"}, pos: "lab.star:2:5", want: "lab object limit of 5 reached"},
	// the command line
	{name: "cli/no-file", argv: []string{"run"}, want: "want exactly one script"},
	{name: "cli/two-files", argv: []string{"run", "lab.star", "lab.star"}, want: "want exactly one script"},
	{name: "cli/missing-file", argv: []string{"run", "missing.star"}, want: "missing.star: no such file or directory"},
	{name: "cli/negative-timeout", args: []string{"--timeout", "-1s"}, want: "--timeout must not be negative"},
	{name: "cli/bad-timeout", args: []string{"--timeout", "soon"}, want: `invalid value "soon" for flag -timeout`},
	{name: "cli/unknown-flag", args: []string{"--bogus"}, want: "flag provided but not defined: -bogus"},
	{name: "cli/set-no-value", args: []string{"--set", "novalue"}, want: `--set "novalue": want NAME=VALUE`},
	{name: "cli/set-builtin", args: []string{"--set", "veth=1"}, want: `"veth" is a builtin`},
	{name: "cli/max-objects", args: []string{"--max-objects", "0"}, want: "--max-objects and --max-steps must be at least 1"},
	{name: "cli/keep-without-host", args: []string{"--keep"}, want: "--keep only makes sense with --host"},
}

var (
	scriptErrRE = regexp.MustCompile(`^[^:\s]+\.star:\d+:\d+: \S`)
	// Go type names and pointers do not belong in a user's message.
	goTypeRE = regexp.MustCompile(`\*?\b(netlink|lab|starlark|builtins|probe|netip|syscall|unix|os|nftables)\.[A-Z]|0x[0-9a-f]{6,}|goroutine \d`)
	// "veth: veth: ..." or "create x: create x: ..."
	doublePrefixRE = regexp.MustCompile(`(?:^|: )([a-z_]+): ([a-z_]+): `)
)

// TestBadInputs runs the catalogue of bad input through the real CLI (each
// in its sandbox) and holds every one to the rules above.
func TestBadInputs(t *testing.T) {
	testenv.NeedNamespaces(t)
	t.Parallel()
	testenv.LockHost(t, false)
	before := hostState(t)
	tried, positioned := 0, 0
	for _, tc := range badInputs {
		t.Run(tc.name, func(t *testing.T) {
			if tc.builtin != "" && builtins.Lookup(tc.builtin) == nil {
				t.Skipf("no builtin %s yet", tc.builtin)
			}
			if tc.needsMissing != "" {
				if has, err := spec.Condition("linktype:" + tc.needsMissing); err != nil || has {
					t.Skipf("this kernel has %s links (%v)", tc.needsMissing, err)
				}
			}
			tried++
			dir := writeScript(t, "lab.star", tc.src)
			for name, src := range tc.files {
				writeFile(t, dir+"/"+name, src)
			}
			args := tc.argv
			if args == nil {
				args = append(append([]string{"run"}, tc.args...), "lab.star")
			}
			out, errOut, code := runNsscript(t, dir, args...)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if out != "" && !tc.stdout {
				t.Errorf("stdout not empty:\n%s", out)
			}
			line, ok := strings.CutSuffix(errOut, "\n")
			if !ok || strings.Contains(line, "\n") {
				t.Fatalf("stderr is not exactly one line:\n%s", errOut)
			}
			switch {
			case tc.pos != "":
				if !scriptErrRE.MatchString(line) || !strings.HasPrefix(line, tc.pos) {
					t.Errorf("stderr %q: want a position starting %q", line, tc.pos)
				} else {
					positioned++
				}
			case !strings.HasPrefix(line, "nsscript run: "):
				t.Errorf("stderr %q: want a usage error starting \"nsscript run: \"", line)
			}
			t.Log(line)
			if !strings.Contains(line, tc.want) {
				t.Errorf("stderr %q: want it to contain %q", line, tc.want)
			}
			if m := goTypeRE.FindString(line); m != "" {
				t.Errorf("stderr %q: names Go internals (%q)", line, m)
			}
			if m := doublePrefixRE.FindStringSubmatch(line); m != nil && m[1] == m[2] {
				t.Errorf("stderr %q: repeats the prefix %q", line, m[1])
			}
		})
	}
	if after := hostState(t); after != before {
		t.Errorf("host changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	t.Logf("%d bad inputs tried: %d script errors with a positioned one-line error, the rest one-line usage errors (or failures above)",
		tried, positioned)
}

func writeFile(t *testing.T, path, src string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}
