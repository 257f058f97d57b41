package builtins

import (
	"fmt"
	"sort"
	"strings"

	"github.com/nsscript/nsscript/lang"
	"go.starlark.net/starlark"
)

// Builtin describes one Starlark builtin of nsscript.
type Builtin struct {
	Name   string
	Sig    string // Starlark signature, "veth(name?, peer?, ns=host, ...)"
	Domain string // the file it lives in: netns, link, route, probe
	Doc    string // what it does; first sentence is the summary
	// Mutates is set for builtins that change the lab; expectations still
	// probing are finished before such a builtin runs.
	Mutates bool
	Fn      func(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error)
}

// Table lists every builtin, domain by domain. nsscript doc and the README's
// reference are generated from it.
var Table = []*Builtin{
	// netns.go
	{Name: "netns", Domain: "netns", Mutates: true, Fn: fnNetns,
		Sig: `netns(name, existing=False, path=None)`,
		Doc: `Creates a network namespace with loopback up and returns it. With existing=True it opens a namespace that something else made (a shell script run with run(), say) at /run/netns/NAME, or at path (a bind mount or /proc/PID/ns/net), and adopts its links and addresses.`},
	{Name: "host", Domain: "netns",
		Sig: `host`,
		Doc: `The lab's root namespace: in the sandbox, its private network namespace; with --host, the real host's. Not a function.`},
	// link.go
	{Name: "veth", Domain: "link", Mutates: true, Fn: fnVeth,
		Sig: `veth(name=None, peer=None, ns=host, peer_ns=host, mtu=None, mac=None, peer_mac=None, up=True)`,
		Doc: `Creates a veth pair and returns both ends as (link, peer). Each end may live in any namespace; names are generated when not given (ethN inside a namespace, vethN in host). Both ends are set up unless up=False.`},
	{Name: "bridge", Domain: "link", Mutates: true, Fn: fnBridge,
		Sig: `bridge(name, ns=host, addr=None, mtu=None, mac=None, up=True)`,
		Doc: `Creates a Linux bridge (STP off) in ns, optionally with one address or a list of them, and returns it. Attach ports with link.set(master=br).`},
	{Name: "link", Domain: "link", Fn: fnLink,
		Sig: `link(ns, name)`,
		Doc: `Returns the link called name in ns (one the lab made, or one found in an existing namespace).`},
	// route.go
	{Name: "route", Domain: "route", Mutates: true, Fn: fnRoute,
		Sig: `route(ns, dst, via=None, dev=None, metric=0)`,
		Doc: `Adds a route in ns. dst is a prefix ("10.0.0.0/24"), an address, "default" or "default6". At least one of via (gateway address) and dev (link) is needed.`},
	{Name: "sysctl", Domain: "route", Mutates: true, Fn: fnSysctl,
		Sig: `sysctl(ns, key, value=None)`,
		Doc: `Sets a network sysctl (net.* only) in ns and returns its previous value; without value, returns the current value.`},
	{Name: "forwarding", Domain: "route", Mutates: true, Fn: fnForwarding,
		Sig: `forwarding(ns, on=True)`,
		Doc: `Turns IPv4 and IPv6 forwarding on (or off) in ns: a router.`},
	// probe.go
	{Name: "ping", Domain: "probe", Fn: fnPing,
		Sig: `ping(src, dst, count=1, timeout="1s", interval="200ms")`,
		Doc: `Sends ICMP echo requests from namespace src to dst (an address, a namespace, which stands for its first address, or a link) and returns a result with ok, sent, received, rtt (milliseconds of the first reply), outcome and detail. Never fails the run.`},
	{Name: "expect_reachable", Domain: "probe", Fn: fnExpectReachable,
		Sig: `expect_reachable(src, dst, timeout="1s")`,
		Doc: `Expects an ICMP echo reply from dst to src within timeout. Records ok or FAIL with the script position and goes on; the run ends with "N passed, N failed" and exit status 1 if any failed. Probes run concurrently with the rest of the script and are re-sent while no reply came, so one lost first packet does not fail them.`},
	{Name: "expect_unreachable", Domain: "probe", Fn: fnExpectUnreachable,
		Sig: `expect_unreachable(src, dst, timeout="1s")`,
		Doc: `Expects no echo reply from dst to src. An ICMP error or a missing route settles it at once; only silence waits the timeout (all silent probes wait it together).`},
	// matrix.go (reachability matrix)

	// iface.go (macvlan, ipvlan, vlan, vxlan, tap, dummy)

	// nat.go (nftables NAT and filter rules)

	// service.go (built-in services and connection probes)

	// exec.go (run real programs in a namespace)

	// impair.go (delay, loss, rate)
}

