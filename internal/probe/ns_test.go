package probe

import (
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nsscript/nsscript/internal/nsutil"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

var (
	nsOnce sync.Once
	nsErr  error
)

// requireNamespaces skips the test when network namespaces cannot be created
// here (not root and no user namespaces), or fails it when
// NSSCRIPT_REQUIRE_NAMESPACES=1 says they must be available.
func requireNamespaces(t testing.TB) {
	t.Helper()
	nsOnce.Do(func() {
		fd, err := nsutil.New()
		if err == nil {
			unix.Close(fd)
		}
		nsErr = err
	})
	if nsErr == nil {
		return
	}
	if os.Getenv("NSSCRIPT_REQUIRE_NAMESPACES") == "1" {
		t.Fatalf("cannot create network namespaces: %v", nsErr)
	}
	t.Skipf("cannot create network namespaces: %v", nsErr)
}

// newNS creates a network namespace with lo up, closed when the test ends.
func newNS(t testing.TB) int {
	t.Helper()
	requireNamespaces(t)
	fd, err := nsutil.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	h := handle(t, fd)
	lo, err := h.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		t.Fatal(err)
	}
	return fd
}

// handle returns a netlink handle inside the namespace fd.
func handle(t testing.TB, fd int) *netlink.Handle {
	t.Helper()
	h, err := nsutil.NewHandle(fd, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// nextIndex numbers the veths the tests make.
var nextIndex atomic.Int32

func init() { nextIndex.Store(5000) }

// end is one side of a veth: its namespace, interface name and addresses.
type end struct {
	ns    int
	name  string
	addrs []string // CIDRs
}

// veth joins two namespaces with a veth pair, adds the addresses (IPv6 ones
// without DAD), sets both ends up and waits until they are oper-up.
func veth(t *testing.T, a, b end) {
	t.Helper()
	ha, hb := handle(t, a.ns), handle(t, b.ns)
	// A chosen index keeps the two ends' indexes apart: the kernel's link
	// watcher delays a carrier change up to a second when a veth's index
	// equals its peer's (both 2 in two fresh namespaces).
	v := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: a.name, Namespace: netlink.NsFd(a.ns), Index: int(nextIndex.Add(1))},
		PeerName:      b.name,
		PeerNamespace: netlink.NsFd(b.ns),
	}
	if err := ha.LinkAdd(v); err != nil {
		t.Fatalf("add veth %s/%s: %v", a.name, b.name, err)
	}
	for _, e := range []struct {
		h *netlink.Handle
		end
	}{{ha, a}, {hb, b}} {
		l, err := e.h.LinkByName(e.name)
		if err != nil {
			t.Fatal(err)
		}
		for _, cidr := range e.addrs {
			ad, err := netlink.ParseAddr(cidr)
			if err != nil {
				t.Fatal(err)
			}
			if ad.IP.To4() == nil {
				ad.Flags = unix.IFA_F_NODAD
			}
			if err := e.h.AddrAdd(l, ad); err != nil {
				t.Fatalf("add %s to %s: %v", cidr, e.name, err)
			}
		}
		if err := e.h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range []struct {
		h    *netlink.Handle
		name string
	}{{ha, a.name}, {hb, b.name}} {
		for deadline := time.Now().Add(2 * time.Second); ; {
			l, err := e.h.LinkByName(e.name)
			if err != nil {
				t.Fatal(err)
			}
			if l.Attrs().OperState == netlink.OperUp {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not oper-up: %v", e.name, l.Attrs().OperState)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// route adds a route to dst ("default" or a CIDR) via gw in namespace fd.
func route(t *testing.T, fd int, dst, gw string) {
	t.Helper()
	r := &netlink.Route{Gw: net.ParseIP(gw)}
	if dst != "default" {
		_, n, err := net.ParseCIDR(dst)
		if err != nil {
			t.Fatal(err)
		}
		r.Dst = n
	}
	if err := handle(t, fd).RouteAdd(r); err != nil {
		t.Fatalf("route %s via %s: %v", dst, gw, err)
	}
}

// forward turns on IPv4 and IPv6 forwarding in namespace fd. /proc/sys/net
// shows the sysctls of the opener's namespace, so the files are opened inside.
func forward(t *testing.T, fd int) {
	t.Helper()
	err := nsutil.Do(fd, func() error {
		for _, f := range []string{"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"} {
			if err := os.WriteFile(f, []byte("1"), 0o644); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// pair is two namespaces on one veth: a has 10.9.0.1 and fd00::1, b has
// 10.9.0.2 and fd00::2.
func pair(t *testing.T) (a, b int) {
	t.Helper()
	a, b = newNS(t), newNS(t)
	veth(t, end{a, "a0", []string{"10.9.0.1/24", "fd00::1/64"}},
		end{b, "b0", []string{"10.9.0.2/24", "fd00::2/64"}})
	return a, b
}

// routed is client c (10.8.0.1, fd08::1) behind router r (10.8.0.254,
// fd08::fe) with forwarding on and no route beyond its own subnet.
func routed(t *testing.T) (c, r int) {
	t.Helper()
	c, r = newNS(t), newNS(t)
	veth(t, end{c, "c0", []string{"10.8.0.1/24", "fd08::1/64"}},
		end{r, "r0", []string{"10.8.0.254/24", "fd08::fe/64"}})
	route(t, c, "default", "10.8.0.254")
	route(t, c, "::/0", "fd08::fe")
	forward(t, r)
	return c, r
}
