package probe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// greetWait is how long Connect waits for a tcp server's greeting line. The
// built-in server greets at once; other servers may never greet.
const greetWait = 200 * time.Millisecond

// udpResend separates the datagrams of one udp Connect, so that one lost
// datagram does not fail the probe.
const udpResend = 200 * time.Millisecond

// ConnResult is the result of a client probe.
type ConnResult struct {
	// OK reports success: connected (tcp), answered (udp), a whole
	// response read (http) or every byte echoed back (transfer).
	OK bool
	// Outcome is Reply when connected or answered, Unreachable when
	// refused or an ICMP error came back, NoRoute when the local stack
	// refused to send, Timeout when nothing came back in time.
	Outcome Outcome
	// Peer is the client address a built-in server reported ("peer
	// IP:PORT"), or "" if the server did not say.
	Peer string
	// Detail is a short lowercase text for humans.
	Detail string
	// Elapsed is the probe's duration; for Transfer, the transfer's
	// (from connected to the last byte back).
	Elapsed time.Duration
	// Bytes counts the payload received: the udp answer, the http body,
	// the bytes echoed back by Transfer.
	Bytes int64
	// Cut reports that the caller's context ended the probe before it came
	// to its own end (an answer, an error or its timeout).
	Cut bool
	// Src is the local address of the probe's socket once connected: the
	// source the packets carried (invalid when the connect failed before).
	Src netip.Addr
}

// markCut marks r as cut short when ctx, the caller's context, ended before
// the probe found anything conclusive. A socket deadline taken from ctx's
// can fire a moment before ctx itself reports the end: a passed deadline
// counts as ended.
func markCut(r *ConnResult, ctx context.Context, start time.Time) {
	if r.OK || r.Outcome != Timeout {
		return
	}
	if d, ok := ctx.Deadline(); ctx.Err() == nil && (!ok || time.Now().Before(d)) {
		return
	}
	r.Cut = true
	r.Detail = "stopped after " + fmtDur(time.Since(start)) + ": no answer yet"
	if r.Bytes > 0 {
		r.Detail += fmt.Sprintf(" (%d bytes back)", r.Bytes)
	}
}

// failed turns a dial or I/O error into a result.
func failed(err error, start time.Time, timeout time.Duration) ConnResult {
	r := ConnResult{Elapsed: time.Since(start)}
	var de *dialError
	var errno syscall.Errno
	switch {
	case errors.As(err, &de):
		r.Outcome, r.Detail, r.Src = de.outcome, errnoText(de.err), de.src
		if de.outcome == Timeout {
			r.Detail = "no answer in " + fmtDur(timeout)
		}
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, context.Canceled):
		r.Outcome, r.Detail = Timeout, "no answer in "+fmtDur(timeout)
	case errors.As(err, &errno):
		r.Outcome, r.Detail = Unreachable, errno.Error()
	default:
		r.Outcome, r.Detail = Unreachable, err.Error()
	}
	return r
}

// orDefault returns timeout, or 1s when it is 0 or less.
func orDefault(timeout time.Duration) time.Duration {
	if timeout <= 0 {
		return time.Second
	}
	return timeout
}

// watch sets c's deadline from ctx and wakes c's blocked I/O when ctx ends.
func watch(ctx context.Context, c net.Conn) (stop func() bool) {
	if d, ok := ctx.Deadline(); ok {
		c.SetDeadline(d)
	}
	return context.AfterFunc(ctx, func() { c.SetDeadline(aLongTimeAgo) })
}

// Connect probes addr ("ip:port") over proto ("tcp" or "udp") from inside the
// network namespace nsFD, within timeout (1s when 0) and ctx.
//
// tcp: connects (a refusal is Unreachable "connection refused" at once), then
// reads the greeting line of a built-in server if one arrives within 200ms;
// connecting alone is success. Elapsed covers the connect and the greeting.
//
// udp: sends a datagram every 200ms until any answer arrives; an ICMP port
// unreachable (or other ICMP error) reported on the connected socket ends the
// probe at once as Unreachable.
//
// A probe that ctx ends before it found anything is Cut.
func Connect(ctx context.Context, nsFD int, proto, addr string, timeout time.Duration) ConnResult {
	return ConnectFrom(ctx, nsFD, netip.Addr{}, proto, addr, timeout)
}

