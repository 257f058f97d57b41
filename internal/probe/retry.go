package probe

import (
	"context"
	"errors"
	"syscall"
	"time"
)

// retryNoBufs calls fn until it returns anything but ENOBUFS ("no buffer
// space available"), for at most limit and while ctx lasts, waiting a little
// longer each time (1ms, doubling, at most 50ms). The kernel answers a send
// or connect with ENOBUFS when a queue is momentarily full: under load, with
// many IPv6 probes at once (neighbour and route entries being made). That is
// back-pressure, not a verdict about the network, so a probe waits for room
// as ping(8) does; what fn returns last is returned.
func retryNoBufs(ctx context.Context, limit time.Duration, fn func() error) error {
	end := time.Now().Add(limit)
	delay := time.Millisecond
	for {
		err := fn()
		if !errors.Is(err, syscall.ENOBUFS) || time.Now().Add(delay).After(end) {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
}
