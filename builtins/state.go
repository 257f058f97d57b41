package builtins

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/nsscript/nsscript/internal/lab"
)

// Kernel state as values: routes, the FIB's decision, neighbours, forwarding
// databases and link counters, read through netlink on every call.

// tableArg unpacks a routing table: "main", "local", "default", "all" or a
// number.
type tableArg struct {
	id   int
	name string
}

// Unpack implements starlark.Unpacker.
func (a *tableArg) Unpack(v starlark.Value) error {
	var n int
	switch v := v.(type) {
	case starlark.String:
		names := map[string]int{"main": lab.TableMain, "local": lab.TableLocal, "default": lab.TableDefault, "all": lab.TableAll}
		id, ok := names[string(v)]
		if !ok {
			var err error
			if id, err = strconv.Atoi(string(v)); err != nil {
				return fmt.Errorf("invalid table %q (want \"main\", \"local\", \"all\" or a number)", string(v))
			}
		}
		n = id
	case starlark.Int:
		if err := starlark.AsInt(v, &n); err != nil {
			return err
		}
	default:
		return fmt.Errorf("got %s, want table name or number", v.Type())
	}
	if n < 0 || n > 1<<31-1 {
		return fmt.Errorf("invalid table %v", v)
	}
	a.id, a.name = n, lab.TableName(n)
	return nil
}

// protoArg unpacks a route protocol: a name ip route knows or a number.
type protoArg struct{ p int }

// Unpack implements starlark.Unpacker.
func (a *protoArg) Unpack(v starlark.Value) error {
	switch v := v.(type) {
	case starlark.String:
		for p := 0; p < 256; p++ {
			if lab.ProtoName(p) == string(v) {
				a.p = p
				return nil
			}
		}
		return fmt.Errorf("invalid proto %q (want e.g. \"kernel\", \"static\", \"boot\", \"dhcp\" or a number)", string(v))
	case starlark.Int:
		if err := starlark.AsInt(v, &a.p); err != nil || a.p < 0 || a.p > 255 {
			return fmt.Errorf("invalid proto %v (want 0 to 255)", v)
		}
		return nil
	}
	return fmt.Errorf("got %s, want proto name or number", v.Type())
}

// fnRoutes implements routes(ns, table="main", proto=None).
func fnRoutes(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		ns    = nsArg{run: r}
		table = tableArg{lab.TableMain, "main"}
		proto = protoArg{-1}
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "ns", &ns, "table?", &table, "proto??", &proto); err != nil {
		return nil, err
	}
	protoName := ""
	if proto.p >= 0 {
		protoName = lab.ProtoName(proto.p)
	}
	r.Lab.Note(lab.Step{NS: ns.ns.Name, Op: "show", Desc: "list routes in " + ns.ns.Name,
		Cmds: []string{lab.RoutesCmd(ns.ns, table.name, protoName)}})
	rs, err := ns.ns.Routes(lab.RouteFilter{Table: table.id, Proto: proto.p})
	if err != nil {
		return nil, err
	}
	vs := make([]starlark.Value, len(rs))
	for i, x := range rs {
		vs[i] = routeValue(x, "")
	}
	return starlark.NewList(vs), nil
}

// routeQuery unpacks the options of a FIB lookup: src, iif and mark.
type routeQuery struct {
	src  ipArg
	iif  starlark.Value
	mark intArg
}

// query checks the options against namespace ns and returns them.
func (o *routeQuery) query(ns *lab.Netns) (lab.RouteQuery, error) {
	q := lab.RouteQuery{Src: o.src.addr}
	var err error
	if q.IIF, err = linkName(o.iif, ns, "iif"); err != nil {
		return q, err
	}
	q.Mark = uint32(o.mark.n)
	return q, nil
}

// markArg unpacks a firewall mark (0, none, when absent).
func markArg() intArg { return intIn("mark", 0, 1<<32-1, 0) }

