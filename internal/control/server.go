package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/sandbox"
)

// StartFunc starts the command of an exec request with the client's
// standard files (stdin, stdout, stderr) and returns it started, through
// sandbox.StartCmd (the server waits for it with sandbox.WaitCmd).
type StartFunc func(req *Request, stdio []*os.File) (*exec.Cmd, error)

// CheckFunc grades the paused lab for a "check" request, writing what it
// prints to out, and returns the outcome for the client.
type CheckFunc func(req *Request, out *os.File) (json.RawMessage, error)

// Server answers the clients of one paused lab on its socket.
type Server struct {
	info  Info
	start StartFunc
	check CheckFunc
	ln    *net.UnixListener

	mu      sync.Mutex
	running map[*exec.Cmd]bool
	closed  bool
	stopped chan struct{} // closed by a "stop" request
	stopOne sync.Once
	wg      sync.WaitGroup
}

// NewServer returns a server for the lab described by info that starts
// commands with start. It serves ln once Serve is called.
func NewServer(ln *net.UnixListener, info Info, start StartFunc) *Server {
	return &Server{info: info, start: start, ln: ln, running: map[*exec.Cmd]bool{}, stopped: make(chan struct{})}
}

// SetCheck makes the server answer "check" requests with fn. Call it before
// Serve.
func (s *Server) SetCheck(fn CheckFunc) { s.check = fn }

// Stopped is closed when a client asked the lab to stop (nsscript stop).
func (s *Server) Stopped() <-chan struct{} { return s.stopped }

// Serve accepts clients until Close. It always returns a non-nil error.
func (s *Server) Serve() error {
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return net.ErrClosed
			}
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				continue
			}
			return err
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			s.handle(c)
		}()
	}
}

// Close stops accepting, kills every command the lab started for a client
// (each runs in its own process group) and waits for their clients to be
// told.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for cmd := range s.running {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

func (s *Server) handle(c *net.UnixConn) {
	var req Request
	files, err := recv(c, &req)
	if err != nil {
		return
	}
	defer closeAll(files)
	if err := checkPeer(c); err != nil {
		send(c, Reply{Error: err.Error()})
		return
	}
	switch req.Op {
	case "info":
		info := s.info
		send(c, Reply{Info: &info})
	case "stop":
		s.stopOne.Do(func() { close(s.stopped) })
		send(c, Reply{})
	case "exec":
		s.exec(c, &req, files)
	case "check":
		s.grade(c, &req, files)
	default:
		send(c, Reply{Error: fmt.Sprintf("unknown request %q", req.Op)})
	}
}

// grade answers a "check" request: the client's output file comes with it.
func (s *Server) grade(c *net.UnixConn, req *Request, files []*os.File) {
	if s.check == nil {
		send(c, Reply{Error: "this lab cannot grade itself"})
		return
	}
	if len(files) != 1 {
		send(c, Reply{Error: fmt.Sprintf("check needs 1 output file, got %d", len(files))})
		return
	}
	res, err := s.check(req, files[0])
	if err != nil {
		send(c, Reply{Error: err.Error()})
		return
	}
	send(c, Reply{Result: res})
}

// exec starts the command, forwards the client's signals to its process
// group, kills it when the client goes away, and reports how it ended.
func (s *Server) exec(c *net.UnixConn, req *Request, files []*os.File) {
	if len(files) != 3 {
		send(c, Reply{Error: fmt.Sprintf("exec needs 3 standard files, got %d", len(files))})
		return
	}
	if len(req.Argv) == 0 {
		send(c, Reply{Error: "exec needs a command"})
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		send(c, Reply{Error: "the lab is ending"})
		return
	}
	cmd, err := s.start(req, files)
	if err == nil {
		s.running[cmd] = true
	}
	s.mu.Unlock()
	closeAll(files) // the command has its own copies now
	if err != nil {
		send(c, Reply{Error: err.Error()})
		return
	}
	pid := cmd.Process.Pid
	send(c, Reply{Started: pid})

	done := make(chan struct{})
	go func() {
		for {
			var m Request
			fs, err := recv(c, &m)
			closeAll(fs)
			select {
			case <-done:
				return
			default:
			}
			if err != nil {
				// The client is gone: so is the command.
				syscall.Kill(-pid, syscall.SIGKILL)
				return
			}
			if m.Op == "signal" && m.Signal > 0 && m.Signal < 65 {
				syscall.Kill(-pid, syscall.Signal(m.Signal))
			}
		}
	}()
	werr := sandbox.WaitCmd(cmd) // started by a StartFunc, with sandbox.StartCmd
	close(done)
	s.mu.Lock()
	delete(s.running, cmd)
	closed := s.closed
	s.mu.Unlock()
	r := Reply{Exited: true}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
		if ws.Signaled() {
			r.Signal = int(ws.Signal())
		} else {
			r.Code = ws.ExitStatus()
		}
	} else if werr != nil {
		r.Error = werr.Error()
	}
	if closed && r.Signal == int(syscall.SIGKILL) {
		r.Error = "the lab ended"
	}
	send(c, r)
}

// checkPeer lets only the lab's own user (as this process sees it, so root
// inside a rootless sandbox stands for the user who started it) in. The
// socket's directory and mode already keep others out; this is the second
// lock.
func checkPeer(c *net.UnixConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var cred *unix.Ucred
	var cerr error
	if err := rc.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if cerr != nil {
		return cerr
	}
	if int(cred.Uid) != os.Geteuid() {
		return fmt.Errorf("permission denied: the lab belongs to another user")
	}
	return nil
}
