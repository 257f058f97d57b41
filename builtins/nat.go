package builtins

import (
	"fmt"
	"net/netip"
	"strings"

	"go.starlark.net/starlark"

	"github.com/nsscript/nsscript/internal/lab"
)

// netArg unpacks the network a rule matches: "10.100.0.0/16", an address
// (a host), or a netns or link, which stand for their first address. Host
// bits are dropped as iptables does ("10.100.0.1/16" is 10.100.0.0/16).
type netArg struct{ p netip.Prefix }

// Unpack implements starlark.Unpacker.
func (a *netArg) Unpack(v starlark.Value) error {
	switch v := v.(type) {
	case starlark.String:
		p, err := ParsePrefix(string(v))
		if err != nil {
			return fmt.Errorf("invalid network %q (want e.g. \"10.100.0.0/16\" or an address)", string(v))
		}
		a.p = p.Masked()
		return nil
	case *Netns, *Link:
		var d dstArg
		if err := d.Unpack(v); err != nil {
			return err
		}
		a.p = netip.PrefixFrom(d.addr, d.addr.BitLen())
		return nil
	}
	return fmt.Errorf("got %s, want network string such as \"10.100.0.0/16\", netns or link", v.Type())
}

// ifaceArg unpacks an interface a rule matches: a link value or a name.
type ifaceArg struct {
	name string
	lk   *lab.Link
}

// Unpack implements starlark.Unpacker.
func (a *ifaceArg) Unpack(v starlark.Value) error {
	switch v := v.(type) {
	case *Link:
		a.name, a.lk = v.lk.Name(), v.lk
		return v.lk.CheckLive()
	case starlark.String:
		if err := lab.CheckLinkName(string(v)); err != nil {
			return err
		}
		a.name = string(v)
		return nil
	}
	return fmt.Errorf("got %s, want link or interface name", v.Type())
}

// in returns the interface's name after checking that a link value lives in
// ns, the namespace of the rule.
func (a *ifaceArg) in(ns *lab.Netns, param string) (string, error) {
	if a.lk != nil && a.lk.NS() != ns {
		return "", fmt.Errorf("for parameter %q: link %s is in netns %q, not %q", param, a.name, a.lk.NS().Name, ns.Name)
	}
	return a.name, nil
}

// portArg unpacks a port number, 1 to 65535.
type portArg struct{ n uint16 }

// Unpack implements starlark.Unpacker.
func (a *portArg) Unpack(v starlark.Value) error {
	p := intIn("port", 1, 65535, 0)
	if err := p.Unpack(v); err != nil {
		return err
	}
	a.n = uint16(p.n)
	return nil
}

// stateArg unpacks connection states: "established,related" or a list.
type stateArg struct{ states []string }

// Unpack implements starlark.Unpacker.
func (a *stateArg) Unpack(v starlark.Value) error {
	if s, ok := starlark.AsString(v); ok {
		for _, f := range strings.Split(s, ",") {
			a.states = append(a.states, strings.TrimSpace(f))
		}
		return nil
	}
	it, ok := v.(starlark.Iterable)
	if !ok {
		return fmt.Errorf("got %s, want state string such as \"established,related\" or a list", v.Type())
	}
	iter := it.Iterate()
	defer iter.Done()
	var x starlark.Value
	for iter.Next(&x) {
		s, ok := starlark.AsString(x)
		if !ok {
			return fmt.Errorf("got %s in list, want state string", x.Type())
		}
		a.states = append(a.states, s)
	}
	return nil
}

// matchArgs are the packet matches shared by masquerade, port_forward and
// firewall; each builtin offers the ones that make sense for it.
type matchArgs struct {
	src, dst               netArg
	in, out, notIn, notOut ifaceArg
	state                  stateArg
}

// match builds the lab's Match for namespace ns.
func (m *matchArgs) match(ns *lab.Netns) (lab.Match, error) {
	var x lab.Match
	x.Src, x.Dst, x.State = m.src.p, m.dst.p, m.state.states
	for _, f := range []struct {
		arg   *ifaceArg
		dst   *string
		param string
	}{{&m.in, &x.In, "in_"}, {&m.out, &x.Out, "out"}, {&m.notIn, &x.NotIn, "not_in"}, {&m.notOut, &x.NotOut, "not_out"}} {
		name, err := f.arg.in(ns, f.param)
		if err != nil {
			return x, err
		}
		*f.dst = name
	}
	return x, nil
}

