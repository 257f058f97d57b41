package cli

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/builtins"
	"github.com/nsscript/nsscript/internal/lab"
)

// bundler explains failed expectations: after each FAIL line it prints, for
// the namespaces involved (the probe's source and, when a lab namespace
// owns the destination address, that one), the route the kernel would take,
// the links with their state and addresses, the routes, the neighbours and
// the nftables rules. With --bundle DIR it also writes them to DIR: one file
// per namespace (a section per failure) and summary.txt. Everything is read
// through the namespaces' netlink handles; no program is run.
type bundler struct {
	l      *lab.Lab
	out    io.Writer // where the FAIL lines go
	errw   io.Writer
	dir    string
	mu     sync.Mutex
	n      int
	warned bool
}

// setupRun sets the run's colour and failure hooks for a run of lab l
// (called by execScript, repl and check).
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
	src := takeSnapshot(e.Src, "source", e.Dst)
	snaps := []*snapshot{src}
	seen := map[*lab.Netns]bool{e.Src: true}
	// The first hop, when the source routes through a gateway the lab
	// owns: a router or a NAT box is where most lessons go wrong.
	if gw := ownerOf(b.l, src.gateway); gw != nil && !seen[gw] {
		seen[gw] = true
		snaps = append(snaps, takeSnapshot(gw, "gateway", e.Dst))
	}
	if d := ownerOf(b.l, e.Dst); d != nil && !seen[d] {
		snaps = append(snaps, takeSnapshot(d, "destination", netip.Addr{}))
	}
	for _, s := range snaps {
		s.writeCompact(b.out, "     ")
	}
	if b.dir != "" {
		if err := b.write(e, snaps); err != nil && !b.warned {
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
		name := fileName(s.name) + ".txt"
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

// snapshot is what a namespace looked like when an expectation failed.
type snapshot struct {
	name, role string
	dst        netip.Addr
	lookup     string     // the route the kernel picks for dst
	gateway    netip.Addr // its gateway, if any
	links      []linkInfo
	routes     []string
	neigh      []string
	sysctls    []string
	nft        []string
	errs       []string
}

type linkInfo struct {
	name, kind, state, mac, master, peer string
	mtu                                  int
	addrs                                []string
}

// takeSnapshot reads namespace n through its netlink handle. dst, when
// valid, is looked up in its routing table.
func takeSnapshot(n *lab.Netns, role string, dst netip.Addr) *snapshot {
	s := &snapshot{name: n.Name, role: role, dst: dst}
	h := n.Handle()
	if h == nil {
		s.errs = append(s.errs, "no netlink handle")
		return s
	}
	links, err := h.LinkList()
	if err != nil {
		s.errs = append(s.errs, "links: "+err.Error())
	}
	names := map[int]string{}
	for _, nl := range links {
		names[nl.Attrs().Index] = nl.Attrs().Name
	}
	for _, nl := range links {
		s.links = append(s.links, readLink(h, n, nl, names))
	}
	if dst.IsValid() {
		s.lookup, s.gateway = lookupRoute(h, dst, names)
	}
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes, err := h.RouteList(nil, fam)
		if err != nil {
			s.errs = append(s.errs, "routes: "+err.Error())
		}
		for _, r := range routes {
			if fam == netlink.FAMILY_V6 && r.Dst != nil && r.Dst.IP.IsLinkLocalUnicast() {
				continue // fe80::/64 on every IPv6 link
			}
			s.routes = append(s.routes, routeText(r, names))
		}
		neighs, err := h.NeighList(0, fam)
		if err != nil {
			s.errs = append(s.errs, "neighbours: "+err.Error())
		}
		for _, nb := range neighs {
			if nb.State&netlink.NUD_NOARP != 0 || nb.IP.IsMulticast() {
				continue
			}
			s.neigh = append(s.neigh, neighText(nb, names))
		}
	}
	sort.Strings(s.neigh)
	for _, key := range []string{"net.ipv4.ip_forward", "net.ipv4.conf.all.rp_filter"} {
		if v, err := n.ReadSysctl(key); err == nil {
			s.sysctls = append(s.sysctls, key+"="+strings.TrimSpace(v))
		}
	}
	nft, err := nftRules(n)
	if err != nil {
		s.errs = append(s.errs, "nftables: "+err.Error())
	}
	s.nft = nft
	return s
}

func readLink(h *netlink.Handle, n *lab.Netns, nl netlink.Link, names map[int]string) linkInfo {
	a := nl.Attrs()
	li := linkInfo{name: a.Name, kind: nl.Type(), mtu: a.MTU, mac: a.HardwareAddr.String()}
	switch {
	case a.Flags&net.FlagUp == 0:
		li.state = "DOWN"
	case a.OperState == netlink.OperUp:
		li.state = "UP"
	case a.OperState == netlink.OperUnknown:
		li.state = "UNKNOWN"
	default:
		li.state = strings.ToUpper(a.OperState.String())
	}
	if a.MasterIndex != 0 {
		li.master = names[a.MasterIndex]
		if li.master == "" {
			li.master = fmt.Sprintf("if%d", a.MasterIndex)
		}
	}
	if lk := n.Link(a.Name); lk != nil && lk.Peer() != nil {
		li.peer = lk.Peer().String()
	}
	addrs, err := h.AddrList(nl, netlink.FAMILY_ALL)
	if err == nil {
		for _, ad := range addrs {
			if ad.IP.IsLinkLocalUnicast() && ad.IP.To4() == nil {
				continue
			}
			li.addrs = append(li.addrs, ad.IPNet.String())
		}
	}
	return li
}

// lookupRoute asks the kernel which route it would take to dst and
// returns it as text, with its gateway.
func lookupRoute(h *netlink.Handle, dst netip.Addr, names map[int]string) (string, netip.Addr) {
	rs, err := h.RouteGet(dst.AsSlice())
	if err != nil {
		var errno unix.Errno
		if errors.As(err, &errno) {
			return fmt.Sprintf("route to %s: none (%s)", dst, errno.Error()), netip.Addr{}
		}
		return fmt.Sprintf("route to %s: %v", dst, err), netip.Addr{}
	}
	if len(rs) == 0 {
		return fmt.Sprintf("route to %s: none", dst), netip.Addr{}
	}
	r := rs[0]
	gw, _ := netip.AddrFromSlice(r.Gw)
	var w []string
	if r.Type == unix.RTN_LOCAL {
		w = append(w, "local")
	}
	if r.Gw != nil {
		w = append(w, "via "+r.Gw.String())
	}
	if r.LinkIndex != 0 {
		w = append(w, "dev "+names[r.LinkIndex])
	}
	if r.Src != nil {
		w = append(w, "src "+r.Src.String())
	}
	return fmt.Sprintf("route to %s: %s", dst, strings.Join(w, " ")), gw.Unmap()
}

// routeText writes a route as ip route does.
func routeText(r netlink.Route, names map[int]string) string {
	var w []string
	switch {
	case r.Type == unix.RTN_UNREACHABLE:
		w = append(w, "unreachable")
	case r.Type == unix.RTN_BLACKHOLE:
		w = append(w, "blackhole")
	case r.Type == unix.RTN_PROHIBIT:
		w = append(w, "prohibit")
	}
	if r.Dst == nil || r.Dst.IP.IsUnspecified() && isZeroMask(r.Dst.Mask) {
		w = append(w, "default")
	} else {
		w = append(w, r.Dst.String())
	}
	if r.Gw != nil {
		w = append(w, "via", r.Gw.String())
	}
	for _, nh := range r.MultiPath {
		w = append(w, "nexthop via", nh.Gw.String(), "dev", names[nh.LinkIndex])
	}
	if r.LinkIndex != 0 {
		w = append(w, "dev", names[r.LinkIndex])
	}
	if r.Src != nil {
		w = append(w, "src", r.Src.String())
	}
	if r.Priority != 0 {
		w = append(w, "metric", fmt.Sprint(r.Priority))
	}
	if r.Flags&unix.RTNH_F_LINKDOWN != 0 {
		w = append(w, "linkdown")
	}
	return strings.Join(w, " ")
}

func isZeroMask(m net.IPMask) bool {
	ones, _ := m.Size()
	return ones == 0
}

var nudNames = []struct {
	bit  int
	name string
}{
	{netlink.NUD_PERMANENT, "PERMANENT"}, {netlink.NUD_REACHABLE, "REACHABLE"}, {netlink.NUD_STALE, "STALE"},
	{netlink.NUD_DELAY, "DELAY"}, {netlink.NUD_PROBE, "PROBE"}, {netlink.NUD_FAILED, "FAILED"},
	{netlink.NUD_INCOMPLETE, "INCOMPLETE"},
}

// neighText writes a neighbour entry as ip neigh does.
func neighText(nb netlink.Neigh, names map[int]string) string {
	state := "NONE"
	for _, n := range nudNames {
		if nb.State&n.bit != 0 {
			state = n.name
			break
		}
	}
	s := fmt.Sprintf("%s dev %s", nb.IP, names[nb.LinkIndex])
	if len(nb.HardwareAddr) > 0 {
		s += " lladdr " + nb.HardwareAddr.String()
	}
	return s + " " + state
}

// writeCompact writes the snapshot in a few indented lines, for the
// terminal: the route lookup, one line per link (as ip -br addr), the
// routes, the neighbours and the rules.
func (s *snapshot) writeCompact(w io.Writer, indent string) {
	fmt.Fprintf(w, "%s%s (%s):\n", indent, s.name, s.role)
	in := indent + "  "
	if s.lookup != "" {
		fmt.Fprintf(w, "%s%s\n", in, s.lookup)
	}
	width := 0
	for _, l := range s.links {
		width = max(width, len(l.name))
	}
	for _, l := range s.links {
		extra := ""
		if l.master != "" {
			extra += " master " + l.master
		}
		if l.peer != "" {
			extra += " peer " + l.peer
		}
		addrs := strings.Join(l.addrs, " ")
		if addrs == "" {
			addrs = "-"
		}
		fmt.Fprintf(w, "%slink %-*s %-8s %s%s\n", in, width, l.name, l.state, addrs, extra)
	}
	fmt.Fprintf(w, "%sroutes: %s\n", in, orDash(s.routes))
	if len(s.neigh) > 0 {
		fmt.Fprintf(w, "%sneighbours: %s\n", in, strings.Join(s.neigh, "; "))
	}
	if len(s.sysctls) > 0 {
		fmt.Fprintf(w, "%s%s\n", in, s.sysctls[0]) // forwarding; the files have the rest
	}
	for _, r := range s.nft {
		fmt.Fprintf(w, "%snft: %s\n", in, r)
	}
	for _, e := range s.errs {
		fmt.Fprintf(w, "%s(could not read %s)\n", in, e)
	}
}

// writeFull writes the snapshot with every detail, for --bundle files.
func (s *snapshot) writeFull(w io.Writer) {
	fmt.Fprintf(w, "namespace %s (%s of the probe)\n", s.name, s.role)
	if s.lookup != "" {
		fmt.Fprintf(w, "\n%s\n", s.lookup)
	}
	fmt.Fprintf(w, "\nlinks:\n")
	for _, l := range s.links {
		fmt.Fprintf(w, "  %s: %s state %s mtu %d", l.name, l.kind, l.state, l.mtu)
		if l.mac != "" {
			fmt.Fprintf(w, " mac %s", l.mac)
		}
		if l.master != "" {
			fmt.Fprintf(w, " master %s", l.master)
		}
		if l.peer != "" {
			fmt.Fprintf(w, " peer %s", l.peer)
		}
		fmt.Fprintln(w)
		for _, a := range l.addrs {
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
	section("routes", s.routes)
	section("neighbours", s.neigh)
	section("sysctls", s.sysctls)
	section("nftables", s.nft)
	if len(s.errs) > 0 {
		section("could not read", s.errs)
	}
}

func orDash(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, "; ")
}

// nftRules lists a namespace's nftables rules for the bundle: per chain
// the kernel's rule count, then the text of each rule the lab added (from
// its recorded steps, with the script position). It is a variable so that
// a lab function that renders rules from the kernel can take its place.
var nftRules = func(n *lab.Netns) ([]string, error) {
	c, err := nftables.New(nftables.WithNetNSFd(n.FD()))
	if err != nil {
		return nil, err
	}
	chains, err := c.ListChains()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, ch := range chains {
		rules, err := c.GetRules(ch.Table, ch)
		if err != nil {
			return out, err
		}
		hook := ""
		if h, ok := hookNames[hookNum(ch.Hooknum)]; ok {
			hook = " (" + h + " hook)"
		}
		out = append(out, fmt.Sprintf("table %s %s chain %s%s: %d rule%s", familyName(ch.Table.Family), ch.Table.Name, ch.Name, hook, len(rules), plural(len(rules))))
	}
	for _, s := range n.Lab().Steps() {
		if s.NS != n.Name || s.Op != "nft rule" {
			continue
		}
		for _, c := range s.Cmds {
			if _, rule, ok := strings.Cut(c, "add rule "); ok {
				out = append(out, fmt.Sprintf("rule %s  (%s)", strings.TrimRight(rule, "'"), s.Pos))
			}
		}
	}
	return out, nil
}

var hookNames = map[uint32]string{0: "prerouting", 1: "input", 2: "forward", 3: "output", 4: "postrouting"}

func hookNum(h *nftables.ChainHook) uint32 {
	if h == nil {
		return 99
	}
	return uint32(*h)
}

func familyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyINet:
		return "inet"
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyARP:
		return "arp"
	case nftables.TableFamilyBridge:
		return "bridge"
	case nftables.TableFamilyNetdev:
		return "netdev"
	}
	return fmt.Sprint(uint8(f))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
