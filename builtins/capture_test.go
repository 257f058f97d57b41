package builtins

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCaptureScript: a capture on the server's end of a veth sees the SYN of
// a connection with its source and ports; a filter keeps only what it
// names; expect_packets counts with count, min and max, as a dict or as
// keywords; .packets is a barrier for the probes before it.
func TestCaptureScript(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out, err := runScript(t, pairTopo+`
cap = capture(s)
tcp = capture(s, filter = {"proto": "tcp", "port": 7})
echo = serve(server, "tcp", ":7")
expect_connect(client, echo)
expect_packets(cap, proto = "tcp", flags = "S", src = client, dport = 7, count = 1)
expect_packets(tcp, match = {"flags": "S.", "dst": "10.0.0.0/24"}, min = 1, max = 1)
expect_packets(cap, proto = "udp", count = 0)
expect_packets(tcp, proto = "arp")
print(tcp, tcp.filter, tcp.link.name, len([p for p in tcp.packets if p.proto != "tcp"]))
syn = tcp.packets[0]
print(syn.dir, syn.proto, syn.flags, syn.src, syn.dst, syn.dport, syn.type, syn.len, type(syn.time))
expect_reachable(client, server)
print(len([p for p in cap.packets if p.proto == "icmp"]))
cap.stop()
expect_reachable(client, server)
print(len([p for p in cap.packets if p.proto == "icmp"]))
cap.save("`+filepath.Join(dir, "lab.pcap")+`")
expect_packets(cap, proto = "icmp", type = "echo-request", count = 5)
`)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out,
		"ok   lab.star:12:1: expect_packets: server/eth0 proto=tcp flags=S src=10.0.0.1 dport=7: 1 packet (want exactly 1), first: IP 10.0.0.1.",
		"ok   lab.star:13:1: expect_packets: server/eth0 flags=S. dst=10.0.0.0/24: 1 packet (want exactly 1), first: IP 10.0.0.2.7 > 10.0.0.1.",
		"ok   lab.star:14:1: expect_packets: server/eth0 proto=udp: 0 packets (want exactly 0)",
		"FAIL lab.star:15:1: expect_packets: server/eth0 proto=arp: 0 packets, want at least 1; the capture on eth0 saw ",
		"s in  IP 10.0.0.1.",
		"<capture on eth0 in server> proto=tcp port=7 eth0 0",
		"in tcp S 10.0.0.1 10.0.0.2 7 None 74 float",
		"2\n",
		"2\n",
		"FAIL lab.star:25:1: expect_packets: server/eth0 proto=icmp type=echo-request: 1 packet, want exactly 5; the capture on eth0 saw ",
		"\n     * ",
		"6 passed, 2 failed",
	)
	if b, err := os.ReadFile(filepath.Join(dir, "lab.pcap")); err != nil || len(b) < 24 {
		t.Errorf("lab.pcap: %d bytes, %v", len(b), err)
	}
}

func TestCaptureBadArgs(t *testing.T) {
	t.Parallel()
	top := pairTopo + "cap = capture(s)\n"
	wantErrors(t, runPlan, []struct{ src, want string }{
		{pairTopo + `capture("eth0")`, `capture: for parameter link: got string, want link`},
		{pairTopo + `capture(s, filter = "arp")`, `capture: for parameter "filter": got string, want dict such as {"proto": "arp"}`},
		{pairTopo + `capture(s, filter = {"prot": "arp"})`, `capture: for parameter "filter": unexpected keyword argument "prot" (did you mean proto?) (keys: proto, type, flags, src, dst, host, sport, dport, port)`},
		{pairTopo + `capture(s, filter = {"proto": "arpp"})`, `capture: for parameter "filter": unknown proto "arpp" (want one of arp, icmp, icmp6, igmp, tcp, udp, ip, ip6)`},
		{top + `expect_packets(cap, prot = "arp")`, `expect_packets: unexpected keyword argument "prot" (did you mean proto?)`},
		{top + `expect_packets(cap, proto = "arp", type = "echo-request")`, `expect_packets: unknown arp type "echo-request" (want one of request, reply)`},
		{top + `expect_packets(cap, type = "requestt")`, `expect_packets: unknown packet type "requestt" (want one of echo-reply, echo-request, `},
		{top + `expect_packets(cap, proto = "udp", flags = "S")`, `expect_packets: flags "S" needs proto "tcp", not "udp"`},
		{top + `expect_packets(cap, port = 70000)`, `expect_packets: for parameter "port": invalid port 70000 (want 1 to 65535)`},
		{top + `expect_packets(cap, src = "10.0.0.0/33")`, `expect_packets: for parameter "src": invalid network "10.0.0.0/33"`},
		{top + `expect_packets(cap, count = 1, min = 1)`, `expect_packets: give count or min/max, not both`},
		{top + `expect_packets(cap, min = 2, max = 1)`, `expect_packets: min 2 is more than max 1`},
		{top + `expect_packets(cap, count = -1)`, `expect_packets: for parameter "count": invalid count -1 (want 0 to 1073741824)`},
		{top + `expect_packets(cap, match = {"proto": "arp"}, type = "request")`, `expect_packets: give match or keyword arguments, not both`},
		{top + `expect_packets(s, proto = "arp")`, `expect_packets: for parameter capture: got link, want capture`},
		{top + `cap.save("")`, `save: empty path`},
	})
	// Only a real capture writes a file.
	wantErrors(t, runScript, []struct{ src, want string }{
		{top + `cap.save("/nonexistent/x.pcap")`, `save: open /nonexistent/x.pcap: no such file or directory`},
	})
}
