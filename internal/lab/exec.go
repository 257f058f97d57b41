package lab

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nsscript/nsscript/internal/proc"
)

// The programs run() starts are supervised by internal/proc; the lab
// records each start as a step (for explain and -v) and runs it in the
// namespace.

// Program is a program to run inside a namespace.
type Program = proc.Program

// ExecResult is what a program left: its output and how it ended.
type ExecResult = proc.Result

// StopTime bounds how long Process.Stop takes (see proc.StopTime).
const StopTime = proc.StopTime

// Process is a program the lab started in a namespace, and where: its
// namespace and the script position that started it.
type Process struct {
	*proc.Process
	NS  *Netns
	Pos string
}

// Start runs p in namespace n and returns at once (proc.Start): it and
// everything it starts live in n; its mount namespace is nsscript's, where
// the lab's namespaces are bound under NetnsDir once BindAll was called. In
// plan mode nothing runs.
func (l *Lab) Start(n *Netns, p Program, background bool) (*Process, error) {
	return l.start(n, p, startHow{background: background})
}

// AnyStatus is the status StartExpecting takes for a program whose exit
// status does not matter.
const AnyStatus = -1

// StartExpecting is Start for a program in the foreground whose exit status
// the script expects to be status (or AnyStatus): explain's command then
// fails the shell script where the status differs, and only there.
func (l *Lab) StartExpecting(n *Netns, p Program, status int) (*Process, error) {
	return l.start(n, p, startHow{status: status})
}

// startHow says how a program starts and how explain shows it.
type startHow struct {
	background bool
	status     int      // for a program in the foreground: see StartExpecting
	shown      []string // the command explain shows, in the current directory (default p.Argv in p.Dir)
	before     []string // explain's commands before the program's
	after      []string // and after it
	outside    []string // directories outside /run it writes to (Step.Outside)
}

// startIn starts p in n, as every program of the lab starts: bridge
// netfilter goes off first where it has not yet (BeforeProgram).
func (l *Lab) startIn(n *Netns, p Program) (*proc.Process, error) {
	if err := l.BeforeProgram(); err != nil {
		return nil, err
	}
	return proc.Start(n.fd, p)
}

func (l *Lab) start(n *Netns, p Program, how startHow) (*Process, error) {
	if err := p.Valid(); err != nil {
		return nil, err
	}
	background, status := how.background, how.status
	pr := &Process{NS: n, Pos: l.pos, Process: proc.Planned(p)}
	l.planned.programs = l.planned.programs || l.opts.Plan
	cmd := inNS(n, ShellJoin(p.Argv))
	if how.shown != nil {
		cmd = inNS(n, ShellJoin(how.shown))
	} else if dir := shownDir(p.Dir); dir != "" {
		// The program runs in its directory; a subshell keeps the script's.
		if background {
			cmd = "exec " + cmd
		}
		cmd = "(cd " + shellQuote(dir) + " && " + cmd + ")"
	}
	switch {
	case status == AnyStatus:
		cmd += " || true"
	case status != 0:
		cmd += " && s=0 || s=$?; test $s -eq " + strconv.Itoa(status)
	}
	label := ShellJoin(p.Argv)
	if how.shown != nil {
		label = ShellJoin(how.shown)
	}
	desc := "run " + label + " in netns " + n.Name
	if background {
		cmd += " &"
		desc = "start " + label + " in the background in netns " + n.Name
	}
	if p.Dir != "" && how.shown == nil {
		desc += " (in " + p.Dir + ")"
	}
	cmds := append(append(append([]string(nil), how.before...), cmd), how.after...)
	err := l.apply(Step{NS: n.Name, Op: "exec", Desc: desc, Cmds: cmds, Outside: how.outside}, func() error {
		var err error
		pr.Process, err = l.startIn(n, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return pr, nil
}

// WaitListening waits until a TCP connection from the program's namespace to
// addr ("127.0.0.1:8080") succeeds, for a server started in the background.
// It fails when the program exits first or timeout passes.
func (l *Lab) WaitListening(ctx context.Context, pr *Process, addr string, timeout time.Duration) error {
	return pr.WaitListening(ctx, addr, timeout)
}

// ShellJoin quotes argv as a shell command line, for messages and explain.
func ShellJoin(argv []string) string { return proc.ShellJoin(argv) }

// shownDir is how explain names a program's directory: "" for the current
// one, a relative path for one below it, otherwise the absolute path.
func shownDir(dir string) string {
	wd, err := os.Getwd()
	if dir == "" || err != nil {
		return dir
	}
	rel, err := filepath.Rel(wd, dir)
	switch {
	case err != nil || rel == ".." || strings.HasPrefix(rel, "../"):
		return dir
	case rel == ".":
		return ""
	}
	return rel
}
