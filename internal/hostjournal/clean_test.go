package hostjournal

import (
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/nsscript/nsscript/internal/nsutil"
	"github.com/nsscript/nsscript/internal/testenv"
)

// The clean tests stand in for the real host with a fresh namespace that a
// parked thread keeps alive, which clean finds again by its /proc path.

// parkedNetns returns the /proc path of a fresh namespace and a handle in
// it; the namespace has a link jold0 that no run made.
func parkedNetns(t *testing.T) (string, *netlink.Handle) {
	return testenv.HostWorld(t, testenv.NS{New: nsutil.New, Do: nsutil.Do, Handle: nsutil.NewHandle})
}

// writeJournal writes f as a dead run's journal and returns its path.
func writeJournal(t *testing.T, f File) string {
	t.Helper()
	return testenv.WriteJournal(t, &f)
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
	f := File{PID: 1, Start: 1, Entries: []Entry{
		{ID: 1, Kind: Link, NS: path, Name: "jhalf", Tag: "nsscript:1.1:1"},
		{ID: 2, Kind: Link, NS: path, Name: "jother", Tag: "nsscript:1.1:2"},
		{ID: 3, Kind: Link, NS: path, Name: "jnever", Tag: "nsscript:1.1:3"},
		{ID: 4, Kind: Sysctl, NS: path, Name: "net.ipv4.ip_forward", Old: "0", New: "1"},
		{ID: 5, Kind: Link, NS: "/proc/999999999/ns/net", Name: "x", Tag: "nsscript:1.1:5"},
	}}
	dead := writeJournal(t, f)
	var lines []string
	if err := Clean(dead, CleanOptions{}, func(s string) { lines = append(lines, s) }); err != nil {
		t.Fatal(err)
	}
	if got := testenv.LinkNames(t, h); got != "lo jold0 jother" {
		t.Errorf("links after clean: %s, want lo jold0 jother\nclean said:\n%s", got, strings.Join(lines, "\n"))
	}
}
