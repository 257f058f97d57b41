package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// FRR (FRRouting) in a lab: the daemons of one router (zebra, ospfd, bgpd,
// ...) share one mount namespace, made by zebra's private-directory helper
// and joined by the others', so they find each other's sockets in /run/frr
// while ten routers of one lab never see each other's.

// Paths inside a router's private directories.
const (
	FRRConf   = "/etc/frr/frr.conf"
	frrRunDir = "/run/frr"
	frrEtcDir = "/etc/frr"
)

// frrDirs are the directories an FRR router has for itself: its
// configuration, its sockets and pid files, and the crash-log directory
// every daemon makes at start (on the host's /var/tmp otherwise).
var frrDirs = []string{frrEtcDir, frrRunDir, "/var/tmp/frr"}

// FRRDaemonDirs are where distributions install FRR's daemons.
var FRRDaemonDirs = []string{"/usr/lib/frr", "/usr/libexec/frr"}

// FRRDaemonPath finds the program of an FRR daemon ("zebra", "ospfd").
func FRRDaemonPath(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, "/. ") {
		return "", fmt.Errorf("invalid daemon name %q", name)
	}
	for _, dir := range FRRDaemonDirs {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in %s (Debian: apt-get install frr)", name, strings.Join(FRRDaemonDirs, " or "))
}

// FRR is one router: its daemons, zebra first, in one mount namespace.
type FRR struct {
	NS      *Netns
	Daemons []*Daemon
	// Pathspace keeps the router apart in explain's shell script, where
	// its daemons share the machine's mount namespace (FRRPathspace).
	Pathspace string
}

// FRRPathspace names the FRR pathspace (the daemons' and vtysh's -N) of a
// router in n, for explain's shell script: n's name, as FRR's own init
// script names a namespace's instance, with a number after it for a second
// router in n. FRR then keeps the router's configuration in /etc/frr/NAME
// and its sockets in /var/run/frr/NAME.
func (l *Lab) FRRPathspace(n *Netns) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.frrSpaces == nil {
		l.frrSpaces = map[*Netns]int{}
	}
	l.frrSpaces[n]++
	if k := l.frrSpaces[n]; k > 1 {
		return fmt.Sprintf("%s-%d", n.Name, k)
	}
	return n.Name
}

// FRRDaemonSpec returns how to start daemon name (its program at path) of a
// router. zebra, the first, gets the private directories and the
// configuration; join is then "". Every other daemon joins the mount
// namespace at join (zebra's). In explain's shell script, the router's
// pathspace (-N space) stands for the private directories; FRR makes
// /var/tmp/frr (crash logs, per process) itself, and ospfd writes its
// graceful-restart state to /var/run/frr whatever the pathspace.
//
// Flags: foreground (no -d); -u root -g frrvty, so the daemon keeps running
// as the lab's root (rootless, the sandbox maps no frr user to switch to)
// and still passes FRR's check that its user belongs to the vty group;
// -P 0, no TCP vty; its log on stdout rather than syslog.
func FRRDaemonSpec(path, name, conf, join, space string) DaemonSpec {
	s := DaemonSpec{
		Argv: []string{path, "-u", "root", "-g", "frrvty", "-P", "0", "--log", "stdout"},
		Join: join,
		Shell: &ShellView{
			Args:    []string{"-N", space},
			Dirs:    map[string]string{frrEtcDir: frrEtcDir + "/" + space, frrRunDir: frrRunDir + "/" + space},
			Ready:   ShellJoin(frrShellVtysh(space, "-d", name, "-c", "show version")) + " >/dev/null 2>&1",
			Outside: []string{frrEtcDir, "/var/tmp"},
		},
		Ready: Ready{Desc: "its vty socket answering", Check: func(ctx context.Context, d *Daemon) (bool, string) {
			// The socket exists before the daemon's main loop runs: ready
			// once a command is answered.
			if _, err := VtyQuery(ctx, d.Path(vtyPath(name)), "show version", 500*time.Millisecond); err != nil {
				return false, err.Error()
			}
			return true, ""
		}},
	}
	if join == "" {
		s.Dirs = frrDirs
		// The integrated configuration: with it present, no daemon reads
		// a file of its own; vtysh applies it once all run. vtysh.conf
		// is there so that vtysh reads the router's, not the machine's.
		s.Files = map[string]string{FRRConf: conf, frrEtcDir + "/vtysh.conf": ""}
	}
	return s
}

