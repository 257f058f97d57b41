package probe

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// rcvBuf is the receive buffer asked for on each raw socket. A thousand
// replies arriving together overflow the default (~200 KiB, about 250
// packets), and a dropped reply costs a probe a resend interval.
const rcvBuf = 4 << 20

// readBuf is the size of a reader's buffer: an IPv6 minimum MTU, which holds
// any ICMP error's quote of our request.
const readBuf = 1280

// A Pinger sends ICMP echo requests from one network namespace. It owns one
// raw ICMPv4 socket (and one raw ICMPv6 socket, opened on the first IPv6
// probe), each drained by one reader goroutine that hands replies and ICMP
// errors to the waiting probes. Any number of goroutines may call Ping at the
// same time.
type Pinger struct {
	nsFD int
	id   uint16
	seq  atomic.Uint32

	mu      sync.Mutex
	conn4   *icmpSock
	conn6   *icmpSock
	df4     *net.IPConn // IPv4 "don't fragment" sends, opened on first use
	waiting map[waitKey]*probeState
	closed  bool

	done chan struct{} // closed by Close
	wg   sync.WaitGroup
	hold func() // see openPinger
}

// waitKey names one echo request in flight: the address it was sent to
// (without zone) and its sequence number. The ICMP id is the Pinger's.
// For a UDP traceroute probe, seq is the destination port and sport the
// source port of the trace's socket (never 0).
type waitKey struct {
	dst   netip.Addr
	seq   uint16
	sport uint16
}

// event is what the reader hands to a waiting probe.
type event struct {
	reply bool
	seq   uint16
	at    time.Time
	from  netip.Addr // sender of the reply or of the ICMP error
	typ   int        // ICMP error type and code, when !reply
	code  int
	v6    bool
	ttl   int        // TTL or hop limit of the received packet, -1 if unknown
	to    netip.Addr // destination of the received packet: our source
	mtu   int        // the MTU a "fragmentation needed"/"packet too big" reports
}

// fragNeeded reports whether ev says a DF packet was too big.
func (ev event) fragNeeded() bool {
	if ev.reply {
		return false
	}
	if ev.v6 {
		return ev.typ == icmp6PacketTooBg
	}
	return ev.typ == icmp4DstUnreach && ev.code == 4
}

// probeState collects the events for one Ping call.
type probeState struct {
	mu     sync.Mutex
	events []event
	notify chan struct{} // capacity 1: "events is not empty"
}

func (s *probeState) push(ev event) {
	s.mu.Lock()
	s.events = append(s.events, ev)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

func (s *probeState) take() []event {
	s.mu.Lock()
	defer s.mu.Unlock()
	evs := s.events
	s.events = nil
	return evs
}

// NewPinger opens a raw ICMPv4 socket inside the network namespace nsFD and
// starts its reader. Opening a raw socket needs CAP_NET_RAW in the namespace's
// owning user namespace (root, or root inside the sandbox). The caller keeps
// ownership of nsFD; the Pinger keeps it only to open the IPv6 socket later.
func NewPinger(nsFD int) (*Pinger, error) { return openPinger(nsFD, nil) }

// openPinger is NewPinger with a hook for tests: hold, when not nil, is
// called by a reader when a packet is queued, before it takes it, and
// stands for a reader that the scheduler keeps waiting.
func openPinger(nsFD int, hold func()) (*Pinger, error) {
	stampsOn()
	var idb [2]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return nil, fmt.Errorf("pinger: random id: %w", err)
	}
	p := &Pinger{
		nsFD:    nsFD,
		id:      binary.BigEndian.Uint16(idb[:]),
		waiting: make(map[waitKey]*probeState),
		done:    make(chan struct{}),
		hold:    hold,
	}
	c, err := p.listen(false)
	if err != nil {
		return nil, err
	}
	p.conn4 = c
	p.wg.Add(1)
	go p.read(c)
	return p, nil
}

