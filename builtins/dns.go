package builtins

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"github.com/nsscript/nsscript/internal/lab"
)

// DNS lookups from a namespace (lab.Resolve): resolve() returns the
// addresses, expect_resolves() checks them.

// dnsServerArg unpacks a DNS server: an address, "IP:PORT", a netns or a
// link (its first address), on port 53 unless given.
type dnsServerArg struct {
	ap  netip.AddrPort
	set bool
}

// Unpack implements starlark.Unpacker.
func (a *dnsServerArg) Unpack(v starlark.Value) error {
	if s, ok := v.(starlark.String); ok {
		if ap, ok := parseIPPort(string(s)); ok {
			if ap.Port() == 0 {
				return fmt.Errorf("invalid server %q: port 0", string(s))
			}
			a.ap, a.set = ap, true
			return nil
		}
	}
	var d dstArg
	if err := d.Unpack(v); err != nil {
		return err
	}
	a.ap, a.set = netip.AddrPortFrom(d.addr, lab.DNSPort), true
	return nil
}

// server returns the server to ask from ns: the one given, else the first
// DNS server of ns's latest DHCP lease.
func (a dnsServerArg) server(r *Run, ns *lab.Netns) (netip.AddrPort, error) {
	if a.set {
		return a.ap, nil
	}
	leases := r.Lab.Leases(ns)
	for i := len(leases) - 1; i >= 0; i-- {
		if len(leases[i].DNS) > 0 {
			return netip.AddrPortFrom(leases[i].DNS[0], lab.DNSPort), nil
		}
	}
	return netip.AddrPort{}, fmt.Errorf("no server: give server= (no DHCP lease of %s named a DNS server)", ns.Name)
}

// dnsNameArg unpacks a name to look up.
type dnsNameArg struct{ name string }

// Unpack implements starlark.Unpacker.
func (a *dnsNameArg) Unpack(v starlark.Value) error {
	s, ok := v.(starlark.String)
	if !ok {
		return fmt.Errorf("got %s, want name string", v.Type())
	}
	if err := lab.CheckDNSName(string(s)); err != nil {
		return err
	}
	a.name = string(s)
	return nil
}

// fnResolve implements resolve(ns, name, server=None, timeout="2s").
func fnResolve(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		ns      = nsArg{run: r}
		name    dnsNameArg
		srv     dnsServerArg
		timeout = durationArg{2 * time.Second}
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "ns", &ns, "name", &name, "server??", &srv, "timeout?", &timeout); err != nil {
		return nil, err
	}
	server, err := srv.server(r, ns.ns)
	if err != nil {
		return nil, err
	}
	r.Lab.Note(lab.Step{NS: ns.ns.Name, Op: "resolve", Desc: fmt.Sprintf("look up %s at %s from %s", name.name, server, ns.ns.Name),
		Cmds: []string{lab.DigCmd(ns.ns, server, name.name)}})
	if r.Lab.Planning() {
		return starlark.NewList(nil), nil
	}
	ans, err := lab.Resolve(r.Ctx, ns.ns, server, name.name, timeout.d)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name.name, err)
	}
	vs := make([]starlark.Value, len(ans.Addrs))
	for i, a := range ans.Addrs {
		vs[i] = starlark.String(a.String())
	}
	return starlark.NewList(vs), nil
}

// fnExpectResolves implements expect_resolves(ns, name, addr=None,
// server=None, within=None).
func fnExpectResolves(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		ns     = nsArg{run: r}
		name   dnsNameArg
		want   dstArg
		srv    dnsServerArg
		within durationArg
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "ns", &ns, "name", &name, "addr??", &want, "server??", &srv, "within??", &within); err != nil {
		return nil, err
	}
	server, err := srv.server(r, ns.ns)
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("%s: %s at %s", ns.ns.Name, name.name, server)
	cmd := lab.DigCmd(ns.ns, server, name.name) + " | grep -q ."
	if want.addr.IsValid() {
		what += " -> " + want.label
		cmd = lab.DigCmd(ns.ns, server, name.name) + " | grep -qx " + lab.ShellJoin([]string{want.addr.String()})
	}
	queueExpect(r, t, b, ns.ns, server.Addr(), what, []string{cmd}, func(e *Expectation) {
		o, _ := poll(r, within.d, func() (bool, string, error) {
			ans, err := lab.Resolve(r.Ctx, ns.ns, server, name.name, time.Second)
			if err != nil {
				return false, err.Error(), nil
			}
			switch {
			case !ans.Found():
				return false, ans.String(), nil
			case want.addr.IsValid() && !slices.Contains(ans.Addrs, want.addr):
				return false, ans.String() + ", want " + want.addr.String(), nil
			}
			return true, ans.String(), nil
		})
		o.settle(e)
		if !o.ok {
			e.Output = dnsServerLog(r.Lab, ns.ns, server, name.name)
		}
	})
	return starlark.None, nil
}

// dnsServerLog is what the lab's dnsmasq that server is, seen from ns,
// logged about name (its last lines when it logged nothing about it), for a
// failed expectation: "dnsmasq in srv: LINE" lines. Other lookups run at
// the same time, so its last lines alone may be about other names.
func dnsServerLog(l *lab.Lab, ns *lab.Netns, server netip.AddrPort, name string) string {
	var b strings.Builder
	name = strings.TrimSuffix(name, ".")
	for _, s := range l.DHCPServers() {
		d := s.Daemon
		if !slices.ContainsFunc(d.NS.Addrs(), func(p netip.Prefix) bool { return p.Addr() == server.Addr() }) &&
			!(d.NS == ns && server.Addr().IsLoopback()) {
			continue
		}
		var all, lines []string
		// dnsmasq logs its answer as it sends it: give nsscript's
		// reader of its output a moment to catch up with that line.
		for deadline := time.Now().Add(time.Second); ; time.Sleep(20 * time.Millisecond) {
			all, lines = strings.Split(strings.TrimSpace(d.Result().Stderr), "\n"), nil
			answered := false
			for _, ln := range all {
				if strings.Contains(ln+" ", " "+name+" ") {
					lines = append(lines, ln)
					answered = answered || !strings.Contains(ln, "query[")
				}
			}
			if answered || time.Now().After(deadline) {
				break
			}
		}
		if len(lines) == 0 {
			lines = all
		}
		if len(lines) > logTailServer {
			lines = lines[len(lines)-logTailServer:]
		}
		for _, ln := range lines {
			fmt.Fprintf(&b, "%s in %s: %s\n", d.Name(), d.NS.Name, ln)
		}
	}
	return b.String()
}
