package probe

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nsscript/nsscript/internal/nsutil"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// heldPinger returns a Pinger in namespace fd whose readers take no packet
// until the test ends, as a loaded scheduler (or strace) can keep them;
// held reports whether one was kept waiting.
func heldPinger(t *testing.T, fd int) (p *Pinger, held *atomic.Bool) {
	t.Helper()
	release := make(chan struct{})
	held = new(atomic.Bool)
	p, err := openPinger(fd, func() {
		held.Store(true)
		<-release
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	t.Cleanup(func() { close(release) }) // before Close, which waits for the readers
	return p, held
}

// TestPingReaderHeld: a reply the kernel received within the timeout is a
// reply, with the kernel's round-trip time, however long the reader
// goroutine is kept from it.
func TestPingReaderHeld(t *testing.T) {
	t.Parallel()
	a, _ := pair(t)
	p, held := heldPinger(t, a)
	for _, o := range []Options{{Timeout: time.Second}, {Count: 2, Interval: 10 * time.Millisecond, Timeout: 500 * time.Millisecond}} {
		r := p.Ping(context.Background(), netip.MustParseAddr("10.9.0.2"), o)
		t.Logf("count %d: %v %s rtt %v (%v)", o.Count, r.Outcome, r.Detail, r.RTT, r.Elapsed)
		if !held.Load() {
			t.Fatal("the reader was never held: the test tests nothing")
		}
		want := max(o.Count, 1)
		if r.Outcome != Reply || r.Received != want || r.RTT <= 0 || r.MaxRTT > o.Timeout {
			t.Errorf("count %d: got %+v, want %d replies within the timeout", o.Count, r, want)
		}
	}
}

// TestTracerouteReaderHeld: the same for a trace's answers.
func TestTracerouteReaderHeld(t *testing.T) {
	t.Parallel()
	c, _ := routed(t)
	p, held := heldPinger(t, c)
	tr := p.Traceroute(context.Background(), netip.MustParseAddr("10.8.0.254"), TraceOptions{Timeout: time.Second})
	t.Logf("%s %+v (%v)", tr.Detail, tr.Hops, tr.Elapsed)
	if !held.Load() {
		t.Fatal("the reader was never held: the test tests nothing")
	}
	if !tr.Reached || len(tr.Hops) != 1 || tr.Hops[0].RTT <= 0 || tr.Hops[0].RTT > time.Second {
		t.Errorf("got %+v, want 10.8.0.254 reached in one hop within the timeout", tr)
	}
}

// TestPingLateReplyTimesOut: a reply the kernel received after the deadline
// does not count, whether the reader was quick or held.
func TestPingLateReplyTimesOut(t *testing.T) {
	t.Parallel()
	const timeout = 100 * time.Millisecond
	a, b := pair(t)
	lateResponder(t, b, timeout)
	for _, hold := range []bool{false, true} {
		p := newPinger(t, a)
		if hold {
			p, _ = heldPinger(t, a)
		}
		r := p.Ping(context.Background(), netip.MustParseAddr("10.9.0.2"), Options{Timeout: timeout})
		t.Logf("held %v: %v %s (%v)", hold, r.Outcome, r.Detail, r.Elapsed)
		if r.Outcome != Timeout || r.Received != 0 || r.Detail != "no reply in 100ms" {
			t.Errorf("held %v: got %+v, want no reply in 100ms", hold, r)
		}
		// With a count, the deadline runs from the last request: the
		// reply to the first may make it, the last one's never does.
		r = p.Ping(context.Background(), netip.MustParseAddr("10.9.0.2"), Options{Count: 2, Interval: 10 * time.Millisecond, Timeout: timeout})
		t.Logf("held %v count 2: %v %s (%v)", hold, r.Outcome, r.Detail, r.Elapsed)
		if r.Sent != 2 || r.Received > 1 || (r.Received == 0) != (r.Outcome == Timeout) {
			t.Errorf("held %v count 2: got %+v, want at most the first reply", hold, r)
		}
	}
}

// lateResponder answers the echo requests that reach namespace fd itself,
// each one late: later after the request reached it than late, so later
// than late after the request was sent. The kernel's own answers are off.
func lateResponder(t *testing.T, fd int, late time.Duration) {
	t.Helper()
	err := nsutil.Do(fd, func() error {
		return os.WriteFile("/proc/sys/net/ipv4/icmp_echo_ignore_all", []byte("1"), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := within(fd, func() (net.PacketConn, error) { return net.ListenPacket("ip4:icmp", "0.0.0.0") })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			m, err := icmp.ParseMessage(1, buf[:n])
			if err != nil || m.Type != ipv4.ICMPTypeEcho {
				continue
			}
			// Lateness is what this test is about: the timer makes
			// it, it waits for nothing.
			m.Type = ipv4.ICMPTypeEchoReply
			if b, err := m.Marshal(nil); err == nil {
				time.AfterFunc(late+time.Millisecond, func() { c.WriteTo(b, from) })
			}
		}
	}()
}

// TestVerdictByKernelTime: the deadline is judged by the kernel's receive
// time of each answer, not by when the probe got to it.
func TestVerdictByKernelTime(t *testing.T) {
	t0 := time.Now()
	due := t0.Add(time.Second)
	for _, tc := range []struct {
		at   time.Time
		want Outcome
	}{{due, Reply}, {due.Add(-time.Millisecond), Reply}, {due.Add(time.Nanosecond), Timeout}} {
		r := &pingRun{o: Options{}.withDefaults(), start: t0, sentAt: map[uint16]time.Time{7: t0}, seqs: []uint16{7}, due: due}
		done := r.events([]event{{reply: true, seq: 7, at: tc.at}})
		if res := r.res; !done || res.Outcome != tc.want {
			t.Errorf("ping: reply %v after the send: got %v (done %v), want %v", tc.at.Sub(t0), res.Outcome, done, tc.want)
		}
		s := &tracer{sent: map[uint16]sentProbe{7: {1, t0}}, hops: make([]Hop, 3), due: due}
		complete, late := s.events([]event{{reply: true, seq: 7, at: tc.at}})
		if complete != (tc.want == Reply) || late != (tc.want == Timeout) {
			t.Errorf("trace: answer %v after the send: complete %v late %v, want %v", tc.at.Sub(t0), complete, late, tc.want)
		}
	}
}

// TestConnectedByKernelTime: a TCP connect whose handshake completed before
// the deadline is connected, even when the deadline's timer has its turn
// before the poller reports the handshake; one that completed after the
// deadline is a timeout.
func TestConnectedByKernelTime(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	ln, err := within(b, func() (net.Listener, error) { return net.Listen("tcp", "10.9.0.2:7100") })
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fd, err := within(a, func() (int, error) {
		return unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	})
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "client")
	defer f.Close()
	before := time.Now()
	if err := unix.Connect(fd, &unix.SockaddrInet4{Port: 7100, Addr: [4]byte{10, 9, 0, 2}}); err != unix.EINPROGRESS {
		t.Fatalf("connect: %v, want EINPROGRESS", err)
	}
	c, err := ln.Accept() // the client had the SYN-ACK before the server the ACK
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The kernel dates the handshake in ticks: a deadline a few ticks
	// after it is after it however the ticks fall. The sleep orders the
	// two events; it waits for nothing.
	var tick unix.Timespec
	if err := unix.ClockGetres(unix.CLOCK_MONOTONIC_COARSE, &tick); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * time.Duration(tick.Nano()))
	for _, tc := range []struct {
		name     string
		deadline time.Time
		want     Outcome
	}{{"handshake before the deadline", time.Now(), Reply}, {"handshake after the deadline", before, Timeout}} {
		// The deadline has passed: the poller reports it before
		// looking at the socket, as a late timer does.
		ctx, cancel := context.WithDeadline(context.Background(), tc.deadline)
		err := waitConnected(ctx, f)
		cancel()
		got := Reply
		var de *dialError
		if errors.As(err, &de) {
			got = de.outcome
		} else if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got != tc.want {
			t.Errorf("%s: got %v (%v), want %v", tc.name, got, err, tc.want)
		}
	}
}

// TestUDPAnsweredByKernelTime: a udp probe's answer that the kernel received
// before the deadline is an answer, even when the deadline's timer has its
// turn before the poller reports it; one received after is not.
func TestUDPAnsweredByKernelTime(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	srv, err := within(b, func() (net.PacketConn, error) { return net.ListenPacket("udp", "10.9.0.2:7200") })
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, answerFirst := range []bool{true, false} {
		c, err := dialNS(context.Background(), a, netip.Addr{}, "udp", "10.9.0.2:7200")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		before := time.Now()
		// The answer comes before the probe's datagram: any answer
		// counts, and this one is queued before the probe reads.
		if _, err := srv.WriteTo([]byte("peer 10.9.0.1:1\n"), c.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		rc, _ := c.(syscall.Conn).SyscallConn()
		rc.Control(func(fd uintptr) { unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, -1) })
		deadline := time.Now()
		if !answerFirst {
			deadline = before
		}
		// The deadline has passed: the poller reports it before
		// looking at the socket, as a late timer does.
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		r := udpRoundTrip(ctx, c, before, time.Second)
		cancel()
		t.Logf("answer first %v: %v %s", answerFirst, r.Outcome, r.Detail)
		if r.OK != answerFirst || (answerFirst && r.Peer != "10.9.0.1:1") {
			t.Errorf("answer first %v: got %+v", answerFirst, r)
		}
	}
}
