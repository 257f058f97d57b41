package probe

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Frame builders for the decoder's tests: each returns its header followed
// by payload, with lengths filled in (checksums are not, the decoder does not
// read them).

var (
	mac1 = []byte{2, 0, 0, 0, 0, 1}
	mac2 = []byte{2, 0, 0, 0, 0, 2}
	v4a  = netip.MustParseAddr("10.0.0.1")
	v4b  = netip.MustParseAddr("10.0.0.2")
	v6a  = netip.MustParseAddr("fd00::1")
	v6b  = netip.MustParseAddr("fd00::2")
)

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func be16(v int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(v)) }

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func etherframe(etype int, payload []byte) []byte { return cat(mac2, mac1, be16(etype), payload) }

func vlantag(id, etype int, payload []byte) []byte { return cat(be16(id), be16(etype), payload) }

// ip4pkt builds an IPv4 header; fragOff is the flags and offset word.
func ip4pkt(proto, fragOff int, payload []byte) []byte {
	h := cat([]byte{0x45, 0}, be16(20+len(payload)), be16(1), be16(fragOff), []byte{64, byte(proto), 0, 0}, v4a.AsSlice(), v4b.AsSlice())
	return cat(h, payload)
}

func ip6pkt(next int, payload []byte) []byte {
	h := cat([]byte{0x60, 0, 0, 0}, be16(len(payload)), []byte{byte(next), 64}, v6a.AsSlice(), v6b.AsSlice())
	return cat(h, payload)
}

// ext6 builds an 8-byte IPv6 extension header (hop-by-hop, destination
// options, routing) or a fragment header.
func ext6(next int, word int, payload []byte) []byte {
	return cat([]byte{byte(next), 0}, be16(word), be32(0), payload)
}

func tcpseg(sport, dport int, seq, ack uint32, flags byte, win int, payload []byte) []byte {
	return cat(be16(sport), be16(dport), be32(seq), be32(ack), []byte{5 << 4, flags}, be16(win), be32(0), payload)
}

func udpdgram(sport, dport int, payload []byte) []byte {
	return cat(be16(sport), be16(dport), be16(8+len(payload)), be16(0), payload)
}

// icmpmsg builds an ICMP or ICMPv6 header with a rest-of-header word.
func icmpmsg(typ, code byte, rest uint32, payload []byte) []byte {
	return cat([]byte{typ, code, 0, 0}, be32(rest), payload)
}

func arppkt(op int, sender, target netip.Addr) []byte {
	return cat(be16(1), be16(0x0800), []byte{6, 4}, be16(op), mac1, sender.AsSlice(), make([]byte, 6), target.AsSlice())
}

var data8 = []byte("abcdefgh")

// decodeWant is what TestDecodePacketFields checks of a decoded packet.
type decodeWant struct {
	proto, typ, flags string
	src, dst          netip.Addr
	sport, dport      int
	summary           string
}

// decodeCase is a frame of the given hardware type and what it decodes to.
type decodeCase struct {
	name   string
	hatype uint16
	frame  []byte
	want   decodeWant
}

func TestDecodePacketFields(t *testing.T) {
	for _, tt := range append(decodeCasesV4(), decodeCasesV6AndOther()...) {
		p := DecodePacket(tt.frame, len(tt.frame), tt.hatype, false, time.Time{})
		got := decodeWant{p.Proto, p.Type, p.Flags, p.Src, p.Dst, p.Sport, p.Dport, p.Summary}
		if got != tt.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, got, tt.want)
		}
	}
}

