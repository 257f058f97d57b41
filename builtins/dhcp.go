package builtins

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/nsscript/nsscript/internal/lab"
)

// DHCP and DNS services in a lab: dnsmasq() runs Debian's dnsmasq as a
// daemon with private files, dhcp() asks for a lease with udhcpc and
// applies it through netlink.

const (
	dnsmasqDir  = "/run/dnsmasq"
	dnsmasqConf = dnsmasqDir + "/dnsmasq.conf"
)

// dhcpRangeArg unpacks dnsmasq's dhcp-range: "START,END" with an optional
// lease time ("START,END,1h").
type dhcpRangeArg struct {
	text       string
	start, end netip.Addr
}

// Unpack implements starlark.Unpacker.
func (a *dhcpRangeArg) Unpack(v starlark.Value) error {
	s, ok := v.(starlark.String)
	if !ok {
		return fmt.Errorf("got %s, want string \"START,END\"", v.Type())
	}
	f := strings.Split(string(s), ",")
	bad := fmt.Errorf("invalid range %q (want \"START,END\" or \"START,END,LEASE\" of IPv4 addresses, e.g. \"10.0.0.100,10.0.0.150,1h\")", string(s))
	if len(f) < 2 || len(f) > 3 {
		return bad
	}
	start, ok1 := parseIP(strings.TrimSpace(f[0]))
	end, ok2 := parseIP(strings.TrimSpace(f[1]))
	if !ok1 || !ok2 || !start.Is4() || !end.Is4() || end.Less(start) {
		return bad
	}
	a.text, a.start, a.end = string(s), start, end
	return nil
}

// hostsArg unpacks DNS names for dnsmasq: a dict of name to an address, a
// netns or a link (its first address).
type hostsArg struct{ records [][2]string }

// Unpack implements starlark.Unpacker.
func (a *hostsArg) Unpack(v starlark.Value) error {
	d, ok := v.(*starlark.Dict)
	if !ok {
		return fmt.Errorf("got %s, want dict of name: address", v.Type())
	}
	for _, kv := range d.Items() {
		name, ok := kv[0].(starlark.String)
		if !ok {
			return fmt.Errorf("got %s key, want name string", kv[0].Type())
		}
		if err := lab.CheckDNSName(string(name)); err != nil || strings.ContainsAny(string(name), ", \n") {
			return fmt.Errorf("invalid name %q", string(name))
		}
		var dst dstArg
		if err := dst.Unpack(kv[1]); err != nil {
			return fmt.Errorf("%s: %w", string(name), err)
		}
		a.records = append(a.records, [2]string{string(name), dst.addr.String()})
	}
	return nil
}

// dnsmasqConfText is dnsmasq's configuration: in the foreground's log on
// stderr, its own user (a rootless sandbox maps no other), no machine files
// (resolv.conf, /etc/hosts), every name local (an unknown one is NXDOMAIN),
// leases and pid file in its private directory, and no ping before an
// offer (a lab knows its addresses; the check costs seconds).
func dnsmasqConfText(iface string, rng dhcpRangeArg, hosts hostsArg, extra string) string {
	var b strings.Builder
	b.WriteString("user=\ngroup=\nlog-facility=-\nlog-queries\nno-resolv\nno-hosts\nlocal=/#/\n")
	b.WriteString("dhcp-leasefile=" + dnsmasqDir + "/dnsmasq.leases\npid-file=" + dnsmasqDir + "/dnsmasq.pid\n")
	if iface != "" {
		b.WriteString("interface=" + iface + "\n")
	}
	if rng.text != "" {
		b.WriteString("dhcp-range=" + rng.text + "\ndhcp-authoritative\nno-ping\n")
	}
	for _, h := range hosts.records {
		b.WriteString("host-record=" + h[0] + "," + h[1] + "\n")
	}
	if extra != "" {
		b.WriteString(strings.TrimSuffix(extra, "\n") + "\n")
	}
	return b.String()
}

