package lab

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// writeJournal writes f as a dead run's journal and returns its path.
func writeJournal(t *testing.T, f JournalFile) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "journal-1.json")
	b, err := json.Marshal(&f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestJournalCleanCrafted gives clean a journal nsscript did not write:
// entries that name a file outside the netns directory, a directory other
// than it, a global sysctl, another program's nftables table and route,
// a link without the run's alias, a symbolic link in the netns directory.
// clean refuses or leaves each, changes nothing, says so and fails.
func TestJournalCleanCrafted(t *testing.T) {
	path, h := parkedNetns(t)
	victims, netnsDir := t.TempDir(), t.TempDir()
	file := filepath.Join(victims, "precious")
	os.WriteFile(file, []byte("data"), 0o644)
	os.Symlink(file, filepath.Join(netnsDir, "sym"))
	dom, _ := os.ReadFile("/proc/sys/kernel/domainname")
	t.Cleanup(func() { os.WriteFile("/proc/sys/kernel/domainname", dom, 0o644) })
	// A route another program added: same destination as the entry.
	old, _ := h.LinkByName("jold0")
	h.LinkSetUp(old)
	h.AddrAdd(old, &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(10, 87, 0, 1), Mask: net.CIDRMask(24, 32)}})
	_, dst, _ := net.ParseCIDR("10.88.0.0/16")
	if err := h.RouteAdd(&netlink.Route{Dst: dst, Gw: net.IPv4(10, 87, 0, 2)}); err != nil {
		t.Fatal(err)
	}
	f := JournalFile{PID: 1, Start: 1, Entries: []JournalEntry{
		{ID: 1, Kind: JNetns, Name: "precious", Path: file, Done: true},
		{ID: 2, Kind: JDir, Path: victims, Done: true},
		{ID: 3, Kind: JSys, Name: "kernel.domainname", Old: "crafted", New: string(dom), Done: true},
		{ID: 4, Kind: JSys, NS: file, Name: "net.ipv4.ip_forward", Old: "1", New: "0", Done: true},
		{ID: 5, Kind: JNft, Name: "filter", Family: 1, Done: true},
		{ID: 6, Kind: JLink, NS: path, Name: "jold0", Tag: "", Done: true},
		{ID: 7, Kind: JRoute, NS: path, Family: unix.AF_INET, Dst: "10.88.0.0/16", Done: true},
		{ID: 8, Kind: JNetns, Name: "sym", Path: filepath.Join(netnsDir, "sym")},
		{ID: 9, Kind: "file", Path: file, Done: true},
	}}
	j := writeJournal(t, f)
	var lines []string
	err := Clean(j, CleanOptions{NetnsDir: netnsDir}, func(s string) { lines = append(lines, s) })
	said := strings.Join(lines, "\n")
	if err == nil {
		t.Fatalf("clean of a crafted journal succeeded; it said:\n%s", said)
	}
	for _, want := range []string{"namespace " + file + ": refused", "directory " + victims + ": refused",
		"sysctl kernel.domainname: refused", "sysctl net.ipv4.ip_forward in " + file + ": refused",
		"nftables table filter: refused", "link jold0 in " + path + ": refused", `refused: unknown kind "file"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("clean's error does not say %q:\n%v", want, err)
		}
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "data" {
		t.Errorf("the crafted journal's file %s: %q, %v", file, b, err)
	}
	if now, _ := os.ReadFile("/proc/sys/kernel/domainname"); string(now) != string(dom) {
		t.Errorf("kernel.domainname changed to %q", now)
	}
	if _, err := os.Lstat(filepath.Join(netnsDir, "sym")); err != nil {
		t.Errorf("the symbolic link in the netns directory: %v", err)
	}
	if got := linkNames(t, h); !strings.Contains(got, "jold0") {
		t.Errorf("links after clean: %s, want jold0 still there", got)
	}
	routes, _ := h.RouteList(nil, netlink.FAMILY_V4)
	found := false
	for _, r := range routes {
		found = found || r.Dst != nil && r.Dst.String() == "10.88.0.0/16"
	}
	if !found {
		t.Errorf("clean deleted a route the run did not add; it said:\n%s", said)
	}
	if _, err := os.Stat(j); err != nil {
		t.Errorf("the journal with refused entries is gone: %v", err)
	}
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
	b, err := os.ReadFile(l.jr.path)
	if err != nil {
		t.Fatal(err)
	}
	// The undo's first half: the bind is gone, its file is not.
	if err := unix.Unmount(n.bound, unix.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	var f JournalFile
	json.Unmarshal(b, &f)
	f.Start++ // another, dead run
	var lines []string
	if err := Clean(writeJournal(t, f), CleanOptions{NetnsDir: netnsDir}, func(s string) { lines = append(lines, s) }); err != nil {
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
	b, err := os.ReadFile(l.jr.path)
	if err != nil {
		t.Fatal(err)
	}
	var f JournalFile
	json.Unmarshal(b, &f)
	if len(f.Entries) != 1 || f.Entries[0].Kind != JQdisc || !f.Entries[0].Done {
		t.Fatalf("journal entries %+v, want one done qdisc entry", f.Entries)
	}
	f.Start++ // another, dead run
	var lines []string
	if err := Clean(writeJournal(t, f), CleanOptions{}, func(s string) { lines = append(lines, s) }); err != nil {
		t.Fatal(err)
	}
	old, _ := h.LinkByName("jold0")
	qs, _ := h.QdiscList(old)
	for _, q := range qs {
		if q.Type() == "tbf" {
			t.Errorf("tbf left on jold0 after clean; clean said:\n%s", strings.Join(lines, "\n"))
		}
	}
}
