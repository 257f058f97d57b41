package probe

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// udpSender is an unconnected UDP socket in the Pinger's namespace that sends
// traceroute probes. The ICMP errors they cause reach the Pinger's raw socket
// (every raw ICMP socket sees them), which routes them by this socket's port.
type udpSender struct {
	fd   int
	port uint16
}

func (p *Pinger) newUDPSender(v6 bool) (*udpSender, error) {
	family := unix.AF_INET
	var sa unix.Sockaddr = &unix.SockaddrInet4{}
	if v6 {
		family, sa = unix.AF_INET6, &unix.SockaddrInet6{}
	}
	fd, err := within(p.nsFD, func() (int, error) {
		return unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	})
	if err != nil {
		return nil, fmt.Errorf("open udp socket: %w", err)
	}
	s := &udpSender{fd: fd}
	if err := unix.Bind(fd, sa); err != nil {
		s.close()
		return nil, fmt.Errorf("bind udp socket: %w", err)
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("udp socket name: %w", err)
	}
	switch a := got.(type) {
	case *unix.SockaddrInet4:
		s.port = uint16(a.Port)
	case *unix.SockaddrInet6:
		s.port = uint16(a.Port)
	}
	return s, nil
}

// send sends one empty-payload probe to dst:port with the given TTL.
func (s *udpSender) send(dst netip.Addr, port uint16, ttl int) error {
	sa := sockaddr(dst)
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		a.Port = int(port)
	case *unix.SockaddrInet6:
		a.Port = int(port)
	}
	return unix.Sendmsg(s.fd, make([]byte, 32), sendOpts{ttl: ttl}.oob(dst.Is6()), sa, unix.MSG_DONTWAIT)
}

func (s *udpSender) close() { unix.Close(s.fd) }
