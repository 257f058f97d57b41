package cli

import (
	"testing"

	"github.com/nsscript/nsscript/internal/lab"
)

// TestShellVars: a bound value becomes its variable as a whole address
// only, in each of bash's quoting contexts.
func TestShellVars(t *testing.T) {
	var vs shellVars
	vs.add([]lab.ShellVar{{Value: "10.0.0.10/24", Ref: "$l_ip/$l_mask"}, {Value: "10.0.0.10", Ref: "$l_ip"}})
	for _, c := range []struct{ in, want string }{
		{"ping -c1 10.0.0.10", "ping -c1 $l_ip"},
		{"ip addr add 10.0.0.10/24 dev eth0", "ip addr add $l_ip/$l_mask dev eth0"},
		{"ip route add 10.0.0.10/32 dev x", "ip route add $l_ip/32 dev x"},
		{"ping 10.0.0.100 110.0.0.10 10.0.0.10.5", "ping 10.0.0.100 110.0.0.10 10.0.0.10.5"},
		{`echo "at 10.0.0.10."`, `echo "at $l_ip."`},
		{`sh -c 'ping 10.0.0.10'`, `sh -c 'ping '"$l_ip"''`},
		{`sh -c 'grep -q '\''via 10.0.0.10 '\'''`, `sh -c 'grep -q '\''via '"$l_ip"' '\'''`},
		{`grep -qP '^10\.0\.0\.10\s'`, `grep -qP '^'"$l_ip"'\s'`},
		{`echo \'10.0.0.10`, `echo \'$l_ip`},
		{"cat >f <<'EOF'\nx $y 10.0.0.10\nEOF", "cat >f <<EOF\nx \\$y $l_ip\nEOF"},
		{"cat >f <<'EOF'\nx $y\nEOF", "cat >f <<'EOF'\nx $y\nEOF"},
	} {
		if got := vs.command(c.in); got != c.want {
			t.Errorf("command(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := vs.text("c1 got 10.0.0.10/24, router 10.0.0.1"); got != "c1 got $l_ip/$l_mask, router 10.0.0.1" {
		t.Errorf("text: %q", got)
	}
}
