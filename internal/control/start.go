package control

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/nsscript/nsscript/internal/lab"
	"github.com/nsscript/nsscript/internal/nsutil"
	"github.com/nsscript/nsscript/internal/sandbox"
)

// LabStarter returns a StartFunc that runs commands in the namespaces of
// lab l, whose ID is id. Each command is forked from a thread switched into
// the namespace, so it starts there. When helper is set, the program at
// helper[0] runs with argv helper[1:] + the command, in a mount namespace of
// its own: nsscript's hidden "__enter" command, which mounts a sysfs of the
// namespace on /sys (as `ip netns exec` does, so /sys/class/net lists the
// namespace's links) and then executes the command.
func LabStarter(l *lab.Lab, id string, helper []string) StartFunc {
	return func(req *Request, stdio []*os.File) (*exec.Cmd, error) {
		ns := l.Lookup(req.NS)
		if ns == nil {
			var names []string
			for _, n := range l.Namespaces() {
				names = append(names, n.Name)
			}
			return nil, fmt.Errorf("no namespace %q in lab %s (it has: %s)", req.NS, id, strings.Join(names, ", "))
		}
		argv := req.Argv
		path := ""
		if len(helper) > 0 {
			path = helper[0]
			argv = append(append([]string(nil), helper[1:]...), argv...)
		} else {
			p, err := lookPath(argv[0], req.Env)
			if err != nil {
				return nil, err
			}
			path = p
		}
		dir := req.Dir
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			dir = "/"
		}
		cmd := &exec.Cmd{
			Path:   path,
			Args:   argv,
			Env:    append(append([]string(nil), req.Env...), "NSSCRIPT_LAB="+id, "NSSCRIPT_NETNS="+ns.Name),
			Dir:    dir,
			Stdin:  stdio[0],
			Stdout: stdio[1],
			Stderr: stdio[2],
			SysProcAttr: &syscall.SysProcAttr{
				// Killed with the lab process, however it ends.
				Pdeathsig: syscall.SIGKILL,
			},
		}
		if len(helper) > 0 {
			cmd.SysProcAttr.Unshareflags = syscall.CLONE_NEWNS
		}
		if req.TTY {
			// A session of its own whose controlling terminal is the
			// client's pty: job control and Ctrl-C work inside.
			cmd.SysProcAttr.Setsid = true
			cmd.SysProcAttr.Setctty = true
			cmd.SysProcAttr.Ctty = 0
		} else {
			cmd.SysProcAttr.Setpgid = true
		}
		if err := l.BeforeProgram(); err != nil {
			return nil, fmt.Errorf("start %s in %s: %w", req.Argv[0], ns.Name, err)
		}
		if err := sandbox.StartCmd(cmd, func() error { return nsutil.Do(ns.FD(), cmd.Start) }); err != nil {
			return nil, fmt.Errorf("start %s in %s: %w", req.Argv[0], ns.Name, err)
		}
		return cmd, nil
	}
}

// lookPath finds file in the PATH of env (the client's, not the lab's), as
// exec.LookPath does for the process's own PATH.
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		return file, nil
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: command not found", file)
}
