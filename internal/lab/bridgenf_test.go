package lab

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/nsutil"
)

// rawBridgeNF reads br_netfilter's iptables switch in n straight from
// /proc (ReadSysctl would turn it off first); the test is skipped where the
// module is not loaded.
func rawBridgeNF(t *testing.T, n *Netns) string {
	t.Helper()
	var b []byte
	err := nsutil.Do(n.fd, func() error {
		var err error
		b, err = os.ReadFile("/proc/sys/net/bridge/bridge-nf-call-iptables")
		return err
	})
	if os.IsNotExist(err) {
		t.Skip("no br_netfilter here")
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// kernelDefaultBridgeNF returns br_netfilter's iptables switch in a new
// namespace that no lab touched.
func kernelDefaultBridgeNF(t *testing.T) string {
	t.Helper()
	fd, err := nsutil.New()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	return rawBridgeNF(t, &Netns{fd: fd})
}

// Bridge netfilter goes off in a namespace when it can first hold a bridge
// (bridgenf.go), and not before: a lab of namespaces without bridges or
// programs does not pay for the writes.
func TestBridgeNetfilterOffWhenABridgeCanBe(t *testing.T) {
	l := newLab(t, Options{})
	if got := rawBridgeNF(t, l.Host); got != "0" {
		t.Errorf("host: bridge-nf-call-iptables = %s, want 0 from the start", got)
	}
	mk := func(name string) *Netns {
		n, err := l.NewNetns(name)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	plain, sw, reader := mk("plain"), mk("sw"), mk("reader")
	if kernelDefaultBridgeNF(t) != "1" {
		t.Skip("bridge netfilter is off by default in new namespaces here: nothing to turn off")
	}
	if got := rawBridgeNF(t, plain); got != "1" {
		t.Errorf("plain: bridge-nf-call-iptables = %s before anything could make a bridge there, want the kernel's 1 (left alone)", got)
	}
	if _, err := l.Bridge(sw, LinkSpec{Name: "br0", Up: true}); err != nil {
		t.Fatal(err)
	}
	if got := rawBridgeNF(t, sw); got != "0" {
		t.Errorf("sw: bridge-nf-call-iptables = %s after the lab made a bridge there, want 0", got)
	}
	if got, err := reader.ReadSysctl("net.bridge.bridge-nf-call-iptables"); err != nil || got != "0" {
		t.Errorf("reader: the script reads bridge-nf-call-iptables = %q (%v), want 0", got, err)
	}
	if old, err := mk("writer").ReadSysctl("net.bridge.bridge-nf-call-arptables"); err != nil || old != "0" {
		t.Errorf("writer: bridge-nf-call-arptables = %q (%v), want 0", old, err)
	}
	if got := rawBridgeNF(t, plain); got != "1" {
		t.Errorf("plain: bridge-nf-call-iptables = %s, want 1 until a program starts", got)
	}
	pr, err := l.Start(reader, Program{Argv: []string{"true"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	<-pr.Done()
	if got := rawBridgeNF(t, plain); got != "0" {
		t.Errorf("plain: bridge-nf-call-iptables = %s after a program started in the lab, want 0", got)
	}
	if got := rawBridgeNF(t, mk("late")); got != "0" {
		t.Errorf("late: bridge-nf-call-iptables = %s in a namespace made after a program started, want 0", got)
	}
}

// A --host lab leaves the real host's bridge netfilter alone, programs or
// not; its own namespaces get it off as in a sandbox.
func TestBridgeNetfilterHostModeLeavesTheHost(t *testing.T) {
	l := newLab(t, Options{HostMode: true, NetnsDir: t.TempDir()})
	if got := rawBridgeNF(t, l.Host); got != "1" {
		t.Skipf("bridge-nf-call-iptables is %s in a new namespace here: a write of 0 would not show", got)
	}
	n, err := l.NewNetns("made")
	if err != nil {
		t.Fatal(err)
	}
	pr, err := l.Start(n, Program{Argv: []string{"true"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	<-pr.Done()
	if got := rawBridgeNF(t, l.Host); got != "1" {
		t.Errorf("host: bridge-nf-call-iptables = %s after a program started, want 1 (the real host's own)", got)
	}
	if got := rawBridgeNF(t, n); got != "0" {
		t.Errorf("made: bridge-nf-call-iptables = %s, want 0", got)
	}
}
