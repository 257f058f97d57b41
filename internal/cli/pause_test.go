package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsscript/nsscript/internal/control"
	"github.com/nsscript/nsscript/internal/testenv"
)

// pauseLabSrc builds net1 with inner (10.7.0.2/24) on a veth to host's
// outer (10.7.0.1/24).
const pauseLabSrc = `net1 = netns("net1")
outer, inner = veth("outer", "inner", peer_ns = net1)
outer.addr("10.7.0.1/24")
inner.addr("10.7.0.2/24")
expect_reachable(net1, "10.7.0.1")
`

// pausedRun is a running "nsscript run --pause" in its own runtime dir.
type pausedRun struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr strings.Builder // what the run printed on stderr up to the pause
	rest   chan string     // the rest of stderr, once it ended
	rt     string          // runtime directory
	dir    string          // script directory
	stdout testenv.LockedBuffer
}

// startPaused starts nsscript run with args in dir and waits for the
// "paused" line on its stderr.
func startPaused(t *testing.T, rt, dir string, args ...string) *pausedRun {
	t.Helper()
	p := &pausedRun{rt: rt, dir: dir, rest: make(chan string, 1)}
	p.cmd = nsscript(t, dir, append([]string{"run"}, args...)...)
	p.cmd.Env = append(p.cmd.Env, control.DirEnv+"="+rt)
	p.cmd.Stdout = &p.stdout
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	errPipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	paused := make(chan bool, 1)
	go func() {
		br := bufio.NewReader(errPipe)
		sent := false
		for {
			line, err := br.ReadString('\n')
			if !sent {
				p.stderr.WriteString(line)
			}
			if !sent && (strings.HasPrefix(line, "press Enter") || err != nil) {
				paused <- err == nil
				sent = true
				var rest strings.Builder
				io.Copy(&rest, br)
				p.rest <- rest.String()
				return
			}
		}
	}()
	select {
	case ok := <-paused:
		if !ok {
			t.Fatalf("run ended without pausing:\nstdout:\n%s\nstderr:\n%s", p.stdout.String(), p.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no paused line in 30s; stderr so far:\n%s", p.stderr.String())
	}
	return p
}

// nss runs another nsscript command against the paused labs of p.
func (p *pausedRun) nss(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := nsscript(t, p.dir, args...)
	cmd.Env = append(cmd.Env, control.DirEnv+"="+p.rt)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if err != nil && cmd.ProcessState == nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}

// wait waits for the run to end and returns its exit code and the stderr
// it wrote after pausing.
func (p *pausedRun) wait(t *testing.T) (int, string) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the paused run did not end")
	}
	return p.cmd.ProcessState.ExitCode(), <-p.rest
}

