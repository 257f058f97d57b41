package builtins

import (
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPoolReusesWorkers: checks queued while max workers run wait for one
// of them instead of each getting a goroutine; every check runs once.
func TestPoolReusesWorkers(t *testing.T) {
	p := &pool{max: 4, rescueAfter: time.Hour}
	release := make(chan struct{})
	var ran atomic.Int32
	for range 100 {
		p.do(func() {
			<-release
			ran.Add(1)
		})
	}
	p.mu.Lock()
	started, queued := p.started, len(p.queue)
	p.mu.Unlock()
	if started != 4 || queued < 96 {
		t.Errorf("100 checks with max 4 workers: %d workers started, %d checks queued; want 4 and at least 96", started, queued)
	}
	close(release)
	p.close()
	if ran.Load() != 100 || p.started != 4 {
		t.Errorf("after close: %d checks ran on %d workers; want 100 on 4", ran.Load(), p.started)
	}
}

// TestPoolRescuesLongWaits: when every worker is held by a long check
// (a silent probe), the checks queued behind them still start: they wait
// together, not in turn.
func TestPoolRescuesLongWaits(t *testing.T) {
	p := &pool{max: 2, rescueAfter: time.Millisecond}
	release := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(10)
	for range 10 {
		p.do(func() {
			wg.Done() // running
			<-release
		})
	}
	wg.Wait() // all 10 run at once although max is 2
	close(release)
	p.close()
	if p.started != 10 {
		t.Errorf("10 blocked checks: %d workers started, want 10", p.started)
	}
}

// TestPoolRescuesEachCheckOnce: a rescue that comes before the workers of
// the one before it took their checks starts no more workers: each waiting
// check gets one.
func TestPoolRescuesEachCheckOnce(t *testing.T) {
	p := &pool{max: 1, rescueAfter: time.Hour}
	release := make(chan struct{})
	for range 5 {
		p.do(func() { <-release })
	}
	p.mu.Lock()
	p.lastDone = time.Time{} // no check finished for an hour
	p.mu.Unlock()
	p.rescueWaiting()
	p.rescueWaiting()
	close(release)
	p.close()
	if p.started != 5 {
		t.Errorf("5 checks, two rescues: %d workers started, want 5", p.started)
	}
}

// TestPoolCloseLeavesNothing: close returns once every worker has ended,
// queued checks included, and stops the rescue timer.
func TestPoolCloseLeavesNothing(t *testing.T) {
	before := runtime.NumGoroutine()
	p := &pool{max: 1, rescueAfter: time.Hour}
	release := make(chan struct{})
	var ran atomic.Int32
	for range 5 {
		p.do(func() {
			<-release
			ran.Add(1)
		})
	}
	if p.rescue == nil {
		t.Fatal("checks wait behind a busy worker, but no rescue is armed")
	}
	go func() { close(release) }()
	p.close()
	if ran.Load() != 5 {
		t.Errorf("close returned after %d of 5 checks", ran.Load())
	}
	if p.rescue != nil || p.workers != 0 {
		t.Errorf("after close: rescue armed %v, %d workers", p.rescue != nil, p.workers)
	}
	// The workers have returned (wg); their goroutines end right after.
	for i := 0; runtime.NumGoroutine() > before; i++ {
		if i == 1000 {
			t.Fatalf("%d goroutines outlive the pool (%d before)", runtime.NumGoroutine(), before)
		}
		runtime.Gosched()
	}
}

// TestQueuedExpectationsBeforeBarrier: more expectations than the pool
// starts at once, then a change: the change waits for every one of them,
// the queued ones included, so each observes the lab as of its line.
func TestQueuedExpectationsBeforeBarrier(t *testing.T) {
	out, err := runScript(t, `
a = netns("a")
b = netns("b")
ea, eb = veth(ns = a, peer_ns = b, addr = "10.9.0.1/24", peer_addr = "10.9.0.2/24")
for i in range(`+strconv.Itoa(poolMax*2)+`):
    expect_reachable(a, "10.9.0.2")
ea.down()
expect_unreachable(a, "10.9.0.2", timeout = "200ms")
`)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out, fmt.Sprintf("%d passed, 0 failed", poolMax*2+1))
}
