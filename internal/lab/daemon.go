package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/nsscript/nsscript/internal/privmount"
	"github.com/nsscript/nsscript/internal/probe"
)

// logTail is how many of a daemon's last output lines an error shows.
const logTail = 8

// DaemonSpec is a long-running program with private directories.
type DaemonSpec struct {
	Argv  []string
	Env   []string
	Dir   string            // working directory
	Dirs  []string          // made private and empty
	Files map[string]string // written into private directories
	Join  string            // a mount namespace to share instead of one of its own (privmount.Spec.Join)
	Ready Ready
	// Control is the unix socket (a path in its private directories) on
	// which the daemon answers commands in BIRD's control protocol.
	Control string
	// Shell, when set, is how explain's shell script gives the daemon its
	// private view; otherwise its private paths go below a directory of
	// its own under /run/nsscript (ShellPath).
	Shell *ShellView
}

// ShellView is how explain's shell script gives a daemon that has its own
// way to keep several instances apart (FRR's -N pathspace) its private
// view, instead of directories under /run/nsscript.
type ShellView struct {
	Args []string // inserted after the program in its command line ("-N", "r1")
	// Dirs maps private directories to the shell's (made with mkdir -p);
	// a private path under none of them stays as it is.
	Dirs map[string]string
	// Ready is a shell command that succeeds once the daemon is ready
	// (for a Ready.Check, which has no shell form of its own).
	Ready string
	// Outside are directories outside /run that the daemon writes to:
	// the script's header suggests a tmpfs on each (Step.Outside).
	Outside []string
}

// Ready says when a daemon counts as started: the first of its fields that
// is set (none: at once).
type Ready struct {
	TCP  string         // "IP:PORT" that accepts a connection from its namespace
	Unix string         // a unix socket path, inside its private directories, that accepts a connection
	Log  *regexp.Regexp // a line of its stdout or stderr
	// Check, when set, asks the daemon itself (dnsmasq: a DNS query
	// answered); Desc names it for messages.
	Check func(ctx context.Context, d *Daemon) (ok bool, why string)
	Desc  string
}

// String describes r for messages: "tcp 127.0.0.1:179".
func (r Ready) String() string {
	switch {
	case r.Check != nil:
		return r.Desc
	case r.TCP != "":
		return "tcp " + r.TCP
	case r.Unix != "":
		return "unix " + r.Unix
	case r.Log != nil:
		return "log line " + r.Log.String()
	}
	return "start"
}

// Daemon is a program the lab runs with private directories (see package
// privmount): Process is the program itself, executed in place by the
// private-directory helper.
type Daemon struct {
	*Process
	Spec      DaemonSpec
	shellRoot string // explain's directory for its private view (ShellPath)
}

// Name is the daemon program's base name, for messages.
func (d *Daemon) Name() string {
	a := d.Spec.Argv[0]
	return a[strings.LastIndexByte(a, '/')+1:]
}

// Path returns where nsscript reaches path of the daemon's private view:
// through /proc/PID/root, so while the daemon runs.
func (d *Daemon) Path(path string) string {
	return fmt.Sprintf("/proc/%d/root%s", d.Pid(), path)
}

