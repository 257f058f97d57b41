package builtins

import (
	"fmt"
	"hash/maphash"
	"net/netip"
	"time"

	"go.starlark.net/starlark"

	"github.com/nsscript/nsscript/internal/lab"
)

// Netns is the Starlark value for a network namespace of the lab.
type Netns struct{ ns *lab.Netns }

var (
	_ starlark.HasAttrs = (*Netns)(nil)
	_ starlark.HasAttrs = (*Link)(nil)
)

// NetnsValue returns the Starlark value for lab namespace ns: one value per
// namespace, however a script (or an exercise's checks) reaches it, so that
// values compare and hash by identity.
func NetnsValue(ns *lab.Netns) *Netns {
	return ns.Front(func() any { return &Netns{ns} }).(*Netns)
}

// identitySeed seeds identityHash; it never changes after start.
var identitySeed = maphash.MakeSeed()

// identityHash hashes a value by its identity: the hash of a lab object's
// value stays the same when the object is renamed or moved, and two objects
// with the same name (in different runs or namespaces) differ.
func identityHash[T any](p *T) (uint32, error) {
	h := maphash.Comparable(identitySeed, p)
	return uint32(h ^ h>>32), nil
}

// NS returns the lab namespace behind the value.
func (n *Netns) NS() *lab.Netns        { return n.ns }
func (n *Netns) String() string        { return fmt.Sprintf("<netns %q>", n.ns.Name) }
func (n *Netns) Type() string          { return "netns" }
func (n *Netns) Freeze()               {}
func (n *Netns) Truth() starlark.Bool  { return true }
func (n *Netns) Hash() (uint32, error) { return identityHash(n) }

var netnsAttrs = []string{"addr", "addrs", "delete", "deleted", "link", "links", "name"}

// AttrNames implements starlark.HasAttrs.
func (n *Netns) AttrNames() []string { return netnsAttrs }

// Attr implements starlark.HasAttrs.
func (n *Netns) Attr(name string) (starlark.Value, error) {
	switch name {
	case "name":
		return starlark.String(n.ns.Name), nil
	case "addrs":
		return prefixList(n.ns.Addrs()), nil
	case "addr":
		if a, ok := n.ns.FirstAddr(); ok {
			return starlark.String(a.String()), nil
		}
		return starlark.None, nil
	case "links":
		var vs []starlark.Value
		for _, lk := range n.ns.Links() {
			vs = append(vs, linkValue(lk))
		}
		return starlark.NewList(vs), nil
	case "link":
		return starlark.NewBuiltin("link", n.linkMethod), nil
	case "deleted":
		return starlark.Bool(n.ns.Deleted() != ""), nil
	case "delete":
		return starlark.NewBuiltin("delete", func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			return valueMethod(t, "netns.delete", args, kwargs, n.ns.Delete)
		}), nil
	}
	return nil, nil
}

// linkMethod: netns.link(name) returns the link called name.
func (n *Netns) linkMethod(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &name); err != nil {
		return nil, err
	}
	if err := n.ns.CheckLive(); err != nil {
		return nil, fmt.Errorf("link: %w", err)
	}
	if r := runOf(thread); r != nil && n.ns.Link(name) == nil {
		r.Flush() // the link may be adopted: no probe may read the model meanwhile
	}
	lk, err := n.ns.FindLink(name)
	if err != nil {
		return nil, fmt.Errorf("link: %w", err)
	}
	return linkValue(lk), nil
}

// Link is the Starlark value for a network interface of the lab.
type Link struct{ lk *lab.Link }

// linkValue returns the one Starlark value of lab link lk (see NetnsValue).
func linkValue(lk *lab.Link) *Link {
	return lk.Front(func() any { return &Link{lk} }).(*Link)
}

// Link returns the lab link behind the value.
func (l *Link) Link() *lab.Link { return l.lk }
func (l *Link) String() string {
	return fmt.Sprintf("<link %s in %s>", l.lk.Name(), l.lk.NS().Name)
}
func (l *Link) Type() string          { return "link" }
func (l *Link) Freeze()               {}
func (l *Link) Truth() starlark.Bool  { return true }
func (l *Link) Hash() (uint32, error) { return identityHash(l) }

var linkAttrs = []string{"addr", "addrs", "delete", "down", "index", "kind", "mac", "master", "move", "mtu", "name", "ns", "peer", "rename", "set", "stats", "up"}

// AttrNames implements starlark.HasAttrs.
func (l *Link) AttrNames() []string { return linkAttrs }

// Attr implements starlark.HasAttrs.
func (l *Link) Attr(name string) (starlark.Value, error) {
	lk := l.lk
	switch name {
	case "name":
		return starlark.String(lk.Name()), nil
	case "ns":
		return NetnsValue(lk.NS()), nil
	case "kind":
		return starlark.String(lk.Kind()), nil
	case "addrs":
		return prefixList(lk.Addrs()), nil
	case "peer":
		if p := lk.Peer(); p != nil {
			return linkValue(p), nil
		}
		return starlark.None, nil
	case "master":
		if m := lk.Master(); m != nil {
			return linkValue(m), nil
		}
		return starlark.None, nil
	case "index":
		i, err := lk.Index()
		if err != nil {
			return nil, err
		}
		return starlark.MakeInt(i), nil
	case "mac", "mtu":
		st, err := lk.State()
		if err != nil {
			return nil, err
		}
		if name == "mtu" {
			return starlark.MakeInt(st.MTU), nil
		}
		return starlark.String(st.HardwareAddr.String()), nil
	case "stats":
		return linkStats(lk)
	}
	if m, ok := linkMethods[name]; ok {
		return starlark.NewBuiltin(name, m).BindReceiver(l), nil
	}
	return nil, nil
}

