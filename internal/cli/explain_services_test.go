package cli

import (
	"path/filepath"
	"testing"
)

// TestExplainServices: DHCP reads as the udhcpc command (whose default
// script adds the lease), lookups as dig at the server, and a lease's
// address is planned from dnsmasq's range, so the probes at it read as
// pings.
func TestExplainServices(t *testing.T) {
	dir := writeScript(t, "s.star", `
srv, c1 = netns("srv"), netns("c1")
x, y = veth(ns = srv, peer_ns = c1)
x.addr("10.0.0.1/24")
dnsmasq(srv, link = x, dhcp_range = "10.0.0.100,10.0.0.150")
l = dhcp(y, within = "3s")
resolve(c1, "srv")
expect_resolves(c1, "web", "10.0.0.5", server = "10.0.0.1:5353")
expect_reachable(srv, l.addr)
`)
	out, errOut, code := mainArgs("explain", filepath.Join(dir, "s.star"))
	if code != ExitOK {
		t.Fatalf("explain: exit %d, stderr %q", code, errOut)
	}
	inOrder(t, out,
		"s.star:6:5: ask for a DHCP lease on eth0 in c1 (udhcpc; its default script adds the address and route)\nip netns exec c1 udhcpc -f -q -n -i eth0 -t 3 -T 1 -x hostname:c1\n",
		"# add the leased 10.0.0.100/24 to eth0 in c1\n",
		"ip netns exec c1 dig +short @10.0.0.1 srv\n",
		"ip netns exec c1 dig +short @10.0.0.1 -p 5353 web | grep -qx 10.0.0.5\n",
		"ip netns exec srv ping -c1 -W1 10.0.0.100\n",
	)
}
