package lab

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/hostjournal"
	"github.com/nsscript/nsscript/internal/nft"
	"github.com/nsscript/nsscript/internal/nsutil"
)

// NFTTable is the nftables table (family inet) that holds the lab's NAT and
// filter rules, one per namespace that has any.
const NFTTable = nft.Table

// Match selects the packets a NAT or filter rule applies to (see nft.Match).
type Match = nft.Match

// Filter actions.
const (
	Accept = nft.Accept
	Drop   = nft.Drop
	Reject = nft.Reject
)

// FilterHooks are the hooks a filter rule may go in.
var FilterHooks = nft.FilterHooks

// nftState is a namespace's share of the lab's nftables table: which of its
// chains exist so far.
type nftState struct {
	table   *nftables.Table
	chains  map[string]*nftables.Chain
	counted int // rules with a counter so far: their comment tags
}

// Masquerade adds a source NAT rule (nft.Masquerade): packets that match m
// and leave the namespace get the address of their outgoing interface as
// source. The namespace's tracked connections are then forgotten
// (conntrack -F), so that a flow probed before the rule does not keep its
// untranslated binding.
func (n *Netns) Masquerade(m Match) error {
	return n.addRule(m, func() (nft.Rule, error) { return nft.Masquerade(m) })
}

// PortForward adds a destination NAT rule (nft.PortForward): connections
// that match m and arrive at the namespace are sent on to to. Connections
// the namespace opens itself are not (the rule sits in prerouting).
// Tracked connections are forgotten, as with Masquerade.
func (n *Netns) PortForward(m Match, to netip.AddrPort) error {
	return n.addRule(m, func() (nft.Rule, error) { return nft.PortForward(m, to) })
}

// LocalPortForward adds the destination NAT of PortForward for the
// connections the namespace opens itself (nft.LocalPortForward, hook
// output). Tracked connections are forgotten, as with Masquerade.
func (n *Netns) LocalPortForward(m Match, to netip.AddrPort) error {
	return n.addRule(m, func() (nft.Rule, error) { return nft.LocalPortForward(m, to) })
}

// Filter adds a filter rule (nft.Filter) to hook (forward, input or output)
// that applies action (Accept, Drop or Reject) to the packets that match
// m. Rules apply in the order they were added; the first that matches
// decides, and packets no rule matches are accepted.
func (n *Netns) Filter(hook, action string, m Match) error {
	return n.addRule(m, func() (nft.Rule, error) { return nft.Filter(hook, action, m) })
}

// RuleCounter is a filter rule with a counter (CountedFilter), found again
// by its comment tag to read what it matched.
type RuleCounter struct {
	NS    *Netns
	Chain string // the base chain it is in
	Tag   string // its comment
	Desc  string // nft.Rule's Desc
}

// CountedFilter adds a filter rule as Filter does, with a counter.
func (n *Netns) CountedFilter(hook, action string, m Match) (*RuleCounter, error) {
	tag := "nsscript-counter-1"
	if n.nft != nil {
		tag = fmt.Sprintf("nsscript-counter-%d", n.nft.counted+1)
	}
	var rule nft.Rule
	err := n.addRule(m, func() (nft.Rule, error) {
		r, err := nft.Filter(hook, action, m)
		if err == nil {
			rule = r.Counted(tag)
		}
		return rule, err
	})
	if err != nil {
		return nil, err
	}
	n.nft.counted++
	return &RuleCounter{NS: n, Chain: rule.Chain, Tag: tag, Desc: rule.Desc}, nil
}

// Counters reads the packets and bytes the rule has matched, from the
// kernel (0, 0 in a plan).
func (rc *RuleCounter) Counters() (packets, bytes uint64, err error) {
	n := rc.NS
	n.lab.Note(Step{NS: n.Name, Op: "show", Desc: "read the counter of the rule " + rc.Desc,
		Cmds: []string{nftCmd(n, fmt.Sprintf("list chain inet %s %s", NFTTable, rc.Chain))}})
	if n.lab.opts.Plan {
		return 0, 0, nil
	}
	c, err := nftables.New(nftables.WithNetNSFd(n.fd))
	if err != nil {
		return 0, 0, fmt.Errorf("nftables: %w", err)
	}
	rules, err := c.GetRules(n.nft.table, n.nft.chains[rc.Chain])
	if err != nil {
		return 0, 0, fmt.Errorf("nftables: list chain %s: %w", rc.Chain, errnoOf(err))
	}
	for _, r := range rules {
		if nft.CommentTag(r.UserData) == rc.Tag {
			if p, b, ok := nft.Counter(r.Exprs); ok {
				return p, b, nil
			}
		}
	}
	return 0, 0, fmt.Errorf("the rule %q (comment %q) is no longer in chain %s of netns %q", rc.Desc, rc.Tag, rc.Chain, n.Name)
}

