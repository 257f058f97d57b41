package lab

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/nsscript/nsscript/internal/probe"
)

// Ping sends ICMP echo requests from src to dst once the lab's links have
// settled. It never fails the run: trouble is reported in the result.
func (l *Lab) Ping(ctx context.Context, src *Netns, dst netip.Addr, o probe.Options) probe.Result {
	if l.opts.Plan {
		return probe.Result{Outcome: probe.Reply, Detail: "planned"}
	}
	l.Settle(ctx)
	l.probed.Store(true)
	l.neigh.watch.start()
	l.PrepareNeigh(src, dst)
	p, err := src.Pinger()
	if err != nil {
		return probe.Result{Outcome: probe.NoRoute, Detail: fmt.Sprintf("open icmp socket in netns %q: %v", src.Name, err)}
	}
	res := p.Ping(ctx, dst, o)
	if res.Outcome != probe.Reply {
		if note := l.neigh.watch.note(); note != "" {
			res.Detail += " (" + note + ")"
		}
	}
	return res
}

// Note records a step that changes nothing in the kernel, such as a probe,
// so that explain and -v show its shell equivalent in script order.
func (l *Lab) Note(s Step) { l.apply(s, nil) }

// PingCmd is the shell equivalent of a probe, for explain: count requests,
// timeoutSec to wait for each reply (-W), and, for more than one request,
// interval between them (-i; ping's own default is 1s).
func PingCmd(src *Netns, dst netip.Addr, count, timeoutSec int, interval time.Duration) string {
	i := ""
	if count > 1 {
		i = " -i" + strconv.FormatFloat(interval.Seconds(), 'f', -1, 64)
	}
	return inNS(src, fmt.Sprintf("ping -c%d -W%d%s %s", count, timeoutSec, i, dst))
}
