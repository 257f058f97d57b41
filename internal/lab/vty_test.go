package lab

import (
	"bufio"
	"context"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeVty serves FRR's vty protocol on a unix socket: each NUL-terminated
// command gets answer(cmd), written in pieces of one byte so that a reader
// must reassemble the text and the terminator.
func fakeVty(t *testing.T, answer func(cmd string) (string, byte)) string {
	return serveUnix(t, "d.vty", func(c net.Conn) {
		r := bufio.NewReader(c)
		for {
			cmd, err := r.ReadString(0)
			if err != nil {
				return
			}
			text, status := answer(cmd[:len(cmd)-1])
			for _, b := range append([]byte(text), 0, 0, 0, status) {
				c.Write([]byte{b})
			}
		}
	})
}

// serveUnix listens on a unix socket named name in a temporary directory,
// serves each connection with handle and closes it then; it returns the
// socket's path.
func serveUnix(t *testing.T, name string, handle func(net.Conn)) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return path
}

// TestVtyQuery: enable first, then the command; its output and status come
// back, a daemon that does not know the command answers status 2.
func TestVtyQuery(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []string
	)
	path := fakeVty(t, func(cmd string) (string, byte) {
		mu.Lock()
		seen = append(seen, cmd)
		mu.Unlock()
		switch cmd {
		case "enable":
			return "", VtySuccess
		case "show version":
			return "FRRouting 8.4.4\n", VtySuccess
		}
		return "% Unknown command: " + cmd + "\n", VtyNoMatch
	})
	ctx := context.Background()
	r, err := VtyQuery(ctx, path, "show version", time.Second)
	if err != nil || r.Text != "FRRouting 8.4.4\n" || r.Status != VtySuccess || !r.OK() {
		t.Errorf("show version = %+v, %v", r, err)
	}
	r, err = VtyQuery(ctx, path, "show nothing", time.Second)
	if err != nil || r.Status != VtyNoMatch || r.OK() {
		t.Errorf("show nothing = %+v, %v", r, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"enable", "show version", "enable", "show nothing"}; !slices.Equal(seen, want) {
		t.Errorf("the daemon saw %q, want %q", seen, want)
	}
	if _, err := VtyQuery(ctx, path, "show\nversion", time.Second); err == nil {
		t.Error("a command of two lines was sent")
	}
}
