package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestExplainTools: the tools of a command line are the programs it runs,
// looked through ip netns exec, timeout, sh -c and $(...), without the shell's
// own words, redirections, here-documents and what every system has.
func TestExplainTools(t *testing.T) {
	for _, c := range []struct{ line, want string }{
		{"ip -n a link set lo up", "ip"},
		{"! ip netns exec a ping -c1 -W1 10.0.0.1 || exit 1", "ip ping"},
		{`test "$(ip netns exec a curl -sS -o /dev/null -w '%{http_code}' http://x/)" = 200`, "curl ip"},
		{"echo probe | ip netns exec a nc -N -w1 10.0.0.2 80 2>&1 | grep -q .", "ip nc"},
		{`timeout 30 sh -c 'until ip netns exec b ss -Hltn "sport = :80" | grep -q .; do sleep 0.1; done'`, "ip ss"},
		{"cap1=$!; tcpdump -nr cap1.pcap >/dev/null", "tcpdump"},
		{"(cd scripts && exec ip netns exec r1 bird -f -c x.conf) &", "ip bird"},
		{"cat >bird1/bird.conf <<'EOF'\nprotocol device { scan time 10; }\nlog stderr all;\nEOF", ""},
		{"nsenter --net=/proc/$$/ns/net ping -c1 10.0.0.1", "nsenter"},
		{"./selftest.sh eth0 && $prog x", ""},
	} {
		var ts toolSet
		ts.addCommand(c.line)
		got := strings.Join(sortedTools(ts.order), " ")
		if want := strings.Join(sortedTools(strings.Fields(c.want)), " "); got != want {
			t.Errorf("%q: tools %q, want %q", c.line, got, want)
		}
	}
}

func sortedTools(ts []string) []string {
	m := map[string]bool{}
	for _, t := range ts {
		m[t] = true
	}
	return sortedKeys(m)
}

// TestExplainServers: a script with a built-in server declares the tools,
// traps EXIT to stop the server, waits until it listens, and checks seen_as
// in the server's log.
func TestExplainServers(t *testing.T) {
	dir := writeScript(t, "s.star", `
a, b = netns("a"), netns("b")
x, y = veth(ns = a, peer_ns = b)
x.addr("10.0.0.1/24")
y.addr("10.0.0.2/24")
serve(b, "http", 80)
serve(b, "tcp", 7)
expect_http(a, "http://10.0.0.2/", seen_as = x)
expect_connect(a, "10.0.0.2:7", seen_as = "10.0.0.1")
`)
	out, errOut, code := mainArgs("explain", filepath.Join(dir, "s.star"))
	if code != ExitOK {
		t.Fatalf("explain: exit %d, stderr %q", code, errOut)
	}
	inOrder(t, out,
		"set -e\n# needs: ip curl nc python3 socat ss\nfor tool in ip curl nc python3 socat ss; do\n",
		"    command -v $tool >/dev/null || { echo \"$0: needs $tool, which is not installed (needs: ip curl nc python3 socat ss)\" >&2; exit 127; }\ndone\n",
		"trap 'kill $(jobs -p) 2>/dev/null || true; wait' EXIT\n",
		"ip netns exec b python3 -m http.server 80 2>>http.log &\n",
		`timeout 30 sh -c 'until ip netns exec b ss -Hltn "sport = :80" | grep -q .; do sleep 0.1; done'`+"\n",
		"ip netns exec b socat -d -d TCP-LISTEN:7,fork,reuseaddr EXEC:cat 2>>socat.log &\n",
		"ip netns exec a curl -sS -m1 -f http://10.0.0.2/ >/dev/null\ntail -n1 http.log | grep -Eq '^(::ffff:)?10\\.0\\.0\\.1 '\n",
		"echo probe | ip netns exec a nc -N -w1 10.0.0.2 7 | grep -q .\n"+
			"grep -E 'accepting connection from|receiving packet from' socat.log | tail -n1 | grep -qF 'from AF=2 10.0.0.1:'\n",
	)
	if strings.Count(out, "trap ") != 1 {
		t.Errorf("want one trap:\n%s", out)
	}
}
