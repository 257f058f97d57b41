package signals

import (
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// TestTakeAfterStart: the channel Take returns once Start was called
// receives a SIGINT sent right after Take, although Start asked for the
// signals on a goroutine of its own.
func TestTakeAfterStart(t *testing.T) {
	Start()
	c := Take()
	defer signal.Stop(ch)
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-c:
		if s != syscall.SIGINT {
			t.Errorf("got %v, want SIGINT", s)
		}
	case <-time.After(time.Minute): // a hang guard, not a speed limit
		t.Fatal("SIGINT never arrived on Take's channel")
	}
}
