package builtins

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"go.starlark.net/starlark"

	"github.com/nsscript/nsscript/internal/lab"
)

// State expectations: the kernel's FIB decision and neighbour entries,
// checked on the expectation's own goroutine (netlink reads only, no
// Starlark), so the script goes on as with the probes.

// routeWant is what expect_route compares the FIB decision with.
type routeWant struct {
	via   netip.Addr
	dev   string
	table int // -1: any
	proto int // -1: any
}

// describeRoute writes a decision as ip route get prints it.
func describeRoute(rt lab.Route) string {
	var w []string
	if t := lab.RouteTypeName(rt.Type); t != "unicast" {
		w = append(w, t)
	}
	if rt.Via.IsValid() {
		w = append(w, "via "+rt.Via.String())
	}
	if rt.Dev != "" {
		w = append(w, "dev "+rt.Dev)
	}
	if rt.Src.IsValid() {
		w = append(w, "src "+rt.Src.String())
	}
	if rt.Table != 0 { // an error (unreachable, ...) names no table
		w = append(w, "table "+lab.TableName(rt.Table), "proto "+lab.ProtoName(rt.Proto))
	}
	return strings.Join(w, " ")
}

// check compares a decision with the wanted one and says how it differs.
func (w routeWant) check(rt lab.Route) (bool, string) {
	var diff []string
	if w.via.IsValid() && rt.Via != w.via {
		diff = append(diff, "via "+w.via.String())
	}
	if w.dev != "" && rt.Dev != w.dev {
		diff = append(diff, "dev "+w.dev)
	}
	if w.table >= 0 && rt.Table != w.table {
		diff = append(diff, "table "+lab.TableName(w.table))
	}
	if w.proto >= 0 && rt.Proto != w.proto {
		diff = append(diff, "proto "+lab.ProtoName(w.proto))
	}
	if rt.Dev == "" && !w.via.IsValid() && w.dev == "" && rt.Type != 0 && lab.RouteTypeName(rt.Type) != "unicast" {
		diff = append(diff, "a route")
	}
	if len(diff) > 0 {
		return false, describeRoute(rt) + ", want " + strings.Join(diff, " ")
	}
	return true, describeRoute(rt)
}

// fnExpectRoute implements expect_route(ns, dst, via=None, dev=None,
// table=None, proto=None, src=None, iif=None, mark=None, within=None).
func fnExpectRoute(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		ns     = nsArg{run: r}
		dst    ipArg
		via    ipArg
		dev    starlark.Value
		table  = tableArg{id: -1}
		proto  = protoArg{-1}
		o      = routeQuery{mark: markArg()}
		within durationArg
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "ns", &ns, "dst", &dst, "via??", &via, "dev??", &dev, "table??", &table,
		"proto??", &proto, "src??", &o.src, "iif??", &o.iif, "mark??", &o.mark, "within??", &within); err != nil {
		return nil, err
	}
	q, err := o.query(ns.ns)
	if err != nil {
		return nil, err
	}
	w := routeWant{via: via.addr, table: table.id, proto: proto.p}
	if w.dev, err = linkName(dev, ns.ns, "dev"); err != nil {
		return nil, err
	}
	what := ns.ns.Name + " -> " + dst.addr.String()
	if want := wantText(w); want != "" {
		what += " " + want
	}
	cmd := lab.RouteGetCmd(ns.ns, dst.addr, q)
	// ip route get prints "DST via GW dev DEV src ...".
	if grep := wantText(routeWant{via: w.via, dev: w.dev, table: -1, proto: -1}); grep != "" {
		cmd += " | grep -q " + lab.ShellJoin([]string{grep + " "})
	}
	if within.d > 0 {
		cmd = untilCmd(cmd, within.d)
	}
	queueExpect(r, t, b, ns.ns, dst.addr, what, []string{cmd}, func(e *Expectation) {
		o, _ := poll(r, within.d, func() (bool, string, error) {
			rt, err := ns.ns.RouteGet(dst.addr, q)
			if errors.Is(err, lab.ErrNoRoute) {
				return false, "no route", nil
			}
			if err != nil {
				return false, err.Error(), nil
			}
			ok, detail := w.check(rt)
			return ok, detail, nil
		})
		o.settle(e)
		if !o.ok && !o.cut {
			e.Output = consideredText(ns.ns, dst.addr, q)
		}
	})
	return starlark.None, nil
}

// consideredText lists what a FIB lookup in ns considered: the policy
// rules of dst's family in order, the routes of each table that contain
// dst, and, for a forwarded packet (iif), forwarding when it is off.
func consideredText(ns *lab.Netns, dst netip.Addr, q lab.RouteQuery) string {
	var b strings.Builder
	if q.IIF != "" {
		if off := lab.ForwardingOff(ns, dst); off != "" {
			fmt.Fprintf(&b, "forwarding is off in %s (%s): a packet that comes in on %s is not routed\n", ns.Name, off, q.IIF)
		}
	}
	rules, err := ns.Rules(dst)
	if err != nil {
		return err.Error() + "\n"
	}
	words := make([]string, len(rules))
	looked := map[int]bool{}
	for i, ru := range rules {
		words[i], looked[ru.Table] = ru.String(), true
	}
	fmt.Fprintf(&b, "rules (ip rule, in order): %s\n", strings.Join(words, "; "))
	routes, err := ns.RoutesTo(dst)
	if err != nil {
		return b.String() + err.Error() + "\n"
	}
	if len(routes) == 0 {
		fmt.Fprintf(&b, "routes to %s: none in any table\n", dst)
	}
	for i, rt := range routes {
		if i == 0 || rt.Table != routes[i-1].Table {
			if i > 0 {
				b.WriteString("\n")
			}
			unused := ""
			if !looked[rt.Table] {
				unused = " (no rule looks this table up)"
			}
			fmt.Fprintf(&b, "table %s routes to %s%s: ", lab.TableName(rt.Table), dst, unused)
		} else {
			b.WriteString("; ")
		}
		b.WriteString(routeLine(rt))
	}
	if len(routes) > 0 {
		b.WriteString("\n")
	}
	return b.String()
}

