package lab

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/nsscript/nsscript/internal/probe"
)

// Traceroute finds the routers from src to dst once the lab is ready for the
// probe (see probe.Pinger.Traceroute). It never fails the run: trouble is
// reported in the trace's detail.
func (l *Lab) Traceroute(ctx context.Context, src *Netns, dst netip.Addr, o probe.TraceOptions) probe.Trace {
	if l.opts.Plan {
		return probe.Trace{Reached: true, Detail: "planned"}
	}
	l.beforeProbe(ctx, src, dst)
	p, err := src.Pinger()
	if err != nil {
		return probe.Trace{Detail: fmt.Sprintf("open icmp socket in netns %q: %v", src.Name, err)}
	}
	tr := p.Traceroute(ctx, dst, o)
	l.afterProbe(tr.Reached, &tr.Detail)
	return tr
}

// Owner returns the namespace where the lab added address a, or nil when no
// lab namespace has it.
func (l *Lab) Owner(a netip.Addr) *Netns {
	a = a.Unmap().WithZone("")
	for _, n := range l.Namespaces() {
		for _, p := range n.Addrs() {
			if p.Addr() == a {
				return n
			}
		}
	}
	return nil
}

// TracerouteCmd is the shell equivalent of a trace, for explain.
func TracerouteCmd(src *Netns, dst netip.Addr, udp bool, maxHops, timeoutSec int) string {
	mode := " -I"
	if udp {
		mode = ""
	}
	return inNS(src, "traceroute -n"+mode+" -m "+strconv.Itoa(maxHops)+" -w "+strconv.Itoa(timeoutSec)+" "+dst.String())
}
