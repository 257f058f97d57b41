package probe

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"

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

// Ethertypes and IP protocol numbers the decoder knows, besides those of
// icmpmsg.go.
const (
	ethIPv4  = 0x0800
	ethARP   = 0x0806
	ethIPv6  = 0x86dd
	ethVLAN  = 0x8100 // 802.1Q
	ethQinQ  = 0x88a8 // 802.1ad
	ethMinEt = 0x0600 // below: an 802.3 length, not an ethertype

	protoIGMP = 2
	protoTCP  = 6
)

// DecodePacket decodes one captured frame of a link whose hardware type is
// hatype (ARPHRD_ETHER, ARPHRD_LOOPBACK, or ARPHRD_NONE for a tun device,
// whose frames are bare IP packets). A frame cut short (by the snap length,
// or broken) decodes as far as its headers are whole.
func DecodePacket(data []byte, wireLen int, hatype uint16, outgoing bool, at time.Time) Packet {
	p := Packet{Time: at, Dir: "in", Proto: "ether", Len: wireLen, Data: data}
	if outgoing {
		p.Dir = "out"
	}
	etype, l3, ok := linkLayer(data, hatype)
	switch {
	case !ok:
		p.Summary = fmt.Sprintf("unknown frame, length %d", wireLen)
	case etype == ethARP:
		p.decodeARP(l3, wireLen)
	case etype == ethIPv4:
		p.decodeIPv4(l3)
	case etype == ethIPv6:
		p.decodeIPv6(l3)
	case etype < ethMinEt:
		p.Summary = fmt.Sprintf("802.3, length %d", wireLen)
	default:
		p.Summary = fmt.Sprintf("ethertype %s (0x%04x), length %d", etherName(etype), etype, wireLen)
	}
	return p
}

// linkLayer returns the ethertype of a frame and what follows its link
// header, skipping VLAN tags; ok is false when the link header is cut short.
func linkLayer(data []byte, hatype uint16) (etype uint16, rest []byte, ok bool) {
	if hatype == unix.ARPHRD_NONE {
		if len(data) > 0 && data[0]>>4 == 6 {
			return ethIPv6, data, true
		}
		return ethIPv4, data, true
	}
	if len(data) < 14 {
		return 0, nil, false
	}
	etype, rest = binary.BigEndian.Uint16(data[12:]), data[14:]
	for etype == ethVLAN || etype == ethQinQ {
		if len(rest) < 4 {
			return 0, nil, false
		}
		etype, rest = binary.BigEndian.Uint16(rest[2:]), rest[4:]
	}
	return etype, rest, true
}

// etherName names the ethertypes a lab's links may carry besides IP and ARP.
func etherName(t uint16) string {
	switch t {
	case 0x8035:
		return "Reverse ARP"
	case 0x8847:
		return "MPLS unicast"
	case 0x8848:
		return "MPLS multicast"
	case 0x8863:
		return "PPPoE D"
	case 0x8864:
		return "PPPoE S"
	case 0x888e:
		return "EAPOL"
	case 0x88cc:
		return "LLDP"
	}
	return "Unknown"
}

// decodeARP decodes an ARP packet (RFC 826): hardware and protocol types
// and address sizes, the operation, then the sender's and the target's
// addresses.
func (p *Packet) decodeARP(b []byte, wireLen int) {
	p.Proto = "arp"
	if len(b) < 8 {
		p.Summary = fmt.Sprintf("ARP, truncated, length %d", wireLen)
		return
	}
	hw, pr := int(b[4]), int(b[5])
	op := binary.BigEndian.Uint16(b[6:])
	n := 8 + 2*hw + 2*pr
	if len(b) < n {
		p.Summary = fmt.Sprintf("ARP, truncated, length %d", wireLen)
		return
	}
	sha := b[8 : 8+hw]
	p.Src = addrOf(b[8+hw : 8+hw+pr])
	p.Dst = addrOf(b[8+2*hw+pr : n])
	switch op {
	case 1:
		p.Type = "request"
		p.Summary = fmt.Sprintf("ARP, Request who-has %s tell %s, length %d", p.Dst, p.Src, n)
	case 2:
		p.Type = "reply"
		p.Summary = fmt.Sprintf("ARP, Reply %s is-at %s, length %d", p.Src, net.HardwareAddr(sha), n)
	default:
		p.Type = fmt.Sprintf("op-%d", op)
		p.Summary = fmt.Sprintf("ARP, Unknown operation %d, length %d", op, n)
	}
}

