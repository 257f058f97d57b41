package control

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// plainStart starts commands in this process's namespaces, each in its own
// process group, as LabStarter does in a lab's.
func plainStart(req *Request, stdio []*os.File) (*exec.Cmd, error) {
	cmd := exec.Command(req.Argv[0], req.Argv[1:]...)
	cmd.Env = req.Env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio[0], stdio[1], stdio[2]
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd, cmd.Start()
}

// testServer serves a lab called "t" in a temporary directory and returns
// its socket path.
func testServer(t *testing.T) (*Server, string) {
	t.Helper()
	dir := t.TempDir()
	ln, id, path, err := Listen(dir, "t.star")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(ln, Info{ID: id, PID: os.Getpid(), Script: "t.star", Namespaces: []string{"host", "net1"}, Paused: true}, plainStart)
	go srv.Serve()
	t.Cleanup(func() { srv.Close() })
	return srv, path
}

// pipes returns stdin (empty), and stdout and stderr pipes whose output
// collect returns once the command ended.
func pipes(t *testing.T) (stdio []*os.File, collect func() (string, string)) {
	t.Helper()
	in, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	or, ow, _ := os.Pipe()
	er, ew, _ := os.Pipe()
	var o, e bytes.Buffer
	done := make(chan struct{}, 2)
	go func() { io.Copy(&o, or); done <- struct{}{} }()
	go func() { io.Copy(&e, er); done <- struct{}{} }()
	return []*os.File{in, ow, ew}, func() (string, string) {
		in.Close()
		ow.Close()
		ew.Close()
		<-done
		<-done
		return o.String(), e.String()
	}
}

func TestInfo(t *testing.T) {
	_, path := testServer(t)
	info, err := GetInfo(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if info.ID != "t" || info.PID != os.Getpid() || strings.Join(info.Namespaces, ",") != "host,net1" {
		t.Fatalf("info = %+v", info)
	}
}

func TestInfoNotServing(t *testing.T) {
	// A socket whose lab is still running its script: connected, but no
	// answer.
	ln, _, path, err := Listen(t.TempDir(), "busy")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := GetInfo(path, 100*time.Millisecond); err != ErrNotPaused {
		t.Fatalf("GetInfo on a lab that does not serve: %v, want ErrNotPaused", err)
	}
}

func TestExecStatusAndOutput(t *testing.T) {
	_, path := testServer(t)
	stdio, collect := pipes(t)
	r, err := Exec(path, Request{NS: "net1", Argv: []string{"sh", "-c", "echo out; echo err >&2; echo $NSSCRIPT_T; exit 7"},
		Env: []string{"NSSCRIPT_T=env-passed", "PATH=" + os.Getenv("PATH")}}, stdio, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, errOut := collect()
	if r.ExitCode() != 7 || out != "out\nenv-passed\n" || errOut != "err\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.ExitCode(), out, errOut)
	}
}

func TestExecForwardsSignals(t *testing.T) {
	_, path := testServer(t)
	stdio, collect := pipes(t)
	sigs := make(chan os.Signal, 1)
	started := make(chan struct{})
	go func() {
		<-started
		time.Sleep(100 * time.Millisecond)
		sigs <- syscall.SIGTERM
	}()
	r, err := Exec(path, Request{Argv: []string{"sleep", "30"}, Env: os.Environ()}, stdio, sigs, func() { close(started) }, nil)
	collect()
	if err != nil {
		t.Fatal(err)
	}
	if r.Signal != int(syscall.SIGTERM) || r.ExitCode() != 143 {
		t.Fatalf("reply %+v, want killed by SIGTERM", r)
	}
}

func TestExecStartError(t *testing.T) {
	_, path := testServer(t)
	stdio, collect := pipes(t)
	_, err := Exec(path, Request{Argv: []string{"/nonexistent/cmd"}}, stdio, nil, nil, nil)
	collect()
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("exec of a missing program: %v", err)
	}
}

