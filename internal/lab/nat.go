package lab

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/nsutil"
)

// NFTTable is the nftables table (family inet) that holds the lab's NAT and
// filter rules, one per namespace that has any.
const NFTTable = "nsscript"

// Match selects the packets a NAT or filter rule applies to. Zero fields
// match anything.
type Match struct {
	Src, Dst      netip.Prefix // source and destination networks
	Proto         string       // "tcp", "udp", "icmp", "icmpv6" or "" for any
	Port          uint16       // destination port (tcp and udp only)
	In, Out       string       // input and output interface names
	NotIn, NotOut string       // interface names that must not be the input or output
	State         []string     // conntrack states: new, established, related, invalid
}

// Filter actions.
const (
	Accept = "accept"
	Drop   = "drop"
	Reject = "reject" // answer with an ICMP "administratively prohibited"
)

// Hooks a filter rule may go in.
var FilterHooks = []string{"forward", "input", "output"}

// nftState is a namespace's share of the lab's nftables table: which of its
// chains exist so far.
type nftState struct {
	table  *nftables.Table
	chains map[string]*nftables.Chain
}

// chainDef is one of the base chains the lab may create.
type chainDef struct {
	typ  nftables.ChainType
	hook *nftables.ChainHook
	prio *nftables.ChainPriority
	spec string // as nft writes it
}

var chainDefs = map[string]chainDef{
	"prerouting":  {nftables.ChainTypeNAT, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest, "type nat hook prerouting priority dstnat; policy accept;"},
	"postrouting": {nftables.ChainTypeNAT, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource, "type nat hook postrouting priority srcnat; policy accept;"},
	"input":       {nftables.ChainTypeFilter, nftables.ChainHookInput, nftables.ChainPriorityFilter, "type filter hook input priority filter; policy accept;"},
	"forward":     {nftables.ChainTypeFilter, nftables.ChainHookForward, nftables.ChainPriorityFilter, "type filter hook forward priority filter; policy accept;"},
	"output":      {nftables.ChainTypeFilter, nftables.ChainHookOutput, nftables.ChainPriorityFilter, "type filter hook output priority filter; policy accept;"},
}

var ctStates = map[string]uint32{
	"new":         expr.CtStateBitNEW,
	"established": expr.CtStateBitESTABLISHED,
	"related":     expr.CtStateBitRELATED,
	"invalid":     expr.CtStateBitINVALID,
}

// Masquerade adds a source NAT rule: packets that match m and leave the
// namespace get the address of their outgoing interface as source, as
// `iptables -t nat -A POSTROUTING ... -j MASQUERADE` does. The namespace's
// tracked connections are then forgotten (conntrack -F), so that a flow probed
// before the rule does not keep its untranslated binding.
func (n *Netns) Masquerade(m Match) error {
	if m.In != "" || m.NotIn != "" {
		return errors.New("an input interface cannot be matched after routing (masquerade applies to packets leaving)")
	}
	if err := n.checkMatch(m); err != nil {
		return err
	}
	return n.addRule("postrouting", m, ruleTail{
		exprs: []expr.Any{&expr.Masq{}},
		text:  "masquerade",
		desc:  "masquerade " + m.describe(),
	}, true)
}

// PortForward adds a destination NAT rule: connections that match m and
// arrive at the namespace are sent on to to, as `iptables -t nat -A
// PREROUTING ... -j DNAT --to-destination` does. m.Proto must be tcp or udp
// and m.Port set. Without m.Dst, only connections addressed to one of the
// namespace's own addresses are forwarded. Connections the namespace opens
// itself are not (the rule sits in prerouting). Tracked connections are
// forgotten, as with Masquerade.
func (n *Netns) PortForward(m Match, to netip.AddrPort) error {
	if m.Proto != "tcp" && m.Proto != "udp" {
		return fmt.Errorf("port forwarding needs proto tcp or udp, not %q", m.Proto)
	}
	if m.Port == 0 {
		return errors.New("port forwarding needs a port")
	}
	if m.Out != "" || m.NotOut != "" {
		return errors.New("an output interface is not known before routing (port forwarding applies to packets arriving)")
	}
	ip := to.Addr().Unmap()
	if !ip.IsValid() || to.Port() == 0 {
		return fmt.Errorf("invalid forwarding target %s (want ip:port)", to)
	}
	if err := n.checkMatch(m); err != nil {
		return err
	}
	for _, p := range []netip.Prefix{m.Src, m.Dst} {
		if p.IsValid() && p.Addr().Is4() != ip.Is4() {
			return fmt.Errorf("%s and target %s are of different families", p, ip)
		}
	}
	fam, word := uint32(unix.NFPROTO_IPV4), "ip"
	if ip.Is6() {
		fam, word = unix.NFPROTO_IPV6, "ip6"
	}
	var pre []expr.Any
	preText := ""
	if !m.Dst.IsValid() {
		pre = []expr.Any{
			&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
		}
		preText = "fib daddr type local "
	}
	tail := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{byte(fam)}},
		&expr.Immediate{Register: 1, Data: ip.AsSlice()},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(to.Port())},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: fam, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	}
	target := netip.AddrPortFrom(ip, to.Port()).String()
	return n.addRule("prerouting", m, ruleTail{
		pre:     pre,
		preText: preText,
		exprs:   tail,
		text:    "dnat " + word + " to " + target,
		desc:    "forward " + m.describe() + " to " + target,
	}, true)
}

