//go:build cgo

package nsexec

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsscript/nsscript/internal/sandbox/spawn"
	"github.com/nsscript/nsscript/internal/testenv"
)

// This test binary links the constructor too: run as `nsscript run x.star`
// (testChild), it starts its sandboxed child before Go, and the child runs
// childMain, which does what testEnv asks.
const testEnv = "NSEXEC_TEST"

func TestMain(m *testing.M) {
	if child() {
		os.Exit(childMain())
	}
	if os.Getenv(testEnv) != "" {
		fmt.Println("not taken")
		os.Exit(4) // the constructor did not take this command line
	}
	os.Exit(m.Run())
}

// childMain is the sandboxed child: it takes the handover as nsscript's
// child does, then reports (exit 7), waits for SIGTERM (exit 9), or waits.
func childMain() int {
	if err := spawn.Receive(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	switch os.Getenv(testEnv) {
	case "report":
		fmt.Printf("pid=%d ppid=%d sandbox=%s stdin=%s\n", os.Getpid(), os.Getppid(), os.Getenv(spawn.EnvVar), readLine())
		return 7
	case "signal":
		fmt.Println("waiting")
		readLine() // the test sends its signal meanwhile: Go's default would end this process
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM)
		fd, _ := strconv.Atoi(os.Getenv(spawn.LifelineEnv))
		syscall.Write(fd, []byte{1}) // signals may come now, as sandbox.Setup says
		select {
		case <-sigs:
			return 9
		case <-time.After(time.Minute):
			return 5
		}
	}
	fmt.Println("waiting")
	select {}
}

func readLine() string {
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	return strings.TrimSpace(line)
}

// testChild returns a command that runs this test binary as nsscript with
// args, its child doing what mode asks.
func testChild(t *testing.T, mode string, args ...string) *exec.Cmd {
	t.Helper()
	testenv.NeedNamespaces(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Args[0] = "nsscript"
	cmd.Env = append(os.Environ(), testEnv+"="+mode)
	return cmd
}

// startWaiting starts cmd (from testChild) and returns once its child said
// "waiting", that is, once the parent has handed it over.
func startWaiting(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "waiting" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child said %q, want waiting; exit %v, stderr %q", lines.Text(), cmd.ProcessState, stderr.String())
	}
}

// The constructor starts the child in its namespaces, as init of its PID
// namespace, hands it the environment and standard files, and exits with
// its exit code.
func TestChildStartsBeforeGo(t *testing.T) {
	cmd := testChild(t, "report", "run", "x.star")
	cmd.Stdin = strings.NewReader("from the parent\n")
	out, err := cmd.Output()
	if code := cmd.ProcessState.ExitCode(); code != 7 {
		t.Fatalf("exit %d (%v), want 7; output %q", code, err, out)
	}
	if want := "pid=1 ppid=0 sandbox=1 stdin=from the parent\n"; string(out) != want {
		t.Errorf("child reported %q, want %q", out, want)
	}
}

// A command line the constructor does not take goes on in Go.
func TestOtherCommandLinesGoOnInGo(t *testing.T) {
	for _, args := range [][]string{{"run", "--pause", "x.star"}, {"version"}, {"run", "-"}} {
		cmd := testChild(t, "report", args...)
		out, _ := cmd.Output()
		if code := cmd.ProcessState.ExitCode(); code != 4 || string(out) != "not taken\n" {
			t.Errorf("nsscript %s: exit %d, output %q; want 4, \"not taken\"", strings.Join(args, " "), code, out)
		}
	}
}

// SIGTERM to the parent reaches the child, also when it comes before the
// child can handle it: the parent holds it until the child's byte on the
// lifeline says it can (as init, it would lose a signal it has no handler
// for).
func TestSignalHeldUntilChildReady(t *testing.T) {
	cmd := testChild(t, "signal", "run", "x.star")
	stdin, _ := cmd.StdinPipe()
	startWaiting(t, cmd)
	cmd.Process.Signal(syscall.SIGTERM)
	fmt.Fprintln(stdin, "go on")
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 9 {
		t.Errorf("exit %d, want 9 (the child got SIGTERM)", code)
	}
}

// When the parent dies, even of SIGKILL, the child dies too.
func TestChildDiesWithParent(t *testing.T) {
	cmd := testChild(t, "wait", "run", "x.star")
	startWaiting(t, cmd)
	children, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid), "task", strconv.Itoa(cmd.Process.Pid), "children"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(children)))
	if err != nil || pid == 0 {
		cmd.Process.Kill()
		t.Fatalf("no child of %d: %q, %v", cmd.Process.Pid, children, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	for deadline := time.Now().Add(time.Minute); syscall.Kill(pid, 0) == nil; time.Sleep(10 * time.Millisecond) {
		if state, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat")); strings.Contains(string(state), ") Z ") {
			break // dead, waiting for init to reap it
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("child %d still there a minute after its parent was killed", pid)
		}
	}
}
