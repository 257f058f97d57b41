package lab

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/probe"
)

// vethNS returns the namespace "a" of a new lab, joined to its host by a
// veth that is up (eth0 in a).
func vethNS(t *testing.T) *Netns {
	t.Helper()
	l := newLab(t, Options{})
	ns, err := l.NewNetns("a")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Up: true}, PeerNS: ns}); err != nil {
		t.Fatal(err)
	}
	return ns
}

// Batched route lookups answer what one lookup at a time answers: on-link,
// via a gateway, local, and no route at all, more of them than one write
// carries.
func TestRouteGetManyMatchesRouteGet(t *testing.T) {
	t.Parallel()
	ns := vethNS(t)
	in := ns.Link("eth0")
	if err := in.AddAddr(mustPrefix(t, "10.31.0.1/24")); err != nil {
		t.Fatal(err)
	}
	if err := ns.Route(RouteSpec{Dst: mustPrefix(t, "10.32.0.0/16"), Via: netip.MustParseAddr("10.31.0.2")}); err != nil {
		t.Fatal(err)
	}
	kinds := []string{"10.31.0.5", "10.32.1.1", "10.31.0.1", "192.0.2.1"}
	var dsts []netip.Addr
	for i := 0; len(dsts) < 3*batchMax+5; i++ {
		dsts = append(dsts, netip.MustParseAddr(kinds[i%len(kinds)]))
	}
	got := routeGetMany(ns, dsts, nil, make([]byte, 1<<16))
	for i, dst := range dsts {
		var want routeAnswer
		if routes, err := ns.h.RouteGet(net.IP(dst.AsSlice())); err == nil && len(routes) > 0 {
			want = routeAnswerOf(routes[0])
		}
		if got[i] != want {
			t.Fatalf("lookup %d of %s: %+v, one at a time %+v", i, dst, got[i], want)
		}
	}
	if !got[0].ok || got[0].gw.IsValid() || !got[1].ok || got[1].gw != netip.MustParseAddr("10.31.0.2") ||
		!got[2].local || got[3].ok {
		t.Errorf("answers: %+v", got[:4])
	}
}

// Probes that wait for the neighbour lock together are prepared together:
// each step of their walks costs one netlink write per namespace, and
// their entries one write per namespace, instead of one round trip per
// lookup and per entry (16 lookups and 16 entries for the 12 probes of a
// 4-host mesh: 32 round trips).
func TestStaticNeighPreparesProbesTogether(t *testing.T) {
	t.Parallel()
	l := newLab(t, Options{Neigh: NeighStatic})
	_, hosts := starLab(t, l, 4)
	for _, h := range hosts {
		h.routesCustom = true // the kernel answers, as after a route()
	}
	var probes []walkKey
	for i, src := range hosts {
		for j := range hosts {
			if i != j {
				probes = append(probes, walkKey{src, netip.MustParseAddr(fmt.Sprintf("10.30.0.%d", j+2))})
			}
		}
	}
	l.neigh.mu.Lock()
	l.refreshView()
	l.prepareAll(probes)
	lookups, writes := l.neigh.lookups, l.neigh.writes
	l.neigh.mu.Unlock()
	// First hops (4 namespaces), last hops (4), entries (4 namespaces and
	// the bridge's).
	if lookups != 16 || writes != 4+4+5 {
		t.Errorf("12 probes prepared together: %d lookups in %d writes, want 16 in 13", lookups, writes)
	}
	for _, p := range probes {
		j := int(p.dst.As4()[3]) - 2
		mac := hosts[j].Link("eth0").mac.String()
		if !hasNeigh(t, p.ns, p.dst.String(), mac, netlink.NUD_PERMANENT) {
			t.Errorf("netns %s: no permanent entry %s at %s", p.ns.Name, p.dst, mac)
		}
		if r := ping(t, l, p.ns, p.dst.String()); r.Outcome != probe.Reply {
			t.Errorf("%s -> %s: %s", p.ns.Name, p.dst, r.Detail)
		}
	}
	l.neigh.mu.Lock()
	defer l.neigh.mu.Unlock()
	if l.neigh.lookups != lookups || l.neigh.writes != writes {
		t.Errorf("the probes needed more after being prepared: %d lookups, %d writes", l.neigh.lookups, l.neigh.writes)
	}
}

// The link dump Settle polls (without statistics, only index, name and
// state) lists what Handle.LinkList lists, for more links than one read
// of the answer holds, up and down alike.
func TestLinkStatesMatchLinkList(t *testing.T) {
	t.Parallel()
	l := newLab(t, Options{})
	ns, err := l.NewNetns("a")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		if _, _, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Up: i%2 == 0}, PeerNS: ns}); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []*Netns{l.Host, ns} {
		// The links that are up get their carrier from the kernel's
		// link watch, asynchronously: compare a LinkList with light
		// dumps taken before and after it that agree with each other.
		var got, want []linkState
		for stable := false; !stable; {
			before, err := linkStates(n, make([]byte, 1<<16))
			if err != nil {
				t.Fatal(err)
			}
			if want, err = listLinkStates(n); err != nil {
				t.Fatal(err)
			}
			if got, err = linkStates(n, make([]byte, 1<<16)); err != nil {
				t.Fatal(err)
			}
			stable = fmt.Sprint(before) == fmt.Sprint(got)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("netns %s: light dump %v\nLinkList %v", n.Name, got, want)
		}
		if len(got) != 41 {
			t.Errorf("netns %s: %d links, want 41", n.Name, len(got))
		}
	}
}