// decodeCasesV4 are ARP and IPv4 frames.
func decodeCasesV4() []decodeCase {
	type want = decodeWant
	return []decodeCase{
		{"arp request", unix.ARPHRD_ETHER, etherframe(ethARP, arppkt(1, v4a, v4b)),
			want{"arp", "request", "", v4a, v4b, 0, 0, "ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28"}},
		{"arp reply", unix.ARPHRD_ETHER, etherframe(ethARP, arppkt(2, v4b, v4a)),
			want{"arp", "reply", "", v4b, v4a, 0, 0, "ARP, Reply 10.0.0.2 is-at 02:00:00:00:00:01, length 28"}},
		{"arp other op", unix.ARPHRD_ETHER, etherframe(ethARP, arppkt(9, v4a, v4b)),
			want{"arp", "op-9", "", v4a, v4b, 0, 0, "ARP, Unknown operation 9, length 28"}},
		{"arp truncated", unix.ARPHRD_ETHER, etherframe(ethARP, arppkt(1, v4a, v4b)[:20]),
			want{"arp", "", "", netip.Addr{}, netip.Addr{}, 0, 0, "ARP, truncated, length 34"}},
		{"tcp syn", unix.ARPHRD_ETHER, etherframe(ethIPv4, ip4pkt(protoTCP, 0, tcpseg(40000, 80, 7, 0, 0x02, 1000, nil))),
			want{"tcp", "", "S", v4a, v4b, 40000, 80, "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 7, win 1000, length 0"}},
		{"tcp push ack with data", unix.ARPHRD_ETHER, etherframe(ethIPv4, ip4pkt(protoTCP, 0, tcpseg(80, 40000, 9, 8, 0x18, 512, data8))),
			want{"tcp", "", "P.", v4a, v4b, 80, 40000, "IP 10.0.0.1.80 > 10.0.0.2.40000: Flags [P.], seq 9, ack 8, win 512, length 8"}},
		{"tcp no flags", unix.ARPHRD_ETHER, etherframe(ethIPv4, ip4pkt(protoTCP, 0, tcpseg(1, 2, 0, 0, 0, 0, nil))),
			want{"tcp", "", "none", v4a, v4b, 1, 2, "IP 10.0.0.1.1 > 10.0.0.2.2: Flags [none], seq 0, win 0, length 0"}},
		{"tcp truncated", unix.ARPHRD_ETHER, etherframe(ethIPv4, ip4pkt(protoTCP, 0, tcpseg(1, 2, 0, 0, 0, 0, nil)[:12])),
			want{"tcp", "", "", v4a, v4b, 0, 0, "IP 10.0.0.1 > 10.0.0.2: tcp, truncated, length 12"}},
		{"udp", unix.ARPHRD_ETHER, etherframe(ethIPv4, ip4pkt(protoUDP, 0, udpdgram(53, 5353, data8))),
			want{"udp", "", "", v4a, v4b, 53, 5353, "IP 10.0.0.1.53 > 10.0.0.2.5353: UDP, length 8"}},
		{"udp padded to ethernet's minimum", unix.ARPHRD_ETHER, cat(etherframe(ethIPv4, ip4pkt(protoUDP, 0, udpdgram(1, 2, nil))), make([]byte, 18)),
			want{"udp", "", "", v4a, v4b, 1, 2, "IP 10.0.0.1.1 > 10.0.0.2.2: UDP, length 0"}},
		{"udp in a vlan", unix.ARPHRD_ETHER, etherframe(ethVLAN, vlantag(5, ethIPv4, ip4pkt(protoUDP, 0, udpdgram(1, 2, nil)))),
			want{"udp", "", "", v4a, v4b, 1, 2, "IP 10.0.0.1.1 > 10.0.0.2.2: UDP, length 0"}},
		{"udp in two vlans", unix.ARPHRD_ETHER, etherframe(ethQinQ, vlantag(5, ethVLAN, vlantag(6, ethIPv4, ip4pkt(protoUDP, 0, udpdgram(1, 2, nil))))),
			want{"udp", "", "", v4a, v4b, 1, 2, "IP 10.0.0.1.1 > 10.0.0.2.2: UDP, length 0"}},
		{"later fragment", unix.ARPHRD_ETHER, etherframe(ethIPv4, ip4pkt(protoUDP, 185, data8)),
			want{"ip", "", "", v4a, v4b, 0, 0, "IP 10.0.0.1 > 10.0.0.2: ip-proto-17, length 8"}},
		{"first fragment", unix.ARPHRD_ETHER, etherframe(ethIPv4, ip4pkt(protoUDP, 0x2000, udpdgram(1, 2, data8))),
			want{"udp", "", "", v4a, v4b, 1, 2, "IP 10.0.0.1.1 > 10.0.0.2.2: UDP, length 8"}},
		{"echo request", unix.ARPHRD_ETHER, etherframe(ethIPv4, ip4pkt(protoICMP, 0, icmpmsg(8, 0, 7<<16|9, data8))),
			want{"icmp", "echo-request", "", v4a, v4b, 0, 0, "IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 7, seq 9, length 16"}},
		{"echo reply", unix.ARPHRD_ETHER, etherframe(ethIPv4, ip4pkt(protoICMP, 0, icmpmsg(0, 0, 7<<16|9, nil))),
			want{"icmp", "echo-reply", "", v4a, v4b, 0, 0, "IP 10.0.0.1 > 10.0.0.2: ICMP echo reply, id 7, seq 9, length 8"}},
		{"unreachable", unix.ARPHRD_ETHER, etherframe(ethIPv4, ip4pkt(protoICMP, 0, icmpmsg(3, 1, 0, nil))),
			want{"icmp", "unreachable", "", v4a, v4b, 0, 0, "IP 10.0.0.1 > 10.0.0.2: ICMP unreachable (code 1), length 8"}},
		{"time exceeded", unix.ARPHRD_ETHER, etherframe(ethIPv4, ip4pkt(protoICMP, 0, icmpmsg(11, 0, 0, nil))),
			want{"icmp", "time-exceeded", "", v4a, v4b, 0, 0, "IP 10.0.0.1 > 10.0.0.2: ICMP time exceeded in-transit, length 8"}},
		{"redirect", unix.ARPHRD_ETHER, etherframe(ethIPv4, ip4pkt(protoICMP, 0, icmpmsg(5, 0, 0, nil))),
			want{"icmp", "redirect", "", v4a, v4b, 0, 0, "IP 10.0.0.1 > 10.0.0.2: ICMP type-#5, length 8"}},
		{"icmp unknown type", unix.ARPHRD_ETHER, etherframe(ethIPv4, ip4pkt(protoICMP, 0, icmpmsg(42, 0, 0, nil))),
			want{"icmp", "type-42", "", v4a, v4b, 0, 0, "IP 10.0.0.1 > 10.0.0.2: ICMP type-#42, length 8"}},
		{"igmp", unix.ARPHRD_ETHER, etherframe(ethIPv4, ip4pkt(protoIGMP, 0, data8)),
			want{"igmp", "", "", v4a, v4b, 0, 0, "IP 10.0.0.1 > 10.0.0.2: igmp, length 8"}},
		{"ospf", unix.ARPHRD_ETHER, etherframe(ethIPv4, ip4pkt(89, 0, data8)),
			want{"ip", "", "", v4a, v4b, 0, 0, "IP 10.0.0.1 > 10.0.0.2: ip-proto-89, length 8"}},
		{"ip header cut short", unix.ARPHRD_ETHER, etherframe(ethIPv4, ip4pkt(protoUDP, 0, nil)[:19]),
			want{"ip", "", "", netip.Addr{}, netip.Addr{}, 0, 0, "IP, bad or truncated header, length 33"}},
		{"ip header length below 5 words", unix.ARPHRD_ETHER, etherframe(ethIPv4, cat([]byte{0x44}, ip4pkt(protoUDP, 0, nil)[1:])),
			want{"ip", "", "", netip.Addr{}, netip.Addr{}, 0, 0, "IP, bad or truncated header, length 34"}},
	}
}

