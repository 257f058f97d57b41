package builtins

import "testing"

// TestIdentity: the value of one lab object is equal to itself however the
// script reached it, and its hash does not change with its name.
func TestIdentity(t *testing.T) {
	t.Parallel()
	out, err := runPlan(t, `
a = netns("a")
x, y = veth(peer_ns = a)
print(y.ns == a, a == y.ns, x.peer == y, y.peer == x, link(a, y.name) == y, a.link(y.name) == y, host == x.ns)
d = {a: "a", y: "y", host: "host"}
print(d.get(y.ns), d.get(x.peer), d.get(x.ns))
y.down()
y.rename("eth9")
print(d.get(y), d.get(link(a, "eth9")), d[a.links[-1]])
b = netns("b")
y.move(b)
print(d.get(y), y.ns == b, b != a, x != y, len(dict([(x, 1), (y, 2), (x.peer, 3)])))
`)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out,
		"True True True True True True True\n",
		"a y host\n",
		"y y y\n",
		"y True True True 2\n")
}
