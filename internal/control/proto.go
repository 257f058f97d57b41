package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// maxMsg bounds one protocol message (a request carries the caller's
// environment, so it may be a few kilobytes).
const maxMsg = 1 << 20

// Request is a message from a client to a paused lab.
type Request struct {
	// Op is "info", "exec", "signal", "check" or "stop".
	Op string `json:"op"`
	// NS is the namespace an exec runs in ("host" for the lab's root).
	NS string `json:"ns,omitempty"`
	// Argv is the command of an exec; argv[0] is looked up in PATH.
	Argv []string `json:"argv,omitempty"`
	// Env is the command's environment (the client's own).
	Env []string `json:"env,omitempty"`
	// Dir is the command's working directory.
	Dir string `json:"dir,omitempty"`
	// TTY makes the command a session leader whose controlling terminal
	// is its standard input (a pty slave the client passed).
	TTY bool `json:"tty,omitempty"`
	// Signal is the signal number of a "signal" request.
	Signal int `json:"signal,omitempty"`
	// Exercise is what a "check" request grades the lab with (the lab's
	// CheckFunc reads it); Verbose asks for the checks' own output too.
	Exercise json.RawMessage `json:"exercise,omitempty"`
	Verbose  bool            `json:"verbose,omitempty"`
}

// Reply is a message from a paused lab to a client.
type Reply struct {
	Error   string `json:"error,omitempty"`
	Info    *Info  `json:"info,omitempty"`
	Started int    `json:"started,omitempty"` // pid of the command
	// Result is the outcome of a "check" request, from the lab's CheckFunc.
	Result json.RawMessage `json:"result,omitempty"`
	// Exited is set when the command ended, with its exit Code or the
	// Signal that killed it.
	Exited bool `json:"exited,omitempty"`
	Code   int  `json:"code,omitempty"`
	Signal int  `json:"signal,omitempty"`
}

// Info describes a paused lab.
type Info struct {
	ID         string   `json:"id"`
	PID        int      `json:"pid"` // the lab process (the sandboxed child)
	Script     string   `json:"script"`
	Namespaces []string `json:"namespaces"`
	Rootless   bool     `json:"rootless"`
	Paused     bool     `json:"paused"`
	Reason     string   `json:"reason,omitempty"` // why it paused
	// Web is the address of the lab's live view (nsscript run --web).
	Web string `json:"web,omitempty"`
}

// send writes v as one packet, with files attached as SCM_RIGHTS.
func send(c *net.UnixConn, v any, files ...*os.File) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			fds[i] = int(f.Fd())
		}
		oob = unix.UnixRights(fds...)
	}
	_, _, err = c.WriteMsgUnix(b, oob, nil)
	return err
}

// recv reads one packet into v and returns the files that came with it.
func recv(c *net.UnixConn, v any) ([]*os.File, error) {
	buf := make([]byte, maxMsg)
	oob := make([]byte, unix.CmsgSpace(16*4))
	n, oobn, flags, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, err
	}
	files, ferr := parseRights(oob[:oobn])
	if n == 0 {
		closeAll(files)
		return nil, errEOF
	}
	if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
		closeAll(files)
		return nil, errors.New("message truncated")
	}
	if ferr != nil {
		return nil, ferr
	}
	if err := json.Unmarshal(buf[:n], v); err != nil {
		closeAll(files)
		return nil, fmt.Errorf("bad message: %w", err)
	}
	return files, nil
}

// errEOF is recv's error when the peer closed the connection.
var errEOF = errors.New("connection closed")

func parseRights(oob []byte) ([]*os.File, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("parse control message: %w", err)
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			unix.CloseOnExec(fd)
			files = append(files, os.NewFile(uintptr(fd), fmt.Sprintf("fd%d", fd)))
		}
	}
	return files, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
