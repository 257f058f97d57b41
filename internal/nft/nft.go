// Package nft compiles the lab's packet rules (NAT and filter) into
// nftables expressions and the nft commands that say the same. It is pure:
// it makes no system call; the lab applies what it returns, in the
// namespace's table, and decides whether a rule's interfaces exist.
package nft

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Table is the nftables table (family inet) that holds the lab's NAT and
// filter rules, one per namespace that has any.
const Table = "nsscript"

// Match selects the packets a NAT or filter rule applies to. Zero fields
// match anything.
type Match struct {
	Src, Dst      netip.Prefix // source and destination networks
	Proto         string       // "tcp", "udp", "icmp", "icmpv6" or "" for any
	Port          uint16       // destination port (tcp and udp only)
	In, Out       string       // input and output interface names
	NotIn, NotOut string       // interface names that must not be the input or output
	State         []string     // conntrack states: new, established, related, invalid, untracked
	ICMPType      string       // "echo-request", ... (proto icmp or icmpv6 only)
}

// Filter actions.
const (
	Accept = "accept"
	Drop   = "drop"
	Reject = "reject" // answer with an ICMP "administratively prohibited"
	// Notrack exempts packets from connection tracking (hooks prerouting
	// and output, before conntrack): they are then in state untracked.
	Notrack = "notrack"
)

// Hooks a filter rule may go in.
var FilterHooks = []string{"forward", "input", "output"}

// Rule is one compiled rule.
type Rule struct {
	Chain string     // the base chain it goes in: prerouting, postrouting, input, forward, output
	Exprs []expr.Any // its expressions
	Text  string     // as nft writes it, after "add rule inet nsscript CHAIN "
	Desc  string     // which packets it applies to and what it does, in words
	// FlushConntrack says the namespace's tracked connections must be
	// forgotten once the rule is in (NAT rules: a flow tracked before the
	// rule keeps its untranslated binding otherwise).
	FlushConntrack bool
	// UserData is the rule's user data (Counted: its comment), by which the
	// lab finds the rule again.
	UserData []byte
	tailText string // the action part of Text
}

// Counted returns r with a counter before its action and the comment tag,
// as `nft add rule ... counter accept comment "TAG"` makes it; the comment
// is how the rule is found again to read the counter (RuleCounter).
func (r Rule) Counted(tag string) Rule {
	n := len(r.Exprs)
	r.Exprs = append(append(append([]expr.Any{}, r.Exprs[:n-1]...), &expr.Counter{}), r.Exprs[n-1])
	head := strings.TrimSpace(strings.TrimSuffix(r.Text, r.tailText))
	r.Text = strings.TrimSpace(head+" counter "+r.tailText) + fmt.Sprintf(" comment %q", tag)
	// nft's user data is a list of TLVs; type 0 is the rule's comment, a
	// NUL-terminated string, which nft list shows.
	r.UserData = append([]byte{0, byte(len(tag) + 1)}, append([]byte(tag), 0)...)
	return r
}

// CommentTag returns the comment in a rule's user data, "" if none.
func CommentTag(ud []byte) string {
	for len(ud) >= 2 && int(ud[1])+2 <= len(ud) {
		typ, val := ud[0], ud[2:2+int(ud[1])]
		if typ == 0 {
			return strings.TrimRight(string(val), "\x00")
		}
		ud = ud[2+int(ud[1]):]
	}
	return ""
}

// Counter returns the counter expression of a rule read back from the
// kernel: its packets and bytes, and false if it has none.
func Counter(exprs []expr.Any) (packets, bytes uint64, ok bool) {
	for _, e := range exprs {
		if c, is := e.(*expr.Counter); is {
			return c.Packets, c.Bytes, true
		}
	}
	return 0, 0, false
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
	// Destination NAT of the connections the namespace opens itself.
	"nat_output": {nftables.ChainTypeNAT, nftables.ChainHookOutput, nftables.ChainPriorityNATDest, "type nat hook output priority dstnat; policy accept;"},
	// Before connection tracking: where notrack rules go.
	"raw_prerouting": {nftables.ChainTypeFilter, nftables.ChainHookPrerouting, nftables.ChainPriorityRaw, "type filter hook prerouting priority raw; policy accept;"},
	"raw_output":     {nftables.ChainTypeFilter, nftables.ChainHookOutput, nftables.ChainPriorityRaw, "type filter hook output priority raw; policy accept;"},
}

