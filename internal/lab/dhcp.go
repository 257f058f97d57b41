package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/proc"
)

// A DHCP client in a namespace: Debian's udhcpc (busybox's applet) asks
// for a lease; its event script is nsscript itself (dhcpHookEnv), which
// only reports the lease on udhcpc's standard output. nsscript then
// applies it through netlink, as the lab adds every address: nothing runs
// ip or ifconfig.

// dhcpHookEnv marks the copy of nsscript that udhcpc runs as its script.
const dhcpHookEnv = "NSSCRIPT_DHCP_EVENT"

// leaseMark starts the line in which the script reports an event.
const leaseMark = "nsscript-dhcp: "

// dhcpHookVars are the variables udhcpc passes to its script that a lease
// needs.
var dhcpHookVars = []string{"interface", "ip", "mask", "router", "dns", "lease", "serverid", "domain", "hostname"}

func init() {
	if os.Getenv(dhcpHookEnv) != "1" {
		return
	}
	// udhcpc runs its script with the event as the only argument and the
	// lease in the environment; the report goes to udhcpc's stdout, which
	// nsscript reads.
	ev := map[string]string{"event": ""}
	if len(os.Args) > 1 {
		ev["event"] = os.Args[1]
	}
	for _, k := range dhcpHookVars {
		if v, ok := os.LookupEnv(k); ok {
			ev[k] = v
		}
	}
	b, _ := json.Marshal(ev)
	fmt.Printf("%s%s\n", leaseMark, b)
	os.Exit(0)
}

// Lease is what a DHCP server gave a link.
type Lease struct {
	Link   *Link
	Addr   netip.Prefix // the address with the subnet's length
	Router netip.Addr   // invalid when the server named none
	DNS    []netip.Addr
	Server netip.Addr
	Domain string
	Time   time.Duration // lease time
	Pos    string
}

// DHCPOptions say how DHCP asks for a lease.
type DHCPOptions struct {
	Hostname string        // sent as option 12 (dnsmasq puts it into its DNS)
	Route    bool          // add a default route via the lease's router
	Within   time.Duration // how long to ask (one discover a second)
}

// dhcpState is what the lab knows about DHCP: the servers (for an
// explanation when no lease comes, and for planning) and the leases.
type dhcpState struct {
	servers []DHCPServer
	leases  []*Lease
	planned map[*Daemon]int // plan mode: addresses handed out per server
	asked   int             // leases asked for (numbering explain's variables)
	hook    bool            // explain's event script for udhcpc is written
}

// DHCPServer is a DHCP and DNS server the lab runs, and its range (Start
// invalid when it serves DNS only).
type DHCPServer struct {
	Daemon     *Daemon
	Start, End netip.Addr
}

// AddDHCPServer records a DHCP or DNS server: its log explains a client that
// got no lease or a failed lookup, and explain plans leases from its range.
func (l *Lab) AddDHCPServer(s DHCPServer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dhcp.servers = append(l.dhcp.servers, s)
}

// DHCPServers returns the servers recorded so far.
func (l *Lab) DHCPServers() []DHCPServer {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]DHCPServer(nil), l.dhcp.servers...)
}

// Leases returns the leases of n's links, oldest first.
func (l *Lab) Leases(n *Netns) []*Lease {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*Lease
	for _, ls := range l.dhcp.leases {
		if ls.Link.ns == n {
			out = append(out, ls)
		}
	}
	return out
}

// dhcpClient returns the argv that starts udhcpc: Debian's udhcpc package
// links /sbin/udhcpc to busybox, which has the applet in any case.
func dhcpClient() ([]string, error) {
	if p, err := exec.LookPath("udhcpc"); err == nil {
		return []string{p}, nil
	}
	if p, err := exec.LookPath("busybox"); err == nil {
		return []string{p, "udhcpc"}, nil
	}
	return nil, errors.New("no DHCP client: install udhcpc (Debian: apt-get install udhcpc) or busybox")
}

// dhcpArgs are udhcpc's arguments: in the foreground, quit once bound, fail
// when no lease comes after tries discovers a second apart.
func dhcpArgs(lk *Link, o DHCPOptions) []string {
	tries := int((o.Within + time.Second - 1) / time.Second)
	args := []string{"-f", "-q", "-n", "-i", lk.name, "-t", strconv.Itoa(max(tries, 1)), "-T", "1"}
	if o.Hostname != "" {
		args = append(args, "-x", "hostname:"+o.Hostname)
	}
	return args
}

