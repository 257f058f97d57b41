package probe

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sendOpts are the per-packet options of one datagram on a shared socket.
// The Pinger's socket serves every probe of its namespace at once, so what
// differs between probes travels as ancillary data, not as socket options.
type sendOpts struct {
	ttl int // IPv4 TTL or IPv6 hop limit; 0 keeps the socket's default
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
	return b
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
