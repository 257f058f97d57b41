package nft

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// These tests need no privileges: the compiler makes no system call.

func TestRuleText(t *testing.T) {
	p := netip.MustParsePrefix
	for _, c := range []struct {
		name    string
		compile func() (Rule, error)
		chain   string
		text    string
		desc    string
		flushCT bool
	}{
		{"masquerade", func() (Rule, error) { return Masquerade(Match{Src: p("10.100.0.0/16"), NotOut: "eth0"}) },
			"postrouting", `oifname != "eth0" ip saddr 10.100.0.0/16 masquerade`, "masquerade from 10.100.0.0/16 not out on eth0", true},
		{"port forward to self", func() (Rule, error) {
			return PortForward(Match{Proto: "udp", Port: 53}, netip.MustParseAddrPort("[fd00::2]:5353"))
		}, "prerouting", "fib daddr type local udp dport 53 meta nfproto ipv6 dnat ip6 to [fd00::2]:5353", "forward udp port 53 to [fd00::2]:5353", true},
		{"port forward to a destination", func() (Rule, error) {
			return PortForward(Match{Dst: p("203.0.113.1/32"), Proto: "tcp", Port: 80, In: "wan"}, netip.MustParseAddrPort("10.0.0.2:8080"))
		}, "prerouting", `iifname "wan" ip daddr 203.0.113.1 tcp dport 80 meta nfproto ipv4 dnat ip to 10.0.0.2:8080`, "forward to 203.0.113.1/32 tcp port 80 in on wan to 10.0.0.2:8080", true},
		{"reject", func() (Rule, error) { return Filter("forward", Reject, Match{Dst: p("fd00::1/128"), Proto: "icmpv6"}) },
			"forward", "ip6 daddr fd00::1 meta l4proto ipv6-icmp reject with icmpx admin-prohibited", "reject to fd00::1/128 icmpv6 in forward", false},
		{"drop by state", func() (Rule, error) { return Filter("input", Drop, Match{State: []string{"new", "invalid"}}) },
			"input", "ct state new,invalid drop", "drop state new,invalid in input", false},
		{"accept all", func() (Rule, error) { return Filter("output", Accept, Match{}) },
			"output", "accept", "accept all packets in output", false},
		{"icmpv6 type", func() (Rule, error) {
			return Filter("input", Drop, Match{Proto: "icmpv6", ICMPType: "echo-request"})
		}, "input", "icmpv6 type echo-request drop", "drop icmpv6 echo-request in input", false},
		{"untracked", func() (Rule, error) { return Filter("input", Accept, Match{State: []string{"untracked"}}) },
			"input", "ct state untracked accept", "accept state untracked in input", false},
		{"notrack", func() (Rule, error) { return Filter("output", Notrack, Match{Proto: "udp", Port: 53}) },
			"raw_output", "udp dport 53 notrack", "notrack udp port 53 in output", false},
		{"masquerade one port", func() (Rule, error) { return Masquerade(Match{Out: "wan", Proto: "tcp", Port: 80}) },
			"postrouting", `oifname "wan" tcp dport 80 masquerade`, "masquerade tcp port 80 out on wan", true},
		{"port forward of local connections", func() (Rule, error) {
			return LocalPortForward(Match{Proto: "tcp", Port: 8080}, netip.MustParseAddrPort("10.0.0.2:80"))
		}, "nat_output", "fib daddr type local tcp dport 8080 meta nfproto ipv4 dnat ip to 10.0.0.2:80", "forward connections opened here tcp port 8080 to 10.0.0.2:80", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := c.compile()
			if err != nil {
				t.Fatal(err)
			}
			if r.Chain != c.chain || r.Text != c.text || r.Desc != c.desc || r.FlushConntrack != c.flushCT {
				t.Errorf("rule %s %q (%q, flush %v), want %s %q (%q, flush %v)", r.Chain, r.Text, r.Desc, r.FlushConntrack,
					c.chain, c.text, c.desc, c.flushCT)
			}
			if len(r.Exprs) == 0 {
				t.Error("no expressions")
			}
		})
	}
}

// TestAddrMatch: a prefix shorter than the address is masked before the
// compare, a whole address is compared as it is.
func TestAddrMatch(t *testing.T) {
	es, text := addrMatch(netip.MustParsePrefix("10.1.2.3/24"), true)
	if text != "ip saddr 10.1.2.0/24" || len(es) != 3 {
		t.Fatalf("10.1.2.3/24: %q with %d expressions", text, len(es))
	}
	pl := es[0].(*expr.Payload)
	bw := es[1].(*expr.Bitwise)
	cmp := es[2].(*expr.Cmp)
	if pl.Offset != 12 || pl.Len != 4 || string(bw.Mask) != "\xff\xff\xff\x00" || string(cmp.Data) != "\x0a\x01\x02\x00" {
		t.Errorf("payload %+v, mask %x, data %x", pl, bw.Mask, cmp.Data)
	}
	es, text = addrMatch(netip.MustParsePrefix("fd00::1/128"), false)
	if text != "ip6 daddr fd00::1" || len(es) != 2 || es[0].(*expr.Payload).Offset != 24 {
		t.Errorf("fd00::1/128: %q with %d expressions", text, len(es))
	}
}

