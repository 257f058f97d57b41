// Package signals catches SIGINT and SIGTERM from the moment the process
// starts, so that nsscript run answers a signal in its first milliseconds as
// it answers a later one (it stops and exits 2) instead of dying of it.
//
// The nsscript binary calls Start from the init function of
// internal/signals/early, which cmd/nsscript imports for that alone: it runs
// among the first of the program's packages (it imports only os/signal and
// the packages that one needs), before the larger packages initialise.
// Other programs that link this package (tests) never catch anything. The
// command that handles signals itself takes the channel with Take; any other
// command calls Release, which gives the signals back their default action,
// delivering one that already came.
package signals

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
)

var (
	ch      chan os.Signal
	caught  chan struct{} // closed once ch receives the signals
	release sync.Once
)

// Start catches SIGINT and SIGTERM from a moment from now on. Call it once,
// first thing.
//
// It does not wait: signal.Notify's first call starts a thread of the
// runtime's for signals and hands each signal over to it, waiting for it
// twice per signal, which costs about a millisecond of the program's start
// (more on a loaded machine) if the caller waits. A goroutine calls it while
// the program's start goes on; Take and Release wait for it. A signal that
// comes before it is done has its default action, as one that comes before
// Start is called.
func Start() {
	ch = make(chan os.Signal, 8)
	caught = make(chan struct{})
	go func() {
		signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
		close(caught)
	}()
}

// Take returns the channel on which SIGINT and SIGTERM arrive, those that
// came since Start caught them included, or nil when Start was not called.
func Take() <-chan os.Signal {
	if ch != nil {
		<-caught
	}
	return ch
}

// Release stops catching SIGINT and SIGTERM. A signal that came meanwhile is
// delivered again with its default action, so the process dies of it as it
// would have without this package.
func Release() {
	if ch == nil {
		return
	}
	<-caught
	release.Do(func() {
		signal.Stop(ch)
		select {
		case s := <-ch:
			signal.Reset(s)
			syscall.Kill(os.Getpid(), s.(syscall.Signal))
		default:
		}
	})
}

// Or returns ch when it is set, and otherwise a new channel on which SIGINT
// and SIGTERM arrive from now on (for callers, such as tests, that did not
// Take them at start); stop ends that.
func Or(ch <-chan os.Signal) (sigs <-chan os.Signal, stop func()) {
	if ch != nil {
		return ch, func() {}
	}
	own := make(chan os.Signal, 4)
	signal.Notify(own, syscall.SIGINT, syscall.SIGTERM)
	return own, func() { signal.Stop(own) }
}
