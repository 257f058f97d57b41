package lab

import (
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
