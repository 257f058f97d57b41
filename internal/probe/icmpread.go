package probe

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// An icmpSock is one of a Pinger's raw sockets with its receive side.
//
// A verdict is judged by the kernel's receive time, never by when a
// goroutine got to a packet: each packet carries the kernel's timestamp
// (SO_TIMESTAMPNS), and a probe whose deadline passed first drains the socket
// (drain) so that every reply the kernel had queued by then is seen. mu makes
// that a barrier: whoever takes a packet off the socket, the reader goroutine
// or a draining probe, dispatches it before letting go of mu.
type icmpSock struct {
	*net.IPConn
	rc  syscall.RawConn
	v6  bool
	mu  sync.Mutex // held from taking a packet off the socket to its dispatch
	buf []byte     // under mu
	oob []byte     // under mu

	hold func() // tests only: see openPinger
}

// oobBuf holds the ancillary data of one packet: TTL, destination address
// and the kernel's receive timestamp.
const oobBuf = 256

// rxOptions asks the kernel for the ancillary data the reader parses. The
// TTL and destination are best effort (without them the TTL reads as -1 and
// the destination as invalid); without the timestamp option a packet's time
// is when it is read.
func rxOptions(fd int, v6 bool) {
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	if v6 {
		unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT, 1)
		unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1)
		return
	}
	unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_RECVTTL, 1)
	unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
}

func newICMPSock(c *net.IPConn, v6 bool, hold func()) (*icmpSock, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &icmpSock{IPConn: c, rc: rc, v6: v6, hold: hold, buf: make([]byte, readBuf), oob: make([]byte, oobBuf)}, nil
}

// read drains one raw socket until it is closed, handing each packet to the
// probe waiting for it.
func (p *Pinger) read(s *icmpSock) {
	defer p.wg.Done()
	for {
		err := s.rc.Read(func(fd uintptr) bool {
			if s.hold != nil {
				if !queued(int(fd)) {
					return false // wait for a packet
				}
				s.hold()
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			err := p.receive(s, int(fd))
			return err != unix.EAGAIN
		})
		if err != nil {
			select {
			case <-p.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Raw sockets report no asynchronous errors without
			// IP_RECVERR; anything else is transient. Do not spin.
			time.Sleep(time.Millisecond)
		}
	}
}

// queued reports whether a packet waits on the socket fd (SIOCINQ).
func queued(fd int) bool {
	n, err := unix.IoctlGetInt(fd, unix.SIOCINQ)
	return err == nil && n > 0
}

// drain takes every packet queued on s and dispatches it, after any packet
// the reader goroutine took before. When it returns, every reply the kernel
// had queued by the call is in its probe's state.
func (p *Pinger) drain(s *icmpSock) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Control, not Read: it neither waits nor checks a deadline.
	s.rc.Control(func(fd uintptr) {
		for {
			if err := p.receive(s, int(fd)); err == unix.EAGAIN || errors.Is(err, unix.EBADF) {
				return
			}
		}
	})
}

// receive takes one packet off the socket fd (non-blocking) and hands it to
// its probe. It returns EAGAIN when none is queued; other errors are the
// socket's. The caller holds s.mu.
func (p *Pinger) receive(s *icmpSock, fd int) error {
	n, oobn, _, from, err := unix.Recvmsg(fd, s.buf, s.oob, unix.MSG_DONTWAIT)
	if err != nil {
		return err
	}
	read := time.Now()
	var src netip.Addr
	switch a := from.(type) {
	case *unix.SockaddrInet4:
		src = netip.AddrFrom4(a.Addr)
	case *unix.SockaddrInet6:
		src = netip.AddrFrom16(a.Addr).Unmap()
	default:
		return nil
	}
	b := s.buf[:n]
	if !s.v6 {
		// An IPv4 raw socket delivers the IP header too.
		if b = stripIPv4Header(b); b == nil {
			return nil
		}
	}
	ev, key, ok := parseICMP(b, src, p.id, s.v6)
	if !ok {
		return nil
	}
	ev.at, ev.ttl, ev.to = parseRxControl(s.oob[:oobn], s.v6)
	if ev.at.IsZero() {
		ev.at = read
	}
	p.mu.Lock()
	st := p.waiting[key]
	p.mu.Unlock()
	if st != nil {
		st.push(ev)
	}
	return nil
}

// stripIPv4Header returns the payload of the IPv4 packet b, nil if b is not
// one.
func stripIPv4Header(b []byte) []byte {
	if len(b) < 20 || b[0]>>4 != 4 {
		return nil
	}
	l := int(b[0]&0x0f) * 4
	if l < 20 || len(b) < l {
		return nil
	}
	return b[l:]
}

// parseRxControl reads a received packet's ancillary data: the kernel's
// receive time (zero if absent), the TTL or hop limit (-1 if absent) and
// the packet's destination address (invalid if absent).
func parseRxControl(oob []byte, v6 bool) (at time.Time, ttl int, to netip.Addr) {
	ttl = -1
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return at, ttl, to
	}
	for _, m := range msgs {
		d := m.Data
		switch h := m.Header; {
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && len(d) >= int(unsafe.Sizeof(unix.Timespec{})):
			ts := *(*unix.Timespec)(unsafe.Pointer(&d[0]))
			at = time.Unix(ts.Unix())
		case !v6 && h.Level == unix.IPPROTO_IP && h.Type == unix.IP_TTL && len(d) >= 4,
			v6 && h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_HOPLIMIT && len(d) >= 4:
			ttl = int(int32(binary.NativeEndian.Uint32(d)))
		case !v6 && h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(d) >= unix.SizeofInet4Pktinfo:
			pi := (*unix.Inet4Pktinfo)(unsafe.Pointer(&d[0]))
			to = netip.AddrFrom4(pi.Addr)
		case v6 && h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(d) >= unix.SizeofInet6Pktinfo:
			pi := (*unix.Inet6Pktinfo)(unsafe.Pointer(&d[0]))
			to = netip.AddrFrom16(pi.Addr).Unmap()
		}
	}
	return at, ttl, to
}

