package sandbox

import (
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Orphaned processes (a daemon's double fork, a program's background child
// whose parent exited) are reparented to the nearest reaper: inside the
// sandbox that is this process, init of its PID namespace; with --host it is
// this process too once Reap made it a child subreaper. A reaper must wait
// for them, or they stay zombies, but it must not take the exit status of a
// child that an exec.Cmd waits for: StartCmd and WaitCmd keep a list of
// those, and the reaper waits only for the others.
var reaper struct {
	once  sync.Once
	mu    sync.Mutex // held across starting a child and listing it
	owned map[int]bool
	kick  chan os.Signal
}

// Reap makes this process reap its orphaned descendants for the rest of its
// life: inside the sandbox it is their init already; elsewhere it becomes
// a child subreaper (PR_SET_CHILD_SUBREAPER), so that programs that leave
// their parent stay below it, where a lab can find and stop them. Only the
// first call does anything.
func Reap() {
	reaper.once.Do(func() {
		if os.Getpid() != 1 {
			unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
		}
		reaper.owned = map[int]bool{}
		reaper.kick = make(chan os.Signal, 1)
		signal.Notify(reaper.kick, unix.SIGCHLD)
		go func() {
			for range reaper.kick {
				reapOrphans()
			}
		}()
	})
}

// StartCmd starts cmd by calling start (cmd.Start, perhaps from a thread in
// another namespace) so that the reaper leaves the child to WaitCmd.
func StartCmd(cmd *exec.Cmd, start func() error) error {
	reaper.mu.Lock()
	defer reaper.mu.Unlock()
	if err := start(); err != nil {
		return err
	}
	if reaper.owned != nil {
		reaper.owned[cmd.Process.Pid] = true
	}
	return nil
}

// WaitCmd waits for cmd, which StartCmd started, and returns what cmd.Wait
// returns.
func WaitCmd(cmd *exec.Cmd) error {
	err := cmd.Wait()
	reaper.mu.Lock()
	if reaper.owned != nil {
		delete(reaper.owned, cmd.Process.Pid)
		// An orphan that got the same pid meanwhile was left alone.
		select {
		case reaper.kick <- unix.SIGCHLD:
		default:
		}
	}
	reaper.mu.Unlock()
	return err
}

// reapOrphans waits for every child of this process that has exited and
// that no exec.Cmd waits for. It peeks at the next exited child without
// reaping it (WNOWAIT); when that child is one of StartCmd's, it stops
// there: the child's WaitCmd reaps it and calls again.
func reapOrphans() {
	reaper.mu.Lock()
	defer reaper.mu.Unlock()
	for {
		var info unix.Siginfo
		if unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil) != nil {
			return // no children at all
		}
		pid := siginfoPid(&info)
		if pid == 0 || reaper.owned[pid] {
			return // none has exited, or the next is not ours to reap
		}
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, unix.WNOHANG, nil)
	}
}

// siginfoPid returns si_pid of a SIGCHLD siginfo: the first field of the
// union that follows three ints, aligned to a pointer.
func siginfoPid(info *unix.Siginfo) int {
	off := uintptr(12)
	if unsafe.Sizeof(uintptr(0)) == 8 {
		off = 16
	}
	return int(*(*int32)(unsafe.Add(unsafe.Pointer(info), off)))
}
