package builtins

import (
	"fmt"

	"go.starlark.net/starlark"

	"github.com/nsscript/nsscript/internal/lab"
)

// FirewallRule is the Starlark value of a filter rule made with
// firewall(..., counter=True): its packets and bytes are read from the
// kernel on each access, after the probes queued before that line have
// sent their packets (as capture.packets).
type FirewallRule struct {
	run *Run
	rc  *lab.RuleCounter
}

var _ starlark.HasAttrs = (*FirewallRule)(nil)

func (f *FirewallRule) String() string {
	return fmt.Sprintf("<firewall_rule %s in netns %s>", f.rc.Desc, f.rc.NS.Name)
}
func (f *FirewallRule) Type() string          { return "firewall_rule" }
func (f *FirewallRule) Freeze()               {}
func (f *FirewallRule) Truth() starlark.Bool  { return true }
func (f *FirewallRule) Hash() (uint32, error) { return identityHash(f) }

var firewallRuleAttrs = []string{"bytes", "desc", "ns", "packets"}

// AttrNames implements starlark.HasAttrs.
func (f *FirewallRule) AttrNames() []string { return firewallRuleAttrs }

// Attr implements starlark.HasAttrs.
func (f *FirewallRule) Attr(name string) (starlark.Value, error) {
	switch name {
	case "ns":
		return NetnsValue(f.rc.NS), nil
	case "desc":
		return starlark.String(f.rc.Desc), nil
	case "packets", "bytes":
		f.run.Flush() // the probes queued before this line have sent their packets
		p, b, err := f.rc.Counters()
		if err != nil {
			return nil, fmt.Errorf("firewall_rule.%s: %w", name, err)
		}
		if name == "bytes" {
			return starlark.MakeUint64(b), nil
		}
		return starlark.MakeUint64(p), nil
	}
	return nil, nil
}