// stampsOn makes sure the kernel stamps packets when it receives them, once
// per process. Asking for timestamps switches the kernel's stamping on, but
// the first switch (when no socket of the machine wants timestamps) is
// deferred to a kernel worker: until it ran, a packet is stamped only when
// read, which would date a reply the reader got to late as late. A socket
// kept open for the life of the process keeps the stamping on, and a
// datagram to itself, read back with SO_TIMESTAMPING (which reports no
// time for an unstamped packet), tells when it is on. Without a loopback
// (or on any error) it gives up at once: packets are then dated when read.
var stampsOn = sync.OnceFunc(func() {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return
	}
	// Never closed: it holds the kernel's stamping on.
	err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPING,
		unix.SOF_TIMESTAMPING_RX_SOFTWARE|unix.SOF_TIMESTAMPING_SOFTWARE)
	if err == nil {
		// Loopback delivers at once, or soon under load: never hang.
		err = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 1})
	}
	if err == nil {
		err = unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
	}
	self, _ := unix.Getsockname(fd)
	if err != nil || self == nil {
		return
	}
	buf, oob := make([]byte, 1), make([]byte, oobBuf)
	for range 1000 { // the worker runs within milliseconds, even under load
		if unix.Sendto(fd, buf, 0, self) != nil {
			return
		}
		_, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, 0)
		if err != nil {
			return
		}
		if swStamped(oob[:oobn]) {
			return
		}
		time.Sleep(time.Millisecond)
	}
})

// swStamped reports whether ancillary data holds a software receive stamp
// (the first of SCM_TIMESTAMPING's three).
func swStamped(oob []byte) bool {
	msgs, _ := unix.ParseSocketControlMessage(oob)
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPING && len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})) {
			ts := *(*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
			return ts.Sec != 0 || ts.Nsec != 0
		}
	}
	return false
}
