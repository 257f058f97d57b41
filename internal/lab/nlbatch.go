package lab

import (
	"errors"
	"net"
	"net/netip"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
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

// rbuf returns the buffer for the answers of batched requests. neigh.mu
// is held.
func (s *neighState) rbuf() []byte {
	if s.buf == nil {
		s.buf = make([]byte, 1<<16)
	}
	return s.buf
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

// exchange sends reqs on ns's batch socket, batchMax per write, and returns
// the answer to each, by index: the payload of its reply (nil for an
// acknowledgement), or an error. A request whose answer was lost has
// errLost, as every request has when ns has no batch socket.
//
// With quiet, reqs are changes that the kernel answers only when they fail
// (no NLM_F_ACK): exchange asks for an acknowledgement of the last one of
// each write alone. The kernel handles a write's messages in order, so
// once that one is acknowledged, every request before it that has no
// error succeeded; a write whose last acknowledgement is missing (answers
// dropped from a full socket buffer) leaves its unanswered requests
// errLost. That saves an answer, and a read, per change.
func exchange(ns *Netns, reqs []*nl.NetlinkRequest, rb []byte, quiet bool) ([][]byte, []error) {
	fd := ns.batchFD()
	ns.batchMu.Lock()
	defer ns.batchMu.Unlock()
	data := make([][]byte, len(reqs))
	errs := make([]error, len(reqs))
	for i := range errs {
		errs[i] = errLost
	}
	for start := 0; fd >= 0 && start < len(reqs); start += batchMax {
		part := reqs[start:min(start+batchMax, len(reqs))]
		bySeq := make(map[uint32]int, len(part))
		var buf []byte
		for i, r := range part {
			bySeq[r.Seq] = start + i
			if quiet && i == len(part)-1 {
				r.Flags |= unix.NLM_F_ACK
			}
			buf = append(buf, r.Serialize()...)
		}
		if err := unix.Sendto(fd, buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			continue
		}
		readAnswers(fd, rb, bySeq, data, errs)
		if last := start + len(part) - 1; quiet && errs[last] != errLost {
			for i := start; i < last; i++ {
				if errs[i] == errLost {
					errs[i] = nil // no error came before the last one's answer
				}
			}
		}
	}
	return data, errs
}

var errLost = errors.New("netlink answer lost")

// readAnswers reads what the kernel queued for one write, without
// waiting: it handled the whole write before sendto returned.
func readAnswers(fd int, rb []byte, bySeq map[uint32]int, data [][]byte, errs []error) {
	for len(bySeq) > 0 {
		n, _, err := unix.Recvfrom(fd, rb, unix.MSG_DONTWAIT)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n < unix.NLMSG_HDRLEN {
			return // drained (EAGAIN), or answers lost (ENOBUFS)
		}
		msgs, err := syscall.ParseNetlinkMessage(rb[:n])
		if err != nil {
			return
		}
		for _, m := range msgs {
			i, ok := bySeq[m.Header.Seq]
			if !ok {
				continue
			}
			delete(bySeq, m.Header.Seq)
			if m.Header.Type == unix.NLMSG_ERROR {
				errs[i] = nil
				if len(m.Data) >= 4 {
					if code := int32(nl.NativeEndian().Uint32(m.Data[:4])); code != 0 {
						errs[i] = syscall.Errno(-code)
					}
				}
				continue
			}
			data[i], errs[i] = append([]byte(nil), m.Data...), nil
		}
	}
}

// routeGetMany looks up ns's routes to every address of dsts, as
// Handle.RouteGet does, in as few writes as it can.
func routeGetMany(ns *Netns, dsts []netip.Addr, rb []byte) []routeAnswer {
	out := make([]routeAnswer, len(dsts))
	reqs := make([]*nl.NetlinkRequest, len(dsts))
	for i, dst := range dsts {
		reqs[i] = routeGetReq(dst)
	}
	data, errs := exchange(ns, reqs, rb, false)
	for i, dst := range dsts {
		if errs[i] != errLost {
			if errs[i] == nil {
				out[i] = parseRoute(data[i])
			}
			continue
		}
		routes, err := ns.h.RouteGet(net.IP(dst.AsSlice()))
		if err == nil && len(routes) > 0 {
			out[i] = routeAnswerOf(routes[0])
		}
	}
	return out
}

// routeGetReq is the request Handle.RouteGet sends for an IPv4 dst.
func routeGetReq(dst netip.Addr) *nl.NetlinkRequest {
	req := nl.NewNetlinkRequest(unix.RTM_GETROUTE, unix.NLM_F_REQUEST)
	msg := &nl.RtMsg{}
	msg.Family = unix.AF_INET
	msg.Dst_len = 32
	msg.Flags = unix.RTM_F_LOOKUP_TABLE
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.RTA_DST, dst.AsSlice()))
	return req
}

// parseRoute decodes the kernel's answer to routeGetReq.
func parseRoute(b []byte) routeAnswer {
	if len(b) < unix.SizeofRtMsg {
		return routeAnswer{}
	}
	a := routeAnswer{ok: true, local: b[7] == unix.RTN_LOCAL}
	attrs, err := nl.ParseRouteAttr(b[unix.SizeofRtMsg:])
	if err != nil {
		return routeAnswer{}
	}
	for _, at := range attrs {
		switch at.Attr.Type {
		case unix.RTA_PREFSRC:
			a.src = addrOf(at.Value)
		case unix.RTA_GATEWAY:
			a.gw = addrOf(at.Value)
		case unix.RTA_OIF:
			if len(at.Value) >= 4 {
				a.oif = int(nl.NativeEndian().Uint32(at.Value[:4]))
			}
		}
	}
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
func neighSetMany(ns *Netns, entries []*netlink.Neigh, rb []byte) []error {
	reqs := make([]*nl.NetlinkRequest, len(entries))
	for i, e := range entries {
		reqs[i] = neighSetReq(e)
	}
	_, errs := exchange(ns, reqs, rb, true)
	for i, e := range entries {
		if errs[i] == errLost {
			errs[i] = ns.h.NeighSet(e)
		}
	}
	return errs
}

// neighSetReq is the request Handle.NeighSet sends for e, without asking
// for an acknowledgement (exchange's quiet mode).
func neighSetReq(e *netlink.Neigh) *nl.NetlinkRequest {
	req := nl.NewNetlinkRequest(unix.RTM_NEWNEIGH, unix.NLM_F_CREATE|unix.NLM_F_REPLACE)
	req.AddData(&netlink.Ndmsg{
		Family: uint8(e.Family),
		Index:  uint32(e.LinkIndex),
		State:  uint16(e.State),
		Type:   uint8(e.Type),
		Flags:  uint8(e.Flags),
	})
	ip := e.IP.To4()
	if ip == nil {
		ip = e.IP.To16()
	}
	req.AddData(nl.NewRtAttr(unix.NDA_DST, ip))
	if e.HardwareAddr != nil {
		req.AddData(nl.NewRtAttr(unix.NDA_LLADDR, []byte(e.HardwareAddr)))
	}
	return req
}
