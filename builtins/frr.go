package builtins

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"go.starlark.net/lib/json"
	"go.starlark.net/starlark"

	"github.com/nsscript/nsscript/internal/lab"
)

// FRR as a lab part: frr() starts the daemons of one router in a mount
// namespace of their own, vtysh() and expect_daemon() ask them.

// frrRouterLine finds the routing protocols a configuration runs; each
// names its daemon ("router ospf" is ospfd's).
var (
	frrRouterLine = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?m)^\s*router\s+(bgp|ospf|ospf6|rip|ripng|isis|eigrp|babel)\b`)
	})
	frrStaticLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?m)^\s*ipv?6?\s+route\s`) })
)

// frrDaemons returns the daemons to run for conf when the script names
// none: zebra, the daemon of each "router PROTO" block, staticd for static
// routes.
func frrDaemons(conf string) []string {
	list := []string{"zebra"}
	seen := map[string]bool{"zebra": true}
	for _, m := range frrRouterLine().FindAllStringSubmatch(conf, -1) {
		if d := m[1] + "d"; !seen[d] {
			seen[d] = true
			list = append(list, d)
		}
	}
	if frrStaticLine().MatchString(conf) {
		list = append(list, "staticd")
	}
	return list
}

// fnFrr implements frr(ns, conf, daemons=None, timeout="10s").
func fnFrr(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		ns      = nsArg{run: r}
		conf    string
		daemons stringsArg
		timeout = durationArg{10 * time.Second}
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "ns", &ns, "conf", &conf, "daemons??", &daemons, "timeout?", &timeout); err != nil {
		return nil, err
	}
	names := daemons.list
	if names == nil {
		names = frrDaemons(conf)
	}
	paths, err := frrPaths(r, names)
	if err != nil {
		return nil, fmt.Errorf("for parameter daemons: %w", err)
	}
	dir, err := filepath.Abs(filepath.Dir(t.CallFrame(1).Pos.Filename()))
	if err != nil {
		return nil, err
	}
	f := &lab.FRR{NS: ns.ns, Pathspace: r.Lab.FRRPathspace(ns.ns)}
	// zebra first and ready before the others, which connect to it; they
	// then start together and join its mount namespace.
	for i, name := range names {
		s := lab.FRRDaemonSpec(paths[i], name, conf, "", f.Pathspace)
		if i > 0 {
			s = lab.FRRDaemonSpec(paths[i], name, "", f.Daemons[0].MountNS(), f.Pathspace)
		}
		s.Dir = dir
		d, err := r.Lab.StartDaemon(ns.ns, s)
		if err != nil {
			return nil, err
		}
		r.Defer(func() { d.Stop() })
		f.Daemons = append(f.Daemons, d)
		if i == 0 {
			if err := r.Lab.WaitReady(r.Ctx, d, timeout.d); err != nil {
				return nil, err
			}
		}
	}
	for _, d := range f.Daemons[1:] {
		if err := r.Lab.WaitReady(r.Ctx, d, timeout.d); err != nil {
			return nil, err
		}
	}
	if err := r.Lab.Configure(r.Ctx, f, timeout.d); err != nil {
		return nil, err
	}
	return &FRRRouter{run: r, f: f}, nil
}

// frrPaths checks the daemon names (zebra first, each once) and finds
// their programs.
func frrPaths(r *Run, names []string) ([]string, error) {
	if len(names) == 0 || names[0] != "zebra" {
		return nil, fmt.Errorf("got %s, want a list with zebra first (the other daemons connect to it)", starlark.String(strings.Join(names, ", ")))
	}
	seen := map[string]bool{}
	paths := make([]string, len(names))
	for i, n := range names {
		if seen[n] {
			return nil, fmt.Errorf("%s is given twice", n)
		}
		seen[n] = true
		p, err := lab.FRRDaemonPath(n)
		if err != nil && r.Lab.Planning() && !strings.ContainsAny(n, "/. ") {
			p, err = filepath.Join(lab.FRRDaemonDirs[0], n), nil
		}
		if err != nil {
			return nil, err
		}
		paths[i] = p
	}
	return paths, nil
}

