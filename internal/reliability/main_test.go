package reliability

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RunsEnv sets how many runs the leak tests make; make reliability sets 100.
const RunsEnv = "NSSCRIPT_RELIABILITY_RUNS"

// bin is the nsscript binary built once for the package's tests, in a
// directory every user may read (the rootless test runs it as nobody).
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nsscript-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Chmod(dir, 0o755)
	bin = filepath.Join(dir, "nsscript")
	build := exec.Command("go", "build", "-o", bin, "github.com/nsscript/nsscript/cmd/nsscript")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "build nsscript: %v\n", err)
		os.RemoveAll(dir)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runs returns how many runs a leak test makes: short in CI, RunsEnv when
// set.
func runs(short int) int {
	if n, err := strconv.Atoi(os.Getenv(RunsEnv)); err == nil && n > 0 {
		return n
	}
	return short
}

// proc is one nsscript process started by a test.
type proc struct {
	cmd    *exec.Cmd
	stdout *lineBuf
	stderr *lineBuf
	done   chan struct{}
	code   int
}

// start runs nsscript with args; extra configures the command before start.
func start(t testing.TB, args []string, extra func(*exec.Cmd)) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), stdout: newLineBuf(), stderr: newLineBuf(), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	// Do not wait forever for a sandbox that outlives its killed parent to
	// close the output pipes: the test looks for such processes itself.
	// The bound is the leak tests' hang bound, not a speed limit: when it
	// fires, Wait closes the pipes and drops what was not read yet. At 20
	// ms, CI under load lost a whole run's output that way (exit 0, empty
	// stdout, TestConcurrentSameScript/bridge).
	p.cmd.WaitDelay = leftoverHang
	p.cmd.Env = append(os.Environ(), "NSSCRIPT_COLOR=0", "NO_COLOR=1")
	if extra != nil {
		extra(p.cmd)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start nsscript: %v", err)
	}
	go func() {
		p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			p.code = 128 + int(ws.Signal())
		}
		close(p.done)
	}()
	return p
}

// wait waits for the process to end (at most d) and returns its status.
func (p *proc) wait(t testing.TB, d time.Duration) int {
	t.Helper()
	code, err := p.waitErr(d)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// waitErr is wait for goroutines other than the test's: it kills a process
// that outlives d and reports it as an error.
func (p *proc) waitErr(d time.Duration) (int, error) {
	select {
	case <-p.done:
		return p.code, nil
	case <-time.After(d):
		p.cmd.Process.Kill()
		<-p.done
		return -1, fmt.Errorf("nsscript %s did not end within %v\nstdout:\n%s\nstderr:\n%s", strings.Join(p.cmd.Args[1:], " "), d, p.stdout, p.stderr)
	}
}

// waitLine waits until stdout has a line equal to want.
func (p *proc) waitLine(t testing.TB, want string, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if !p.stdout.waitFor(ctx, want, p.done) {
		t.Fatalf("nsscript never printed %q (exit %v)\nstdout:\n%s\nstderr:\n%s", want, p.cmd.ProcessState, p.stdout, p.stderr)
	}
}

func (p *proc) signal(s os.Signal) { p.cmd.Process.Signal(s) }

// lineBuf collects output and lets a test wait for a line.
type lineBuf struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func newLineBuf() *lineBuf { return &lineBuf{changed: make(chan struct{})} }

func (l *lineBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Write(p)
	close(l.changed)
	l.changed = make(chan struct{})
	return len(p), nil
}

func (l *lineBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lineBuf) waitFor(ctx context.Context, want string, done <-chan struct{}) bool {
	ended := false
	for {
		l.mu.Lock()
		sc := bufio.NewScanner(bytes.NewReader(l.b.Bytes()))
		ch := l.changed
		l.mu.Unlock()
		for sc.Scan() {
			if sc.Text() == want {
				return true
			}
		}
		if ended {
			return false
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		case <-done:
			ended = true // read the output once more
		}
	}
}

// leftovers returns the processes still running the test binary.
func leftovers() []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if runsExe("/proc/"+e.Name(), bin) {
			cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			out = append(out, e.Name()+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return out
}

// runsExe reports whether the process of a /proc directory runs the program
// exe (also once exe was removed or replaced on disk).
func runsExe(dir, exe string) bool {
	self, err := os.Readlink(dir + "/exe")
	return err == nil && (self == exe || self == exe+" (deleted)")
}

// noLeftovers fails when nsscript processes outlive their run (see
// waitGone). It returns how long they took to go.
func noLeftovers(t testing.TB) time.Duration {
	t.Helper()
	return waitGone(t, "the run", leftovers)
}

// waitGone waits until list (processes as "PID: command line") is empty and
// returns how long that took. It fails at once if one of them is not
// doomed (a sandbox that went on with its script after its parent died),
// and if doomed ones are still there after leftoverHang (a teardown that
// hangs); then it kills what is left. A sandbox whose parent died before
// the sandbox asked for its death signal is not doomed but ends itself at
// its lifeline's end (see orphanedInit); it too has leftoverHang to go.
func waitGone(t testing.TB, what string, list func() []string) time.Duration {
	t.Helper()
	t0 := time.Now()
	undoomed := 0 // scans in a row that found a process not dying
	for {
		left := list()
		if len(left) == 0 {
			return time.Since(t0)
		}
		alive := false
		for _, l := range left {
			if pid, ok := pidOf(l); ok && !doomed(pid) && !orphanedInit(pid, bin) {
				alive = true
			}
		}
		if alive {
			undoomed++
		} else {
			undoomed = 0
		}
		// Three scans, not one: a thread that dequeued its SIGKILL and
		// was preempted before do_exit looks alive for an instant.
		switch {
		case undoomed >= 3:
			killAll(left)
			t.Fatalf("%s: processes left behind after it ended, not dying:\n%s", what, strings.Join(left, "\n"))
		case time.Since(t0) > leftoverHang:
			killAll(left)
			t.Fatalf("%s: processes still dying %v after it ended:\n%s", what, leftoverHang, strings.Join(left, "\n"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pidOf returns the PID of a process listed as "PID: command line".
func pidOf(l string) (int, bool) {
	pid, err := strconv.Atoi(strings.SplitN(l, ":", 2)[0])
	return pid, err == nil
}

// killAll sends SIGKILL to each process of a waitGone list.
func killAll(left []string) {
	for _, l := range left {
		if pid, ok := pidOf(l); ok {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// leftoverHang is how long a doomed sandbox may take to go before the test
// calls it a hang. It bounds a hang, not speed: the kernel's teardown of a
// PID and network namespace takes milliseconds on an idle machine and
// more under load (a fixed 100 ms grace failed under make stress).
const leftoverHang = 30 * time.Second

// writeScript writes a script into a new directory and returns its path.
func writeScript(t testing.TB, name, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