// dnsmasqPortLine finds a port setting in extra configuration.
var dnsmasqPortLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?m)^\s*port\s*=\s*(\d+)\s*$`) })

// dnsmasqReady waits until dnsmasq has bound its DNS port (53, or the
// port its configuration sets; 0 turns DNS off) and, with a range, the DHCP
// port 67. It binds both before its main loop, and a datagram that comes
// earlier waits in the socket for it.
func dnsmasqReady(conf string, dhcp bool) lab.Ready {
	ports := []int{lab.DNSPort}
	if m := dnsmasqPortLine().FindAllStringSubmatch(conf, -1); m != nil {
		p, _ := strconv.Atoi(m[len(m)-1][1])
		ports = ports[:0]
		if p != 0 {
			ports = append(ports, p)
		}
	}
	if dhcp {
		ports = append(ports, 67)
	}
	desc := make([]string, len(ports))
	for i, p := range ports {
		desc[i] = strconv.Itoa(p)
	}
	return lab.Ready{
		Desc: "udp ports " + strings.Join(desc, " and ") + " bound",
		Check: func(_ context.Context, d *lab.Daemon) (bool, string) {
			missing, err := lab.UDPBound(d.Pid(), ports...)
			switch {
			case err != nil:
				return false, err.Error()
			case len(missing) > 0:
				return false, fmt.Sprintf("port %d not bound yet", missing[0])
			}
			return true, ""
		},
	}
}

// fnDnsmasq implements dnsmasq(ns, link=None, dhcp_range=None, hosts=None,
// conf=None, timeout="10s").
func fnDnsmasq(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		ns      = nsArg{run: r}
		link    starlark.Value
		rng     dhcpRangeArg
		hosts   hostsArg
		conf    string
		timeout = durationArg{10 * time.Second}
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "ns", &ns, "link??", &link, "dhcp_range??", &rng, "hosts??", &hosts,
		"conf??", &conf, "timeout?", &timeout); err != nil {
		return nil, err
	}
	iface, err := linkName(link, ns.ns, "link")
	if err != nil {
		return nil, err
	}
	if iface != "" {
		if _, err := ns.ns.FindLink(iface); err != nil {
			return nil, fmt.Errorf("for parameter link: %w", err)
		}
	}
	s := lab.DaemonSpec{
		Argv:  []string{"dnsmasq", "--keep-in-foreground", "--conf-file=" + dnsmasqConf},
		Dirs:  []string{dnsmasqDir},
		Files: map[string]string{dnsmasqConf: dnsmasqConfText(iface, rng, hosts, conf)},
		Ready: dnsmasqReady(conf, rng.text != ""),
	}
	d, err := startDaemon(r, t, ns.ns, s, timeout.d)
	if err != nil {
		return nil, err
	}
	r.Lab.AddDHCPServer(lab.DHCPServer{Daemon: d.d, Start: rng.start, End: rng.end})
	return d, nil
}

// fnDHCP implements dhcp(link, hostname=None, route=True, within="10s").
func fnDHCP(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		link     linkArg
		hostname starlark.Value
		route    = true
		within   = durationArg{10 * time.Second}
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "link", &link, "hostname??", &hostname, "route?", &route, "within?", &within); err != nil {
		return nil, err
	}
	o := lab.DHCPOptions{Hostname: link.lk.NS().Name, Route: route, Within: within.d}
	if hostname != nil && hostname != starlark.None {
		h, ok := hostname.(starlark.String)
		if !ok || lab.CheckDNSName(string(h)) != nil || strings.ContainsAny(string(h), ". ") {
			return nil, fmt.Errorf("for parameter hostname: want a host name such as \"c1\", got %s", hostname.String())
		}
		o.Hostname = string(h)
	}
	ls, err := r.Lab.DHCP(r.Ctx, link.lk, o)
	if err != nil {
		return nil, fmt.Errorf("%w%s", err, serverLogs(r.Lab))
	}
	return leaseValue(ls, o.Hostname), nil
}

// serverLogs is the last lines of every DHCP server of the lab, for an
// error: "; dnsmasq in srv: L1 | L2".
func serverLogs(l *lab.Lab) string {
	var b strings.Builder
	for _, s := range l.DHCPServers() {
		if !s.Start.IsValid() {
			continue // DNS only
		}
		fmt.Fprintf(&b, "; %s in %s: %s", s.Daemon.Name(), s.Daemon.NS.Name, strings.TrimPrefix(strings.TrimPrefix(s.Daemon.Tail(logTailServer), " "), "; "))
	}
	return b.String()
}

// logTailServer is how many of a server's lines a dhcp error shows.
const logTailServer = 6

// leaseValue is the Starlark value of a lease.
func leaseValue(ls *lab.Lease, hostname string) starlark.Value {
	opt := func(a netip.Addr) starlark.Value {
		if !a.IsValid() {
			return starlark.None
		}
		return starlark.String(a.String())
	}
	dns := make([]starlark.Value, len(ls.DNS))
	for i, a := range ls.DNS {
		dns[i] = starlark.String(a.String())
	}
	return starlarkstruct.FromStringDict(starlark.String("lease"), starlark.StringDict{
		"addr":       starlark.String(ls.Addr.Addr().String()),
		"prefix":     starlark.String(ls.Addr.String()),
		"router":     opt(ls.Router),
		"dns":        starlark.NewList(dns),
		"server":     opt(ls.Server),
		"domain":     starlark.String(ls.Domain),
		"lease_time": starlark.MakeInt64(ls.Time.Milliseconds()),
		"hostname":   starlark.String(hostname),
		"link":       linkValue(ls.Link),
		"ns":         NetnsValue(ls.Link.NS()),
	})
}