// listen opens a raw ICMP socket of one family inside the namespace,
// restricts it to the message types the reader cares about and asks for the
// ancillary data the reader parses (rxOptions).
//
// It uses a plain *net.IPConn rather than icmp.ListenPacket (which wraps the
// same thing) so that the receive buffer can be set through ListenConfig.
func (p *Pinger) listen(v6 bool) (*icmpSock, error) {
	network, address := "ip4:icmp", "0.0.0.0"
	if v6 {
		network, address = "ip6:ipv6-icmp", "::"
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		// Best effort: SO_RCVBUFFORCE needs CAP_NET_ADMIN, SO_RCVBUF is
		// capped at net.core.rmem_max.
		rc.Control(func(fd uintptr) {
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf) != nil {
				unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf)
			}
			rxOptions(int(fd), v6)
		})
		return nil
	}}
	pc, err := within(p.nsFD, func() (net.PacketConn, error) {
		return lc.ListenPacket(context.Background(), network, address)
	})
	if err != nil {
		return nil, fmt.Errorf("pinger: open %s socket: %w", network, err)
	}
	c := pc.(*net.IPConn)
	// The kernel hands a raw socket every ICMP message of the namespace,
	// including our own echo requests when they loop back: filter in the
	// kernel what the reader would throw away anyway.
	if v6 {
		var f ipv6.ICMPFilter
		f.SetAll(true)
		for _, t := range []ipv6.ICMPType{ipv6.ICMPTypeEchoReply, ipv6.ICMPTypeDestinationUnreachable,
			ipv6.ICMPTypePacketTooBig, ipv6.ICMPTypeTimeExceeded, ipv6.ICMPTypeParameterProblem} {
			f.Accept(t)
		}
		err = ipv6.NewPacketConn(c).SetICMPFilter(&f)
	} else {
		var f ipv4.ICMPFilter
		f.SetAll(true)
		for _, t := range []ipv4.ICMPType{ipv4.ICMPTypeEchoReply, ipv4.ICMPTypeDestinationUnreachable,
			ipv4.ICMPTypeTimeExceeded, ipv4.ICMPTypeParameterProblem} {
			f.Accept(t)
		}
		err = ipv4.NewPacketConn(c).SetICMPFilter(&f)
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("pinger: set icmp filter: %w", err)
	}
	s, err := newICMPSock(c, v6, p.hold)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("pinger: %w", err)
	}
	return s, nil
}

// conn returns the socket for one family, opening the IPv6 one on first use.
func (p *Pinger) conn(v6 bool) (*icmpSock, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errPingerClosed
	}
	if !v6 {
		return p.conn4, nil
	}
	if p.conn6 == nil {
		// Opened under p.mu so that concurrent first probes open one socket.
		c, err := p.listen(true)
		if err != nil {
			return nil, err
		}
		p.conn6 = c
		p.wg.Add(1)
		go p.read(c)
	}
	return p.conn6, nil
}

var errPingerClosed = errors.New("pinger is closed")

// Close closes the Pinger's sockets, which ends its readers, and ends every
// Ping still waiting. It returns the first error from closing a socket.
//
// The sockets are closed outside p.mu: closing waits for a reader or a
// draining probe still using the socket, and those take p.mu to dispatch.
func (p *Pinger) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	var conns []*net.IPConn
	for _, s := range []*icmpSock{p.conn4, p.conn6} {
		if s != nil {
			conns = append(conns, s.IPConn)
		}
	}
	if p.df4 != nil {
		conns = append(conns, p.df4)
	}
	p.mu.Unlock()
	var err error
	for _, c := range conns {
		if cerr := c.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	p.wg.Wait()
	return err
}

// register reserves a sequence number for an echo request to dst and routes
// its answers to st. It skips numbers still in flight to the same address,
// which only matters after the 16-bit counter wrapped.
func (p *Pinger) register(dst netip.Addr, st *probeState) (uint16, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, errPingerClosed
	}
	for range 1 << 16 {
		k := waitKey{dst: dst, seq: uint16(p.seq.Add(1))}
		if _, busy := p.waiting[k]; !busy {
			p.waiting[k] = st
			return k.seq, nil
		}
	}
	return 0, errors.New("too many echo requests in flight")
}

// registerKey routes the answers to one exact key (a UDP probe's) to st.
func (p *Pinger) registerKey(k waitKey, st *probeState) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errPingerClosed
	}
	p.waiting[k] = st
	return nil
}

// forget drops the given keys; late answers to them are dropped.
func (p *Pinger) forget(keys []waitKey) {
	p.mu.Lock()
	for _, k := range keys {
		delete(p.waiting, k)
	}
	p.mu.Unlock()
}

// unregister forgets the given requests; late answers to them are dropped.
func (p *Pinger) unregister(dst netip.Addr, seqs []uint16) {
	p.mu.Lock()
	for _, s := range seqs {
		delete(p.waiting, waitKey{dst: dst, seq: s})
	}
	p.mu.Unlock()
}
