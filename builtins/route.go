package builtins

import (
	"fmt"

	"go.starlark.net/starlark"

	"github.com/nsscript/nsscript/internal/lab"
)

// fnSysctl implements sysctl(ns, key, value=None).
func fnSysctl(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		ns    = nsArg{run: r}
		key   string
		value sysctlValue
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "ns", &ns, "key", &key, "value??", &value); err != nil {
		return nil, err
	}
	if err := lab.CheckSysctlKey(key); err != nil {
		return nil, err
	}
	old, err := ns.ns.ReadSysctl(key)
	if err != nil {
		return nil, err
	}
	if !value.set {
		return starlark.String(old), nil
	}
	return starlark.String(old), ns.ns.Sysctl(key, value.s)
}

// sysctlValue unpacks what a sysctl is set to: a string, an int, or a bool
// (1 or 0).
type sysctlValue struct {
	s   string
	set bool
}

// Unpack implements starlark.Unpacker.
func (a *sysctlValue) Unpack(v starlark.Value) error {
	switch v := v.(type) {
	case starlark.String:
		a.s = string(v)
	case starlark.Int:
		a.s = v.String()
	case starlark.Bool:
		a.s = "0"
		if v {
			a.s = "1"
		}
	default:
		return fmt.Errorf("got %s, want string, int or bool", v.Type())
	}
	a.set = true
	return nil
}

// fnForwarding implements forwarding(ns, on=True, family="both").
func fnForwarding(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		ns     = nsArg{run: r}
		on     = true
		family = "both"
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "ns", &ns, "on?", &on, "family?", &family); err != nil {
		return nil, err
	}
	return starlark.None, ns.ns.SetForwarding(on, family)
}