// StartDaemon starts a daemon in n with its private directories and files.
// It returns at once; WaitReady waits until it is ready.
func (l *Lab) StartDaemon(n *Netns, s DaemonSpec) (*Daemon, error) {
	ps := privmount.Spec{Dirs: s.Dirs, Files: s.Files, Join: s.Join}
	if err := ps.Check(); err != nil {
		return nil, err
	}
	if len(s.Argv) == 0 || s.Argv[0] == "" {
		return nil, errors.New("empty command")
	}
	prog := s.Argv[0]
	if !l.opts.Plan {
		p, err := exec.LookPath(prog)
		if err != nil {
			if errors.Is(err, exec.ErrNotFound) {
				return nil, fmt.Errorf("start %s: not found in PATH", prog)
			}
			return nil, fmt.Errorf("start %s: %w", prog, err)
		}
		prog = p
	}
	in, err := json.Marshal(ps)
	if err != nil {
		return nil, err
	}
	argv := append([]string{privmount.Exe, prog}, s.Argv[1:]...)
	env := append(append([]string(nil), s.Env...), privmount.EnvVar+"=1")
	l.daemons++
	// Under /run, which the explained script's sandbox makes private, with an
	// absolute path: daemons change directory (dnsmasq to /).
	d := &Daemon{Spec: s, shellRoot: fmt.Sprintf("/run/nsscript/%s%d", filepath.Base(s.Argv[0]), l.daemons)}
	how := startHow{background: true, before: d.setupCmds(), after: d.readyCmds(n)}
	for i, a := range s.Argv {
		how.shown = append(how.shown, d.ShellPath(a))
		if i == 0 && s.Shell != nil {
			how.shown = append(how.shown, s.Shell.Args...)
		}
	}
	if s.Shell != nil {
		how.outside = s.Shell.Outside
	}
	pr, err := l.start(n, Program{Argv: argv, Dir: s.Dir, Env: env, Stdin: string(in)}, how)
	if err != nil {
		return nil, err
	}
	pr.Argv = s.Argv
	d.Process = pr
	return d, nil
}

// ShellPath is where explain's shell script keeps path of the daemon's
// private view: below a directory of its own under /run/nsscript
// ("/run/nsscript/bird1/run/bird/bird.ctl"), or where its ShellView puts
// it. It rewrites every private path in a text (an argument such as
// --conf-file=/run/dnsmasq/dnsmasq.conf, a config file); other paths stay
// as they are.
func (d *Daemon) ShellPath(text string) string {
	ps := d.privatePaths()
	sort.Slice(ps, func(i, j int) bool { return len(ps[i]) > len(ps[j]) }) // longest first
	var pairs []string
	for _, p := range ps {
		pairs = append(pairs, p, d.shellPathOf(p))
	}
	return strings.NewReplacer(pairs...).Replace(text)
}

// shellPathOf is where the shell keeps private path p.
func (d *Daemon) shellPathOf(p string) string {
	v := d.Spec.Shell
	if v == nil {
		return d.shellRoot + p
	}
	for dir, to := range v.Dirs {
		if rest, ok := strings.CutPrefix(p, dir); ok && (rest == "" || rest[0] == '/') {
			return to + rest
		}
	}
	return p
}

// privatePaths are the daemon's private directories and files.
func (d *Daemon) privatePaths() []string {
	return append(append([]string(nil), d.Spec.Dirs...), sortedNames(d.Spec.Files)...)
}

// setupCmds make the daemon's private directories and write its files, for
// explain.
func (d *Daemon) setupCmds() []string {
	dirs := map[string]bool{}
	for _, p := range d.Spec.Dirs {
		if v := d.Spec.Shell; v == nil || v.Dirs[p] != "" {
			dirs[d.ShellPath(p)] = true
		}
	}
	for f := range d.Spec.Files {
		dirs[filepath.Dir(d.ShellPath(f))] = true
	}
	var cmds []string
	if len(dirs) > 0 { // a daemon that joins another's directories has none
		cmds = append(cmds, "mkdir -p "+strings.Join(sortedNames(dirs), " "))
	}
	for _, f := range sortedNames(d.Spec.Files) {
		body := d.ShellPath(strings.TrimSuffix(d.Spec.Files[f], "\n"))
		cmds = append(cmds, "cat >"+shellQuote(d.ShellPath(f))+" <<'EOF'\n"+body+"\nEOF")
	}
	return cmds
}

