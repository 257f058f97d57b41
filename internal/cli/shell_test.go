package cli

import (
	"io"
	"os"
	"path/filepath"
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

// TestShellPrompt: on a terminal, the shell's prompt names the lab and the
// namespace: sh's PS1 is set; bash first reads the user's ~/.bashrc (its
// alias works) and the label goes before the prompt that rc made. The rc
// file nsscript wrote is gone when the shell ends.
func TestShellPrompt(t *testing.T) {
	testenv.NeedNamespaces(t)
	t.Parallel()
	rt := t.TempDir()
	dir := writeScript(t, "lab.star", pauseLabSrc)
	p := startPaused(t, rt, dir, "--pause", "lab.star")
	defer func() { p.stdin.Close(); p.wait(t) }()
	home := t.TempDir()
	os.WriteFile(filepath.Join(home, ".bashrc"), []byte("PS1='mine\\$ '\nalias hi='echo rc-was-read'\n"), 0o644)
	tmp := t.TempDir()

	for _, tc := range []struct{ shell, prompt, cmd, answer string }{
		{"/bin/sh", "[lab lab ns net1] # ", "echo $((6*7))", "42"},
		{"/bin/bash", "[lab lab ns net1] mine# ", "hi", "rc-was-read"},
	} {
		if _, err := os.Stat(tc.shell); err != nil {
			t.Logf("no %s", tc.shell)
			continue
		}
		userM, userS, err := control.OpenPty()
		if err != nil {
			t.Skipf("no pty: %v", err)
		}
		cmd := nsscript(t, dir, "shell", "net1")
		cmd.Env = append(cmd.Env, control.DirEnv+"="+rt, "SHELL="+tc.shell, "HOME="+home, "TMPDIR="+tmp)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = userS, userS, userS
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		userS.Close()
		var out strings.Builder
		// read waits for the n-th appearance of want.
		read := func(want string, n int) {
			t.Helper()
			buf := make([]byte, 4096)
			userM.SetReadDeadline(time.Now().Add(15 * time.Second))
			for strings.Count(out.String(), want) < n {
				n, err := userM.Read(buf)
				out.Write(buf[:n])
				if err != nil {
					t.Fatalf("%s: waiting for %q: %v; terminal shows:\n%q", tc.shell, want, err, out.String())
				}
			}
		}
		read(tc.prompt, 1)
		userM.WriteString(tc.cmd + "\r")
		read(tc.answer+"\r\n", 1)
		read(tc.prompt, 2) // and the next prompt
		userM.WriteString("exit\r")
		go io.Copy(io.Discard, userM)
		cmd.Wait()
		userM.Close()
		if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
			t.Errorf("%s: left %v in TMPDIR", tc.shell, ents)
		}
	}
}
