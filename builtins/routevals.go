package builtins

import (
	"cmp"
	"fmt"

	"go.starlark.net/starlark"

	"github.com/nsscript/nsscript/internal/lab"
)

// Route is the Starlark value for a route that route() added: the
// attributes of the route values routes() and route_get() return (state.go),
// plus ns, nexthops, deleted and the method delete.
type Route struct{ rt *lab.AddedRoute }

var _ starlark.HasAttrs = (*Route)(nil)

func (r *Route) String() string        { return fmt.Sprintf("<route %s>", r.rt) }
func (r *Route) Type() string          { return "route" }
func (r *Route) Freeze()               {}
func (r *Route) Truth() starlark.Bool  { return true }
func (r *Route) Hash() (uint32, error) { return identityHash(r) }

var routeAttrs = []string{"delete", "deleted", "dev", "dst", "metric", "nexthops", "ns", "proto", "scope", "src", "table", "type", "via"}

// AttrNames implements starlark.HasAttrs.
func (r *Route) AttrNames() []string { return routeAttrs }

// Attr implements starlark.HasAttrs.
func (r *Route) Attr(name string) (starlark.Value, error) {
	s := r.rt.Spec
	switch name {
	case "ns":
		return NetnsValue(r.rt.NS), nil
	case "dst":
		return starlark.String(s.DstString()), nil
	case "via":
		return addrOrNone(s.Via), nil
	case "dev":
		if s.Dev != nil {
			return starlark.String(s.Dev.Name()), nil
		}
		return starlark.None, nil
	case "src":
		return addrOrNone(s.Src), nil
	case "nexthops":
		var hs []starlark.Value
		for _, h := range s.Nexthops {
			hs = append(hs, starlark.Tuple{addrOrNone(h.Via), starlark.MakeInt(max(h.Weight, 1))})
		}
		return starlark.NewList(hs), nil
	case "table":
		return starlark.String(lab.TableName(tableOf(s.Table))), nil
	case "metric":
		return starlark.MakeInt(s.Metric), nil
	case "proto":
		return starlark.String("boot"), nil // what ip route add gives a route
	case "scope":
		return starlark.String(cmp.Or(s.Scope, "global")), nil
	case "type":
		return starlark.String(cmp.Or(s.Type, "unicast")), nil
	case "deleted":
		return starlark.Bool(r.rt.Deleted() != ""), nil
	case "delete":
		return starlark.NewBuiltin("delete", func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			return valueMethod(t, "route.delete", args, kwargs, r.rt.Delete)
		}), nil
	}
	return nil, nil
}

// tableOf returns the number of a table, main for 0.
func tableOf(n int) int {
	if n == 0 {
		return lab.TableMain
	}
	return n
}

func optString(ok bool, s string) starlark.Value {
	if ok {
		return starlark.String(s)
	}
	return starlark.None
}

// valueMethod runs a method without arguments that changes the lab (a
// barrier), such as route.delete(), with the builtins' bookkeeping.
func valueMethod(t *starlark.Thread, name string, args starlark.Tuple, kwargs []starlark.Tuple, fn func() error) (starlark.Value, error) {
	r := runOf(t)
	if r == nil {
		return nil, fmt.Errorf("%s: no lab in this thread", name)
	}
	v, err := call(r, name, true, t, func() (starlark.Value, error) {
		if err := starlark.UnpackPositionalArgs(name, args, kwargs, 0); err != nil {
			return nil, err
		}
		return starlark.None, fn()
	})
	if err != nil {
		err = withHint(err, Lookup(name).Sig)
	}
	return v, err
}

// Rule is the Starlark value for a policy routing rule that rule() added.
type Rule struct{ ru *lab.Rule }

var _ starlark.HasAttrs = (*Rule)(nil)

func (r *Rule) String() string        { return fmt.Sprintf("<rule %s>", r.ru) }
func (r *Rule) Type() string          { return "rule" }
func (r *Rule) Freeze()               {}
func (r *Rule) Truth() starlark.Bool  { return true }
func (r *Rule) Hash() (uint32, error) { return identityHash(r) }

var ruleAttrs = []string{"action", "delete", "deleted", "ns", "priority", "table"}

// AttrNames implements starlark.HasAttrs.
func (r *Rule) AttrNames() []string { return ruleAttrs }

// Attr implements starlark.HasAttrs.
func (r *Rule) Attr(name string) (starlark.Value, error) {
	s := r.ru.Spec
	switch name {
	case "ns":
		return NetnsValue(r.ru.NS), nil
	case "table":
		if s.Table == 0 {
			return starlark.None, nil
		}
		return starlark.MakeInt(s.Table), nil
	case "priority":
		if s.Priority < 0 {
			return starlark.None, nil
		}
		return starlark.MakeInt(s.Priority), nil
	case "action":
		if s.Action == "" {
			return starlark.String("lookup"), nil
		}
		return starlark.String(s.Action), nil
	case "deleted":
		return starlark.Bool(r.ru.Deleted() != ""), nil
	case "delete":
		return starlark.NewBuiltin("delete", func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			return valueMethod(t, "rule.delete", args, kwargs, r.ru.Delete)
		}), nil
	}
	return nil, nil
}
