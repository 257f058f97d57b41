package builtins

import (
	"strings"
	"testing"
)

// TestIntRanges: an integer out of a parameter's range is a one-line error
// at the call, never a value wrapped modulo 2^32 (metric (1 << 32) was metric 0,
// owner (1 << 32) + 1000 was uid 1000).
func TestIntRanges(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ call, want string }{
		{`route(a, "default", dev = y, metric = (1 << 32))`, `route: for parameter "metric": invalid metric 4294967296 (want 0 to 4294967295)`},
		{`route(a, "default", dev = y, metric = -1)`, `invalid metric -1`},
		{`tap(owner = (1 << 32) + 1000)`, `tap: for parameter "owner": invalid owner 4294968296 (want 0 to 4294967294)`},
		{`veth(mtu = (1 << 32) + 1500)`, `veth: for parameter "mtu": invalid mtu 4294968796 (want 68 to 65535)`},
		{`bridge("br1", mtu = (1 << 64))`, `bridge: for parameter "mtu": invalid mtu 18446744073709551616`},
		{`x.set(mtu = (1 << 32) + 1500)`, `set: for parameter "mtu": invalid mtu 4294968796`},
		{`dummy(mtu = (1 << 32) + 1500)`, `dummy: for parameter "mtu": invalid mtu`},
		{`vlan(x, (1 << 32) + 10)`, `vlan: for parameter id: invalid vlan id 4294967306 (want 1 to 4094)`},
		{`vxlan("vx0", (1 << 32) + 1, remote = "10.0.0.2")`, `vxlan: for parameter vni: invalid vni 4294967297`},
		{`vxlan("vx0", 1, remote = "10.0.0.2", port = (1 << 32) + 4789)`, `vxlan: for parameter "port": invalid port 4294972085 (want 1 to 65535)`},
		{`impair(x, limit = (1 << 32))`, `impair: for parameter "limit": invalid limit 4294967296 (want 1 to 1048576)`},
		{`ping(a, "10.0.0.1", count = (1 << 32) + 1)`, `ping: for parameter "count": invalid count 4294967297 (want 1 to 10000)`},
		{`expect_rtt(a, "10.0.0.1", max = "1s", count = (1 << 32) + 5)`, `expect_rtt: for parameter "count": invalid count`},
		{`netns("n", pid = (1 << 32) + 1)`, `netns: for parameter "pid": invalid pid 4294967297`},
		{`serve(a, "tcp", (1 << 32) + 80)`, `serve: for parameter addr: invalid port 4294967376 (want 0 to 65535)`},
		{`port_forward(a, (1 << 32) + 80, "10.0.0.1")`, `port_forward: for parameter port: invalid port 4294967376 (want 1 to 65535)`},
		{`firewall(a, "drop", proto = "tcp", port = (1 << 32) + 22)`, `firewall: for parameter "port": invalid port 4294967318`},
		{`expect_http(a, "http://10.0.0.1/", status = (1 << 32) + 200)`, `expect_http: for parameter "status": invalid status 4294967496`},
		{`veth(mtu = True)`, `veth: for parameter "mtu": got bool, want int`},
	} {
		_, err := runPlan(t, noneSetup+tc.call+"\n")
		wantError(t, tc.call, err, tc.want)
		if err != nil && !strings.HasPrefix(err.Error(), "lab.star:7:1: ") {
			t.Errorf("%s: error without the call's position: %v", tc.call, err)
		}
	}
}
