package builtins

import (
	"strings"
	"testing"
)

// noneSetup makes what the minimal calls of noneCalls refer to.
const noneSetup = `
a = netns("a")
x, y = veth("x0", peer = "y0", peer_ns = a)
x.addr("10.0.0.1/24")
y.addr("10.0.0.2/24")
br = bridge("br0")
`

// noneCalls are valid calls of every builtin that has a parameter whose
// documented default is None; each such parameter is then given an explicit
// None in turn (replacing its keyword here, if any).
var noneCalls = map[string]string{
	"netns":              `netns("n1")`,
	"veth":               `veth()`,
	"bridge":             `bridge("br1")`,
	"route":              `route(a, "10.1.0.0/16", via = "10.0.0.1", dev = y)`,
	"rule":               `rule(a, from_ = "10.0.0.0/24", table = 10)`,
	"sysctl":             `sysctl(a, "net.ipv4.ip_forward")`,
	"expect_reachable":   `expect_reachable(a, "10.0.0.1")`,
	"expect_path":        `expect_path(a, "10.0.0.1", via = [a])`,
	"expect_unreachable": `expect_unreachable(a, "10.0.0.9")`,
	"reachability":       `reachability([host, a])`,
	"macvlan":            `macvlan(x)`,
	"ipvlan":             `ipvlan(x)`,
	"vlan":               `vlan(x, 10)`,
	"dummy":              `dummy()`,
	"tap":                `tap()`,
	"vxlan":              `vxlan("vx0", 42, remote = "10.0.0.2", dev = x)`,
	"masquerade":         `masquerade(a)`,
	"port_forward":       `port_forward(a, 8080, "10.0.0.1:80")`,
	"firewall":           `firewall(a, "drop")`,
	"expect_connect":     `expect_connect(a, "10.0.0.1:80")`,
	"expect_http":        `expect_http(a, "http://10.0.0.1:80/")`,
	"ping":               `ping(a, "10.0.0.1", src_addr = "10.0.0.2")`,
	"connect":            `connect(a, "10.0.0.1:80", src_addr = y)`,
	"http_get":           `http_get(a, "http://10.0.0.1:80/", src_addr = "10.0.0.2")`,
	"expect_no_connect":  `expect_no_connect(a, "10.0.0.1:80", src_addr = y)`,
	"expect_no_http":     `expect_no_http(a, "http://10.0.0.1:80/")`,
	"run":                `run(a, "true")`,
	"daemon":             `daemon(a, ["true"])`,
	"expect_daemon":      `expect_daemon(bird(a, ""), "show status", "up")`,
	"dnsmasq":            `dnsmasq(host, link = x, dhcp_range = "10.0.0.100,10.0.0.150", hosts = {"gw": "10.0.0.1"}, conf = "log-dhcp")`,
	"dhcp":               `dhcp(y, hostname = "c1")`,
	"resolve":            `resolve(a, "c1", server = "10.0.0.1")`,
	"expect_resolves":    `expect_resolves(a, "c1", addr = "10.0.0.1", server = "10.0.0.1", within = "1s")`,
	"frr":                `frr(a, "")`,
	"expect_ospf_full":   `expect_ospf_full(bird(a, ""), "10.0.0.2")`,
	"impair":             `impair(x, delay = "10ms")`,
	"expect_rate":        `expect_rate(a, "10.0.0.1:80", rate = "1mbit")`,
	"expect_rtt":         `expect_rtt(a, "10.0.0.1", max = "10ms")`,
	"routes":             `routes(a)`,
	"route_get":          `route_get(a, "10.0.0.1")`,
	"expect_route":       `expect_route(a, "10.0.0.1")`,
	"expect_neighbour":   `expect_neighbour(a, "10.0.0.1")`,
	"expect":             `expect(True)`,
	"expect_run":         `expect_run(a, "true")`,

	"capture":        `capture(x)`,
	"expect_packets": `expect_packets(capture(x), proto = "tcp", flags = "S", src = "10.0.0.1", dst = a, host = x, sport = 1, dport = 2, port = 3, count = 1)`,
}

// noneParams returns the parameters of sig whose default is None.
func noneParams(sig string) []string {
	var out []string
	i, j := strings.IndexByte(sig, '('), strings.LastIndexByte(sig, ')')
	if i < 0 || j < i {
		return nil
	}
	for _, p := range strings.Split(sig[i+1:j], ",") {
		if name, def, ok := strings.Cut(strings.TrimSpace(p), "="); ok && def == "None" {
			out = append(out, name)
		}
	}
	return out
}

// withNone returns call with keyword param set to None.
func withNone(call, param string) string {
	args := strings.Split(call[strings.IndexByte(call, '(')+1:len(call)-1], ", ")
	var kept []string
	for _, a := range args {
		if a != "" && !strings.HasPrefix(a, param+" = ") {
			kept = append(kept, a)
		}
	}
	kept = append(kept, param+" = None")
	return call[:strings.IndexByte(call, '(')+1] + strings.Join(kept, ", ") + ")"
}

// TestNoneMeansAbsent walks the table: for every parameter documented with
// default None, an explicit None is the same as leaving it out.
func TestNoneMeansAbsent(t *testing.T) {
	t.Parallel()
	for _, b := range Table {
		params := noneParams(b.Sig)
		if len(params) == 0 || b.Fn == nil {
			continue
		}
		call, ok := noneCalls[b.Name]
		if !ok {
			t.Errorf("%s has parameters with default None (%v) but no call in noneCalls", b.Name, params)
			continue
		}
		if _, err := runPlan(t, noneSetup+call+"\n"); err != nil {
			t.Errorf("%s: the minimal call fails: %v", call, err)
			continue
		}
		for _, p := range params {
			src := withNone(call, p)
			_, err := runPlan(t, noneSetup+src+"\n")
			if err != nil && (strings.Contains(err.Error(), "NoneType") || strings.Contains(err.Error(), "parameter "+p+":")) {
				t.Errorf("%s: %v", src, err)
			}
		}
	}
}

// TestSetNoneMeansAbsent: link.set leaves what is given as None unchanged;
// only master=None means something (detach from the bridge).
func TestSetNoneMeansAbsent(t *testing.T) {
	t.Parallel()
	out, err := runPlan(t, noneSetup+`
x.set(master = br)
x.set(mtu = None, mac = None, name = None, ns = None, up = None, hairpin = None)
print(x.name, x.ns.name, x.master)
x.set(master = None)
print(x.master)
`)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out, "x0 host <link br0 in host>", "None")
}