var ctStates = map[string]uint32{
	"new":         expr.CtStateBitNEW,
	"established": expr.CtStateBitESTABLISHED,
	"related":     expr.CtStateBitRELATED,
	"invalid":     expr.CtStateBitINVALID,
	"untracked":   expr.CtStateBitUNTRACKED,
}

// NewChain returns the base chain called name (one of Rule's chains) in
// table t, and the nft command that adds it.
func NewChain(t *nftables.Table, name string) (*nftables.Chain, string) {
	d := chainDefs[name]
	return &nftables.Chain{Name: name, Table: t, Type: d.typ, Hooknum: d.hook, Priority: d.prio},
		fmt.Sprintf("add chain inet %s %s { %s }", Table, name, d.spec)
}

// Masquerade compiles a source NAT rule: packets that match m and leave the
// namespace get the address of their outgoing interface as source, as
// `iptables -t nat -A POSTROUTING ... -j MASQUERADE` does.
func Masquerade(m Match) (Rule, error) {
	if m.In != "" || m.NotIn != "" {
		return Rule{}, errors.New("an input interface cannot be matched after routing (masquerade applies to packets leaving)")
	}
	if err := m.Check(); err != nil {
		return Rule{}, err
	}
	return m.rule("postrouting", nil, "", []expr.Any{&expr.Masq{}}, "masquerade", "masquerade "+m.Describe(), true), nil
}

// PortForward compiles a destination NAT rule: connections that match m and
// arrive at the namespace are sent on to to, as `iptables -t nat -A
// PREROUTING ... -j DNAT --to-destination` does. m.Proto must be tcp or udp
// and m.Port set. Without m.Dst, only connections addressed to one of the
// namespace's own addresses are forwarded.
func PortForward(m Match, to netip.AddrPort) (Rule, error) {
	return portForward(m, to, "prerouting")
}

// LocalPortForward compiles the destination NAT of PortForward for the
// connections the namespace opens itself (chain nat_output, hook output),
// as a host's port map does for its own clients. Without m.Dst, connections
// to any of the namespace's own addresses are forwarded.
func LocalPortForward(m Match, to netip.AddrPort) (Rule, error) {
	if m.In != "" || m.NotIn != "" {
		return Rule{}, errors.New("connections the namespace opens have no input interface")
	}
	return portForward(m, to, "nat_output")
}

