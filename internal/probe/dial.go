package probe

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/nsscript/nsscript/internal/nsutil"
	"golang.org/x/sys/unix"
)

// dialError is a failed dial with its classification: NoRoute when connect
// failed at once, Unreachable when the peer or the network refused later
// (a reset or an ICMP error), Timeout when nothing came back.
type dialError struct {
	outcome Outcome
	err     error
	src     netip.Addr // the socket's local address, when the connect got that far
}

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// aLongTimeAgo is a deadline that has passed: setting it wakes blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// within returns what fn returns, calling it on a thread in the network
// namespace nsFD: a socket fn opens stays bound to that namespace.
func within[T any](nsFD int, fn func() (T, error)) (T, error) {
	var v T
	err := nsutil.Do(nsFD, func() (err error) { v, err = fn(); return err })
	return v, err
}

// dialNS connects a TCP or UDP socket created inside the namespace nsFD to
// addr, an "ip:port" literal (names are not resolved: a lab has no DNS),
// from src when it is valid (bound before connecting, as nc -s does). A
// connect the kernel refuses for lack of buffer space is tried again while
// ctx lasts (retryNoBufs).
func dialNS(ctx context.Context, nsFD int, src netip.Addr, network, addr string) (net.Conn, error) {
	limit := time.Second
	if d, ok := ctx.Deadline(); ok {
		limit = time.Until(d)
	}
	var c net.Conn
	err := retryNoBufs(ctx, limit, func() (err error) {
		c, err = dialOnce(ctx, nsFD, src, network, addr)
		return err
	})
	return c, err
}

// dialOnce is one attempt of dialNS.
//
// Only the socket(2) call runs inside the namespace; connecting and waiting
// happen on the calling goroutine through the runtime poller, so a thousand
// concurrent dials do not pin a thousand OS threads to a namespace.
func dialOnce(ctx context.Context, nsFD int, src netip.Addr, network, addr string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, &dialError{outcome: NoRoute, err: fmt.Errorf("address %q: want ip:port", addr)}
	}
	ip := ap.Addr().Unmap()
	var sotype int
	switch network {
	case "tcp", "tcp4", "tcp6":
		sotype = unix.SOCK_STREAM
	case "udp", "udp4", "udp6":
		sotype = unix.SOCK_DGRAM
	default:
		return nil, &dialError{outcome: NoRoute, err: fmt.Errorf("unknown network %q", network)}
	}
	var sa unix.Sockaddr
	family := unix.AF_INET
	if ip.Is4() {
		sa = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ip.As4()}
	} else {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ip.As16()}
	}
	fd, err := within(nsFD, func() (int, error) {
		if z := ip.Zone(); z != "" {
			// Interface names are per namespace: look the zone up inside.
			id, err := zoneIndex(z)
			if err != nil {
				return -1, err
			}
			sa.(*unix.SockaddrInet6).ZoneId = id
		}
		fd, err := unix.Socket(family, sotype|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		return fd, os.NewSyscallError("socket", err)
	})
	if err == nil && sotype == unix.SOCK_DGRAM {
		err = udpOptions(fd, family)
	}
	if err == nil && src.IsValid() {
		err = bindSrc(fd, src, ip)
	}
	if err != nil {
		return nil, &dialError{outcome: NoRoute, err: err}
	}
	f := os.NewFile(uintptr(fd), "probe "+network+" "+addr)
	defer f.Close() // net.FileConn keeps a duplicate

	switch err := unix.Connect(fd, sa); err {
	case nil:
	case unix.EINPROGRESS:
		if err := waitConnected(ctx, f); err != nil {
			var de *dialError
			if errors.As(err, &de) {
				de.src = sockSrc(fd)
			}
			return nil, err
		}
	case unix.ECONNREFUSED:
		return nil, &dialError{outcome: Unreachable, err: err, src: sockSrc(fd)}
	default:
		return nil, &dialError{outcome: NoRoute, err: err}
	}
	return net.FileConn(f)
}

// udpOptions sets the options of a udp probe's socket fd; it closes fd on
// failure.
func udpOptions(fd, family int) error {
	// Without IP_RECVERR a udp socket reports only "hard" ICMP errors
	// (port and protocol unreachable); network and host unreachable
	// would look like silence. It also queues who sent the error.
	var err error
	if family == unix.AF_INET {
		err = unix.SetsockoptInt(fd, unix.SOL_IP, unix.IP_RECVERR, 1)
	} else {
		err = unix.SetsockoptInt(fd, unix.SOL_IPV6, unix.IPV6_RECVERR, 1)
	}
	if err == nil {
		// Dates each answer, for the verdict at the deadline
		// (answeredBy).
		err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}
	if err != nil {
		unix.Close(fd)
		return os.NewSyscallError("setsockopt", err)
	}
	return nil
}

// sockSrc returns the local address of the socket fd, invalid if unbound.
func sockSrc(fd int) netip.Addr {
	var a netip.Addr
	switch sa, _ := unix.Getsockname(fd); sa := sa.(type) {
	case *unix.SockaddrInet4:
		a = netip.AddrFrom4(sa.Addr)
	case *unix.SockaddrInet6:
		a = netip.AddrFrom16(sa.Addr)
	}
	if a.IsUnspecified() {
		return netip.Addr{}
	}
	return a
}