func vtyPath(daemon string) string { return frrRunDir + "/" + daemon + ".vty" }

// MountNS is the path of the daemon's mount namespace, for others to join.
func (d *Daemon) MountNS() string { return fmt.Sprintf("/proc/%d/ns/mnt", d.Pid()) }

// Path returns where nsscript reaches path of the router's private files,
// through its first running daemon.
func (f *FRR) Path(path string) string {
	for _, d := range f.Daemons {
		select {
		case <-d.Done():
		default:
			return d.Path(path)
		}
	}
	return f.Daemons[0].Path(path)
}

// VtyshArgv is the vtysh command line that reaches the router's daemons from
// outside its mount namespace, followed by args.
func (f *FRR) VtyshArgv(args ...string) []string {
	return append([]string{"vtysh", "--config_dir", f.Path(frrEtcDir), "--vty_socket", f.Path(frrRunDir)}, args...)
}

// ShellVtysh is the vtysh command line of explain's shell script, where the
// router is its pathspace, followed by args.
func (f *FRR) ShellVtysh(args ...string) []string { return frrShellVtysh(f.Pathspace, args...) }

func frrShellVtysh(space string, args ...string) []string {
	return append([]string{"vtysh", "-N", space}, args...)
}

// Configure applies the router's configuration (FRRConf) to its running
// daemons with FRR's vtysh, which knows from its command tables which
// daemon each line is for. An error names the lines FRR refused.
func (l *Lab) Configure(ctx context.Context, f *FRR, timeout time.Duration) error {
	argv := f.VtyshArgv("-f", f.Path(FRRConf))
	shown := f.ShellVtysh("-f", f.Daemons[0].ShellPath(FRRConf))
	pr, err := l.start(f.NS, Program{Argv: argv}, startHow{shown: shown})
	if err != nil {
		return err
	}
	res, err := pr.Wait(ctx, timeout)
	if err != nil {
		return err
	}
	if res.Status != 0 {
		out := strings.TrimSpace(res.Stderr + "\n" + res.Stdout)
		out = strings.Join(strings.Fields(strings.ReplaceAll(out, "\n", " | ")), " ")
		return fmt.Errorf("vtysh refused the configuration (%s): %s", how(res), out)
	}
	return nil
}

// Query sends cmd to every daemon of the router, as vtysh does with a
// command that several daemons define, and returns the replies of those
// that know the command, zebra's first. A command that none knows, or
// that fails, is an error with FRR's message.
func (f *FRR) Query(ctx context.Context, cmd string, timeout time.Duration) (string, error) {
	var out strings.Builder
	known := false
	var unknown string
	for _, d := range f.Daemons {
		select {
		case <-d.Done():
			return "", fmt.Errorf("%s is not running (%s)%s", d.Name(), how(d.Result()), d.Tail(logTail))
		default:
		}
		r, err := VtyQuery(ctx, d.Path(vtyPath(d.Name())), cmd, timeout)
		if err != nil {
			return "", fmt.Errorf("%s: %w", d.Name(), err)
		}
		switch {
		case r.Status == VtyNoMatch:
			unknown = strings.TrimSpace(r.Text)
			continue
		case !r.OK():
			return "", fmt.Errorf("%s: %s", d.Name(), strings.TrimSpace(r.Text))
		}
		known = true
		out.WriteString(r.Text)
	}
	if !known {
		return "", errors.New(unknown)
	}
	return out.String(), nil
}

// LogTail returns the last n lines each daemon of the router logged (on its
// stdout, where --log stdout sends them once it runs), each after its
// daemon's name, for a failure's explanation.
func (f *FRR) LogTail(n int) []string {
	var out []string
	for _, d := range f.Daemons {
		lines := strings.Split(strings.TrimSpace(d.Result().Stdout), "\n")
		if len(lines) > n {
			lines = lines[len(lines)-n:]
		}
		for _, l := range lines {
			if l = strings.TrimSpace(l); l != "" {
				out = append(out, d.Name()+": "+l)
			}
		}
	}
	return out
}