// FRRRouter is the Starlark value of a router frr() started.
type FRRRouter struct {
	run *Run
	f   *lab.FRR
}

var _ starlark.HasAttrs = (*FRRRouter)(nil)

func (v *FRRRouter) String() string {
	names := make([]string, len(v.f.Daemons))
	for i, d := range v.f.Daemons {
		names[i] = d.Name()
	}
	return fmt.Sprintf("<frr %s in %s>", strings.Join(names, " "), v.f.NS.Name)
}
func (v *FRRRouter) Type() string          { return "frr" }
func (v *FRRRouter) Freeze()               {}
func (v *FRRRouter) Truth() starlark.Bool  { return true }
func (v *FRRRouter) Hash() (uint32, error) { return identityHash(v) }

// AttrNames implements starlark.HasAttrs.
func (v *FRRRouter) AttrNames() []string { return []string{"daemons", "ns"} }

// Attr implements starlark.HasAttrs.
func (v *FRRRouter) Attr(name string) (starlark.Value, error) {
	switch name {
	case "ns":
		return NetnsValue(v.f.NS), nil
	case "daemons":
		vs := make([]starlark.Value, len(v.f.Daemons))
		for i, d := range v.f.Daemons {
			vs[i] = &Daemon{run: v.run, d: d}
		}
		return starlark.NewList(vs), nil
	}
	return nil, nil
}

// frrArg unpacks a router from frr().
type frrArg struct{ v *FRRRouter }

// Unpack implements starlark.Unpacker.
func (a *frrArg) Unpack(v starlark.Value) error {
	f, ok := v.(*FRRRouter)
	if !ok {
		return fmt.Errorf("got %s, want frr (from frr())", v.Type())
	}
	a.v = f
	return nil
}

// fnVtysh implements vtysh(router, cmd, timeout="5s"). It returns the
// reply's text, or its value when it is JSON; a barrier, like birdc.
func fnVtysh(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var router frrArg
	cmd, timeout, err := queryArgs(b, args, kwargs, &router)
	if err != nil {
		return nil, err
	}
	f := router.v.f
	r.Lab.Note(lab.Step{NS: f.NS.Name, Op: "query", Desc: "vtysh " + cmd, Cmds: []string{vtyshCmd(f, cmd)}})
	if r.Lab.Planning() {
		// A plan asks no daemon; an empty reply of the kind asked for.
		if strings.HasSuffix(strings.TrimSpace(cmd), " json") {
			return starlark.NewDict(0), nil
		}
		return starlark.String(""), nil
	}
	text, err := f.Query(r.Ctx, cmd, timeout)
	if err != nil {
		return nil, err
	}
	if s := strings.TrimSpace(text); strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[") {
		v, err := starlark.Call(t, json.Module.Members["decode"], starlark.Tuple{starlark.String(s)}, nil)
		if err == nil {
			return v, nil
		}
	}
	return starlark.String(text), nil
}

// vtyshCmd is the shell equivalent of a query.
func vtyshCmd(f *lab.FRR, cmd string) string {
	return lab.ShellJoin(f.ShellVtysh("-c", cmd))
}

// fnExpectOSPFFull implements expect_ospf_full(router, neighbour,
// within=None).
func fnExpectOSPFFull(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		router    controlArg
		neighbour string
		within    durationArg
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "router", &router, "neighbour", &neighbour, "within??", &within); err != nil {
		return nil, err
	}
	id, ok := parseIP(neighbour)
	if !ok || !id.Is4() {
		return nil, fmt.Errorf("for parameter neighbour: %q is not a router ID (an IPv4 address)", neighbour)
	}
	// A neighbour's line in FRR's and BIRD's tables alike: router ID,
	// priority, then the state ("Full/-", "Full/PtP", "Full/DR").
	match := "^" + regexp.QuoteMeta(id.String()) + `\s+\d+\s+Full/`
	c := router.c
	cmd := c.ospfNeighbours()
	what := fmt.Sprintf("%s: OSPF neighbour %s Full (%s)", c.label(), id, cmd)
	expectReply(r, t, b, c, what, cmd, match, regexp.MustCompile("(?m)"+match), within.d)
	return starlark.None, nil
}
