package reliability

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/builtins"
	"github.com/nsscript/nsscript/internal/hostjournal"
	"github.com/nsscript/nsscript/internal/lab"
	"github.com/nsscript/nsscript/internal/nsutil"
	"github.com/nsscript/nsscript/internal/testenv"
)

// The --host tests build real objects on this machine's host, named
// nstXXXX* (random), next to pre-existing objects of similar names that the
// test makes first: a link PREFIXbx and a namespace /run/netns/PREFIXnx.
// Each run must remove exactly what it made and nothing else. Whatever
// happens, t.Cleanup removes every PREFIX* object itself.

// hostLab describes one test's names and addresses.
type hostLab struct {
	p      string // name prefix, "nst" + 4 hex digits
	net    string // "10.X.Y": the lab's /24
	far    string // "10.X.Z.0/24": a host route's destination
	hadNft bool   // the host had the nftables table inet nsscript before
	hadDir bool   // /run/netns existed before
}

func newHostLab(t *testing.T) *hostLab {
	t.Helper()
	testenv.NeedRoot(t)
	h := &hostLab{p: fmt.Sprintf("nst%04x", rand.IntN(0x10000))}
	x, y := 200+rand.IntN(50), rand.IntN(254)
	h.net, h.far = fmt.Sprintf("10.%d.%d", x, y), fmt.Sprintf("10.%d.%d.0/24", x, (y+1)%254)
	h.hadNft = nftTable(t)
	_, err := os.Stat("/run/netns")
	h.hadDir = err == nil
	martians, _ := os.ReadFile("/proc/sys/net/ipv4/conf/all/log_martians")
	t.Cleanup(func() { h.scrub(t, strings.TrimSpace(string(martians))) })

	// Pre-existing objects with similar names: they must survive.
	if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: h.p + "bx"}}); err != nil {
		t.Fatalf("make pre-existing link: %v", err)
	}
	if err := bindNewNetns("/run/netns/" + h.p + "nx"); err != nil {
		t.Fatalf("make pre-existing namespace: %v", err)
	}
	return h
}

// script returns the --host lab, ending with tail.
func (h *hostLab) script(tail string) string {
	s := fmt.Sprintf(`ns = netns("%[1]sn")
a, b = veth("%[1]sv", peer = "eth0", peer_ns = ns)
br = bridge("%[1]sb", addr = "%[2]s.1/24")
a.set(master = br)
b.addr("%[2]s.2/24")
route(ns, "default", via = "%[2]s.1")
route(host, "%[3]s", via = "%[2]s.2")
sysctl(host, "net.ipv4.conf.%[1]sb.forwarding", 1)
sysctl(host, "net.ipv4.conf.all.log_martians", 1)
`, h.p, h.net, h.far)
	if builtins.Lookup("masquerade") != nil {
		s += fmt.Sprintf("masquerade(host, src = \"%s.0/24\")\n", h.net)
	}
	return s + tail
}

// waitTail keeps a run busy after "ready" (a plan run skips the wait).
func (h *hostLab) waitTail() string {
	return fmt.Sprintf("print(\"ready\")\nping(ns, \"%s.1\", count = 10000, interval = \"10ms\", timeout = \"120s\")\n", h.net)
}

// made reports whether the run's objects are on the host now.
func (h *hostLab) made(t *testing.T) bool {
	_, err := netlink.LinkByName(h.p + "b")
	_, serr := os.Stat("/run/netns/" + h.p + "n")
	return err == nil && serr == nil
}

// scrub removes every object of the test, whatever state a run left.
func (h *hostLab) scrub(t *testing.T, martians string) {
	links, _ := netlink.LinkList()
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, h.p) {
			netlink.LinkDel(l)
		}
	}
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), h.p) {
			p := filepath.Join("/run/netns", e.Name())
			unix.Unmount(p, unix.MNT_DETACH)
			os.Remove(p)
		}
	}
	if !h.hadDir {
		// Only when empty, and not from under a sandboxed run of another
		// test that covers it with its tmpfs.
		hostjournal.RemoveNetnsDir("/run/netns")
	}
	if martians != "" {
		os.WriteFile("/proc/sys/net/ipv4/conf/all/log_martians", []byte(martians), 0o644)
	}
	if !h.hadNft && nftTable(t) {
		c, _ := nftables.New()
		c.DelTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: lab.NFTTable})
		c.Flush()
	}
	js, _ := filepath.Glob("/run/nsscript/journal-*.json")
	for _, j := range js {
		if b, err := os.ReadFile(j); err == nil && strings.Contains(string(b), h.p) {
			os.Remove(j)
		}
	}
}

