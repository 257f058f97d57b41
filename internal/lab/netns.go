package lab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/nsutil"
	"github.com/nsscript/nsscript/internal/probe"
)

// Netns is a network namespace of the lab.
type Netns struct {
	Name     string
	Pos      string // where the script made or opened it
	Existing bool   // opened, not created, by the lab

	lab   *Lab
	fd    int
	h     *netlink.Handle
	links map[string]*Link
	order []*Link
	bound string    // bind-mount path under NetnsDir, if any
	nft   *nftState // the lab's nftables table here, once a rule needs it (nat.go)
	path  string    // where an existing namespace was opened (hostchange.go)
	// How explain reaches an existing namespace that has no name (shellView).
	shellNet, shellPID string

	nameHint int // genName's next candidate number

	pingOnce sync.Once
	pinger   *probe.Pinger
	pingErr  error

	batchOnce sync.Once
	batch     int        // netlink socket for batched requests (nlbatch.go), -1 if none
	batchMu   sync.Mutex // one exchange at a time on batch

	brnfOff bool // bridge netfilter is off here (bridgenf.go); guarded by lab.brnfMu once made
	// routesCustom is set once a route, a rule or a sysctl was added here:
	// the lab's model no longer knows every route (routemodel.go).
	routesCustom bool
	front        front  // the script's value for it (api.go)
	deleted      string // where it was deleted, once it was (delete.go)
}

func (n *Netns) String() string { return n.Name }

// Lab returns the lab the namespace belongs to.
func (n *Netns) Lab() *Lab { return n.lab }

// FD returns a file descriptor for the namespace (-1 in plan mode).
func (n *Netns) FD() int { return n.fd }

// Links returns the links the lab knows in this namespace, in creation order.
func (n *Netns) Links() []*Link { return append([]*Link(nil), n.order...) }

// Link returns the lab's link called name in this namespace, or nil.
func (n *Netns) Link(name string) *Link { return n.links[name] }

// FindLink returns the link called name in this namespace: the lab's own,
// or one that something else made (a program started with run(), say),
// which the lab then adopts with its addresses. The error for a missing link
// lists the links the namespace has.
func (n *Netns) FindLink(name string) (*Link, error) {
	if lk := n.links[name]; lk != nil {
		return lk, nil
	}
	if n.lab.opts.Plan && name == "lo" {
		// Every namespace has loopback, up (NewNetns sets it up): a plan
		// adopts it as a run would find it.
		lk := &Link{name: "lo", index: 1, kind: "device", adopted: true, up: true}
		n.addLink(lk)
		return lk, nil
	}
	if !n.lab.opts.Plan {
		nl, err := n.h.LinkByName(name)
		if err == nil {
			n.lab.neigh.gen++ // the topology changed: neigh.go recomputes its view
			return n.adopt(nl), nil
		}
		if !errors.As(err, new(netlink.LinkNotFoundError)) {
			return nil, fmt.Errorf("look up link %q in netns %q: %w", name, n.Name, err)
		}
	} else if n.Existing || n.lab.planned.programs {
		// A plan cannot know what something else made (the creator of an
		// existing namespace, a program run() started): it takes the name
		// on trust, and the explained script uses it as it is.
		lk := &Link{ns: n, name: name, adopted: true, up: true, Pos: n.lab.pos}
		n.addLink(lk)
		return lk, nil
	}
	return nil, fmt.Errorf("no link %q in netns %q (it has: %s)", name, n.Name, n.linkNames())
}

