package control

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// OpenPty opens a new pseudo-terminal and returns its master and slave.
func OpenPty() (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open pty: %w", err)
	}
	var n uint32
	var ierr error
	rc, err := master.SyscallConn()
	if err == nil {
		err = rc.Control(func(fd uintptr) {
			if ierr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ierr == nil {
				n, ierr = unix.IoctlGetUint32(int(fd), unix.TIOCGPTN)
			}
		})
	}
	if err == nil {
		err = ierr
	}
	if err == nil {
		slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	}
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("open pty: %w", err)
	}
	return master, slave, nil
}

// makeRaw puts the terminal f in raw mode (as cfmakeraw does) and returns a
// function that restores its previous mode.
func makeRaw(f *os.File) (func(), error) {
	fd := int(f.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	old := *t
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return nil, err
	}
	return func() { unix.IoctlSetTermios(fd, unix.TCSETS, &old) }, nil
}

// copySize gives the pty master the window size of the terminal from.
func copySize(from, master *os.File) {
	ws, err := unix.IoctlGetWinsize(int(from.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return
	}
	if rc, err := master.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, ws) })
	}
}

// Terminal relays a user's terminal to a pty whose slave side a command in
// the lab uses as its terminal: the user's terminal is raw while the
// command runs, keys go to the pty unchanged (Ctrl-C included, which the
// pty turns into SIGINT for the command), and window size changes follow.
type Terminal struct {
	in, out *os.File
	master  *os.File
	// Slave is what the command gets as stdin, stdout and stderr; close it
	// once the command started.
	Slave   *os.File
	restore func()
	outDone chan struct{}
	winch   chan os.Signal
}

// NewTerminal opens a pty for the terminal in (input) and out (output) and
// puts in in raw mode. Close restores it.
func NewTerminal(in, out *os.File) (*Terminal, error) {
	master, slave, err := OpenPty()
	if err != nil {
		return nil, err
	}
	copySize(in, master)
	restore, err := makeRaw(in)
	if err != nil {
		master.Close()
		slave.Close()
		return nil, fmt.Errorf("raw terminal: %w", err)
	}
	t := &Terminal{in: in, out: out, master: master, Slave: slave, restore: restore,
		outDone: make(chan struct{}), winch: make(chan os.Signal, 1)}
	signal.Notify(t.winch, syscall.SIGWINCH)
	go func() {
		for range t.winch {
			copySize(in, master)
		}
	}()
	go func() {
		io.Copy(out, master) // ends with EIO once no slave is open
		close(t.outDone)
	}()
	go io.Copy(master, in)
	return t, nil
}

// Close waits briefly for the command's last output (a background process
// may keep the pty open), then restores the user's terminal.
func (t *Terminal) Close() {
	t.Slave.Close()
	select {
	case <-t.outDone:
	case <-time.After(500 * time.Millisecond):
		t.master.SetReadDeadline(time.Now())
		<-t.outDone
	}
	signal.Stop(t.winch)
	close(t.winch)
	t.master.Close()
	t.restore()
}
