package cli

import (
	"bufio"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nsscript/nsscript/internal/testenv"
)

// TestReplLineByLine feeds a session line by line and reads each answer
// before sending the next line: values are echoed, an expectation's result
// comes at once, errors leave the session (and the lab) alive.
func TestReplLineByLine(t *testing.T) {
	testenv.NeedNamespaces(t)
	t.Parallel()
	cmd := nsscript(t, t.TempDir(), "repl")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var errOut testenv.LockedBuffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 100)
	go func() {
		br := bufio.NewReader(stdout)
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				close(lines)
				return
			}
			lines <- strings.TrimSuffix(l, "\n")
		}
	}()
	// send writes one line of input and waits for the answer want (or, for
	// "", for nothing).
	send := func(in, want string) {
		t.Helper()
		io.WriteString(stdin, in+"\n")
		if want == "" {
			return
		}
		select {
		case got := <-lines:
			if !strings.HasPrefix(got, want) {
				t.Fatalf("after %q: got %q, want %q\nstderr:\n%s", in, got, want, errOut.String())
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("after %q: no %q\nstderr:\n%s", in, want, errOut.String())
		}
	}
	send(`a = netns("a")`, "")
	send(`b = netns("b")`, "")
	send(`x, y = veth(ns = a, peer_ns = b)`, "")
	send(`x.addr("10.4.0.1/24")`, "<link eth0 in a>")
	send(`y.addr("10.4.0.2/24")`, "<link eth0 in b>")
	send(`expect_reachable(a, "10.4.0.2")`, "ok   <stdin>:6:1: expect_reachable: a -> 10.4.0.2: reply in ")
	send(`[l.name for l in b.links]`, `["eth0"]`)
	send(`veth(ns = "zz")`, "")
	send(`for i in range(2):`, "")
	send(`    print("i", i)`, "")
	send(``, "i 0")
	if got := <-lines; got != "i 1" {
		t.Fatalf("loop: %q", got)
	}
	send(`expect_reachable(b, "10.4.0.9", timeout = "200ms")`, "FAIL <stdin>:12:1: expect_reachable: b -> 10.4.0.9: no reply in 200ms")
	send(`print("still here")`, "     b (source):")
	for got := range lines {
		if got == "still here" {
			break
		}
	}
	stdin.Close()
	var rest []string
	for l := range lines {
		rest = append(rest, l)
	}
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 2 || strings.Join(rest, "\n") != "1 passed, 1 failed" {
		t.Errorf("end of session: exit %d, output %q", code, rest)
	}
	if e := errOut.String(); !strings.Contains(e, "<stdin>:8:1: veth: ") || !strings.Contains(e, `"zz"`) {
		t.Errorf("error line:\n%s", errOut.String())
	}
}

func TestReplUsage(t *testing.T) {
	_, errOut, code := runNsscript(t, t.TempDir(), "repl", "x.star")
	if code != 2 || errOut != "nsscript repl: want no arguments (to run a file: nsscript run FILE.star)\n" {
		t.Errorf("repl x.star: exit %d, stderr %q", code, errOut)
	}
}
