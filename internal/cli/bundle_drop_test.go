package cli

import (
	"strings"
	"testing"

	"github.com/nsscript/nsscript/internal/lab"
)

// A failed expectation's --bundle files show the packets a link dropped (a
// bridge whose queue was not active yet dropped an ARP reply, and only its
// tx_dropped said so); the terminal's compact form leaves them out.
func TestExplanationShowsDrops(t *testing.T) {
	s := &snapshot{"destination", &lab.Snapshot{Name: "lan", Links: []lab.LinkSnapshot{
		{Name: "switch", Kind: "bridge", State: "UP", Addrs: []string{"192.168.1.1/24"}, TxDropped: 2},
		{Name: "port1", Kind: "veth", State: "UP", Master: "switch"},
	}}}
	var compact, full strings.Builder
	s.writeCompact(&compact, "")
	s.writeFull(&full)
	// The compact form's link lines start "link NAME", the full form's "NAME:".
	for name, out := range map[string]string{"compact": compact.String(), "full": full.String()} {
		for _, l := range strings.Split(out, "\n") {
			f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(l), "link "))
			if len(f) == 0 {
				continue
			}
			link := strings.TrimSuffix(f[0], ":")
			if link != "switch" && link != "port1" {
				continue
			}
			if got, want := strings.HasSuffix(l, " dropped rx 0 tx 2"), link == "switch" && name == "full"; got != want {
				t.Errorf("%s: line %q: shows drops %v, want %v", name, l, got, want)
			}
		}
	}
}
