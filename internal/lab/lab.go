// Package lab is nsscript's model of a network lab: a Lab holds network
// namespaces (Netns), which hold links (Link). Every change to the kernel goes
// through netlink on a per-namespace handle and is recorded as a Step with the
// script position that caused it, so that a run can be logged (-v), explained
// as shell commands, and, on the real host (--host), undone.
//
// The package is usable from Go without Starlark. It never runs an external
// program for its own work.
package lab

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/hostjournal"
	"github.com/nsscript/nsscript/internal/nsutil"
	"github.com/nsscript/nsscript/internal/proc"
)

// HostName is the name scripts use for the lab's root namespace.
const HostName = "host"

// DefaultMaxObjects caps the namespaces and links one lab may create.
const DefaultMaxObjects = 100000

// Options configure a Lab.
type Options struct {
	// Plan records steps without touching the kernel (for explain and graph).
	Plan bool
	// HostMode journals an undo action for every change; Close runs them in
	// reverse unless Keep is set. Namespaces are bound under /run/netns.
	HostMode bool
	// Keep leaves a HostMode lab in place on Close.
	Keep bool
	// Log, when set, receives every step right after it was applied.
	Log func(Step)
	// MaxObjects caps namespaces plus links (DefaultMaxObjects when 0).
	MaxObjects int
	// NetnsDir is where named namespaces are bound (default /run/netns).
	NetnsDir string
	// FreshHost makes the lab's host namespace a new namespace instead of
	// the one the process runs in (tests use it to stay off the real host).
	FreshHost bool
	// JournalDir is where a HostMode lab writes its journal, so that
	// `nsscript clean` can undo a run that was killed
	// (hostjournal.DefaultDir when empty; see hostchange.go).
	JournalDir string
	// Neigh says how probes find their next hops' link-layer addresses:
	// NeighAuto (the zero value) uses ARP unless the lab could need more
	// neighbour entries than the kernel's table has room for, and then
	// installs permanent entries along each probe's path (see neigh.go).
	Neigh NeighMode
}

// Step is one change the lab made (or, in plan mode, would make).
type Step struct {
	Pos  string   // script position that caused it, "lab.star:3:1"
	NS   string   // namespace it applies to
	Op   string   // short operation name: "netns", "link add", "addr add", ...
	Desc string   // one-line human description
	Cmds []string // equivalent shell commands (iproute2, sysctl, nft)
	// Outside are directories outside /run that the commands write to
	// (FRR's /etc/frr): explain's header suggests a tmpfs on each.
	Outside []string
	// Vars are values that the shell holds in variables from this step
	// on (a DHCP lease, which explain cannot know): explain writes the
	// variable wherever the value appears in this step and later ones.
	Vars []ShellVar
}

// ShellVar is a value the shell script learns at run time and keeps in a
// variable: Value as the lab has it ("10.0.0.100", planned or leased),
// Ref how the shell refers to it ("$lease1_ip").
type ShellVar struct{ Value, Ref string }

// Lab is a network lab: its namespaces, links and the steps that built it.
// A Lab is used by one goroutine at a time, except for probes, which may run
// concurrently.
type Lab struct {
	opts      Options
	Host      *Netns
	byName    map[string]*Netns
	order     []*Netns
	steps     []Step
	jr        *hostjournal.Journal // host mode: changes to the real machine and their undo
	pos       string
	objects   int
	nextIndex int
	neigh     neighState // static neighbours and deterministic MACs (neigh.go)
	planned   struct {
		programs bool // a plan started a program, which may make links
	}
	brnfMu    sync.Mutex     // guards programs and each Netns.brnfOff (bridgenf.go)
	programs  bool           // a program has started (bridgenf.go)
	daemons   int            // daemons started, numbering their directories in explain
	frrSpaces map[*Netns]int // FRR routers per namespace (FRRPathspace)

	mu      sync.Mutex // guards pending, settling and probers
	pending map[*Link]bool
	// settling holds a channel per Settle still waiting for links it took
	// from pending, closed when it is done (ready.go).
	settling []chan struct{}
	closed   bool
	probed   atomic.Bool // a probe was sent (neighbour entries may exist)

	captures []*Capture // capture.go; guarded by mu
	dhcp     dhcpState  // dhcp.go; guarded by mu
}

