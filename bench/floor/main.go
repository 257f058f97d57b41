// Command floor is the floor nsscript's mesh.star and scale.star are
// measured against: a plain Go program that builds the same lab through
// netlink and sends the same probes, with nothing else. In a network
// namespace of its own (it unshares one first, so nothing touches the host)
// it makes the bridge br0 with the gateway address and n namespaces, each
// joined to br0 by a veth (one queue per end, as nsscript makes them) with
// its address on the inner end (and, for scale, a default route via the
// gateway), using one netlink handle per namespace. It installs permanent
// neighbour entries for each probe's path there and back and static
// forwarding entries in the bridge, waits until every link is operationally
// up, then sends all ICMP echo requests concurrently, one raw socket per
// source namespace, and waits for every reply (resending what is unanswered
// after 200ms). mesh probes every ordered pair (n(n-1) probes), scale the
// gateway and the next host (2n). It prints "P passed, F failed" like
// nsscript, and on stderr how long the build and the probes took.
//
//	go build -o /tmp/floor ./bench/floor && /tmp/floor -n 50 mesh
//
// It needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN for the namespaces).
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// host is one namespace of the lab.
type host struct {
	ns    netns.NsHandle
	h     *netlink.Handle
	addr  net.IP
	mac   net.HardwareAddr
	inner int // interface index of eth0
	fd    int // raw ICMP socket
	dsts  []*host
}

// lab is the whole topology; gw stands for br0's address in the top namespace.
type lab struct {
	top   *netlink.Handle
	br    *netlink.Bridge
	gw    *host
	hosts []*host
	net   byte // second byte of every address: 20 (mesh) or 10 (scale)
}

func main() {
	n := flag.Int("n", 50, "namespaces on the bridge")
	flag.Parse()
	topo := flag.Arg(0)
	if topo != "mesh" && topo != "scale" || *n < 2 || *n > 1000 {
		fatalf("usage: floor [-n N (2 to 1000)] mesh|scale")
	}
	// Every namespace is made by unshare on this thread; netlink handles
	// and sockets stay bound to the namespace they were made in.
	runtime.LockOSThread()
	t0 := time.Now()
	top, err := netns.New() // the lab's own "host" namespace
	check("unshare", err)
	l := &lab{net: 20}
	if topo == "scale" {
		l.net = 10
	}
	check("build", l.build(top, *n))
	l.plan(topo == "mesh")
	check("neighbours", l.neighbours())
	l.waitUp()
	t1 := time.Now()
	total, lost := l.probe()
	t2 := time.Now()
	fmt.Printf("%d passed, %d failed\n", total-lost, lost)
	fmt.Fprintf(os.Stderr, "floor: build %.1f ms, probes %.1f ms\n",
		t1.Sub(t0).Seconds()*1000, t2.Sub(t1).Seconds()*1000)
	if lost > 0 {
		os.Exit(1)
	}
}

func (l *lab) ipOf(i int) net.IP {
	a := i + 2
	return net.IPv4(10, l.net, byte(a/256), byte(a%256)).To4()
}

func macOf(i int) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0x6e, 0, byte(i >> 16), byte(i >> 8), byte(i)}
}

// build makes br0 in top and the n namespaces with their veths and addresses.
func (l *lab) build(top netns.NsHandle, n int) error {
	th, err := netlink.NewHandleAt(top)
	if err != nil {
		return err
	}
	l.top = th
	lo, _ := th.LinkByName("lo")
	if err := th.LinkSetUp(lo); err != nil {
		return err
	}
	l.br = &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0", HardwareAddr: macOf(1 << 16)}}
	if err := th.LinkAdd(l.br); err != nil {
		return err
	}
	l.gw = &host{h: th, addr: net.IPv4(10, l.net, 0, 1).To4(), mac: l.br.HardwareAddr, inner: l.br.Index}
	brAddr := &netlink.Addr{IPNet: &net.IPNet{IP: l.gw.addr, Mask: net.CIDRMask(16, 32)}}
	if err := th.AddrAdd(l.br, brAddr); err != nil {
		return err
	}
	if err := th.LinkSetUp(l.br); err != nil {
		return err
	}
	l.hosts = make([]*host, n)
	for i := range l.hosts {
		ns, err := netns.New()
		if err != nil {
			return err
		}
		h, err := netlink.NewHandleAt(ns)
		if err != nil {
			return err
		}
		hs := &host{ns: ns, h: h, addr: l.ipOf(i), mac: macOf(i + 1)}
		l.hosts[i] = hs
		if err := l.wire(hs, i); err != nil {
			return fmt.Errorf("host %d: %w", i, err)
		}
		// The raw socket is made here, while this thread is in ns.
		if hs.fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP); err != nil {
			return err
		}
	}
	return nil
}

