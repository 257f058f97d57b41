package proc

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Stop ends the program and everything left in its process group: SIGTERM,
// then SIGKILL to what is still alive after a second. It returns the
// program's result. Stopping a program that has exited still ends what it
// left running in its group.
func (pr *Process) Stop() Result {
	pr.stopOnce.Do(func() {
		if pr.cmd == nil {
			return
		}
		pgid := pr.cmd.Process.Pid
		if signalGroup(pgid, unix.SIGTERM) {
			waitGroup(pgid, stopGrace)
			if signalGroup(pgid, unix.SIGKILL) {
				waitGroup(pgid, stopGrace)
			}
		}
		<-pr.done
		pr.waitOutput(outputGrace)
	})
	return pr.Result()
}

// waitGroup waits until no member of process group pgid is alive, or d.
func waitGroup(pgid int, d time.Duration) {
	deadline := time.Now().Add(d)
	for signalGroup(pgid, 0) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

// signalGroup sends sig (none when 0) to the live members of process group
// pgid and reports whether there were any. It walks nsscript's own process
// tree rather than calling kill(-pgid): once a group's leader is reaped its
// id may be reused, but a descendant is always one of ours. Members orphaned
// by their parent were reparented to nsscript (their reaper), so they are
// found too; the reaper waits for them once dead, the leader's Wait for it.
func signalGroup(pgid int, sig unix.Signal) bool {
	alive := false
	for _, pid := range descendants(os.Getpid()) {
		st, ok := procStat(pid)
		if !ok || st.pgrp != pgid || st.state == "Z" || st.state == "X" {
			continue
		}
		alive = true
		if sig != 0 {
			unix.Kill(pid, sig)
		}
	}
	return alive
}

// descendants lists the processes below pid, parents first.
func descendants(pid int) []int {
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", p))
		for _, t := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", p, t.Name()))
			if err != nil {
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				if c, err := strconv.Atoi(f); err == nil {
					out = append(out, c)
					queue = append(queue, c)
				}
			}
		}
	}
	return out
}

// procStatus is the part of /proc/PID/stat that Stop needs.
type procStatus struct {
	state      string
	ppid, pgrp int
}

// procStat reads a process's state, parent and group.
func procStat(pid int) (procStatus, bool) {
	var st procStatus
	f, err := statFields(pid)
	if err != nil || len(f) < 3 {
		return st, false
	}
	st.state = f[0]
	ppid, err1 := strconv.Atoi(f[1])
	pgrp, err2 := strconv.Atoi(f[2])
	st.ppid, st.pgrp = ppid, pgrp
	return st, err1 == nil && err2 == nil
}

// statFields returns the fields of /proc/PID/stat that follow the command
// name: field 3 (the state) onwards.
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	// The command name, in parentheses, may hold spaces: skip past it.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return strings.Fields(s[i+1:]), nil
}

// StartTime returns the start time of process pid (field 22 of its stat, in
// clock ticks since boot): with the pid, it tells a live process from a
// later one that reused its id.
func StartTime(pid int) (uint64, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	if len(f) < 20 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}
