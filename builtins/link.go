package builtins

import (
	"fmt"
	"net/netip"

	"go.starlark.net/starlark"

	"github.com/nsscript/nsscript/internal/lab"
)

// fnVeth implements veth(name=None, peer=None, ns=host, peer_ns=host, mtu=None, mac=None, peer_mac=None, addr=None, peer_addr=None, up=True).
func fnVeth(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		name, peer, mac, peerMAC string
		ns                       = nsArg{run: r, ns: r.Lab.Host}
		peerNS                   = nsArg{run: r, ns: r.Lab.Host}
		mtu                      = mtuArg()
		up                       = true
		addr, peerAddr           addrsArg
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name??", &name, "peer??", &peer, "ns?", &ns, "peer_ns?", &peerNS,
		"mtu??", &mtu, "mac??", &mac, "peer_mac??", &peerMAC, "addr??", &addr, "peer_addr??", &peerAddr, "up?", &up); err != nil {
		return nil, err
	}
	spec := lab.VethSpec{LinkSpec: lab.LinkSpec{Name: name, MTU: mtu.n, Up: up}, NS: ns.ns, PeerNS: peerNS.ns, PeerName: peer}
	var err error
	if mac != "" {
		if spec.MAC, err = ParseMAC(mac); err != nil {
			return nil, err
		}
	}
	if peerMAC != "" {
		if spec.PeerMAC, err = ParseMAC(peerMAC); err != nil {
			return nil, err
		}
	}
	a, z, err := r.Lab.Veth(spec)
	if err != nil {
		return nil, err
	}
	for _, end := range []struct {
		lk *lab.Link
		ps []netip.Prefix
	}{{a, addr.ps}, {z, peerAddr.ps}} {
		for _, p := range end.ps {
			if err := end.lk.AddAddr(p); err != nil {
				return nil, err
			}
		}
	}
	return starlark.Tuple{linkValue(a), linkValue(z)}, nil
}

// fnBridge implements bridge(name, ns=host, addr=None, mtu=None, mac=None, up=True).
func fnBridge(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		name string
		ns   = nsArg{run: r, ns: r.Lab.Host}
		o    = linkOpts{up: true, mtu: mtuArg()}
	)
	// The options of iface.go's builtins, in bridge's own order (addr first).
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "ns?", &ns, "addr??", &o.addrs, "mtu??", &o.mtu, "mac??", &o.mac, "up?", &o.up); err != nil {
		return nil, err
	}
	spec, err := o.spec(name)
	if err != nil {
		return nil, err
	}
	return o.finish(r.Lab.Bridge(ns.ns, spec))
}

// fnLink implements link(ns, name).
func fnLink(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		ns   = nsArg{run: r}
		name string
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "ns", &ns, "name", &name); err != nil {
		return nil, err
	}
	n := NetnsValue(ns.ns)
	return n.linkMethod(t, starlark.NewBuiltin("link", nil), starlark.Tuple{starlark.String(name)}, nil)
}

// linkMethods are the methods of link values.
var linkMethods = map[string]func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error){
	"addr":   linkAddr,
	"up":     linkUpDown(true),
	"down":   linkUpDown(false),
	"set":    linkSet,
	"move":   linkMove,
	"rename": linkRename,
	"delete": linkDelete,
}

// method runs a link method with the builtins' bookkeeping.
func method(t *starlark.Thread, b *starlark.Builtin, fn func(r *Run, lk *lab.Link) (starlark.Value, error)) (starlark.Value, error) {
	r := runOf(t)
	lk := b.Receiver().(*Link).lk
	v, err := call(r, b.Name(), true, t, func() (starlark.Value, error) {
		if err := lk.CheckLive(); err != nil {
			return nil, err
		}
		return fn(r, lk)
	})
	if err != nil {
		err = withHint(err, Lookup("link."+b.Name()).Sig)
	}
	return v, err
}

func linkAddr(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	return method(t, b, func(r *Run, lk *lab.Link) (starlark.Value, error) {
		if err := starlark.UnpackArgs(b.Name(), nil, kwargs); err != nil {
			return nil, err // addresses only: every keyword is unexpected
		}
		if len(args) == 0 {
			return nil, fmt.Errorf("want at least one address")
		}
		var all addrsArg
		for i, a := range args {
			var x addrsArg
			if err := x.Unpack(a); err != nil {
				return nil, fmt.Errorf("for parameter %d: %v", i+1, err)
			}
			all.ps = append(all.ps, x.ps...)
		}
		for _, p := range all.ps {
			if err := lk.AddAddr(p); err != nil {
				return nil, err
			}
		}
		return linkValue(lk), nil
	})
}

func linkUpDown(up bool) func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		return method(t, b, func(r *Run, lk *lab.Link) (starlark.Value, error) {
			if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
				return nil, err
			}
			return linkValue(lk), lk.SetUp(up)
		})
	}
}

func linkSet(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	return method(t, b, func(r *Run, lk *lab.Link) (starlark.Value, error) {
		var (
			master      masterArg
			up, hairpin optBool
			mtu         = mtuArg()
			mac, name   string
			ns          = nsArg{run: r}
		)
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "master?", &master, "mtu??", &mtu, "mac??", &mac, "name??", &name, "ns??", &ns, "up??", &up, "hairpin??", &hairpin); err != nil {
			return nil, err
		}
		if ns.ns != nil {
			if err := lk.Move(ns.ns); err != nil {
				return nil, err
			}
		}
		if name != "" {
			if err := lk.Rename(name); err != nil {
				return nil, err
			}
		}
		if mtu.n != 0 {
			if err := lk.SetMTU(mtu.n); err != nil {
				return nil, err
			}
		}
		if mac != "" {
			m, err := ParseMAC(mac)
			if err != nil {
				return nil, err
			}
			if err := lk.SetMAC(m); err != nil {
				return nil, err
			}
		}
		if master.set {
			if err := lk.SetMaster(master.br); err != nil {
				return nil, err
			}
		}
		if hairpin.set {
			if err := lk.SetHairpin(hairpin.on); err != nil {
				return nil, err
			}
		}
		if up.set {
			if err := lk.SetUp(up.on); err != nil {
				return nil, err
			}
		}
		return linkValue(lk), nil
	})
}

// masterArg unpacks link.set's master: a bridge, or None to detach.
type masterArg struct {
	set bool
	br  *lab.Link
}

// Unpack implements starlark.Unpacker.
func (a *masterArg) Unpack(v starlark.Value) error {
	a.set = true
	if v == starlark.None {
		return nil
	}
	var l linkArg
	if err := l.Unpack(v); err != nil {
		return err
	}
	if l.lk.Kind() != "bridge" {
		return fmt.Errorf("%s is a %s, not a bridge", l.lk.Name(), l.lk.Kind())
	}
	a.br = l.lk
	return nil
}

func linkMove(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	return method(t, b, func(r *Run, lk *lab.Link) (starlark.Value, error) {
		ns := nsArg{run: r}
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "ns", &ns); err != nil {
			return nil, err
		}
		return linkValue(lk), lk.Move(ns.ns)
	})
}

func linkRename(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	return method(t, b, func(r *Run, lk *lab.Link) (starlark.Value, error) {
		var name string
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name); err != nil {
			return nil, err
		}
		return linkValue(lk), lk.Rename(name)
	})
}

func linkDelete(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	return method(t, b, func(r *Run, lk *lab.Link) (starlark.Value, error) {
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
			return nil, err
		}
		return starlark.None, lk.Delete()
	})
}
