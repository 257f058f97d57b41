package lab

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/nsutil"
)

// Static neighbour mode asks every namespace on a probe's path for its
// route to the destination and installs an entry for the next hop. A mesh of
// 50 makes 2,500 lookups and 2,450 entries; one netlink round trip each
// (a write, a read and the netlink package's own checks) was most of the
// run's CPU time. The kernel handles every message of one write in turn and
// queues the answers before the write returns, so the lab sends the lookups
// (or the entries) of many probes that wait together in one write per
// namespace and reads the answers back by sequence number.

// batchMax bounds the requests of one write, so that their answers fit in
// the socket's receive buffer (an answer that does not fit is dropped: its
// request is then made alone, through the namespace's handle).
const batchMax = 64

// buffers returns the buffers for batched requests: wb for a write (room
// for batchMax of the largest request, an IPv6 neighbour entry of 60
// bytes), rb for each read of their answers. neigh.mu is held.
func (s *neighState) buffers() (wb, rb []byte) {
	if s.buf == nil {
		s.buf = make([]byte, 1<<16)
		s.wbuf = make([]byte, 0, batchMax*64)
	}
	return s.wbuf, s.buf
}

// routeAnswer is what a walk needs of the kernel's route to a destination.
type routeAnswer struct {
	ok    bool // the kernel answered with a route
	local bool // the destination is an address of this namespace
	src   netip.Addr
	gw    netip.Addr // invalid when the destination is on the link
	oif   int
}

// batchFD returns the namespace's netlink socket for batched requests,
// opening it on first use (-1 if it cannot be opened).
func (n *Netns) batchFD() int {
	n.batchOnce.Do(func() {
		n.batch = -1
		_ = nsutil.Do(n.fd, func() error {
			n.batch = openBatchSocket()
			return nil
		})
	})
	return n.batch
}

// openBatchSocket opens a netlink socket in the calling thread's namespace
// (-1 if it cannot).
func openBatchSocket() int {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return -1
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return -1
	}
	return fd
}

// batchReq encodes the request of index i of a batch: it appends the
// request's payload (the bytes after the netlink header) to b and returns
// b, the message type and the flags besides NLM_F_REQUEST.
type batchReq func(b []byte, i int) ([]byte, uint16, uint16)

// batchSeq numbers the requests on every batch socket (nextSeqs).
var batchSeq atomic.Uint32

// exchange sends the n requests that enc encodes on ns's batch socket,
// batchMax per write, hands the payload of each reply that is not an
// acknowledgement to answer (with the request's index; the payload is valid
// only during the call), and returns each request's error: nil, the
// kernel's, or errLost for a request whose answer was lost, as every request
// has when ns has no batch socket. The buffers are the caller's: wb holds a
// write (it grows as needed), rb each read.
//
// With quiet, the requests are changes that the kernel answers only when
// they fail (no NLM_F_ACK): exchange asks for an acknowledgement of the last
// one of each write alone. The kernel handles a write's messages in order,
// so once that one is acknowledged, every request before it that has no
// error succeeded; a write whose last acknowledgement is missing (answers
// dropped from a full socket buffer) leaves its unanswered requests
// errLost. That saves an answer, and a read, per change.
func exchange(ns *Netns, n int, enc batchReq, wb, rb []byte, quiet bool, answer func(i int, payload []byte)) []error {
	fd := ns.batchFD()
	ns.batchMu.Lock()
	defer ns.batchMu.Unlock()
	errs := make([]error, n)
	for i := range errs {
		errs[i] = errLost
	}
	for start := 0; fd >= 0 && start < n; start += batchMax {
		count := min(batchMax, n-start)
		base := nextSeqs(count)
		wb = wb[:0]
		for j := range count {
			wb = appendRequest(wb, enc, start+j, base+uint32(j), quiet && j == count-1)
		}
		if err := unix.Sendto(fd, wb, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			continue
		}
		part := errs[start : start+count]
		readAnswers(fd, rb, base, part, func(j int, payload []byte) { answer(start+j, payload) })
		if quiet && part[count-1] != errLost {
			for j := range count - 1 {
				if part[j] == errLost {
					part[j] = nil // no error came before the last one's answer
				}
			}
		}
	}
	return errs
}