// nftTable reports whether the host has the lab's nftables table.
func nftTable(t *testing.T) bool {
	c, err := nftables.New()
	if err != nil {
		t.Fatalf("nftables: %v", err)
	}
	tables, _ := c.ListTablesOfFamily(nftables.TableFamilyINet)
	for _, tb := range tables {
		if tb.Name == lab.NFTTable {
			return true
		}
	}
	return false
}

// bindNewNetns makes a namespace and binds it at path, as ip netns add.
func bindNewNetns(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	fd, err := nsutil.New()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		return err
	}
	f.Close()
	return unix.Mount(fmt.Sprintf("/proc/self/fd/%d", fd), path, "none", unix.MS_BIND, "")
}

// clean runs nsscript clean on a run's journal and returns its output.
func clean(t *testing.T, pid int) string {
	t.Helper()
	j := journalOf(pid)
	if j == "" {
		return "(no journal)"
	}
	out, err := exec.Command(bin, "clean", j).CombinedOutput()
	if err != nil {
		t.Fatalf("nsscript clean %s: %v\n%s", j, err, out)
	}
	if journalOf(pid) != "" {
		t.Fatalf("nsscript clean left the journal %s", j)
	}
	return string(out)
}

func TestHostErrorUndoesExactly(t *testing.T) {
	testenv.LockHost(t, true)
	h := newHostLab(t)
	// The last line makes a link whose name the host already has: the
	// kernel refuses it only in the real run, after everything else.
	file := writeScript(t, "host.star", h.script(fmt.Sprintf("bridge(%q)\n", h.p+"bx")))
	before := snapshot(t)
	p := start(t, []string{"run", "--host", file}, nil)
	if code := p.wait(t, 30*time.Second); code != 2 {
		t.Fatalf("exit %d, want 2\nstderr:\n%s", code, p.stderr)
	}
	last := strings.TrimSpace(p.stderr.String())
	last = last[strings.LastIndexByte(last, '\n')+1:]
	if !strings.HasPrefix(last, "host.star:") && !strings.Contains(last, ".star:") || !strings.Contains(last, "file exists") {
		t.Errorf("last stderr line = %q, want the positioned error", last)
	}
	if !strings.Contains(p.stderr.String(), "--host: ") {
		t.Errorf("no plan printed before the run:\n%s", p.stderr)
	}
	mustEqual(t, "after a script error", before, snapshot(t))
	if j := journalOf(p.cmd.Process.Pid); j != "" {
		t.Errorf("journal %s left after a clean exit", j)
	}
}

func TestHostSignalsUndoExactly(t *testing.T) {
	testenv.LockHost(t, true)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			h := newHostLab(t)
			file := writeScript(t, "host.star", h.script(h.waitTail()))
			before := snapshot(t)
			p := start(t, []string{"run", "--host", file}, nil)
			p.waitLine(t, "ready", 30*time.Second)
			if !h.made(t) {
				t.Fatal("the run's objects are not on the host while it runs")
			}
			p.signal(sig)
			if code := p.wait(t, 10*time.Second); code != 2 {
				t.Fatalf("exit %d, want 2\nstderr:\n%s", code, p.stderr)
			}
			mustEqual(t, "after "+sig.String(), before, snapshot(t))
			if j := journalOf(p.cmd.Process.Pid); j != "" {
				t.Errorf("journal %s left after a clean exit", j)
			}
		})
	}
}

func TestHostKillThenClean(t *testing.T) {
	testenv.LockHost(t, true)
	h := newHostLab(t)
	file := writeScript(t, "host.star", h.script(h.waitTail()))
	before := snapshot(t)
	p := start(t, []string{"run", "--host", file}, nil)
	p.waitLine(t, "ready", 30*time.Second)
	p.signal(syscall.SIGKILL)
	p.wait(t, 10*time.Second)
	if !h.made(t) {
		t.Fatal("SIGKILL: the run's objects are gone without clean (the test proves nothing)")
	}
	if journalOf(p.cmd.Process.Pid) == "" {
		t.Fatal("SIGKILL left no journal")
	}
	out := clean(t, p.cmd.Process.Pid)
	mustEqual(t, "after SIGKILL and nsscript clean", before, snapshot(t))
	t.Logf("nsscript clean:\n%s", out)
}

