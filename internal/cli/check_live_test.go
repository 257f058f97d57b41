package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip (iproute2) to repair the lab by hand")
	}
	exPath := repoExercise(t, "route.txtar")
	src, err := os.ReadFile(exPath)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := exercise.Load(exPath)
	if err != nil {
		t.Fatal(err)
	}
	// The starting lab without its last expectation, which fails until the
	// repair (the run must pass for nobodyPaused's end).
	start, _, _ := strings.Cut(string(ex.Files["start.star"]), "# TODO")
	_, nobody, end := nobodyPaused(t, start, "--pause")
	if err := os.WriteFile(filepath.Join(nobody().Dir, "route.txtar"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := nobody("check", "--lab", "lab", "route.txtar").CombinedOutput()
	if !strings.Contains(string(out), "FAIL [0/1] blue_ns sends everything off its subnet to the host") || !strings.HasSuffix(string(out), "score: 1/4\n") {
		t.Errorf("unrepaired, as nobody:\n%s", out)
	}
	if out, err := nobody("exec", "--lab", "lab", "blue_ns", "--", "ip", "route", "add", "default", "via", "10.0.0.1").CombinedOutput(); err != nil {
		t.Fatalf("repair: %v\n%s", err, out)
	}
	out, err = nobody("check", "--lab", "lab", "route.txtar").CombinedOutput()
	if err != nil || !strings.HasSuffix(string(out), "score: 4/4\n") {
		t.Errorf("repaired, as nobody: %v\n%s", err, out)
	}
	end()
}
