package control

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestOpenPty(t *testing.T) {
	m, s, err := OpenPty()
	if err != nil {
		t.Skipf("no pty here: %v", err)
	}
	defer m.Close()
	defer s.Close()
	if !IsTerminal(s) {
		t.Fatal("slave is not a terminal")
	}
	s.WriteString("ping\n")
	buf := make([]byte, 64)
	m.SetReadDeadline(time.Now().Add(time.Second))
	n, err := m.Read(buf)
	if err != nil || !strings.Contains(string(buf[:n]), "ping") {
		t.Fatalf("read %q, %v from the master", buf[:n], err)
	}
	r, w, _ := os.Pipe()
	defer r.Close()
	defer w.Close()
	if IsTerminal(r) {
		t.Fatal("a pipe is a terminal")
	}
}

// TestTerminalRelay plays a user's terminal (a pty of its own) and runs a
// command on the Terminal's pty: the window size follows, the user's
// terminal is raw while it runs and restored after, output arrives.
func TestTerminalRelay(t *testing.T) {
	userM, userS, err := OpenPty()
	if err != nil {
		t.Skipf("no pty here: %v", err)
	}
	defer userM.Close()
	defer userS.Close()
	unix.IoctlSetWinsize(int(userS.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 33, Col: 77})
	before, _ := unix.IoctlGetTermios(int(userS.Fd()), unix.TCGETS)

	term, err := NewTerminal(userS, userS)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := unix.IoctlGetTermios(int(userS.Fd()), unix.TCGETS)
	if raw.Lflag&unix.ICANON != 0 || raw.Lflag&unix.ECHO != 0 {
		t.Error("the user's terminal is not raw while the command runs")
	}
	cmd := exec.Command("sh", "-c", "stty size; read line; echo got:$line")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = term.Slave, term.Slave, term.Slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	term.Slave.Close()
	userM.WriteString("hello\r")
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	term.Close()
	after, _ := unix.IoctlGetTermios(int(userS.Fd()), unix.TCGETS)
	if after.Lflag != before.Lflag || after.Iflag != before.Iflag {
		t.Error("the user's terminal was not restored")
	}
	userM.SetReadDeadline(time.Now().Add(time.Second))
	var out strings.Builder
	buf := make([]byte, 4096)
	for !strings.Contains(out.String(), "got:hello") {
		n, err := userM.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if !strings.Contains(out.String(), "33 77") || !strings.Contains(out.String(), "got:hello") {
		t.Fatalf("the user saw %q; want the size 33 77 and got:hello", out.String())
	}
}