// linkNames lists the links the namespace has (from the kernel, lo
// included; in plan mode, the lab's), sorted, or "none".
func (n *Netns) linkNames() string {
	var names []string
	if n.lab.opts.Plan {
		for _, lk := range n.order {
			names = append(names, lk.name)
		}
	} else if links, err := listLinks(n.h); err == nil {
		for _, nl := range links {
			names = append(names, nl.Attrs().Name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// Addrs returns the addresses the lab added in this namespace, in order.
func (n *Netns) Addrs() []netip.Prefix {
	var out []netip.Prefix
	for _, l := range n.order {
		out = append(out, l.addrs...)
	}
	return out
}

// FirstAddr returns the first address the lab added in the namespace,
// preferring IPv4, as the address a namespace stands for in a probe.
func (n *Netns) FirstAddr() (netip.Addr, bool) {
	var v6 netip.Addr
	for _, p := range n.Addrs() {
		if p.Addr().Is4() {
			return p.Addr(), true
		}
		if !v6.IsValid() {
			v6 = p.Addr()
		}
	}
	return v6, v6.IsValid()
}

func (n *Netns) openHandle() error {
	h, err := newHandle(n.fd)
	if err != nil {
		return fmt.Errorf("open netlink in netns %q: %w", n.Name, err)
	}
	n.h = h
	return nil
}

func (n *Netns) close() {
	if n.pinger != nil {
		n.pinger.Close()
	}
	if n.h != nil {
		n.h.Close()
		n.h = nil
	}
	n.batchOnce.Do(func() { n.batch = -1 })
	if n.batch >= 0 {
		unix.Close(n.batch)
		n.batch = -1
	}
	if n.fd >= 0 {
		unix.Close(n.fd)
		n.fd = -1
	}
}

// CheckNetnsName reports whether name can name a namespace (see
// nsutil.CheckNetnsName).
func CheckNetnsName(name string) error { return nsutil.CheckNetnsName(name) }

// NewNetns creates a network namespace called name with loopback up.
func (l *Lab) NewNetns(name string) (*Netns, error) {
	if err := CheckNetnsName(name); err != nil {
		return nil, err
	}
	if prev := l.byName[name]; prev != nil {
		if prev.Pos != "" {
			return nil, fmt.Errorf("namespace %q already exists (made at %s)", name, prev.Pos)
		}
		return nil, fmt.Errorf("namespace %q already exists", name)
	}
	if err := l.countObject(1); err != nil {
		return nil, err
	}
	n := &Netns{Name: name, Pos: l.pos, lab: l, fd: -1, links: map[string]*Link{}}
	q := shellQuote(name)
	err := l.apply(Step{NS: name, Op: "netns add", Desc: "create namespace " + name + " with loopback up",
		Cmds: []string{"ip netns add " + q, "ip -n " + q + " link set lo up"}}, func() error {
		if l.opts.HostMode {
			if _, err := os.Stat(filepath.Join(l.opts.NetnsDir, name)); err == nil {
				return fmt.Errorf("namespace %q already exists on the host", name)
			}
		}
		n.brnfOff = l.programsStarted()
		fd, err := nsutil.NewWith(n.setupInside)
		if err != nil {
			return err
		}
		n.fd = fd
		if l.opts.HostMode {
			return l.hostBind(n)
		}
		return nil
	})
	if err != nil {
		n.close()
		return nil, fmt.Errorf("create netns %q: %w", name, err)
	}
	l.byName[name] = n
	l.order = append(l.order, n)
	return n, nil
}

// setupInside opens the netlink handle and the batch socket (nlbatch.go) of
// a namespace being made and gives it the lab's defaults (applyDefaults),
// on the thread that made it, while that thread is still inside
// (nsutil.NewWith): one switch of namespace for all of it.
func (n *Netns) setupInside() error {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("open netlink in netns %q: %w", n.Name, err)
	}
	n.h = h
	n.batchOnce.Do(func() { n.batch = openBatchSocket() })
	return n.applyDefaults(n.brnfOff)
}

// setupFresh gives a namespace that the lab did not make itself (the
// sandbox's own, as the lab's host) the defaults of applyDefaults, bridge
// netfilter off included.
func (n *Netns) setupFresh() error {
	n.brnfOff = true
	return nsutil.Do(n.fd, func() error { return n.applyDefaults(true) })
}

// applyDefaults brings loopback up and keeps IPv6 off on new links until an
// IPv6 address is added (router solicitations and MLD reports from hundreds
// of links flood a bridge and can drop probes). New links skip duplicate
// address detection, as the addresses the lab adds do (AddAddr): otherwise
// the kernel's own link-local addresses stay tentative for a second or two,
// during which a router sends no neighbour solicitation. Every link-local
// comes from a MAC address the lab chose, so DAD has nothing to find; a
// script that wants it sets net.ipv6.conf.default.accept_dad back to 1.
// With brnf, bridge netfilter goes off too (bridgenf.go). It runs on a
// thread inside n: the sysctls are written in the thread's namespace.
func (n *Netns) applyDefaults(brnf bool) error {
	// An ioctl, not a netlink request: an empty script's sandbox makes
	// none.
	if err := nsutil.LoopbackUp(); err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	err := writeSysctlsHere("net.ipv6.conf.default", []sysctlValue{{"accept_dad", "0"}, {"disable_ipv6", "1"}}, false)
	if err != nil || !brnf {
		return err
	}
	return writeSysctlsHere("net.bridge", bridgeNetfilterOff, true)
}

// OpenNetns opens a namespace that something else created: path is a bind
// mount (empty means NetnsDir/name) or a /proc/PID/ns/net entry.
func (l *Lab) OpenNetns(name, path string) (*Netns, error) {
	if err := CheckNetnsName(name); err != nil {
		return nil, err
	}
	if l.byName[name] != nil {
		return nil, fmt.Errorf("namespace %q already exists", name)
	}
	if path == "" {
		path = filepath.Join(l.opts.NetnsDir, name)
	}
	n := &Netns{Name: name, Pos: l.pos, Existing: true, lab: l, fd: -1, links: map[string]*Link{}, path: path}
	if path != filepath.Join(l.opts.NetnsDir, name) {
		n.shellNet, n.shellPID = shellView(path)
	}
	err := l.apply(Step{NS: name, Op: "netns open", Desc: "open existing namespace " + name + " at " + path}, func() error {
		fd, err := nsutil.Open(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				hint := ""
				if strings.HasPrefix(path, "/proc/") {
					hint = l.outsideHint()
				}
				return fmt.Errorf("no namespace at %s%s", path, hint)
			}
			return err
		}
		n.fd = fd
		if err := l.checkOwned(fd, path); err != nil {
			return err
		}
		if err := n.openHandle(); err != nil {
			return err
		}
		return n.adoptLinks()
	})
	if err != nil {
		n.close()
		return nil, fmt.Errorf("open netns %q: %w", name, err)
	}
	l.byName[name] = n
	l.order = append(l.order, n)
	return n, nil
}

// shellView is how explain's commands reach a namespace that has no name
// under NetnsDir (the lab names only its own): nsenter --net=PATH, and, for
// ip link ... netns, the PID whose namespace it is. /proc/self/... in a
// script means nsscript's own namespace, which is the shell's ($$).
func shellView(path string) (netPath, pid string) {
	rest, ok := strings.CutPrefix(path, "/proc/")
	if p, ok2 := strings.CutSuffix(rest, "/ns/net"); ok && ok2 {
		if p == "self" || p == "thread-self" {
			p = "$$"
		}
		if _, err := strconv.Atoi(p); err == nil || p == "$$" {
			return "/proc/" + p + "/ns/net", p
		}
	}
	return shellQuote(path), ""
}

// checkOwned refuses, outside HostMode, a namespace that neither this
// process nor anything it started made: in the sandbox, one of the real
// host's (whose user namespace is outside the sandbox's).
func (l *Lab) checkOwned(fd int, path string) error {
	if l.opts.HostMode {
		return nil
	}
	owned, err := nsutil.Owned(fd)
	if err != nil {
		return err
	}
	if !owned {
		return fmt.Errorf("%s is a namespace outside the sandbox: joining a namespace outside the lab needs --host", path)
	}
	return nil
}

// adoptLinks records the links an existing namespace already has, with their
// addresses, so scripts can use them and probes can find their addresses.
func (n *Netns) adoptLinks() error {
	links, err := listLinks(n.h)
	if err != nil {
		return err
	}
	for _, nl := range links {
		if nl.Attrs().Name != "lo" {
			n.adopt(nl)
		}
	}
	return nil
}

// adopt records a link that exists in the kernel but not in the lab, with
// its addresses (but not the kernel's link-local and loopback ones, which
// probes never stand for).
func (n *Netns) adopt(nl netlink.Link) *Link {
	a := nl.Attrs()
	lk := &Link{ns: n, name: a.Name, index: a.Index, kind: nl.Type(), adopted: true, up: a.Flags&net.FlagUp != 0}
	lk.addrs = n.kernelAddrs(nl)
	n.addLink(lk)
	return lk
}

// Bind makes the namespace visible as NetnsDir/NAME (for `ip netns exec` and
// other tools). Labs bind lazily: only run() and pausing need it.
func (n *Netns) Bind() error {
	if n.bound != "" || n.Name == HostName || n.lab.opts.Plan {
		return nil
	}
	if n.Existing {
		return nil
	}
	return n.bindAt(filepath.Join(n.lab.opts.NetnsDir, n.Name), nil)
}

// bindAt creates the empty file p and bind-mounts the namespace on it.
// made, when not nil, learns the file's inode in between (the --host
// journal records it) and may stop the bind with an error.
func (n *Netns) bindAt(p string, made func(file uint64) error) error {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		return fmt.Errorf("bind netns %q: %w", n.Name, err)
	}
	var st unix.Stat_t
	err = unix.Fstat(int(f.Fd()), &st)
	f.Close()
	if err == nil && made != nil {
		err = made(st.Ino)
	}
	if err != nil {
		os.Remove(p)
		return fmt.Errorf("bind netns %q: %w", n.Name, err)
	}
	src := fmt.Sprintf("/proc/self/fd/%d", n.fd)
	if err := unix.Mount(src, p, "none", unix.MS_BIND, ""); err != nil {
		os.Remove(p)
		return fmt.Errorf("bind netns %q at %s: %w", n.Name, p, err)
	}
	n.bound = p
	return nil
}

func (n *Netns) unbind() error {
	if n.bound == "" {
		return nil
	}
	if err := unix.Unmount(n.bound, unix.MNT_DETACH); err != nil {
		return err
	}
	err := os.Remove(n.bound)
	n.bound = ""
	return err
}

// BindAll binds every namespace of the lab under NetnsDir.
func (l *Lab) BindAll() error {
	for _, n := range l.order {
		if err := n.Bind(); err != nil {
			return err
		}
	}
	return nil
}

// Pinger returns the namespace's ICMP pinger, opening it on first use.
func (n *Netns) Pinger() (*probe.Pinger, error) {
	n.pingOnce.Do(func() {
		n.pinger, n.pingErr = probe.NewPinger(n.fd)
	})
	return n.pinger, n.pingErr
}

func (n *Netns) addLink(lk *Link) {
	lk.ns = n
	n.links[lk.name] = lk
	n.order = append(n.order, lk)
}

func (n *Netns) removeLink(lk *Link) {
	delete(n.links, lk.name)
	n.nameHint = 0
	for i, x := range n.order {
		if x == lk {
			n.order = append(n.order[:i], n.order[i+1:]...)
			break
		}
	}
}

// listLinks dumps links, retrying when a concurrent deletion interrupted it.
func listLinks(h *netlink.Handle) ([]netlink.Link, error) { return retryDump(h.LinkList) }
