package cli

import "testing"

// TestExplainCapture: a capture is explained as the tcpdump a student would
// run in the link's namespace, writing the file the later lines read;
// expect_packets as a count of tcpdump -r's lines with the same filter.
func TestExplainCapture(t *testing.T) {
	dir := writeScript(t, "c.star", `
a = netns("a")
b = netns("b")
x, y = veth(ns = a, peer_ns = b)
x.addr("10.0.0.1/24")
y.addr("10.0.0.2/24")
cap = capture(y, filter = {"proto": "icmp"})
expect_reachable(a, b)
expect_packets(cap, type = "echo-request", src = a, count = 1)
expect_packets(cap, proto = "tcp", flags = "S", dport = 80, min = 1, max = 3, within = "2s")
cap.save("echo.pcap")
cap.stop()
`)
	out, errOut, code := mainArgs("explain", dir+"/c.star")
	if code != ExitOK || errOut != "" {
		t.Fatalf("explain: exit %d, stderr %q", code, errOut)
	}
	inOrder(t, out,
		"c.star:7:7: capture packets with proto=icmp on eth0 in netns b\n"+
			"ip netns exec b tcpdump -i eth0 -nU --immediate-mode -w cap1.pcap icmp 2>cap1.log & cap1=$!\n"+
			`timeout 10 sh -c 'until grep -q "listening on" cap1.log; do sleep 0.1; done'`+"\n",
		"ip netns exec a ping -c1 -W1 10.0.0.2\n",
		"c.star:9:1: expect_packets b/eth0 type=echo-request src=10.0.0.1\n"+
			`timeout 1 sh -c 'until test "$(tcpdump -nr cap1.pcap '\''(icmp[icmptype] == icmp-echo or icmp6[icmp6type] == icmp6-echo) and src host 10.0.0.1'\'' 2>/dev/null | wc -l)" -eq 1; do sleep 0.1; done'`+"\n",
		`timeout 2 sh -c 'until n="$(tcpdump -nr cap1.pcap '\''tcp and tcp[tcpflags] == tcp-syn and dst port 80'\'' 2>/dev/null | wc -l)"; test $n -ge 1 -a $n -le 3; do sleep 0.1; done'`+"\n",
		"cp cap1.pcap echo.pcap\n",
		"kill $cap1; wait $cap1 || true\n",
	)
}
