package lab

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// fakeBird serves BIRD's control protocol on a unix socket: a greeting,
// then the canned reply to each command it knows, a syntax error otherwise.
func fakeBird(t *testing.T, replies map[string]string) string {
	return serveUnix(t, "bird.ctl", func(c net.Conn) {
		c.Write([]byte("0001 BIRD 2.0.12 ready.\n"))
		cmd, _ := bufio.NewReader(c).ReadString('\n')
		reply, ok := replies[strings.TrimSpace(cmd)]
		if !ok {
			reply = "9001 syntax error, unexpected CF_SYM_UNDEFINED\n"
		}
		c.Write([]byte(reply))
	})
}

// TestBirdQuery: replies come back as birdc prints them (codes removed,
// continuation lines joined, the closing 0000 line left out), and an error
// code is an error with BIRD's text.
func TestBirdQuery(t *testing.T) {
	path := fakeBird(t, map[string]string{
		"show route": "1007-Table master4:\n 10.3.0.0/24 unicast [r3] * (100)\n \tvia 10.0.23.2 on r3\n0000 \n",
		"show protocols": "2002-Name       Proto      Table      State  Since         Info\n" +
			"1002-r1         BGP        ---        up     11:27:24.564  Established   \n0000 \n",
	})
	ctx := context.Background()
	got, err := BirdQuery(ctx, path, "show route", time.Second)
	want := "Table master4:\n10.3.0.0/24 unicast [r3] * (100)\n\tvia 10.0.23.2 on r3\n"
	if err != nil || got != want {
		t.Errorf("show route: got %q, %v; want %q", got, err, want)
	}
	got, err = BirdQuery(ctx, path, "show protocols", time.Second)
	if err != nil || !strings.Contains(got, "\nr1         BGP") || strings.Contains(got, "1002") {
		t.Errorf("show protocols: got %q, %v", got, err)
	}
	if _, err := BirdQuery(ctx, path, "show nonsense", time.Second); err == nil || err.Error() != "syntax error, unexpected CF_SYM_UNDEFINED" {
		t.Errorf("show nonsense: got error %v, want BIRD's syntax error", err)
	}
	if _, err := BirdQuery(ctx, path, "a\nb", time.Second); err == nil {
		t.Error("a command with a newline was sent")
	}
}
