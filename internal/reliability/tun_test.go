package reliability

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/nsscript/nsscript/internal/testenv"
)

// TestTapSpecTunModes runs the tap spec as nobody with /dev/net/tun at mode
// 0600 (tap() cannot work: the spec checks the error and skips) and at 0666
// (it passes), restoring the device's mode afterwards. The exclusive host
// lock keeps the change away from other tests that take it.
func TestTapSpecTunModes(t *testing.T) {
	needNobody(t)
	const dev = "/dev/net/tun"
	fi, err := os.Stat(dev)
	if err != nil {
		t.Skipf("no %s: %v", dev, err)
	}
	testenv.LockHost(t, true)
	orig := fi.Mode().Perm()
	t.Cleanup(func() {
		if err := os.Chmod(dev, orig); err != nil {
			t.Errorf("restore %s to %04o: %v", dev, orig, err)
		}
	})
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mode os.FileMode
		want string
	}{{0o600, "skip"}, {0o666, "pass"}} {
		if err := os.Chmod(dev, tc.mode); err != nil {
			t.Fatal(err)
		}
		p := start(t, []string{"test", "-json", "-run", "^tap_device$", "testdata"}, func(c *exec.Cmd) {
			c.Dir = root
			asNobody(c)
		})
		p.wait(t, 5*time.Minute)
		var r specResult
		if err := json.Unmarshal([]byte(p.stdout.String()), &r); err != nil || r.Status != tc.want {
			t.Errorf("tap_device as nobody, %s at %04o: %q, want %s\nstdout:\n%s\nstderr:\n%s", dev, tc.mode, r.Status, tc.want, p.stdout, p.stderr)
		}
	}
}
