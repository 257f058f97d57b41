package probe

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"
)

// Packet is one frame a Capture recorded, decoded into what a test asks
// about. Fields that do not apply are zero (Sport of an ARP packet, Src of a
// frame that is neither IP nor ARP).
type Packet struct {
	Time  time.Time
	Dir   string // "in" (the link received it) or "out" (the link sent it)
	Proto string // "arp", "icmp", "icmp6", "igmp", "tcp", "udp", "ip", "ip6", or "ether"
	Type  string // arp: "request", "reply"; icmp, icmp6: "echo-request", "unreachable", ...
	Flags string // tcp flags as tcpdump writes them: "S", "S.", ".", "P.", "F.", "R"
	// Src and Dst are the IP addresses; for ARP, the sender's and the
	// target's protocol addresses (as tcpdump's "arp host" filter reads them).
	Src, Dst     netip.Addr
	Sport, Dport int
	Len          int    // length on the wire
	Summary      string // the line tcpdump -nS prints, without its timestamp
	Data         []byte // the frame as captured (at most the capture's snap length)

	family int // 4 or 6 for IP packets
}

// DecodePacket decodes one captured frame of a link whose hardware type is
// hatype (ARPHRD_ETHER, ARPHRD_LOOPBACK, or ARPHRD_NONE for a tun device,
// whose frames are bare IP packets).
func DecodePacket(data []byte, wireLen int, hatype uint16, outgoing bool, at time.Time) Packet {
	p := Packet{Time: at, Dir: "in", Proto: "ether", Len: wireLen, Data: data}
	if outgoing {
		p.Dir = "out"
	}
	pk := gopacket.NewPacket(data, firstLayer(data, hatype), gopacket.DecodeOptions{Lazy: true, NoCopy: true})
	switch {
	case pk.Layer(layers.LayerTypeARP) != nil:
		p.decodeARP(pk.Layer(layers.LayerTypeARP).(*layers.ARP))
	case pk.Layer(layers.LayerTypeIPv4) != nil:
		ip := pk.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		p.family, p.Proto = 4, "ip"
		p.Src, p.Dst = addrOf(ip.SrcIP), addrOf(ip.DstIP)
		p.decodeTransport(pk, "IP", int(ip.Length)-int(ip.IHL)*4)
	case pk.Layer(layers.LayerTypeIPv6) != nil:
		ip := pk.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
		p.family, p.Proto = 6, "ip6"
		p.Src, p.Dst = addrOf(ip.SrcIP), addrOf(ip.DstIP)
		p.decodeTransport(pk, "IP6", int(ip.Length))
	default:
		p.Summary = fmt.Sprintf("%s, length %d", etherSummary(pk), wireLen)
	}
	return p
}

// firstLayer is how a link's frames start.
func firstLayer(data []byte, hatype uint16) gopacket.LayerType {
	if hatype != unix.ARPHRD_NONE {
		return layers.LayerTypeEthernet
	}
	if len(data) > 0 && data[0]>>4 == 6 {
		return layers.LayerTypeIPv6
	}
	return layers.LayerTypeIPv4
}