// Filter adds a filter rule to hook (forward, input or output) that applies
// action (Accept, Drop or Reject) to the packets that match m. Rules apply in
// the order they were added; the first that matches decides, and packets no
// rule matches are accepted.
func (n *Netns) Filter(hook, action string, m Match) error {
	if !slices.Contains(FilterHooks, hook) {
		return fmt.Errorf("unknown hook %q (want forward, input or output)", hook)
	}
	if hook == "input" && (m.Out != "" || m.NotOut != "") {
		return errors.New("hook input has no output interface (its packets are for the namespace itself)")
	}
	if hook == "output" && (m.In != "" || m.NotIn != "") {
		return errors.New("hook output has no input interface (its packets come from the namespace itself)")
	}
	var tail []expr.Any
	switch action {
	case Accept:
		tail = []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}}
	case Drop:
		tail = []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}}
	case Reject:
		tail = []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_ADMIN_PROHIBITED}}
	default:
		return fmt.Errorf("unknown action %q (want accept, drop or reject)", action)
	}
	text := action
	if action == Reject {
		text = "reject with icmpx admin-prohibited"
	}
	if err := n.checkMatch(m); err != nil {
		return err
	}
	return n.addRule(hook, m, ruleTail{exprs: tail, text: text, desc: fmt.Sprintf("%s %s in %s", action, m.describe(), hook)}, false)
}

// ruleTail is what a rule does once m matched, with its nft text.
type ruleTail struct {
	pre     []expr.Any // matches before m's (port forwarding's fib)
	preText string
	exprs   []expr.Any
	text    string
	desc    string
}

// addRule appends one rule to chain, creating the table and the chain in the
// same batch when they do not exist yet.
func (n *Netns) addRule(chain string, m Match, t ruleTail, flushCT bool) error {
	l := n.lab
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
	ch := st.chains[chain]
	newChain := ch == nil
	if newChain {
		d := chainDefs[chain]
		ch = &nftables.Chain{Name: chain, Table: st.table, Type: d.typ, Hooknum: d.hook, Priority: d.prio}
		cmds = append(cmds, nftCmd(n, fmt.Sprintf("add chain inet %s %s { %s }", NFTTable, chain, d.spec)))
	}
	matches, text := m.exprs()
	rule := strings.TrimSpace(t.preText + text + " " + t.text)
	cmds = append(cmds, nftCmd(n, fmt.Sprintf("add rule inet %s %s %s", NFTTable, chain, rule)))
	if flushCT {
		cmds = append(cmds, inNS(n, "conntrack -F"))
	}
	err := l.apply(Step{NS: n.Name, Op: "nft rule", Desc: t.desc + " in netns " + n.Name, Cmds: cmds}, func() error {
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
		exprs := append(append(append([]expr.Any{}, t.pre...), matches...), t.exprs...)
		c.AddRule(&nftables.Rule{Table: st.table, Chain: ch, Exprs: exprs})
		if err := c.Flush(); err != nil {
			return fmt.Errorf("nftables: %w", errnoOf(err))
		}
		st.chains[chain] = ch
		if flushCT {
			return n.flushConntrack()
		}
		return nil
	})
	if err != nil {
		return err
	}
	n.nft = st
	st.chains[chain] = ch
	return nil
}

