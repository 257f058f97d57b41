package reliability

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/nsscript/nsscript/internal/testenv"
)

// TestLeakSandboxKill runs the leak lab (testdata/leak.star) in its sandbox
// many times, killing half the runs with SIGKILL and half with SIGINT at a
// random moment between start and the end of a normal run (so during
// setup and during probing), and checks after every run that the real
// host is exactly as before and that no nsscript process is left.
func TestLeakSandboxKill(t *testing.T) {
	testenv.LockHost(t, false)
	testenv.NeedNamespaces(t)
	script := "testdata/leak.star"
	before := snapshot(t)

	// A normal run first: it passes, and its length bounds the kill moments.
	t0 := time.Now()
	p := start(t, []string{"run", script}, nil)
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("normal run: exit %d\nstdout:\n%s\nstderr:\n%s", code, p.stdout, p.stderr)
	}
	full := time.Since(t0)
	noLeftovers(t)
	mustEqual(t, "after a normal run", before, snapshot(t))

	n := runs(10)
	killed := map[string]int{}
	early := 0                // runs that ended before the signal came
	var slowest time.Duration // for the sandbox to go after its parent
	for i := range n {
		sig, name := os.Signal(syscall.SIGKILL), "SIGKILL"
		if i%2 == 1 {
			sig, name = syscall.SIGINT, "SIGINT"
		}
		at := time.Duration(rand.Int64N(int64(full)))
		// Output to a file, as to a terminal: a sandbox that outlived its
		// parent would not die of a broken pipe, it would go on.
		out, err := os.Create(filepath.Join(t.TempDir(), "out"))
		if err != nil {
			t.Fatal(err)
		}
		p := start(t, []string{"run", script}, func(c *exec.Cmd) { c.Stdout, c.Stderr = out, out })
		time.Sleep(at)
		p.signal(sig)
		code := p.wait(t, 30*time.Second)
		switch {
		case sig == syscall.SIGKILL && code == 128+9, sig == syscall.SIGINT && code == 2:
			killed[name]++
		case code == 0:
			early++
		case sig == syscall.SIGINT && code == 128+2:
			// Before the CLI installed its handler, SIGINT kills it.
			killed[name]++
			killed["SIGINT-early"]++
		default:
			b, _ := os.ReadFile(out.Name())
			t.Fatalf("run %d (%s after %v): exit %d\noutput:\n%s", i, name, at, code, b)
		}
		out.Close()
		slowest = max(slowest, noLeftovers(t))
		mustEqual(t, "run "+name+" after "+at.String(), before, snapshot(t))
	}
	t.Logf("%d runs (normal run %v, signals at uniform random moments within it): %d killed with SIGKILL, %d interrupted with SIGINT (%d of them before its handler was set up), %d ended before the signal; 0 objects leaked; sandboxes gone within %v",
		n, full.Round(time.Millisecond), killed["SIGKILL"], killed["SIGINT"], killed["SIGINT-early"], early, slowest)
}
