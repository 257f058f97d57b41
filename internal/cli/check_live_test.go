package cli

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsscript/nsscript/internal/control"
	"github.com/nsscript/nsscript/internal/exercise"
	"github.com/nsscript/nsscript/internal/testenv"
)

// bridgeByHand builds exercises/bridge.txtar's answer with ip, from the
// lab's host namespace, as a student would in nsscript shell host.
const bridgeByHand = `set -e
ip link add br00 type bridge
ip addr add 10.100.0.1/16 dev br00
ip link set br00 up
for i in 1 2; do
  ip link add veth$i type veth peer name vethpeer$i
  ip link set vethpeer$i netns net$i
  ip link set veth$i master br00
  ip link set veth$i up
  ip -n net$i addr add 10.100.0.${i}0/16 dev vethpeer$i
  ip -n net$i link set vethpeer$i up
  ip -n net$i route add default via 10.100.0.1
done
`

// TestCheckLiveLab grades a paused lab built by hand: the bridge
// exercise's start.star, paused, gets the failing checks; after the
// student builds the answer with ip inside the lab, full marks; and again
// (what the checks built to test the default routes is gone).
func TestCheckLiveLab(t *testing.T) {
	testenv.NeedNamespaces(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip (iproute2) to build the lab by hand")
	}
	t.Parallel()
	exPath := repoExercise(t, "bridge.txtar")
	ex, err := exercise.Load(exPath)
	if err != nil {
		t.Fatal(err)
	}
	dir := writeScript(t, "start.star", string(ex.Files["start.star"]))
	p := startPaused(t, t.TempDir(), dir, "--pause", "start.star")

	out, errOut, code := p.nss(t, "", "check", "--lab", "start", exPath)
	want := "\nchecks of bridge: Connect two namespaces through a bridge\nok   [1/1] the namespaces net1 and net2 exist\n"
	if code != 1 || !strings.HasPrefix(out, want) || !strings.HasSuffix(out, "score: 1/5\n") ||
		!strings.Contains(out, `FAIL [0/1] net1 and net2 hang off the bridge br00 (one link each): link: no link "br00" in netns "host" (it has: lo)`) {
		t.Errorf("unbuilt lab: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if out, errOut, code := p.nss(t, bridgeByHand, "exec", "--lab", "start", "host", "--", "sh"); code != 0 {
		t.Fatalf("building by hand: exit %d\n%s%s", code, out, errOut)
	}
	for i := 0; i < 2; i++ {
		out, errOut, code = p.nss(t, "", "check", "-v", "--lab", "start", exPath)
		if code != 0 || !strings.HasSuffix(out, "score: 5/5\n") || !strings.Contains(out, "  | ok   ") {
			t.Errorf("lab built by hand, grading %d: exit %d\nstdout:\n%s\nstderr:\n%s", i+1, code, out, errOut)
		}
	}
	if _, errOut, code := p.nss(t, "", "check", "--lab", "nope", exPath); code != 2 || !strings.Contains(errOut, "nsscript check: ") {
		t.Errorf("unknown lab: exit %d: %s", code, errOut)
	}
	p.stdin.Close()
	p.wait(t)
}

// TestCheckLiveLabRootless: as nobody, a paused route exercise repaired by
// hand with ip route add gets full marks, unrepaired not.
func TestCheckLiveLabRootless(t *testing.T) {
	testenv.NeedNamespaces(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch to the nobody user")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip (iproute2) to repair the lab by hand")
	}
	t.Parallel()
	exPath := repoExercise(t, "route.txtar")
	src, err := os.ReadFile(exPath)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := exercise.Load(exPath)
	if err != nil {
		t.Fatal(err)
	}
	dir, bin := nobodyCopy(t, "nsscript.test", map[string][]byte{"start.star": ex.Files["start.star"], "route.txtar": src})
	rt := filepath.Join(dir, "rt")
	os.Mkdir(rt, 0o700)
	os.Chown(rt, 65534, 65534)
	nobody := func(args ...string) *exec.Cmd {
		cmd := asNobody(bin, dir, "/usr/sbin:/usr/bin:/sbin:/bin", args...)
		cmd.Env = append(cmd.Env, control.DirEnv+"="+rt)
		return cmd
	}
	run := nobody("run", "--pause", "start.star")
	stdin, _ := run.StdinPipe()
	errPipe, _ := run.StderrPipe()
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { run.Process.Kill(); run.Wait() })
	br := bufio.NewReader(errPipe)
	var head strings.Builder
	for !strings.Contains(head.String(), "press Enter") {
		line, err := br.ReadString('\n')
		head.WriteString(line)
		if err != nil {
			t.Fatalf("rootless run did not pause:\n%s", head.String())
		}
	}
	out, _ := nobody("check", "--lab", "start", "route.txtar").CombinedOutput()
	if !strings.Contains(string(out), "FAIL [0/1] blue_ns sends everything off its subnet to the host") || !strings.HasSuffix(string(out), "score: 1/4\n") {
		t.Errorf("unrepaired, as nobody:\n%s", out)
	}
	if out, err := nobody("exec", "--lab", "start", "blue_ns", "--", "ip", "route", "add", "default", "via", "10.0.0.1").CombinedOutput(); err != nil {
		t.Fatalf("repair: %v\n%s", err, out)
	}
	out, err = nobody("check", "--lab", "start", "route.txtar").CombinedOutput()
	if err != nil || !strings.HasSuffix(string(out), "score: 4/4\n") {
		t.Errorf("repaired, as nobody: %v\n%s", err, out)
	}
	stdin.Close()
	go io.Copy(io.Discard, br)
	run.Wait()
	if code := run.ProcessState.ExitCode(); code != 1 { // start.star's last expectation fails
		t.Errorf("rootless run: exit %d", code)
	}
}