// createTable creates the lab's table in n; on the real host (--host) it is
// journaled and deleted when the run ends.
func (n *Netns) createTable(t *nftables.Table) error {
	err := n.lab.hostNftTable(n, t.Family, t.Name, func() error {
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

// checkMatch validates m for a rule in namespace n.
func (n *Netns) checkMatch(m Match) error {
	if m.Src.IsValid() && m.Dst.IsValid() && m.Src.Addr().Is4() != m.Dst.Addr().Is4() {
		return fmt.Errorf("src %s and dst %s are of different families", m.Src.Masked(), m.Dst.Masked())
	}
	switch m.Proto {
	case "", "tcp", "udp":
	case "icmp", "icmpv6":
		for _, p := range []netip.Prefix{m.Src, m.Dst} {
			if p.IsValid() && p.Addr().Is4() != (m.Proto == "icmp") {
				return fmt.Errorf("proto %s does not go with %s", m.Proto, p.Masked())
			}
		}
	default:
		return fmt.Errorf("unknown proto %q (want tcp, udp, icmp or icmpv6)", m.Proto)
	}
	if m.Port != 0 && m.Proto != "tcp" && m.Proto != "udp" {
		return errors.New("a port needs proto tcp or udp")
	}
	for _, s := range m.State {
		if _, ok := ctStates[s]; !ok {
			return fmt.Errorf("unknown connection state %q (want new, established, related or invalid)", s)
		}
	}
	for _, name := range []string{m.In, m.Out, m.NotIn, m.NotOut} {
		if name == "" {
			continue
		}
		if err := n.checkIface(name); err != nil {
			return err
		}
	}
	return nil
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

// exprs returns the nftables expressions of m and their nft text.
func (m Match) exprs() ([]expr.Any, string) {
	var es []expr.Any
	var words []string
	ifname := func(key expr.MetaKey, word, name string, neq bool) {
		b := make([]byte, unix.IFNAMSIZ)
		copy(b, name)
		op, opText := expr.CmpOpEq, ""
		if neq {
			op, opText = expr.CmpOpNeq, "!= "
		}
		es = append(es, &expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: op, Register: 1, Data: b})
		words = append(words, fmt.Sprintf("%s %s%q", word, opText, name))
	}
	if m.In != "" {
		ifname(expr.MetaKeyIIFNAME, "iifname", m.In, false)
	}
	if m.NotIn != "" {
		ifname(expr.MetaKeyIIFNAME, "iifname", m.NotIn, true)
	}
	if m.Out != "" {
		ifname(expr.MetaKeyOIFNAME, "oifname", m.Out, false)
	}
	if m.NotOut != "" {
		ifname(expr.MetaKeyOIFNAME, "oifname", m.NotOut, true)
	}
	if m.Src.IsValid() || m.Dst.IsValid() {
		v4 := (m.Src.IsValid() && m.Src.Addr().Is4()) || (m.Dst.IsValid() && m.Dst.Addr().Is4())
		fam := byte(unix.NFPROTO_IPV6)
		if v4 {
			fam = unix.NFPROTO_IPV4
		}
		es = append(es, &expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{fam}})
	}
	if m.Src.IsValid() {
		e, w := addrMatch(m.Src, true)
		es, words = append(es, e...), append(words, w)
	}
	if m.Dst.IsValid() {
		e, w := addrMatch(m.Dst, false)
		es, words = append(es, e...), append(words, w)
	}
	if m.Proto != "" {
		num := map[string]byte{"tcp": unix.IPPROTO_TCP, "udp": unix.IPPROTO_UDP, "icmp": unix.IPPROTO_ICMP, "icmpv6": unix.IPPROTO_ICMPV6}[m.Proto]
		es = append(es, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{num}})
		if m.Port != 0 {
			es = append(es,
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(m.Port)})
			words = append(words, m.Proto+" dport "+strconv.Itoa(int(m.Port)))
		} else {
			word := m.Proto
			if word == "icmpv6" {
				word = "ipv6-icmp"
			}
			words = append(words, "meta l4proto "+word)
		}
	}
	if len(m.State) > 0 {
		var bits uint32
		for _, s := range m.State {
			bits |= ctStates[s]
		}
		es = append(es,
			&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: make([]byte, 4)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)})
		words = append(words, "ct state "+strings.Join(m.State, ","))
	}
	return es, strings.Join(words, " ")
}

// addrMatch matches the source (or destination) address against p.
func addrMatch(p netip.Prefix, src bool) ([]expr.Any, string) {
	p = p.Masked()
	size, off, word := uint32(4), uint32(16), "ip"
	if p.Addr().Is6() {
		size, off, word = 16, 24, "ip6"
	}
	if src {
		off -= size
		word += " saddr "
	} else {
		word += " daddr "
	}
	es := []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: size}}
	if p.Bits() < p.Addr().BitLen() {
		mask := make([]byte, size)
		for i := 0; i < p.Bits(); i++ {
			mask[i/8] |= 0x80 >> (i % 8)
		}
		es = append(es, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: size, Mask: mask, Xor: make([]byte, size)})
		word += p.String()
	} else {
		word += p.Addr().String()
	}
	return append(es, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Addr().AsSlice()}), word
}

// describe says in words which packets m matches, for a step's description.
func (m Match) describe() string {
	var parts []string
	if m.Src.IsValid() {
		parts = append(parts, "from "+m.Src.Masked().String())
	}
	if m.Dst.IsValid() {
		parts = append(parts, "to "+m.Dst.Masked().String())
	}
	if m.Proto != "" {
		parts = append(parts, m.Proto)
	}
	if m.Port != 0 {
		parts = append(parts, "port "+strconv.Itoa(int(m.Port)))
	}
	if m.In != "" {
		parts = append(parts, "in on "+m.In)
	}
	if m.NotIn != "" {
		parts = append(parts, "not in on "+m.NotIn)
	}
	if m.Out != "" {
		parts = append(parts, "out on "+m.Out)
	}
	if m.NotOut != "" {
		parts = append(parts, "not out on "+m.NotOut)
	}
	if len(m.State) > 0 {
		parts = append(parts, "state "+strings.Join(m.State, ","))
	}
	if len(parts) == 0 {
		return "all packets"
	}
	return strings.Join(parts, " ")
}
