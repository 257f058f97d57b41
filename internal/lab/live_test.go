package lab

import (
	"testing"
)

// TestLinkStatuses reads links the way the live view does: every link of
// the namespace, lo included, its counters after a ping, and set down.
func TestLinkStatuses(t *testing.T) {
	t.Parallel()
	l := newLab(t, Options{})
	a, _, x, y := vethPair(t, l)
	if err := x.AddAddr(mustPrefix(t, "10.8.0.1/24")); err != nil {
		t.Fatal(err)
	}
	if err := y.AddAddr(mustPrefix(t, "10.8.0.2/24")); err != nil {
		t.Fatal(err)
	}
	if r := ping(t, l, a, "10.8.0.2"); r.Outcome != Reply {
		t.Fatalf("ping: %+v", r)
	}
	byName := func() map[string]LinkStatus {
		sts, err := a.LinkStatuses()
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]LinkStatus{}
		for _, st := range sts {
			m[st.Name] = st
		}
		return m
	}
	m := byName()
	lo, eth := m["lo"], m[x.Name()]
	if !lo.AdminUp || len(m) != 2 {
		t.Errorf("links of a: %+v", m)
	}
	if !eth.AdminUp || eth.State != "UP" || eth.Peer != y.String() || len(eth.Addrs) != 1 || eth.Addrs[0] != "10.8.0.1/24" {
		t.Errorf("%s: %+v", x, eth)
	}
	if eth.Stats.TxPackets == 0 || eth.Stats.RxPackets == 0 || eth.Stats.TxBytes == 0 {
		t.Errorf("%s counters after a ping: %+v", x, eth.Stats)
	}
	if err := x.SetUp(false); err != nil {
		t.Fatal(err)
	}
	if eth := byName()[x.Name()]; eth.AdminUp || eth.State != "DOWN" {
		t.Errorf("%s set down: admin up %v, state %s", x, eth.AdminUp, eth.State)
	}
}