// addrOf reads a 4- or 16-byte address; anything else is the zero Addr.
func addrOf(b []byte) netip.Addr {
	a, _ := netip.AddrFromSlice(b)
	return a.Unmap()
}

// decodeIPv4 decodes an IPv4 header (RFC 791) and what it carries.
func (p *Packet) decodeIPv4(b []byte) {
	p.family, p.Proto = 4, "ip"
	if len(b) < 20 || b[0]>>4 != 4 || int(b[0]&0xf) < 5 || len(b) < int(b[0]&0xf)*4 {
		p.Summary = fmt.Sprintf("IP, bad or truncated header, length %d", p.Len)
		return
	}
	ihl := int(b[0]&0xf) * 4
	total := int(binary.BigEndian.Uint16(b[2:]))
	if total == 0 { // segmentation offload: the kernel leaves it to the device
		total = len(b)
	}
	p.Src, p.Dst = addrOf(b[12:16]), addrOf(b[16:20])
	payload := total - ihl
	if payload < 0 {
		p.Summary = fmt.Sprintf("IP %s > %s: bad length %d", p.Src, p.Dst, total)
		return
	}
	proto := int(b[9])
	if binary.BigEndian.Uint16(b[6:])&0x1fff != 0 {
		// A later fragment: no transport header.
		p.Summary = fmt.Sprintf("IP %s > %s: ip-proto-%d, length %d", p.Src, p.Dst, proto, payload)
		return
	}
	p.decodeTransport("IP", proto, b[ihl:min(len(b), total)], payload)
}

// decodeIPv6 decodes an IPv6 header (RFC 8200), skips its extension
// headers, and decodes what they carry.
func (p *Packet) decodeIPv6(b []byte) {
	p.family, p.Proto = 6, "ip6"
	if len(b) < 40 || b[0]>>4 != 6 {
		p.Summary = fmt.Sprintf("IP6, bad or truncated header, length %d", p.Len)
		return
	}
	p.Src, p.Dst = addrOf(b[8:24]), addrOf(b[24:40])
	payload := int(binary.BigEndian.Uint16(b[4:]))
	if payload == 0 { // a jumbogram, or segmentation offload
		payload = len(b) - 40
	}
	rest := b[40:min(len(b), 40+payload)]
	next, rest, ok := skipExtensions(int(b[6]), rest)
	if !ok {
		p.Summary = fmt.Sprintf("IP6 %s > %s: ip-proto-%d, length %d", p.Src, p.Dst, next, payload)
		return
	}
	p.decodeTransport("IP6", next, rest, payload)
}

// skipExtensions skips the IPv6 extension headers that start a payload and
// returns the protocol after them; ok is false when the chain is cut short
// or the payload is a later fragment (no transport header follows).
func skipExtensions(next int, b []byte) (int, []byte, bool) {
	for {
		var n int
		switch next {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(b) < 2 {
				return next, b, false
			}
			n = (int(b[1]) + 1) * 8
		case 44: // fragment
			if len(b) < 8 || binary.BigEndian.Uint16(b[2:])&0xfff8 != 0 {
				return next, b, false
			}
			n = 8
		case 51: // authentication header
			if len(b) < 2 {
				return next, b, false
			}
			n = (int(b[1]) + 2) * 4
		default:
			return next, b, true
		}
		if len(b) < n {
			return next, b, false
		}
		next, b = int(b[0]), b[n:]
	}
}
