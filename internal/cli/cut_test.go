package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsscript/nsscript/internal/testenv"
)

// cutScript waits on a namespace that drops everything: only a whole
// timeout could prove the silence, so an earlier end of the run cuts the
// expectation short.
const cutScript = `n = netns("n")
a, b = veth(peer_ns = n)
a.addr("10.9.0.1/24")
b.addr("10.9.0.2/24")
firewall(n, "drop", hook = "input")
expect_unreachable(host, n, timeout = "60s")
`

// TestRunCutShortBySignal: Ctrl-C while an expectation waits reports it as
// CUT (never ok), says so in the summary and exits 2. The signal goes to
// the process group, as a terminal sends it, once -v shows that the
// expectation was queued.
func TestRunCutShortBySignal(t *testing.T) {
	testenv.NeedNamespaces(t)
	t.Parallel()
	dir := writeScript(t, "lab.star", cutScript)
	cmd := nsscript(t, dir, "run", "-v", "lab.star")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout = &out
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var errOut strings.Builder
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		errOut.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "[lab.star:6:1] ") {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
			break
		}
	}
	for sc.Scan() {
		errOut.WriteString(sc.Text() + "\n")
	}
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	want := regexp.MustCompile(`(?m)\ACUT  lab.star:6:1: expect_unreachable: host -> n \(10.9.0.2\): stopped after [0-9.]+m?s: no reply yet\n0 passed, 0 failed, 1 cut short\n\z`)
	if !want.MatchString(out.String()) {
		t.Errorf("stdout:\n%s\nwant it to match %s", out.String(), want)
	}
	// The signal may land as the expectation's line returns (then the run
	// stops at that line) or later (then after the script's end).
	if !regexp.MustCompile(`(?m)^(nsscript run|lab\.star:6:1): interrupted by SIGINT$`).MatchString(errOut.String()) {
		t.Errorf("stderr:\n%s\nwant the interruption", errOut.String())
	}
}

// TestTestInterrupted: Ctrl-C during nsscript test reports the spec it
// stopped as cut short (the reports are still written) and exits 2. The
// signal goes to the process group, as a terminal sends it, once the spec's
// lab script has started.
func TestTestInterrupted(t *testing.T) {
	testenv.NeedNamespaces(t)
	t.Parallel()
	started := filepath.Join(t.TempDir(), "started")
	spec := "exec nsscript run lab.star\n\n-- lab.star --\n" +
		strings.Replace(cutScript, "expect_unreachable", fmt.Sprintf("run(host, \"touch %s\")\nexpect_unreachable", started), 1)
	dir := writeScript(t, "probe_slow.txtar", spec)
	junit := filepath.Join(t.TempDir(), "report.xml")
	cmd := nsscript(t, dir, "test", "--junit", junit, ".")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(started); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond) // waiting on the lab's own signal
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 2 {
		t.Errorf("exit %d, want 2\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	if !strings.HasPrefix(out.String(), "CUT  probe_slow ") || !strings.HasSuffix(out.String(), "\n0 passed, 0 failed, 1 cut short\n") {
		t.Errorf("stdout:\n%s\nwant the spec CUT and the summary to say so", out.String())
	}
	if b, err := os.ReadFile(junit); err != nil || !strings.Contains(string(b), `<error message="cut short: `) {
		t.Errorf("junit report (%v):\n%s\nwant the spec as an error", err, b)
	}
}
