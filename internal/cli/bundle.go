package cli

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/nsscript/nsscript/builtins"
	"github.com/nsscript/nsscript/internal/lab"
)

// Caps for runs with many failures (a loop of probes into a broken
// network): the terminal gets the first few explanations, the files more.
const (
	maxPrinted = 10
	maxWritten = 100
)

// bundler explains failed expectations: after each FAIL line it prints, for
// the namespaces involved (the probe's source, the namespace that owns the
// first gateway on its route, and the one that owns the destination
// address), the route the kernel would take, the links with their state and
// addresses, the routes, the neighbours, forwarding and the nftables rules.
// With --bundle DIR it also writes them to DIR: one file per namespace (a
// section per failure) and summary.txt. Everything is read through the
// namespaces' netlink handles (bundle_read.go); no program is run.
type bundler struct {
	l      *lab.Lab
	out    io.Writer // where the FAIL lines go
	errw   io.Writer
	dir    string
	mu     sync.Mutex
	n      int
	warned bool
	saved  map[*lab.Capture]bool // captures named in summary.txt (bundle_capture.go)
}

// setupRun sets the run's colour and failure hooks for a run of lab l
// (called by execScript and repl).
func setupRun(r *builtins.Run, env *Env, l *lab.Lab, bundleDir string) {
	r.Color = detectTerm(env).color
	b := &bundler{l: l, out: env.Stdout, errw: env.Stderr, dir: bundleDir}
	r.OnFail = b.onFail
}

// onFail is builtins.Run.OnFail: it runs in script order, right after the
// FAIL line was written.
func (b *bundler) onFail(e *builtins.Expectation) {
	if e.Src == nil || b.l.Planning() {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n++
	printIt := b.n <= maxPrinted
	writeIt := b.dir != "" && b.n <= maxWritten
	if b.n == maxPrinted+1 {
		note := "; --bundle DIR writes them"
		if b.dir != "" {
			note = "; see " + b.dir
		}
		fmt.Fprintf(b.out, "     (later failures are not explained here%s)\n", note)
	}
	if b.dir != "" && b.n == maxWritten+1 {
		appendFile(filepath.Join(b.dir, "summary.txt"), fmt.Sprintf("(failures after the first %d are not written)\n", maxWritten))
	}
	if !printIt && !writeIt {
		return
	}
	src := &snapshot{"source", e.Src.SnapshotFrom(e.Dst, e.From)}
	snaps := []*snapshot{src}
	seen := map[*lab.Netns]bool{e.Src: true}
	// The first hop, when the source routes through a gateway the lab
	// owns: a router or a NAT box is where most lessons go wrong.
	if gw := ownerOf(b.l, src.Gateway); gw != nil && !seen[gw] {
		seen[gw] = true
		snaps = append(snaps, &snapshot{"gateway", gw.Snapshot(e.Dst)})
	}
	// The bridge in another namespace that the probe crosses to reach an
	// on-link destination: what it passes depends on that namespace's
	// settings and rules too.
	if br := bridgeOf(e.Src, src.Dev); br != nil && !src.Gateway.IsValid() && !seen[br.NS()] {
		seen[br.NS()] = true
		snaps = append(snaps, &snapshot{"bridge " + br.Name(), br.NS().Snapshot(netip.Addr{})})
	}
	if d := ownerOf(b.l, e.Dst); d != nil && !seen[d] {
		snaps = append(snaps, &snapshot{"destination", d.Snapshot(netip.Addr{})})
	}
	if printIt {
		for _, s := range snaps {
			s.writeCompact(b.out, "     ")
		}
	}
	if writeIt {
		err := b.write(e, snaps)
		if err == nil {
			err = b.writeCaptures()
		}
		if err != nil && !b.warned {
			b.warned = true
			fmt.Fprintf(b.errw, "nsscript: --bundle: %v\n", err)
		}
	}
}

// write appends the failure to DIR/summary.txt and the snapshots to one
// file per namespace.
func (b *bundler) write(e *builtins.Expectation, snaps []*snapshot) error {
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return err
	}
	head := fmt.Sprintf("FAIL %s: %s: %s: %s", e.Pos, e.Builtin, e.What, e.Detail)
	var files []string
	for _, s := range snaps {
		name := fileName(s.Name) + ".txt"
		files = append(files, name)
		var sb strings.Builder
		fmt.Fprintf(&sb, "== failure %d: %s\n", b.n, head)
		s.writeFull(&sb)
		sb.WriteString("\n")
		if err := appendFile(filepath.Join(b.dir, name), sb.String()); err != nil {
			return err
		}
	}
	return appendFile(filepath.Join(b.dir, "summary.txt"),
		fmt.Sprintf("%d. %s\n   see %s\n", b.n, head, strings.Join(files, ", ")))
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// fileName makes a namespace name safe as a file name.
func fileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r < ' ' {
			return '_'
		}
		return r
	}, s)
}

