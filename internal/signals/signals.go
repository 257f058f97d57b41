// Package signals catches SIGINT and SIGTERM from the moment the process
// starts, so that nsscript run answers a signal in its first milliseconds as
// it answers a later one (it stops and exits 2) instead of dying of it.
//
// Its init function runs among the first of the program's packages (it
// imports only os/signal and the packages that one needs), before the larger
// packages initialise. The command that handles signals itself takes the
// channel with Take; any other command calls Release, which gives the
// signals back their default action, delivering one that already came.
package signals

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
)

var (
	ch   = make(chan os.Signal, 8)
	once sync.Once
)

func init() { signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM) }

// Take returns the channel on which SIGINT and SIGTERM arrive, those that
// came before the call included.
func Take() <-chan os.Signal { return ch }

// Release stops catching SIGINT and SIGTERM. A signal that came meanwhile is
// delivered again with its default action, so the process dies of it as it
// would have without this package.
func Release() {
	once.Do(func() {
		signal.Stop(ch)
		select {
		case s := <-ch:
			signal.Reset(s)
			syscall.Kill(os.Getpid(), s.(syscall.Signal))
		default:
		}
	})
}
