package probe

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"encoding/binary"
)

// startCapture captures on the link called name in namespace fd.
func startCapture(t *testing.T, fd int, name string, keep PacketMatch) *Capture {
	t.Helper()
	l, err := handle(t, fd).LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	c, err := StartCapture(fd, l.Attrs().Index, keep)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c
}

func summaries(ps []Packet) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.Dir + " " + p.Summary + "\n")
	}
	return b.String()
}

// TestCaptureARPThenICMP: the first ping from a to b crosses b's link as an
// ARP request and reply, then an echo request and reply; Sync after the
// ping's reply is enough to see all four, in order.
func TestCaptureARPThenICMP(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	c := startCapture(t, b, "b0", PacketMatch{Proto: "ip"})
	all := startCapture(t, b, "b0", PacketMatch{})
	r := newPinger(t, a).Ping(context.Background(), netip.MustParseAddr("10.9.0.2"), Options{})
	if r.Outcome != Reply {
		t.Fatalf("ping: %+v", r)
	}
	c.Sync()
	all.Sync()
	got := summaries(all.Packets())
	t.Logf("all:\n%s", got)
	want := []string{
		"in ARP, Request who-has 10.9.0.2 tell 10.9.0.1, length 28",
		"out ARP, Reply 10.9.0.2 is-at ",
		"in IP 10.9.0.1 > 10.9.0.2: ICMP echo request, id ",
		"out IP 10.9.0.2 > 10.9.0.1: ICMP echo reply, id ",
	}
	lines := strings.Split(got, "\n")
	i := 0
	for _, l := range lines {
		if i < len(want) && strings.HasPrefix(l, want[i]) {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("missing %q (in order) among:\n%s", want[i], got)
	}
	ps := c.Packets()
	if len(ps) != 2 || ps[0].Proto != "icmp" || ps[0].Type != "echo-request" || ps[1].Type != "echo-reply" {
		t.Errorf("filter proto=ip kept:\n%s", summaries(ps))
	}
	if ps[0].Src != netip.MustParseAddr("10.9.0.1") || ps[0].Dst != netip.MustParseAddr("10.9.0.2") || ps[0].Len != 98 {
		t.Errorf("echo request decoded as %+v", ps[0])
	}
}

// TestCaptureTCP: a SYN carries its ports and flags, and a pcap written from
// the capture reads back with the same frames.
func TestCaptureTCP(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	srv, err := Serve(b, "tcp", "10.9.0.2:7070")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := startCapture(t, a, "a0", PacketMatch{Proto: "tcp", Port: 7070})
	res := Connect(context.Background(), a, "tcp", "10.9.0.2:7070", 2*time.Second)
	if !res.OK {
		t.Fatalf("connect: %+v", res)
	}
	c.Stop()
	ps := c.Packets()
	t.Logf("\n%s", summaries(ps))
	syn := PacketMatch{Proto: "tcp", Flags: "S", Dport: 7070, Src: netip.MustParsePrefix("10.9.0.1/32")}
	n := 0
	for i := range ps {
		if syn.Match(&ps[i]) {
			n++
		}
	}
	if n != 1 || ps[0].Dir != "out" || !strings.Contains(ps[0].Summary, " > 10.9.0.2.7070: Flags [S], seq ") {
		t.Errorf("want one outgoing SYN first, got %d:\n%s", n, summaries(ps))
	}
	var buf bytes.Buffer
	if err := c.WritePcap(&buf); err != nil {
		t.Fatal(err)
	}
	link, recs := readPcap(t, buf.Bytes())
	if link != linkTypeEthernet || len(recs) != len(ps) {
		t.Fatalf("pcap of link type %d with %d frames, want %d and %d", link, len(recs), linkTypeEthernet, len(ps))
	}
	for i, r := range recs {
		if !bytes.Equal(r.Data, ps[i].Data) || r.Len != ps[i].Len || r.Time.UnixMicro() != ps[i].Time.UnixMicro() {
			t.Fatalf("packet %d read back as %d of %d bytes at %v, want %d of %d at %v", i, len(r.Data), r.Len, r.Time, len(ps[i].Data), ps[i].Len, ps[i].Time)
		}
	}
}

// readPcap reads a little-endian pcap file with microsecond timestamps, as
// WritePcap writes it.
func readPcap(t *testing.T, b []byte) (link uint32, recs []Packet) {
	t.Helper()
	le := binary.LittleEndian
	if len(b) < pcapFileHeader || le.Uint32(b) != pcapMagic {
		t.Fatalf("not a pcap file: % x", b[:min(len(b), pcapFileHeader)])
	}
	link, b = le.Uint32(b[20:]), b[pcapFileHeader:]
	for len(b) > 0 {
		if len(b) < pcapRecHeader || len(b) < pcapRecHeader+int(le.Uint32(b[8:])) {
			t.Fatalf("pcap record cut short: % x", b)
		}
		n := int(le.Uint32(b[8:]))
		at := time.Unix(int64(le.Uint32(b)), int64(le.Uint32(b[4:]))*1000)
		recs = append(recs, Packet{Time: at, Len: int(le.Uint32(b[12:])), Data: b[pcapRecHeader : pcapRecHeader+n]})
		b = b[pcapRecHeader+n:]
	}
	return link, recs
}

// TestCaptureStopped: a stopped capture keeps its frames and records no more.
func TestCaptureStopped(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	c := startCapture(t, b, "b0", PacketMatch{Proto: "icmp"})
	p := newPinger(t, a)
	p.Ping(context.Background(), netip.MustParseAddr("10.9.0.2"), Options{})
	c.Stop()
	n := len(c.Packets())
	p.Ping(context.Background(), netip.MustParseAddr("10.9.0.2"), Options{})
	if n != 2 || len(c.Packets()) != n || c.Err() != nil {
		t.Errorf("before stop %d packets, after %d (err %v), want 2 and 2", n, len(c.Packets()), c.Err())
	}
}

func TestPacketMatchCheck(t *testing.T) {
	for _, m := range []PacketMatch{{Proto: "arpp"}, {Type: "requestt"}, {Proto: "arp", Type: "echo-request"}, {Proto: "tcp", Type: "request"},
		{Proto: "udp", Flags: "S"}, {Proto: "tcp", Flags: "SYN"}, {Proto: "icmp", Port: 80}} {
		if m.Check() == nil {
			t.Errorf("%s: no error", m)
		}
	}
	m := PacketMatch{Proto: "tcp", Flags: "S.", Src: netip.MustParsePrefix("10.0.0.0/24"), Dport: 80}
	if err := m.Check(); err != nil {
		t.Error(err)
	}
	if got, want := m.Tcpdump(), "tcp and tcp[tcpflags] == (tcp-syn|tcp-ack) and src net 10.0.0.0/24 and dst port 80"; got != want {
		t.Errorf("Tcpdump() = %q, want %q", got, want)
	}
	echo := PacketMatch{Type: "echo-request"}
	if got, want := echo.Tcpdump(), "(icmp[icmptype] == icmp-echo or icmp6[icmp6type] == icmp6-echo)"; got != want || echo.Check() != nil {
		t.Errorf("Tcpdump() = %q, want %q (%v)", got, want, echo.Check())
	}
	arp := PacketMatch{Proto: "arp", Type: "request", Host: netip.PrefixFrom(netip.MustParseAddr("10.0.0.1"), 32)}
	if got, want := arp.Tcpdump(), "arp and arp[6:2] == 1 and host 10.0.0.1"; got != want {
		t.Errorf("Tcpdump() = %q, want %q", got, want)
	}
}
