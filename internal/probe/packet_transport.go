package probe

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
)

// decodeTransport fills in what lies above IP: proto is the protocol number
// after the IP headers, b what follows them as captured, payload the length
// of the IP payload as the IP header says.
func (p *Packet) decodeTransport(ipWord string, proto int, b []byte, payload int) {
	head := fmt.Sprintf("%s %s > %s: ", ipWord, p.Src, p.Dst)
	switch {
	case proto == protoTCP && len(b) >= 20 && int(b[12]>>4) >= 5:
		p.Proto = "tcp"
		p.Sport, p.Dport = int(binary.BigEndian.Uint16(b)), int(binary.BigEndian.Uint16(b[2:]))
		p.Flags = tcpFlags(b[13])
		head = fmt.Sprintf("%s %s > %s: ", ipWord, hostPort(p.Src, p.Sport), hostPort(p.Dst, p.Dport))
		var s strings.Builder
		fmt.Fprintf(&s, "Flags [%s], seq %d", p.Flags, binary.BigEndian.Uint32(b[4:]))
		if b[13]&0x10 != 0 {
			fmt.Fprintf(&s, ", ack %d", binary.BigEndian.Uint32(b[8:]))
		}
		fmt.Fprintf(&s, ", win %d, length %d", binary.BigEndian.Uint16(b[14:]), payload-int(b[12]>>4)*4)
		p.Summary = head + s.String()
	case proto == protoUDP && len(b) >= 8:
		p.Proto = "udp"
		p.Sport, p.Dport = int(binary.BigEndian.Uint16(b)), int(binary.BigEndian.Uint16(b[2:]))
		head = fmt.Sprintf("%s %s > %s: ", ipWord, hostPort(p.Src, p.Sport), hostPort(p.Dst, p.Dport))
		p.Summary = head + fmt.Sprintf("UDP, length %d", int(binary.BigEndian.Uint16(b[4:]))-8)
	case proto == protoICMP && len(b) >= 8:
		p.Proto = "icmp"
		p.Summary = head + p.icmp4(b, payload)
	case proto == protoICMPv6 && len(b) >= 4:
		p.Proto = "icmp6"
		p.Summary = head + p.icmp6(b, payload)
	case proto == protoIGMP:
		p.Proto = "igmp"
		p.Summary = head + fmt.Sprintf("igmp, length %d", payload)
	case proto == protoTCP || proto == protoUDP || proto == protoICMP || proto == protoICMPv6:
		// The header is cut short: the protocol is known, its fields not.
		p.Proto = protoNames[proto]
		p.Summary = head + fmt.Sprintf("%s, truncated, length %d", p.Proto, payload)
	default:
		p.Summary = head + fmt.Sprintf("ip-proto-%d, length %d", proto, payload)
	}
}

var protoNames = map[int]string{protoTCP: "tcp", protoUDP: "udp", protoICMP: "icmp", protoICMPv6: "icmp6"}

// hostPort writes an endpoint as tcpdump -n does: 10.0.0.1.80, fd00::1.80.
func hostPort(a netip.Addr, port int) string { return fmt.Sprintf("%s.%d", a, port) }

// tcpFlags writes the flags byte as tcpdump does: S, F, R, P, U, then "."
// for ACK.
func tcpFlags(f byte) string {
	var b strings.Builder
	for _, bit := range []struct {
		mask byte
		c    byte
	}{{0x02, 'S'}, {0x01, 'F'}, {0x04, 'R'}, {0x08, 'P'}, {0x20, 'U'}, {0x40, 'E'}, {0x80, 'W'}, {0x10, '.'}} {
		if f&bit.mask != 0 {
			b.WriteByte(bit.c)
		}
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

var icmp4Types = map[uint8]string{
	icmp4EchoReply: "echo-reply", icmp4DstUnreach: "unreachable", 5: "redirect", icmp4Echo: "echo-request",
	icmp4TimeExceed: "time-exceeded", icmp4ParamProb: "parameter-problem",
}

// icmp4 decodes an ICMP message of at least 8 bytes.
func (p *Packet) icmp4(b []byte, payload int) string {
	t := b[0]
	p.Type = icmp4Types[t]
	if p.Type == "" {
		p.Type = fmt.Sprintf("type-%d", t)
	}
	switch t {
	case icmp4Echo, icmp4EchoReply:
		id, seq := binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint16(b[6:])
		return fmt.Sprintf("ICMP %s, id %d, seq %d, length %d", strings.Replace(p.Type, "-", " ", 1), id, seq, payload)
	case icmp4DstUnreach:
		return fmt.Sprintf("ICMP unreachable (code %d), length %d", b[1], payload)
	case icmp4TimeExceed:
		return fmt.Sprintf("ICMP time exceeded in-transit, length %d", payload)
	}
	return fmt.Sprintf("ICMP type-#%d, length %d", t, payload)
}

// ICMPv6 types (RFC 4861) the summary spells out, besides those of
// icmpmsg.go.
const (
	icmp6NeighSolic  = 135
	icmp6NeighAdvert = 136
)

var icmp6Types = map[uint8]string{
	icmp6DstUnreach: "unreachable", icmp6PacketTooBg: "packet-too-big", icmp6TimeExceed: "time-exceeded",
	icmp6ParamProb: "parameter-problem", icmp6Echo: "echo-request", icmp6EchoReply: "echo-reply",
	133: "router-solicitation", 134: "router-advertisement",
	icmp6NeighSolic: "neighbor-solicitation", icmp6NeighAdvert: "neighbor-advertisement",
	137: "redirect", 130: "multicast-listener-query", 131: "multicast-listener-report",
	132: "multicast-listener-done", 143: "multicast-listener-report-v2",
}

// icmp6 decodes an ICMPv6 message of at least 4 bytes.
func (p *Packet) icmp6(b []byte, payload int) string {
	t := b[0]
	p.Type = icmp6Types[t]
	if p.Type == "" {
		p.Type = fmt.Sprintf("type-%d", t)
	}
	words := strings.ReplaceAll(p.Type, "-", " ")
	switch {
	case (t == icmp6Echo || t == icmp6EchoReply) && len(b) >= 8:
		id, seq := binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint16(b[6:])
		return fmt.Sprintf("ICMP6, %s, id %d, seq %d, length %d", words, id, seq, payload)
	case t == icmp6NeighSolic && len(b) >= 24:
		return fmt.Sprintf("ICMP6, %s, who has %s, length %d", words, addrOf(b[8:24]), payload)
	case t == icmp6NeighAdvert && len(b) >= 24:
		return fmt.Sprintf("ICMP6, %s, tgt is %s, length %d", words, addrOf(b[8:24]), payload)
	}
	return fmt.Sprintf("ICMP6, %s, length %d", words, payload)
}