// bindSrc binds the socket fd, about to connect to dst, to the source
// address src (port chosen by the kernel). It closes fd on failure.
func bindSrc(fd int, src, dst netip.Addr) error {
	if src.Is4() != dst.Is4() {
		unix.Close(fd)
		return fmt.Errorf("source %s and destination %s are not of one family", src, dst)
	}
	if err := unix.Bind(fd, sockaddr(src)); err != nil {
		unix.Close(fd)
		return os.NewSyscallError("bind", err)
	}
	return nil
}

// waitConnected waits until a non-blocking connect on f completes, as the
// net package does: writability, then SO_ERROR, then a peer name.
func waitConnected(ctx context.Context, f *os.File) error {
	if d, ok := ctx.Deadline(); ok {
		f.SetWriteDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { f.SetWriteDeadline(aLongTimeAgo) })
	defer stop()
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var connErr error
	werr := rc.Write(func(fd uintptr) bool {
		v, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil {
			connErr = err
			return true
		}
		switch e := unix.Errno(v); e {
		case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
			return false
		case 0:
			if _, err := unix.Getpeername(int(fd)); err == unix.ENOTCONN {
				return false // not writable yet: still connecting
			}
			return true
		default:
			connErr = e
			return true
		}
	})
	switch {
	case errors.Is(werr, os.ErrDeadlineExceeded):
		// The deadline's timer may have had its turn before the poller
		// reported the handshake: judge by the kernel's time.
		if d, ok := ctx.Deadline(); ok && connectedBy(rc, d) {
			return nil
		}
		return &dialError{outcome: Timeout, err: context.DeadlineExceeded}
	case werr != nil:
		return werr
	case errors.Is(connErr, unix.ETIMEDOUT):
		return &dialError{outcome: Timeout, err: connErr}
	case connErr != nil:
		// A reset, or an ICMP error that arrived while connecting.
		return &dialError{outcome: Unreachable, err: connErr}
	}
	return nil
}

// connectedBy reports whether the TCP socket behind rc is connected and its
// handshake completed by d, judged by the kernel: the age of the last ACK it
// received (TCP_INFO, counted in the kernel's ticks) dates the SYN-ACK. The
// date is rounded towards the later, so a handshake that completed after d
// never counts.
func connectedBy(rc syscall.RawConn, d time.Time) bool {
	var tick unix.Timespec
	if unix.ClockGetres(unix.CLOCK_MONOTONIC_COARSE, &tick) != nil {
		return false
	}
	j := time.Duration(tick.Nano())
	ok := false
	rc.Control(func(fd uintptr) {
		if v, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR); err != nil || v != 0 {
			return
		}
		if _, err := unix.Getpeername(int(fd)); err != nil {
			return
		}
		// A tight reading: the kernel's "now" is within a tick of ours.
		for range 10 {
			before := time.Now()
			ti, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
			after := time.Now()
			if err != nil {
				return
			}
			if after.Sub(before) <= j {
				age := time.Duration(ti.Last_ack_recv) * time.Millisecond
				ok = !after.Add(j - age).After(d)
				return
			}
		}
	})
	return ok
}

// zoneIndex resolves an IPv6 zone (an interface name or number) in the
// current thread's namespace.
func zoneIndex(zone string) (uint32, error) {
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n), nil
	}
	ifi, err := net.InterfaceByName(zone)
	if err != nil {
		return 0, err
	}
	return uint32(ifi.Index), nil
}

// icmpError reads the first ICMP error queued on a socket with IP_RECVERR or
// IPV6_RECVERR set, and describes it as the pinger would: "destination port
// unreachable (from 10.0.0.2)". ok is false when none is queued.
func icmpError(c syscall.Conn) (text string, ok bool) {
	rc, err := c.SyscallConn()
	if err != nil {
		return "", false
	}
	oob := make([]byte, 512)
	var oobn int
	rc.Control(func(fd uintptr) {
		var buf [1]byte
		_, oobn, _, _, err = unix.Recvmsg(int(fd), buf[:], oob, unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
	})
	if err != nil {
		return "", false
	}
	cms, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return "", false
	}
	for _, cm := range cms {
		v4 := cm.Header.Level == unix.SOL_IP && cm.Header.Type == unix.IP_RECVERR
		v6 := cm.Header.Level == unix.SOL_IPV6 && cm.Header.Type == unix.IPV6_RECVERR
		d := cm.Data
		if !(v4 || v6) || len(d) < sizeofSockExtendedErr+8 {
			continue
		}
		origin, typ, code := d[4], d[5], d[6]
		if origin != unix.SO_EE_ORIGIN_ICMP && origin != unix.SO_EE_ORIGIN_ICMP6 {
			continue
		}
		ev := event{v6: origin == unix.SO_EE_ORIGIN_ICMP6, typ: int(typ), code: int(code)}
		if ev.v6 && typ == icmp6PacketTooBg {
			ev.code = int(binary.NativeEndian.Uint32(d[8:12])) // ee_info: the MTU
		}
		// The offender's sockaddr follows struct sock_extended_err.
		sa := d[sizeofSockExtendedErr:]
		switch binary.NativeEndian.Uint16(sa) {
		case unix.AF_INET:
			ev.from = netip.AddrFrom4([4]byte(sa[4:8]))
		case unix.AF_INET6:
			if len(sa) >= 24 {
				ev.from = netip.AddrFrom16([16]byte(sa[8:24])).Unmap()
			}
		}
		if !ev.from.IsValid() {
			return errorText(ev), true
		}
		return describeError(ev), true
	}
	return "", false
}

// sizeofSockExtendedErr is the size of struct sock_extended_err.
const sizeofSockExtendedErr = 16
