package control

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

// dial connects to the lab socket at path.
func dial(path string) (*net.UnixConn, error) {
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, os.ErrNotExist) {
			return nil, errors.New("the lab is gone")
		}
		return nil, err
	}
	return c, nil
}

// ErrNotPaused is GetInfo's error when the lab does not answer in time: it
// is still running its script.
var ErrNotPaused = errors.New("the lab is still running its script")

// GetInfo asks the lab at path to describe itself, waiting at most wait.
func GetInfo(path string, wait time.Duration) (*Info, error) {
	c, err := dial(path)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := send(c, Request{Op: "info"}); err != nil {
		return nil, err
	}
	c.SetReadDeadline(time.Now().Add(wait))
	var r Reply
	if _, err := recv(c, &r); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, ErrNotPaused
		}
		return nil, err
	}
	if r.Error != "" {
		return nil, errors.New(r.Error)
	}
	if r.Info == nil {
		return nil, errors.New("the lab sent no description")
	}
	return r.Info, nil
}

// Stop asks the lab at path to end its pause (and so its run).
func Stop(path string) error {
	c, err := dial(path)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := send(c, Request{Op: "stop"}); err != nil {
		return err
	}
	var r Reply
	if _, err := recv(c, &r); err != nil {
		return err
	}
	if r.Error != "" {
		return errors.New(r.Error)
	}
	return nil
}

// Check asks the lab at path to grade itself (a "check" request, req.Op
// is set here), with out for what the grading prints, and returns the
// lab's result. waiting, when not nil, is called if the lab has not
// answered after a second (it is still running its script).
func Check(path string, req Request, out *os.File, waiting func()) (Reply, error) {
	req.Op = "check"
	c, r, err := ask(path, req, []*os.File{out}, waiting)
	if err == nil {
		c.Close()
	}
	return r, err
}

// ask sends req with files to the lab at path and reads its first answer
// (see recvStart for waiting). It returns the connection, still open, unless
// the lab could not be asked or refused.
func ask(path string, req Request, files []*os.File, waiting func()) (*net.UnixConn, Reply, error) {
	c, err := dial(path)
	if err != nil {
		return nil, Reply{}, err
	}
	if err := send(c, req, files...); err != nil {
		c.Close()
		return nil, Reply{}, err
	}
	r, err := recvStart(c, waiting)
	if err != nil {
		c.Close()
		return nil, Reply{}, fmt.Errorf("the lab went away: %w", err)
	}
	if r.Error != "" {
		c.Close()
		return nil, Reply{}, errors.New(r.Error)
	}
	return c, r, nil
}

// Exec asks the lab at path to run req (Op "exec") with stdio as the
// command's standard input, output and error, and waits for it to end. It
// forwards every signal received on sigs to the command's process group.
// started, when not nil, is called once the command runs (e.g. to close
// the client's copy of a pty slave); waiting, when not nil, is called if the
// lab has not answered after a second (it is still running its script).
// The reply tells how the command ended.
func Exec(path string, req Request, stdio []*os.File, sigs <-chan os.Signal, started, waiting func()) (Reply, error) {
	req.Op = "exec"
	c, r, err := ask(path, req, stdio, waiting)
	if err != nil {
		return Reply{}, err
	}
	defer c.Close()
	if started != nil {
		started()
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case s := <-sigs:
				if n, ok := s.(syscall.Signal); ok {
					send(c, Request{Op: "signal", Signal: int(n)})
				}
			case <-done:
				return
			}
		}
	}()
	for {
		r = Reply{}
		if _, err := recv(c, &r); err != nil {
			return Reply{}, fmt.Errorf("the lab went away: %w", err)
		}
		if r.Exited {
			return r, nil
		}
	}
}

// waitNotice is how long Exec waits for the lab's first answer before it
// calls its waiting function.
var waitNotice = time.Second

// recvStart reads the lab's answer to an exec request (the command started,
// or why not). When waiting is not nil and the answer takes longer than
// waitNotice, it calls waiting and goes on waiting. The read deadline is
// cleared before it returns: the command's exit may come any time later.
func recvStart(c *net.UnixConn, waiting func()) (Reply, error) {
	var r Reply
	if waiting == nil {
		_, err := recv(c, &r)
		return r, err
	}
	c.SetReadDeadline(time.Now().Add(waitNotice))
	_, err := recv(c, &r)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		waiting()
		c.SetReadDeadline(time.Time{})
		_, err = recv(c, &r)
	}
	c.SetReadDeadline(time.Time{})
	return r, err
}

// ExitCode turns how a command ended into an exit status: its own code, or
// 128+N when signal N killed it.
func (r Reply) ExitCode() int {
	if r.Signal != 0 {
		return 128 + r.Signal
	}
	return r.Code
}
