package lab

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/hostjournal"
	"github.com/nsscript/nsscript/internal/nsutil"
	"github.com/nsscript/nsscript/internal/testenv"
)

// The journal tests stand in for the real host with a fresh namespace that
// a parked thread keeps alive: the lab opens it as an existing namespace
// (existing=True), whose changes host mode journals like the host's own,
// and nsscript clean finds it again by its /proc path.

// parkedNetns returns the /proc path of a fresh namespace and a handle in it.
func parkedNetns(t *testing.T) (string, *netlink.Handle) {
	return testenv.HostWorld(t, testenv.NS{New: nsutil.New, Do: nsutil.Do, Handle: nsutil.NewHandle})
}

// oldAddrs lists the addresses left on the adopted link jold0.
func oldAddrs(t *testing.T, h *netlink.Handle) []netlink.Addr {
	t.Helper()
	nl, err := h.LinkByName("jold0")
	if err != nil {
		t.Fatal(err)
	}
	addrs, _ := h.AddrList(nl, netlink.FAMILY_V4)
	return addrs
}

// journalLab is a host-mode lab with its journal in a temporary directory
// and the namespace at path opened as "world".
func journalLab(t *testing.T, path string) (*Lab, *Netns) {
	t.Helper()
	l, err := New(Options{HostMode: true, JournalDir: t.TempDir(), NetnsDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	w, err := l.OpenNetns("world", path)
	if err != nil {
		t.Fatal(err)
	}
	return l, w
}

// build makes a bit of everything in w next to a pre-existing link jpre0.
func build(t *testing.T, l *Lab, w *Netns, h *netlink.Handle) {
	t.Helper()
	if err := h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "jpre0"}}); err != nil {
		t.Fatal(err)
	}
	br, err := l.Bridge(w, LinkSpec{Name: "jbr0", Up: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := br.AddAddr(netip.MustParsePrefix("10.77.0.1/24")); err != nil {
		t.Fatal(err)
	}
	a, _, err := l.Veth(VethSpec{LinkSpec: LinkSpec{Name: "ja", Up: true}, NS: w, PeerNS: w, PeerName: "jb"})
	if err != nil {
		t.Fatal(err)
	}
	// A renamed link is still the run's: its alias says so.
	if err := a.SetUp(false); err != nil {
		t.Fatal(err)
	}
	if err := a.Rename("jrenamed"); err != nil {
		t.Fatal(err)
	}
	if err := w.Route(RouteSpec{Dst: netip.MustParsePrefix("10.78.0.0/16"), Via: netip.MustParseAddr("10.77.0.2")}); err != nil {
		t.Fatal(err)
	}
	if err := w.Sysctl("net.ipv4.ip_forward", "1"); err != nil {
		t.Fatal(err)
	}
	if err := w.Link("jold0").AddAddr(netip.MustParsePrefix("10.79.0.1/24")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Bridge(w, LinkSpec{Name: "jpre0"}); err == nil {
		t.Fatal("made a link whose name the namespace already had")
	}
}

func TestJournalCloseUndoes(t *testing.T) {
	path, h := parkedNetns(t)
	before := testenv.LinkNames(t, h)
	l, w := journalLab(t, path)
	build(t, l, w, h)
	j := l.jr.Path()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := testenv.LinkNames(t, h), before+" jpre0"; got != want {
		t.Errorf("links after Close: %s, want %s", got, want)
	}
	if a := oldAddrs(t, h); len(a) != 0 {
		t.Errorf("addresses left on the adopted link: %v", a)
	}
	if v, _ := w.lab.readIn(path, "net.ipv4.ip_forward"); v != "0" {
		t.Errorf("ip_forward after Close: %q", v)
	}
	if _, err := os.Stat(j); !os.IsNotExist(err) {
		t.Errorf("journal %s left after Close: %v", j, err)
	}
}

func TestJournalCleanAfterKill(t *testing.T) {
	path, h := parkedNetns(t)
	before := testenv.LinkNames(t, h)
	l, w := journalLab(t, path)
	build(t, l, w, h)

	// What a SIGKILL leaves: the journal of a run that is gone. (The start
	// time makes it another run; the lab itself stays open meanwhile.)
	var f hostjournal.File
	b, err := os.ReadFile(l.jr.Path())
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, e := range f.Entries {
		if !e.Done {
			t.Errorf("entry %+v not done", e)
		}
		kinds[e.Kind]++
	}
	if kinds[hostjournal.Link] != 3 || kinds[hostjournal.Route] != 1 || kinds[hostjournal.Sysctl] != 1 || kinds[hostjournal.Addr] != 1 {
		t.Errorf("journal kinds %v, want 3 links, 1 route, 1 sysctl, 1 address", kinds)
	}
	f.Start++
	dead := writeJournal(t, f)

	var lines []string
	if err := hostjournal.Clean(dead, hostjournal.CleanOptions{}, func(s string) { lines = append(lines, s) }); err != nil {
		t.Fatal(err)
	}
	if got, want := testenv.LinkNames(t, h), before+" jpre0"; got != want {
		t.Errorf("links after clean: %s, want %s\nclean said:\n%s", got, want, strings.Join(lines, "\n"))
	}
	routes, _ := h.RouteList(nil, netlink.FAMILY_V4)
	for _, r := range routes {
		if r.Dst != nil && r.Dst.String() == "10.78.0.0/16" {
			t.Errorf("route %v left after clean", r)
		}
	}
	if a := oldAddrs(t, h); len(a) != 0 {
		t.Errorf("addresses left on the adopted link: %v", a)
	}
	if v, _ := w.lab.readIn(path, "net.ipv4.ip_forward"); v != "0" {
		t.Errorf("ip_forward after clean: %q", v)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("clean left the journal: %v", err)
	}
	// The run's own undo now finds everything gone, and says nothing.
	if err := l.Close(); err != nil {
		t.Errorf("Close after clean: %v", err)
	}
}

// readIn reads a sysctl in the namespace at path.
func (l *Lab) readIn(path, key string) (string, error) {
	fd, err := nsutil.Open(path)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	n := &Netns{Name: "probe", lab: l, fd: fd}
	return n.ReadSysctl(key)
}

// writeJournal writes f as a dead run's journal and returns its path.
func writeJournal(t *testing.T, f hostjournal.File) string {
	t.Helper()
	return testenv.WriteJournal(t, &f)
}

// TestJournalCleanNetnsUndoKilled stops a host-mode lab's undo of a
// namespace half way, as a SIGKILL can (unmounted, file not yet removed):
// clean removes the file the run made.
func TestJournalCleanNetnsUndoKilled(t *testing.T) {
	path, _ := parkedNetns(t)
	netnsDir := t.TempDir()
	l, err := New(Options{HostMode: true, JournalDir: t.TempDir(), NetnsDir: netnsDir})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.OpenNetns("world", path); err != nil {
		t.Fatal(err)
	}
	n, err := l.NewNetns("jns")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(l.jr.Path())
	if err != nil {
		t.Fatal(err)
	}
	// The undo's first half: the bind is gone, its file is not.
	if err := unix.Unmount(n.bound, unix.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	var f hostjournal.File
	json.Unmarshal(b, &f)
	f.Start++ // another, dead run
	var lines []string
	if err := hostjournal.Clean(writeJournal(t, f), hostjournal.CleanOptions{NetnsDir: netnsDir}, func(s string) { lines = append(lines, s) }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(netnsDir, "jns")); !os.IsNotExist(err) {
		t.Errorf("%s/jns left after clean (%v); clean said:\n%s", netnsDir, err, strings.Join(lines, "\n"))
	}
}

// TestJournalCleanImpairment impairs a link the lab did not make, as
// `link(host, "eth0").impair(...)` does with --host, and is killed: clean
// puts the kernel's default queue back.
func TestJournalCleanImpairment(t *testing.T) {
	path, h := parkedNetns(t)
	l, w := journalLab(t, path)
	if err := w.Link("jold0").Impair(Impairment{Rate: 1e6}); err != nil {
		t.Skipf("impairment: %v", err)
	}
	b, err := os.ReadFile(l.jr.Path())
	if err != nil {
		t.Fatal(err)
	}
	var f hostjournal.File
	json.Unmarshal(b, &f)
	if len(f.Entries) != 1 || f.Entries[0].Kind != hostjournal.Qdisc || !f.Entries[0].Done {
		t.Fatalf("journal entries %+v, want one done qdisc entry", f.Entries)
	}
	f.Start++ // another, dead run
	var lines []string
	if err := hostjournal.Clean(writeJournal(t, f), hostjournal.CleanOptions{}, func(s string) { lines = append(lines, s) }); err != nil {
		t.Fatal(err)
	}
	old, _ := h.LinkByName("jold0")
	qs, _ := h.QdiscList(old)
	if hasTbf(qs) {
		t.Errorf("tbf left on jold0 after clean; clean said:\n%s", strings.Join(lines, "\n"))
	}
}
