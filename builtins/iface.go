package builtins

import (
	"fmt"
	"math"

	"go.starlark.net/starlark"

	"github.com/nsscript/nsscript/internal/lab"
)

// linkOpts are the options every interface builtin of this file takes after
// its own: mtu, mac, addr and up.
type linkOpts struct {
	mtu   intArg
	mac   string
	addrs addrsArg
	up    bool
}

// pairs returns the UnpackArgs pairs for the options (mac only when the
// link type lets one set it).
func (o *linkOpts) pairs(mac bool) []any {
	o.up, o.mtu = true, mtuArg()
	p := []any{"mtu??", &o.mtu}
	if mac {
		p = append(p, "mac??", &o.mac)
	}
	return append(p, "addr??", &o.addrs, "up?", &o.up)
}

// spec checks the options and returns the LinkSpec for a link called name.
func (o *linkOpts) spec(name string) (lab.LinkSpec, error) {
	s := lab.LinkSpec{Name: name, MTU: o.mtu.n, Up: o.up}
	if name != "" {
		if err := lab.CheckLinkName(name); err != nil {
			return s, err
		}
	}
	if o.mac != "" {
		m, err := ParseMAC(o.mac)
		if err != nil {
			return s, err
		}
		s.MAC = m
	}
	return s, nil
}

// finish adds the addresses to a new link and returns its value.
func (o *linkOpts) finish(lk *lab.Link, err error) (starlark.Value, error) {
	if err != nil {
		return nil, err
	}
	for _, p := range o.addrs.ps {
		if err := lk.AddAddr(p); err != nil {
			return nil, err
		}
	}
	return linkValue(lk), nil
}

// unpack is UnpackArgs over the builtin's own pairs followed by the options'.
func unpack(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple, o *linkOpts, mac bool, pairs ...any) error {
	return starlark.UnpackArgs(b.Name(), args, kwargs, append(pairs, o.pairs(mac)...)...)
}

// fnMacvlan implements macvlan(parent, name=None, ns=None, mode="bridge", mtu=None, mac=None, addr=None, up=True).
func fnMacvlan(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		parent     linkArg
		name, mode string
		ns         = nsArg{run: r}
		o          linkOpts
	)
	if err := unpack(b, args, kwargs, &o, true, "parent", &parent, "name??", &name, "ns??", &ns, "mode?", &mode); err != nil {
		return nil, err
	}
	spec, err := o.spec(name)
	if err != nil {
		return nil, err
	}
	return o.finish(r.Lab.Macvlan(lab.MacvlanSpec{LinkSpec: spec, Parent: parent.lk, NS: ns.ns, Mode: mode}))
}

// fnIPVlan implements ipvlan(parent, name=None, ns=None, mode="l2", flag="bridge", mtu=None, addr=None, up=True).
func fnIPVlan(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		parent           linkArg
		name, mode, flag string
		ns               = nsArg{run: r}
		o                linkOpts
	)
	if err := unpack(b, args, kwargs, &o, false, "parent", &parent, "name??", &name, "ns??", &ns, "mode?", &mode, "flag?", &flag); err != nil {
		return nil, err
	}
	spec, err := o.spec(name)
	if err != nil {
		return nil, err
	}
	return o.finish(r.Lab.IPVlan(lab.IPVlanSpec{LinkSpec: spec, Parent: parent.lk, NS: ns.ns, Mode: mode, Flag: flag}))
}

// fnVlan implements vlan(parent, id, name=None, ns=None, protocol="802.1q", mtu=None, mac=None, addr=None, up=True).
func fnVlan(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		parent         linkArg
		id             = intIn("vlan id", 1, 4094, 0)
		name, protocol string
		ns             = nsArg{run: r}
		o              linkOpts
	)
	if err := unpack(b, args, kwargs, &o, true, "parent", &parent, "id", &id, "name??", &name, "ns??", &ns, "protocol?", &protocol); err != nil {
		return nil, err
	}
	spec, err := o.spec(name)
	if err != nil {
		return nil, err
	}
	return o.finish(r.Lab.Vlan(lab.VlanSpec{LinkSpec: spec, Parent: parent.lk, NS: ns.ns, ID: id.n, Protocol: protocol}))
}

// fnDummy implements dummy(name=None, ns=host, mtu=None, mac=None, addr=None, up=True).
func fnDummy(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		name string
		ns   = nsArg{run: r, ns: r.Lab.Host}
		o    linkOpts
	)
	if err := unpack(b, args, kwargs, &o, true, "name??", &name, "ns?", &ns); err != nil {
		return nil, err
	}
	spec, err := o.spec(name)
	if err != nil {
		return nil, err
	}
	return o.finish(r.Lab.Dummy(ns.ns, spec))
}

// fnTap implements tap(name=None, ns=host, mode="tap", owner=0, mtu=None, mac=None, addr=None, up=True).
func fnTap(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		name  string
		ns    = nsArg{run: r, ns: r.Lab.Host}
		mode  = "tap"
		owner = intIn("owner", 0, math.MaxUint32-1, 0) // (uid_t)-1 is no user
		o     linkOpts
	)
	if err := unpack(b, args, kwargs, &o, true, "name??", &name, "ns?", &ns, "mode?", &mode, "owner?", &owner); err != nil {
		return nil, err
	}
	if mode != "tap" && mode != "tun" {
		return nil, fmt.Errorf("unknown mode %q (want tap or tun)", mode)
	}
	spec, err := o.spec(name)
	if err != nil {
		return nil, err
	}
	if mode == "tun" && spec.MAC != nil {
		return nil, fmt.Errorf("a tun device has no mac address")
	}
	return o.finish(r.Lab.Tap(ns.ns, lab.TapSpec{LinkSpec: spec, Tun: mode == "tun", Owner: owner.n}))
}

// fnVxlan implements vxlan(name, vni, ns=host, remote=None, local=None, group=None, dev=None, port=4789, learning=True, mtu=None, mac=None, addr=None, up=True).
func fnVxlan(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		name         string
		vni          = intIn("vni", 1, 1<<24-1, 0)
		ns           = nsArg{run: r, ns: r.Lab.Host}
		remote       ipsArg
		local, group ipArg
		dev          linkArg
		port         = intIn("port", 1, 65535, lab.DefaultVxlanPort)
		learning     = true
		o            linkOpts
	)
	if err := unpack(b, args, kwargs, &o, true, "name", &name, "vni", &vni, "ns?", &ns, "remote??", &remote, "local??", &local,
		"group??", &group, "dev??", &dev, "port?", &port, "learning?", &learning); err != nil {
		return nil, err
	}
	spec, err := o.spec(name)
	if err != nil {
		return nil, err
	}
	vs := lab.VxlanSpec{LinkSpec: spec, NS: ns.ns, VNI: vni.n, Remotes: remote.addrs, Local: local.addr, Group: group.addr, Dev: dev.lk, Port: port.n, NoLearning: !learning}
	if len(vs.Remotes) == 0 && !vs.Group.IsValid() {
		return nil, fmt.Errorf("want remote (the other endpoints' underlay addresses) or group")
	}
	return o.finish(r.Lab.Vxlan(vs))
}