// wire joins the host's namespace to br0 by a veth and configures its end.
func (l *lab) wire(hs *host, i int) error {
	lo, _ := hs.h.LinkByName("lo")
	if err := hs.h.LinkSetUp(lo); err != nil {
		return err
	}
	outer := fmt.Sprintf("v%d", i)
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: outer, NumTxQueues: 1, NumRxQueues: 1,
		MasterIndex: l.br.Index, HardwareAddr: macOf(1<<16 + i + 1)},
		PeerName: "eth0", PeerNumTxQueues: 1, PeerNumRxQueues: 1, PeerHardwareAddr: hs.mac,
		PeerNamespace: netlink.NsFd(hs.ns)}
	if err := l.top.LinkAdd(v); err != nil {
		return err
	}
	if err := l.top.LinkSetUp(v); err != nil {
		return err
	}
	in, err := hs.h.LinkByName("eth0")
	if err != nil {
		return err
	}
	hs.inner = in.Attrs().Index
	a := &netlink.Addr{IPNet: &net.IPNet{IP: hs.addr, Mask: net.CIDRMask(16, 32)}}
	if err := hs.h.AddrAdd(in, a); err != nil {
		return err
	}
	if err := hs.h.LinkSetUp(in); err != nil {
		return err
	}
	if l.net == 10 {
		if err := hs.h.RouteAdd(&netlink.Route{LinkIndex: hs.inner, Gw: l.gw.addr}); err != nil {
			return err
		}
	}
	// A static forwarding entry: the bridge knows where hs is without a frame.
	return l.top.NeighAppend(&netlink.Neigh{LinkIndex: v.Index, Family: unix.AF_BRIDGE,
		Flags: netlink.NTF_MASTER, State: netlink.NUD_NOARP, HardwareAddr: hs.mac})
}

// plan lists each host's destinations: every other host (mesh) or the
// gateway and the next host (scale).
func (l *lab) plan(mesh bool) {
	for i, hs := range l.hosts {
		if !mesh {
			hs.dsts = []*host{l.gw, l.hosts[(i+1)%len(l.hosts)]}
			continue
		}
		for j, d := range l.hosts {
			if j != i {
				hs.dsts = append(hs.dsts, d)
			}
		}
	}
}

// neighbours installs a permanent entry for each probe's destination in its
// source and for its source in its destination (the reply's way back).
func (l *lab) neighbours() error {
	type key struct {
		in  *host
		dst *host
	}
	done := map[key]bool{}
	for _, hs := range l.hosts {
		for _, d := range hs.dsts {
			for _, k := range []key{{hs, d}, {d, hs}} {
				if done[k] || k.in == k.dst {
					continue
				}
				done[k] = true
				err := k.in.h.NeighSet(&netlink.Neigh{LinkIndex: k.in.inner, Family: unix.AF_INET,
					State: netlink.NUD_PERMANENT, IP: k.dst.addr, HardwareAddr: k.dst.mac})
				if err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// waitUp waits until every host's eth0 is operationally up (a packet sent
// before that is dropped).
func (l *lab) waitUp() {
	deadline := time.Now().Add(5 * time.Second)
	for _, hs := range l.hosts {
		for time.Now().Before(deadline) {
			ln, err := hs.h.LinkByIndex(hs.inner)
			if err == nil && ln.Attrs().OperState == netlink.OperUp {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// probe sends every host's echo requests concurrently and returns how many
// were sent and how many got no reply.
func (l *lab) probe() (total, lost int) {
	var wg sync.WaitGroup
	lostBy := make([]int, len(l.hosts))
	for i, hs := range l.hosts {
		total += len(hs.dsts)
		wg.Add(1)
		go func() {
			defer wg.Done()
			lostBy[i] = hs.pingAll(uint16(i + 1))
		}()
	}
	wg.Wait()
	for _, k := range lostBy {
		lost += k
	}
	return total, lost
}

// pingAll sends an echo request to each of hs's destinations (sequence
// number: the destination's place in hs.dsts) and reads replies until all
// came, resending the missing ones every 200ms, at most 10 times.
func (hs *host) pingAll(id uint16) int {
	missing := map[uint16]bool{}
	for k := range hs.dsts {
		missing[uint16(k)] = true
	}
	send := func() {
		for k, d := range hs.dsts {
			if missing[uint16(k)] {
				sa := &unix.SockaddrInet4{}
				copy(sa.Addr[:], d.addr)
				if err := unix.Sendto(hs.fd, echo(id, uint16(k)), 0, sa); err != nil {
					fmt.Fprintf(os.Stderr, "floor: send to %v: %v\n", d.addr, err)
				}
			}
		}
	}
	send()
	tv := unix.Timeval{Usec: 200000}
	_ = unix.SetsockoptTimeval(hs.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	buf := make([]byte, 1500)
	for tries := 0; len(missing) > 0 && tries < 10; {
		m, _, err := unix.Recvfrom(hs.fd, buf, 0)
		if err != nil {
			tries++
			send()
			continue
		}
		ihl := int(buf[0]&0x0f) * 4
		if m < ihl+8 || buf[ihl] != 0 { // echo replies only
			continue
		}
		if binary.BigEndian.Uint16(buf[ihl+4:]) == id {
			delete(missing, binary.BigEndian.Uint16(buf[ihl+6:]))
		}
	}
	return len(missing)
}

// echo is an ICMP echo request with identifier id and sequence seq.
func echo(id, seq uint16) []byte {
	b := make([]byte, 16)
	b[0] = 8
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], seq)
	var sum uint32
	for k := 0; k < len(b); k += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[k:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(b[2:], ^uint16(sum))
	return b
}

func check(what string, err error) {
	if err != nil {
		fatalf("%s: %v", what, err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "floor: "+format+"\n", args...)
	os.Exit(2)
}
