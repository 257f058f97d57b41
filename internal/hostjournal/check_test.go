package hostjournal

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/testenv"
)

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
	f := File{PID: 1, Start: 1, Entries: []Entry{
		{ID: 1, Kind: Netns, Name: "precious", Path: file, Done: true},
		{ID: 2, Kind: Dir, Path: victims, Done: true},
		{ID: 3, Kind: Sysctl, Name: "kernel.domainname", Old: "crafted", New: string(dom), Done: true},
		{ID: 4, Kind: Sysctl, NS: file, Name: "net.ipv4.ip_forward", Old: "1", New: "0", Done: true},
		{ID: 5, Kind: NftTable, Name: "filter", Family: 1, Done: true},
		{ID: 6, Kind: Link, NS: path, Name: "jold0", Tag: "", Done: true},
		{ID: 7, Kind: Route, NS: path, Family: unix.AF_INET, Dst: "10.88.0.0/16", Done: true},
		{ID: 8, Kind: Netns, Name: "sym", Path: filepath.Join(netnsDir, "sym")},
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
	if got := testenv.LinkNames(t, h); !strings.Contains(got, "jold0") {
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
