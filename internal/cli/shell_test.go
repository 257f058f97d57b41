package cli

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

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

	cmd := nsscript(t, dir, "shell", "net1")
	cmd.Env = append(cmd.Env, control.DirEnv+"="+rt, "SHELL=/bin/sh")
	term := onPty(t, cmd)
	term.waitFor("[lab lab ns net1] # ", 1) // the shell reads its input
	term.m.WriteString("echo $((6*7)) $NSSCRIPT_NETNS; [ -t 0 ] && echo tty-ok\r")
	term.waitFor("42 net1", 1)
	term.waitFor("tty-ok", 1)
	term.m.WriteString("exit 4\r")
	go io.Copy(io.Discard, term.m)
	cmd.Wait()
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
		cmd := nsscript(t, dir, "shell", "net1")
		cmd.Env = append(cmd.Env, control.DirEnv+"="+rt, "SHELL="+tc.shell, "HOME="+home, "TMPDIR="+tmp)
		term := onPty(t, cmd)
		term.waitFor(tc.prompt, 1)
		term.m.WriteString(tc.cmd + "\r")
		term.waitFor(tc.answer+"\r\n", 1)
		term.waitFor(tc.prompt, 2) // and the next prompt
		term.m.WriteString("exit\r")
		go io.Copy(io.Discard, term.m)
		cmd.Wait()
		if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
			t.Errorf("%s: left %v in TMPDIR", tc.shell, ents)
		}
	}
}

// onPty starts cmd as a session leader on a new 80x24 terminal and returns
// the terminal's master side, to type on and read the screen from.
func onPty(t *testing.T, cmd *exec.Cmd) *ptyScreen {
	t.Helper()
	m, s, err := control.OpenPty()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	// A terminal has a size (readline completes nothing on a width of 0).
	unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 80})
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s, s, s
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	s.Close()
	return &ptyScreen{t: t, m: m}
}

// ptyScreen is what a program wrote on its terminal so far.
type ptyScreen struct {
	t   *testing.T
	m   *os.File
	out strings.Builder
}

// waitFor reads the terminal until want has appeared n times in all.
func (p *ptyScreen) waitFor(want string, n int) {
	p.t.Helper()
	buf := make([]byte, 4096)
	p.m.SetReadDeadline(time.Now().Add(20 * time.Second)) // a hang guard, not a speed limit
	for strings.Count(p.out.String(), want) < n {
		k, err := p.m.Read(buf)
		p.out.Write(buf[:k])
		if err != nil {
			p.t.Fatalf("waiting for %q: %v; the terminal shows:\n%q", want, err, p.out.String())
		}
	}
}
