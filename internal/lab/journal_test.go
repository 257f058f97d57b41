package lab

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/nsutil"
	"github.com/nsscript/nsscript/internal/testenv"
)

// The journal tests stand in for the real host with a fresh namespace that
// a parked thread keeps alive: the lab opens it as an existing namespace
// (existing=True), whose changes host mode journals like the host's own,
// and nsscript clean finds it again by its /proc path.

// parkedNetns returns the /proc path of a fresh namespace and a handle in it.
func parkedNetns(t *testing.T) (string, *netlink.Handle) {
	t.Helper()
	testenv.NeedNamespaces(t)
	testenv.NeedRoot(t)
	fd, err := nsutil.New()
	if err != nil {
		t.Fatal(err)
	}
	ready, stop := make(chan string), make(chan struct{})
	go nsutil.Do(fd, func() error {
		ready <- fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		<-stop
		return nil
	})
	path := <-ready
	h, err := newHandle(fd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(); close(stop); unix.Close(fd) })
	// A link the world had before the lab: the lab adopts it.
	if err := h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "jold0"}}); err != nil {
		t.Fatal(err)
	}
	return path, h
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

// linkNames lists the links of the namespace behind h, with their aliases.
func linkNames(t *testing.T, h *netlink.Handle) string {
	t.Helper()
	links, err := h.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range links {
		out = append(out, l.Attrs().Name)
	}
	return strings.Join(out, " ")
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
	before := linkNames(t, h)
	l, w := journalLab(t, path)
	build(t, l, w, h)
	j := l.jr.path
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := linkNames(t, h), before+" jpre0"; got != want {
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
	before := linkNames(t, h)
	l, w := journalLab(t, path)
	build(t, l, w, h)

	// What a SIGKILL leaves: the journal of a run that is gone. (The start
	// time makes it another run; the lab itself stays open meanwhile.)
	var f JournalFile
	b, err := os.ReadFile(l.jr.path)
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
	if kinds[JLink] != 3 || kinds[JRoute] != 1 || kinds[JSys] != 1 || kinds[JAddr] != 1 {
		t.Errorf("journal kinds %v, want 3 links, 1 route, 1 sysctl, 1 address", kinds)
	}
	f.Start++
	dead := writeJournal(t, f)

	var lines []string
	if err := Clean(dead, CleanOptions{}, func(s string) { lines = append(lines, s) }); err != nil {
		t.Fatal(err)
	}
	if got, want := linkNames(t, h), before+" jpre0"; got != want {
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

func TestJournalCleanInterrupted(t *testing.T) {
	path, h := parkedNetns(t)
	// A kill between the entry and its change: the entry is not done. A
	// link of that name without an alias is the run's; one with somebody
	// else's alias is not.
	for _, name := range []string{"jhalf", "jother"} {
		if err := h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}); err != nil {
			t.Fatal(err)
		}
	}
	other, _ := h.LinkByName("jother")
	h.LinkSetAlias(other, "not nsscript")
	f := JournalFile{PID: 1, Start: 1, Entries: []JournalEntry{
		{ID: 1, Kind: JLink, NS: path, Name: "jhalf", Tag: "nsscript:1.1:1"},
		{ID: 2, Kind: JLink, NS: path, Name: "jother", Tag: "nsscript:1.1:2"},
		{ID: 3, Kind: JLink, NS: path, Name: "jnever", Tag: "nsscript:1.1:3"},
		{ID: 4, Kind: JSys, NS: path, Name: "net.ipv4.ip_forward", Old: "0", New: "1"},
		{ID: 5, Kind: JLink, NS: "/proc/999999999/ns/net", Name: "x", Tag: "nsscript:1.1:5"},
	}}
	dead := writeJournal(t, f)
	var lines []string
	if err := Clean(dead, CleanOptions{}, func(s string) { lines = append(lines, s) }); err != nil {
		t.Fatal(err)
	}
	if got := linkNames(t, h); got != "lo jold0 jother" {
		t.Errorf("links after clean: %s, want lo jold0 jother\nclean said:\n%s", got, strings.Join(lines, "\n"))
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
