package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/control"
	"github.com/nsscript/nsscript/internal/lab"
	"github.com/nsscript/nsscript/internal/sandbox"
)

// controlEnv hands a paused lab's socket from the parent, which made it in
// the runtime directory, to the sandboxed child, which serves it: "FD ID N"
// with N the number of other paused labs.
const controlEnv = "NSSCRIPT_CONTROL"

func init() { closeInheritedOnExec(controlEnv) }

// closeInheritedOnExec marks the socket a sandboxed child inherited, whose
// descriptor the environment variable name starts with, close-on-exec: it
// must not leak into the programs a script runs.
func closeInheritedOnExec(name string) {
	if v := os.Getenv(name); v != "" && sandbox.Inside() {
		var fd int
		if _, err := fmt.Sscanf(v, "%d", &fd); err == nil && fd > 2 {
			unix.CloseOnExec(fd)
		}
	}
}

// addPauseFlags adds the flags of this file and of bundle.go to run.
func addPauseFlags(fs *flag.FlagSet, f *runFlags) {
	fs.BoolVar(&f.pause, "pause", false, "keep the lab alive after the script until Enter, Ctrl-C or nsscript stop; enter it with nsscript shell/exec")
	fs.BoolVar(&f.pauseOnFail, "pause-on-fail", false, "like --pause, but only when an expectation failed or the script stopped with an error")
	fs.StringVar(&f.bundle, "bundle", "", "write what explains each failed expectation to files in `DIR` (one per namespace and summary.txt)")
}

// passPauseSocket adds the lab's socket for --pause to o, the options of the
// sandboxed child of cmdRun: it is made here so that it lives in the real
// runtime directory. done removes the socket after the child exited.
func passPauseSocket(env *Env, o *sandbox.Options, file string, f runFlags) (done func(), err error) {
	done = func() {}
	if !f.pause && !f.pauseOnFail {
		return done, nil
	}
	ln, id, path, others, err := newLabSocket(env, file)
	if err != nil {
		return done, err
	}
	lf, err := ln.File()
	ln.Close()
	if err != nil {
		os.Remove(path)
		return done, err
	}
	o.Env = append(o.Env, fmt.Sprintf("%s=%d %s %d", controlEnv, 3+len(o.ExtraFiles), id, others))
	o.ExtraFiles = append(o.ExtraFiles, lf)
	return func() { lf.Close(); os.Remove(path) }, nil
}

// pauseSocket is the lab's socket: the one the parent passed down (in the
// sandbox), or a new one (with --host, where there is no parent).
func pauseSocket(env *Env, file string) (ln *net.UnixListener, id string, others int, done func(), err error) {
	if v := os.Getenv(controlEnv); v != "" {
		os.Unsetenv(controlEnv) // not for the commands the lab runs
		var fd int
		if _, err := fmt.Sscanf(v, "%d %s %d", &fd, &id, &others); err != nil {
			return nil, "", 0, nil, fmt.Errorf("bad %s=%q", controlEnv, v)
		}
		f := os.NewFile(uintptr(fd), "control")
		l, err := net.FileListener(f)
		f.Close()
		if err != nil {
			return nil, "", 0, nil, err
		}
		ul, ok := l.(*net.UnixListener)
		if !ok {
			l.Close()
			return nil, "", 0, nil, errors.New("inherited control socket is not a unix socket")
		}
		return ul, id, others, func() {}, nil
	}
	ln, id, path, others, err := newLabSocket(env, file)
	if err != nil {
		return nil, "", 0, nil, err
	}
	return ln, id, others, func() { os.Remove(path) }, nil
}

// newLabSocket makes the socket of a new paused lab in the runtime directory
// and counts the other labs paused there.
func newLabSocket(env *Env, file string) (ln *net.UnixListener, id, path string, others int, err error) {
	dir, err := control.Dir(env.Getenv)
	if err != nil {
		return nil, "", "", 0, err
	}
	ids, _ := control.List(dir)
	ln, id, path, err = control.Listen(dir, file)
	return ln, id, path, len(ids), err
}