// readyCmds wait until the daemon is ready as its spec says, for explain (a
// log line is not waited for).
func (d *Daemon) readyCmds(n *Netns) []string {
	r := d.Spec.Ready
	switch {
	case r.Check != nil && d.Spec.Shell != nil && d.Spec.Shell.Ready != "":
		return []string{"timeout 10 sh -c " + shellQuote(WaitUntil(d.Spec.Shell.Ready))}
	case r.TCP != "":
		if ap, err := netip.ParseAddrPort(r.TCP); err == nil {
			return []string{WaitListeningCmd(n, "tcp", int(ap.Port()), 10)}
		}
	case r.Unix != "":
		return []string{"timeout 10 sh -c '" + WaitUntil("test -S "+shellQuote(d.ShellPath(r.Unix))) + "'"}
	}
	return nil
}

// WaitReady waits, at most timeout and while ctx lasts, until d is ready as
// its spec says. A daemon that exits first or is not ready in time is an
// error that shows its last lines of output; it is stopped then.
func (l *Lab) WaitReady(ctx context.Context, d *Daemon, timeout time.Duration) error {
	if l.opts.Plan {
		return nil
	}
	deadline := time.Now().Add(timeout)
	for {
		ok, detail := d.ready(ctx)
		if ok {
			return nil
		}
		select {
		case <-d.Done():
			res, _ := d.Wait(ctx, 0) // waits for the rest of its output
			return fmt.Errorf("%s exited (%s) before it was ready%s", d.Name(), how(res), d.Tail(logTail))
		case <-ctx.Done():
			d.Stop()
			return context.Cause(ctx)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.Stop()
			return fmt.Errorf("%s is not ready after %s (waiting for %s: %s)%s", d.Name(), timeout, d.Spec.Ready, detail, d.Tail(logTail))
		}
	}
}

// ready checks once whether d is ready, and says why not.
func (d *Daemon) ready(ctx context.Context) (bool, string) {
	r := d.Spec.Ready
	switch {
	case r.Check != nil:
		return r.Check(ctx, d)
	case r.TCP != "":
		res := probe.Connect(ctx, d.NS.fd, "tcp", r.TCP, 200*time.Millisecond)
		return res.OK, res.Detail
	case r.Unix != "" && r.Unix == d.Spec.Control:
		// BIRD makes its socket before it reads its configuration,
		// and answers only from its main loop: ready once it greets.
		_, err := BirdQuery(ctx, d.Path(r.Unix), "show status", 200*time.Millisecond)
		if err != nil {
			return false, err.Error()
		}
		return true, ""
	case r.Unix != "":
		c, err := net.DialTimeout("unix", d.Path(r.Unix), 200*time.Millisecond)
		if err != nil {
			return false, strings.TrimPrefix(err.Error(), "dial unix "+d.Path(r.Unix)+": ")
		}
		c.Close()
		return true, ""
	case r.Log != nil:
		res := d.Result()
		return matchLine(r.Log, res.Stdout) || matchLine(r.Log, res.Stderr), "no such line yet"
	}
	return true, ""
}

// Tail returns the last n lines of the daemon's stderr (of its stdout when
// stderr is empty) for an error, which is one line: "; last output: L1 |
// L2", or " (no output)".
func (d *Daemon) Tail(n int) string {
	res := d.Result()
	out := strings.TrimSpace(res.Stderr)
	if out == "" {
		out = strings.TrimSpace(res.Stdout)
	}
	if out == "" {
		return " (no output)"
	}
	lines := strings.Split(out, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return "; last output: " + strings.Join(lines, " | ")
}

// matchLine reports whether a line of out matches re.
func matchLine(re *regexp.Regexp, out string) bool {
	for _, l := range strings.Split(out, "\n") {
		if re.MatchString(l) {
			return true
		}
	}
	return false
}

// how says how a finished program ended: "exit status 1", "signal SIGKILL".
func how(r ExecResult) string {
	if r.Signal != "" {
		return "signal " + r.Signal
	}
	return fmt.Sprintf("exit status %d", r.Status)
}