// appendRequest appends request i as enc encodes it, with its netlink
// header (sequence number seq; with ack, asking for an acknowledgement).
func appendRequest(b []byte, enc batchReq, i int, seq uint32, ack bool) []byte {
	at := len(b)
	b = append(b, make([]byte, unix.NLMSG_HDRLEN)...)
	b, typ, flags := enc(b, i)
	flags |= unix.NLM_F_REQUEST
	if ack {
		flags |= unix.NLM_F_ACK
	}
	ne := binary.NativeEndian
	ne.PutUint32(b[at:], uint32(len(b)-at))
	ne.PutUint16(b[at+4:], typ)
	ne.PutUint16(b[at+6:], flags)
	ne.PutUint32(b[at+8:], seq)
	ne.PutUint32(b[at+12:], 0) // the kernel's port
	return append(b, make([]byte, rtaAlign(len(b))-len(b))...)
}

// appendAttr appends a route attribute (struct rtattr) with data, padded.
func appendAttr(b []byte, typ uint16, data []byte) []byte {
	var h [4]byte
	binary.NativeEndian.PutUint16(h[0:], uint16(4+len(data)))
	binary.NativeEndian.PutUint16(h[2:], typ)
	b = append(append(b, h[:]...), data...)
	return append(b, make([]byte, rtaAlign(len(b))-len(b))...)
}

var errLost = errors.New("netlink answer lost")

// readAnswers reads what the kernel queued for one write, without waiting:
// it handled the whole write before sendto returned. The write's requests
// have sequence numbers base, base+1, ... and errs holds their errors.
func readAnswers(fd int, rb []byte, base uint32, errs []error, answer func(j int, payload []byte)) {
	left := len(errs)
	for left > 0 {
		n, _, err := unix.Recvfrom(fd, rb, unix.MSG_DONTWAIT)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n < unix.NLMSG_HDRLEN {
			return // drained (EAGAIN), or answers lost (ENOBUFS)
		}
		for m, rest, ok := nextMessage(rb[:n]); ok; m, rest, ok = nextMessage(rest) {
			j := int(m.seq - base)
			if j < 0 || j >= len(errs) || errs[j] != errLost {
				continue // a late answer to an earlier write, or a second one
			}
			left--
			if m.typ == unix.NLMSG_ERROR {
				errs[j] = nlErrno(m.payload)
				continue
			}
			errs[j] = nil
			answer(j, m.payload)
		}
	}
}

// nextSeqs takes n sequence numbers for requests on a batch socket and
// returns the first. Batches and dumps (linkstate.go) on one socket number
// from the same counter, so an answer to an earlier request is told apart.
func nextSeqs(n int) uint32 { return batchSeq.Add(uint32(n)) - uint32(n) }

// nlMessage is one netlink message of a read; payload is valid until the
// next read into the same buffer.
type nlMessage struct {
	typ, flags uint16
	seq        uint32
	payload    []byte
}

// nextMessage splits the first message off b, in place (no copy, unlike
// syscall.ParseNetlinkMessage); ok is false when b holds no whole message.
func nextMessage(b []byte) (m nlMessage, rest []byte, ok bool) {
	if len(b) < unix.NLMSG_HDRLEN {
		return m, nil, false
	}
	size := int(binary.NativeEndian.Uint32(b[0:]))
	if size < unix.NLMSG_HDRLEN || size > len(b) {
		return m, nil, false
	}
	m = nlMessage{
		typ:     binary.NativeEndian.Uint16(b[4:]),
		flags:   binary.NativeEndian.Uint16(b[6:]),
		seq:     binary.NativeEndian.Uint32(b[8:]),
		payload: b[unix.NLMSG_HDRLEN:size],
	}
	return m, b[min(rtaAlign(size), len(b)):], true
}

// nlErrno returns the error an NLMSG_ERROR payload carries, nil for an
// acknowledgement.
func nlErrno(payload []byte) error {
	if len(payload) >= 4 {
		if code := int32(binary.NativeEndian.Uint32(payload)); code != 0 {
			return syscall.Errno(-code)
		}
	}
	return nil
}

