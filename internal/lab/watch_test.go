package lab

import (
	"slices"
	"testing"
	"time"
)

// TestWatchResult: loss windows run from the first lost request to the
// next answered one; requests still in flight or cut short by the end of
// the run are left out; a window still open at the stop ends there.
func TestWatchResult(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	ok := func(at, rtt int) echo { return echo{sent: ms(at), replyAt: ms(at + rtt), settled: true, reply: true} }
	lost := func(at int) echo { return echo{sent: ms(at), settled: true} }
	w := &Watch{done: true, stopped: ms(1000), echoes: []echo{
		ok(0, 1), lost(50), echo{sent: ms(100)}, lost(150), ok(200, 2), // one window, 50..200, a request in flight
		ok(250, 1), echo{sent: ms(300), settled: true, cut: true}, lost(350), lost(400), // an open window, 350..stop
	}}
	res := w.Result()
	want := []Window{{ms(50), ms(200)}, {ms(350), ms(1000)}}
	if !slices.Equal(res.Windows, want) {
		t.Errorf("windows = %v, want %v", res.Windows, want)
	}
	if res.Sent != 7 || res.Received != 3 || res.Lost != 4 {
		t.Errorf("sent, received, lost = %d, %d, %d, want 7, 3, 4", res.Sent, res.Received, res.Lost)
	}
	if res.MaxOutage != ms(650) || res.FirstReply != ms(1) || res.LastReply != ms(251) || res.Running {
		t.Errorf("max outage %v, first %v, last %v, running %v; want 650ms, 1ms, 251ms, false", res.MaxOutage, res.FirstReply, res.LastReply, res.Running)
	}
	if res := (&Watch{done: true}).Result(); res.FirstReply != -1 || res.LastReply != -1 || len(res.Windows) != 0 {
		t.Errorf("empty watch: %+v", res)
	}
}