// TestPauseExec drives a paused lab from other processes: nsscript exec
// and shell run commands inside net1, then the lab ends when its input
// does, and is gone.
func TestPauseExec(t *testing.T) {
	testenv.NeedNamespaces(t)
	t.Parallel()
	rt := t.TempDir()
	dir := writeScript(t, "lab.star", pauseLabSrc)
	p := startPaused(t, rt, dir, "--pause", "lab.star")
	for i := 0; !strings.Contains(p.stdout.String(), "1 passed, 0 failed"); i++ {
		if i == 100 {
			t.Fatalf("results before the pause:\n%s", p.stdout.String())
		}
		time.Sleep(20 * time.Millisecond) // stdout is another pipe
	}
	for _, want := range []string{"paused (--pause): lab lab stays up; namespaces: host, net1",
		"nsscript shell net1", "nsscript exec net1 -- ip addr"} {
		if !strings.Contains(p.stderr.String(), want) {
			t.Errorf("pause message lacks %q:\n%s", want, p.stderr.String())
		}
	}

	// /proc/net/dev and /sys/class/net show net1's links (the lab mounts a
	// sysfs of net1 for the command, as ip netns exec does).
	out, errOut, code := p.nss(t, "", "exec", "net1", "--", "sh", "-c", "ls /sys/class/net; grep -c inner: /proc/net/dev; ls /run/netns")
	if code != 0 || out != "inner\nlo\n1\nnet1\n" {
		t.Errorf("exec in net1: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if _, err := exec.LookPath("ip"); err == nil {
		out, errOut, code = p.nss(t, "", "exec", "net1", "--", "ip", "-br", "addr")
		if code != 0 || !strings.Contains(out, "10.7.0.2/24") {
			t.Errorf("ip -br addr in net1: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
	}
	// The command's status comes back; its input is the client's.
	out, _, code = p.nss(t, "from stdin\n", "exec", "net1", "sh", "-c", "cat; exit 3")
	if code != 3 || out != "from stdin\n" {
		t.Errorf("exit status and stdin: exit %d, stdout %q", code, out)
	}
	// A shell reads its commands from a pipe too.
	out, _, code = p.nss(t, "echo in $NSSCRIPT_NETNS; exit 5\n", "shell", "net1")
	if code != 5 || out != "in net1\n" {
		t.Errorf("shell: exit %d, stdout %q", code, out)
	}
	_, errOut, code = p.nss(t, "", "exec", "net9", "--", "true")
	if code != 2 || !strings.Contains(errOut, `nsscript exec: no namespace "net9" in lab lab (it has: host, net1)`) {
		t.Errorf("unknown namespace: exit %d, stderr %q", code, errOut)
	}
	out, _, _ = p.nss(t, "", "ps")
	if !strings.Contains(out, "lab") || !strings.Contains(out, "paused") || !strings.Contains(out, "[host net1]") {
		t.Errorf("ps:\n%s", out)
	}

	// End of input ends the pause; the lab and its socket are gone.
	p.stdin.Close()
	code, rest := p.wait(t)
	if code != 0 || !strings.Contains(rest, "lab lab ended") {
		t.Errorf("run after the pause: exit %d, stderr %q", code, rest)
	}
	if ents, _ := os.ReadDir(rt); len(ents) != 0 {
		t.Errorf("runtime dir keeps %v", ents)
	}
	_, errOut, code = p.nss(t, "", "exec", "net1", "--", "true")
	if code != 2 || !strings.Contains(errOut, "no paused lab") {
		t.Errorf("exec after the lab ended: exit %d, stderr %q", code, errOut)
	}
}

// TestPauseSignalKillsCommands: SIGTERM ends the pause, and a command still
// running inside the lab ends with it.
func TestPauseSignalKillsCommands(t *testing.T) {
	testenv.NeedNamespaces(t)
	t.Parallel()
	rt := t.TempDir()
	dir := writeScript(t, "lab.star", pauseLabSrc)
	p := startPaused(t, rt, dir, "--pause", "lab.star")
	// A duration no other test uses, to find the command once it runs.
	secs := fmt.Sprintf("60.%06d", os.Getpid()%1000000)
	sleeper := nsscript(t, dir, "exec", "net1", "--", "sleep", secs)
	sleeper.Env = append(sleeper.Env, control.DirEnv+"="+rt)
	var e strings.Builder
	sleeper.Stderr = &e
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	for !running("sleep\x00" + secs + "\x00") {
		time.Sleep(10 * time.Millisecond) // until the lab runs the command
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	code, _ := p.wait(t)
	if code != 0 {
		t.Errorf("run ended by SIGTERM while paused: exit %d, want the script's 0", code)
	}
	done := make(chan struct{})
	go func() { sleeper.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the command inside the lab outlived it")
	}
	if c := sleeper.ProcessState.ExitCode(); c != 137 || !strings.Contains(e.String(), "the lab ended") {
		t.Errorf("command in the ended lab: exit %d, stderr %q", c, e.String())
	}
}

// running reports whether a process with this command line (arguments
// joined by NULs) exists.
func running(cmdline string) bool {
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, d := range dirs {
		if b, err := os.ReadFile(d); err == nil && string(b) == cmdline {
			return true
		}
	}
	return false
}

// TestPauseOnFail pauses only a failed run; nsscript stop ends it and the
// run keeps its exit status.
func TestPauseOnFail(t *testing.T) {
	testenv.NeedNamespaces(t)
	t.Parallel()
	rt := t.TempDir()
	dir := writeScript(t, "ok.star", pauseLabSrc)
	cmd := nsscript(t, dir, "run", "--pause-on-fail", "ok.star")
	cmd.Env = append(cmd.Env, control.DirEnv+"="+rt)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.Contains(string(out), "paused") {
		t.Fatalf("a passing run paused or failed: %v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(dir, "bad.star"), []byte(pauseLabSrc+`expect_reachable(net1, "10.7.9.9", timeout = "200ms")`+"\n"), 0o644)
	p := startPaused(t, rt, dir, "--pause-on-fail", "bad.star")
	if !strings.Contains(p.stderr.String(), "paused (an expectation failed): lab bad stays up") {
		t.Errorf("pause message:\n%s", p.stderr.String())
	}
	// A second paused lab: commands must now say which one.
	p2 := startPaused(t, rt, dir, "--pause", "ok.star")
	if !strings.Contains(p2.stderr.String(), "nsscript shell --lab ok net1") {
		t.Errorf("second lab's message does not name it:\n%s", p2.stderr.String())
	}
	_, errOut, code := p.nss(t, "", "exec", "net1", "true")
	if code != 2 || !strings.Contains(errOut, "2 paused labs (bad, ok): pick one with --lab ID") {
		t.Errorf("exec with two labs: exit %d, stderr %q", code, errOut)
	}
	if _, errOut, code := p.nss(t, "", "exec", "--lab", "bad", "net1", "true"); code != 0 {
		t.Errorf("exec --lab bad: exit %d, stderr %q", code, errOut)
	}
	if _, errOut, code := p.nss(t, "", "stop", "--lab", "bad"); code != 0 {
		t.Fatalf("stop: exit %d, stderr %q", code, errOut)
	}
	if code, _ := p.wait(t); code != 1 {
		t.Errorf("stopped failed run: exit %d, want 1", code)
	}
	p2.stdin.Close()
	p2.wait(t)
}

// TestPauseRootless runs the paused lab and the client as nobody.
func TestPauseRootless(t *testing.T) {
	_, nobody, end := nobodyPaused(t, pauseLabSrc, "--pause")
	out, err := nobody("exec", "net1", "--", "sh", "-c", "id -u; ls /sys/class/net").CombinedOutput()
	if err != nil || string(out) != "0\ninner\nlo\n" {
		t.Errorf("rootless exec: %v\n%s", err, out)
	}
	end()
}

// nobodyPaused runs "nsscript run ARGS lab.star" as user nobody on the
// script src, with a runtime directory of its own, and waits for the pause
// (the test is parallel, and skipped unless root can switch to nobody). It
// returns the pause message, a function that makes other nsscript
// commands as nobody against the lab, and end, which ends the pause.
func nobodyPaused(t *testing.T, src string, args ...string) (head string, nobody func(args ...string) *exec.Cmd, end func()) {
	testenv.NeedNamespaces(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch to the nobody user")
	}
	t.Parallel()
	dir, bin := nobodyCopy(t, "nsscript.test", map[string][]byte{"lab.star": []byte(src)})
	rt := filepath.Join(dir, "rt")
	os.Mkdir(rt, 0o700)
	os.Chown(rt, 65534, 65534)
	nobody = func(args ...string) *exec.Cmd {
		cmd := asNobody(bin, dir, "/usr/sbin:/usr/bin:/sbin:/bin", args...)
		cmd.Env = append(cmd.Env, control.DirEnv+"="+rt)
		return cmd
	}
	run := nobody(append(append([]string{"run"}, args...), "lab.star")...)
	stdin, _ := run.StdinPipe()
	errPipe, _ := run.StderrPipe()
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { run.Process.Kill(); run.Wait() })
	br := bufio.NewReader(errPipe)
	var b strings.Builder
	for !strings.Contains(b.String(), "press Enter") {
		line, err := br.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			t.Fatalf("rootless run did not pause:\n%s", b.String())
		}
	}
	return b.String(), nobody, func() {
		t.Helper()
		stdin.Close()
		go io.Copy(io.Discard, br)
		if err := run.Wait(); err != nil {
			t.Errorf("rootless run: %v", err)
		}
	}
}
