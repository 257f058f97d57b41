package probe

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestRetryNoBufs(t *testing.T) {
	enobufs := os.NewSyscallError("sendto", syscall.ENOBUFS)
	calls := 0
	err := retryNoBufs(context.Background(), time.Hour, func() error {
		calls++
		if calls < 4 {
			return enobufs
		}
		return nil
	})
	if err != nil || calls != 4 {
		t.Errorf("ENOBUFS three times, then success: %v after %d calls, want nil after 4", err, calls)
	}

	calls = 0
	other := os.NewSyscallError("sendto", syscall.ENETUNREACH)
	if err := retryNoBufs(context.Background(), time.Hour, func() error { calls++; return other }); err != other || calls != 1 {
		t.Errorf("another error: %v after %d calls, want it at once", err, calls)
	}

	// A cancelled context (or the limit) ends the retries with the error.
	ctx, cancel := context.WithCancel(context.Background())
	calls = 0
	err = retryNoBufs(ctx, time.Hour, func() error {
		calls++
		if calls == 3 {
			cancel()
		}
		return enobufs
	})
	if !errors.Is(err, syscall.ENOBUFS) || calls != 3 {
		t.Errorf("cancelled: %v after %d calls, want ENOBUFS after 3", err, calls)
	}
	calls = 0
	if err := retryNoBufs(context.Background(), 0, func() error { calls++; return enobufs }); !errors.Is(err, syscall.ENOBUFS) || calls != 1 {
		t.Errorf("no time to retry: %v after %d calls", err, calls)
	}
}