// New returns a lab. Its host namespace is, with HostMode, the real host's
// (changes are journaled and undone); with FreshHost, a new namespace; and
// otherwise the namespace the process runs in, which must then be a private
// sandbox (see internal/sandbox), since the lab configures it freely.
func New(opts Options) (*Lab, error) {
	if opts.MaxObjects == 0 {
		opts.MaxObjects = DefaultMaxObjects
	}
	if opts.NetnsDir == "" {
		opts.NetnsDir = "/run/netns"
	}
	if opts.JournalDir == "" {
		opts.JournalDir = hostjournal.DefaultDir
	}
	l := &Lab{opts: opts, byName: map[string]*Netns{}, pending: map[*Link]bool{}}
	host := &Netns{Name: HostName, lab: l, fd: -1, links: map[string]*Link{}}
	if !opts.Plan {
		open := nsutil.Current
		if opts.FreshHost {
			open = nsutil.New
		}
		fd, err := open()
		if err != nil {
			return nil, err
		}
		host.fd = fd
		if err := host.openHandle(); err != nil {
			unix.Close(fd)
			return nil, err
		}
		if !opts.HostMode {
			// The host namespace is a sandbox's or a fresh one: give it the
			// same defaults as every lab namespace.
			if err := host.setupFresh(); err != nil {
				host.close()
				return nil, err
			}
		}
	}
	if opts.HostMode && !opts.Plan {
		// Before the first change: every change is journaled ahead.
		dir := opts.JournalDir
		if opts.FreshHost {
			dir = "" // not the machine's host: journal in memory only
		}
		jr, err := hostjournal.Open(dir, opts.Keep)
		if err != nil {
			host.close()
			return nil, err
		}
		l.jr = jr
	}
	l.Host = host
	l.byName[HostName] = host
	l.order = append(l.order, host)
	return l, nil
}

// Planning reports whether the lab only records steps.
func (l *Lab) Planning() bool { return l.opts.Plan }

// SetPos sets the script position recorded with the following steps.
func (l *Lab) SetPos(pos string) { l.pos = pos }

// Pos returns the position set by SetPos.
func (l *Lab) Pos() string { return l.pos }

// Steps returns the steps applied so far, in order.
func (l *Lab) Steps() []Step { return append([]Step(nil), l.steps...) }

// Namespaces returns the lab's namespaces, host first, in creation order.
func (l *Lab) Namespaces() []*Netns { return append([]*Netns(nil), l.order...) }

// Lookup returns the namespace called name, or nil.
func (l *Lab) Lookup(name string) *Netns { return l.byName[name] }

// apply records a step, runs fn (unless planning) and logs the step.
func (l *Lab) apply(s Step, fn func() error) error {
	if s.Pos == "" {
		s.Pos = l.pos
	}
	if !l.opts.Plan && fn != nil {
		if err := fn(); err != nil {
			return err
		}
		l.neigh.gen++ // the topology changed: neigh.go recomputes its view
	}
	l.steps = append(l.steps, s)
	if l.opts.Log != nil {
		l.opts.Log(s)
	}
	return nil
}

// onUndo registers an action that reverses a change made on the real host.
func (l *Lab) onUndo(desc string, fn func() error) {
	if l.jr != nil {
		l.jr.OnUndo(desc, fn)
	}
}

// Journal returns descriptions of the pending undo actions, newest first.
func (l *Lab) Journal() []string {
	if l.jr == nil {
		return nil
	}
	return l.jr.Pending()
}

// countObject enforces the object cap.
func (l *Lab) countObject(n int) error {
	if l.objects+n > l.opts.MaxObjects {
		return fmt.Errorf("lab object limit of %d reached (namespaces plus links; raise it with --max-objects)", l.opts.MaxObjects)
	}
	l.objects += n
	return nil
}

// Close releases every handle, socket and namespace reference of the lab. In
// host mode it first undoes every journaled change, newest first, unless the
// lab was created with Keep. In a sandbox, the kernel reclaims what is left
// when the process exits, so Close need not wait for it.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	l.stopCaptures()
	var errs []error
	if l.jr != nil {
		if err := l.jr.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, n := range l.order {
		n.close()
	}
	return errors.Join(errs...)
}

// WriteSteps writes the steps as a shell script (used by explain).
func (l *Lab) WriteSteps(w io.Writer) error {
	var b strings.Builder
	for _, s := range l.steps {
		if len(s.Cmds) == 0 {
			continue
		}
		fmt.Fprintf(&b, "# %s: %s\n", s.Pos, s.Desc)
		for _, c := range s.Cmds {
			b.WriteString(c)
			b.WriteByte('\n')
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ipn returns the iproute2 prefix for running in namespace n.
func ipn(n *Netns) string {
	if n == nil || n.Name == HostName {
		return "ip"
	}
	if n.shellNet != "" {
		return "nsenter --net=" + n.shellNet + " ip"
	}
	return "ip -n " + shellQuote(n.Name)
}

// inNS wraps a shell command so it runs in namespace n.
func inNS(n *Netns, cmd string) string {
	if n == nil || n.Name == HostName {
		return cmd
	}
	if n.shellNet != "" {
		return "nsenter --net=" + n.shellNet + " " + cmd
	}
	return "ip netns exec " + shellQuote(n.Name) + " " + cmd
}

// shellQuote quotes s for a shell command line (proc.Quote).
func shellQuote(s string) string { return proc.Quote(s) }

// sortedNames returns the map's keys in order (for deterministic output).
func sortedNames[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// newHandle opens a netlink route socket inside the namespace behind fd.
func newHandle(fd int) (*netlink.Handle, error) {
	return nsutil.NewHandle(fd, unix.NETLINK_ROUTE)
}
