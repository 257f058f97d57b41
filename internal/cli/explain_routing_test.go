package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// explainOf returns explain's output for the script src, failing t when
// explain does not succeed.
func explainOf(t *testing.T, src string) string {
	t.Helper()
	dir := writeScript(t, "x.star", src)
	out, errOut, code := mainArgs("explain", filepath.Join(dir, "x.star"))
	if code != ExitOK {
		t.Fatalf("explain: exit %d, stderr %q", code, errOut)
	}
	return out
}

// TestExplainRouting: routes beyond one main-table route, rules and their
// deletion read as the ip route and ip rule commands a student would type.
func TestExplainRouting(t *testing.T) {
	out := explainOf(t, `
a, b, c = netns("a"), netns("b"), netns("c")
x, y = veth(ns = a, peer_ns = b, addr = "10.0.1.1/24", peer_addr = "10.0.1.2/24")
veth(ns = a, peer_ns = c, addr = "10.0.2.1/24", peer_addr = "10.0.2.2/24")
x.addr("fd00::1/64")
r1 = route(a, "10.9.0.0/16", via = "10.0.1.2", table = 100, metric = 50, src = "10.0.1.1")
route(a, "10.8.0.0/16", dev = x, scope = "link")
for t in ["blackhole", "unreachable", "prohibit"]:
    route(a, "10.7.0.0/16", type = t, table = t == "blackhole" and 7 or 8)
route(a, "10.4.0.0/16", via = [("10.0.1.2", 1), ("10.0.2.2", 3)])
r8 = route(a, "fd09::/64", via = "fd00::2")
ru = rule(a, from_ = "10.0.1.0/24", table = 100, priority = 100)
r1.delete()
ru.delete()
r8.delete()
forwarding(b, family = "ipv4")
forwarding(c, family = "ipv6")
forwarding(c, on = False)
`)
	inOrder(t, out,
		"ip -n a route add 10.9.0.0/16 via 10.0.1.2 table 100 metric 50 src 10.0.1.1\n",
		"ip -n a route add 10.8.0.0/16 dev eth0 scope link\n",
		"ip -n a route add blackhole 10.7.0.0/16 table 7\n",
		"ip -n a route add unreachable 10.7.0.0/16 table 8\n",
		"ip -n a route add prohibit 10.7.0.0/16 table 8\n",
		"ip -n a route add 10.4.0.0/16 nexthop via 10.0.1.2 weight 1 nexthop via 10.0.2.2 weight 3\n",
		"ip -n a -6 route add fd09::/64 via fd00::2\n",
		"ip -n a rule add priority 100 from 10.0.1.0/24 lookup 100\n",
		"ip -n a route del 10.9.0.0/16 via 10.0.1.2 table 100 metric 50 src 10.0.1.1\n",
		"ip -n a rule del priority 100 from 10.0.1.0/24 lookup 100\n",
		"ip -n a -6 route del fd09::/64 via fd00::2\n",
		"ip netns exec b sysctl -qw net.ipv4.ip_forward=1\n",
		"ip netns exec c sysctl -qw net.ipv6.conf.all.forwarding=1\n",
		"ip netns exec c sysctl -qw net.ipv4.ip_forward=0\n",
		"ip netns exec c sysctl -qw net.ipv6.conf.all.forwarding=0\n",
	)
	if strings.Contains(out, "net.ipv6.conf.all.forwarding=1\nip netns exec b") {
		t.Errorf("forwarding(b, family = \"ipv4\") also set IPv6 forwarding:\n%s", out)
	}
}