// DHCP asks for a lease on lk with udhcpc and applies it: the address (and,
// with o.Route, a default route via the router, proto dhcp) through
// netlink. It returns once the lease is applied; no lease within o.Within
// is an error with udhcpc's last lines. In plan mode, the lease is the next
// address of the range of the first server recorded (explain cannot ask),
// a stand-in for the lease that explain's script reads into variables
// (leaseCmds).
func (l *Lab) DHCP(ctx context.Context, lk *Link, o DHCPOptions) (*Lease, error) {
	if err := lk.checkLive(); err != nil {
		return nil, err
	}
	n := lk.ns
	argv, err := dhcpClient()
	if err != nil && !l.opts.Plan {
		return nil, err
	}
	v := l.leaseVar()
	cmds := l.leaseCmds(lk, o, v)
	desc := fmt.Sprintf("ask for a DHCP lease on %s in %s with udhcpc, into $%s_ip, $%s_mask and $%s_router (its script only prints the lease)", lk.name, n.Name, v, v, v)
	var pr *proc.Process
	err = l.apply(Step{NS: n.Name, Op: "dhcp", Desc: desc, Cmds: cmds}, func() error {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		argv = append(append(argv, dhcpArgs(lk, o)...), "-s", self)
		pr, err = l.startIn(n, Program{Argv: argv, Env: []string{dhcpHookEnv + "=1"}})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("start udhcpc: %w", err)
	}
	var ls *Lease
	if l.opts.Plan {
		ls = l.planLease(lk)
	} else if ls, err = awaitLease(ctx, pr, lk, o.Within); err != nil {
		return nil, err
	}
	ls.Link, ls.Pos = lk, l.pos
	if err := l.applyLease(ls, o.Route, v); err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.dhcp.leases = append(l.dhcp.leases, ls)
	l.mu.Unlock()
	return ls, nil
}

// awaitLease waits for udhcpc to exit and reads the lease it reported.
func awaitLease(ctx context.Context, pr *proc.Process, lk *Link, within time.Duration) (*Lease, error) {
	// udhcpc gives up by itself after its tries; the margin covers its
	// start and a slow machine, and stops it should it hang.
	res, err := pr.Wait(ctx, within+5*time.Second)
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	ls, perr := parseLease(res.Stdout)
	if err == nil && perr == nil {
		return ls, nil
	}
	why := how(res)
	if err != nil {
		why = "stopped"
	}
	if perr != nil && res.Status == 0 {
		why = perr.Error()
	}
	return nil, fmt.Errorf("no lease for %s in %s within %s (udhcpc: %s)%s", lk.name, lk.ns.Name, within, why, clientTail(res))
}

// clientTail is udhcpc's last lines for an error, without the script's
// reports.
func clientTail(res ExecResult) string {
	var lines []string
	for _, s := range []string{res.Stderr, res.Stdout} {
		for _, ln := range strings.Split(s, "\n") {
			if ln = strings.TrimSpace(ln); ln != "" && !strings.HasPrefix(ln, leaseMark) {
				lines = append(lines, ln)
			}
		}
	}
	if len(lines) == 0 {
		return " (no output)"
	}
	if len(lines) > logTail {
		lines = lines[len(lines)-logTail:]
	}
	return "; last output: " + strings.Join(lines, " | ")
}

// parseLease reads the last "bound" report of the script from out.
func parseLease(out string) (*Lease, error) {
	var ev map[string]string
	for _, ln := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(ln, leaseMark); ok {
			var e map[string]string
			if json.Unmarshal([]byte(rest), &e) == nil && (e["event"] == "bound" || e["event"] == "renew") {
				ev = e
			}
		}
	}
	if ev == nil {
		return nil, errors.New("no lease reported")
	}
	ip, err := netip.ParseAddr(ev["ip"])
	if err != nil {
		return nil, fmt.Errorf("lease: address %q", ev["ip"])
	}
	bits, err := strconv.Atoi(ev["mask"])
	if err != nil || bits < 0 || bits > 32 {
		return nil, fmt.Errorf("lease: mask %q", ev["mask"])
	}
	ls := &Lease{Addr: netip.PrefixFrom(ip, bits), Domain: ev["domain"]}
	ls.Router, _ = netip.ParseAddr(strings.Fields(ev["router"] + " x")[0])
	ls.Server, _ = netip.ParseAddr(ev["serverid"])
	for _, d := range strings.Fields(ev["dns"]) {
		if a, err := netip.ParseAddr(d); err == nil {
			ls.DNS = append(ls.DNS, a)
		}
	}
	if s, err := strconv.Atoi(ev["lease"]); err == nil {
		ls.Time = time.Duration(s) * time.Second
	}
	return ls, nil
}

