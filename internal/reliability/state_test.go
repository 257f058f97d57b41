package reliability

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
)

// hostState is what a lab could leave behind on the real host, as sorted
// lines, one per object, so two snapshots compare as sets. It holds only
// what nsscript could have made (the host's network objects, /run/netns,
// journals, and mounts where nsscript mounts), so that another program on a
// shared machine cannot fail a comparison.
type hostState map[string][]string

// sysctlDirs are the sysctls a lab can touch on the host: every setting
// under these directories (per-interface ones are added for the host's
// links), plus a few single keys.
var (
	sysctlDirs = []string{
		"net/ipv4/conf/all", "net/ipv4/conf/default", "net/ipv6/conf/all", "net/ipv6/conf/default",
		"net/ipv4/neigh/default", "net/ipv6/neigh/default",
	}
	sysctlKeys = []string{
		"net/ipv4/ip_forward", "net/ipv4/ping_group_range", "net/ipv4/ip_local_port_range",
		"net/core/somaxconn", "net/ipv4/tcp_syncookies",
	}
)

// snapshot reads the host state of the test process's namespaces.
func snapshot(t testing.TB) hostState {
	t.Helper()
	s := hostState{}
	names := s.links(t)
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes, err := netlink.RouteListFiltered(fam, &netlink.Route{Table: 254}, netlink.RT_FILTER_TABLE)
		if err != nil {
			t.Fatalf("list routes: %v", err)
		}
		for _, r := range routes {
			s.add("route", fmt.Sprintf("dst=%v gw=%v dev=%d metric=%d", r.Dst, r.Gw, r.LinkIndex, r.Priority))
		}
	}
	if ents, err := os.ReadDir("/run/netns"); err == nil {
		s.add("netns", "/run/netns exists")
		for _, e := range ents {
			s.add("netns", "/run/netns/"+e.Name())
		}
	}
	// Journals of --host runs (paused labs keep their sockets there too).
	js, _ := filepath.Glob("/run/nsscript/journal-*")
	for _, j := range js {
		s.add("journal", j)
	}
	s.nft(t)
	s.sysctls(names)
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatalf("read mountinfo: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(mi)), "\n") {
		if nsscriptMount(line) {
			s.add("mount", line)
		}
	}
	for k := range s {
		sort.Strings(s[k])
	}
	return s
}

// links adds the host's links and their addresses other than link-local
// ones, and returns the links' names.
func (s hostState) links(t testing.TB) []string {
	links, err := netlink.LinkList()
	for tries := 0; errors.Is(err, netlink.ErrDumpInterrupted) && tries < 5; tries++ {
		links, err = netlink.LinkList()
	}
	if err != nil {
		t.Fatalf("list links: %v", err)
	}
	var names []string
	nameOf := map[int]string{}
	for _, l := range links {
		a := l.Attrs()
		names = append(names, a.Name)
		nameOf[a.Index] = a.Name
		s.add("link", fmt.Sprintf("%d %s %s master=%d alias=%q", a.Index, a.Name, l.Type(), a.MasterIndex, a.Alias))
	}
	// One dump for every link's addresses: AddrList(link) dumps them all
	// and filters by index anyway.
	addrs, _ := netlink.AddrList(nil, netlink.FAMILY_ALL)
	for _, ad := range addrs {
		if name, ok := nameOf[ad.LinkIndex]; ok && !ad.IP.IsLinkLocalUnicast() {
			s.add("addr", name+" "+ad.IPNet.String())
		}
	}
	return names
}

// sysctls adds the values of the sysctls a run could change: those of
// sysctlDirs and sysctlKeys, and the per-link ones of the links named.
func (s hostState) sysctls(links []string) {
	var keys []string
	for _, d := range sysctlDirs {
		ents, _ := os.ReadDir("/proc/sys/" + d)
		for _, e := range ents {
			keys = append(keys, d+"/"+e.Name())
		}
	}
	for _, n := range links {
		for _, d := range []string{"net/ipv4/conf/", "net/ipv6/conf/"} {
			ents, _ := os.ReadDir("/proc/sys/" + d + n)
			for _, e := range ents {
				keys = append(keys, d+n+"/"+e.Name())
			}
		}
	}
	for _, k := range append(keys, sysctlKeys...) {
		b, err := os.ReadFile("/proc/sys/" + k)
		if err != nil {
			continue // write-only or unreadable (stable_secret)
		}
		s.add("sysctl", strings.ReplaceAll(k, "/", ".")+"="+strings.Join(strings.Fields(string(b)), " "))
	}
}