// linkName returns the interface name v stands for: a link of ns or a
// name; "" for None.
func linkName(v starlark.Value, ns *lab.Netns, param string) (string, error) {
	switch v := v.(type) {
	case nil, starlark.NoneType:
		return "", nil
	case starlark.String:
		return string(v), nil
	case *Link:
		if v.lk.NS() != ns {
			return "", fmt.Errorf("for parameter %s: %s is in netns %q, not %q", param, v.lk.Name(), v.lk.NS().Name, ns.Name)
		}
		return v.lk.Name(), nil
	}
	return "", fmt.Errorf("for parameter %s: got %s, want link or name", param, v.Type())
}

// fnRouteGet implements route_get(ns, dst, src=None, iif=None, mark=None).
func fnRouteGet(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		ns  = nsArg{run: r}
		dst ipArg
		o   = routeQuery{mark: markArg()}
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "ns", &ns, "dst", &dst, "src??", &o.src, "iif??", &o.iif, "mark??", &o.mark); err != nil {
		return nil, err
	}
	q, err := o.query(ns.ns)
	if err != nil {
		return nil, err
	}
	r.Lab.Note(lab.Step{NS: ns.ns.Name, Op: "show", Desc: "route get " + dst.addr.String() + " in " + ns.ns.Name,
		Cmds: []string{lab.RouteGetCmd(ns.ns, dst.addr, q) + " || true"}})
	rt, err := ns.ns.RouteGet(dst.addr, q)
	if errors.Is(err, lab.ErrNoRoute) {
		return starlark.None, nil
	}
	if err != nil {
		return nil, err
	}
	return routeValue(rt, dst.addr.String()), nil
}

// routeValue is the Starlark value of a route; dst, when not "", stands
// for the destination (route_get reports the address asked for).
func routeValue(x lab.Route, dst string) starlark.Value {
	if dst == "" {
		dst = x.Dst.String()
		if x.Default {
			dst = "default"
		}
	}
	table := starlark.Value(starlark.None) // a blackhole or unreachable decision has none
	if x.Table != 0 {
		table = starlark.String(lab.TableName(x.Table))
	}
	return starlarkstruct.FromStringDict(starlark.String("route"), starlark.StringDict{
		"dst":    starlark.String(dst),
		"via":    addrOrNone(x.Via),
		"dev":    stringOrNone(x.Dev),
		"src":    addrOrNone(x.Src),
		"metric": starlark.MakeInt(x.Metric),
		"table":  table,
		"proto":  starlark.String(lab.ProtoName(x.Proto)),
		"scope":  starlark.String(lab.ScopeName(x.Scope)),
		"type":   starlark.String(lab.RouteTypeName(x.Type)),
	})
}

func addrOrNone(a netip.Addr) starlark.Value {
	if !a.IsValid() {
		return starlark.None
	}
	return starlark.String(a.String())
}

func stringOrNone(s string) starlark.Value {
	if s == "" {
		return starlark.None
	}
	return starlark.String(s)
}

// nsOrLinkArg unpacks a namespace (value or name) or a link.
type nsOrLinkArg struct {
	run *Run
	ns  *lab.Netns
	lk  *lab.Link
}

// Unpack implements starlark.Unpacker.
func (a *nsOrLinkArg) Unpack(v starlark.Value) error {
	if l, ok := v.(*Link); ok {
		a.ns, a.lk = l.lk.NS(), l.lk
		return nil
	}
	if _, ok := v.(starlark.String); !ok {
		if _, ok := v.(*Netns); !ok {
			return fmt.Errorf("got %s, want netns, its name or link", v.Type())
		}
	}
	n := nsArg{run: a.run}
	if err := n.Unpack(v); err != nil {
		return err
	}
	a.ns = n.ns
	return nil
}

// dev is the link's name, or "" for a whole namespace.
func (a *nsOrLinkArg) dev() string {
	if a.lk == nil {
		return ""
	}
	return a.lk.Name()
}