func addrOf(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

func (p *Packet) decodeARP(a *layers.ARP) {
	p.Proto = "arp"
	p.Src, p.Dst = addrOf(a.SourceProtAddress), addrOf(a.DstProtAddress)
	n := 8 + 2*int(a.HwAddressSize) + 2*int(a.ProtAddressSize)
	switch a.Operation {
	case layers.ARPRequest:
		p.Type = "request"
		p.Summary = fmt.Sprintf("ARP, Request who-has %s tell %s, length %d", p.Dst, p.Src, n)
	case layers.ARPReply:
		p.Type = "reply"
		p.Summary = fmt.Sprintf("ARP, Reply %s is-at %s, length %d", p.Src, net.HardwareAddr(a.SourceHwAddress), n)
	default:
		p.Type = fmt.Sprintf("op-%d", a.Operation)
		p.Summary = fmt.Sprintf("ARP, Unknown operation %d, length %d", a.Operation, n)
	}
}

// decodeTransport fills in what lies above IP; payload is the IP payload's
// length as its header says.
func (p *Packet) decodeTransport(pk gopacket.Packet, ipWord string, payload int) {
	head := fmt.Sprintf("%s %s > %s: ", ipWord, p.Src, p.Dst)
	switch {
	case pk.Layer(layers.LayerTypeTCP) != nil:
		t := pk.Layer(layers.LayerTypeTCP).(*layers.TCP)
		p.Proto, p.Sport, p.Dport, p.Flags = "tcp", int(t.SrcPort), int(t.DstPort), tcpFlags(t)
		head = fmt.Sprintf("%s %s > %s: ", ipWord, hostPort(p.Src, p.Sport), hostPort(p.Dst, p.Dport))
		var b strings.Builder
		fmt.Fprintf(&b, "Flags [%s], seq %d", p.Flags, t.Seq)
		if t.ACK {
			fmt.Fprintf(&b, ", ack %d", t.Ack)
		}
		fmt.Fprintf(&b, ", win %d, length %d", t.Window, payload-int(t.DataOffset)*4)
		p.Summary = head + b.String()
	case pk.Layer(layers.LayerTypeUDP) != nil:
		u := pk.Layer(layers.LayerTypeUDP).(*layers.UDP)
		p.Proto, p.Sport, p.Dport = "udp", int(u.SrcPort), int(u.DstPort)
		head = fmt.Sprintf("%s %s > %s: ", ipWord, hostPort(p.Src, p.Sport), hostPort(p.Dst, p.Dport))
		p.Summary = head + fmt.Sprintf("UDP, length %d", int(u.Length)-8)
	case pk.Layer(layers.LayerTypeICMPv4) != nil:
		c := pk.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		p.Proto = "icmp"
		p.Summary = head + p.icmp4(c, payload)
	case pk.Layer(layers.LayerTypeICMPv6) != nil:
		p.Proto = "icmp6"
		p.Summary = head + p.icmp6(pk, payload)
	case pk.Layer(layers.LayerTypeIGMP) != nil:
		p.Proto = "igmp"
		p.Summary = head + fmt.Sprintf("igmp, length %d", payload)
	default:
		p.Summary = head + fmt.Sprintf("%s, length %d", p.ipProtoName(pk), payload)
	}
}

// hostPort writes an endpoint as tcpdump -n does: 10.0.0.1.80, fd00::1.80.
func hostPort(a netip.Addr, port int) string { return fmt.Sprintf("%s.%d", a, port) }

func (p *Packet) ipProtoName(pk gopacket.Packet) string {
	if ip, ok := pk.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok {
		return "ip-proto-" + fmt.Sprint(int(ip.Protocol))
	}
	if ip, ok := pk.Layer(layers.LayerTypeIPv6).(*layers.IPv6); ok {
		return "ip-proto-" + fmt.Sprint(int(ip.NextHeader))
	}
	return "ip"
}

// tcpFlags writes the flags as tcpdump does: S, F, R, P, U, then "." for ACK.
func tcpFlags(t *layers.TCP) string {
	var b strings.Builder
	for _, f := range []struct {
		on bool
		c  byte
	}{{t.SYN, 'S'}, {t.FIN, 'F'}, {t.RST, 'R'}, {t.PSH, 'P'}, {t.URG, 'U'}, {t.ECE, 'E'}, {t.CWR, 'W'}, {t.ACK, '.'}} {
		if f.on {
			b.WriteByte(f.c)
		}
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

var icmp4Types = map[uint8]string{
	layers.ICMPv4TypeEchoReply: "echo-reply", layers.ICMPv4TypeDestinationUnreachable: "unreachable",
	layers.ICMPv4TypeRedirect: "redirect", layers.ICMPv4TypeEchoRequest: "echo-request",
	layers.ICMPv4TypeTimeExceeded: "time-exceeded", layers.ICMPv4TypeParameterProblem: "parameter-problem",
}

func (p *Packet) icmp4(c *layers.ICMPv4, payload int) string {
	t := c.TypeCode.Type()
	p.Type = icmp4Types[t]
	if p.Type == "" {
		p.Type = fmt.Sprintf("type-%d", t)
	}
	switch t {
	case layers.ICMPv4TypeEchoRequest, layers.ICMPv4TypeEchoReply:
		return fmt.Sprintf("ICMP %s, id %d, seq %d, length %d", strings.Replace(p.Type, "-", " ", 1), c.Id, c.Seq, payload)
	case layers.ICMPv4TypeDestinationUnreachable:
		return fmt.Sprintf("ICMP unreachable (code %d), length %d", c.TypeCode.Code(), payload)
	case layers.ICMPv4TypeTimeExceeded:
		return fmt.Sprintf("ICMP time exceeded in-transit, length %d", payload)
	}
	return fmt.Sprintf("ICMP type-#%d, length %d", t, payload)
}

var icmp6Types = map[uint8]string{
	layers.ICMPv6TypeDestinationUnreachable: "unreachable", layers.ICMPv6TypePacketTooBig: "packet-too-big",
	layers.ICMPv6TypeTimeExceeded: "time-exceeded", layers.ICMPv6TypeParameterProblem: "parameter-problem",
	layers.ICMPv6TypeEchoRequest: "echo-request", layers.ICMPv6TypeEchoReply: "echo-reply",
	layers.ICMPv6TypeRouterSolicitation: "router-solicitation", layers.ICMPv6TypeRouterAdvertisement: "router-advertisement",
	layers.ICMPv6TypeNeighborSolicitation: "neighbor-solicitation", layers.ICMPv6TypeNeighborAdvertisement: "neighbor-advertisement",
	layers.ICMPv6TypeRedirect: "redirect", layers.ICMPv6TypeMLDv1MulticastListenerQueryMessage: "multicast-listener-query",
	layers.ICMPv6TypeMLDv1MulticastListenerReportMessage:   "multicast-listener-report",
	layers.ICMPv6TypeMLDv1MulticastListenerDoneMessage:     "multicast-listener-done",
	layers.ICMPv6TypeMLDv2MulticastListenerReportMessageV2: "multicast-listener-report-v2",
}

func (p *Packet) icmp6(pk gopacket.Packet, payload int) string {
	c := pk.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
	t := c.TypeCode.Type()
	p.Type = icmp6Types[t]
	if p.Type == "" {
		p.Type = fmt.Sprintf("type-%d", t)
	}
	words := strings.ReplaceAll(p.Type, "-", " ")
	switch {
	case pk.Layer(layers.LayerTypeICMPv6Echo) != nil:
		e := pk.Layer(layers.LayerTypeICMPv6Echo).(*layers.ICMPv6Echo)
		return fmt.Sprintf("ICMP6, %s, id %d, seq %d, length %d", words, e.Identifier, e.SeqNumber, payload)
	case pk.Layer(layers.LayerTypeICMPv6NeighborSolicitation) != nil:
		ns := pk.Layer(layers.LayerTypeICMPv6NeighborSolicitation).(*layers.ICMPv6NeighborSolicitation)
		return fmt.Sprintf("ICMP6, %s, who has %s, length %d", words, addrOf(ns.TargetAddress), payload)
	case pk.Layer(layers.LayerTypeICMPv6NeighborAdvertisement) != nil:
		na := pk.Layer(layers.LayerTypeICMPv6NeighborAdvertisement).(*layers.ICMPv6NeighborAdvertisement)
		return fmt.Sprintf("ICMP6, %s, tgt is %s, length %d", words, addrOf(na.TargetAddress), payload)
	}
	return fmt.Sprintf("ICMP6, %s, length %d", words, payload)
}

// etherSummary names a frame that is neither IP nor ARP by its ethertype.
func etherSummary(pk gopacket.Packet) string {
	if e, ok := pk.Layer(layers.LayerTypeEthernet).(*layers.Ethernet); ok {
		return fmt.Sprintf("ethertype %s (0x%04x)", e.EthernetType, uint16(e.EthernetType))
	}
	return "unknown frame"
}