// routeLine writes a table's route as ip route lists it.
func routeLine(rt lab.Route) string {
	dst := rt.Dst.String()
	if rt.Default {
		dst = "default"
	}
	w := []string{dst}
	if t := lab.RouteTypeName(rt.Type); t != "unicast" {
		w = []string{t, dst}
	}
	if rt.Via.IsValid() {
		w = append(w, "via", rt.Via.String())
	}
	if rt.Dev != "" {
		w = append(w, "dev", rt.Dev)
	}
	if rt.Metric != 0 {
		w = append(w, "metric", fmt.Sprint(rt.Metric))
	}
	return strings.Join(w, " ")
}

// wantText says what expect_route wants, for its line.
func wantText(w routeWant) string {
	var s []string
	if w.via.IsValid() {
		s = append(s, "via "+w.via.String())
	}
	if w.dev != "" {
		s = append(s, "dev "+w.dev)
	}
	if w.table >= 0 {
		s = append(s, "table "+lab.TableName(w.table))
	}
	if w.proto >= 0 {
		s = append(s, "proto "+lab.ProtoName(w.proto))
	}
	return strings.Join(s, " ")
}

// neighStates are the states expect_neighbour accepts.
var neighStates = []string{"reachable", "stale", "delay", "probe", "incomplete", "failed", "permanent", "noarp", "none"}

// fnExpectNeighbour implements expect_neighbour(ns, addr, state=None,
// mac=None, within=None).
func fnExpectNeighbour(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		ns         = nsArg{run: r}
		addr       ipArg
		state, mac string
		within     durationArg
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "ns", &ns, "addr", &addr, "state??", &state, "mac??", &mac, "within??", &within); err != nil {
		return nil, err
	}
	if state != "" && !slices.Contains(neighStates, state) {
		return nil, fmt.Errorf("invalid state %q (want one of %s)", state, strings.Join(neighStates, ", "))
	}
	if mac != "" {
		m, err := ParseMAC(mac)
		if err != nil {
			return nil, err
		}
		mac = m.String()
	}
	what := ns.ns.Name + ": " + addr.addr.String()
	if state != "" {
		what += " " + state
	}
	if mac != "" {
		what += " lladdr " + mac
	}
	cmd := neighCmd(ns.ns, addr.addr, state, mac)
	if within.d > 0 && !strings.HasPrefix(cmd, "!") {
		cmd = untilCmd(cmd, within.d)
	}
	queueExpect(r, t, b, ns.ns, addr.addr, what, []string{cmd}, func(e *Expectation) {
		o, _ := poll(r, within.d, func() (bool, string, error) {
			return checkNeighbour(ns.ns, addr.addr, state, mac)
		})
		o.settle(e)
	})
	return starlark.None, nil
}

// checkNeighbour looks addr up in ns's neighbour table. Without state, an
// entry counts when it has a link-layer address (it was resolved).
func checkNeighbour(ns *lab.Netns, addr netip.Addr, state, mac string) (bool, string, error) {
	es, err := ns.Neighbours(nil)
	if err != nil {
		return false, err.Error(), nil
	}
	for _, x := range es {
		if x.Addr != addr {
			continue
		}
		got := fmt.Sprintf("dev %s lladdr %s %s", x.Dev, x.MAC, x.State)
		if len(x.MAC) == 0 {
			got = fmt.Sprintf("dev %s %s", x.Dev, x.State)
		}
		switch {
		case state != "" && x.State != state:
			return false, got + ", want " + state, nil
		case state == "" && len(x.MAC) == 0:
			return false, got + ", want a resolved entry", nil
		case mac != "" && x.MAC.String() != mac:
			return false, got + ", want lladdr " + mac, nil
		}
		return true, got, nil
	}
	if state == "none" {
		return true, "no entry", nil
	}
	return false, "no entry", nil
}

// neighCmd is the shell equivalent of expect_neighbour: ip neigh show
// prints "ADDR dev DEV lladdr MAC STATE".
func neighCmd(ns *lab.Netns, addr netip.Addr, state, mac string) string {
	show := lab.NeighCmd(ns, "", addr)
	if state == "none" {
		return "! " + show + " | grep -q . || exit 1" // set -e ignores a negated pipeline
	}
	var pats []string
	switch {
	case mac != "":
		pats = append(pats, "lladdr "+mac)
	case state == "":
		pats = append(pats, "lladdr")
	}
	if state != "" {
		pats = append(pats, strings.ToUpper(state))
	}
	for i, p := range pats {
		q := " | grep "
		if i == len(pats)-1 {
			q = " | grep -q "
		}
		show += q + lab.ShellJoin([]string{p})
	}
	return show
}
