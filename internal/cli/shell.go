package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/control"
)

// enterCmd is the hidden command a paused lab runs commands through (see
// control.LabStarter).
const enterCmd = "__enter"

func init() {
	register(&command{"shell", "[--lab ID] NS", "open a shell inside a namespace of a paused lab (nsscript run --pause)", 20, cmdShell})
	register(&command{"exec", "[--lab ID] [-t] NS -- CMD [ARG...]", "run one command inside a namespace of a paused lab", 21, cmdExec})
	register(&command{"ps", "", "list the paused labs", 22, cmdPs})
	register(&command{"stop", "[--lab ID]", "end a paused lab", 23, cmdStop})
	register(&command{enterCmd, "-- CMD [ARG...]", "", 1000, cmdEnter})
}

const shellAbout = `Opens a shell ($SHELL, or /bin/sh) inside namespace NS of a lab that
nsscript run --pause (or --pause-on-fail) keeps alive, as "ip netns exec NS
$SHELL" would on a lab built on the host. The shell runs as root of the lab's
sandbox; /sys shows the namespace's links and every lab namespace is bound
under /run/netns, so ip, tcpdump and the like work as in a tutorial. The
prompt starts with "[lab ID ns NS] ": bash reads the user's ~/.bashrc first
and the label goes before the prompt it set; other shells get PS1 in their
environment (NSSCRIPT_LAB and NSSCRIPT_NETNS are set for prompts of one's
own). Leave it with exit or Ctrl-D; the lab stays up until its run ends.

With several paused labs, pick one with --lab ID (nsscript ps lists them).`

const execAbout = `Runs CMD inside namespace NS of a paused lab (see nsscript shell) with this
terminal's standard input, output and error, and exits with CMD's status.
Ctrl-C and SIGTERM are passed on to CMD. -t runs CMD on a terminal of its
own, for full-screen programs.`

// labFlag adds --lab to fs.
func labFlag(fs interface {
	StringVar(*string, string, string, string)
}) *string {
	var id string
	fs.StringVar(&id, "lab", "", "the paused lab to use, by `ID` (needed when several are paused; see nsscript ps)")
	return &id
}

// findLab returns the socket of the paused lab called id (or the only one).
func findLab(env *Env, id string) (string, error) {
	dir, err := control.Dir(env.Getenv)
	if err != nil {
		return "", err
	}
	return control.Find(dir, id)
}

func cmdShell(env *Env, args []string) int {
	fs := newFlags(env, "shell", "[--lab ID] NS", shellAbout)
	id := labFlag(fs)
	if code, done := parseFlags(env, fs, args); done {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(env.Stderr, "nsscript shell: want one namespace (nsscript shell NS)")
		return ExitError
	}
	sh := env.Getenv("SHELL")
	if sh == "" {
		sh = "/bin/sh"
	}
	return enterLab(env, "shell", *id, fs.Arg(0), []string{sh}, true, true)
}

func cmdExec(env *Env, args []string) int {
	fs := newFlags(env, "exec", "[--lab ID] [-t] NS -- CMD [ARG...]", execAbout)
	id := labFlag(fs)
	tty := fs.Bool("t", false, "give CMD a terminal of its own (when this one is a terminal)")
	if code, done := parseFlags(env, fs, args); done {
		return code
	}
	rest := fs.Args()
	if len(rest) > 1 && rest[1] == "--" {
		rest = append(rest[:1:1], rest[2:]...)
	}
	if len(rest) < 2 {
		fmt.Fprintln(env.Stderr, "nsscript exec: want a namespace and a command (nsscript exec NS -- CMD)")
		return ExitError
	}
	return enterLab(env, "exec", *id, rest[0], rest[1:], *tty, false)
}

// enterLab runs argv in namespace ns of the paused lab id and returns its
// exit status. With tty and a terminal on both ends, the command gets a pty.
// A shell's prompt names the lab and the namespace (shell_prompt.go).
func enterLab(env *Env, name, id, ns string, argv []string, tty, shell bool) int {
	path, err := findLab(env, id)
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript %s: %v\n", name, err)
		return ExitError
	}
	environ := os.Environ()
	if shell {
		var done func()
		argv, environ, done, err = shellPrompt(argv, environ, strings.TrimSuffix(filepath.Base(path), ".sock"), ns)
		if err != nil {
			fmt.Fprintf(env.Stderr, "nsscript %s: %v\n", name, err)
			return ExitError
		}
		defer done()
	}
	dir, _ := os.Getwd()
	req := control.Request{NS: ns, Argv: argv, Env: environ, Dir: dir}
	in, inOK := env.Stdin.(*os.File)
	out, outOK := env.Stdout.(*os.File)
	if tty && inOK && outOK && control.IsTerminal(in) && control.IsTerminal(out) {
		term, err := control.NewTerminal(in, out)
		if err != nil {
			fmt.Fprintf(env.Stderr, "nsscript %s: %v\n", name, err)
			return ExitError
		}
		req.TTY = true
		sigs := notify(syscall.SIGTERM, syscall.SIGHUP)
		defer signal.Stop(sigs)
		r, err := control.Exec(path, req, []*os.File{term.Slave, term.Slave, term.Slave}, sigs, func() { term.Slave.Close() }, nil)
		term.Close()
		return execResult(env, name, r, err)
	}
	stdio, wait, err := stdFiles(env)
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript %s: %v\n", name, err)
		return ExitError
	}
	sigs := notify(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	var note sync.Once
	r, err := control.Exec(path, req, stdio, sigs, nil, func() {
		note.Do(func() { fmt.Fprintln(env.Stderr, "nsscript: waiting for the lab to finish its script and pause...") })
	})
	wait()
	return execResult(env, name, r, err)
}

