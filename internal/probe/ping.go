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
	// bounds the whole probe; with Count it runs from the last request, as
	// ping's -W does, so it never cuts the count short.
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
func (p *Pinger) Ping(ctx context.Context, dst netip.Addr, o Options) Result {
	start := time.Now()
	o = o.withDefaults()
	dst = dst.Unmap()
	res := Result{Src: o.Src}
	finish := func(out Outcome, detail string) Result {
		res.Elapsed = time.Since(start)
		res.Outcome, res.Detail = out, detail
		return res
	}
	if !dst.IsValid() {
		return finish(NoRoute, "invalid address")
	}
	conn, err := p.conn(dst.Is6())
	if err != nil {
		return finish(NoRoute, err.Error())
	}
	if dst, err = p.zoneToIndex(dst); err != nil {
		return finish(NoRoute, err.Error())
	}
	key := dst.WithZone("")
	to := &net.IPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}
	st := &probeState{notify: make(chan struct{}, 1)}
	sentAt := make(map[uint16]time.Time)
	var seqs []uint16
	defer func() { p.unregister(key, seqs) }()
	payload := make([]byte, o.Size)
	for i := range payload {
		payload[i] = byte(i)
	}

	deadline := time.NewTimer(o.Timeout)
	defer deadline.Stop()
	if o.Count > 1 {
		deadline.Stop() // armed when the last request is sent
	}
	next := time.NewTimer(o.Interval)
	defer next.Stop()
	var sum time.Duration

	send := func() error {
		seq, err := p.register(key, st)
		if err != nil {
			return err
		}
		seqs = append(seqs, seq)
		var typ icmp.Type = ipv4.ICMPTypeEcho
		if dst.Is6() {
			typ = ipv6.ICMPTypeEchoRequest
		}
		m := icmp.Message{Type: typ, Body: &icmp.Echo{ID: int(p.id), Seq: int(seq), Data: payload}}
		b, err := m.Marshal(nil) // the kernel fills in the ICMPv6 checksum
		if err != nil {
			return err
		}
		sentAt[seq] = time.Now()
		res.Sent++
		return retryNoBufs(ctx, o.Timeout, func() error {
			if o.DF {
				return p.sendDF(dst, o.Src, b)
			}
			if o.Src.IsValid() {
				return sendTo(conn, b, dst, sendOpts{src: o.Src})
			}
			_, err := conn.WriteToIP(b, to)
			return err
		})
	}
	sendErr := func(err error) Result {
		if o.DF && errors.Is(err, unix.EMSGSIZE) && res.Received == 0 {
			res.MTU = p.pathMTU(dst)
			// The stack knows the path MTU already (the first link's, or
			// one a router reported to an earlier probe): word it as the
			// router's answer would be, from the local stack.
			what := "fragmentation needed"
			if dst.Is6() {
				what = "packet too big"
			}
			return finish(FragNeeded, fmt.Sprintf("%s (mtu %d) (local)", what, res.MTU))
		}
		if res.Received > 0 {
			return finish(Reply, fmt.Sprintf("%s, then %s", replyText(res, o), errnoText(err)))
		}
		return finish(NoRoute, errnoText(err))
	}

	if err := send(); err != nil {
		return sendErr(err)
	}
	for {
		select {
		case <-st.notify:
			for _, ev := range st.take() {
				if !ev.reply {
					res.From = ev.from
					if ev.fragNeeded() && !o.DF {
						continue // the kernel now knows the path MTU: resends are fragmented
					}
					if ev.fragNeeded() && res.Received == 0 {
						res.MTU = ev.mtu
						return finish(FragNeeded, describeError(ev))
					}
					if res.Received > 0 {
						return finish(Reply, replyText(res, o)+", then "+describeError(ev))
					}
					return finish(Unreachable, describeError(ev))
				}
				t0, ok := sentAt[ev.seq]
				if !ok {
					continue
				}
				delete(sentAt, ev.seq) // a duplicate reply counts once
				rtt := ev.at.Sub(t0)
				res.Received++
				if res.Received == 1 {
					res.RTT, res.MinRTT, res.MaxRTT = rtt, rtt, rtt
					res.From, res.TTL = ev.from, max(ev.ttl, 0)
					if ev.to.IsValid() {
						res.Src = ev.to
					}
				}
				res.MinRTT, res.MaxRTT = min(res.MinRTT, rtt), max(res.MaxRTT, rtt)
				sum += rtt
				res.AvgRTT = sum / time.Duration(res.Received)
				if o.Count == 0 || res.Received >= o.Count {
					return finish(Reply, replyText(res, o))
				}
			}
		case <-next.C:
			if o.Count == 0 || res.Sent < o.Count {
				if err := send(); err != nil {
					return sendErr(err)
				}
				if res.Sent == o.Count {
					deadline.Reset(o.Timeout)
				}
				next.Reset(o.Interval)
			}
		case <-deadline.C:
			if res.Received > 0 {
				return finish(Reply, replyText(res, o))
			}
			return finish(Timeout, "no reply in "+fmtDur(o.Timeout))
		case <-ctx.Done():
			res.Cut = true
			stopped := "stopped after " + fmtDur(time.Since(start)) + ": "
			if res.Received > 0 {
				return finish(Reply, stopped+replyText(res, o))
			}
			return finish(Timeout, stopped+"no reply yet")
		case <-p.done:
			return finish(NoRoute, errPingerClosed.Error())
		}
	}
}

// replyText summarises the replies so far.
func replyText(r Result, o Options) string {
	if o.Count == 0 {
		return "reply in " + fmtDur(r.RTT)
	}
	return fmt.Sprintf("%d/%d replies, rtt min/avg/max %s/%s/%s",
		r.Received, r.Sent, fmtDur(r.MinRTT), fmtDur(r.AvgRTT), fmtDur(r.MaxRTT))
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
