package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/nsscript/nsscript/internal/testenv/hostlock"
)

// holdNetns is the "hold-netns" child: it puts a file in the sandbox's
// /run/netns, says ready, waits for a line on stdin (the test changes the
// host meanwhile) and says whether the file is still there.
func holdNetns() int {
	mark := filepath.Join(netnsDir, "mark")
	if err := os.WriteFile(mark, nil, 0o644); err != nil {
		fmt.Println("write:", err)
		return 1
	}
	fmt.Println("ready")
	bufio.NewReader(os.Stdin).ReadString('\n')
	if _, err := os.Stat(mark); err != nil {
		fmt.Println("gone:", err)
		return 1
	}
	fmt.Println("kept")
	return 0
}

// TestRunNetnsSurvivesHostRmdir: removing the host's /run/netns while a
// sandbox runs (ip netns delete of the last name, a --host run's undo, a
// person's rmdir) leaves the sandbox's private /run/netns alone. When the
// sandbox mounted its tmpfs on the host's directory, the kernel detached
// that mount with the directory, and a spec running `ip netns add` lost its
// namespaces in the middle of the run. It changes the host's /run/netns:
// not parallel, and holding the host lock that tests comparing the host's
// state before and after a run take.
func TestRunNetnsSurvivesHostRmdir(t *testing.T) {
	requireSandbox(t)
	if os.Geteuid() != 0 {
		t.Skip("changing the host's /run/netns needs root")
	}
	hostlock.Lock(t, true)
	if entries, err := os.ReadDir(netnsDir); err == nil && len(entries) > 0 {
		t.Skipf("the host's %s has entries; this test removes it", netnsDir)
	}
	created := false
	if err := os.Mkdir(netnsDir, 0o755); err == nil {
		created = true
	} else if !errors.Is(err, fs.ErrExist) {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !created {
			os.Mkdir(netnsDir, 0o755) // as it was
		}
	})
	cmd := parentCmd(os.Args[0], "hold-netns")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, stderr := start(t, cmd)
	if line := readLine(t, out, stderr); line != "ready" {
		t.Fatalf("child said %q, want ready; stderr: %s", line, stderr)
	}
	if err := os.Remove(netnsDir); err != nil {
		t.Skipf("cannot remove the host's %s (another run uses it): %v", netnsDir, err)
	}
	fmt.Fprintln(in, "go")
	if line := readLine(t, out, stderr); line != "kept" {
		t.Errorf("after the host's %s was removed, the sandbox's: %s", netnsDir, line)
	}
	if code := exitCode(t, cmd, stderr); code != 0 {
		t.Errorf("child exited %d: %s", code, stderr)
	}
}