// TestExplainFirewallTime: the firewall's ICMP types, notrack, untracked,
// masquerade by port and local port forwarding read as nft commands; a
// watch, sleep and link changes as the shell's background ping, sleep and
// ip link; deletions as ip link del and ip netns del.
func TestExplainFirewallTime(t *testing.T) {
	out := explainOf(t, `
a, b, c = netns("a"), netns("b"), netns("c")
x, y = veth(ns = a, peer_ns = b, addr = "10.0.1.1/24", peer_addr = "10.0.1.2/24")
_, z = veth(ns = a, peer_ns = c)
firewall(b, "accept", proto = "icmp", icmp_type = "echo-request")
firewall(b, "drop", proto = "icmpv6", icmp_type = "packet-too-big")
firewall(b, "notrack", hook = "prerouting", proto = "udp", port = 53)
firewall(b, "accept", state = "untracked")
masquerade(b, out = y, proto = "tcp", port = 80)
port_forward(b, 8080, "10.0.1.1:80", local = True)
w = watch(a, "10.0.1.2", interval = "50ms")
sleep("100ms")
y.down()
y.up()
w.stop()
z.delete()
c.delete()
`)
	inOrder(t, out,
		"ip netns exec b nft add rule inet nsscript forward icmp type echo-request accept\n",
		"ip netns exec b nft add rule inet nsscript forward icmpv6 type packet-too-big drop\n",
		"ip netns exec b nft add rule inet nsscript raw_prerouting udp dport 53 notrack\n",
		"ip netns exec b nft add rule inet nsscript forward ct state untracked accept\n",
		"ip netns exec b nft 'add rule inet nsscript postrouting oifname \"eth0\" tcp dport 80 masquerade'\n",
		"ip netns exec b nft add rule inet nsscript prerouting fib daddr type local tcp dport 8080 meta nfproto ipv4 dnat ip to 10.0.1.1:80\n",
		"ip netns exec b nft add rule inet nsscript nat_output fib daddr type local tcp dport 8080 meta nfproto ipv4 dnat ip to 10.0.1.1:80\n",
		"ip netns exec a ping -D -O -i0.05 -W1 10.0.1.2 > watch.log &\n",
		"sleep 0.1\n",
		"ip -n b link set eth0 down\n",
		"ip -n b link set eth0 up\n",
		"kill %?ping\n",
		"ip -n c link del eth0\n",
		"ip netns del c\n",
	)
}

// TestExplainProbePaths: traceroute, expect_path (which checks that the
// trace reached the destination, tracing again until it does with within)
// and probes from a chosen source address
// read as traceroute, ping -I, nc -s and curl --interface.
func TestExplainProbePaths(t *testing.T) {
	out := explainOf(t, `
a, b = netns("a"), netns("b")
x, y = veth(ns = a, peer_ns = b, addr = "10.0.1.1/24", peer_addr = "10.0.1.2/24")
traceroute(a, "10.0.1.2")
traceroute(a, "10.0.1.2", proto = "udp", max_hops = 5)
expect_path(a, "10.0.1.2", via = [b])
expect_path(a, "10.0.1.2", via = [b], within = "3s")
expect_reachable(a, b, src_addr = x)
ping(a, b, src_addr = "10.0.1.1", count = 2)
expect_connect(a, "10.0.1.2:80", src_addr = "10.0.1.1")
expect_http(a, "http://10.0.1.2:8080/", src_addr = x)
`)
	inOrder(t, out,
		"ip netns exec a traceroute -n -I -m 30 -w 1 10.0.1.2 || true\n",
		"ip netns exec a traceroute -n -m 5 -w 1 10.0.1.2 || true\n",
		"ip netns exec a traceroute -n -I -m 30 -w 1 10.0.1.2 | tail -n1 | grep -qF ' 10.0.1.2 '\n",
		"timeout 3 sh -c 'until ip netns exec a traceroute -n -I -m 30 -w 1 10.0.1.2 | tail -n1 | grep -qF '\\'' 10.0.1.2 '\\''; do sleep 0.1; done'\n",
		"ip netns exec a ping -I 10.0.1.1 -c1 -W1 10.0.1.2\n",
		"ip netns exec a ping -I 10.0.1.1 -c2 -W1 -i0.2 10.0.1.2 || true\n",
		"ip netns exec a nc -s 10.0.1.1 -z -w1 10.0.1.2 80\n",
		"curl --interface 10.0.1.1 -sS -m1 -o /dev/null -w '%{http_code}' http://10.0.1.2:8080/)\" = 200\n",
	)
}

// TestExplainLoopback: link(ns, "lo") finds loopback in a plan as in a run
// (every namespace has it), and the lab's teardown leaves it alone.
func TestExplainLoopback(t *testing.T) {
	out := explainOf(t, `
a = netns("a")
lo = link(a, "lo")
print(lo, lo == link(a, "lo"), link(host, "lo"))
lo.addr("10.9.9.9/32")
lo.down()
`)
	inOrder(t, out,
		"# <link lo in a> True <link lo in host>\n",
		"ip -n a addr add 10.9.9.9/32 dev lo\n",
		"ip -n a link set lo down\n",
		"# To take the lab down again:\n#   ip netns del a\n",
	)
	if strings.Contains(out, "link del lo") {
		t.Errorf("the teardown deletes loopback:\n%s", out)
	}
}