// TestHostKillRandom kills --host runs with SIGKILL at random moments, then
// runs nsscript clean on the journal: the host must be as before every
// time. Half the kills fall anywhere in the run (the plan, the build, the
// probing, the undo); the other half fall in the run's own undo, after its
// summary line. RunsEnv sets the number of runs (make reliability: 50).
func TestHostKillRandom(t *testing.T) {
	testenv.LockHost(t, true)
	h := newHostLab(t)
	file := writeScript(t, "host.star", h.script(fmt.Sprintf("expect_reachable(ns, %q)\n", h.net+".1")))
	before := snapshot(t)
	t0 := time.Now()
	p := start(t, []string{"run", "--host", file}, nil)
	p.waitLine(t, "1 passed, 0 failed", 30*time.Second)
	summary := time.Since(t0)
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("normal run: exit %d\nstdout:\n%s\nstderr:\n%s", code, p.stdout, p.stderr)
	}
	full := time.Since(t0)
	undo := max(full-summary, time.Millisecond)
	mustEqual(t, "after a normal --host run", before, snapshot(t))
	n := runs(4)
	cleaned, inUndo := 0, 0
	for i := range n {
		p := start(t, []string{"run", "--host", file}, nil)
		at := time.Duration(rand.Int64N(int64(full)))
		if i%2 == 1 {
			p.waitLine(t, "1 passed, 0 failed", 30*time.Second)
			at = time.Duration(rand.Int64N(int64(undo)))
			inUndo++
		}
		time.Sleep(at)
		p.signal(syscall.SIGKILL)
		p.wait(t, 10*time.Second)
		if journalOf(p.cmd.Process.Pid) != "" {
			cleaned++
		}
		out := clean(t, p.cmd.Process.Pid)
		if d := diff(before, snapshot(t)); len(d) > 0 {
			t.Fatalf("run %d killed %v after %s, then cleaned: the host changed (%s):\n%s\nnsscript clean said:\n%s",
				i, at, map[bool]string{true: "its summary (in the undo)", false: "its start"}[i%2 == 1],
				countObjects(d), strings.Join(d, "\n"), out)
		}
	}
	t.Logf("%d --host runs killed with SIGKILL (%d in the undo) within %v; %d left a journal that nsscript clean undid; 0 objects leaked",
		n, inUndo, full.Round(time.Millisecond), cleaned)
}

// TestHostKeepsSandboxNetnsDir runs a --host run that creates /run/netns
// while a sandboxed run has covered that directory with its private tmpfs.
// The --host run's undo must not remove the directory from under the
// sandbox (rmdir detaches other namespaces' mounts on it): the sandboxed
// run would then bind its namespaces on the real host's /run, or fail.
func TestHostKeepsSandboxNetnsDir(t *testing.T) {
	testenv.LockHost(t, true)
	h := newHostLab(t)
	if h.hadDir {
		t.Skip("/run/netns exists: a --host run does not create it")
	}
	// newHostLab made a namespace there: take it away again.
	p0 := "/run/netns/" + h.p + "nx"
	unix.Unmount(p0, unix.MNT_DETACH)
	os.Remove(p0)
	if hostjournal.RemoveNetnsDir("/run/netns"); dirExists("/run/netns") {
		t.Skip("/run/netns is in use by another run")
	}
	flags := t.TempDir()
	wait := func(name string) string {
		return fmt.Sprintf("run(host, [\"sh\", \"-c\", \"while [ ! -e %s ]; do sleep 0.05; done\"])\n", filepath.Join(flags, name))
	}
	hostRun := start(t, []string{"run", "--host", writeScript(t, "host.star",
		fmt.Sprintf("netns(%q)\nprint(\"ready\")\n", h.p+"n")+wait("host-done"))}, nil)
	hostRun.waitLine(t, "ready", 30*time.Second)
	sandboxed := start(t, []string{"run", writeScript(t, "sandbox.star",
		"print(\"ready\")\n"+wait("sandbox-go")+fmt.Sprintf("run(netns(%q), [\"true\"])\nprint(\"bound\")\n", h.p+"q"))}, nil)
	sandboxed.waitLine(t, "ready", 30*time.Second)
	os.WriteFile(filepath.Join(flags, "host-done"), nil, 0o644)
	if code := hostRun.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("--host run: exit %d\nstderr:\n%s", code, hostRun.stderr)
	}
	os.WriteFile(filepath.Join(flags, "sandbox-go"), nil, 0o644)
	if code := sandboxed.wait(t, 30*time.Second); code != 0 {
		t.Errorf("sandboxed run after the --host run ended: exit %d\nstderr:\n%s", code, sandboxed.stderr)
	}
	if _, err := os.Lstat("/run/netns/" + h.p + "q"); err == nil {
		t.Errorf("the sandboxed run's namespace %s appeared on the real host's /run/netns", h.p+"q")
	}
}

// dirExists reports whether path exists.
func dirExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