// routeGetMany looks up ns's routes to every address of dsts, as
// Handle.RouteGet does, in as few writes as it can.
func routeGetMany(ns *Netns, dsts []netip.Addr, wb, rb []byte) []routeAnswer {
	out := make([]routeAnswer, len(dsts))
	errs := exchange(ns, len(dsts), func(b []byte, i int) ([]byte, uint16, uint16) {
		return appendRouteGet(b, dsts[i]), unix.RTM_GETROUTE, 0
	}, wb, rb, false, func(i int, payload []byte) { out[i] = parseRoute(payload) })
	for i, dst := range dsts {
		if errs[i] != errLost {
			continue
		}
		routes, err := ns.h.RouteGet(net.IP(dst.AsSlice()))
		if err == nil && len(routes) > 0 {
			out[i] = routeAnswerOf(routes[0])
		}
	}
	return out
}

// appendRouteGet appends the payload of the request Handle.RouteGet sends
// for an IPv4 dst: a struct rtmsg and the destination.
func appendRouteGet(b []byte, dst netip.Addr) []byte {
	var m [unix.SizeofRtMsg]byte
	m[0] = unix.AF_INET
	m[1] = 32 // rtm_dst_len
	binary.NativeEndian.PutUint32(m[8:], unix.RTM_F_LOOKUP_TABLE)
	a := dst.As4()
	return appendAttr(append(b, m[:]...), unix.RTA_DST, a[:])
}

// parseRoute decodes the kernel's answer to a route lookup.
func parseRoute(b []byte) routeAnswer {
	if len(b) < unix.SizeofRtMsg {
		return routeAnswer{}
	}
	a := routeAnswer{ok: true, local: b[7] == unix.RTN_LOCAL}
	eachAttr(b[unix.SizeofRtMsg:], func(typ uint16, v []byte) {
		switch typ {
		case unix.RTA_PREFSRC:
			a.src = addrOf(v)
		case unix.RTA_GATEWAY:
			a.gw = addrOf(v)
		case unix.RTA_OIF:
			if len(v) >= 4 {
				a.oif = int(binary.NativeEndian.Uint32(v))
			}
		}
	})
	return a
}

// routeAnswerOf is the routeAnswer of a route Handle.RouteGet returned.
func routeAnswerOf(r netlink.Route) routeAnswer {
	return routeAnswer{ok: true, local: r.Type == unix.RTN_LOCAL, src: addrOf(r.Src), gw: addrOf(r.Gw), oif: r.LinkIndex}
}

func addrOf(b []byte) netip.Addr {
	a, ok := netip.AddrFromSlice(b)
	if !ok {
		return netip.Addr{}
	}
	return a.Unmap()
}

// neighSetMany installs entries in ns as Handle.NeighSet does, in as few
// writes as it can, and reports which failed.
func neighSetMany(ns *Netns, entries []*netlink.Neigh, wb, rb []byte) []error {
	errs := exchange(ns, len(entries), func(b []byte, i int) ([]byte, uint16, uint16) {
		return appendNeighSet(b, entries[i]), unix.RTM_NEWNEIGH, unix.NLM_F_CREATE | unix.NLM_F_REPLACE
	}, wb, rb, true, func(int, []byte) {})
	for i, e := range entries {
		if errs[i] == errLost {
			errs[i] = ns.h.NeighSet(e)
		}
	}
	return errs
}

// appendNeighSet appends the payload of the request Handle.NeighSet sends
// for e (a struct ndmsg, the address and the MAC address), which exchange
// sends without asking for an acknowledgement (its quiet mode).
func appendNeighSet(b []byte, e *netlink.Neigh) []byte {
	var m [12]byte // struct ndmsg
	m[0] = uint8(e.Family)
	binary.NativeEndian.PutUint32(m[4:], uint32(e.LinkIndex))
	binary.NativeEndian.PutUint16(m[8:], uint16(e.State))
	m[10] = uint8(e.Flags)
	m[11] = uint8(e.Type)
	b = append(b, m[:]...)
	if ip := e.IP.To4(); ip != nil {
		b = appendAttr(b, unix.NDA_DST, ip)
	} else if ip := e.IP.To16(); ip != nil {
		b = appendAttr(b, unix.NDA_DST, ip)
	}
	if e.HardwareAddr != nil {
		b = appendAttr(b, unix.NDA_LLADDR, e.HardwareAddr)
	}
	return b
}
