package reliability

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/testenv"
)

// TestSandboxEscape runs, as root, scripts that try to reach outside their
// sandbox: a namespace of another process by pid and by path, a symlink
// planted in /run/netns, nsenter into that process's namespace, the kernel's
// domain name, the host name, a mount on the host. Joining a namespace
// outside the lab is a one-line positioned error without --host; nothing
// else changes the real host either. The target is a process this test
// starts in a network namespace of its own, so the test does not depend on
// what this machine lets anyone read of its PID 1.
func TestSandboxEscape(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedNamespaces(t)
	testenv.LockHost(t, false)
	pid, bound, mnt := escapeTarget(t)

	before := escapeState(t, pid)
	var u unix.Utsname
	unix.Uname(&u)
	t.Cleanup(func() { // should the sandbox fail, leave this machine as it was
		var now unix.Utsname
		if unix.Uname(&now) == nil && now != u {
			unix.Sethostname(u.Nodename[:slices.Index(u.Nodename[:], 0)])
			unix.Setdomainname(u.Domainname[:slices.Index(u.Domainname[:], 0)])
		}
	})
	for _, tc := range []struct{ name, src, want string }{
		{"pid", fmt.Sprintf(`netns("out", pid = %d)`, pid), "needs --host"},
		{"proc-path", fmt.Sprintf(`netns("out", path = "/proc/%d/ns/net")`, pid), "needs --host"},
		{"bound-path", fmt.Sprintf(`netns("out", path = %q)`, bound), "needs --host"},
	} {
		script := writeScript(t, "lab.star", tc.src+"\n")
		p := start(t, []string{"run", script}, nil)
		code := p.wait(t, 60*time.Second)
		lines := strings.Split(strings.TrimSpace(p.stderr.String()), "\n")
		if code != 2 || len(lines) != 1 || !strings.HasPrefix(lines[0], script+":1:1: netns: ") || !strings.Contains(lines[0], tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and one line at %s:1:1 saying %q", tc.name, code, p.stderr, script, tc.want)
		}
	}

	attempts := []string{
		`ln -s /proc/1/ns/net /run/netns/planted`,
		`echo escaped > /proc/sys/kernel/domainname`,
		`hostname escaped`,
		fmt.Sprintf(`mount -t tmpfs escaped %s`, mnt),
		fmt.Sprintf(`kill -STOP %d`, pid),
	}
	if _, err := exec.LookPath("nsenter"); err == nil {
		if _, err := exec.LookPath("ip"); err == nil {
			attempts = append(attempts,
				fmt.Sprintf(`nsenter -t %d -n ip link add esc0 type veth peer name esc1`, pid),
				fmt.Sprintf(`nsenter --net=%s ip link add esc0 type veth peer name esc1`, bound),
				`nsenter -t 1 -m -u -n hostname escaped`)
		}
	}
	var src strings.Builder
	for _, a := range attempts {
		fmt.Fprintf(&src, "r = run(host, %q, check = False)\nprint(r.status, %q)\n", a, a)
	}
	script := writeScript(t, "lab.star", src.String())
	p := start(t, []string{"run", script}, nil)
	if code := p.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("attempts: exit %d\nstdout:\n%s\nstderr:\n%s", code, p.stdout, p.stderr)
	}
	t.Logf("inside the sandbox (status, command):\n%s", p.stdout)
	noLeftovers(t)
	mustEqual(t, "after the escape attempts", before, escapeState(t, pid))
}

// escapeTarget starts a process in a network namespace of its own and binds
// that namespace on a file (files are not isolated: the sandbox sees it).
// It returns the pid, the bound file and a directory to try mounting on.
func escapeTarget(t *testing.T) (pid int, bound, mnt string) {
	t.Helper()
	target := exec.Command("sleep", "300")
	target.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	if err := target.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { target.Process.Kill(); target.Wait() })
	pid = target.Process.Pid
	dir, err := os.MkdirTemp("", "nsscript-escape-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bound = filepath.Join(dir, "net")
	if err := os.WriteFile(bound, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(fmt.Sprintf("/proc/%d/ns/net", pid), bound, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(bound, unix.MNT_DETACH) })
	mnt = filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	return pid, bound, mnt
}

// escapeState is the host state a sandboxed script could try to change:
// snapshot's, the host and domain names, and the target's namespace and
// process state.
func escapeState(t *testing.T, pid int) hostState {
	t.Helper()
	s := snapshot(t)
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	s.add("uts", "hostname="+unix.ByteSliceToString(u.Nodename[:]))
	s.add("uts", "domainname="+unix.ByteSliceToString(u.Domainname[:]))
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Attrs().Name)
	}
	slices.Sort(names)
	s.add("target", "links="+strings.Join(names, ","))
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		f := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+1:]))
		s.add("target", "state="+f[0])
	}
	return s
}
