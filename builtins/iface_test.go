package builtins

import (
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// TestMacvlanVEPAScript: VEPA siblings meet only through a hairpin port.
func TestMacvlanVEPAScript(t *testing.T) {
	t.Parallel()
	out, err := runScript(t, `
sw = netns("switch")
br = bridge("br0", ns = sw)
eth0, port = veth("eth0", peer = "port", peer_ns = sw)
port.set(master = br)
c1, c2 = netns("c1"), netns("c2")
m1 = macvlan(eth0, ns = c1, mode = "vepa", addr = "192.168.1.11/24")
m2 = macvlan(eth0, ns = c2, mode = "vepa", addr = "192.168.1.12/24")
print(m1.name, m1.kind, m1.ns.name, m2.addrs)
expect_unreachable(c1, c2, timeout = "300ms")
port.set(hairpin = True)
expect_reachable(c1, c2)
port.set(hairpin = False)
expect_unreachable(c2, c1, timeout = "300ms")
`)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out,
		`eth0 macvlan c1 ["192.168.1.12/24"]`,
		"ok   lab.star:10:1: expect_unreachable: c1 -> c2 (192.168.1.12): no reply in 300ms",
		"ok   lab.star:12:1: expect_reachable: c1 -> c2 (192.168.1.12): reply in",
		"ok   lab.star:14:1: expect_unreachable: c2 -> c1 (192.168.1.11): no reply in 300ms",
		"3 passed, 0 failed")
}

func TestInterfaceBuiltins(t *testing.T) {
	t.Parallel()
	out, err := runScript(t, `
vm = netns("vm")
t = tap("tap0", ns = vm, mtu = 1400, addr = "10.9.0.1/24")
u = tap(ns = vm, mode = "tun")
print(t.name, t.kind, t.mtu, t.addrs, u.name, u.kind)
h1, h2 = netns("h1"), netns("h2")
a, b = veth("eth0", peer = "eth0", ns = h1, peer_ns = h2)
a.addr("192.168.100.1/24")
b.addr("192.168.100.2/24")
x = vxlan("vx0", 42, ns = h1, remote = "192.168.100.2", local = "192.168.100.1", dev = a, addr = "10.0.0.1/24")
y = vxlan("vx0", 42, ns = h2, remote = ["192.168.100.1"], dev = b, addr = "10.0.0.2/24")
print(x.kind, x.mtu)
expect_reachable(h1, "10.0.0.2")
`)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out,
		`tap0 tap 1400 ["10.9.0.1/24"] tun0 tun`,
		"vxlan 1450",
		"ok   lab.star:13:1: expect_reachable: h1 -> 10.0.0.2: reply in",
		"1 passed, 0 failed")
}

// TestNetnsPID joins a running process's namespace by its PID (seed 003).
func TestNetnsPID(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("sleep", "30")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start a process in a new netns: %v", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	out, err := runScript(t, fmt.Sprintf(`
c = netns("container", pid = %d)
vnet, peer = veth("vnet01", peer = "vnetdead")
vnet.addr("192.168.6.1/24")
peer.move(c)
peer.rename("eth1")
peer.set(up = True)
peer.addr("192.168.6.2/24")
print([l.name for l in c.links])
expect_reachable(host, "192.168.6.2")
`, cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out, `["eth1"]`, "ok   lab.star:10:1: expect_reachable: host -> 192.168.6.2: reply in", "1 passed, 0 failed")
}

// TestInterfaceKernelErrors: what only the kernel refuses.
func TestInterfaceKernelErrors(t *testing.T) {
	t.Parallel()
	wantErrors(t, runScript, []struct{ src, want string }{
		{"x, y = veth()\nmacvlan(x, mode = 'passthru')\nmacvlan(x)", "lab.star:3:1: macvlan: create macvlan macvlan1 in netns \"host\": invalid argument: parent veth0 has passthru macvlan macvlan0 (in host), which takes the parent alone"},
		{"netns('c', pid = 1 << 30)", `lab.star:1:1: netns: open netns "c": no process 1073741824`},
	})
}

func TestInterfaceErrors(t *testing.T) {
	t.Parallel()
	wantErrors(t, runPlan, []struct{ src, want string }{
		{"macvlan('eth0')", "lab.star:1:1: macvlan: for parameter parent: got string, want link"},
		{"x, y = veth()\nmacvlan(x, mode = 'bogus')", `lab.star:2:1: macvlan: unknown macvlan mode "bogus" (want private, vepa, bridge, passthru)`},
		{"x, y = veth()\nx.set(hairpin = True)", "lab.star:2:1: set: veth0 is not a bridge port (set master first)"},
		{"x, y = veth()\nx.set(hairpin = 1)", `set: for parameter "hairpin": got int, want bool`},
		{"x, y = veth()\nvlan(x, 5000)", "vlan: for parameter id: invalid vlan id 5000 (want 1 to 4094)"},
		{"x, y = veth()\nipvlan(x, mac = '02:00:00:00:00:01')", `ipvlan: unexpected keyword argument "mac"`},
		{"tap(mode = 'tun', mac = '02:00:00:00:00:01')", "tap: a tun device has no mac address"},
		{"tap(mode = 'bridge')", `tap: unknown mode "bridge" (want tap or tun)`},
		{"vxlan('vx0', 1)", "vxlan: want remote (the other endpoints' underlay addresses) or group"},
		{"vxlan('vx0', 1, remote = '10.0.0.300')", `vxlan: for parameter "remote": invalid address "10.0.0.300"`},
		{"vxlan('vx0', 0, remote = '10.0.0.3')", "vxlan: for parameter vni: invalid vni 0 (want 1 to 16777215)"},
		{"netns('c', pid = 1, path = '/x')", "netns: give path or pid, not both"},
		{"netns('c', pid = 0)", `netns: for parameter "pid": invalid pid 0 (want 1 to 2147483647)`},
		{"netns('c', pid = '1')", `netns: for parameter "pid": got string, want int`},
		{"macvlan(host)", "macvlan: for parameter parent: got netns, want link"},
	})
}

// TestMissingLinkTypes: dummy, vlan and ipvlan work, or fail with one line
// that names the type.
func TestMissingLinkTypes(t *testing.T) {
	t.Parallel()
	for kind, src := range map[string]string{
		"dummy":  "dummy('dummy0', addr = '172.16.0.10/24')",
		"vlan":   "x, y = veth()\nvlan(x, 10)",
		"ipvlan": "x, y = veth()\nipvlan(x, mode = 'l3')",
	} {
		out, err := runScript(t, src)
		if err == nil {
			if !strings.Contains(out, "0 passed, 0 failed") {
				t.Errorf("%s: %s", kind, out)
			}
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, kind+": create "+kind) || !strings.Contains(msg, "link type "+kind+" is not supported by this kernel") ||
			strings.Count(msg, kind+": ") != 1 || strings.Contains(msg, "\n") {
			t.Errorf("%s: %q", kind, msg)
		}
	}
}