// decodeCasesV6AndOther are IPv6 frames, tun packets without a link-layer
// header, and frames the decoder does not know.
func decodeCasesV6AndOther() []decodeCase {
	type want = decodeWant
	ns := icmpmsg(icmp6NeighSolic, 0, 0, v6b.AsSlice())
	return []decodeCase{
		{"tcp6", unix.ARPHRD_ETHER, etherframe(ethIPv6, ip6pkt(protoTCP, tcpseg(1, 2, 3, 4, 0x12, 5, nil))),
			want{"tcp", "", "S.", v6a, v6b, 1, 2, "IP6 fd00::1.1 > fd00::2.2: Flags [S.], seq 3, ack 4, win 5, length 0"}},
		{"echo6 request", unix.ARPHRD_ETHER, etherframe(ethIPv6, ip6pkt(protoICMPv6, icmpmsg(icmp6Echo, 0, 3<<16|4, nil))),
			want{"icmp6", "echo-request", "", v6a, v6b, 0, 0, "IP6 fd00::1 > fd00::2: ICMP6, echo request, id 3, seq 4, length 8"}},
		{"neighbor solicitation", unix.ARPHRD_ETHER, etherframe(ethIPv6, ip6pkt(protoICMPv6, ns)),
			want{"icmp6", "neighbor-solicitation", "", v6a, v6b, 0, 0, "IP6 fd00::1 > fd00::2: ICMP6, neighbor solicitation, who has fd00::2, length 24"}},
		{"neighbor advertisement", unix.ARPHRD_ETHER, etherframe(ethIPv6, ip6pkt(protoICMPv6, icmpmsg(icmp6NeighAdvert, 0, 0, v6a.AsSlice()))),
			want{"icmp6", "neighbor-advertisement", "", v6a, v6b, 0, 0, "IP6 fd00::1 > fd00::2: ICMP6, neighbor advertisement, tgt is fd00::1, length 24"}},
		{"neighbor solicitation cut short", unix.ARPHRD_ETHER, etherframe(ethIPv6, ip6pkt(protoICMPv6, ns[:20])),
			want{"icmp6", "neighbor-solicitation", "", v6a, v6b, 0, 0, "IP6 fd00::1 > fd00::2: ICMP6, neighbor solicitation, length 20"}},
		{"mld report after hop-by-hop", unix.ARPHRD_ETHER, etherframe(ethIPv6, ip6pkt(0, ext6(protoICMPv6, 0x0502, icmpmsg(143, 0, 1, nil)))),
			want{"icmp6", "multicast-listener-report-v2", "", v6a, v6b, 0, 0, "IP6 fd00::1 > fd00::2: ICMP6, multicast listener report v2, length 16"}},
		{"udp6 in a first fragment", unix.ARPHRD_ETHER, etherframe(ethIPv6, ip6pkt(44, ext6(protoUDP, 1, udpdgram(1, 2, nil)))),
			want{"udp", "", "", v6a, v6b, 1, 2, "IP6 fd00::1.1 > fd00::2.2: UDP, length 0"}},
		{"ip6 later fragment", unix.ARPHRD_ETHER, etherframe(ethIPv6, ip6pkt(44, ext6(protoUDP, 8<<3, data8))),
			want{"ip6", "", "", v6a, v6b, 0, 0, "IP6 fd00::1 > fd00::2: ip-proto-44, length 16"}},
		{"ip6 extension cut short", unix.ARPHRD_ETHER, etherframe(ethIPv6, ip6pkt(60, ext6(protoUDP, 0, nil)[:1])),
			want{"ip6", "", "", v6a, v6b, 0, 0, "IP6 fd00::1 > fd00::2: ip-proto-60, length 1"}},
		{"ip6 header cut short", unix.ARPHRD_ETHER, etherframe(ethIPv6, ip6pkt(protoUDP, nil)[:39]),
			want{"ip6", "", "", netip.Addr{}, netip.Addr{}, 0, 0, "IP6, bad or truncated header, length 53"}},
		{"tun ipv4", unix.ARPHRD_NONE, ip4pkt(protoUDP, 0, udpdgram(1, 2, nil)),
			want{"udp", "", "", v4a, v4b, 1, 2, "IP 10.0.0.1.1 > 10.0.0.2.2: UDP, length 0"}},
		{"tun ipv6", unix.ARPHRD_NONE, ip6pkt(protoUDP, udpdgram(1, 2, nil)),
			want{"udp", "", "", v6a, v6b, 1, 2, "IP6 fd00::1.1 > fd00::2.2: UDP, length 0"}},
		{"lldp", unix.ARPHRD_ETHER, etherframe(0x88cc, data8),
			want{"ether", "", "", netip.Addr{}, netip.Addr{}, 0, 0, "ethertype LLDP (0x88cc), length 22"}},
		{"unknown ethertype", unix.ARPHRD_ETHER, etherframe(0x1234, data8),
			want{"ether", "", "", netip.Addr{}, netip.Addr{}, 0, 0, "ethertype Unknown (0x1234), length 22"}},
		{"802.3 length", unix.ARPHRD_ETHER, etherframe(8, data8),
			want{"ether", "", "", netip.Addr{}, netip.Addr{}, 0, 0, "802.3, length 22"}},
		{"ethernet header cut short", unix.ARPHRD_ETHER, etherframe(ethIPv4, nil)[:13],
			want{"ether", "", "", netip.Addr{}, netip.Addr{}, 0, 0, "unknown frame, length 13"}},
		{"vlan tag cut short", unix.ARPHRD_ETHER, etherframe(ethVLAN, []byte{0, 5}),
			want{"ether", "", "", netip.Addr{}, netip.Addr{}, 0, 0, "unknown frame, length 16"}},
	}
}

