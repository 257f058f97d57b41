package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/testenv/hostlock"

	"github.com/nsscript/nsscript/internal/sandbox/spawn"
)

// requireSandbox skips the test when namespaces cannot be made here, or fails
// it when NSSCRIPT_REQUIRE_NAMESPACES=1.
func requireSandbox(t *testing.T) {
	t.Helper()
	if err := Check(); err != nil {
		noSandbox(t, err)
	}
}

// noSandbox skips the test for want of a sandbox, or fails it when
// NSSCRIPT_REQUIRE_NAMESPACES=1. It is testenv.NeedNamespaces's rule, which
// this package's tests cannot import (testenv imports sandbox).
func noSandbox(t *testing.T, why any) {
	t.Helper()
	if os.Getenv("NSSCRIPT_REQUIRE_NAMESPACES") == "1" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// runChild runs the child program mode in a sandbox through Run, in this
// process, and returns its exit code and output.
func runChild(t *testing.T, mode string, args []string) (int, string) {
	t.Helper()
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	var stdout, stderr bytes.Buffer
	code, err := Run(Options{
		Args:   args,
		Env:    testEnv(childModeEnv + "=" + mode),
		Stdin:  null,
		Stdout: &stdout,
		Stderr: &stderr,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if stderr.Len() > 0 {
		t.Logf("child stderr: %s", stderr.String())
	}
	return code, stdout.String()
}

func runInfo(t *testing.T) info {
	t.Helper()
	code, out := runChild(t, "info", nil)
	return parseInfo(t, code, out)
}

func parseInfo(t *testing.T, code int, out string) info {
	t.Helper()
	var in info
	if code != 0 {
		t.Fatalf("info child exited %d: %s", code, out)
	}
	if err := json.Unmarshal([]byte(out), &in); err != nil {
		t.Fatalf("info child: %v: %q", err, out)
	}
	return in
}

func netnsInode(t *testing.T) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// checkInfo checks what every sandbox must look like from inside.
func checkInfo(t *testing.T, in info, hostNetns uint64) {
	t.Helper()
	if in.Netns == hostNetns {
		t.Errorf("child netns %d is the parent's", in.Netns)
	}
	if !in.LoUp {
		t.Error("lo is down in the sandbox")
	}
	if len(in.RunNetns) != 0 {
		t.Errorf("/run/netns in the sandbox = %q, want empty", in.RunNetns)
	}
	if in.RunNetnsFS != unix.TMPFS_MAGIC {
		t.Errorf("/run/netns in the sandbox has fs type %#x, want tmpfs", in.RunNetnsFS)
	}
	if in.NamedNetns != "ok" {
		t.Errorf("named netns in /run/netns: %s", in.NamedNetns)
	}
	if !slices.Equal(in.SysClassNet, []string{"lo"}) {
		t.Errorf("/sys/class/net in the sandbox = %q, want [lo] (fresh sysfs)", in.SysClassNet)
	}
	if in.EnvVarSet {
		t.Errorf("%s still set after Setup", EnvVar)
	}
	if !strings.HasPrefix(in.Where, "sandbox: pid ") {
		t.Errorf("Where() = %q", in.Where)
	}
	t.Logf("child: %s", in.Where)
}

func TestPrivateNetns(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	host := netnsInode(t)
	var wg sync.WaitGroup
	var ins [2]info
	for i := range ins {
		wg.Go(func() { ins[i] = runInfo(t) })
	}
	wg.Wait()
	for _, in := range ins {
		checkInfo(t, in, host)
		if in.UID != 0 {
			t.Errorf("uid in the sandbox = %d, want 0", in.UID)
		}
		if in.Rootless != spawn.NeedUserNS() {
			t.Errorf("Rootless() inside = %v, want %v", in.Rootless, spawn.NeedUserNS())
		}
	}
	if ins[0].Netns == ins[1].Netns {
		t.Errorf("two concurrent sandboxes share netns %d", ins[0].Netns)
	}
}

func TestRunDirDoesNotLeak(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	hostlock.Lock(t, false) // it compares the host's /run/netns before and after
	_, statErr := os.Stat(netnsDir)
	hostHad := statErr == nil
	before := names("/run")
	var created []string
	for range 2 { // the second run must not see the first's file
		in := runInfo(t)
		checkInfo(t, in, netnsInode(t))
		created = append(created, filepath.Join(netnsDir, "lab"+strconv.FormatUint(in.Netns, 10)))
		// /run is covered: the host's entries must still be there.
		after := names("/run")
		for _, name := range before {
			if slices.Contains(after, name) && !slices.Contains(in.Run, name) {
				t.Errorf("host /run/%s not visible in the sandbox (has %q)", name, in.Run)
			}
		}
	}
	_, statErr = os.Stat(netnsDir)
	if hostHas := statErr == nil; hostHas != hostHad {
		t.Errorf("host %s existence changed: %v, was %v", netnsDir, hostHas, hostHad)
	}
	for _, f := range created {
		if _, err := os.Lstat(f); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s made in the sandbox is visible on the host (%v)", f, err)
		}
	}
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	if code, out := runChild(t, "exit3", nil); code != 3 {
		t.Errorf("exit3: Run = %d, want 3 (%s)", code, out)
	}
	if code, out := runChild(t, "sigterm-self", nil); code != 2 {
		t.Errorf("sigterm-self: Run = %d, want 2 (%s)", code, out)
	}
	// Killed from outside, the child dies of the signal, and Run says so.
	cmd, out, stderr := startParent(t, "wait")
	if line := readLine(t, out, stderr); line != "ready" {
		t.Fatalf("child said %q, want ready", line)
	}
	syscall.Kill(sandboxChild(t, cmd.Process.Pid), syscall.SIGKILL)
	if code := exitCode(t, cmd, stderr); code != 128+int(syscall.SIGKILL) {
		t.Errorf("killed child: Run = %d, want %d (%s)", code, 128+int(syscall.SIGKILL), stderr)
	}
}

func TestArgv0Preserved(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	args := []string{"not the binary's name", "-x", ""}
	code, out := runChild(t, "info", args)
	in := parseInfo(t, code, out)
	if !slices.Equal(in.Args, args) {
		t.Errorf("child os.Args = %q, want %q", in.Args, args)
	}
}

func TestCheckAndWhereOutside(t *testing.T) {
	t.Parallel()
	err1, err2 := Check(), Check()
	if err1 != err2 {
		t.Errorf("Check not cached: %v, then %v", err1, err2)
	}
	if w := Where(); !strings.HasPrefix(w, "sandbox: not entered") {
		t.Errorf("Where() outside = %q", w)
	}
	if err := Setup(); err == nil {
		t.Error("Setup outside the sandbox succeeded")
	}
}

func TestRootlessAsNobody(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("not root: the other tests already run rootless")
	}
	requireSandbox(t)
	// The test binary lives in a directory nobody may not enter.
	dir, err := os.MkdirTemp("", "sandbox-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "sandbox.test")
	if err := copyFile(exe, os.Args[0]); err != nil {
		t.Fatal(err)
	}

	cmd := parentCmd(exe, "info")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	if code := cmd.ProcessState.ExitCode(); code == exitNoSandbox {
		noSandbox(t, "nobody cannot make a sandbox: "+stderr.String())
	}
	in := parseInfo(t, cmd.ProcessState.ExitCode(), stdout.String()+stderr.String())
	checkInfo(t, in, netnsInode(t))
	if in.UID != 0 {
		t.Errorf("uid in the rootless sandbox = %d, want 0", in.UID)
	}
	if !in.Rootless || !strings.Contains(in.Where, "rootless (uid 65534 is root inside)") {
		t.Errorf("Rootless() = %v, Where() = %q inside a rootless sandbox", in.Rootless, in.Where)
	}
}

// copyFile makes dst a hard link of src where it can, else a copy: a copy
// is written through a descriptor that a child forked meanwhile by a
// parallel test holds until it execs, and exec of dst then fails with
// "text file busy" (seen under make stress).
func copyFile(dst, src string) error {
	if os.Link(src, dst) == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// TestRunTime measures Run plus Setup for a trivial child. It is not parallel,
// so it runs before the parallel tests and alone.
func TestRunTime(t *testing.T) {
	requireSandbox(t)
	var times []time.Duration
	for range 7 {
		start := time.Now()
		if code, out := runChild(t, "exit3", nil); code != 3 {
			t.Fatalf("exit3: Run = %d (%s)", code, out)
		}
		times = append(times, time.Since(start))
	}
	slices.Sort(times)
	t.Logf("Run+Setup of a trivial child: median %v (min %v, max %v, rootless %v)",
		times[len(times)/2], times[0], times[len(times)-1], Rootless())
}

func TestExplain(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err    error
		userNS bool
		want   string
	}{
		{syscall.EPERM, true, "sandbox: cannot create a user namespace ("},
		{syscall.EPERM, true, "run as root"},
		{syscall.ENOSPC, true, "raise the limit"},
		{syscall.EPERM, false, "sandbox: cannot create a user namespace (operation not permitted): enable user namespaces"},
		{syscall.EPERM, false, "--host"},
	} {
		err := explain(&os.PathError{Op: "fork/exec", Path: "/proc/self/exe", Err: tc.err}, tc.userNS)
		if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("explain(%v, %v) = %q, want a line with %q", tc.err, tc.userNS, err, tc.want)
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("explain(%v, %v) does not wrap the cause", tc.err, tc.userNS)
		}
	}
}
