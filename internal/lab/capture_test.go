package lab

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsscript/nsscript/internal/probe"
)

// TestCaptureAcrossLinkDown: a capture goes on recording after its link
// went down and up again (the kernel reports the down as an error on the
// socket), keeps its packets once the lab is closed, and saves them.
func TestCaptureAcrossLinkDown(t *testing.T) {
	l := newLab(t, Options{})
	a, _, x, y := vethPair(t, l)
	for _, s := range []struct {
		lk *Link
		p  string
	}{{x, "10.0.0.1/24"}, {y, "10.0.0.2/24"}} {
		if err := s.lk.AddAddr(mustPrefix(t, s.p)); err != nil {
			t.Fatal(err)
		}
	}
	c, err := l.Capture(y, probe.PacketMatch{Proto: "icmp", Type: "echo-request"})
	if err != nil {
		t.Fatal(err)
	}
	if r := ping(t, l, a, "10.0.0.2"); r.Outcome != probe.Reply {
		t.Fatalf("first ping: %+v", r)
	}
	if err := y.SetUp(false); err != nil {
		t.Fatal(err)
	}
	if err := y.SetUp(true); err != nil {
		t.Fatal(err)
	}
	if r := ping(t, l, a, "10.0.0.2"); r.Outcome != probe.Reply {
		t.Fatalf("ping after down and up: %+v", r)
	}
	if n := len(c.Packets()); n != 2 || c.Err() != nil {
		t.Errorf("%d echo requests (err %v), want 2", n, c.Err())
	}
	if got := l.Captures(); len(got) != 1 || got[0] != c || c.File != "cap1.pcap" {
		t.Errorf("Captures() = %v", got)
	}
	l.Close()
	if n := len(c.Packets()); n != 2 {
		t.Errorf("after Close: %d packets, want 2", n)
	}
	path := filepath.Join(t.TempDir(), "x.pcap")
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() != 24+2*(16+98) {
		t.Errorf("saved %v bytes (%v), want a header and two 98-byte frames", st.Size(), err)
	}
	if _, err := l.Capture(y, probe.PacketMatch{}); err == nil {
		t.Errorf("capture on a closed lab: no error")
	}
}

// TestCapturePlan: in plan mode a capture is a step with the tcpdump that
// does the same, and records nothing.
func TestCapturePlan(t *testing.T) {
	l, err := New(Options{Plan: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.NewNetns("b")
	if err != nil {
		t.Fatal(err)
	}
	br, err := l.Bridge(b, LinkSpec{Name: "br0"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := l.Capture(br, probe.PacketMatch{Proto: "arp"})
	if err != nil || c.Packets() != nil {
		t.Fatalf("plan capture: %v, %v", c.Packets(), err)
	}
	steps := l.Steps()
	want := "ip netns exec b tcpdump -i br0 -nU --immediate-mode -w cap1.pcap arp 2>cap1.log & cap1=$!\n" +
		`timeout 10 sh -c 'until grep -q "listening on" cap1.log; do sleep 0.1; done'`
	if s := steps[len(steps)-1]; s.Op != "capture" || strings.Join(s.Cmds, "\n") != want {
		t.Errorf("step %+v, want %q", s, want)
	}
	if _, err := l.Capture(br, probe.PacketMatch{Proto: "tcp", Type: "request"}); err == nil {
		t.Errorf("impossible filter: no error")
	}
}