// TestDecodePacketTruncated: every prefix of a real frame decodes without
// panicking (a snap length or a broken frame cuts packets anywhere), and the
// whole frame decodes to tcpdump's line.
func TestDecodePacketTruncated(t *testing.T) {
	ip := cat([]byte{0x45, 0}, be16(40), be16(1), be16(0x4000), []byte{64, protoTCP, 0, 0}, []byte{198, 51, 100, 2}, v4b.AsSlice())
	frame := etherframe(ethIPv4, cat(ip, tcpseg(40000, 80, 7, 0, 0x02, 1000, nil)))
	for n := 0; n < len(frame); n++ {
		for _, hatype := range []uint16{unix.ARPHRD_ETHER, unix.ARPHRD_NONE} {
			if p := DecodePacket(frame[:n], len(frame), hatype, false, time.Now()); p.Summary == "" {
				t.Errorf("%d bytes: no summary", n)
			}
		}
	}
	p := DecodePacket(frame, len(frame), unix.ARPHRD_ETHER, false, time.Now())
	want := "IP 198.51.100.2.40000 > 10.0.0.2.80: Flags [S], seq 7, win 1000, length 0"
	if p.Summary != want || p.Proto != "tcp" || p.Flags != "S" || p.Sport != 40000 {
		t.Errorf("decoded %+v, want %q", p, want)
	}
	raw := DecodePacket(frame[14:], len(frame)-14, unix.ARPHRD_NONE, true, time.Now())
	if raw.Summary != want || raw.Dir != "out" {
		t.Errorf("a tun frame decoded as %q (%s)", raw.Summary, raw.Dir)
	}
}