func portForward(m Match, to netip.AddrPort, chain string) (Rule, error) {
	if m.Proto != "tcp" && m.Proto != "udp" {
		return Rule{}, fmt.Errorf("port forwarding needs proto tcp or udp, not %q", m.Proto)
	}
	if m.Port == 0 {
		return Rule{}, errors.New("port forwarding needs a port")
	}
	if m.Out != "" || m.NotOut != "" {
		return Rule{}, errors.New("an output interface is not known before routing (port forwarding applies to packets arriving)")
	}
	ip := to.Addr().Unmap()
	if !ip.IsValid() || to.Port() == 0 {
		return Rule{}, fmt.Errorf("invalid forwarding target %s (want ip:port)", to)
	}
	if err := m.Check(); err != nil {
		return Rule{}, err
	}
	for _, p := range []netip.Prefix{m.Src, m.Dst} {
		if p.IsValid() && p.Addr().Is4() != ip.Is4() {
			return Rule{}, fmt.Errorf("%s and target %s are of different families", p, ip)
		}
	}
	fam, word, nfproto := uint32(unix.NFPROTO_IPV4), "ip", "ipv4"
	if ip.Is6() {
		fam, word, nfproto = unix.NFPROTO_IPV6, "ip6", "ipv6"
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
	desc := "forward " + m.Describe() + " to " + target
	if chain == "nat_output" {
		desc = "forward connections opened here " + m.Describe() + " to " + target
	}
	return m.rule(chain, pre, preText, tail, "meta nfproto "+nfproto+" dnat "+word+" to "+target, desc, true), nil
}

// Filter compiles a filter rule for hook (forward, input or output) that
// applies action (Accept, Drop or Reject) to the packets that match m.
func Filter(hook, action string, m Match) (Rule, error) {
	if action == Notrack {
		return notrack(hook, m)
	}
	if !slices.Contains(FilterHooks, hook) {
		return Rule{}, fmt.Errorf("unknown hook %q (want forward, input or output)", hook)
	}
	if hook == "input" && (m.Out != "" || m.NotOut != "") {
		return Rule{}, errors.New("hook input has no output interface (its packets are for the namespace itself)")
	}
	if hook == "output" && (m.In != "" || m.NotIn != "") {
		return Rule{}, errors.New("hook output has no input interface (its packets come from the namespace itself)")
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
		return Rule{}, fmt.Errorf("unknown action %q (want accept, drop, reject or notrack)", action)
	}
	text := action
	if action == Reject {
		text = "reject with icmpx admin-prohibited"
	}
	if err := m.Check(); err != nil {
		return Rule{}, err
	}
	return m.rule(hook, nil, "", tail, text, fmt.Sprintf("%s %s in %s", action, m.Describe(), hook), false), nil
}

// notrack compiles a rule that exempts the packets m matches from
// connection tracking, in the raw chain of hook prerouting or output.
func notrack(hook string, m Match) (Rule, error) {
	if hook != "prerouting" && hook != "output" {
		return Rule{}, fmt.Errorf("notrack goes in hook prerouting or output, before connection tracking, not %q", hook)
	}
	if hook == "prerouting" && (m.Out != "" || m.NotOut != "") {
		return Rule{}, errors.New("an output interface is not known before routing")
	}
	if hook == "output" && (m.In != "" || m.NotIn != "") {
		return Rule{}, errors.New("hook output has no input interface (its packets come from the namespace itself)")
	}
	if len(m.State) > 0 {
		return Rule{}, errors.New("notrack comes before connection tracking: there is no state to match")
	}
	if err := m.Check(); err != nil {
		return Rule{}, err
	}
	return m.rule("raw_"+hook, nil, "", []expr.Any{&expr.Notrack{}}, "notrack", fmt.Sprintf("notrack %s in %s", m.Describe(), hook), false), nil
}

// rule puts a rule together: pre (with its text preText), then m's
// matches, then tail (with its text).
func (m Match) rule(chain string, pre []expr.Any, preText string, tail []expr.Any, text, desc string, flushCT bool) Rule {
	matches, mtext := m.exprs()
	return Rule{
		Chain:          chain,
		Exprs:          append(append(append([]expr.Any{}, pre...), matches...), tail...),
		Text:           strings.TrimSpace(preText + mtext + " " + text),
		Desc:           desc,
		FlushConntrack: flushCT,
		tailText:       text,
	}
}

// Check validates m on its own: families, protocol, port and connection
// states. Whether its interfaces exist is for the lab to say (Interfaces).
func (m Match) Check() error {
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
	if m.ICMPType != "" {
		if _, ok := icmpTypes[m.Proto][m.ICMPType]; !ok {
			return icmpTypeError(m.Proto, m.ICMPType)
		}
	}
	for _, s := range m.State {
		if _, ok := ctStates[s]; !ok {
			return fmt.Errorf("unknown connection state %q (want new, established, related, invalid or untracked)", s)
		}
	}
	return nil
}

// Interfaces returns the interface names m refers to.
func (m Match) Interfaces() []string {
	var out []string
	for _, name := range []string{m.In, m.Out, m.NotIn, m.NotOut} {
		if name != "" {
			out = append(out, name)
		}
	}
	return out
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
		switch {
		case m.Port != 0:
			es = append(es,
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(m.Port)})
			words = append(words, m.Proto+" dport "+strconv.Itoa(int(m.Port)))
		case m.ICMPType != "":
			es = append(es,
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{icmpTypes[m.Proto][m.ICMPType]}})
			words = append(words, m.Proto+" type "+m.ICMPType)
		default:
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

// Describe says in words which packets m matches, for a step's description.
func (m Match) Describe() string {
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
	if m.ICMPType != "" {
		parts = append(parts, m.ICMPType)
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
