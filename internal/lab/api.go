package lab

import (
	"sync"

	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/probe"
)

// The probe options and results that the lab's probe methods take and
// return. They are the prober's own types: builtins reach probes only
// through the lab (and so through its one "before a probe" path) and name
// these, never the socket package itself.
type (
	ProbeOptions = probe.Options
	ProbeResult  = probe.Result
	ConnResult   = probe.ConnResult
	TraceOptions = probe.TraceOptions
	Trace        = probe.Trace
	Hop          = probe.Hop
	Packet       = probe.Packet
	PacketMatch  = probe.PacketMatch
)

// Reply is the outcome of a probe that was answered.
const Reply = probe.Reply

// Routing table numbers and address families as the kernel numbers them,
// for the script's names ("main", "local", ...) and for route families.
const (
	TableMain    = unix.RT_TABLE_MAIN
	TableLocal   = unix.RT_TABLE_LOCAL
	TableDefault = unix.RT_TABLE_DEFAULT
	TableAll     = unix.RT_TABLE_UNSPEC
	FamilyV4     = unix.AF_INET
	FamilyV6     = unix.AF_INET6
)

// front holds the one value a front end (the Starlark builtins) made for a
// lab object, so that the object keeps one identity however a script
// reaches it: by the value a builtin returned, through another object's
// attribute, or by name.
type front struct {
	once sync.Once
	v    any
}

func (f *front) get(mk func() any) any {
	f.once.Do(func() { f.v = mk() })
	return f.v
}

// Front returns the front end's value for n, made by mk on first use.
func (n *Netns) Front(mk func() any) any { return n.front.get(mk) }

// Front returns the front end's value for lk, made by mk on first use.
func (lk *Link) Front(mk func() any) any { return lk.front.get(mk) }
