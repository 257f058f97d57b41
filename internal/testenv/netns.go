package testenv

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// NS is what HostWorld needs of internal/nsutil, which testenv cannot
// import (nsutil's own tests import testenv): its New, Do and NewHandle.
type NS struct {
	New    func() (int, error)
	Do     func(int, func() error) error
	Handle func(int, ...int) (*netlink.Handle, error)
}

// HostWorld makes a fresh namespace that stands in for the real host in
// the --host tests, with one link, the bridge jold0, that no run made. A
// thread parked inside keeps it alive until the test ends; the returned
// path is that thread's /proc path to it, by which code that opens a
// namespace by path (a script's existing=True, nsscript clean) finds it.
// The handle is a route socket in it.
func HostWorld(t testing.TB, ns NS) (string, *netlink.Handle) {
	t.Helper()
	NeedNamespaces(t)
	NeedRoot(t)
	fd, err := ns.New()
	if err != nil {
		t.Fatal(err)
	}
	ready, stop := make(chan string), make(chan struct{})
	go ns.Do(fd, func() error {
		ready <- fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		<-stop
		return nil
	})
	path := <-ready
	h, err := ns.Handle(fd, unix.NETLINK_ROUTE)
	if err != nil {
		close(stop)
		unix.Close(fd)
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(); close(stop); unix.Close(fd) })
	if err := h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "jold0"}}); err != nil {
		t.Fatal(err)
	}
	return path, h
}

// LinkNames lists the names of the links of the namespace behind h.
func LinkNames(t testing.TB, h *netlink.Handle) string {
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