func prefixList(ps []netip.Prefix) *starlark.List {
	vs := make([]starlark.Value, len(ps))
	for i, p := range ps {
		vs[i] = starlark.String(p.String())
	}
	return starlark.NewList(vs)
}

// nsArg unpacks a namespace given as a netns value or its name.
type nsArg struct {
	run *Run
	ns  *lab.Netns
}

// Unpack implements starlark.Unpacker.
func (a *nsArg) Unpack(v starlark.Value) error {
	switch v := v.(type) {
	case *Netns:
		a.ns = v.ns
		return v.ns.CheckLive()
	case starlark.String:
		n := a.run.Lab.Lookup(string(v))
		if n == nil {
			return fmt.Errorf("no namespace %q (create it with netns(%q))", string(v), string(v))
		}
		a.ns = n
		return nil
	}
	return fmt.Errorf("got %s, want netns or string", v.Type())
}

// linkArg unpacks a link value.
type linkArg struct{ lk *lab.Link }

// Unpack implements starlark.Unpacker.
func (a *linkArg) Unpack(v starlark.Value) error {
	if l, ok := v.(*Link); ok {
		a.lk = l.lk
		return l.lk.CheckLive()
	}
	return fmt.Errorf("got %s, want link", v.Type())
}

// intArg unpacks an integer from lo to hi, and keeps n (its default) when
// the argument is absent. Every integer parameter goes through it: a Go int
// narrowed later (a uint32 metric, a uid) would otherwise wrap around.
type intArg struct {
	noun   string // what the number is, for errors: "mtu", "port"
	lo, hi int64
	n      int
}

// intIn returns an intArg for noun that accepts lo to hi and defaults to def.
func intIn(noun string, lo, hi int64, def int) intArg {
	return intArg{noun: noun, lo: lo, hi: hi, n: def}
}

// Unpack implements starlark.Unpacker.
func (a *intArg) Unpack(v starlark.Value) error {
	i, ok := v.(starlark.Int)
	if !ok {
		return fmt.Errorf("got %s, want int", v.Type())
	}
	n, ok := i.Int64()
	if !ok || n < a.lo || n > a.hi {
		return fmt.Errorf("invalid %s %v (want %d to %d)", a.noun, v, a.lo, a.hi)
	}
	a.n = int(n)
	return nil
}

// mtuArg returns the unpacker of an mtu (0, the kernel's default, when absent).
func mtuArg() intArg { return intIn("mtu", 68, 65535, 0) }

// optBool unpacks a bool whose absence means "leave it as it is".
type optBool struct{ set, on bool }

// Unpack implements starlark.Unpacker.
func (a *optBool) Unpack(v starlark.Value) error {
	b, ok := v.(starlark.Bool)
	if !ok {
		return fmt.Errorf("got %s, want bool", v.Type())
	}
	a.set, a.on = true, bool(b)
	return nil
}

// durationArg unpacks "1s", "250ms" or a number of seconds.
type durationArg struct{ d time.Duration }

// Unpack implements starlark.Unpacker.
func (a *durationArg) Unpack(v starlark.Value) error {
	switch v := v.(type) {
	case starlark.String:
		d, err := time.ParseDuration(string(v))
		if err != nil {
			return fmt.Errorf("invalid duration %q (want e.g. \"500ms\" or \"2s\")", string(v))
		}
		if d <= 0 {
			return fmt.Errorf("duration %q is not positive", string(v))
		}
		a.d = d
		return nil
	case starlark.Int, starlark.Float:
		f, _ := starlark.AsFloat(v)
		if f <= 0 || f > 86400 {
			return fmt.Errorf("duration %v is out of range (want 0 to 86400 seconds)", v)
		}
		a.d = time.Duration(f * float64(time.Second))
		return nil
	}
	return fmt.Errorf("got %s, want duration string such as \"1s\"", v.Type())
}

// oneOrList unpacks a string, or an iterable of strings, with one.
func oneOrList[T any](v starlark.Value, one func(starlark.Value) (T, error)) ([]T, error) {
	if _, ok := v.(starlark.String); ok {
		x, err := one(v)
		if err != nil {
			return nil, err
		}
		return []T{x}, nil
	}
	it, ok := v.(starlark.Iterable)
	if !ok {
		return nil, fmt.Errorf("got %s, want address string or list of them", v.Type())
	}
	iter := it.Iterate()
	defer iter.Done()
	var out []T
	var x starlark.Value
	for iter.Next(&x) {
		y, err := one(x)
		if err != nil {
			return nil, err
		}
		out = append(out, y)
	}
	return out, nil
}