// mountDirs are where nsscript mounts: namespace binds (--host), and the
// sandbox's own tmpfs and sysfs, which must never reach the host.
var mountDirs = []string{"/run", "/var/run", "/sys", "/proc"}

// nsscriptMount reports whether a /proc/self/mountinfo line is a mount that
// nsscript could have made: one under mountDirs (namespace binds in
// /run/netns, the sandbox's tmpfs and sysfs). Mounts that other programs on
// the machine make elsewhere, such as other tests' namespace binds in their
// temporary directories (go test ./... runs packages at the same time), are
// not compared.
func nsscriptMount(line string) bool {
	f := strings.Fields(line)
	if len(f) < 5 {
		return true
	}
	for _, d := range mountDirs {
		if f[4] == d || strings.HasPrefix(f[4], d+"/") {
			return true
		}
	}
	return false
}

func (s hostState) add(kind, line string) { s[kind] = append(s[kind], line) }

// nft records tables, chains and rule counts of every family.
func (s hostState) nft(t testing.TB) {
	c, err := nftables.New()
	if err != nil {
		t.Fatalf("nftables: %v", err)
	}
	tables, err := c.ListTables()
	if err != nil {
		t.Fatalf("nftables: list tables: %v", err)
	}
	for _, tb := range tables {
		s.add("nft", fmt.Sprintf("table %d %s", tb.Family, tb.Name))
	}
	chains, err := c.ListChains()
	if err != nil {
		t.Fatalf("nftables: list chains: %v", err)
	}
	for _, ch := range chains {
		rules, _ := c.GetRules(ch.Table, ch)
		s.add("nft", fmt.Sprintf("chain %d %s %s rules=%d", ch.Table.Family, ch.Table.Name, ch.Name, len(rules)))
	}
}

// diff lists what appeared (+) and disappeared (-) between two snapshots.
func diff(before, after hostState) []string {
	kinds := map[string]bool{}
	for k := range before {
		kinds[k] = true
	}
	for k := range after {
		kinds[k] = true
	}
	var out []string
	for k := range kinds {
		had := map[string]int{}
		for _, l := range before[k] {
			had[l]++
		}
		for _, l := range after[k] {
			if had[l] > 0 {
				had[l]--
				continue
			}
			out = append(out, "+ "+k+": "+l)
		}
		for l, n := range had {
			for range n {
				out = append(out, "- "+k+": "+l)
			}
		}
	}
	sort.Strings(out)
	return out
}

// countObjects returns how many objects a diff names, as links, namespaces, ...
func countObjects(d []string) string {
	by := map[string]int{}
	for _, l := range d {
		kind, _, _ := strings.Cut(strings.TrimLeft(l, "+- "), ":")
		by[kind]++
	}
	var parts []string
	for k, n := range by {
		parts = append(parts, fmt.Sprintf("%d %s", n, k))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// mustEqual fails the test when the host changed.
func mustEqual(t testing.TB, what string, before, after hostState) {
	t.Helper()
	if d := diff(before, after); len(d) > 0 {
		shown, more := d, ""
		if len(d) > 30 {
			shown, more = d[:30], fmt.Sprintf("\n... and %d more", len(d)-30)
		}
		t.Fatalf("%s: the host changed (%s):\n%s%s", what, countObjects(d), strings.Join(shown, "\n"), more)
	}
}

// journalOf returns the journal file a run with pid left, or "".
func journalOf(pid int) string {
	p := filepath.Join("/run/nsscript", fmt.Sprintf("journal-%d.json", pid))
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

func TestNsscriptMount(t *testing.T) {
	tmp := filepath.Join(os.TempDir(), "TestX123", "001")
	for line, want := range map[string]bool{
		"36 25 0:32 / /run/netns rw,nosuid - tmpfs tmpfs rw":                            true,
		"37 25 0:4 net:[4026532] /run/netns/net1 rw shared:9 - nsfs nsfs rw":            true,
		"38 25 0:20 / /sys rw - sysfs sysfs rw":                                         true,
		"39 25 0:4 net:[4026533] /tmp/nsscript-escape-1/net rw - nsfs nsfs rw":          false,
		"40 25 0:4 net:[4026534] " + tmp + "/ns rw - nsfs nsfs rw":                      false,
		"41 25 0:45 / /var/lib/docker/overlay2/x/merged rw - overlay overlay rw":        false,
		"42 25 8:1 /home /home rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount": false,
	} {
		if got := nsscriptMount(line); got != want {
			t.Errorf("nsscriptMount(%q) = %v, want %v", line, got, want)
		}
	}
}
