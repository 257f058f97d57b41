package cli

import (
	"strings"
	"testing"
)

// TestExplainFRR: each FRR router reads as its daemons started in FRR's
// pathspace named after its namespace (-N), so that two routers keep their
// configuration (/etc/frr/NAME) and sockets (/run/frr/NAME) apart as the
// private directories of a run do; each daemon is waited for until it
// answers, vtysh -N applies the configuration and answers the queries,
// expect_daemon's Go regular expression is grep -P's, and the header
// suggests a private /etc/frr and /var/tmp.
func TestExplainFRR(t *testing.T) {
	out := explainOf(t, `
r1, r2 = netns("r1"), netns("r2")
veth(ns = r1, peer_ns = r2, addr = "10.0.0.1/24", peer_addr = "10.0.0.2/24")
conf = "router ospf\n ospf router-id %s\nexit\ninterface eth0\n ip ospf area 0\nexit\n"
f1 = frr(r1, conf % "1.1.1.1")
f2 = frr(r2, conf % "2.2.2.2")
expect_ospf_full(f1, "2.2.2.2", within = "10s")
vtysh(f2, "show ip ospf neighbor json")
`)
	inOrder(t, out,
		"#   sudo unshare --net --mount sh -c 'mount -t tmpfs none /run && mount -t tmpfs none /etc/frr && mount -t tmpfs none /var/tmp && bash x.sh'\n",
		"start /usr/lib/frr/zebra -N r1 -u root -g frrvty -P 0 --log stdout in the background in netns r1\nmkdir -p /etc/frr/r1 /run/frr/r1\ncat >/etc/frr/r1/frr.conf <<'EOF'\nrouter ospf\n ospf router-id 1.1.1.1\n",
		"cat >/etc/frr/r1/vtysh.conf <<'EOF'\n",
		"ip netns exec r1 /usr/lib/frr/zebra -N r1 -u root -g frrvty -P 0 --log stdout &\n"+
			"timeout 10 sh -c 'until vtysh -N r1 -d zebra -c '\\''show version'\\'' >/dev/null 2>&1; do sleep 0.1; done'\n",
		"ip netns exec r1 /usr/lib/frr/ospfd -N r1 -u root -g frrvty -P 0 --log stdout &\n"+
			"timeout 10 sh -c 'until vtysh -N r1 -d ospfd -c '\\''show version'\\'' >/dev/null 2>&1; do sleep 0.1; done'\n",
		"# run vtysh -N r1 -f /etc/frr/r1/frr.conf in netns r1\nip netns exec r1 vtysh -N r1 -f /etc/frr/r1/frr.conf\n",
		"mkdir -p /etc/frr/r2 /run/frr/r2\n",
		"ip netns exec r2 vtysh -N r2 -f /etc/frr/r2/frr.conf\n",
		"timeout 10 sh -c 'until vtysh -N r1 -c '\\''show ip ospf neighbor'\\'' | grep -qP '\\''^2\\.2\\.2\\.2\\s+\\d+\\s+Full/'\\''; do sleep 0.1; done'\n",
		"vtysh -N r2 -c 'show ip ospf neighbor json'\n",
	)
	if strings.Contains(out, "/proc/") {
		t.Errorf("the script reaches a daemon through /proc, which only a run has:\n%s", out)
	}
}
