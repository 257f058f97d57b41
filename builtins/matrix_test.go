package builtins

import (
	"strings"
	"testing"
)

// matrixLab puts a, b and c on a bridge (c's link down when fault is set)
// and d on a veth that leads nowhere.
const matrixLab = `
a, b, c, d = netns("a"), netns("b"), netns("c"), netns("d")
br = bridge("br0")
for ns, ip in [(a, "10.0.0.1/24"), (b, "10.0.0.2/24"), (c, "10.0.0.3/24")]:
    outer, inner = veth(peer_ns = ns)
    outer.set(master = br)
    inner.addr(ip)
    if ns == c and FAULT:
        inner.down()
_, inner = veth(peer_ns = d)
inner.addr("10.0.0.4/24")
`

func TestReachabilityTable(t *testing.T) {
	t.Parallel()
	out, err := runScript(t, strings.Replace(matrixLab, "FAULT", "False", 1)+`
m = reachability(["a", b, c, d], timeout = "200ms")
print(m)
`)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out,
		"reachability at lab.star:13:5 (rows: from, columns: to; 1 reply, 0 none)\n",
		"     a  b  c  d\n",
		"  a  -  1  1  0\n",
		"  b  1  -  1  0\n",
		"  c  1  1  -  0\n",
		"  d  0  0  0  -\n",
		"[[None, True, True, False], [True, None, True, False], [True, True, None, False], [False, False, False, None]]\n",
		"0 passed, 0 failed\n") // without expect, the matrix is not an expectation
}

func TestReachabilityExpect(t *testing.T) {
	t.Parallel()
	const check = `
reachability([a, b, c, d], timeout = "200ms", expect = [
    "- 1 1 0",
    [True, None, 1, False],
    "11-0",
    (0, 0, 0, None),
])
print("after")
`
	out, err := runScript(t, strings.Replace(matrixLab, "FAULT", "False", 1)+check)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out,
		"(rows: from, columns: to; 1 reply, 0 none, ! not as expected)\n",
		"  c  1  1  -  0\n",
		"ok   lab.star:13:1: reachability: a b c d: all 12 pairs as expected\n",
		"after\n",
		"1 passed, 0 failed\n")

	out, err = runScript(t, strings.Replace(matrixLab, "FAULT", "True", 1)+check)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out,
		"  a  -  1  0! 0\n",
		"  c  0! 0! -  0\n",
		"  ! a -> c (10.0.0.3): want a reply, got no reply in 200ms\n",
		"  ! c -> b (10.0.0.2): want a reply, got network is unreachable\n",
		"FAIL lab.star:13:1: reachability: a b c d: 4 of 12 pairs differ: a -> c want 1, b -> c want 1, c -> a want 1, c -> b want 1\n",
		"after\n",
		"0 passed, 1 failed\n")
}

func TestReachabilityWantNone(t *testing.T) {
	t.Parallel()
	out, err := runScript(t, strings.Replace(matrixLab, "FAULT", "False", 1)+`
reachability([a, d], expect = ["- 1", "0 -"], timeout = "200ms")
`)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out,
		"  ! a -> d (10.0.0.4): want a reply, got no reply in 200ms\n",
		"FAIL lab.star:13:1: reachability: a d: 1 of 2 pairs differ: a -> d want 1\n")
}

func TestReachabilityErrors(t *testing.T) {
	t.Parallel()
	const lab = "a, b = netns('a'), netns('b')\nx, y = veth(ns = a, peer_ns = b)\nx.addr('10.0.0.1/24')\ny.addr('10.0.0.2/24')\n"
	for _, tc := range []struct{ src, want string }{
		{"reachability(1)", "reachability: for parameter nss: got int, want iterable"},
		{"reachability([a])", "reachability: for parameter nss: got 1 namespaces, want at least 2"},
		{"reachability([a, 'a'])", `reachability: for parameter nss: netns "a" is listed twice`},
		{"reachability([a, 'zz'])", `reachability: for parameter nss: item 2: no namespace "zz"`},
		{"reachability([a, 3])", "reachability: for parameter nss: item 2: got int, want netns or string"},
		{"reachability([a, netns('c')])", `reachability: for parameter nss: netns "c" has no address to probe`},
		{"reachability([a, b], expect = 1)", "reachability: for parameter expect: got int, want list of 2 rows"},
		{"reachability([a, b], expect = ['-1'])", "reachability: for parameter expect: got 1 rows, want 2 (one per namespace)"},
		{"reachability([a, b], expect = ['-1', '1'])", "reachability: for parameter expect: row 2: got 1 entries, want 2"},
		{"reachability([a, b], expect = ['-1', '1x'])", `reachability: for parameter expect: row 2: got 'x' in "1x", want 1 (reply), 0 (none) or - (diagonal)`},
		{"reachability([a, b], expect = ['11', '1-'])", "reachability: for parameter expect: row 1 column 1: want - (or None) on the diagonal"},
		{"reachability([a, b], expect = ['--', '1-'])", "reachability: for parameter expect: row 1 column 2: - (or None) belongs on the diagonal only"},
		{"reachability([a, b], expect = [[None, 2], '1-'])", "reachability: for parameter expect: row 1: column 2: got 2, want 1 or 0"},
		{"reachability([a, b], expect = [[None, 'y'], '1-'])", "reachability: for parameter expect: row 1: column 2: got string, want bool, 1, 0 or None"},
		{"reachability([a, b], expect = ['-1', 7])", `reachability: for parameter expect: row 2: got int, want string such as "- 1 0" or list`},
		{"reachability([a, b], timeout = 'x')", `reachability: for parameter "timeout": invalid duration "x"`},
		{"reachability([a, b], expct = None)", `reachability: unexpected keyword argument "expct"`},
	} {
		_, err := runPlan(t, lab+tc.src)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %s", tc.src, err, tc.want)
			continue
		}
		if !strings.HasPrefix(err.Error(), "lab.star:5:") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error %q is not one line with the position", tc.src, err)
		}
	}
}
