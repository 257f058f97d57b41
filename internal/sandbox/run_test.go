package sandbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// parentCmd returns a command that runs the test binary exe as a parent that
// calls Run, with the child program mode.
func parentCmd(exe, mode string, extraEnv ...string) *exec.Cmd {
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = testEnv(append([]string{parentEnv + "=run", childModeEnv + "=" + mode}, extraEnv...)...)
	return cmd
}

// startParent starts this test binary as a parent that calls Run, in a new
// session (so it has no controlling terminal and gets no terminal signals).
func startParent(t *testing.T, mode string, extraEnv ...string) (*exec.Cmd, *bufio.Reader, *bytes.Buffer) {
	t.Helper()
	cmd := parentCmd(os.Args[0], mode, extraEnv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	out, stderr := start(t, cmd)
	return cmd, out, stderr
}

// start starts cmd, kills it when the test ends, and returns its output.
func start(t *testing.T, cmd *exec.Cmd) (*bufio.Reader, *bytes.Buffer) {
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return bufio.NewReader(stdout), &stderr
}

// readLine returns the next line of r, failing the test after 10 seconds.
func readLine(t *testing.T, r *bufio.Reader, stderr *bytes.Buffer) string {
	t.Helper()
	type result struct {
		line string
		err  error
	}
	c := make(chan result, 1)
	go func() {
		line, err := r.ReadString('\n')
		c <- result{strings.TrimSuffix(line, "\n"), err}
	}()
	select {
	case res := <-c:
		if res.err != nil {
			t.Fatalf("read child output: %v (%q); stderr: %s", res.err, res.line, stderr)
		}
		return res.line
	case <-time.After(10 * time.Second):
		t.Fatal("no output from the child in 10s")
	}
	return ""
}

func exitCode(t *testing.T, cmd *exec.Cmd, stderr *bytes.Buffer) int {
	t.Helper()
	err := cmd.Wait()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	code := cmd.ProcessState.ExitCode()
	if code == exitNoSandbox {
		t.Skipf("no sandbox for the parent: %s", stderr)
	}
	return code
}

func TestSignalForwarding(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 7}, {syscall.SIGTERM, 8}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			t.Parallel()
			cmd, out, stderr := startParent(t, "signals")
			if line := readLine(t, out, stderr); line != "ready" {
				t.Fatalf("child said %q, want ready", line)
			}
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			expectSignalOnce(t, cmd, out, stderr, tc.sig.String(), tc.code)
		})
	}
}

// expectSignalOnce checks that the "signals" child got the signal once and
// that the parent exited with the child's code.
func expectSignalOnce(t *testing.T, cmd *exec.Cmd, out *bufio.Reader, stderr *bytes.Buffer, sig string, code int) {
	t.Helper()
	want := "got " + sig
	if line := readLine(t, out, stderr); line != want {
		t.Errorf("child said %q, want %q", line, want)
	}
	if rest, _ := io.ReadAll(out); len(rest) > 0 {
		t.Errorf("child then said %q", rest)
	}
	if got := exitCode(t, cmd, stderr); got != code {
		t.Errorf("parent exited %d, want the child's %d; stderr: %s", got, code, stderr)
	}
}

// TestTerminalInterruptOnce types Ctrl-C on a terminal where the parent is the
// foreground job: the kernel signals the parent (the child has a session of
// its own), which forwards it; the child must get it exactly once.
func TestTerminalInterruptOnce(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer ptmx.Close()
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	pts, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer pts.Close()

	cmd := parentCmd(os.Args[0], "signals")
	cmd.Stdin = pts
	// A new session whose controlling terminal is pts: its process group
	// is the terminal's foreground job.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	out, stderr := start(t, cmd)
	if line := readLine(t, out, stderr); line != "ready" {
		t.Fatalf("child said %q, want ready", line)
	}
	if _, err := ptmx.Write([]byte{3}); err != nil { // ^C
		t.Fatal(err)
	}
	expectSignalOnce(t, cmd, out, stderr, syscall.SIGINT.String(), 7)
}

// testEnv returns the test's environment plus env. It turns off the race
// detector's one-second sleep at exit, which would slow every child.
func testEnv(env ...string) []string {
	out := os.Environ()
	if _, ok := os.LookupEnv("GORACE"); !ok {
		out = append(out, "GORACE=atexit_sleep_ms=0")
	}
	return append(out, env...)
}

func TestKillParentKillsSandbox(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	veth := fmt.Sprintf("sbk%d", os.Getpid()%100000)
	before := hostLinks(t)
	cmd, out, stderr := startParent(t, "veth-sleep", "SANDBOX_TEST_VETH="+veth)
	if line := readLine(t, out, stderr); line != "ready" {
		t.Fatalf("child said %q, want ready; stderr: %s", line, stderr)
	}
	pid := sandboxChild(t, cmd.Process.Pid)
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pidfd)
	if links := hostLinks(t); slices.Contains(links, veth+"a") || slices.Contains(links, veth+"b") {
		t.Fatalf("the sandbox's veth %s is on the host: %q", veth, links)
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	start := time.Now()
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("sandbox child %d still alive 1s after its parent was killed", pid)
	}
	t.Logf("sandbox child gone %v after its parent was killed", time.Since(start))

	after := hostLinks(t)
	for _, name := range after {
		if strings.HasPrefix(name, veth) {
			t.Errorf("link %s leaked to the host", name)
		}
		if !slices.Contains(before, name) {
			t.Logf("new host link %s (not ours)", name)
		}
	}
}

func hostLinks(t *testing.T) []string {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range ifs {
		names = append(names, i.Name)
	}
	sort.Strings(names)
	return names
}

// sandboxChild returns the pid, as this test sees it, of the one child of
// the parent ppid: the sandbox's init.
func sandboxChild(t *testing.T, ppid int) int {
	t.Helper()
	if kids := children(t, ppid); len(kids) == 1 {
		return kids[0]
	} else {
		t.Fatalf("parent %d has children %v, want one", ppid, kids)
	}
	return 0
}

// children lists the child processes of pid.
func children(t *testing.T, pid int) []int {
	t.Helper()
	var out []int
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, task := range tasks {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, task.Name()))
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}
