package lab

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nsscript/nsscript/internal/sandbox"
)

// TestDHCPHook: the test binary, run as udhcpc runs its script (the event
// as argument, the lease in the environment, dhcpHookEnv set), reports the
// lease on one line and exits before any test runs; parseLease reads it
// back.
func TestDHCPHook(t *testing.T) {
	cmd := exec.Command(os.Args[0], "bound")
	cmd.Env = append(os.Environ(), dhcpHookEnv+"=1", "interface=eth0", "ip=10.0.0.147", "mask=24",
		"router=10.0.0.1 10.0.0.2", "dns=10.0.0.1 10.0.0.3", "lease=3600", "serverid=10.0.0.1", "domain=lab", "unrelated=x")
	// Through the reaper's StartCmd: newLab made this test process reap
	// orphans, and a child it does not know of is reaped from under
	// cmd.Wait (make stress: "waitid: no child processes").
	var stdout strings.Builder
	cmd.Stdout = &stdout
	err := sandbox.StartCmd(cmd, cmd.Start)
	if err == nil {
		err = sandbox.WaitCmd(cmd)
	}
	out := stdout.String()
	if err != nil {
		t.Fatalf("hook: %v (%s)", err, out)
	}
	if !strings.HasPrefix(out, leaseMark) || strings.Count(out, "\n") != 1 || strings.Contains(out, "unrelated") {
		t.Fatalf("hook wrote %q, want one %q line with the lease only", out, leaseMark)
	}
	ls, err := parseLease("udhcpc: started\n" + leaseMark + `{"event":"deconfig"}` + "\n" + out)
	if err != nil {
		t.Fatal(err)
	}
	want := Lease{Addr: netip.MustParsePrefix("10.0.0.147/24"), Router: netip.MustParseAddr("10.0.0.1"),
		Server: netip.MustParseAddr("10.0.0.1"), Domain: "lab", Time: time.Hour,
		DNS: []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.3")}}
	if ls.Addr != want.Addr || ls.Router != want.Router || ls.Server != want.Server || ls.Domain != want.Domain ||
		ls.Time != want.Time || len(ls.DNS) != 2 || ls.DNS[1] != want.DNS[1] {
		t.Errorf("lease = %+v, want %+v", *ls, want)
	}
}

// TestParseLeaseNone: output without a bound event, or with a broken one,
// is no lease.
func TestParseLeaseNone(t *testing.T) {
	for out, want := range map[string]string{
		"udhcpc: started\n" + leaseMark + `{"event":"deconfig"}` + "\n":       "no lease reported",
		leaseMark + `{"event":"bound","ip":"10.0.0.1","mask":"33"}` + "\n":    `lease: mask "33"`,
		leaseMark + `{"event":"bound","ip":"10.0.0.300","mask":"24"}` + "\n":  `lease: address "10.0.0.300"`,
		leaseMark + `{"event":"leasefail"}` + "\nudhcpc: no lease, failing\n": "no lease reported",
	} {
		if _, err := parseLease(out); err == nil || err.Error() != want {
			t.Errorf("%q: err = %v, want %s", out, err, want)
		}
	}
}

// TestDHCPArgs: one discover a second for as long as within lasts (at
// least one), quit when bound or when no lease came, the host name sent.
func TestDHCPArgs(t *testing.T) {
	lk := &Link{name: "eth0"}
	got := strings.Join(dhcpArgs(lk, DHCPOptions{Within: 2500 * time.Millisecond, Hostname: "c1"}), " ")
	if want := "-f -q -n -i eth0 -t 3 -T 1 -x hostname:c1"; got != want {
		t.Errorf("args = %q, want %q", got, want)
	}
	got = strings.Join(dhcpArgs(lk, DHCPOptions{Within: 100 * time.Millisecond}), " ")
	if want := "-f -q -n -i eth0 -t 1 -T 1"; got != want {
		t.Errorf("args = %q, want %q", got, want)
	}
}

// TestUDPBound: a socket this process binds counts, one of another process
// (or none) does not.
func TestUDPBound(t *testing.T) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	port := c.LocalAddr().(*net.UDPAddr).Port
	missing, err := UDPBound(os.Getpid(), port, 9)
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) != 1 || missing[0] != 9 {
		t.Errorf("missing = %v, want [9] (port %d is bound)", missing, port)
	}
	if _, err := UDPBound(1<<22 + 7); err == nil {
		t.Error("no error for a process that does not exist")
	}
}
