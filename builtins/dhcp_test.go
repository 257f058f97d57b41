package builtins

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"go.starlark.net/starlark"

	"github.com/nsscript/nsscript/internal/testenv"
)

// TestServicesInstalled: the specs of dnsmasq() and dhcp() skip where
// dnsmasq or udhcpc is missing; CI (NSSCRIPT_REQUIRE_NAMESPACES=1, after
// .ci/run installed dnsmasq-base and udhcpc) must not skip them unseen.
func TestServicesInstalled(t *testing.T) {
	if os.Getenv(testenv.RequireEnv) != "1" {
		t.Skipf("only where %s=1 (CI)", testenv.RequireEnv)
	}
	for _, prog := range []string{"dnsmasq", "busybox"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Errorf("%s is not installed: the dhcp_dns_dnsmasq spec would skip (.ci/run installs dnsmasq-base and udhcpc)", prog)
		}
	}
}

// TestDnsmasqConf: the configuration keeps dnsmasq to the lab (no machine
// files, every name local, its own user, files in its private directory)
// and says what the script asked for.
func TestDnsmasqConf(t *testing.T) {
	var rng dhcpRangeArg
	if err := rng.Unpack(starlark.String("10.0.0.100,10.0.0.150,1h")); err != nil {
		t.Fatal(err)
	}
	hosts := hostsArg{records: [][2]string{{"gw", "10.0.0.1"}}}
	conf := dnsmasqConfText("br0", rng, hosts, "port=5353")
	for _, line := range []string{"user=", "group=", "no-resolv", "no-hosts", "local=/#/", "log-facility=-",
		"dhcp-leasefile=/run/dnsmasq/dnsmasq.leases", "pid-file=/run/dnsmasq/dnsmasq.pid", "interface=br0",
		"dhcp-range=10.0.0.100,10.0.0.150,1h", "no-ping", "host-record=gw,10.0.0.1", "port=5353"} {
		if !strings.Contains("\n"+conf, "\n"+line+"\n") {
			t.Errorf("no line %q in:\n%s", line, conf)
		}
	}
	if c := dnsmasqConfText("", dhcpRangeArg{}, hostsArg{}, ""); strings.Contains(c, "interface=") || strings.Contains(c, "dhcp-range") {
		t.Errorf("DNS on every link has an interface or range:\n%s", c)
	}
	for conf, want := range map[string]string{
		"":                   "udp ports 53 and 67 bound",
		"port=5353\n":        "udp ports 5353 and 67 bound",
		"port=0\nlog-dhcp\n": "udp ports 67 bound",
	} {
		if got := dnsmasqReady(conf, true).Desc; got != want {
			t.Errorf("ready for %q: %q, want %q", conf, got, want)
		}
	}
}

// TestDHCPRangeArg: a range is two IPv4 addresses in order, with an
// optional lease time.
func TestDHCPRangeArg(t *testing.T) {
	for _, bad := range []string{"10.0.0.100", "10.0.0.150,10.0.0.100", "fd00::1,fd00::9", "a,b", "1.2.3.4,1.2.3.5,1h,x"} {
		var a dhcpRangeArg
		if err := a.Unpack(starlark.String(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	var a dhcpRangeArg
	if err := a.Unpack(starlark.String("10.0.0.100, 10.0.0.150")); err != nil || a.start.String() != "10.0.0.100" || a.end.String() != "10.0.0.150" {
		t.Errorf("got %v %v, %v", a.start, a.end, err)
	}
}