// bridgeOf returns the bridge that n's link dev is plugged into through a
// veth pair (its peer is the bridge's port), or nil.
func bridgeOf(n *lab.Netns, dev string) *lab.Link {
	lk := n.Link(dev)
	if lk == nil || lk.Peer() == nil {
		return nil
	}
	if br := lk.Peer().Master(); br != nil && br.Kind() == "bridge" {
		return br
	}
	return nil
}

// snapshot is a namespace as a failed expectation found it, with the part
// it plays in the probe ("source", "gateway", "bridge br0", "destination").
type snapshot struct {
	role string
	*lab.Snapshot
}

// ownerOf returns the lab namespace that holds address a, or nil.
func ownerOf(l *lab.Lab, a netip.Addr) *lab.Netns {
	if !a.IsValid() {
		return nil
	}
	for _, n := range l.Namespaces() {
		for _, p := range n.Addrs() {
			if p.Addr() == a {
				return n
			}
		}
	}
	return nil
}

// writeCompact writes the snapshot in a few indented lines, for the
// terminal: the route lookup, one line per link (as ip -br addr; lo only
// when it is down), the routes, the neighbours, forwarding and the rules.
func (s *snapshot) writeCompact(w io.Writer, indent string) {
	fmt.Fprintf(w, "%s%s (%s):\n", indent, s.Name, s.role)
	in := indent + "  "
	if s.Lookup != "" {
		fmt.Fprintf(w, "%s%s\n", in, s.Lookup)
	}
	width := 0
	for _, l := range s.Links {
		if l.Name != "lo" {
			width = max(width, len(l.Name))
		}
	}
	for _, l := range s.Links {
		if l.Name == "lo" && l.State != "DOWN" {
			continue // as every namespace has it; the files show it
		}
		extra := ""
		if l.Master != "" {
			extra += " master " + l.Master
		}
		if l.Peer != "" {
			extra += " peer " + l.Peer
		}
		addrs := strings.Join(l.Addrs, " ")
		if addrs == "" {
			addrs = "-"
		}
		fmt.Fprintf(w, "%slink %-*s %-8s %s%s\n", in, width, l.Name, l.State, addrs, extra)
	}
	fmt.Fprintf(w, "%sroutes: %s\n", in, orDash(s.Routes))
	if len(s.Neigh) > 0 {
		fmt.Fprintf(w, "%sneighbours: %s\n", in, strings.Join(s.Neigh, "; "))
	}
	for _, kv := range s.KeySysctls { // forwarding; the files have the rest
		fmt.Fprintf(w, "%s%s\n", in, kv)
	}
	for _, r := range s.Nft {
		fmt.Fprintf(w, "%snft: %s\n", in, r)
	}
	for _, e := range s.Errs {
		fmt.Fprintf(w, "%s(could not read %s)\n", in, e)
	}
}

// writeFull writes the snapshot with every detail, for --bundle files.
func (s *snapshot) writeFull(w io.Writer) {
	fmt.Fprintf(w, "namespace %s (%s of the probe)\n", s.Name, s.role)
	if s.Lookup != "" {
		fmt.Fprintf(w, "\n%s\n", s.Lookup)
	}
	fmt.Fprintf(w, "\nlinks:\n")
	for _, l := range s.Links {
		fmt.Fprintf(w, "  %s: %s state %s mtu %d", l.Name, l.Kind, l.State, l.MTU)
		if l.MAC != "" {
			fmt.Fprintf(w, " mac %s", l.MAC)
		}
		if l.Master != "" {
			fmt.Fprintf(w, " master %s", l.Master)
		}
		if l.Peer != "" {
			fmt.Fprintf(w, " peer %s", l.Peer)
		}
		fmt.Fprintf(w, "%s\n", dropText(l))
		for _, a := range l.Addrs {
			word := "inet"
			if strings.Contains(a, ":") {
				word = "inet6"
			}
			fmt.Fprintf(w, "    %s %s\n", word, a)
		}
	}
	section := func(title string, lines []string) {
		fmt.Fprintf(w, "\n%s:\n", title)
		if len(lines) == 0 {
			fmt.Fprintln(w, "  (none)")
		}
		for _, l := range lines {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	section("routes", s.Routes)
	section("neighbours", s.Neigh)
	section("sysctls", s.Sysctls)
	section("nftables", s.Nft)
	if len(s.Errs) > 0 {
		section("could not read", s.Errs)
	}
}

// dropText words a link's dropped packets (" dropped rx 0 tx 2"), or ""
// when it dropped none: a lost probe often shows as one of these. Only the
// --bundle files show them: many links drop a packet or two as they come up
// or go down, which would crowd the terminal.
func dropText(l lab.LinkSnapshot) string {
	if l.RxDropped == 0 && l.TxDropped == 0 {
		return ""
	}
	return fmt.Sprintf(" dropped rx %d tx %d", l.RxDropped, l.TxDropped)
}

func orDash(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, "; ")
}
