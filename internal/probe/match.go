package probe

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// PacketMatch selects packets by their decoded fields: every field that is
// set must hold (a zero field matches anything). It is both a capture's
// filter and what expect_packets counts.
type PacketMatch struct {
	Proto string // as Packet.Proto; "ip" and "ip6" match every IPv4 or IPv6 packet
	Type  string // as Packet.Type
	Flags string // as Packet.Flags, exactly
	// Src, Dst and Host (either end) match addresses inside the prefix.
	Src, Dst, Host     netip.Prefix
	Sport, Dport, Port int // Port: either end
}

// Protos lists the values PacketMatch.Proto takes.
var Protos = []string{"arp", "icmp", "icmp6", "igmp", "tcp", "udp", "ip", "ip6"}

// PacketTypes lists the values PacketMatch.Type takes, by protocol.
var PacketTypes = map[string][]string{
	"arp":   {"request", "reply"},
	"icmp":  sortedValues(icmp4Types),
	"icmp6": sortedValues(icmp6Types),
}

func sortedValues(m map[uint8]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// Check reports a field that can never match: an unknown protocol or type,
// tcp flags or ports of a protocol without them.
func (m PacketMatch) Check() error {
	if m.Proto != "" && !contains(Protos, m.Proto) {
		return fmt.Errorf("unknown proto %q (want one of %s)", m.Proto, strings.Join(Protos, ", "))
	}
	if m.Type != "" {
		if _, ok := PacketTypes[m.Proto]; !ok && m.Proto != "" {
			return fmt.Errorf("type %q needs proto \"arp\", \"icmp\" or \"icmp6\", not %q", m.Type, m.Proto)
		}
		if len(m.typeProtos()) == 0 {
			return fmt.Errorf("unknown %s type %q (want one of %s)", orAny(m.Proto), m.Type, strings.Join(m.knownTypes(), ", "))
		}
	}
	if m.Flags != "" && m.Proto != "" && m.Proto != "tcp" {
		return fmt.Errorf("flags %q needs proto \"tcp\", not %q", m.Flags, m.Proto)
	}
	if m.Flags != "" && strings.Trim(m.Flags, "SFRPUEW.") != "" && m.Flags != "none" {
		return fmt.Errorf("invalid tcp flags %q (want tcpdump's letters, e.g. \"S\", \"S.\", \".\", \"P.\", \"F.\", \"R\")", m.Flags)
	}
	if (m.Sport != 0 || m.Dport != 0 || m.Port != 0) && m.Proto != "" && m.Proto != "tcp" && m.Proto != "udp" {
		return fmt.Errorf("ports need proto \"tcp\" or \"udp\", not %q", m.Proto)
	}
	return nil
}

// typeProtos lists the protocols (m.Proto, or any when it is empty) that
// have a message type called m.Type.
func (m PacketMatch) typeProtos() []string {
	var out []string
	for _, p := range []string{"arp", "icmp", "icmp6"} {
		if (m.Proto == "" || m.Proto == p) && contains(PacketTypes[p], m.Type) {
			out = append(out, p)
		}
	}
	return out
}

// knownTypes lists the types of m.Proto, or of every protocol.
func (m PacketMatch) knownTypes() []string {
	if m.Proto != "" {
		return PacketTypes[m.Proto]
	}
	seen := map[string]bool{}
	var out []string
	for _, p := range []string{"arp", "icmp", "icmp6"} {
		for _, t := range PacketTypes[p] {
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	sort.Strings(out)
	return out
}

func orAny(proto string) string {
	if proto == "" {
		return "packet"
	}
	return proto
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Match reports whether p has every field m asks for.
func (m PacketMatch) Match(p *Packet) bool {
	switch {
	case m.Proto == "ip" && p.family != 4, m.Proto == "ip6" && p.family != 6:
		return false
	case m.Proto != "" && m.Proto != "ip" && m.Proto != "ip6" && m.Proto != p.Proto:
		return false
	case m.Type != "" && m.Type != p.Type, m.Flags != "" && m.Flags != p.Flags:
		return false
	case m.Src.IsValid() && !m.Src.Contains(p.Src), m.Dst.IsValid() && !m.Dst.Contains(p.Dst):
		return false
	case m.Host.IsValid() && !m.Host.Contains(p.Src) && !m.Host.Contains(p.Dst):
		return false
	case m.Sport != 0 && m.Sport != p.Sport, m.Dport != 0 && m.Dport != p.Dport:
		return false
	case m.Port != 0 && m.Port != p.Sport && m.Port != p.Dport:
		return false
	}
	return true
}

// IsZero reports whether m matches every packet.
func (m PacketMatch) IsZero() bool { return m == PacketMatch{} }

// String writes m as the keyword arguments that make it, "proto=arp
// type=request", or "any packet".
func (m PacketMatch) String() string {
	var f []string
	add := func(k, v string) {
		if v != "" {
			f = append(f, k+"="+v)
		}
	}
	add("proto", m.Proto)
	add("type", m.Type)
	add("flags", m.Flags)
	add("src", prefixText(m.Src))
	add("dst", prefixText(m.Dst))
	add("host", prefixText(m.Host))
	add("sport", portText(m.Sport))
	add("dport", portText(m.Dport))
	add("port", portText(m.Port))
	if len(f) == 0 {
		return "any packet"
	}
	return strings.Join(f, " ")
}

func prefixText(p netip.Prefix) string {
	if !p.IsValid() {
		return ""
	}
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

func portText(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// tcpdumpTypes are libpcap's names for the message types of PacketTypes.
var tcpdumpTypes = map[string]string{
	"arp request": "arp[6:2] == 1", "arp reply": "arp[6:2] == 2",
	"icmp echo-request": "icmp-echo", "icmp echo-reply": "icmp-echoreply", "icmp unreachable": "icmp-unreach",
	"icmp time-exceeded": "icmp-timxceed", "icmp redirect": "icmp-redirect", "icmp parameter-problem": "icmp-paramprob",
	"icmp6 echo-request": "icmp6-echo", "icmp6 echo-reply": "icmp6-echoreply",
	"icmp6 unreachable": "icmp6-destinationunreach", "icmp6 packet-too-big": "icmp6-packettoobig",
	"icmp6 time-exceeded": "icmp6-timeexceeded", "icmp6 parameter-problem": "icmp6-parameterproblem",
	"icmp6 router-solicitation": "icmp6-routersolicit", "icmp6 router-advertisement": "icmp6-routeradvert",
	"icmp6 neighbor-solicitation": "icmp6-neighborsolicit", "icmp6 neighbor-advertisement": "icmp6-neighboradvert",
	"icmp6 redirect": "icmp6-redirect", "icmp6 multicast-listener-query": "icmp6-multicastlistenerquery",
	"icmp6 multicast-listener-report": "icmp6-multicastlistenerreportv1", "icmp6 multicast-listener-done": "icmp6-multicastlistenerdone",
	"icmp6 multicast-listener-report-v2": "icmp6-multicastlistenerreportv2",
}

var tcpdumpFlags = map[rune]string{'S': "tcp-syn", 'F': "tcp-fin", 'R': "tcp-rst", 'P': "tcp-push", 'U': "tcp-urg", 'E': "tcp-ece", 'W': "tcp-cwr", '.': "tcp-ack"}

// Tcpdump writes m as a tcpdump (pcap-filter) expression that selects the
// same packets, "" for any packet.
func (m PacketMatch) Tcpdump() string {
	var f []string
	if m.Proto != "" {
		f = append(f, m.Proto)
	}
	if m.Type != "" {
		var alts []string
		for _, p := range m.typeProtos() {
			x := tcpdumpTypes[p+" "+m.Type]
			switch p {
			case "icmp":
				x = "icmp[icmptype] == " + x
			case "icmp6":
				x = "icmp6[icmp6type] == " + x
			}
			alts = append(alts, x)
		}
		if len(alts) > 1 {
			f = append(f, "("+strings.Join(alts, " or ")+")")
		} else {
			f = append(f, alts...)
		}
	}
	if m.Flags != "" {
		var bits []string
		for _, c := range m.Flags {
			if b, ok := tcpdumpFlags[c]; ok {
				bits = append(bits, b)
			}
		}
		mask := "0"
		switch {
		case len(bits) == 1:
			mask = bits[0]
		case len(bits) > 1:
			mask = "(" + strings.Join(bits, "|") + ")"
		}
		f = append(f, "tcp[tcpflags] == "+mask)
	}
	net := func(dir string, p netip.Prefix) {
		switch {
		case !p.IsValid():
		case p.IsSingleIP():
			f = append(f, strings.TrimPrefix(dir+" host ", " ")+p.Addr().String())
		default:
			f = append(f, strings.TrimPrefix(dir+" net ", " ")+p.String())
		}
	}
	net("src", m.Src)
	net("dst", m.Dst)
	net("", m.Host)
	for _, x := range []struct {
		word string
		n    int
	}{{"src port", m.Sport}, {"dst port", m.Dport}, {"port", m.Port}} {
		if x.n != 0 {
			f = append(f, x.word+" "+strconv.Itoa(x.n))
		}
	}
	return strings.Join(f, " and ")
}