// pauseLab keeps lab l alive after its script when --pause asks for it, or
// --pause-on-fail and the run did not pass (code is the run's exit status;
// an interrupted run never pauses). Every namespace is bound under
// /run/netns, so tools that look there work; nsscript shell and exec reach
// the lab through its socket. The pause ends on Enter or end of input,
// Ctrl-C or SIGTERM, --timeout, or nsscript stop; then commands still
// running in the lab are killed. It returns code unchanged.
func pauseLab(ctx context.Context, env *Env, l *lab.Lab, file string, f runFlags, code int) int {
	if ctx.Err() != nil || !(f.pause || f.pauseOnFail && code != ExitOK) {
		os.Unsetenv(controlEnv)
		return code
	}
	reason := "--pause"
	if code == ExitFail {
		reason = "an expectation failed"
	} else if code != ExitOK {
		reason = "the script stopped with an error"
	}
	if err := l.BindAll(); err != nil {
		fmt.Fprintf(env.Stderr, "nsscript run: pause: %v (tools that read /run/netns will not see every namespace)\n", err)
	}
	ln, id, others, done, err := pauseSocket(env, file)
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript run: pause: %v\n", err)
		return code
	}
	defer done()
	var names []string
	for _, n := range l.Namespaces() {
		names = append(names, n.Name)
	}
	info := control.Info{ID: id, PID: os.Getpid(), Script: file, Namespaces: names,
		Rootless: sandbox.Inside() && sandbox.Rootless(), Paused: true, Reason: reason}
	defer serveWeb(env, l, f, &info)()
	helper := []string{"/proc/self/exe", os.Args[0], enterCmd, "--"}
	srv := control.NewServer(ln, info, control.LabStarter(l, id, helper))
	srv.SetCheck(liveChecker(l)) // nsscript check --lab
	go srv.Serve()
	defer srv.Close()

	fmt.Fprint(env.Stderr, pauseMessage(info, others > 0))
	select {
	case <-ctx.Done():
	case <-srv.Stopped():
	case <-inputEnded(env):
	}
	fmt.Fprintf(env.Stderr, "lab %s ended\n", id)
	return code
}

// pauseMessage tells the user how to enter the paused lab.
func pauseMessage(info control.Info, several bool) string {
	ns := lab.HostName
	for _, n := range info.Namespaces {
		if n != lab.HostName {
			ns = n
			break
		}
	}
	lab := ""
	if several {
		lab = "--lab " + info.ID + " "
	}
	var b strings.Builder
	fmt.Fprintf(&b, "paused (%s): lab %s stays up; namespaces: %s\n", info.Reason, info.ID, strings.Join(info.Namespaces, ", "))
	fmt.Fprintf(&b, "  nsscript shell %s%s                # a shell inside %s\n", lab, ns, ns)
	fmt.Fprintf(&b, "  nsscript exec %s%s -- ip addr      # one command inside %s\n", lab, ns, ns)
	if info.Web != "" {
		fmt.Fprintf(&b, "  live view: %s\n", info.Web)
	}
	fmt.Fprintf(&b, "press Enter or Ctrl-C here (or run nsscript stop%s) to end it\n", strings.TrimSuffix(" "+lab, " "))
	return b.String()
}

// inputEnded is closed when the user presses Enter or standard input ends.
// It never closes when input is /dev/null (a run in the background) or a
// terminal this process may not read (a background job would be stopped).
func inputEnded(env *Env) <-chan struct{} {
	ch := make(chan struct{})
	if f, ok := env.Stdin.(*os.File); ok && !readableInput(f) {
		return ch
	}
	go func() {
		bufio.NewReader(env.Stdin).ReadString('\n')
		close(ch)
	}()
	return ch
}

// readableInput reports whether waiting for a line on f makes sense.
func readableInput(f *os.File) bool {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return false
	}
	if st.Mode&unix.S_IFMT == unix.S_IFCHR && unix.Major(st.Rdev) == 1 && unix.Minor(st.Rdev) == 3 {
		return false // /dev/null
	}
	if control.IsTerminal(f) {
		pgrp, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCGPGRP)
		return err == nil && pgrp == unix.Getpgrp()
	}
	return true
}
