package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// Options tunes one Ping. The zero value asks for "until the first reply,
// within one second".
type Options struct {
	// Count is the number of echo requests to send, Interval apart (ping
	// semantics): all of them are sent, however long that takes. 0 means
	// "until the first reply": a request is resent every Interval until a
	// reply, an error or Timeout, so that one lost packet does not fail a
	// reachability check.
	Count int
	// Interval separates two requests; 200ms when 0.
	Interval time.Duration
	// Timeout is how long to wait for replies; 1s when 0. Without Count it
	// bounds the whole probe, from the first request; with Count it runs
	// from the last request, as ping's -W does, so it never cuts the count
	// short. A reply counts when the kernel received it by then (see Ping).
	Timeout time.Duration
	// Size is the number of payload bytes in each request; 56 when 0.
	Size int
	// DF sends the requests with "don't fragment" (ping -M do): one too
	// big for a link on the way ends the probe with FragNeeded and the
	// MTU the router reported, instead of being fragmented.
	DF bool
	// Src, when valid, is the source address of the requests (ping -I
	// ADDR), set per packet on the shared socket; it must be one of the
	// namespace's addresses, of dst's family. Invalid lets the route choose.
	Src netip.Addr
}

func (o Options) withDefaults() Options {
	if o.Interval <= 0 {
		o.Interval = 200 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	if o.Size <= 0 {
		o.Size = 56
	}
	if o.Count < 0 {
		o.Count = 0
	}
	return o
}

// Result is the outcome of one Ping.
type Result struct {
	// Outcome is Reply if at least one reply arrived; otherwise it says
	// why none did.
	Outcome Outcome
	// Sent and Received count echo requests and distinct replies.
	Sent, Received int
	// RTT is the round-trip time of the first reply, 0 if none came.
	RTT time.Duration
	// MinRTT, AvgRTT and MaxRTT summarise all replies.
	MinRTT, AvgRTT, MaxRTT time.Duration
	// From is the sender of the first reply, or of the ICMP error when
	// Outcome is Unreachable.
	From netip.Addr
	// MTU is the link MTU a "fragmentation needed" or "packet too big"
	// reported when Outcome is FragNeeded (0 when the local stack refused
	// the request itself).
	MTU int
	// TTL is the TTL (IPv4) or hop limit (IPv6) of the first reply as it
	// arrived, 0 if none came: 64 minus the routers on the way back.
	TTL int
	// Src is the source address the requests carried: the destination
	// of the first reply, or Options.Src when no reply came (invalid when
	// neither tells).
	Src netip.Addr
	// Detail is a short lowercase text for humans: "reply in 0.31ms",
	// "destination host unreachable (from 10.0.0.1)", "network is
	// unreachable", "no reply in 1s", "stopped after 0.5s: no reply yet".
	Detail string
	// Cut reports that ctx ended the probe before it came to its own end
	// (a reply, its count, an error or its timeout): the outcome says
	// what happened until then, not what the probe would have found.
	Cut bool
	// Elapsed is the time from the call to the outcome.
	Elapsed time.Duration
}

// Ping sends ICMP echo requests to dst and reports how the probe ended. An
// echo reply ends a Count==0 probe as soon as it arrives; an ICMP error about
// one of the requests, or a send that the local stack refuses, ends any probe
// at once. Only silence waits for Timeout. ctx cancellation ends the probe
// early with Cut set and Outcome Timeout (Reply if replies came). Ping is
// safe for concurrent use.
//
// Time is the kernel's: a request's time is taken right before its send,
// a reply's is when the kernel received it, and the verdict counts exactly
// the replies received by the deadline (Timeout after the first request
// without Count, after the last one with Count), however late this process
// gets to run: a reply received in time is never "no reply", one received
// after the deadline never counts.
func (p *Pinger) Ping(ctx context.Context, dst netip.Addr, o Options) Result {
	r := newPingRun(p, ctx, o)
	r.ping(dst)
	return r.res
}

// newPingRun returns the state of a Ping on the heap: kept out of the
// probe goroutine's frames, it does not make that goroutine's stack grow.
//
//go:noinline
func newPingRun(p *Pinger, ctx context.Context, o Options) *pingRun {
	return &pingRun{p: p, ctx: ctx, o: o.withDefaults(), start: time.Now(), res: Result{Src: o.Src}}
}

// ping is Ping with the outcome left in r.res. Every step of a probe keeps
// its outcome there instead of returning a Result: a probe's goroutine then
// needs a smaller stack (see BENCHMARKS.md, "mesh and scale against the
// floor, session 4").
func (r *pingRun) ping(dst netip.Addr) {
	p := r.p
	dst = dst.Unmap()
	if !dst.IsValid() {
		r.finish(NoRoute, "invalid address")
		return
	}
	sock, err := p.conn(dst.Is6())
	if err != nil {
		r.finish(NoRoute, err.Error())
		return
	}
	if dst, err = p.zoneToIndex(dst); err != nil {
		r.finish(NoRoute, err.Error())
		return
	}
	r.dst, r.sock = dst, sock
	r.st = &probeState{notify: make(chan struct{}, 1)}
	r.sentAt = make(map[uint16]time.Time)
	r.run()
	p.unregister(dst.WithZone(""), r.seqs)
}

// pingRun is the state of one Ping.
type pingRun struct {
	p      *Pinger
	ctx    context.Context
	o      Options
	start  time.Time
	dst    netip.Addr // zone as an interface index
	sock   *icmpSock  // where the answers arrive
	st     *probeState
	sentAt map[uint16]time.Time // by sequence number, until answered
	seqs   []uint16
	due    time.Time   // the deadline; zero until armed
	timer  *time.Timer // fires at due
	res    Result
	sum    time.Duration
}

// finish sets the probe's outcome; it always reports done.
func (r *pingRun) finish(out Outcome, detail string) bool {
	r.res.Elapsed = time.Since(r.start)
	r.res.Outcome, r.res.Detail = out, detail
	return true
}

// run sends the requests and waits for the probe's end.
func (r *pingRun) run() {
	if err := r.send(); err != nil {
		r.sendErr(err)
		return
	}
	due := r.arm(nil)
	defer func() {
		if r.timer != nil {
			r.timer.Stop()
		}
	}()
	next := time.NewTimer(r.o.Interval)
	defer next.Stop()
	for {
		select {
		case <-r.st.notify:
			if r.events(r.st.take()) {
				return
			}
		case <-next.C:
			if r.o.Count == 0 || r.res.Sent < r.o.Count {
				if err := r.send(); err != nil {
					r.sendErr(err)
					return
				}
				due = r.arm(due)
				next.Reset(r.o.Interval)
			}
		case <-due:
			r.judge()
			return
		case <-r.ctx.Done():
			r.stopped()
			return
		case <-r.p.done:
			r.finish(NoRoute, errPingerClosed.Error())
			return
		}
	}
}

// stopped ends the probe when ctx ended first.
func (r *pingRun) stopped() {
	r.res.Cut = true
	stopped := "stopped after " + fmtDur(time.Since(r.start)) + ": "
	if r.res.Received > 0 {
		r.finish(Reply, stopped+r.replyText())
		return
	}
	r.finish(Timeout, stopped+"no reply yet")
}

// arm sets the deadline once the request it counts from was sent (the
// first without Count, the last with Count) and returns the channel its
// timer fires on; c until then.
func (r *pingRun) arm(c <-chan time.Time) <-chan time.Time {
	if !r.due.IsZero() || (r.o.Count > 0 && r.res.Sent < r.o.Count) {
		return c
	}
	r.due = r.sentAt[r.seqs[len(r.seqs)-1]].Add(r.o.Timeout)
	r.timer = time.NewTimer(time.Until(r.due))
	return r.timer.C
}

// judge ends the probe at its deadline. The timer fired, but the reader may
// not have had its turn yet: drain the socket first, then count the replies
// the kernel received by the deadline.
func (r *pingRun) judge() {
	r.p.drain(r.sock)
	if !r.events(r.st.take()) {
		r.timedOut()
	}
}

// timedOut is the verdict at the deadline.
func (r *pingRun) timedOut() bool {
	if r.res.Received > 0 {
		return r.finish(Reply, r.replyText())
	}
	return r.finish(Timeout, "no reply in "+fmtDur(r.o.Timeout))
}

// events takes the answers in the order the kernel received them, up to
// the deadline: an answer received after it means the deadline passed
// first (the timer had not had its turn yet). done says the probe ended.
func (r *pingRun) events(evs []event) (done bool) {
	for i := range evs {
		if !r.due.IsZero() && evs[i].at.After(r.due) {
			return r.timedOut()
		}
		if r.event(&evs[i]) {
			return true
		}
	}
	return false
}

// event takes one answer; done says it ends the probe.
func (r *pingRun) event(ev *event) (done bool) {
	o := &r.o
	if !ev.reply {
		return r.errorEvent(ev)
	}
	t0, ok := r.sentAt[ev.seq]
	if !ok {
		return false
	}
	delete(r.sentAt, ev.seq) // a duplicate reply counts once
	rtt := ev.at.Sub(t0)
	r.res.Received++
	if r.res.Received == 1 {
		r.res.RTT, r.res.MinRTT, r.res.MaxRTT = rtt, rtt, rtt
		r.res.From, r.res.TTL = ev.from, max(ev.ttl, 0)
		if ev.to.IsValid() {
			r.res.Src = ev.to
		}
	}
	r.res.MinRTT, r.res.MaxRTT = min(r.res.MinRTT, rtt), max(r.res.MaxRTT, rtt)
	r.sum += rtt
	r.res.AvgRTT = r.sum / time.Duration(r.res.Received)
	if o.Count == 0 || r.res.Received >= o.Count {
		return r.finish(Reply, r.replyText())
	}
	return false
}

// errorEvent takes an ICMP error about one of the requests; done says it
// ends the probe.
func (r *pingRun) errorEvent(ev *event) (done bool) {
	r.res.From = ev.from
	switch {
	case ev.fragNeeded() && !r.o.DF:
		return false // the kernel now knows the path MTU: resends are fragmented
	case ev.fragNeeded() && r.res.Received == 0:
		r.res.MTU = ev.mtu
		return r.finish(FragNeeded, describeError(*ev))
	case r.res.Received > 0:
		return r.finish(Reply, r.replyText()+", then "+describeError(*ev))
	}
	return r.finish(Unreachable, describeError(*ev))
}

// send sends one echo request. Its time is taken right before the send
// system call (again before a retry).
func (r *pingRun) send() error {
	key := r.dst.WithZone("")
	seq, err := r.p.register(key, r.st)
	if err != nil {
		return err
	}
	r.seqs = append(r.seqs, seq)
	var typ icmp.Type = ipv4.ICMPTypeEcho
	if r.dst.Is6() {
		typ = ipv6.ICMPTypeEchoRequest
	}
	payload := make([]byte, r.o.Size)
	for i := range payload {
		payload[i] = byte(i)
	}
	m := icmp.Message{Type: typ, Body: &icmp.Echo{ID: int(r.p.id), Seq: int(seq), Data: payload}}
	b, err := m.Marshal(nil) // the kernel fills in the ICMPv6 checksum
	if err != nil {
		return err
	}
	r.res.Sent++
	to := &net.IPAddr{IP: r.dst.AsSlice(), Zone: r.dst.Zone()}
	return retryNoBufs(r.ctx, r.o.Timeout, func() error {
		r.sentAt[seq] = time.Now()
		switch {
		case r.o.DF:
			return r.p.sendDF(r.dst, r.o.Src, b)
		case r.o.Src.IsValid():
			return sendTo(r.sock.IPConn, b, r.dst, sendOpts{src: r.o.Src})
		}
		_, err := r.sock.WriteToIP(b, to)
		return err
	})
}

// sendErr ends the probe on a send the local stack refused.
func (r *pingRun) sendErr(err error) {
	dst := r.dst
	if r.o.DF && errors.Is(err, unix.EMSGSIZE) && r.res.Received == 0 {
		r.res.MTU = r.p.pathMTU(dst)
		// The stack knows the path MTU already (the first link's, or
		// one a router reported to an earlier probe): word it as the
		// router's answer would be, from the local stack.
		what := "fragmentation needed"
		if dst.Is6() {
			what = "packet too big"
		}
		r.finish(FragNeeded, fmt.Sprintf("%s (mtu %d) (local)", what, r.res.MTU))
		return
	}
	if r.res.Received > 0 {
		r.finish(Reply, fmt.Sprintf("%s, then %s", r.replyText(), errnoText(err)))
		return
	}
	r.finish(NoRoute, errnoText(err))
}

// replyText summarises the replies so far.
func (r *pingRun) replyText() string {
	res := &r.res
	if r.o.Count == 0 {
		return "reply in " + fmtDur(res.RTT)
	}
	return fmt.Sprintf("%d/%d replies, rtt min/avg/max %s/%s/%s",
		res.Received, res.Sent, fmtDur(res.MinRTT), fmtDur(res.AvgRTT), fmtDur(res.MaxRTT))
}

// errnoText reduces a socket error to the kernel's words ("network is
// unreachable"), dropping Go's "write ip4 0.0.0.0->192.0.2.1: sendto:" prefix.
func errnoText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}

// zoneToIndex replaces dst's zone name, if any, with its interface index.
// Go maps zone names to indexes in the process's own namespace: the name is
// resolved inside the Pinger's.
func (p *Pinger) zoneToIndex(dst netip.Addr) (netip.Addr, error) {
	z := dst.Zone()
	if z == "" {
		return dst, nil
	}
	id, err := within(p.nsFD, func() (uint32, error) { return zoneIndex(z) })
	if err != nil {
		return dst, errors.New("zone " + z + ": " + errnoText(err))
	}
	return dst.WithZone(strconv.FormatUint(uint64(id), 10)), nil
}
