package cli

import (
	"bufio"
	"bytes"
	"regexp"
	"strings"
	"syscall"
	"testing"

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
	if !strings.HasSuffix(errOut.String(), "nsscript run: interrupted by SIGINT\n") {
		t.Errorf("stderr:\n%s\nwant it to end with the interruption", errOut.String())
	}
}
