package probe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// sendOpts are the per-packet options of one datagram on a shared socket.
// The Pinger's socket serves every probe of its namespace at once, so what
// differs between probes travels as ancillary data, not as socket options.
type sendOpts struct {
	ttl      int        // IPv4 TTL or IPv6 hop limit; 0 keeps the socket's default
	dontFrag bool       // IPv6 only: never fragment locally (IPv4 has no such cmsg)
	src      netip.Addr // source address (IP_PKTINFO / IPV6_PKTINFO); invalid lets the route choose
}

// cmsg appends one control message with an int payload.
func cmsg(b []byte, level, typ int32, v int32) []byte {
	m := make([]byte, unix.CmsgSpace(4))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&m[0]))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(4))
	binary.NativeEndian.PutUint32(m[unix.CmsgLen(0):], uint32(v))
	return append(b, m...)
}

// oob builds the ancillary data for o and the family of dst.
func (o sendOpts) oob(v6 bool) []byte {
	var b []byte
	if o.ttl > 0 {
		if v6 {
			b = cmsg(b, unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT, int32(o.ttl))
		} else {
			b = cmsg(b, unix.IPPROTO_IP, unix.IP_TTL, int32(o.ttl))
		}
	}
	if o.dontFrag && v6 {
		b = cmsg(b, unix.IPPROTO_IPV6, unix.IPV6_DONTFRAG, 1)
	}
	if o.src.IsValid() {
		b = append(b, pktinfo(o.src)...)
	}
	return b
}

// pktinfo is the control message that sets a datagram's source address:
// ipi_spec_dst of IP_PKTINFO, or ipi6_addr of IPV6_PKTINFO (with the zone's
// interface index for a link-local source). The kernel refuses with EINVAL
// an address that is not one of the namespace's.
func pktinfo(src netip.Addr) []byte {
	var (
		level, typ int32
		data       []byte
	)
	if src.Is4() {
		level, typ = unix.IPPROTO_IP, unix.IP_PKTINFO
		pi := unix.Inet4Pktinfo{Spec_dst: src.As4()}
		data = (*[unix.SizeofInet4Pktinfo]byte)(unsafe.Pointer(&pi))[:]
	} else {
		level, typ = unix.IPPROTO_IPV6, unix.IPV6_PKTINFO
		pi := unix.Inet6Pktinfo{Addr: src.As16()}
		if z := src.Zone(); z != "" {
			id, _ := strconv.ParseUint(z, 10, 32)
			pi.Ifindex = uint32(id)
		}
		data = (*[unix.SizeofInet6Pktinfo]byte)(unsafe.Pointer(&pi))[:]
	}
	m := make([]byte, unix.CmsgSpace(len(data)))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&m[0]))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(len(data)))
	copy(m[unix.CmsgLen(0):], data)
	return m
}

// sendDF sends an ICMP message with "don't fragment". IPv6 says so per
// packet on the shared socket. IPv4 can only say it per socket, so the
// Pinger keeps a second raw socket for it (IP_PMTUDISC_DO, as ping -M do)
// that only sends: it blocks every ICMP type from its own queue, and the
// answers reach the shared socket's reader like any others.
func (p *Pinger) sendDF(dst, src netip.Addr, b []byte) error {
	if dst.Is6() {
		c, err := p.conn(true)
		if err != nil {
			return err
		}
		return sendTo(c.IPConn, b, dst, sendOpts{dontFrag: true, src: src})
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errPingerClosed
	}
	if p.df4 == nil {
		c, err := p.listenDF()
		if err != nil {
			p.mu.Unlock()
			return err
		}
		p.df4 = c
	}
	c := p.df4
	p.mu.Unlock()
	return sendTo(c, b, dst, sendOpts{src: src})
}

// listenDF opens the IPv4 send-only "don't fragment" socket.
func (p *Pinger) listenDF() (*net.IPConn, error) {
	pc, err := within(p.nsFD, func() (net.PacketConn, error) {
		return net.ListenPacket("ip4:icmp", "0.0.0.0")
	})
	if err != nil {
		return nil, fmt.Errorf("pinger: open df socket: %w", err)
	}
	c := pc.(*net.IPConn)
	var f ipv4.ICMPFilter
	f.SetAll(true)
	err = ipv4.NewPacketConn(c).SetICMPFilter(&f)
	if err == nil {
		var rc syscall.RawConn
		if rc, err = c.SyscallConn(); err == nil {
			cerr := rc.Control(func(fd uintptr) {
				err = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DO)
			})
			err = errors.Join(err, cerr)
		}
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("pinger: df socket: %w", err)
	}
	return c, nil
}

// sockaddr converts dst, whose zone (if any) is already an interface index,
// to the kernel's form.
func sockaddr(dst netip.Addr) unix.Sockaddr {
	if dst.Is4() {
		return &unix.SockaddrInet4{Addr: dst.As4()}
	}
	sa := &unix.SockaddrInet6{Addr: dst.As16()}
	if z := dst.Zone(); z != "" {
		id, _ := strconv.ParseUint(z, 10, 32)
		sa.ZoneId = uint32(id)
	}
	return sa
}

// sendTo writes b to dst through c with the per-packet options o, waiting
// through the runtime poller while the socket's send buffer is full.
func sendTo(c *net.IPConn, b []byte, dst netip.Addr, o sendOpts) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	oob := o.oob(dst.Is6())
	sa := sockaddr(dst)
	var serr error
	werr := rc.Write(func(fd uintptr) bool {
		_, serr = unix.SendmsgN(int(fd), b, oob, sa, 0)
		return !errors.Is(serr, unix.EAGAIN)
	})
	if werr != nil {
		return werr
	}
	return serr
}

// pathMTU returns the MTU the namespace's stack knows for the path to dst
// (the link's, or a smaller one learned from "fragmentation needed"), read
// from a UDP socket connected there; 0 if it cannot tell.
func (p *Pinger) pathMTU(dst netip.Addr) int {
	family, level, opt := unix.AF_INET, unix.IPPROTO_IP, unix.IP_MTU
	if dst.Is6() {
		family, level, opt = unix.AF_INET6, unix.IPPROTO_IPV6, unix.IPV6_MTU
	}
	fd, err := within(p.nsFD, func() (int, error) {
		return unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	})
	if err != nil {
		return 0
	}
	defer unix.Close(fd)
	sa := sockaddr(dst)
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		a.Port = 9
	case *unix.SockaddrInet6:
		a.Port = 9
	}
	if unix.Connect(fd, sa) != nil {
		return 0
	}
	mtu, err := unix.GetsockoptInt(fd, level, opt)
	if err != nil {
		return 0
	}
	return mtu
}