// fnMasquerade implements masquerade(ns, src=None, dst=None, out=None, not_out=None, proto=None, port=None).
func fnMasquerade(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		ns    = nsArg{run: r}
		m     matchArgs
		proto string
		port  portArg
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "ns", &ns, "src??", &m.src, "dst??", &m.dst, "out??", &m.out, "not_out??", &m.notOut,
		"proto??", &proto, "port??", &port); err != nil {
		return nil, err
	}
	x, err := m.match(ns.ns)
	if err != nil {
		return nil, err
	}
	x.Proto, x.Port = proto, port.n
	return starlark.None, ns.ns.Masquerade(x)
}

// toArg unpacks a forwarding target: "10.0.0.2:80", "10.0.0.2" (same port)
// or a netns (its first address, same port).
type toArg struct {
	addr netip.Addr
	port uint16
}

// Unpack implements starlark.Unpacker.
func (a *toArg) Unpack(v starlark.Value) error {
	if s, ok := v.(starlark.String); ok {
		if ap, ok := parseIPPort(string(s)); ok {
			if ap.Port() == 0 {
				return fmt.Errorf("invalid target %q: port 0", string(s))
			}
			a.addr, a.port = ap.Addr(), ap.Port()
			return nil
		}
		if ad, ok := parseIP(string(s)); ok {
			a.addr = ad
			return nil
		}
		return fmt.Errorf("invalid target %q (want \"IP:PORT\" or \"IP\")", string(s))
	}
	var d dstArg
	if err := d.Unpack(v); err != nil {
		return fmt.Errorf("got %s, want \"IP:PORT\" string or netns", v.Type())
	}
	a.addr = d.addr
	return nil
}

// fnPortForward implements port_forward(ns, port, to, proto="tcp", src=None, dst=None, in_=None, not_in=None, local=False).
func fnPortForward(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		ns    = nsArg{run: r}
		port  portArg
		to    toArg
		proto = "tcp"
		m     matchArgs
		local bool
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "ns", &ns, "port", &port, "to", &to, "proto?", &proto,
		"src??", &m.src, "dst??", &m.dst, "in_??", &m.in, "not_in??", &m.notIn, "local?", &local); err != nil {
		return nil, err
	}
	if proto != "tcp" && proto != "udp" {
		return nil, fmt.Errorf("invalid proto %q (want tcp or udp)", proto)
	}
	x, err := m.match(ns.ns)
	if err != nil {
		return nil, err
	}
	x.Proto, x.Port = proto, port.n
	if to.port == 0 {
		to.port = port.n
	}
	target := netip.AddrPortFrom(to.addr, to.port)
	if err := ns.ns.PortForward(x, target); err != nil {
		return nil, err
	}
	if local {
		return starlark.None, ns.ns.LocalPortForward(x, target)
	}
	return starlark.None, nil
}

// fnFirewall implements firewall(ns, action, src=None, dst=None, proto=None, port=None, icmp_type=None, in_=None, out=None, not_in=None, not_out=None, state=None, hook="forward", counter=False).
func fnFirewall(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		ns      = nsArg{run: r}
		action  string
		proto   string
		port    portArg
		hook    = "forward"
		m       matchArgs
		icmp    string
		counter bool
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "ns", &ns, "action", &action,
		"src??", &m.src, "dst??", &m.dst, "proto??", &proto, "port??", &port, "icmp_type??", &icmp,
		"in_??", &m.in, "out??", &m.out, "not_in??", &m.notIn, "not_out??", &m.notOut,
		"state??", &m.state, "hook?", &hook, "counter?", &counter); err != nil {
		return nil, err
	}
	x, err := m.match(ns.ns)
	if err != nil {
		return nil, err
	}
	x.Proto, x.Port, x.ICMPType = proto, port.n, icmp
	if !counter {
		return starlark.None, ns.ns.Filter(hook, action, x)
	}
	rc, err := ns.ns.CountedFilter(hook, action, x)
	if err != nil {
		return nil, err
	}
	return &FirewallRule{run: r, rc: rc}, nil
}
