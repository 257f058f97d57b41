package lab

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/nsscript/nsscript/internal/probe"
)

// Watch is a continuous background probe: one ICMP echo request from Src to
// Dst every Interval, each waiting up to Timeout for its reply, until Stop.
// It runs on its own clock, beside the script's changes (it is not held by
// the barriers that order expectations): it observes the lab over time.
type Watch struct {
	Src               *Netns
	Dst               netip.Addr
	Interval, Timeout time.Duration
	Started           time.Time

	cancel   context.CancelFunc // stops sending
	inflight sync.WaitGroup     // echoes waiting for their reply
	sender   chan struct{}      // closed when the sender has returned
	stopOnce sync.Once

	mu      sync.Mutex
	echoes  []echo // in the order they were sent
	stopped time.Duration
	done    bool
}

// echo is one request of a watch: when it was sent (from Started) and how
// it ended.
type echo struct {
	sent       time.Duration
	replyAt    time.Duration // when the reply came, from Started
	settled    bool          // a reply came, or the request is known lost
	reply, cut bool          // cut: the run ended before the request settled
}

// Window is one loss window of a watch, as offsets from its start: from the
// sending of the first request lost to the sending of the next request
// answered (or, when none was, the end of the watch so far).
type Window struct{ Start, End time.Duration }

// WatchResult is what a watch saw until now (or until it stopped).
type WatchResult struct {
	Sent, Received, Lost int
	Windows              []Window
	MaxOutage            time.Duration
	// FirstReply and LastReply are the arrival times of the first and the
	// last reply, from the start; -1 when none came.
	FirstReply, LastReply time.Duration
	Elapsed               time.Duration // from the start to now, or to Stop
	Running               bool
}

// StartWatch starts a watch from src to dst. Each request is sent after the
// lab is ready for a probe (beforeProbe, as for every probe), so links the
// script sets up meanwhile settle first. The watch ends at Stop or with ctx.
func (l *Lab) StartWatch(ctx context.Context, src *Netns, dst netip.Addr, interval, timeout time.Duration) (*Watch, error) {
	w := &Watch{Src: src, Dst: dst, Interval: interval, Timeout: timeout, sender: make(chan struct{})}
	if l.opts.Plan {
		w.Started, w.done = time.Now(), true
		close(w.sender)
		return w, nil
	}
	p, err := src.Pinger()
	if err != nil {
		return nil, fmt.Errorf("open icmp socket in netns %q: %w", src.Name, err)
	}
	l.beforeProbe(ctx, src, dst)
	sendCtx, cancel := context.WithCancel(ctx)
	w.cancel = cancel
	w.Started = time.Now()
	go w.send(sendCtx, ctx, l, p)
	return w, nil
}

// send sends one request every Interval until ctx ends. Each request waits
// for its reply until runCtx ends: a stop does not cut it short.
func (w *Watch) send(ctx, runCtx context.Context, l *Lab, p *probe.Pinger) {
	defer close(w.sender)
	tick := time.NewTicker(w.Interval)
	defer tick.Stop()
	for ctx.Err() == nil {
		l.beforeProbe(ctx, w.Src, w.Dst)
		w.mu.Lock()
		i := len(w.echoes)
		w.echoes = append(w.echoes, echo{sent: time.Since(w.Started)})
		w.mu.Unlock()
		w.inflight.Add(1)
		go func() {
			defer w.inflight.Done()
			res := p.Ping(runCtx, w.Dst, probe.Options{Count: 1, Timeout: w.Timeout})
			w.mu.Lock()
			e := &w.echoes[i]
			e.settled, e.reply, e.cut = true, res.Received > 0, res.Cut
			e.replyAt = e.sent + res.Elapsed
			w.mu.Unlock()
		}()
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
	}
}

// Stop ends the watch: no request is sent after it, and those in flight get
// their reply or time out (at most Timeout) before it returns.
func (w *Watch) Stop() {
	w.stopOnce.Do(func() {
		if w.cancel == nil { // planned
			return
		}
		w.cancel()
		<-w.sender
		w.inflight.Wait()
		w.mu.Lock()
		w.stopped, w.done = time.Since(w.Started), true
		w.mu.Unlock()
	})
}

// Result reports what the watch saw so far: requests still waiting for
// their reply are left out until they settle.
func (w *Watch) Result() WatchResult {
	w.mu.Lock()
	defer w.mu.Unlock()
	res := WatchResult{FirstReply: -1, LastReply: -1, Elapsed: w.stopped, Running: !w.done}
	if !w.done {
		res.Elapsed = time.Since(w.Started)
	}
	open := time.Duration(-1) // start of the loss window in progress
	for _, e := range w.echoes {
		if !e.settled || e.cut {
			continue
		}
		res.Sent++
		if !e.reply {
			res.Lost++
			if open < 0 {
				open = e.sent
			}
			continue
		}
		res.Received++
		if res.FirstReply < 0 {
			res.FirstReply = e.replyAt
		}
		res.LastReply = max(res.LastReply, e.replyAt)
		if open >= 0 {
			res.Windows = append(res.Windows, Window{open, e.sent})
			open = -1
		}
	}
	if open >= 0 {
		res.Windows = append(res.Windows, Window{open, res.Elapsed})
	}
	for _, win := range res.Windows {
		res.MaxOutage = max(res.MaxOutage, win.End-win.Start)
	}
	return res
}

// WatchCmd is the shell equivalent of a watch, for explain: a ping in the
// background that prints each reply with its time (-D) and each lost
// request (-O).
func WatchCmd(src *Netns, dst netip.Addr, interval, timeout time.Duration) string {
	return inNS(src, fmt.Sprintf("ping -D -O -i%s -W%s %s > watch.log &",
		strconv.FormatFloat(interval.Seconds(), 'f', -1, 64), strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64), dst))
}
