package builtins

import (
	"strings"
	"testing"
)

// natTopo is inside behind router, which routes to outside; outside has no
// route back to 10.100.0.0/16, like the internet.
const natTopo = `
inside = netns("inside")
router = netns("router")
outside = netns("outside")
a, lan = veth(ns = inside, peer_ns = router)
a.addr("10.100.0.10/16")
lan.addr("10.100.0.1/16")
wan, b = veth(ns = router, peer_ns = outside)
wan.addr("203.0.113.1/24")
b.addr("203.0.113.2/24")
route(inside, "default", via = "10.100.0.1")
forwarding(router)
`

func TestMasqueradeScript(t *testing.T) {
	t.Parallel()
	out, err := runScript(t, natTopo+`
web = serve(outside, "http", 80)
expect_no_http(inside, "http://203.0.113.2/", timeout = "300ms")
masquerade(router, src = "10.100.0.1/16", not_out = lan)
expect_http(inside, "http://203.0.113.2/", seen_as = wan)
expect_connect(inside, web, seen_as = inside)
print(web.peers[-1].startswith("203.0.113.1:"))
echo = serve(outside, "tcp", 7)
expect_connect(inside, echo, seen_as = inside)
`)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out,
		"ok   lab.star:15:1: expect_no_http: inside -> http://203.0.113.2/: no answer in 300ms",
		"ok   lab.star:17:1: expect_http: inside -> http://203.0.113.2/: 200 ok, 23 bytes in ",
		"(seen as 203.0.113.1:",
		"FAIL lab.star:18:1: expect_connect: inside -> outside (203.0.113.2:80) (tcp): connected in ",
		"but the server did not report the address it saw (is it a built-in server, from serve()?)",
		"True",
		"FAIL lab.star:21:1: expect_connect: inside -> outside (203.0.113.2:7) (tcp): connected in ",
		"but the server saw 203.0.113.1, not 10.100.0.10",
		"2 passed, 2 failed")
}

func TestPortForwardAndFirewallScript(t *testing.T) {
	t.Parallel()
	out, err := runScript(t, natTopo+`
app = serve(inside, "tcp", ":9000")
port_forward(router, 8080, to = "10.100.0.10:9000", in_ = "eth1")
port_forward(router, 5353, to = inside, proto = "udp")
dns = serve(inside, "udp", 5353)
expect_connect(outside, "203.0.113.1:8080", seen_as = outside)
expect_connect(outside, "203.0.113.1:5353", proto = "udp", seen_as = "203.0.113.2")
expect_no_connect(outside, "203.0.113.1:9000")
firewall(router, "accept", state = "established,related")
firewall(router, "reject", in_ = wan, proto = "tcp", port = 9000)  # after DNAT
firewall(router, "drop", hook = "input", proto = "icmp")
expect_no_connect(outside, "203.0.113.1:8080")
expect_connect(outside, "203.0.113.1:5353", proto = "udp")
expect_unreachable(outside, wan, timeout = "300ms")
print(app.peers)
`)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out,
		"ok   lab.star:18:1: expect_connect: outside -> 203.0.113.1:8080 (tcp): connected in ",
		"ok   lab.star:19:1: expect_connect: outside -> 203.0.113.1:5353 (udp): reply in ",
		"ok   lab.star:20:1: expect_no_connect: outside -> 203.0.113.1:9000 (tcp): connection refused",
		"ok   lab.star:24:1: expect_no_connect: outside -> 203.0.113.1:8080 (tcp): no route to host",
		"ok   lab.star:25:1: expect_connect: outside -> 203.0.113.1:5353 (udp): reply in ",
		"ok   lab.star:26:1: expect_unreachable: outside -> router/eth1 (203.0.113.1): no reply in 300ms",
		`["203.0.113.2:`,
		"6 passed, 0 failed")
}

// TestNATKernelErrors: what only the kernel refuses.
func TestNATKernelErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ src, want string }{
		{`masquerade(router, not_out = "br00")`, `masquerade: no link "br00" in netns "router" (it has: eth0, eth1, lo)`},
	} {
		_, err := runScript(t, natTopo+c.src)
		if err == nil || !strings.Contains(err.Error(), "lab.star:13:1: "+c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s:\n got  %v\n want %s", c.src, err, c.want)
		}
	}
}

func TestNATErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ src, want string }{
		{`masquerade(router, src = "10.100.0.0/33")`, `masquerade: for parameter "src": invalid network "10.100.0.0/33" (want e.g. "10.100.0.0/16" or an address)`},
		{`masquerade(router, src = "banana")`, `masquerade: for parameter "src": invalid network "banana"`},
		{`masquerade(router, not_out = a)`, `masquerade: for parameter "not_out": link eth0 is in netns "inside", not "router"`},
		{`masquerade(router, out = 3)`, `masquerade: for parameter "out": got int, want link or interface name`},
		{`masquerade(router, in_ = lan)`, `masquerade: unexpected keyword argument "in_"`},
		{`masquerade(router, src = "10.0.0.0/8", dst = "fd00::/8")`, `masquerade: src 10.0.0.0/8 and dst fd00::/8 are of different families`},
		{`port_forward(router, 70000, to = "10.100.0.10")`, `port_forward: for parameter port: invalid port 70000 (want 1 to 65535)`},
		{`port_forward(router, 80, to = "10.100.0.10:x")`, `port_forward: for parameter "to": invalid target "10.100.0.10:x" (want "IP:PORT" or "IP")`},
		{`port_forward(router, 80, to = "10.100.0.10", proto = "icmp")`, `port_forward: invalid proto "icmp" (want tcp or udp)`},
		{`firewall(router, "allow")`, `firewall: unknown action "allow" (want accept, drop, reject or notrack)`},
		{`firewall(router, "drop", port = 22)`, `firewall: a port needs proto tcp or udp`},
		{`firewall(router, "drop", hook = "input", out = wan)`, `firewall: hook input has no output interface`},
		{`firewall(router, "drop", state = "sleepy")`, `firewall: unknown connection state "sleepy"`},
		{`firewall(router, "drop", in_ = "bad name")`, `firewall: for parameter "in_": invalid link name "bad name"`},
	} {
		_, err := runPlan(t, natTopo+c.src)
		if err == nil || !strings.Contains(err.Error(), "lab.star:13:1: "+c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s:\n got  %v\n want lab.star:13:1: %s", c.src, err, c.want)
		}
	}
}
