package builtins

import (
	"strings"
	"testing"
)

// pairTopo is client (10.0.0.1/24) and server (10.0.0.2/24) on one veth.
const pairTopo = `
client = netns("client")
server = netns("server")
c, s = veth(ns = client, peer_ns = server)
c.addr("10.0.0.1/24")
s.addr("10.0.0.2/24")
`

func TestServiceScript(t *testing.T) {
	t.Parallel()
	out, err := runScript(t, pairTopo+`
echo = serve(server, "tcp", ":7")
web = serve(server, "http", "10.0.0.2:8080")
dns = serve(server, "udp", 53)
print(echo, web.addr, web.port, dns.proto, dns.ns.name, type(web))
expect_connect(client, "10.0.0.2:7", seen_as = c)
expect_connect(client, dns, seen_as = "10.0.0.1")
expect_no_connect(client, "10.0.0.2:9")
expect_no_connect(client, "10.0.0.2:9", proto = "udp")
expect_http(client, "http://10.0.0.2:8080/", body_contains = "peer 10.0.0.1:")
expect_http(client, "http://10.0.0.2:8080/missing", status = 404)
expect_no_http(client, "http://10.0.0.2:9/")
r = connect(client, echo)
print(r.ok, r.outcome, r.peer.startswith("10.0.0.1:"), r.elapsed > 0)
h = http_get(client, "http://10.0.0.2:8080/bytes/100")
print(h.ok, h.status, len(h.body), h.bytes)
n = connect(client, "10.0.0.2:9")
print(n.ok, n.outcome, n.detail)
print(len(echo.peers), len(web.peers), len(dns.peers))
expect_http(client, "http://10.0.0.2:8080/missing")
expect_http(client, "http://10.0.0.2:8080/", body_contains = "hello")
expect_connect(client, "10.0.0.2:7", seen_as = server)
echo.close()
expect_no_connect(client, echo)
`)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out,
		`<service tcp [::]:7 in server> 10.0.0.2:8080 8080 udp server service`,
		"ok   lab.star:12:1: expect_connect: client -> 10.0.0.2:7 (tcp): connected in ",
		"ok   lab.star:13:1: expect_connect: client -> server (10.0.0.2:53) (udp): reply in ",
		"ok   lab.star:14:1: expect_no_connect: client -> 10.0.0.2:9 (tcp): connection refused",
		"ok   lab.star:15:1: expect_no_connect: client -> 10.0.0.2:9 (udp): destination port unreachable",
		"ok   lab.star:16:1: expect_http: client -> http://10.0.0.2:8080/: 200 ok, ",
		"ok   lab.star:17:1: expect_http: client -> http://10.0.0.2:8080/missing: 404 not found",
		"ok   lab.star:18:1: expect_no_http: client -> http://10.0.0.2:9/: connection refused",
		"True reply True True",
		"True 200 100 100",
		"False unreachable connection refused",
		"2 3 1",
		"FAIL lab.star:26:1: expect_http: client -> http://10.0.0.2:8080/missing: got status 404, want 200",
		`FAIL lab.star:27:1: expect_http: client -> http://10.0.0.2:8080/: body does not contain "hello" (it starts "peer 10.0.0.1:`,
		"FAIL lab.star:28:1: expect_connect: client -> 10.0.0.2:7 (tcp): connected in ",
		"but the server saw 10.0.0.1, not 10.0.0.2",
		"ok   lab.star:30:1: expect_no_connect: client -> server (10.0.0.2:7) (tcp): connection refused",
		"8 passed, 3 failed")
}

// TestServiceKernelErrors: what only the kernel refuses.
func TestServiceKernelErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ src, want string }{
		{`serve(server, "tcp", "10.9.9.9:80")`, `serve: bind: cannot assign requested address`},
		{`serve(server, "tcp", 80); serve(server, "tcp", 80)`, `serve: bind: address already in use`},
	} {
		_, err := runScript(t, pairTopo+c.src)
		if err == nil || !strings.HasPrefix(err.Error(), "lab.star:7:") || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s:\n got  %v\n want %s", c.src, err, c.want)
		}
	}
}

func TestServiceErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ src, want string }{
		{`serve(server, "sctp", 80)`, `serve: unknown protocol "sctp" (want tcp, udp or http)`},
		{`serve(server, "tcp", 70000)`, `serve: for parameter addr: invalid port 70000 (want 0 to 65535)`},
		{`connect(client, "10.0.0.2")`, `connect: for parameter addr: invalid address "10.0.0.2" (want "IP:PORT", e.g. "10.0.0.2:8080")`},
		{`connect(client, "10.0.0.2:80", proto = "icmp")`, `connect: invalid proto "icmp" (want tcp or udp)`},
		{`expect_connect(client, "10.0.0.2:80", seen_as = "nobody")`, `expect_connect: for parameter "seen_as": invalid address "nobody"`},
		{`expect_connect(client, "10.0.0.2:80", seen = c)`, `expect_connect: unexpected keyword argument "seen"`},
		{`http_get(client, "https://10.0.0.2/")`, `http_get: for parameter url: invalid url "https://10.0.0.2/" (want http://IP:PORT/PATH; a lab has no DNS)`},
		{`expect_http(client, "http://server:80/")`, `expect_http: for parameter url: invalid url "http://server:80/"`},
		{`expect_http(client, "http://10.0.0.2/", status = 999)`, `expect_http: invalid status 999 (want 100 to 599, or 0 for any)`},
	} {
		_, err := runPlan(t, pairTopo+c.src)
		if err == nil || !strings.Contains(err.Error(), "lab.star:7:") || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s:\n got  %v\n want lab.star:7:...: %s", c.src, err, c.want)
		}
	}
}
