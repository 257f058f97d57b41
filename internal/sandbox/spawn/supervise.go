package spawn

import (
	"os"
	"syscall"
)

// Supervise waits for a child that was handed over, and returns its exit
// code, or 128+N if it died of signal N; the code is meaningful only when
// the error is nil.
//
// The signals that arrive on sigs meanwhile are forwarded to the child once
// it handles them: it is init of its PID namespace, and the kernel drops a
// signal that init has no handler for. The child writes a byte to the
// lifeline when it has its handlers (sandbox.Setup); until then, signals
// wait here.
func (c *Child) Supervise(sigs <-chan os.Signal) (int, error) {
	ready := make(chan struct{})
	go func() {
		var b [1]byte
		c.keep.Read(b[:]) // a byte, or end of file if the child ended first
		close(ready)
	}()
	var pending []os.Signal
	for {
		select {
		case sig := <-sigs:
			pending = append(pending, sig)
			if ready == nil {
				c.forward(pending)
				pending = nil
			}
		case <-ready:
			ready = nil
			c.forward(pending)
			pending = nil
		case <-c.done:
			if c.waitErr != nil {
				return 1, &Error{"wait for child", c.waitErr}
			}
			ws := c.state.Sys().(syscall.WaitStatus)
			if ws.Signaled() {
				return 128 + int(ws.Signal()), nil
			}
			return ws.ExitStatus(), nil
		}
	}
}

// forward sends sigs to the child; it fails only if the child is gone.
func (c *Child) forward(sigs []os.Signal) {
	for _, sig := range sigs {
		c.proc.Signal(sig)
	}
}