func notify(sigs ...os.Signal) chan os.Signal {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, sigs...)
	return ch
}

func execResult(env *Env, name string, r control.Reply, err error) int {
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript %s: %v\n", name, err)
		return ExitError
	}
	if r.Error != "" {
		fmt.Fprintf(env.Stderr, "nsscript %s: %s\n", name, r.Error)
	}
	return r.ExitCode()
}

// stdFiles returns env's standard streams as files to pass to the lab:
// the files themselves, or pipes copied to and from them (in tests, where
// they are buffers). wait, called after the command ended, finishes the
// copies and closes the pipes.
func stdFiles(env *Env) (files []*os.File, wait func(), err error) {
	var closers []*os.File
	var wg sync.WaitGroup
	wait = func() {
		for _, f := range closers {
			f.Close()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second): // a background process holds a pipe
		}
	}
	if f, ok := env.Stdin.(*os.File); ok {
		files = append(files, f)
	} else {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, nil, err
		}
		go func() {
			if env.Stdin != nil {
				io.Copy(w, env.Stdin)
			}
			w.Close()
		}()
		files = append(files, r)
		closers = append(closers, r)
	}
	for _, dst := range []io.Writer{env.Stdout, env.Stderr} {
		if f, ok := dst.(*os.File); ok {
			files = append(files, f)
			continue
		}
		r, w, err := os.Pipe()
		if err != nil {
			return nil, nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			io.Copy(dst, r)
			r.Close()
		}()
		files = append(files, w)
		closers = append(closers, w)
	}
	return files, wait, nil
}

func cmdPs(env *Env, args []string) int {
	fs := newFlags(env, "ps", "", "Lists the labs that nsscript run --pause keeps alive.")
	if code, done := parseFlags(env, fs, args); done {
		return code
	}
	dir, err := control.Dir(env.Getenv)
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript ps: %v\n", err)
		return ExitError
	}
	ids, err := control.List(dir)
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript ps: %v\n", err)
		return ExitError
	}
	if len(ids) == 0 {
		fmt.Fprintln(env.Stdout, "no paused lab")
		return ExitOK
	}
	fmt.Fprintf(env.Stdout, "%-16s %-8s %-10s %s\n", "ID", "PID", "STATE", "SCRIPT / NAMESPACES")
	for _, id := range ids {
		info, err := control.GetInfo(dir+"/"+id+".sock", 300*time.Millisecond)
		switch {
		case errors.Is(err, control.ErrNotPaused):
			fmt.Fprintf(env.Stdout, "%-16s %-8s %-10s\n", id, "-", "running")
		case err != nil:
			fmt.Fprintf(env.Stdout, "%-16s %-8s %-10s %v\n", id, "-", "?", err)
		default:
			fmt.Fprintf(env.Stdout, "%-16s %-8d %-10s %s: %v%s\n", id, info.PID, "paused", info.Script, info.Namespaces, strings.TrimSuffix(" "+info.Web, " "))
		}
	}
	return ExitOK
}

func cmdStop(env *Env, args []string) int {
	fs := newFlags(env, "stop", "[--lab ID]", "Ends a paused lab, as Enter or Ctrl-C in its terminal would.")
	id := labFlag(fs)
	if code, done := parseFlags(env, fs, args); done {
		return code
	}
	if fs.NArg() != 0 {
		fmt.Fprintln(env.Stderr, "nsscript stop: want no arguments (pick a lab with --lab ID)")
		return ExitError
	}
	path, err := findLab(env, *id)
	if err == nil {
		err = control.Stop(path)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript stop: %v\n", err)
		return ExitError
	}
	return ExitOK
}

// cmdEnter is the hidden command a paused lab starts user commands with,
// already in the target network namespace and in a mount namespace of its
// own: it mounts that namespace's sysfs on /sys, as ip netns exec does, and
// executes the command.
func cmdEnter(env *Env, args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(env.Stderr, "nsscript: __enter is internal to nsscript shell and exec")
		return ExitError
	}
	if !privateMountNS() {
		fmt.Fprintln(env.Stderr, "nsscript: __enter is internal to nsscript shell and exec (not in a private mount namespace)")
		return ExitError
	}
	// Best effort: without it /sys shows the sandbox's links.
	unix.Mount("sysfs", "/sys", "sysfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	path, err := exec.LookPath(args[0])
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript: %s: command not found\n", args[0])
		return 127
	}
	err = syscall.Exec(path, args, os.Environ())
	fmt.Fprintf(env.Stderr, "nsscript: run %s: %v\n", args[0], err)
	return 126
}

// privateMountNS reports whether this process's mount namespace differs
// from its parent's, as it does when a paused lab started it.
func privateMountNS() bool {
	var self, parent unix.Stat_t
	if unix.Stat("/proc/self/ns/mnt", &self) != nil ||
		unix.Stat(fmt.Sprintf("/proc/%d/ns/mnt", os.Getppid()), &parent) != nil {
		return false
	}
	return self.Ino != parent.Ino || self.Dev != parent.Dev
}
