package probe

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// ICMP types the pinger sends, receives or decodes.
const (
	icmp4EchoReply   = 0
	icmp4DstUnreach  = 3
	icmp4Echo        = 8
	icmp4TimeExceed  = 11
	icmp4ParamProb   = 12
	icmp6DstUnreach  = 1
	icmp6PacketTooBg = 2
	icmp6TimeExceed  = 3
	icmp6ParamProb   = 4
	icmp6Echo        = 128
	icmp6EchoReply   = 129

	protoICMP   = 1
	protoICMPv6 = 58
	protoUDP    = 17
)

// parseICMP decodes one ICMP message (without IP header) received from src.
// It recognises an echo reply carrying our id, and an ICMP error whose quoted
// original datagram is one of our echo requests; the returned key names the
// request it answers. Everything else is reported as !ok.
func parseICMP(b []byte, src netip.Addr, id uint16, v6 bool) (ev event, key waitKey, ok bool) {
	if len(b) < 8 {
		return ev, key, false
	}
	typ, code := int(b[0]), int(b[1])
	ev.v6 = v6
	ev.from = src.WithZone("")
	switch {
	case !v6 && typ == icmp4EchoReply, v6 && typ == icmp6EchoReply:
		if binary.BigEndian.Uint16(b[4:6]) != id {
			return ev, key, false
		}
		ev.reply = true
		ev.seq = binary.BigEndian.Uint16(b[6:8])
		return ev, waitKey{dst: ev.from, seq: ev.seq}, true
	case !v6 && (typ == icmp4DstUnreach || typ == icmp4TimeExceed || typ == icmp4ParamProb):
		key, ok := quoted4(b[8:], id)
		if !ok {
			return ev, key, false
		}
		ev.typ, ev.code, ev.seq = typ, code, key.seq
		if typ == icmp4DstUnreach && code == 4 {
			ev.mtu = int(binary.BigEndian.Uint16(b[6:8])) // the next-hop MTU
		}
		return ev, key, true
	case v6 && (typ == icmp6DstUnreach || typ == icmp6PacketTooBg || typ == icmp6TimeExceed || typ == icmp6ParamProb):
		key, ok := quoted6(b[8:], id)
		if !ok {
			return ev, key, false
		}
		ev.typ, ev.code, ev.seq = typ, code, key.seq
		if typ == icmp6PacketTooBg {
			ev.code = int(binary.BigEndian.Uint32(b[4:8])) // the MTU
			ev.mtu = ev.code
		}
		return ev, key, true
	}
	return ev, key, false
}

// quoted4 finds, in the original datagram quoted by an ICMPv4 error (IPv4
// header plus at least 8 bytes), the probe it answers: an echo request with
// our id (its destination and sequence number) or a UDP datagram (its
// destination, destination port and source port).
func quoted4(q []byte, id uint16) (waitKey, bool) {
	if len(q) < 20 || q[0]>>4 != 4 {
		return waitKey{}, false
	}
	ihl := int(q[0]&0x0f) * 4
	if ihl < 20 || len(q) < ihl+8 {
		return waitKey{}, false
	}
	return quotedProbe(netip.AddrFrom4([4]byte(q[16:20])), q[9], q[ihl:], icmp4Echo, protoICMP, id)
}

// quoted6 is quoted4 for ICMPv6 errors, which quote the IPv6 header. Probes
// are sent without extension headers, so none are skipped.
func quoted6(q []byte, id uint16) (waitKey, bool) {
	if len(q) < 48 || q[0]>>4 != 6 {
		return waitKey{}, false
	}
	return quotedProbe(netip.AddrFrom16([16]byte(q[24:40])), q[6], q[40:], icmp6Echo, protoICMPv6, id)
}

// quotedProbe reads the first 8 bytes of a quoted transport header e of
// protocol proto sent to dst.
func quotedProbe(dst netip.Addr, proto byte, e []byte, echo, protoEcho byte, id uint16) (waitKey, bool) {
	switch proto {
	case protoEcho:
		if e[0] != echo || binary.BigEndian.Uint16(e[4:6]) != id {
			return waitKey{}, false
		}
		return waitKey{dst: dst, seq: binary.BigEndian.Uint16(e[6:8])}, true
	case protoUDP:
		sport := binary.BigEndian.Uint16(e[0:2])
		if sport == 0 {
			return waitKey{}, false
		}
		return waitKey{dst: dst, seq: binary.BigEndian.Uint16(e[2:4]), sport: sport}, true
	}
	return waitKey{}, false
}

// describeError returns the lowercase text of an ICMP error, as ping prints
// it, followed by who sent it: "destination host unreachable (from 10.0.0.1)".
func describeError(ev event) string {
	return fmt.Sprintf("%s (from %s)", errorText(ev), ev.from)
}

func errorText(ev event) string {
	if ev.v6 {
		switch ev.typ {
		case icmp6DstUnreach:
			switch ev.code {
			case 0:
				return "no route to destination"
			case 1:
				return "communication administratively prohibited"
			case 2:
				return "beyond scope of source address"
			case 3:
				return "address unreachable"
			case 4:
				return "port unreachable"
			case 5:
				return "source address failed policy"
			case 6:
				return "reject route to destination"
			}
			return fmt.Sprintf("destination unreachable (code %d)", ev.code)
		case icmp6PacketTooBg:
			return fmt.Sprintf("packet too big (mtu %d)", ev.code)
		case icmp6TimeExceed:
			if ev.code == 1 {
				return "fragment reassembly time exceeded"
			}
			return "hop limit exceeded"
		case icmp6ParamProb:
			return "parameter problem"
		}
		return fmt.Sprintf("icmpv6 error type %d code %d", ev.typ, ev.code)
	}
	switch ev.typ {
	case icmp4DstUnreach:
		switch ev.code {
		case 0:
			return "destination network unreachable"
		case 1:
			return "destination host unreachable"
		case 2:
			return "destination protocol unreachable"
		case 3:
			return "destination port unreachable"
		case 4:
			return fmt.Sprintf("fragmentation needed (mtu %d)", ev.mtu)
		case 5:
			return "source route failed"
		case 6:
			return "destination network unknown"
		case 7:
			return "destination host unknown"
		case 9, 10, 13:
			return "communication administratively prohibited"
		}
		return fmt.Sprintf("destination unreachable (code %d)", ev.code)
	case icmp4TimeExceed:
		if ev.code == 1 {
			return "fragment reassembly time exceeded"
		}
		return "time to live exceeded"
	case icmp4ParamProb:
		return "parameter problem"
	}
	return fmt.Sprintf("icmp error type %d code %d", ev.typ, ev.code)
}