// Batched neighbour entries, acknowledged only when they fail but for the
// last of each write, report each failure on its own entry and install
// the others, more of them than one write carries.
func TestNeighSetManyReportsEachFailure(t *testing.T) {
	t.Parallel()
	ns := vethNS(t)
	idx, err := ns.Link("eth0").Index()
	if err != nil {
		t.Fatal(err)
	}
	mac := net.HardwareAddr{0x02, 0x6e, 0xff, 0, 0, 1}
	var entries []*netlink.Neigh
	for i := range 2*batchMax + 3 {
		e := &netlink.Neigh{LinkIndex: idx, Family: unix.AF_INET, State: netlink.NUD_PERMANENT,
			IP: net.IPv4(10, 33, byte(i/256), byte(i%256)), HardwareAddr: mac}
		if i%50 == 7 || i == batchMax-1 || i == 2*batchMax+2 {
			e.LinkIndex = 9999 // no such link: the kernel refuses the entry
		}
		entries = append(entries, e)
	}
	errs := neighSetMany(ns, entries, nil, make([]byte, 1<<16))
	for i, e := range entries {
		if failed := e.LinkIndex == 9999; failed != (errs[i] != nil) {
			t.Errorf("entry %d (link %d): error %v", i, e.LinkIndex, errs[i])
			continue
		}
		if e.LinkIndex == idx && !hasNeigh(t, ns, e.IP.String(), mac.String(), netlink.NUD_PERMANENT) {
			t.Errorf("entry %d: %s not installed", i, e.IP)
		}
	}
}

// The batched requests are, byte for byte, those the netlink package sends
// for Handle.RouteGet and Handle.NeighSet (with the batch's sequence number
// and, for the last change of a write, NLM_F_ACK).
func TestBatchRequestsAsNetlinkSends(t *testing.T) {
	same := func(what string, got []byte, req *nl.NetlinkRequest) {
		t.Helper()
		if want := req.Serialize(); !bytes.Equal(got, want) {
			t.Errorf("%s:\n got % x\nwant % x", what, got, want)
		}
	}
	for _, dst := range []string{"10.20.0.3", "192.0.2.255"} {
		a := netip.MustParseAddr(dst)
		got := appendRequest(nil, func(b []byte, _ int) ([]byte, uint16, uint16) {
			return appendRouteGet(b, a), unix.RTM_GETROUTE, 0
		}, 0, 77, false)
		req := nl.NewNetlinkRequest(unix.RTM_GETROUTE, unix.NLM_F_REQUEST)
		req.Seq = 77
		msg := &nl.RtMsg{}
		msg.Family, msg.Dst_len, msg.Flags = unix.AF_INET, 32, unix.RTM_F_LOOKUP_TABLE
		req.AddData(msg)
		req.AddData(nl.NewRtAttr(unix.RTA_DST, a.AsSlice()))
		same("route to "+dst, got, req)
	}
	mac := net.HardwareAddr{0x02, 0x6e, 0, 0, 1, 2}
	entries := []*netlink.Neigh{
		{LinkIndex: 100003, Family: unix.AF_INET, State: netlink.NUD_PERMANENT, IP: net.ParseIP("10.20.0.4"), HardwareAddr: mac},
		{LinkIndex: 7, Family: unix.AF_INET6, State: netlink.NUD_PERMANENT, IP: net.ParseIP("2001:db8::1"), HardwareAddr: mac},
		{LinkIndex: 9, Family: unix.AF_BRIDGE, Flags: netlink.NTF_MASTER, State: netlink.NUD_NOARP, HardwareAddr: mac},
	}
	for i, e := range entries {
		for _, ack := range []bool{false, true} {
			got := appendRequest(nil, func(b []byte, _ int) ([]byte, uint16, uint16) {
				return appendNeighSet(b, e), unix.RTM_NEWNEIGH, unix.NLM_F_CREATE | unix.NLM_F_REPLACE
			}, 0, 78, ack)
			flags := unix.NLM_F_CREATE | unix.NLM_F_REPLACE
			if ack {
				flags |= unix.NLM_F_ACK
			}
			req := nl.NewNetlinkRequest(unix.RTM_NEWNEIGH, flags)
			req.Seq = 78
			req.AddData(&netlink.Ndmsg{Family: uint8(e.Family), Index: uint32(e.LinkIndex), State: uint16(e.State), Type: uint8(e.Type), Flags: uint8(e.Flags)})
			if e.IP != nil {
				ip := e.IP.To4()
				if ip == nil {
					ip = e.IP.To16()
				}
				req.AddData(nl.NewRtAttr(unix.NDA_DST, ip))
			}
			req.AddData(nl.NewRtAttr(unix.NDA_LLADDR, []byte(e.HardwareAddr)))
			same(fmt.Sprintf("neighbour entry %d (ack %v)", i, ack), got, req)
		}
	}
}