func TestCloseKillsCommands(t *testing.T) {
	srv, path := testServer(t)
	stdio, collect := pipes(t)
	go func() {
		time.Sleep(200 * time.Millisecond)
		srv.Close()
	}()
	r, err := Exec(path, Request{Argv: []string{"sleep", "30"}, Env: os.Environ()}, stdio, nil, nil, nil)
	collect()
	if err != nil {
		t.Fatal(err)
	}
	if r.Signal != int(syscall.SIGKILL) || r.Error != "the lab ended" {
		t.Fatalf("reply %+v, want SIGKILL and 'the lab ended'", r)
	}
}

func TestClientGoneKillsCommand(t *testing.T) {
	_, path := testServer(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "pid")
	c, err := dial(path)
	if err != nil {
		t.Fatal(err)
	}
	null, _ := os.Open(os.DevNull)
	defer null.Close()
	if err := send(c, Request{Op: "exec", Argv: []string{"sh", "-c", "echo $$ > " + marker + "; exec sleep 30"}, Env: os.Environ()}, null, null, null); err != nil {
		t.Fatal(err)
	}
	var r Reply
	if _, err := recv(c, &r); err != nil || r.Started == 0 {
		t.Fatalf("start: %+v, %v", r, err)
	}
	time.Sleep(100 * time.Millisecond)
	c.Close()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if syscall.Kill(r.Started, 0) != nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("command %d still runs after its client went away", r.Started)
}

func TestStop(t *testing.T) {
	srv, path := testServer(t)
	if err := Stop(path); err != nil {
		t.Fatal(err)
	}
	<-srv.Stopped() // closed after a stop request (or the test hangs)
	// A second stop is harmless.
	if err := Stop(path); err != nil {
		t.Fatal(err)
	}
}

func TestBadRequests(t *testing.T) {
	_, path := testServer(t)
	c, err := dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	send(c, Request{Op: "dance"})
	var r Reply
	if _, err := recv(c, &r); err != nil || !strings.Contains(r.Error, `unknown request "dance"`) {
		t.Fatalf("unknown op: %+v, %v", r, err)
	}
	stdio, collect := pipes(t)
	defer collect()
	if _, err := Exec(path, Request{}, stdio, nil, nil, nil); err == nil || !strings.Contains(err.Error(), "needs a command") {
		t.Fatalf("exec without argv: %v", err)
	}
	if _, err := Exec(path, Request{Argv: []string{"true"}}, stdio[:1], nil, nil, nil); err == nil || !strings.Contains(err.Error(), "3 standard files") {
		t.Fatalf("exec with one file: %v", err)
	}
}

func TestDialGone(t *testing.T) {
	if _, err := GetInfo(filepath.Join(t.TempDir(), "x.sock"), time.Second); err == nil || !strings.Contains(err.Error(), "the lab is gone") {
		t.Fatalf("GetInfo of a missing socket: %v", err)
	}
}

// TestExecOutlivesWaitNotice runs a command that lasts longer than the
// client's first-answer notice (`nsscript exec` passes a waiting function
// unless -t): the command's end must still come through. The command
// reads its standard input until the test closes it, which the test does
// only well after the notice deadline passed.
func TestExecOutlivesWaitNotice(t *testing.T) {
	defer func(d time.Duration) { waitNotice = d }(waitNotice)
	waitNotice = 20 * time.Millisecond
	_, path := testServer(t)
	stdio, collect := pipes(t)
	in, release, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdio[0].Close()
	stdio[0] = in
	started := func() {
		in.Close()
		go func() {
			time.Sleep(10 * waitNotice) // only ever longer under load
			release.Close()
		}()
	}
	r, err := Exec(path, Request{Argv: []string{"sh", "-c", "cat; echo done"}, Env: os.Environ()}, stdio, nil, started, func() {})
	out, _ := collect()
	if err != nil {
		t.Fatalf("exec of a command that outlives the notice: %v", err)
	}
	if r.ExitCode() != 0 || out != "done\n" {
		t.Fatalf("exit %d, stdout %q", r.ExitCode(), out)
	}
}
