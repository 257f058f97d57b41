package cli

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nsscript/nsscript/internal/control"
	"github.com/nsscript/nsscript/internal/lab"
	"github.com/nsscript/nsscript/internal/testenv"
)

func TestTermInfoString(t *testing.T) {
	for _, ti := range []termInfo{{}, {color: true}, {progress: true}, {true, true}} {
		if got := parseTerm(ti.String()); got != ti {
			t.Errorf("parseTerm(%q) = %+v, want %+v", ti.String(), got, ti)
		}
	}
	if s := (termInfo{true, true}).String(); s != "color,progress" {
		t.Errorf("String = %q", s)
	}
}

func TestDetectTerm(t *testing.T) {
	m, s, err := control.OpenPty()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer m.Close()
	defer s.Close()
	var buf strings.Builder
	for _, tc := range []struct {
		name     string
		out, err io.Writer
		env      map[string]string
		want     termInfo
	}{
		{"buffers", &buf, &buf, nil, termInfo{}},
		{"pty", s, s, nil, termInfo{color: true, progress: true}},
		{"NO_COLOR", s, s, map[string]string{"NO_COLOR": "1"}, termInfo{progress: true}},
		{"empty NO_COLOR", s, s, map[string]string{"NO_COLOR": ""}, termInfo{color: true, progress: true}},
		{"dumb", s, s, map[string]string{"TERM": "dumb"}, termInfo{}},
		{"stdout piped", &buf, s, nil, termInfo{progress: true}},
	} {
		env := &Env{Stdout: tc.out, Stderr: tc.err, Getenv: func(k string) string { return tc.env[k] }}
		if got := detectTerm(env); got != tc.want {
			t.Errorf("%s: detectTerm = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestProgressLine(t *testing.T) {
	var out, errOut strings.Builder
	env := &Env{Stdout: &out, Stderr: &errOut}
	var logged []string
	e2, log := withProgress(env, termInfo{progress: true}, func(s lab.Step) { logged = append(logged, s.Op) })
	p := e2.Stdout.(*clearingWriter).p
	now := time.Unix(0, 0)
	p.now = func() time.Time { return now }
	p.start = now

	log(lab.Step{Op: "netns add"})
	log(lab.Step{Op: "link add"})
	if errOut.String() != "" {
		t.Fatalf("progress drawn before the delay: %q", errOut.String())
	}
	now = now.Add(time.Second)
	log(lab.Step{Op: "netns add"})
	if got := errOut.String(); got != "\r\x1b[Kbuilding: 2 namespaces, 1 link" {
		t.Fatalf("progress line %q", got)
	}
	log(lab.Step{Op: "addr add"}) // within 100ms: not redrawn
	now = now.Add(200 * time.Millisecond)
	log(lab.Step{Op: "route add"})
	if !strings.HasSuffix(errOut.String(), "\r\x1b[Kbuilding: 2 namespaces, 1 link, 1 address, 1 route") {
		t.Fatalf("progress line %q", errOut.String())
	}
	// Output clears the line first, once.
	errOut.Reset()
	io.WriteString(e2.Stdout, "ok   result\n")
	io.WriteString(e2.Stderr, "note\n")
	if errOut.String() != "\r\x1b[Knote\n" || out.String() != "ok   result\n" {
		t.Fatalf("after output: stderr %q, stdout %q", errOut.String(), out.String())
	}
	if len(logged) != 5 {
		t.Errorf("the next logger saw %v", logged)
	}
	// Not a terminal: nothing changes.
	e3, log3 := withProgress(env, termInfo{}, nil)
	if e3 != env || log3 != nil {
		t.Error("withProgress wrapped a plain run")
	}
}

// TestRunOnTerminal runs nsscript with a terminal as stdout and stderr:
// results are coloured unless NO_COLOR is set, and a slow build shows a
// progress line that is cleared before the results.
func TestRunOnTerminal(t *testing.T) {
	testenv.NeedNamespaces(t)
	if _, err := os.Stat("/bin/sleep"); err != nil {
		t.Skip("no /bin/sleep")
	}
	t.Parallel()
	dir := writeScript(t, "lab.star", `a = netns("a")
run(host, ["/bin/sleep", "0.5"])
b = netns("b")
x, y = veth(ns = a, peer_ns = b)
x.addr("10.3.0.1/24")
y.addr("10.3.0.2/24")
expect_reachable(a, "10.3.0.2")
`)
	onTerminal := func(env ...string) string {
		m, s, err := control.OpenPty()
		if err != nil {
			t.Skipf("no pty: %v", err)
		}
		defer m.Close()
		cmd := nsscript(t, dir, "run", "lab.star")
		cmd.Env = append(cmd.Env, env...)
		cmd.Stdout, cmd.Stderr = s, s
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		s.Close()
		var out strings.Builder
		done := make(chan struct{})
		go func() { io.Copy(&out, m); close(done) }()
		cmd.Wait()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		return out.String()
	}
	out := onTerminal("TERM=xterm")
	inOrder(t, out, "\r\x1b[Kbuilding: ", "\r\x1b[K\x1b[32mok\x1b[0m   lab.star:7:1: expect_reachable: a -> 10.3.0.2", "1 passed, 0 failed")
	out = onTerminal("TERM=xterm", "NO_COLOR=1")
	if strings.Contains(out, "\x1b[32m") || !strings.Contains(out, "ok   lab.star:7:1:") {
		t.Errorf("NO_COLOR output:\n%q", out)
	}
	// Not a terminal: plain.
	plain, _, _ := runNsscript(t, dir, "run", "lab.star")
	if strings.Contains(plain, "\x1b") {
		t.Errorf("escape codes without a terminal:\n%q", plain)
	}
}
