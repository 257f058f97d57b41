package lab

import (
	"crypto/rand"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// The IPv4 neighbour (ARP) table is one table for every namespace of the
// machine, and its limit, net.ipv4.neigh.default.gc_thresh3 (1024 by
// default), can be changed only in the real host's namespace. Entries made in
// the last five seconds cannot be reclaimed, so a lab whose probes need more
// entries than that sees probes fail for no reason a user could see
// ("neighbour table overflow" in the kernel log). Permanent entries do not
// count against the limit: when a lab could need more entries than the table
// has room for, the lab installs permanent entries along each probe's path
// instead of letting ARP create them. The lab gives veths and bridges
// deterministic MAC addresses, so it knows every entry's address without
// asking, and a bridge keeps its MAC when ports come and go.

// NeighMode says how probes find the link-layer addresses of their next hops.
type NeighMode int

const (
	// NeighAuto uses ARP unless the lab could need more neighbour entries
	// than the kernel's table has room for; then it works as NeighStatic.
	NeighAuto NeighMode = iota
	// NeighStatic installs permanent neighbour entries along every probe's
	// path (in the namespaces the lab created) before the probe starts.
	NeighStatic
	// NeighARP always leaves neighbour resolution to the kernel.
	NeighARP
)

// ParseNeighMode parses "auto", "static" or "arp".
func ParseNeighMode(s string) (NeighMode, error) {
	switch s {
	case "auto", "":
		return NeighAuto, nil
	case "static":
		return NeighStatic, nil
	case "arp":
		return NeighARP, nil
	}
	return 0, fmt.Errorf("invalid neighbour mode %q (want auto, static or arp)", s)
}

// String returns the mode as --neigh spells it.
func (m NeighMode) String() string {
	switch m {
	case NeighStatic:
		return "static"
	case NeighARP:
		return "arp"
	}
	return "auto"
}

// maxHops bounds the walk along a probe's path.
const maxHops = 16

// tableEvery is how often, at most, the lab reads the kernel's neighbour
// table to decide whether it needs permanent entries.
const tableEvery = time.Second

// neighState is the lab's neighbour bookkeeping.
type neighState struct {
	gen  int    // counts the lab's kernel changes (Lab.apply)
	macs uint32 // MAC addresses handed out
	salt byte   // second byte of every MAC; random in host mode

	mu        sync.Mutex
	viewGen   int                    // gen of the cached view below (-1: none)
	static    bool                   // decided for viewGen; sticky once true
	segment   map[*Link]int          // link-layer segment of each link
	owners    map[netip.Addr][]*Link // IPv4 address -> links that have it
	byIndex   map[*Netns]map[int]*Link
	installed map[neighKey]string // entries made since the last change, with their MAC
	walked    map[walkKey]walkEnd // paths already prepared, and the rest of each
	lookups   int                 // route lookups the kernel answered for walks (for tests)
	modelled  int                 // of the walks' routes, those answered by the model (routemodel.go)
	writes    int                 // netlink writes of walks and entries (for tests)
	buf       []byte              // answers of batched requests (nlbatch.go)
	wbuf      []byte              // and their writes

	queue      map[*Netns][]queuedNeigh // entries for flushNeigh
	queueOrder []*Netns

	pendMu   sync.Mutex
	pending  []walkKey         // probes waiting for mu, prepared by whoever gets it
	trunks   map[*Link][]*Link // bridge -> its ports that lead to another bridge
	fdbDone  map[*Link]bool    // links whose MAC the bridges know
	table    *NeighTable       // the kernel's table, read at most every tableEvery
	tableAt  time.Time
	tableErr error

	watch overflowWatch // for failed probes' details
}

type neighKey struct {
	ns    *Netns
	index int
	addr  netip.Addr
}

type walkKey struct {
	ns  *Netns
	dst netip.Addr
}

// walkEnd is where a path ended: the namespace that has the destination and
// the source address the first hop chose.
type walkEnd struct {
	ns  *Netns
	src netip.Addr
}

// newMAC returns the next of the lab's deterministic MAC addresses,
// 02:6e:SS:NN:NN:NN (locally administered, unicast; SS is 0 except on the
// real host, where a random byte keeps two runs apart).
func (l *Lab) newMAC() net.HardwareAddr {
	if l.neigh.macs == 0 && l.opts.HostMode {
		var b [1]byte
		rand.Read(b[:])
		l.neigh.salt = b[0] | 1
	}
	l.neigh.macs++
	n := l.neigh.macs
	return net.HardwareAddr{0x02, 0x6e, l.neigh.salt, byte(n >> 16), byte(n >> 8), byte(n)}
}

// StaticNeigh reports whether probes currently get permanent neighbour
// entries, and why.
func (l *Lab) StaticNeigh() (bool, string) {
	l.neigh.mu.Lock()
	defer l.neigh.mu.Unlock()
	l.refreshView()
	return l.neigh.static, l.neighReason()
}

func (l *Lab) neighReason() string {
	switch {
	case l.opts.Neigh == NeighStatic:
		return "static neighbours asked for"
	case l.opts.Neigh == NeighARP:
		return "ARP asked for"
	case l.neigh.tableErr != nil:
		return "neighbour table unreadable: " + l.neigh.tableErr.Error()
	}
	need, t := l.neighDemand(), l.neigh.table
	if t == nil {
		return fmt.Sprintf("the lab could need %d neighbour entries", need)
	}
	return fmt.Sprintf("the lab could need %d neighbour entries; the kernel's table holds %d, %d in use", need, t.Thresh3, t.Entries)
}

// refreshView rebuilds the lab's link-layer view after kernel changes and
// decides whether probes need permanent entries. neigh.mu is held.
func (l *Lab) refreshView() {
	s := &l.neigh
	if s.segment != nil && s.viewGen == s.gen {
		return
	}
	s.viewGen = s.gen
	s.segment = segments(l)
	s.owners = map[netip.Addr][]*Link{}
	s.byIndex = map[*Netns]map[int]*Link{}
	s.walked = map[walkKey]walkEnd{}
	s.trunks = map[*Link][]*Link{}
	s.fdbDone = map[*Link]bool{}
	// Setting a link down flushes its permanent entries too: after any
	// change, install again (a replace) what the next probes need.
	s.installed = map[neighKey]string{}
	for _, n := range l.order {
		for _, lk := range n.order {
			if lk.master != nil && lk.peer != nil && lk.peer.master != nil {
				s.trunks[lk.master] = append(s.trunks[lk.master], lk)
			}
			for _, p := range lk.addrs {
				if p.Addr().Is4() {
					s.owners[p.Addr()] = append(s.owners[p.Addr()], lk)
				}
			}
		}
	}
	if l.opts.Neigh == NeighAuto && !s.static && time.Since(s.tableAt) > tableEvery {
		// Other labs on the machine fill the same table: look again now
		// and then, not on every change (a dump lists every device).
		s.table, s.tableErr = ReadNeighTable()
		s.tableAt = time.Now()
	}
	switch l.opts.Neigh {
	case NeighStatic:
		s.static = true
	case NeighARP:
		s.static = false
	default:
		if !s.static && s.tableErr == nil {
			s.static = l.neighDemand() > s.table.Thresh3-s.table.Entries
		}
	}
}

// neighDemand counts the IPv4 neighbour entries the lab could need: every
// ordered pair of addresses that share a link-layer segment.
func (l *Lab) neighDemand() int {
	per := map[int]int{}
	for _, links := range l.neigh.owners {
		for _, lk := range links {
			per[l.neigh.segment[lk]]++
		}
	}
	total := 0
	for _, k := range per {
		total += k * (k - 1)
	}
	return total
}

// segments numbers the lab's link-layer segments: a veth joins its two
// ends, a bridge its ports, a macvlan or vlan its parent.
func segments(l *Lab) map[*Link]int {
	parent := map[*Link]*Link{}
	find := func(x *Link) *Link {
		for parent[x] != nil && parent[x] != x {
			if gp := parent[parent[x]]; gp != nil {
				parent[x] = gp
			}
			x = parent[x]
		}
		return x
	}
	union := func(a, b *Link) {
		if a == nil || b == nil {
			return
		}
		ra, rb := find(a), find(b)
		if ra != rb {
			parent[ra] = rb
		}
	}
	var all []*Link
	for _, n := range l.order {
		for _, lk := range n.order {
			all = append(all, lk)
			if parent[lk] == nil {
				parent[lk] = lk
			}
		}
	}
	for _, lk := range all {
		union(lk, lk.peer)
		union(lk, lk.master)
		union(lk, lk.parent)
	}
	seg := make(map[*Link]int, len(all))
	ids := map[*Link]int{}
	for _, lk := range all {
		r := find(lk)
		id, ok := ids[r]
		if !ok {
			id = len(ids) + 1
			ids[r] = id
		}
		seg[lk] = id
	}
	return seg
}