// TestWritePcap: the file header and each record are laid out as
// pcap-savefile(5) says, with the link type of the link's hardware type.
func TestWritePcap(t *testing.T) {
	at := time.Unix(1700000000, 123456789)
	pkts := []Packet{{Time: at, Data: []byte{1, 2, 3}, Len: 60}, {Time: at.Add(time.Second), Data: []byte{4}, Len: 1}}
	for _, tt := range []struct {
		hatype uint16
		link   uint32
	}{{unix.ARPHRD_ETHER, linkTypeEthernet}, {unix.ARPHRD_LOOPBACK, linkTypeEthernet}, {unix.ARPHRD_NONE, linkTypeRaw}} {
		var buf bytes.Buffer
		if err := writePcap(&buf, pkts, tt.hatype); err != nil {
			t.Fatal(err)
		}
		le := binary.LittleEndian
		want := cat(le.AppendUint32(nil, 0xa1b2c3d4), le.AppendUint16(nil, 2), le.AppendUint16(nil, 4), make([]byte, 8),
			le.AppendUint32(nil, 65536), le.AppendUint32(nil, tt.link),
			le.AppendUint32(nil, 1700000000), le.AppendUint32(nil, 123456), le.AppendUint32(nil, 3), le.AppendUint32(nil, 60), []byte{1, 2, 3},
			le.AppendUint32(nil, 1700000001), le.AppendUint32(nil, 123456), le.AppendUint32(nil, 1), le.AppendUint32(nil, 1), []byte{4})
		if !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("hatype %d: wrote\n%x\nwant\n%x", tt.hatype, buf.Bytes(), want)
		}
	}
	if err := writePcap(&bytes.Buffer{}, []Packet{{Data: []byte{1, 2}, Len: 1}}, unix.ARPHRD_ETHER); err == nil {
		t.Error("a frame longer than its wire length: no error")
	}
}
