package lab

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// RuleSpec describes a policy routing rule: packets that match every set
// field are looked up in Table (Action "lookup" or "") or get Action
// ("blackhole", "unreachable", "prohibit").
type RuleSpec struct {
	From, To netip.Prefix
	IIF, OIF string // input and output interface names
	Mark     uint32 // firewall mark, with HasMark
	Mask     uint32 // mark mask (0: the whole mark)
	HasMark  bool
	Table    int
	Priority int // -1: the kernel picks one below the last rule added
	Action   string
	V6       bool // an IPv6 rule when From and To say nothing
}

// ruleActions are the rule actions besides lookup.
var ruleActions = map[string]uint8{"blackhole": unix.FR_ACT_BLACKHOLE, "unreachable": unix.FR_ACT_UNREACHABLE, "prohibit": unix.FR_ACT_PROHIBIT}

// Rule is a rule the lab added; Delete removes it again.
type Rule struct {
	added
	Spec RuleSpec
	nl   *netlink.Rule
}

func (r RuleSpec) family() int {
	switch {
	case r.From.IsValid():
		return famOf(r.From.Addr())
	case r.To.IsValid():
		return famOf(r.To.Addr())
	case r.V6:
		return unix.AF_INET6
	}
	return unix.AF_INET
}

func (r RuleSpec) check() error {
	if r.From.IsValid() && r.To.IsValid() && r.From.Addr().Is4() != r.To.Addr().Is4() {
		return fmt.Errorf("from %s and to %s are of different families", r.From.Masked(), r.To.Masked())
	}
	if r.V6 && r.family() != unix.AF_INET6 {
		return errors.New("an IPv6 rule cannot match IPv4 addresses")
	}
	for _, name := range []string{r.IIF, r.OIF} {
		if name != "" {
			if err := CheckLinkName(name); err != nil {
				return err
			}
		}
	}
	switch r.Action {
	case "", "lookup":
		if r.Table == 0 {
			return errors.New("a lookup rule needs a table")
		}
	default:
		if _, ok := ruleActions[r.Action]; !ok {
			return fmt.Errorf("unknown action %q (want lookup, blackhole, unreachable or prohibit)", r.Action)
		}
		if r.Table != 0 {
			return fmt.Errorf("a %s rule looks up no table", r.Action)
		}
	}
	return nil
}

// ipWords renders the rule as iproute2 words after "ip rule add".
func (r RuleSpec) ipWords() string {
	var w []string
	if r.Priority >= 0 {
		w = append(w, "priority", strconv.Itoa(r.Priority))
	}
	if r.From.IsValid() {
		w = append(w, "from", r.From.Masked().String())
	}
	if r.To.IsValid() {
		w = append(w, "to", r.To.Masked().String())
	}
	if r.IIF != "" {
		w = append(w, "iif", shellQuote(r.IIF))
	}
	if r.OIF != "" {
		w = append(w, "oif", shellQuote(r.OIF))
	}
	if r.HasMark {
		m := "0x" + strconv.FormatUint(uint64(r.Mark), 16)
		if r.Mask != 0 {
			m += "/0x" + strconv.FormatUint(uint64(r.Mask), 16)
		}
		w = append(w, "fwmark", m)
	}
	if r.Table != 0 {
		w = append(w, "lookup", TableName(r.Table))
	} else {
		w = append(w, r.Action)
	}
	return strings.Join(w, " ")
}

func (r RuleSpec) netlinkRule() *netlink.Rule {
	nl := netlink.NewRule()
	nl.Family = r.family()
	nl.Priority = r.Priority
	nl.Table = r.Table
	if r.From.IsValid() {
		nl.Src = prefixNet(r.From.Masked())
	}
	if r.To.IsValid() {
		nl.Dst = prefixNet(r.To.Masked())
	}
	nl.IifName, nl.OifName = r.IIF, r.OIF
	if r.HasMark {
		nl.Mark = r.Mark
		mask := r.Mask
		if mask == 0 {
			mask = 0xffffffff
		}
		nl.Mask = &mask
	}
	nl.Type = unix.FR_ACT_TO_TBL
	if t, ok := ruleActions[r.Action]; ok {
		nl.Type = t
	}
	return nl
}

// AddRule adds a policy routing rule in the namespace and returns it.
func (n *Netns) AddRule(r RuleSpec) (*Rule, error) {
	if err := n.checkLive(); err != nil {
		return nil, err
	}
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("add rule in netns %q: %w", n.Name, err)
	}
	ru := &Rule{added: added{NS: n, Pos: n.lab.pos, kind: "rule", fam: r.family(), words: r.ipWords()}, Spec: r}
	n.routesCustom = true
	cmd := ipFam(n, r.family()) + " rule add " + ru.words
	err := n.lab.apply(Step{NS: n.Name, Op: "rule add", Desc: "rule add " + ru.words + " in " + n.Name, Cmds: []string{cmd}}, func() error {
		if n.lab.journaled(n) {
			return errors.New("with --host, rules cannot be journaled and undone")
		}
		ru.nl = r.netlinkRule()
		if err := n.h.RuleAdd(ru.nl); err != nil {
			if errors.Is(err, unix.EEXIST) {
				return errors.New("the same rule already exists")
			}
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("add rule %s in netns %q: %w", ru.words, n.Name, err)
	}
	return ru, nil
}

// Delete removes the rule, as `ip rule del` does.
func (ru *Rule) Delete() error {
	return ru.remove(func() error {
		if ru.nl == nil {
			return errors.New("the rule was never added")
		}
		return ru.NS.h.RuleDel(ru.nl)
	})
}
