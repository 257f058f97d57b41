package probe

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// TraceOptions tunes one Traceroute. The zero value traces with ICMP echo
// requests over at most 30 hops and waits at most one second for silent hops.
type TraceOptions struct {
	// UDP sends UDP datagrams to high ports (traceroute's default) instead
	// of ICMP echo requests; the destination answers port unreachable.
	UDP bool
	// MaxHops is the largest TTL (hop limit) probed; 30 when 0.
	MaxHops int
	// Timeout bounds the whole trace: hops still silent then are reported
	// without an address. 1s when 0.
	Timeout time.Duration
	// Interval is how often unanswered TTLs are probed again; 200ms when 0.
	Interval time.Duration
}

func (o TraceOptions) withDefaults() TraceOptions {
	if o.MaxHops <= 0 {
		o.MaxHops = 30
	}
	o.MaxHops = min(o.MaxHops, 255)
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	if o.Interval <= 0 {
		o.Interval = 200 * time.Millisecond
	}
	return o
}

// Hop is what one TTL found.
type Hop struct {
	TTL int
	// Addr is the router that reported the expiry, or the destination;
	// invalid for a silent hop.
	Addr netip.Addr
	// RTT is the time from the probe to its answer.
	RTT time.Duration
	// Error is the ICMP error that ended the trace at this hop, other than
	// the destination's own answer ("destination host unreachable"); "" else.
	Error string
}

// Trace is the outcome of one Traceroute.
type Trace struct {
	// Hops lists TTL 1 up to the hop that answered last: the destination,
	// or a router's ICMP error, or, when neither came, one silent hop past
	// the last router that answered.
	Hops []Hop
	// Reached reports that the destination itself answered.
	Reached bool
	// Detail is a short text for humans: "reached in 3 hops", "no answer
	// past hop 2 in 1s", "destination host unreachable (from 10.0.1.1)".
	Detail string
	// Cut reports that ctx ended the trace early.
	Cut     bool
	Elapsed time.Duration
}

// sentProbe is one probe of a trace in flight.
type sentProbe struct {
	ttl int
	at  time.Time
}

// Traceroute finds the routers between the Pinger's namespace and dst by
// sending probes with TTL (hop limit) 1 to MaxHops all at once on the
// Pinger's socket: each router where a probe expires answers time exceeded,
// quoting the probe, and the reader hands the answer to this trace. Probes
// still unanswered are sent again every Interval until Timeout, counted from
// the first probe. As for Ping, time is the kernel's: an answer counts when
// the kernel received it by then, and its RTT is from the probe's send to
// the kernel's receive time.
func (p *Pinger) Traceroute(ctx context.Context, dst netip.Addr, o TraceOptions) Trace {
	start := time.Now()
	o = o.withDefaults()
	dst = dst.Unmap()
	if !dst.IsValid() {
		return Trace{Detail: "invalid address", Elapsed: time.Since(start)}
	}
	s, err := p.newTracer(dst, o.UDP)
	if err != nil {
		return Trace{Detail: err.Error(), Elapsed: time.Since(start)}
	}
	defer s.close()
	s.hops = make([]Hop, o.MaxHops+1)
	return s.run(ctx, o, start)
}

// run sends the probes and waits for the trace's end.
func (s *tracer) run(ctx context.Context, o TraceOptions, start time.Time) Trace {
	var tr Trace
	finish := func(detail string) Trace {
		tr.Elapsed, tr.Detail = time.Since(start), detail
		return tr
	}
	if err := s.sendAll(ctx, o); err != nil {
		return finish(errnoText(err))
	}
	s.due = s.first.Add(o.Timeout)
	deadline := time.NewTimer(time.Until(s.due))
	defer deadline.Stop()
	next := time.NewTicker(o.Interval)
	defer next.Stop()
	atDeadline := func() Trace {
		d := tr.settle(s.hops, s.end, s.dst)
		if s.end == 0 {
			d += " in " + fmtDur(o.Timeout)
		}
		return finish(d)
	}
	for {
		select {
		case <-s.st.notify:
			switch complete, late := s.events(s.st.take()); {
			case complete:
				return finish(tr.settle(s.hops, s.end, s.dst))
			case late:
				return atDeadline()
			}
		case <-next.C:
			if err := s.sendAll(ctx, o); err != nil {
				return finish(errnoText(err))
			}
		case <-deadline.C:
			// The reader may not have had its turn: take what the
			// kernel received by the deadline first.
			s.p.drain(s.sock)
			if complete, _ := s.events(s.st.take()); complete {
				return finish(tr.settle(s.hops, s.end, s.dst))
			}
			return atDeadline()
		case <-ctx.Done():
			tr.Cut = true
			return finish("stopped after " + fmtDur(time.Since(start)) + ": " + tr.settle(s.hops, s.end, s.dst))
		case <-s.p.done:
			return finish(errPingerClosed.Error())
		}
	}
}

// sendAll sends a probe for every TTL still unanswered below the end.
func (s *tracer) sendAll(ctx context.Context, o TraceOptions) error {
	for ttl := 1; ttl <= o.MaxHops && (s.end == 0 || ttl < s.end); ttl++ {
		if !s.hops[ttl].Addr.IsValid() {
			if err := s.send(ctx, ttl); err != nil {
				return err
			}
		}
	}
	return nil
}

