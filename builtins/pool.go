package builtins

import (
	"sync"
	"time"
)

// pool runs the checks of expectations on reused goroutines. A script
// queues expectations faster than they finish (mesh.star queues 2,450 in
// one loop): one goroutine each had nearly all of them alive at once, each
// with a stack of fresh memory, and the page faults of those stacks were a
// good part of a probe's cost. The pool starts a worker for a check only
// while fewer than max are running; otherwise the check waits in a queue
// for the next worker that is done. Checks that wait long (silent probes,
// a long within=) must not hold the others back: when no check has
// finished for rescueAfter while checks wait, every waiting check gets a
// worker of its own, so silent probes still wait their timeouts together.
// A worker ends when it finds the queue empty; close waits for the last.
//
// The pool changes when a check starts, never what it observes: every
// change of the lab waits for the expectations queued before it
// (Run.Flush), started or not.
type pool struct {
	max         int           // workers started without waiting
	rescueAfter time.Duration // longest time without progress

	mu       sync.Mutex
	queue    []func()
	workers  int         // running
	free     int         // running and not holding a check: about to take the next
	lastDone time.Time   // when a check last finished (or the queue began)
	rescue   *time.Timer // armed while checks wait and max workers run
	closed   bool
	wg       sync.WaitGroup
	started  int // workers started, for tests
}

// Defaults of the pool: enough workers to keep both the probes' batching
// (neighbour preparation in static mode) and the CPUs busy; a rescue soon
// enough that a check held up by long ones waits little longer than it
// would have for a CPU.
const (
	poolMax         = 128
	poolRescueAfter = 100 * time.Millisecond
)

func newPool() *pool { return &pool{max: poolMax, rescueAfter: poolRescueAfter} }

// do runs fn on a worker: a new one while fewer than max run, else the
// next that is done (or a new one when none finishes for rescueAfter).
func (p *pool) do(fn func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.queue) == 0 {
		p.lastDone = time.Now() // no check waited before this one
	}
	p.queue = append(p.queue, fn)
	switch {
	case p.workers < p.max:
		p.spawn()
	case p.rescue == nil && !p.closed:
		p.rescue = time.AfterFunc(p.rescueAfter, p.rescueWaiting)
	}
}

// spawn starts a worker. p.mu is held.
func (p *pool) spawn() {
	p.workers++
	p.free++
	p.started++
	p.wg.Add(1)
	go p.work()
}

// work runs queued checks until the queue is empty.
func (p *pool) work() {
	defer p.wg.Done()
	p.mu.Lock()
	for len(p.queue) > 0 {
		fn := p.queue[0]
		p.queue[0] = nil
		p.queue = p.queue[1:]
		p.free--
		p.mu.Unlock()
		fn()
		p.mu.Lock()
		p.free++
		p.lastDone = time.Now()
	}
	p.free--
	p.workers--
	p.mu.Unlock()
}

// rescueWaiting starts a worker for every waiting check that no free
// worker is about to take, when no check has finished for rescueAfter;
// otherwise it looks again rescueAfter after the last one finished. (A
// second rescue before the first one's workers got to the queue started
// them all again: make stress saw 12 workers for 10 checks.)
func (p *pool) rescueWaiting() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rescue = nil
	if p.closed || len(p.queue) == 0 {
		return
	}
	if since := time.Since(p.lastDone); since < p.rescueAfter {
		p.rescue = time.AfterFunc(p.rescueAfter-since, p.rescueWaiting)
		return
	}
	for range len(p.queue) - p.free {
		p.spawn()
	}
}

// close waits until every worker has ended, queued checks done (the
// workers run them; the rescue stays armed meanwhile), then disarms the
// rescue.
func (p *pool) close() {
	p.wg.Wait()
	p.mu.Lock()
	p.closed = true
	if p.rescue != nil {
		p.rescue.Stop()
		p.rescue = nil
	}
	p.mu.Unlock()
}