// byName indexes Table.
var byName = func() map[string]*Builtin {
	m := map[string]*Builtin{}
	for _, b := range Table {
		m[b.Name] = b
	}
	return m
}()

// Lookup returns the builtin called name, or nil.
func Lookup(name string) *Builtin { return byName[name] }

// Predeclared returns the names a script sees in run r: every builtin, host,
// vars (the --set values as a dict) and each --set value by its own name.
func Predeclared(r *Run) starlark.StringDict {
	d := starlark.StringDict{}
	for _, b := range Table {
		if b.Fn == nil {
			continue
		}
		d[b.Name] = starlark.NewBuiltin(b.Name, wrap(b))
	}
	d["host"] = &Netns{r.Lab.Host}
	vars := starlark.NewDict(len(r.Vars))
	for _, k := range sortedKeys(r.Vars) {
		vars.SetKey(starlark.String(k), r.Vars[k])
		d[k] = r.Vars[k]
	}
	vars.Freeze()
	d["vars"] = vars
	return d
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// wrap adapts a table entry to a Starlark builtin: it records the caller's
// position for the lab's steps, finishes pending expectations before a
// change, and gives every error exactly one "name: " prefix.
func wrap(b *Builtin) func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return func(t *starlark.Thread, sb *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		r := runOf(t)
		if r == nil {
			return nil, fmt.Errorf("%s: no lab in this thread", b.Name)
		}
		v, err := call(r, b.Name, b.Mutates, t, func() (starlark.Value, error) { return b.Fn(r, t, sb, args, kwargs) })
		if err != nil {
			err = withHint(err, b.Sig)
		}
		return v, err
	}
}

// call runs fn as builtin (or method) name, with the bookkeeping of wrap.
func call(r *Run, name string, mutates bool, t *starlark.Thread, fn func() (starlark.Value, error)) (starlark.Value, error) {
	if err := r.Ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if mutates {
		r.Flush()
	}
	r.Lab.SetPos(lang.CallerPos(t))
	v, err := fn()
	if err != nil {
		if !strings.HasPrefix(err.Error(), name+": ") {
			err = fmt.Errorf("%s: %w", name, err)
		}
		return nil, err
	}
	return v, nil
}

// Doc returns the reference text of one builtin, or of all when name is "".
func Doc(name string) (string, error) {
	var b strings.Builder
	if name != "" {
		x := Lookup(name)
		if x == nil {
			if m, ok := methodDocs[name]; ok {
				return m + "\n", nil
			}
			return "", fmt.Errorf("no builtin %q (try nsscript doc for the list)", name)
		}
		fmt.Fprintf(&b, "%s\n\n%s\n", x.Sig, wrapText(x.Doc, 76, "    "))
		return b.String(), nil
	}
	domain := ""
	for _, x := range Table {
		if x.Domain != domain {
			domain = x.Domain
			fmt.Fprintf(&b, "\n## %s\n\n", domain)
		}
		fmt.Fprintf(&b, "%s\n%s\n\n", x.Sig, wrapText(x.Doc, 76, "    "))
	}
	fmt.Fprintf(&b, "\n## values\n\n")
	for _, k := range sortedKeys(methodDocs) {
		fmt.Fprintf(&b, "%s\n", methodDocs[k])
	}
	return strings.TrimLeft(b.String(), "\n"), nil
}

// wrapText folds s into lines of at most width, each with indent.
func wrapText(s string, width int, indent string) string {
	var b strings.Builder
	line := indent
	for _, w := range strings.Fields(s) {
		if len(line)+len(w)+1 > width && len(line) > len(indent) {
			b.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += w
	}
	b.WriteString(line)
	return b.String()
}
