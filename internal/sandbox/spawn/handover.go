package spawn

import (
	"errors"
	"os"
	"strconv"
	"sync"
	"syscall"
)

// Handover is what a child runs with: its whole environment (EnvVar is set
// to 1 in it, and Receive sets LifelineEnv) and its descriptors, Files[i]
// becoming descriptor i (standard input, output and error first).
type Handover struct {
	Env   []string
	Files []*os.File
}

// The handover's wire format, over the lifeline: a 4-byte little-endian
// length, then the environment's entries separated by NUL bytes; the
// descriptors travel as SCM_RIGHTS with the first bytes, in Files' order.

// Hand sends the child its environment and descriptors. A child waits for
// them before it reads either, so Hand must be called once for every child
// that is to run (Discard ends one that is not).
func (c *Child) Hand(h Handover) error {
	if len(h.Files) < 3 || len(h.Files) > 3+MaxExtraFiles {
		return &Error{"hand over to the child", errors.New(strconv.Itoa(len(h.Files)) + " descriptors; at most " + strconv.Itoa(3+MaxExtraFiles) + " can be")}
	}
	if err := c.Started(); err != nil {
		return err
	}
	err := errHanded
	c.handOnce.Do(func() { err = c.hand(h) })
	return err
}

func (c *Child) hand(h Handover) error {
	var payload []byte
	for i, kv := range childEnv(h.Env) {
		if i > 0 {
			payload = append(payload, 0)
		}
		payload = append(payload, kv...)
	}
	n := len(payload)
	msg := append([]byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)}, payload...)
	fds := make([]int, len(h.Files))
	for i, f := range h.Files {
		fds[i] = int(f.Fd())
	}
	rc, err := c.keep.SyscallConn()
	if err != nil {
		return &Error{"hand over to the child", err}
	}
	var sendErr error
	err = rc.Write(func(fd uintptr) bool {
		sent, err := syscall.SendmsgN(int(fd), msg, syscall.UnixRights(fds...), nil, 0)
		for err == nil && sent < len(msg) {
			msg = msg[sent:]
			sent, err = syscall.Write(int(fd), msg)
		}
		sendErr = err
		return true
	})
	if err == nil {
		err = sendErr
	}
	if err != nil {
		return &Error{"hand over to the child", err}
	}
	return nil
}

var (
	receiveOnce sync.Once
	receiveErr  error
)

// Receive is the child's side of Hand: it waits for the environment and
// descriptors, replaces its environment with them and puts each descriptor
// in its place, moving the lifeline above them (LifelineEnv says where). A
// child calls it before it reads its environment (beyond EnvVar) or its
// standard input. It does nothing in a process that is not a child Start
// made (EnvVar unset, or set by hand: then there is no lifeline socket, and
// the sandbox's Setup reports that). When the lifeline ends before a
// handover, the parent is gone or discarded this child: it exits at once.
// Only the first call does anything.
func Receive() error {
	receiveOnce.Do(func() { receiveErr = receive() })
	return receiveErr
}

func receive() error {
	if os.Getenv(EnvVar) != "1" {
		return nil
	}
	fd, err := strconv.Atoi(os.Getenv(LifelineEnv))
	var st syscall.Stat_t
	if err != nil || fd != LifelineFD || os.Getppid() != 0 ||
		syscall.Fstat(fd, &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFSOCK {
		return nil
	}
	env, files, err := readHandover(fd)
	if err != nil {
		return err
	}
	lifeline, err := placeFiles(fd, files)
	if err != nil {
		return err
	}
	os.Clearenv()
	for _, kv := range env {
		for i := 1; i < len(kv); i++ {
			if kv[i] == '=' {
				os.Setenv(kv[:i], kv[i+1:])
				break
			}
		}
	}
	return os.Setenv(LifelineEnv, strconv.Itoa(lifeline))
}

// readHandover reads one handover from the lifeline fd. At end of file, the
// parent is gone or discarded this child, and nothing waits for its output
// or its status: it exits.
func readHandover(fd int) (env []string, files []int, err error) {
	var head [4]byte
	oob := make([]byte, syscall.CmsgSpace(4*(3+MaxExtraFiles)))
	got, oobn := 0, 0
	for got < len(head) {
		n, on, _, _, err := syscall.Recvmsg(fd, head[got:], oob[oobn:], syscall.MSG_CMSG_CLOEXEC)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, nil, &Error{"receive from the parent", err}
		}
		if n == 0 {
			os.Exit(2)
		}
		got, oobn = got+n, oobn+on
	}
	if files, err = parseRights(oob[:oobn]); err != nil {
		return nil, nil, err
	}
	size := int(head[0]) | int(head[1])<<8 | int(head[2])<<16 | int(head[3])<<24
	payload := make([]byte, size)
	for got = 0; got < len(payload); {
		n, err := syscall.Read(fd, payload[got:])
		if err == syscall.EINTR {
			continue
		}
		if err == nil && n == 0 {
			err = errors.New("end of file after " + strconv.Itoa(got) + " of " + strconv.Itoa(size) + " bytes")
		}
		if err != nil {
			return nil, nil, &Error{"receive from the parent", err}
		}
		got += n
	}
	for start, i := 0, 0; i <= len(payload) && len(payload) > 0; i++ {
		if i == len(payload) || payload[i] == 0 {
			env = append(env, string(payload[start:i]))
			start = i + 1
		}
	}
	return env, files, nil
}

// parseRights returns the descriptors of the SCM_RIGHTS messages in oob.
func parseRights(oob []byte) ([]int, error) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, &Error{"receive from the parent", err}
	}
	var fds []int
	for _, m := range msgs {
		r, err := syscall.ParseUnixRights(&m)
		if err != nil {
			return nil, &Error{"receive from the parent", err}
		}
		fds = append(fds, r...)
	}
	if len(fds) < 3 || len(fds) > 3+MaxExtraFiles {
		return nil, &Error{"receive from the parent", errors.New(strconv.Itoa(len(fds)) + " descriptors, want 3 to " + strconv.Itoa(3+MaxExtraFiles))}
	}
	return fds, nil
}

// placeFiles makes files[i] descriptor i (not closed on exec, as a child's
// descriptors are) and returns where the lifeline went: above every slot
// Start reserved, closed on exec. The reserved slots nothing was handed
// for are closed.
func placeFiles(lifeline int, files []int) (int, error) {
	const above = 3 + MaxExtraFiles + 1
	moved, err := dupAbove(lifeline, above)
	if err != nil {
		return 0, &Error{"move the lifeline", err}
	}
	for i, f := range files {
		if f < above {
			g, err := dupAbove(f, above)
			if err != nil {
				return 0, &Error{"move a handed descriptor", err}
			}
			syscall.Close(f)
			files[i] = g
		}
	}
	for i, f := range files {
		if err := syscall.Dup3(f, i, 0); err != nil {
			return 0, &Error{"place descriptor " + strconv.Itoa(i), err}
		}
		syscall.Close(f)
	}
	for slot := max(len(files), LifelineFD); slot < above; slot++ {
		syscall.Close(slot)
	}
	return moved, nil
}

// dupAbove duplicates fd to the lowest free descriptor from from on, closed
// on exec.
func dupAbove(fd, from int) (int, error) {
	r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, uintptr(from))
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}
