package control

import (
	"io"
	"net"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// packetPair returns two connected unixpacket sockets.
func packetPair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "sock")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		return c.(*net.UnixConn)
	}
	a, b := conn(fds[0]), conn(fds[1])
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func TestSendRecvPassesFiles(t *testing.T) {
	a, b := packetPair(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	req := Request{Op: "exec", NS: "net1", Argv: []string{"ip", "addr"}}
	if err := send(a, req, w, w, w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	var got Request
	files, err := recv(b, &got)
	if err != nil {
		t.Fatal(err)
	}
	if got.Op != "exec" || got.NS != "net1" || len(got.Argv) != 2 {
		t.Fatalf("got %+v", got)
	}
	if len(files) != 3 {
		t.Fatalf("got %d files, want 3", len(files))
	}
	// The received descriptors are the pipe's write end: writing through
	// one reaches the reader.
	files[1].WriteString("hello")
	closeAll(files)
	b2, _ := io.ReadAll(r)
	if string(b2) != "hello" {
		t.Fatalf("read %q through a passed descriptor", b2)
	}
}

func TestRecvEOF(t *testing.T) {
	a, b := packetPair(t)
	a.Close()
	var r Reply
	if _, err := recv(b, &r); err == nil {
		t.Fatal("recv after the peer closed: no error")
	}
}

func TestRecvBadMessage(t *testing.T) {
	a, b := packetPair(t)
	a.Write([]byte("{not json"))
	var r Reply
	if _, err := recv(b, &r); err == nil {
		t.Fatal("recv of a bad message: no error")
	}
}

func TestExitCode(t *testing.T) {
	if c := (Reply{Code: 3}).ExitCode(); c != 3 {
		t.Errorf("code 3: %d", c)
	}
	if c := (Reply{Signal: 15}).ExitCode(); c != 143 {
		t.Errorf("signal 15: %d", c)
	}
}