func TestRuleErrors(t *testing.T) {
	p := netip.MustParsePrefix
	to := netip.MustParseAddrPort("10.0.0.2:80")
	for _, c := range []struct {
		err     error
		wantErr string
	}{
		{second(Filter("prerouting", Drop, Match{})), `unknown hook "prerouting"`},
		{second(Filter("forward", "deny", Match{})), `unknown action "deny"`},
		{second(Filter("input", Drop, Match{Out: "eth0"})), "hook input has no output interface"},
		{second(Filter("output", Drop, Match{In: "eth0"})), "hook output has no input interface"},
		{second(Masquerade(Match{In: "eth0"})), "an input interface cannot be matched after routing"},
		{second(PortForward(Match{Port: 80}, to)), `port forwarding needs proto tcp or udp, not ""`},
		{second(PortForward(Match{Proto: "tcp"}, to)), "port forwarding needs a port"},
		{second(PortForward(Match{Proto: "tcp", Port: 80, Src: p("fd00::/8")}, to)), "fd00::/8 and target 10.0.0.2 are of different families"},
		{second(Filter("forward", Drop, Match{Src: p("10.0.0.0/8"), Dst: p("fd00::/8")})), "src 10.0.0.0/8 and dst fd00::/8 are of different families"},
		{second(Filter("forward", Drop, Match{Proto: "icmp", Dst: p("fd00::/8")})), "proto icmp does not go with fd00::/8"},
		{second(Filter("forward", Drop, Match{Proto: "sctp"})), `unknown proto "sctp"`},
		{second(Filter("forward", Drop, Match{Proto: "icmp", Port: 1})), "a port needs proto tcp or udp"},
		{second(Filter("forward", Drop, Match{State: []string{"old"}})), `unknown connection state "old"`},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.wantErr) {
			t.Errorf("error %v, want %q", c.err, c.wantErr)
		}
	}
}

func second(_ Rule, err error) error { return err }

func TestNewChain(t *testing.T) {
	tb := &nftables.Table{Name: Table, Family: nftables.TableFamilyINet}
	ch, cmd := NewChain(tb, "postrouting")
	if ch.Name != "postrouting" || ch.Table != tb || ch.Type != nftables.ChainTypeNAT || *ch.Hooknum != *nftables.ChainHookPostrouting {
		t.Errorf("chain %+v", ch)
	}
	if want := "add chain inet nsscript postrouting { type nat hook postrouting priority srcnat; policy accept; }"; cmd != want {
		t.Errorf("command %q, want %q", cmd, want)
	}
}

func TestInterfaces(t *testing.T) {
	m := Match{In: "a", NotOut: "d"}
	if got := strings.Join(m.Interfaces(), ","); got != "a,d" {
		t.Errorf("Interfaces() = %s", got)
	}
}

func TestICMPTypeExprAndErrors(t *testing.T) {
	r, err := Filter("forward", Drop, Match{Proto: "icmp", ICMPType: "echo-request"})
	if err != nil {
		t.Fatal(err)
	}
	var typ *expr.Cmp
	for i, e := range r.Exprs {
		if p, ok := e.(*expr.Payload); ok && p.Base == expr.PayloadBaseTransportHeader && p.Offset == 0 && p.Len == 1 {
			typ, _ = r.Exprs[i+1].(*expr.Cmp)
		}
	}
	if typ == nil || len(typ.Data) != 1 || typ.Data[0] != 8 {
		t.Fatalf("no comparison of the icmp type with 8 in %v", r.Exprs)
	}
	for m, want := range map[string]Match{
		"needs proto icmp or icmpv6":           {Proto: "tcp", ICMPType: "echo-request"},
		`unknown icmpv6 type "echo"`:           {Proto: "icmpv6", ICMPType: "echo"},
		"unknown icmp type \"packet-too-big\"": {Proto: "icmp", ICMPType: "packet-too-big"},
	} {
		if _, err := Filter("input", Drop, want); err == nil || !strings.Contains(err.Error(), m) {
			t.Errorf("%+v: %v, want %q", want, err, m)
		}
	}
	if _, err := Filter("forward", Notrack, Match{}); err == nil || !strings.Contains(err.Error(), "prerouting or output") {
		t.Errorf("notrack in forward: %v", err)
	}
	if _, err := Filter("prerouting", Notrack, Match{State: []string{"new"}}); err == nil {
		t.Error("notrack with a state match accepted")
	}
	if _, err := LocalPortForward(Match{Proto: "tcp", Port: 80, In: "eth0"}, netip.MustParseAddrPort("10.0.0.2:80")); err == nil {
		t.Error("local port forward with an input interface accepted")
	}
}

// TestCounted: a counted rule has its counter right before the action, the
// nft text says so with the comment, and the comment comes back out of the
// user data the kernel returns.
func TestCounted(t *testing.T) {
	r, err := Filter("input", Reject, Match{Proto: "tcp", Port: 22})
	if err != nil {
		t.Fatal(err)
	}
	c := r.Counted("nsscript-counter-7")
	if n := len(c.Exprs); n != len(r.Exprs)+1 {
		t.Fatalf("%d expressions, want %d", n, len(r.Exprs)+1)
	}
	if _, ok := c.Exprs[len(c.Exprs)-2].(*expr.Counter); !ok {
		t.Errorf("expression before the action is %T, want a counter", c.Exprs[len(c.Exprs)-2])
	}
	if want := `tcp dport 22 counter reject with icmpx admin-prohibited comment "nsscript-counter-7"`; c.Text != want {
		t.Errorf("text %q, want %q", c.Text, want)
	}
	if got := CommentTag(c.UserData); got != "nsscript-counter-7" {
		t.Errorf("CommentTag = %q", got)
	}
	if got := CommentTag(append([]byte{7, 2, 'x', 0}, c.UserData...)); got != "nsscript-counter-7" {
		t.Errorf("CommentTag after another TLV = %q", got)
	}
	if p, b, ok := Counter([]expr.Any{&expr.Counter{Packets: 3, Bytes: 252}}); !ok || p != 3 || b != 252 {
		t.Errorf("Counter = %d, %d, %v", p, b, ok)
	}
	if len(r.UserData) != 0 || strings.Contains(r.Text, "counter") {
		t.Error("Counted changed the rule it was called on")
	}
}
