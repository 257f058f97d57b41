package proc

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/nsutil"
	"github.com/nsscript/nsscript/internal/probe"
	"github.com/nsscript/nsscript/internal/sandbox"
	"github.com/nsscript/nsscript/internal/testenv"
)

// testNetns returns a fresh namespace with loopback up, closed when the
// test ends. Programs' orphans stay below the test process, as in nsscript
// run (sandbox.Reap).
func testNetns(t *testing.T) int {
	t.Helper()
	testenv.NeedNamespaces(t)
	testenv.NeedRoot(t)
	sandbox.Reap()
	fd, err := nsutil.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	h, err := nsutil.NewHandle(fd, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

func startIn(t *testing.T, fd int, p Program) *Process {
	t.Helper()
	pr, err := Start(fd, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Stop() })
	return pr
}

func TestStartRunsInNamespace(t *testing.T) {
	t.Parallel()
	fd := testNetns(t)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pr := startIn(t, fd, Program{
		Argv:  []string{"sh", "-c", `readlink /proc/self/ns/net; pwd; echo "$GREETING"; cat; echo oops >&2; exit 3`},
		Dir:   dir,
		Env:   []string{"GREETING=hello"},
		Stdin: "from stdin\n",
	})
	res, err := pr.Wait(context.Background(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := "net:[" + strconv.FormatUint(st.Ino, 10) + "]\n" + dir + "\nhello\nfrom stdin\n"
	if res.Stdout != want || res.Stderr != "oops\n" || res.Status != 3 || res.Running {
		t.Errorf("result %+v, want stdout %q", res, want)
	}
	if got := res.Failure(); got != "exit status 3: oops" {
		t.Errorf("Failure() = %q", got)
	}
}

func TestStartFailures(t *testing.T) {
	t.Parallel()
	fd := testNetns(t)
	if _, err := Start(fd, Program{Argv: []string{"no-such-program-nsscript"}}); err == nil ||
		err.Error() != "start no-such-program-nsscript: not found in PATH" {
		t.Errorf("missing program: %v", err)
	}
	if _, err := Start(fd, Program{}); err == nil || err.Error() != "empty command" {
		t.Errorf("empty argv: %v", err)
	}
	if _, err := Start(fd, Program{Argv: []string{"true"}, Dir: "/no/such/dir"}); err == nil ||
		!strings.Contains(err.Error(), "no such file or directory") {
		t.Errorf("bad dir: %v", err)
	}

	pr := startIn(t, fd, Program{Argv: []string{"sh", "-c", "kill -9 $$"}})
	res, err := pr.Wait(context.Background(), 10*time.Second)
	if err != nil || res.Status != -1 || res.Signal != "SIGKILL" || res.Failure() != "signal SIGKILL" {
		t.Errorf("killed: %+v, %v", res, err)
	}

	pr = startIn(t, fd, Program{Argv: []string{"sleep", "30"}})
	_, err = pr.Wait(context.Background(), 100*time.Millisecond)
	if err == nil || err.Error() != "sleep 30: timed out after 100ms" {
		t.Errorf("timeout: %v", err)
	}
	select {
	case <-pr.Done():
	default:
		t.Error("timed-out program still running")
	}

	ctx, cancel := context.WithCancel(context.Background())
	pr = startIn(t, fd, Program{Argv: []string{"sleep", "30"}})
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := pr.Wait(ctx, 0); err == nil || !strings.Contains(err.Error(), "canceled") {
		t.Errorf("cancel: %v", err)
	}
}

// TestStopEndsWhatProgramsLeave: a finished program's background child
// (orphaned, so reparented to the test process, a subreaper: see testNetns) and a
// background program's group both end with Stop.
func TestStopEndsWhatProgramsLeave(t *testing.T) {
	fd := testNetns(t)
	pr := startIn(t, fd, Program{Argv: []string{"sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $!"}})
	res, err := pr.Wait(context.Background(), 10*time.Second)
	if err != nil || res.Status != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	orphan, err := strconv.Atoi(strings.TrimSpace(res.Stdout))
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := procStat(orphan); !ok || st.ppid != os.Getpid() {
		t.Fatalf("orphan %d: %+v %v (want reparented to %d)", orphan, st, ok, os.Getpid())
	}
	pr.Stop()
	if st, ok := procStat(orphan); ok && st.state != "Z" {
		t.Errorf("orphan %d survived Stop: %+v", orphan, st)
	}

	bg := startIn(t, fd, Program{Argv: []string{"sh", "-c", "sleep 60 & sleep 60 & wait"}})
	time.Sleep(100 * time.Millisecond)
	if !bg.Result().Running {
		t.Fatal("background program not running")
	}
	res = bg.Stop()
	if res.Running || res.Signal != "SIGTERM" {
		t.Errorf("stop: %+v", res)
	}
	if signalGroup(bg.Pid(), 0) {
		t.Errorf("group %d has live members after Stop", bg.Pid())
	}
}

func TestWaitListening(t *testing.T) {
	t.Parallel()
	fd := testNetns(t)
	ctx := context.Background()
	pr := startIn(t, fd, Program{Argv: []string{"sh", "-c", "echo no server here >&2; exit 4"}})
	err := pr.WaitListening(ctx, "127.0.0.1:1", 5*time.Second)
	if err == nil || err.Error() != "sh -c 'echo no server here >&2; exit 4' exited (exit status 4) before listening on 127.0.0.1:1: no server here" {
		t.Errorf("exited: %v", err)
	}
	pr = startIn(t, fd, Program{Argv: []string{"sleep", "30"}})
	if err := pr.WaitListening(ctx, "127.0.0.1:1", 300*time.Millisecond); err == nil ||
		!strings.HasPrefix(err.Error(), "sleep 30 is not listening on 127.0.0.1:1 after 300ms") {
		t.Errorf("silent: %v", err)
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3 for a real server")
	}
	pr = startIn(t, fd, Program{Argv: []string{"python3", "-m", "http.server", "--bind", "127.0.0.1", "18080"}, Dir: t.TempDir()})
	if err := pr.WaitListening(ctx, "127.0.0.1:18080", 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	if r := probe.Connect(ctx, fd, "tcp", "127.0.0.1:18080", time.Second); !r.OK {
		t.Errorf("connect once listening: %s", r.Detail)
	}
}