// addRule compiles a rule whose match is m, checks that m's interfaces are
// links of n, and appends the rule to its chain, creating the table and the
// chain in the same batch when they do not exist yet.
func (n *Netns) addRule(m Match, compile func() (nft.Rule, error)) error {
	r, err := compile()
	if err != nil {
		return err
	}
	for _, name := range m.Interfaces() {
		if err := n.checkIface(name); err != nil {
			return err
		}
	}
	st := n.nft
	fresh := st == nil
	if fresh {
		st = &nftState{
			table:  &nftables.Table{Name: NFTTable, Family: nftables.TableFamilyINet},
			chains: map[string]*nftables.Chain{},
		}
	}
	var cmds []string
	if fresh {
		cmds = append(cmds, nftCmd(n, "add table inet "+NFTTable))
	}
	ch := st.chains[r.Chain]
	newChain := ch == nil
	if newChain {
		var add string
		ch, add = nft.NewChain(st.table, r.Chain)
		cmds = append(cmds, nftCmd(n, add))
	}
	cmds = append(cmds, nftCmd(n, fmt.Sprintf("add rule inet %s %s %s", NFTTable, r.Chain, r.Text)))
	if r.FlushConntrack {
		cmds = append(cmds, inNS(n, "conntrack -F"))
	}
	err = n.lab.apply(Step{NS: n.Name, Op: "nft rule", Desc: r.Desc + " in netns " + n.Name, Cmds: cmds}, func() error {
		if fresh {
			if err := n.createTable(st.table); err != nil {
				return err
			}
			n.nft = st
		}
		c, err := nftables.New(nftables.WithNetNSFd(n.fd))
		if err != nil {
			return fmt.Errorf("nftables: %w", err)
		}
		if newChain {
			c.AddChain(ch)
		}
		c.AddRule(&nftables.Rule{Table: st.table, Chain: ch, Exprs: r.Exprs, UserData: r.UserData})
		if err := c.Flush(); err != nil {
			return fmt.Errorf("nftables: %w", errnoOf(err))
		}
		st.chains[r.Chain] = ch
		if r.FlushConntrack {
			return n.flushConntrack()
		}
		return nil
	})
	if err != nil {
		return err
	}
	n.nft = st
	st.chains[r.Chain] = ch
	return nil
}

// createTable creates the lab's table in n; on the real host (--host) it is
// journaled and deleted when the run ends.
func (n *Netns) createTable(t *nftables.Table) error {
	err := n.lab.hostChange(n, hostjournal.Entry{Kind: hostjournal.NftTable, Name: t.Name, Family: int(t.Family)}, func() error {
		c, err := nftables.New(nftables.WithNetNSFd(n.fd))
		if err != nil {
			return err
		}
		c.CreateTable(t)
		return c.Flush()
	})
	switch {
	case errors.Is(err, unix.EEXIST):
		return fmt.Errorf("nftables table inet %s already exists in netns %q (left by an earlier run? remove it with: %s)",
			t.Name, n.Name, nftCmd(n, "delete table inet "+t.Name))
	case err != nil:
		return fmt.Errorf("nftables: %w", errnoOf(err))
	}
	return nil
}

// flushConntrack forgets every connection the namespace tracks.
func (n *Netns) flushConntrack() error {
	h, err := nsutil.NewHandle(n.fd, unix.NETLINK_NETFILTER)
	if err != nil {
		return fmt.Errorf("conntrack: %w", err)
	}
	defer h.Close()
	if err := h.ConntrackTableFlush(netlink.ConntrackTable); err != nil {
		return fmt.Errorf("conntrack flush: %w", err)
	}
	return nil
}

// errnoOf reduces the nftables library's wrapped errors to the kernel's
// errno, whose text is what a user can act on.
func errnoOf(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

// nftCmd renders an nft command for namespace n, quoting it whole when the
// shell would otherwise eat part of it.
func nftCmd(n *Netns, words string) string {
	if strings.ContainsAny(words, "\"{};!") {
		words = "'" + words + "'"
	}
	return inNS(n, "nft "+words)
}

// checkIface reports an interface name that does not name a link of n.
func (n *Netns) checkIface(name string) error {
	if err := CheckLinkName(name); err != nil {
		return err
	}
	if n.links[name] != nil || n.lab.opts.Plan {
		return nil
	}
	_, err := n.FindLink(name)
	return err
}