// fnNeighbours implements neighbours(of).
func fnNeighbours(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	of := nsOrLinkArg{run: r}
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "of", &of); err != nil {
		return nil, err
	}
	r.Lab.Note(lab.Step{NS: of.ns.Name, Op: "show", Desc: "list neighbours in " + of.ns.Name,
		Cmds: []string{lab.NeighCmd(of.ns, of.dev(), netip.Addr{})}})
	ns, err := of.ns.Neighbours(of.lk)
	if err != nil {
		return nil, err
	}
	vs := make([]starlark.Value, len(ns))
	for i, x := range ns {
		vs[i] = neighbourValue(x)
	}
	return starlark.NewList(vs), nil
}

// fnAddresses implements addresses(of).
func fnAddresses(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	of := nsOrLinkArg{run: r}
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "of", &of); err != nil {
		return nil, err
	}
	r.Lab.Note(lab.Step{NS: of.ns.Name, Op: "show", Desc: "list addresses in " + of.ns.Name,
		Cmds: []string{lab.AddrCmd(of.ns, of.dev())}})
	as, err := of.ns.Addresses(of.lk)
	if err != nil {
		return nil, err
	}
	vs := make([]starlark.Value, len(as))
	for i, x := range as {
		vs[i] = starlarkstruct.FromStringDict(starlark.String("address"), starlark.StringDict{
			"addr":  starlark.String(x.Prefix.String()),
			"dev":   stringOrNone(x.Dev),
			"scope": starlark.String(lab.ScopeName(x.Scope)),
		})
	}
	return starlark.NewList(vs), nil
}

func neighbourValue(x lab.Neighbour) starlark.Value {
	mac := starlark.Value(starlark.None)
	if len(x.MAC) > 0 {
		mac = starlark.String(x.MAC.String())
	}
	return starlarkstruct.FromStringDict(starlark.String("neighbour"), starlark.StringDict{
		"addr":  starlark.String(x.Addr.String()),
		"mac":   mac,
		"state": starlark.String(x.State),
		"dev":   stringOrNone(x.Dev),
	})
}

// fnFDB implements fdb(link).
func fnFDB(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var lk linkArg
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "link", &lk); err != nil {
		return nil, err
	}
	r.Lab.Note(lab.Step{NS: lk.lk.NS().Name, Op: "show", Desc: "list the fdb of " + lk.lk.String(),
		Cmds: []string{lab.FDBCmd(lk.lk)}})
	es, err := lk.lk.FDB()
	if err != nil {
		return nil, err
	}
	vs := make([]starlark.Value, len(es))
	for i, x := range es {
		vs[i] = starlarkstruct.FromStringDict(starlark.String("fdb_entry"), starlark.StringDict{
			"mac":    starlark.String(strings.ToLower(x.MAC.String())),
			"dev":    stringOrNone(x.Dev),
			"remote": addrOrNone(x.Remote),
			"vlan":   starlark.MakeInt(x.Vlan),
			"state":  starlark.String(x.State),
		})
	}
	return starlark.NewList(vs), nil
}

// linkStats reads lk's counters (the link.stats attribute).
func linkStats(lk *lab.Link) (starlark.Value, error) {
	lk.NS().Lab().Note(lab.Step{NS: lk.NS().Name, Op: "show", Desc: "read the counters of " + lk.String(),
		Cmds: []string{lab.LinkStatsCmd(lk)}})
	st, err := lk.State()
	if err != nil {
		return nil, err
	}
	d := starlark.StringDict{}
	for _, k := range []string{"rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_dropped", "tx_dropped", "rx_errors", "tx_errors"} {
		d[k] = starlark.MakeInt(0)
	}
	if s := st.Statistics; s != nil {
		for k, v := range map[string]uint64{"rx_packets": s.RxPackets, "tx_packets": s.TxPackets, "rx_bytes": s.RxBytes,
			"tx_bytes": s.TxBytes, "rx_dropped": s.RxDropped, "tx_dropped": s.TxDropped, "rx_errors": s.RxErrors, "tx_errors": s.TxErrors} {
			d[k] = starlark.MakeUint64(v)
		}
	}
	return starlarkstruct.FromStringDict(starlark.String("link_stats"), d), nil
}
