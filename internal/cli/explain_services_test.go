package cli

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestExplainServices: DHCP reads as udhcpc with an event script that only
// prints the lease, which the shell reads into variables and applies as
// nsscript does; every later use of the lease's address (a probe at it)
// is the variable, since explain cannot know what the server leases.
// Lookups read as dig at the server.
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
		"s.star:6:5: ask for a DHCP lease on eth0 in c1 with udhcpc, into $lease1_ip, $lease1_mask and $lease1_router (its script only prints the lease)\n",
		"cat >/run/nsscript/udhcpc-lease <<'EOF'\n#!/bin/sh\n",
		"case \"$1\" in bound|renew) echo \"$ip $mask ${router%% *}\" ;; esac\nEOF\nchmod +x /run/nsscript/udhcpc-lease\n",
		"lease1=$(ip netns exec c1 udhcpc -f -q -n -i eth0 -t 3 -T 1 -x hostname:c1 -s /run/nsscript/udhcpc-lease)\n",
		"read -r lease1_ip lease1_mask lease1_router <<<\"$lease1\"\n",
		"# add the leased $lease1_ip/$lease1_mask to eth0 in c1\nip -n c1 addr add $lease1_ip/$lease1_mask dev eth0\n",
		"ip -n c1 route add default via $lease1_router dev eth0 proto dhcp\n",
		"ip netns exec c1 dig +short @10.0.0.1 srv\n",
		"ip netns exec c1 dig +short @10.0.0.1 -p 5353 web | grep -qx 10.0.0.5\n",
		"s.star:9:1: expect_reachable srv -> $lease1_ip\nip netns exec srv ping -c1 -W1 $lease1_ip\n",
	)
	if strings.Contains(strings.Replace(out, "dhcp-range=10.0.0.100,", "", 1), "10.0.0.100") {
		t.Errorf("the planned lease 10.0.0.100 is left in the script:\n%s", out)
	}
}

// TestExplainLeaseVars: a second lease gets variables of its own, and the
// leased address reaches quoted commands (sh -c '...' of a probe with
// within), a printed line and a daemon's configuration as the variable.
func TestExplainLeaseVars(t *testing.T) {
	out := explainOf(t, `
srv, c1, c2 = netns("srv"), netns("c1"), netns("c2")
br = bridge("br0", ns = srv, addr = "10.0.0.1/24")
for c in (c1, c2):
    p, _ = veth(ns = srv, peer_ns = c)
    p.set(master = br)
dnsmasq(srv, link = br, dhcp_range = "10.0.0.100,10.0.0.150")
l1 = dhcp(c1.link("eth0"), within = "3s")
l2 = dhcp(c2.link("eth0"), route = False, within = "3s")
expect_reachable(c1, l2.addr, within = "2s")
print("c2 has", l2.prefix)
daemon(srv, ["cat", "/etc/x.conf"], files = {"/etc/x.conf": "peer " + l1.addr + "\n"})
`)
	inOrder(t, out,
		"lease1=$(ip netns exec c1 udhcpc ",
		"lease2=$(ip netns exec c2 udhcpc -f -q -n -i eth0 -t 3 -T 1 -x hostname:c2 -s /run/nsscript/udhcpc-lease)\n",
		"# add the leased $lease2_ip/$lease2_mask to eth0 in c2\nip -n c2 addr add $lease2_ip/$lease2_mask dev eth0\n\n",
		"timeout 2 sh -c 'until ip netns exec c1 ping -c1 -W1 '\"$lease2_ip\"'; do sleep 0.1; done'\n",
		"# c2 has $lease2_ip/$lease2_mask\n",
		"<<EOF\npeer $lease1_ip\nEOF\n",
	)
	if strings.Count(out, "cat >/run/nsscript/udhcpc-lease") != 1 || strings.Contains(out, "via $lease2_router") {
		t.Errorf("want the event script written once and no default route for lease2:\n%s", out)
	}
	if regexp.MustCompile(`10\.0\.0\.10[01]\b`).MatchString(strings.Replace(out, "dhcp-range=10.0.0.100,", "", 1)) {
		t.Errorf("a planned lease is left in the script:\n%s", out)
	}
}