// planLease is a lease for explain: the next address of the first recorded
// server's range, with the length of the server's own address there, which
// is router and DNS server.
func (l *Lab) planLease(lk *Link) *Lease {
	l.mu.Lock()
	defer l.mu.Unlock()
	ls := &Lease{Addr: netip.PrefixFrom(netip.IPv4Unspecified(), 32)}
	for _, s := range l.dhcp.servers {
		if !s.Start.IsValid() {
			continue
		}
		if l.dhcp.planned == nil {
			l.dhcp.planned = map[*Daemon]int{}
		}
		a := s.Start
		for i := 0; i < l.dhcp.planned[s.Daemon] && a.Next().IsValid() && a != s.End; i++ {
			a = a.Next()
		}
		l.dhcp.planned[s.Daemon]++
		ls.Addr = netip.PrefixFrom(a, 32)
		for _, p := range s.Daemon.NS.Addrs() {
			if p.Contains(a) {
				// dnsmasq's defaults: itself as router and DNS server.
				ls.Addr = netip.PrefixFrom(a, p.Bits())
				ls.Router, ls.Server, ls.DNS = p.Addr(), p.Addr(), []netip.Addr{p.Addr()}
			}
		}
		break
	}
	return ls
}

// applyLease adds the lease's address to its link and, with route, the
// default route via its router (proto dhcp), as udhcpc's default script
// would. In explain's shell script, the lease is in the variables named
// after v (leaseVar): from the step that adds the address on, the shell
// refers to the leased address by them (Step.Vars).
func (l *Lab) applyLease(ls *Lease, route bool, v string) error {
	lk, n := ls.Link, ls.Link.ns
	desc := fmt.Sprintf("add the leased %s to %s in %s", ls.Addr, lk.name, n.Name)
	vars := []ShellVar{{ls.Addr.String(), "$" + v + "_ip/$" + v + "_mask"}, {ls.Addr.Addr().String(), "$" + v + "_ip"}}
	cmd := ipn(n) + " addr add " + ls.Addr.String() + " dev " + shellQuote(lk.name)
	if err := lk.addAddr(ls.Addr, Step{NS: n.Name, Op: "addr add", Desc: desc, Cmds: []string{cmd}, Vars: vars}); err != nil {
		return err
	}
	if !route || !ls.Router.IsValid() {
		return nil
	}
	desc = fmt.Sprintf("add the default route via the leased router %s in %s", ls.Router, n.Name)
	cmd = ipn(n) + " route add default via $" + v + "_router dev " + shellQuote(lk.name) + " proto dhcp"
	return l.apply(Step{NS: n.Name, Op: "route add", Desc: desc, Cmds: []string{cmd}}, func() error {
		idx, err := lk.Index()
		if err != nil {
			return err
		}
		rt := &netlink.Route{LinkIndex: idx, Gw: ls.Router.AsSlice(), Protocol: unix.RTPROT_DHCP, Family: netlink.FAMILY_V4}
		err = l.hostRoute(n, rt, func() error { return n.h.RouteAdd(rt) })
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("default route via %s: %s already has a default route (pass route=False)", ls.Router, n.Name)
		}
		return err
	})
}

// dhcpHookPath is explain's event script for udhcpc (see leaseCmds).
const dhcpHookPath = "/run/nsscript/udhcpc-lease"

// leaseVar names the shell variables of the next lease ("lease1": its
// address in $lease1_ip).
func (l *Lab) leaseVar() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dhcp.asked++
	return fmt.Sprintf("lease%d", l.dhcp.asked)
}

// leaseCmds are explain's commands for a lease: udhcpc with an event
// script (written before the first lease) that only prints the lease,
// which the shell reads into variables named after v; the steps that
// apply it follow, as in a run, where nsscript applies it.
func (l *Lab) leaseCmds(lk *Link, o DHCPOptions, v string) []string {
	var cmds []string
	l.mu.Lock()
	first := !l.dhcp.hook
	l.dhcp.hook = true
	l.mu.Unlock()
	if first {
		cmds = append(cmds, "mkdir -p "+filepath.Dir(dhcpHookPath),
			"cat >"+dhcpHookPath+" <<'EOF'\n#!/bin/sh\n"+
				"# udhcpc's event script: print the lease (address, prefix length, router); change nothing\n"+
				"case \"$1\" in bound|renew) echo \"$ip $mask ${router%% *}\" ;; esac\nEOF",
			"chmod +x "+dhcpHookPath)
	}
	udhcpc := append(append([]string{"udhcpc"}, dhcpArgs(lk, o)...), "-s", dhcpHookPath)
	return append(cmds, v+"=$("+inNS(lk.ns, ShellJoin(udhcpc))+")",
		"read -r "+v+"_ip "+v+"_mask "+v+"_router <<<\"$"+v+"\"")
}
