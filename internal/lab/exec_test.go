package lab

import (
	"context"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestStartRecordsStep: the lab runs a program in the namespace it is
// given and records the start as a step, with where it came from.
func TestStartRecordsStep(t *testing.T) {
	t.Parallel()
	l := newLab(t, Options{})
	n, err := l.NewNetns("box")
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(n.FD(), &st); err != nil {
		t.Fatal(err)
	}
	l.SetPos("lab.star:4:1")
	pr, err := l.Start(n, Program{Argv: []string{"sh", "-c", "readlink /proc/self/ns/net"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Stop() })
	res, err := pr.Wait(context.Background(), 10*time.Second)
	if want := "net:[" + strconv.FormatUint(st.Ino, 10) + "]\n"; err != nil || res.Stdout != want {
		t.Errorf("result %+v, %v; want stdout %q", res, err, want)
	}
	if pr.NS != n || pr.Pos != "lab.star:4:1" {
		t.Errorf("process in %v from %q", pr.NS, pr.Pos)
	}
	steps := l.Steps()
	last := steps[len(steps)-1]
	if last.Op != "exec" || last.Cmds[0] != `ip netns exec box sh -c 'readlink /proc/self/ns/net'` {
		t.Errorf("step %+v", last)
	}
	if _, err := l.Start(n, Program{}, false); err == nil || err.Error() != "empty command" {
		t.Errorf("empty argv: %v", err)
	}
}

func TestStartPlan(t *testing.T) {
	t.Parallel()
	l, err := New(Options{Plan: true})
	if err != nil {
		t.Fatal(err)
	}
	pr, err := l.Start(l.Host, Program{Argv: []string{"rm", "-rf", "/nonexistent-nsscript"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	if res := pr.Result(); res.Running || res.Status != 0 || pr.Pid() != 0 {
		t.Errorf("planned program: %+v", res)
	}
	if err := l.WaitListening(context.Background(), pr, "127.0.0.1:1", time.Millisecond); err != nil {
		t.Errorf("planned server: %v", err)
	}
	if s := l.Steps()[0]; s.Cmds[0] != "rm -rf /nonexistent-nsscript &" {
		t.Errorf("step %+v", s)
	}
}
