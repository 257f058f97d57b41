package builtins

import (
	"strings"
	"testing"
)

func TestBridgeScript(t *testing.T) {
	t.Parallel()
	out, err := runScript(t, `
net1 = netns("net1")
net2 = netns("net2")
br = bridge("br00", addr = "10.100.0.1/16")
for ns, ip in [(net1, "10.100.0.10/16"), (net2, "10.100.0.20/16")]:
    outer, inner = veth(peer_ns = ns)
    outer.set(master = br)
    inner.addr(ip)
    route(ns, "default", via = "10.100.0.1")
expect_reachable(net1, "10.100.0.20")
expect_reachable(net2, net1)
expect_unreachable(net1, "10.200.0.1", timeout = "200ms")
`)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out,
		"ok   lab.star:10:1: expect_reachable: net1 -> 10.100.0.20: reply in",
		"ok   lab.star:11:1: expect_reachable: net2 -> net1 (10.100.0.10): reply in",
		"ok   lab.star:12:1: expect_unreachable: net1 -> 10.200.0.1: no reply in 200ms",
		"3 passed, 0 failed\n")
}

func TestValuesAndMethods(t *testing.T) {
	t.Parallel()
	out, err := runScript(t, `
a = netns("a")
b = netns("b")
x, y = veth("x0", peer = "y0", ns = a, peer_ns = b, mtu = 1400, mac = "02:00:00:00:00:01")
x.addr("10.0.0.1/24", "fd00::1/64")
y.addr(["10.0.0.2/24"])
print(x, y, a, host)
print(x.name, x.ns.name, x.kind, x.mtu, x.mac, x.addrs, x.peer.name, x.master)
print(a.addrs, a.addr, [l.name for l in b.links], a.link("x0").name, link(b, "y0").name)
print(type(x), type(a), x.index > 0)
r = ping(a, "10.0.0.2", count = 2, interval = "10ms")
print(r.ok, r.sent, r.received, r.outcome, r.rtt > 0)
r = ping(a, "10.9.9.9")
print(r.ok, r.outcome, r.detail)
y.set(mtu = 1300, mac = "02:00:00:00:00:02", up = False)
print(y.mtu, y.mac)
expect_unreachable(a, b, timeout = "200ms")
y.up()
expect_reachable(a, y)
y.down()
y.rename("eth9")
y.move(a)
print(y.ns.name, y.name, y.addrs)
br = bridge("br1", ns = b)
print(br.ns.name, br.kind)
print(sysctl(a, "net.ipv4.ip_forward"), sysctl(a, "net.ipv4.ip_forward", 1), sysctl(a, "net.ipv4.ip_forward"))
forwarding(b)
print(sysctl(b, "net.ipv6.conf.all.forwarding"))
forwarding(b, on = False)
print(sysctl(b, "net.ipv4.ip_forward"))
x.delete()
print([l.name for l in a.links])
`)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out,
		`<link x0 in a> <link y0 in b> <netns "a"> <netns "host">`,
		`x0 a veth 1400 02:00:00:00:00:01 ["10.0.0.1/24", "fd00::1/64"] y0 None`,
		`["10.0.0.1/24", "fd00::1/64"] 10.0.0.1 ["y0"] x0 y0`,
		`link netns True`,
		`True 2 2 reply True`,
		`False no route network is unreachable`,
		`1300 02:00:00:00:00:02`,
		"ok   lab.star:17:1: expect_unreachable: a -> b (10.0.0.2): no reply in 200ms",
		"ok   lab.star:19:1: expect_reachable: a -> b/y0 (10.0.0.2): reply in",
		`a eth9 []`,
		`b bridge`,
		`0 0 1`,
		`1`,
		`0`,
		`[]`,
		"2 passed, 0 failed")
}