// events takes the answers in the order the kernel received them, up to the
// deadline. complete says every hop up to the end answered; late that an
// answer came after the deadline (the timer had not had its turn yet).
func (s *tracer) events(evs []event) (complete, late bool) {
	for _, ev := range evs {
		if ev.at.After(s.due) {
			return false, true
		}
		sp, ok := s.sent[ev.seq]
		if !ok || s.hops[sp.ttl].Addr.IsValid() {
			continue
		}
		h := &s.hops[sp.ttl]
		h.TTL, h.Addr, h.RTT = sp.ttl, ev.from, ev.at.Sub(sp.at)
		if s.expired(ev) {
			continue
		}
		if !s.reached(ev, s.dst) {
			h.Error = describeError(ev)
		}
		if s.end == 0 || sp.ttl < s.end {
			s.end = sp.ttl
		}
	}
	return s.end > 0 && answeredBelow(s.hops, s.end), false
}

// answeredBelow reports whether every TTL below end has its answer.
func answeredBelow(hops []Hop, end int) bool {
	for ttl := 1; ttl < end; ttl++ {
		if !hops[ttl].Addr.IsValid() {
			return false
		}
	}
	return true
}

// settle fills tr from the answers by TTL and returns its detail text.
func (tr *Trace) settle(hops []Hop, end int, dst netip.Addr) string {
	last := end
	if last == 0 {
		for ttl := len(hops) - 1; ttl > 0; ttl-- {
			if hops[ttl].Addr.IsValid() {
				last = ttl
				break
			}
		}
		last = min(last+1, len(hops)-1) // one silent hop shows where it died
	}
	tr.Hops = make([]Hop, last)
	for i := range tr.Hops {
		tr.Hops[i] = hops[i+1]
		tr.Hops[i].TTL = i + 1
	}
	switch h := hops[last]; {
	case end > 0 && h.Error != "":
		return h.Error
	case end > 0:
		tr.Reached = true
		return fmt.Sprintf("reached %s in %d hops", dst, end)
	}
	return fmt.Sprintf("no answer from %s past hop %d", dst, last-1)
}

// tracer sends the probes of one trace and recognises their answers.
type tracer struct {
	p     *Pinger
	dst   netip.Addr // zone as an index
	sock  *icmpSock  // where the answers arrive
	udp   *udpSender // nil for ICMP echo probes
	st    *probeState
	sent  map[uint16]sentProbe // by sequence number or destination port
	keys  []waitKey
	dport uint16
	first time.Time // the first probe's send
	due   time.Time // the deadline: first + Timeout
	hops  []Hop     // by TTL; hops[0] unused
	end   int       // the TTL of the answer that ends the trace, 0 until one came
}

func (p *Pinger) newTracer(dst netip.Addr, udp bool) (*tracer, error) {
	zdst, err := p.zoneToIndex(dst)
	if err != nil {
		return nil, err
	}
	s := &tracer{p: p, dst: zdst, st: &probeState{notify: make(chan struct{}, 1)},
		sent: make(map[uint16]sentProbe), dport: traceBasePort}
	if s.sock, err = p.conn(dst.Is6()); err != nil { // the reader must run
		return nil, err
	}
	if udp {
		if s.udp, err = p.newUDPSender(dst.Is6()); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// traceBasePort is traceroute's first destination port.
const traceBasePort = 33434

// send sends one probe with the given TTL.
func (s *tracer) send(ctx context.Context, ttl int) error {
	key := s.dst.WithZone("")
	var b []byte
	if s.udp != nil {
		s.dport++
		if s.dport < traceBasePort {
			s.dport = traceBasePort
		}
		k := waitKey{dst: key, seq: s.dport, sport: s.udp.port}
		if err := s.p.registerKey(k, s.st); err != nil {
			return err
		}
		s.keys = append(s.keys, k)
		port := s.dport
		return retryNoBufs(ctx, time.Second, func() error {
			s.sent[port] = s.sentNow(ttl)
			return s.udp.send(s.dst, port, ttl)
		})
	}
	seq, err := s.p.register(key, s.st)
	if err != nil {
		return err
	}
	s.keys = append(s.keys, waitKey{dst: key, seq: seq})
	var typ icmp.Type = ipv4.ICMPTypeEcho
	if s.dst.Is6() {
		typ = ipv6.ICMPTypeEchoRequest
	}
	m := icmp.Message{Type: typ, Body: &icmp.Echo{ID: int(s.p.id), Seq: int(seq), Data: make([]byte, 32)}}
	if b, err = m.Marshal(nil); err != nil {
		return err
	}
	return retryNoBufs(ctx, time.Second, func() error {
		s.sent[seq] = s.sentNow(ttl)
		return sendTo(s.sock.IPConn, b, s.dst, sendOpts{ttl: ttl})
	})
}

// sentNow records a probe with the given TTL sent now: right before the
// send system call.
func (s *tracer) sentNow(ttl int) sentProbe {
	sp := sentProbe{ttl, time.Now()}
	if s.first.IsZero() {
		s.first = sp.at
	}
	return sp
}

// expired reports whether ev is a router's "time exceeded in transit".
func (s *tracer) expired(ev event) bool {
	if ev.reply {
		return false
	}
	if ev.v6 {
		return ev.typ == icmp6TimeExceed && ev.code == 0
	}
	return ev.typ == icmp4TimeExceed && ev.code == 0
}

// reached reports whether ev is the destination's own answer: an echo
// reply, or port unreachable from it for a UDP probe.
func (s *tracer) reached(ev event, dst netip.Addr) bool {
	if ev.reply {
		return true
	}
	if s.udp == nil || ev.from != dst.WithZone("") {
		return false
	}
	if ev.v6 {
		return ev.typ == icmp6DstUnreach && ev.code == 4
	}
	return ev.typ == icmp4DstUnreach && ev.code == 3
}

func (s *tracer) close() {
	s.p.forget(s.keys)
	if s.udp != nil {
		s.udp.close()
	}
}
