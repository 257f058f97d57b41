package cli

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsscript/nsscript/internal/control"
	"github.com/nsscript/nsscript/internal/testenv"
)

func TestShellExecUsage(t *testing.T) {
	rt := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"exec", "net1"}, "nsscript exec: want a namespace and a command (nsscript exec NS -- CMD)\n"},
		{[]string{"exec"}, "nsscript exec: want a namespace and a command (nsscript exec NS -- CMD)\n"},
		{[]string{"shell"}, "nsscript shell: want one namespace (nsscript shell NS)\n"},
		{[]string{"shell", "a", "b"}, "nsscript shell: want one namespace (nsscript shell NS)\n"},
		{[]string{"exec", "net1", "--", "true"}, "nsscript exec: no paused lab (start one with nsscript run --pause FILE.star)\n"},
		{[]string{"shell", "--lab", "x", "net1"}, "nsscript shell: no paused lab \"x\" (no lab is paused)\n"},
		{[]string{"stop"}, "nsscript stop: no paused lab (start one with nsscript run --pause FILE.star)\n"},
		{[]string{"stop", "x"}, "nsscript stop: want no arguments (pick a lab with --lab ID)\n"},
		{[]string{enterCmd, "--", "true"}, "nsscript: __enter is internal to nsscript shell and exec (not in a private mount namespace)\n"},
	} {
		cmd := nsscript(t, t.TempDir(), tc.args...)
		cmd.Env = append(cmd.Env, control.DirEnv+"="+rt)
		var e strings.Builder
		cmd.Stderr = &e
		cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != 2 || e.String() != tc.want {
			t.Errorf("nsscript %s: exit %d, stderr %q; want 2, %q", strings.Join(tc.args, " "), code, e.String(), tc.want)
		}
	}
	cmd := nsscript(t, t.TempDir(), "ps")
	cmd.Env = append(cmd.Env, control.DirEnv+"="+rt)
	if out, err := cmd.Output(); err != nil || string(out) != "no paused lab\n" {
		t.Errorf("ps with no lab: %v, %q", err, out)
	}
}

// TestShellOnTerminal opens a shell in a paused lab from a terminal: the
// shell gets a pty of its own with job control, and the user's terminal
// comes back as it was.
func TestShellOnTerminal(t *testing.T) {
	testenv.NeedNamespaces(t)
	t.Parallel()
	rt := t.TempDir()
	dir := writeScript(t, "lab.star", pauseLabSrc)
	p := startPaused(t, rt, dir, "--pause", "lab.star")
	defer func() { p.stdin.Close(); p.wait(t) }()

	userM, userS, err := control.OpenPty()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer userM.Close()
	cmd := nsscript(t, dir, "shell", "net1")
	cmd.Env = append(cmd.Env, control.DirEnv+"="+rt, "SHELL=/bin/sh")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = userS, userS, userS
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	userS.Close()
	var out strings.Builder
	read := func(want string) {
		t.Helper()
		buf := make([]byte, 4096)
		userM.SetReadDeadline(time.Now().Add(10 * time.Second))
		for !strings.Contains(out.String(), want) {
			n, err := userM.Read(buf)
			out.Write(buf[:n])
			if err != nil {
				t.Fatalf("waiting for %q: %v; terminal shows:\n%s", want, err, out.String())
			}
		}
	}
	time.Sleep(300 * time.Millisecond)
	userM.WriteString("echo $((6*7)) $NSSCRIPT_NETNS; [ -t 0 ] && echo tty-ok\r")
	read("42 net1")
	read("tty-ok")
	userM.WriteString("exit 4\r")
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := userM.Read(buf); err != nil {
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("shell did not end; terminal shows:\n%s", out.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 4 {
		t.Errorf("shell exit %d, want 4", code)
	}
}