func TestFailingExpectation(t *testing.T) {
	t.Parallel()
	out, err := runScript(t, `
a = netns("a")
b = netns("b")
x, y = veth(ns = a, peer_ns = b)
x.addr("10.0.0.1/24")
y.addr("10.0.0.2/24")
expect_reachable(a, "10.0.1.2", timeout = "200ms")
expect_unreachable(a, "10.0.0.2", timeout = "200ms")
print("after")
expect_reachable(a, "10.0.0.3", timeout = "200ms")
`)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out,
		"FAIL lab.star:7:1: expect_reachable: a -> 10.0.1.2: network is unreachable",
		"FAIL lab.star:8:1: expect_unreachable: a -> 10.0.0.2: got a reply in",
		"after\n",
		"FAIL lab.star:10:1: expect_reachable: a -> 10.0.0.3: no reply in 200ms",
		"0 passed, 3 failed")
}

func TestScriptErrors(t *testing.T) {
	t.Parallel()
	wantErrors(t, runPlan, []struct{ src, want string }{
		{"netns(42)", "lab.star:1:1: netns: for parameter name: got int, want string"},
		{"veth(nmae = 'x')", `lab.star:1:1: veth: unexpected keyword argument "nmae" (did you mean name?)`},
		{"veth('x', peer = 'x')", `lab.star:1:1: veth: both ends are called x in netns "host"`},
		{"a = netns('a')\na.bogus", "lab.star:2:2: netns has no .bogus field or method"},
		{"veth('a-very-long-name1')", `veth: invalid link name "a-very-long-name1": longer than 15 bytes`},
		{"netns('a')\nnetns('a')", `lab.star:2:1: netns: namespace "a" already exists (made at lab.star:1:1)`},
		{"route('nope', 'default', via = '10.0.0.1')", `route: for parameter ns: no namespace "nope"`},
		{"x, y = veth()\nx.addr('10.0.0.300/24')", `lab.star:2:1: addr: for parameter 1: invalid address "10.0.0.300/24"`},
		{"route(host, 'default')", "route: route to default needs via or dev"},
		{"route(host, '10.0.0.0/8', via = 'fd00::1')", "of different families"},
		{"sysctl(host, 'kernel.panic', 1)", `sysctl: sysctl "kernel.panic" is not a per-namespace network setting`},
		{"sysctl(host, 'net.ipv4.ip_forward', value = [1])", `lab.star:1:1: sysctl: for parameter "value": got list, want string, int or bool`},
		{"ping(host, 'nowhere')", `ping: for parameter dst: invalid address "nowhere"`},
		{"expect_reachable(host, '10.0.0.1', timeout = 'soon')", `for parameter "timeout": invalid duration "soon"`},
		{"x, y = veth()\ny.set(master = x)", `set: for parameter "master": veth0 is a veth, not a bridge`},
		{"x, y = veth()\ny.set(master = 1)", `set: for parameter "master": got int, want link`},
	})
}

// TestSpellingHint: one hint for a misspelt keyword: Starlark's, or, where
// Starlark has none (two letters swapped in a short name), ours.
func TestSpellingHint(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ src, want string }{
		{"veth(nmae = 'x')", `lab.star:1:1: veth: unexpected keyword argument "nmae" (did you mean name?)`},
		{"veth(peer_sn = 'x')", `veth: unexpected keyword argument "peer_sn" (did you mean peer?)`},
		{"veth(zzzzzz = 'x')", `veth: unexpected keyword argument "zzzzzz"`},
		{"x, y = veth()\nx.set(mtuu = 1400)", `lab.star:2:1: set: unexpected keyword argument "mtuu" (did you mean mtu?)`},
		{"x, y = veth()\nx.addr(adr = '10.0.0.1/24')", `lab.star:2:1: addr: unexpected keyword argument "adr"`},
		{"x, y = veth()\nx.set(hiarpin = True)", `lab.star:2:1: set: unexpected keyword argument "hiarpin" (did you mean hairpin?)`},
	} {
		_, err := runPlan(t, tc.src)
		wantError(t, tc.src, err, tc.want)
		if err != nil && (strings.Count(err.Error(), "did you mean") > 1 || strings.HasSuffix(tc.want, `"`) && strings.Contains(err.Error(), "did you mean")) {
			t.Errorf("%s: %v", tc.src, err)
		}
	}
}