// ConnectFrom is Connect from the source address src, to which the socket
// is bound before connecting (nc -s); an invalid src lets the route choose.
func ConnectFrom(ctx context.Context, nsFD int, src netip.Addr, proto, addr string, timeout time.Duration) (res ConnResult) {
	start := time.Now()
	timeout = orDefault(timeout)
	defer markCut(&res, ctx, start)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch proto {
	case "tcp", "udp":
	default:
		return ConnResult{Outcome: NoRoute, Detail: fmt.Sprintf("unknown protocol %q (want tcp or udp)", proto)}
	}
	c, err := dialNS(ctx, nsFD, src, proto, addr)
	if err != nil {
		return failed(err, start, timeout)
	}
	defer c.Close()
	defer watch(ctx, c)()
	defer func() { res.Src = localAddr(c) }()
	if proto == "udp" {
		return udpRoundTrip(ctx, c, start, timeout)
	}
	r := ConnResult{OK: true, Outcome: Reply}
	r.Elapsed = time.Since(start)
	r.Detail = "connected in " + fmtDur(r.Elapsed)
	c.SetReadDeadline(earliest(ctx, time.Now().Add(greetWait)))
	line, err := bufio.NewReaderSize(c, 128).ReadString('\n')
	if err == nil {
		if p, ok := strings.CutPrefix(strings.TrimSpace(line), "peer "); ok {
			r.Peer = p
			r.Elapsed = time.Since(start)
			r.Detail += " (seen as " + p + ")"
		}
	}
	return r
}

// localAddr returns the local address of a connected socket.
func localAddr(c net.Conn) netip.Addr {
	var a netip.Addr
	switch la := c.LocalAddr().(type) {
	case *net.TCPAddr:
		a = la.AddrPort().Addr()
	case *net.UDPAddr:
		a = la.AddrPort().Addr()
	}
	return a.Unmap()
}

// earliest returns t or ctx's deadline, whichever comes first.
func earliest(ctx context.Context, t time.Time) time.Time {
	if d, ok := ctx.Deadline(); ok && d.Before(t) {
		return d
	}
	return t
}

// udpRoundTrip sends datagrams on the connected socket c until an answer, an
// error or the end of ctx.
func udpRoundTrip(ctx context.Context, c net.Conn, start time.Time, timeout time.Duration) ConnResult {
	msg := []byte("nsscript probe\n")
	buf := make([]byte, 1<<16)
	for sent := 0; ; sent++ {
		err := retryNoBufs(ctx, timeout, func() error { _, err := c.Write(msg); return err })
		if err != nil {
			if sent == 0 && !errors.Is(err, syscall.ECONNREFUSED) {
				// The local stack refused (a filter, a vanished route):
				// no ICMP error is pending before the first datagram.
				return ConnResult{Outcome: NoRoute, Detail: errnoText(err), Elapsed: time.Since(start)}
			}
			return udpFailed(c, err, start, timeout)
		}
		c.SetReadDeadline(earliest(ctx, time.Now().Add(udpResend)))
		n, err := c.Read(buf)
		if err == nil {
			r := ConnResult{OK: true, Outcome: Reply, Bytes: int64(n), Elapsed: time.Since(start)}
			return udpAnswer(r, buf[:n])
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil {
			// The deadline's timer may have had its turn before the
			// poller reported the answer: judge by the kernel's time.
			if d, ok := ctx.Deadline(); ok {
				if n, at, ok := answeredBy(c, buf, d); ok {
					r := ConnResult{OK: true, Outcome: Reply, Bytes: int64(n), Elapsed: at.Sub(start)}
					return udpAnswer(r, buf[:n])
				}
			}
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) || ctx.Err() != nil {
			return udpFailed(c, err, start, timeout)
		}
	}
}

// udpAnswer words r, a udp probe's answer b.
func udpAnswer(r ConnResult, b []byte) ConnResult {
	r.Detail = "reply in " + fmtDur(r.Elapsed)
	line, _, _ := strings.Cut(string(b), "\n")
	if p, ok := strings.CutPrefix(line, "peer "); ok {
		r.Peer = p
		r.Detail += " (seen as " + p + ")"
	}
	return r
}

// answeredBy reads, without waiting, a datagram that the kernel received on
// c by d (SO_TIMESTAMPNS, set by dialNS), into buf. ok is false when none
// was queued, or it came after d.
func answeredBy(c net.Conn, buf []byte, d time.Time) (n int, at time.Time, ok bool) {
	sc, isSC := c.(syscall.Conn)
	if !isSC {
		return 0, at, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, at, false
	}
	oob := make([]byte, oobBuf)
	rc.Control(func(fd uintptr) {
		var oobn int
		n, oobn, _, _, err = unix.Recvmsg(int(fd), buf, oob, unix.MSG_DONTWAIT)
		if err == nil {
			at, _, _ = parseRxControl(oob[:oobn], false)
			ok = !at.IsZero() && !at.After(d)
		}
	})
	return n, at, ok
}

// udpFailed words a udp error, naming the ICMP error and its sender when
// one is queued on c.
func udpFailed(c net.Conn, err error, start time.Time, timeout time.Duration) ConnResult {
	r := failed(err, start, timeout)
	if r.Outcome == Unreachable {
		if sc, ok := c.(syscall.Conn); ok {
			if text, ok := icmpError(sc); ok {
				r.Detail = text
			} else if errors.Is(err, syscall.ECONNREFUSED) {
				r.Detail = "port unreachable"
			}
		}
	}
	return r
}
