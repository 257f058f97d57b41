package reliability

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsscript/nsscript/internal/testenv"
)

// TestConcurrentSameScript starts 16 runs of the same script at once: the
// same namespace, link and bridge names, the same addresses and the same
// nftables table in every run. Each sandbox is private, so all of them must
// pass, and the host must be untouched afterwards.
func TestConcurrentSameScript(t *testing.T) {
	testenv.LockHost(t, false)
	testenv.NeedNamespaces(t)
	const n = 16
	for _, script := range []string{"../../scripts/bridge.star", "testdata/leak.star"} {
		t.Run(strings.TrimSuffix(script[strings.LastIndexByte(script, '/')+1:], ".star"), func(t *testing.T) {
			before := snapshot(t)
			var (
				wg    sync.WaitGroup
				mu    sync.Mutex
				fails []string
			)
			t0 := time.Now()
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					p := start(t, []string{"run", script}, nil)
					code, err := p.waitErr(2 * time.Minute)
					out := p.stdout.String()
					if err != nil || code != 0 || !strings.Contains(out, " passed, 0 failed\n") {
						mu.Lock()
						fails = append(fails, fmt.Sprintf("run %d: exit %d %v\nstdout:\n%s\nstderr:\n%s", i, code, err, out, p.stderr))
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			took := time.Since(t0)
			if len(fails) > 0 {
				t.Fatalf("%d of %d concurrent runs failed:\n%s", len(fails), n, strings.Join(fails, "\n"))
			}
			noLeftovers(t)
			mustEqual(t, "after concurrent runs", before, snapshot(t))
			t.Logf("%d concurrent runs of %s (identical names and addresses): 0 failed, %v in all", n, script, took.Round(time.Millisecond))
		})
	}
}
