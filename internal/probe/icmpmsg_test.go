package probe

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// quote builds an ICMPv4 error of type typ/code that quotes an echo request
// with the given id and seq sent to dst.
func quote4(typ, code byte, dst string, id, seq uint16) []byte {
	b := []byte{typ, code, 0, 0, 0, 0, 0, 0}
	ip := make([]byte, 20)
	ip[0], ip[9] = 0x45, protoICMP
	d := netip.MustParseAddr(dst).As4()
	copy(ip[16:], d[:])
	b = append(b, ip...)
	return append(b, icmp4Echo, 0, 0, 0, byte(id>>8), byte(id), byte(seq>>8), byte(seq))
}

func quote6(typ, code byte, dst string, id, seq uint16) []byte {
	b := []byte{typ, code, 0, 0, 0, 0, 0, 0}
	ip := make([]byte, 40)
	ip[0], ip[6] = 0x60, protoICMPv6
	d := netip.MustParseAddr(dst).As16()
	copy(ip[24:], d[:])
	b = append(b, ip...)
	return append(b, icmp6Echo, 0, 0, 0, byte(id>>8), byte(id), byte(seq>>8), byte(seq))
}

func TestParseICMP(t *testing.T) {
	router := netip.MustParseAddr("10.0.0.1")
	router6 := netip.MustParseAddr("fd00::1")
	for _, tc := range []struct {
		name   string
		b      []byte
		from   netip.Addr
		v6     bool
		ok     bool
		key    waitKey
		reply  bool
		detail string
	}{
		{"echo reply", []byte{icmp4EchoReply, 0, 0, 0, 0x12, 0x34, 0, 7}, router, false, true,
			waitKey{dst: router, seq: 7}, true, ""},
		{"echo reply, other id", []byte{icmp4EchoReply, 0, 0, 0, 0x12, 0x35, 0, 7}, router, false, false,
			waitKey{}, false, ""},
		{"short", []byte{icmp4EchoReply, 0, 0}, router, false, false, waitKey{}, false, ""},
		{"net unreachable", quote4(icmp4DstUnreach, 0, "192.0.2.9", 0x1234, 9), router, false, true,
			waitKey{dst: netip.MustParseAddr("192.0.2.9"), seq: 9}, false, "destination network unreachable (from 10.0.0.1)"},
		{"ttl exceeded", quote4(icmp4TimeExceed, 0, "192.0.2.9", 0x1234, 10), router, false, true,
			waitKey{dst: netip.MustParseAddr("192.0.2.9"), seq: 10}, false, "time to live exceeded (from 10.0.0.1)"},
		{"error about another id", quote4(icmp4DstUnreach, 1, "192.0.2.9", 0x4321, 9), router, false, false,
			waitKey{}, false, ""},
		{"echo reply v6", []byte{icmp6EchoReply, 0, 0, 0, 0x12, 0x34, 1, 0}, router6, true, true,
			waitKey{dst: router6, seq: 256}, true, ""},
		{"address unreachable v6", quote6(icmp6DstUnreach, 3, "2001:db8::9", 0x1234, 3), router6, true, true,
			waitKey{dst: netip.MustParseAddr("2001:db8::9"), seq: 3}, false, "address unreachable (from fd00::1)"},
		{"v4 message on v6 socket", quote4(icmp4DstUnreach, 0, "192.0.2.9", 0x1234, 9), router6, true, false,
			waitKey{}, false, ""},
	} {
		ev, key, ok := parseICMP(tc.b, tc.from, 0x1234, tc.v6)
		if ok != tc.ok || key != tc.key || (ok && ev.reply != tc.reply) {
			t.Errorf("%s: parseICMP = %+v %v %v, want %v %v", tc.name, ev, key, ok, tc.key, tc.ok)
			continue
		}
		if ok && !ev.reply {
			if got := describeError(ev); got != tc.detail {
				t.Errorf("%s: describeError = %q, want %q", tc.name, got, tc.detail)
			}
		}
	}
}

func TestFormat(t *testing.T) {
	for d, want := range map[time.Duration]string{
		310 * time.Microsecond:   "0.31ms",
		12500 * time.Microsecond: "12.5ms",
		300 * time.Millisecond:   "300ms",
		1500 * time.Millisecond:  "1.5s",
	} {
		if got := fmtDur(d); got != want {
			t.Errorf("fmtDur(%v) = %q, want %q", d, got, want)
		}
	}
	// fmtDur formats without fmt: the same text as fmt's %.Nf, rounding
	// edges included.
	for d := time.Duration(0); d < time.Second; d = d*3/2 + 997 {
		ms := float64(d) / float64(time.Millisecond)
		for prec := 0; prec <= 2; prec++ {
			if got, want := msText(ms, prec), fmt.Sprintf("%.*fms", prec, ms); got != want {
				t.Errorf("msText(%v, %d) = %q, want %q", ms, prec, got, want)
			}
		}
	}
	for _, ms := range []float64{0.005, 0.015, 0.125, 9.995, 99.95, 100.5, 999.5} {
		if got, want := msText(ms, 2), fmt.Sprintf("%.2fms", ms); got != want {
			t.Errorf("msText(%v, 2) = %q, want %q", ms, got, want)
		}
	}
	if got := fmtRate(1e6, time.Second); got != "8.00 Mbit/s" {
		t.Errorf("fmtRate = %q", got)
	}
	for o, want := range map[Outcome]string{Reply: "reply", Unreachable: "unreachable", NoRoute: "no route", Timeout: "timeout", 9: "outcome(9)"} {
		if o.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(o), o.String(), want)
		}
	}
}
