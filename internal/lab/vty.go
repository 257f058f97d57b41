package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// FRR's vty protocol, as vtysh speaks it on a daemon's unix socket
// (/run/frr/NAME.vty): a command is its text and a NUL byte; the daemon
// answers with the command's output, three NUL bytes and one byte of
// status. A connection starts in view mode; vtysh sends "enable" first.

// Vty statuses (lib/command.h's CMD_* codes) that a reply can carry.
const (
	VtySuccess          = 0
	VtyWarning          = 1
	VtyNoMatch          = 2 // the daemon has no such command
	VtyAmbiguous        = 3
	VtyIncomplete       = 4
	VtyNothingToDo      = 6
	VtyConfigFailed     = 13
	vtyReplyLimit       = 64 << 20
	vtyTerminatorLength = 4
)

// VtyReply is a daemon's answer to one command.
type VtyReply struct {
	Text   string
	Status int
}

// OK reports whether the command succeeded (a warning included).
func (r VtyReply) OK() bool {
	return r.Status == VtySuccess || r.Status == VtyWarning || r.Status == VtyNothingToDo
}

// VtyQuery connects to the vty socket at path, enables and sends cmd, and
// returns the daemon's reply to it.
func VtyQuery(ctx context.Context, path, cmd string, timeout time.Duration) (VtyReply, error) {
	if strings.ContainsAny(cmd, "\x00\n\r") {
		return VtyReply{}, errors.New("a command is one line")
	}
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return VtyReply{}, fmt.Errorf("connect to vty socket: %w", errors.Unwrap(err))
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	en, buf, err := vtyExec(c, "enable", nil)
	if err != nil {
		return VtyReply{}, err
	}
	if !en.OK() {
		return VtyReply{}, fmt.Errorf("enable: status %d: %s", en.Status, strings.TrimSpace(en.Text))
	}
	r, _, err := vtyExec(c, cmd, buf)
	return r, err
}

// vtyExec sends one command on c and reads its reply; buf holds bytes
// read before, and the bytes after the reply are returned with it.
func vtyExec(c net.Conn, cmd string, buf []byte) (VtyReply, []byte, error) {
	if _, err := c.Write(append([]byte(cmd), 0)); err != nil {
		return VtyReply{}, nil, err
	}
	r, rest, err := vtyReply(c, buf)
	if err != nil {
		return VtyReply{}, nil, fmt.Errorf("read reply to %q: %w", cmd, err)
	}
	return r, rest, nil
}

// vtyReply reads one reply from c (see vtyExec for buf).
func vtyReply(c net.Conn, buf []byte) (VtyReply, []byte, error) {
	chunk := make([]byte, 64<<10)
	for {
		if i := bytes.IndexByte(buf, 0); i >= 0 && len(buf) >= i+vtyTerminatorLength {
			if buf[i+1] != 0 || buf[i+2] != 0 {
				return VtyReply{}, nil, errors.New("malformed reply (a NUL byte inside the text)")
			}
			r := VtyReply{Text: string(buf[:i]), Status: int(buf[i+3])}
			return r, buf[i+vtyTerminatorLength:], nil
		}
		if len(buf) > vtyReplyLimit {
			return VtyReply{}, nil, fmt.Errorf("reply longer than %d bytes", vtyReplyLimit)
		}
		n, err := c.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if err != nil && n == 0 {
			return VtyReply{}, nil, err
		}
	}
}
