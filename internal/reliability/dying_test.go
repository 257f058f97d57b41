package reliability

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pfExiting is PF_EXITING in /proc/PID/stat's flags: the task is in do_exit.
const pfExiting = 0x4

// doomed reports whether process pid is on its way out for good: it, or
// one of its ancestors (the init of a sandbox's PID namespace is the
// ancestor of everything in it), is exiting or has SIGKILL pending. When a
// run's parent process is killed, the kernel queues SIGKILL for the sandbox
// (Pdeathsig) within the parent's own exit, so once the parent is reaped,
// every process of its sandbox is doomed; how long the kernel then takes to
// tear the sandbox down depends on the load, not on nsscript. A process
// that is gone counts as doomed. (The exception is a sandbox whose parent
// died before it asked for Pdeathsig: see orphanedInit.)
func doomed(pid int) bool {
	for range 64 { // a bound on the walk, not a depth anyone reaches
		st, ok := procStat("/proc/" + strconv.Itoa(pid))
		if !ok || st.state == "Z" || st.state == "X" || exiting(pid) {
			return true
		}
		if st.ppid <= 1 {
			return false
		}
		pid = st.ppid
	}
	return false
}

// exiting reports whether a thread of pid is in do_exit or has SIGKILL
// pending (each thread of a process that got a fatal signal has it queued
// until it dequeues it and starts exiting).
func exiting(pid int) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return true
	}
	for _, task := range tasks {
		st, ok := procStat(dir + "/" + task.Name())
		if !ok || st.flags&pfExiting != 0 || killPending(dir+"/"+task.Name()) {
			return true
		}
	}
	return false
}

// orphanedInit reports whether pid runs exe as init of a PID namespace of
// its own while its parent (as the host sees it) runs something else: a
// sandbox whose nsscript parent is gone. When the parent dies between the
// clone and the child's PR_SET_PDEATHSIG (Go sets it after the child waits
// for its id maps, and Go's own check of getppid cannot kill an init), no
// signal is queued: the sandbox starts its runtime and exits when it finds
// its lifeline closed (sandbox.watchParent), before it runs a line of the
// script. Under load that start takes longer than waitGone's three scans;
// make stress caught it once (SIGSTOP+SIGKILL 88 ms into a run).
func orphanedInit(pid int, exe string) bool {
	dir := "/proc/" + strconv.Itoa(pid)
	st, ok := procStat(dir)
	if !ok || !runsExe(dir, exe) || runsExe("/proc/"+strconv.Itoa(st.ppid), exe) {
		return false
	}
	b, err := os.ReadFile(dir + "/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if name, val, ok := strings.Cut(line, ":"); ok && name == "NSpid" {
			f := strings.Fields(val)
			return len(f) > 1 && f[len(f)-1] == "1"
		}
	}
	return false
}

// procFields is what doomed reads from /proc/PID/stat.
type procFields struct {
	state string
	ppid  int
	flags uint64
}

// procStat reads the stat file of a process or thread directory; ok is
// false when it is gone.
func procStat(dir string) (procFields, bool) {
	b, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return procFields{}, false
	}
	// The command name, in parentheses, may hold spaces: fields start
	// after its closing one (state is field 3, ppid 4, flags 9).
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 7 {
		return procFields{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	flags, _ := strconv.ParseUint(f[6], 10, 64)
	return procFields{state: f[0], ppid: ppid, flags: flags}, true
}

// killPending reports whether SIGKILL is pending for the thread of a task
// directory, or for its whole process (SigPnd, ShdPnd in its status).
func killPending(dir string) bool {
	b, err := os.ReadFile(dir + "/status")
	if err != nil {
		return true
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, val, ok := strings.Cut(line, ":")
		if !ok || (name != "SigPnd" && name != "ShdPnd") {
			continue
		}
		if mask, err := strconv.ParseUint(strings.TrimSpace(val), 16, 64); err == nil && mask&(1<<(9-1)) != 0 {
			return true
		}
	}
	return false
}

// TestDoomed: a live process is not doomed, nor its child; one that is gone
// counts as doomed.
func TestDoomed(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 60 & wait")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	pid := cmd.Process.Pid
	child := firstChild(t, pid) // the sleep, once sh has started it
	defer syscall.Kill(child, syscall.SIGKILL)
	if doomed(pid) || doomed(child) {
		t.Fatalf("live processes doomed: sh %v, its sleep %v", doomed(pid), doomed(child))
	}
	// Killed and reaped, sh is gone, and so doomed.
	cmd.Process.Kill()
	cmd.Wait()
	if !doomed(pid) {
		t.Error("a reaped process is not doomed")
	}
}

// TestOrphanedInit: init of a PID namespace whose parent runs another
// program counts; the same program outside a PID namespace of its own, or
// another program, does not.
func TestOrphanedInit(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a PID namespace")
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep")
	}
	sleep, _ = filepath.EvalSymlinks(sleep)
	plain := exec.Command(sleep, "60")
	if err := plain.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { plain.Process.Kill(); plain.Wait() }()
	ns := exec.Command("unshare", "--pid", "--fork", "--kill-child", sleep, "60")
	if err := ns.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { ns.Process.Kill(); ns.Wait() }()
	init := firstChild(t, ns.Process.Pid) // the sleep, once unshare has forked it
	// Until it has exec'd sleep.
	for range 1000 {
		if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", init)); exe == sleep {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if !orphanedInit(init, sleep) {
		t.Errorf("init of a PID namespace under unshare: not seen as an orphaned init")
	}
	if orphanedInit(plain.Process.Pid, sleep) {
		t.Errorf("a sleep in the test's PID namespace seen as an orphaned init")
	}
	if orphanedInit(init, "/bin/false") {
		t.Errorf("an init running another program seen as one running /bin/false")
	}
}

// firstChild waits for the first child of pid's main thread and returns it;
// it fails the test if none comes within leftoverHang (a hang bound).
func firstChild(t *testing.T, pid int) int {
	t.Helper()
	for t0 := time.Now(); time.Since(t0) < leftoverHang; time.Sleep(time.Millisecond) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		if f := strings.Fields(string(b)); len(f) > 0 {
			if child, err := strconv.Atoi(f[0]); err == nil {
				return child
			}
		}
	}
	t.Fatalf("process %d started no child within %v", pid, leftoverHang)
	return 0
}
