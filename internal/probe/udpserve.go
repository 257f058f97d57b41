package probe

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// listenUDP opens the udp server's socket (called inside the namespace) and
// asks the kernel to tell, with each datagram, the address it was sent to.
// IP_PKTINFO covers IPv4 datagrams, also on a dual-stack IPv6 socket;
// IPV6_RECVPKTINFO covers IPv6 ones.
func listenUDP(addr string) (*net.UDPConn, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, err
	}
	c := pc.(*net.UDPConn)
	rc, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	var serr error
	rc.Control(func(fd uintptr) {
		domain, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN)
		if err != nil {
			serr = err
			return
		}
		v6only := false
		if domain == unix.AF_INET6 {
			if err := unix.SetsockoptInt(int(fd), unix.SOL_IPV6, unix.IPV6_RECVPKTINFO, 1); err != nil {
				serr = err
				return
			}
			v, err := unix.GetsockoptInt(int(fd), unix.SOL_IPV6, unix.IPV6_V6ONLY)
			v6only = err == nil && v == 1
		}
		if !v6only {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_PKTINFO, 1)
		}
	})
	if serr != nil {
		c.Close()
		return nil, serr
	}
	return c, nil
}

// serveUDP answers each datagram with "peer IP:PORT\n" and the payload.
//
// The answer leaves from the address the datagram was sent to (through a
// pktinfo control message): a socket bound to the wildcard address would
// otherwise let routing pick the source, and a client that sent to another
// of the namespace's addresses would drop the answer as coming from a
// stranger.
func (s *Server) serveUDP() {
	defer s.wg.Done()
	buf := make([]byte, 1<<16)
	oob := make([]byte, 256)
	for {
		n, oobn, _, from, err := s.udp.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// ICMP errors from earlier answers surface here; go on.
			time.Sleep(time.Millisecond)
			continue
		}
		peer := s.addPeer(from.String())

		msg := append([]byte("peer "+peer+"\n"), buf[:n]...)
		msg = msg[:min(len(msg), 65507)]
		src := replySource(oob[:oobn])
		if _, _, err := s.udp.WriteMsgUDPAddrPort(msg, src, from); err != nil && src != nil {
			// E.g. the datagram went to a broadcast address, which cannot
			// be a source: let routing choose.
			s.udp.WriteMsgUDPAddrPort(msg, nil, from)
		}
	}
}

// replySource turns the pktinfo of a received datagram into the control
// message that sends the answer from its destination address.
func replySource(oob []byte) []byte {
	cms, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	for _, cm := range cms {
		switch {
		case cm.Header.Level == unix.SOL_IP && cm.Header.Type == unix.IP_PKTINFO &&
			len(cm.Data) >= unix.SizeofInet4Pktinfo:
			// ipi_addr, after ipi_ifindex and ipi_spec_dst, is the
			// destination in the datagram's header.
			return unix.PktInfo4(&unix.Inet4Pktinfo{Spec_dst: [4]byte(cm.Data[8:12])})
		case cm.Header.Level == unix.SOL_IPV6 && cm.Header.Type == unix.IPV6_PKTINFO &&
			len(cm.Data) >= unix.SizeofInet6Pktinfo:
			out := unix.Inet6Pktinfo{Addr: [16]byte(cm.Data[:16])}
			if netip.AddrFrom16(out.Addr).IsLinkLocalUnicast() {
				// A link-local source only means something with its link.
				out.Ifindex = binary.NativeEndian.Uint32(cm.Data[16:20])
			}
			return unix.PktInfo6(&out)
		}
	}
	return nil
}
