// Package probe checks reachability from inside a network namespace and
// serves simple targets there.
//
// Every socket is created inside its namespace through nsutil.Do and is then
// used from ordinary goroutines: a socket stays bound to the namespace it was
// created in, so no thread ever has to stay switched while a probe waits.
//
// The probes are an ICMP echo Pinger (one per source namespace, shared by many
// concurrent probes), TCP and UDP connects, an HTTP GET and a TCP transfer.
// Serve starts the matching built-in tcp, udp and http responders, which report
// the peer address they saw, so a script can prove that masquerading happened.
package probe

import (
	"fmt"
	"strconv"
	"time"
)

// Outcome classifies how a probe ended.
type Outcome int

const (
	// Reply means the target answered: an echo reply arrived, a TCP
	// connection was established, or a UDP or HTTP answer came back.
	Reply Outcome = iota
	// Unreachable means an ICMP error (destination, host, network or port
	// unreachable, time exceeded, ...) or a TCP reset came back, so the
	// network actively refused the probe.
	Unreachable
	// NoRoute means the probe could not even be sent: the local stack
	// refused at once (no route, an unreachable or prohibit route, a local
	// filter).
	NoRoute
	// Timeout means nothing came back before the probe's deadline.
	Timeout
	// FragNeeded means a packet sent with DF was too big for a link on
	// the way: a router answered "fragmentation needed" (IPv4) or "packet
	// too big" (IPv6) with the link's MTU, or the local stack refused it.
	FragNeeded
)

// String returns the outcome's lowercase name: "reply", "unreachable",
// "no route", "timeout" or "frag needed".
func (o Outcome) String() string {
	switch o {
	case Reply:
		return "reply"
	case Unreachable:
		return "unreachable"
	case NoRoute:
		return "no route"
	case Timeout:
		return "timeout"
	case FragNeeded:
		return "frag needed"
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// fmtDur formats a short duration for humans, in milliseconds below one
// second ("0.31ms", "12.5ms") and through time.Duration above ("1.5s").
func fmtDur(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case ms >= 100:
		return msText(ms, 0)
	case ms >= 10:
		return msText(ms, 1)
	default:
		return msText(ms, 2)
	}
}

// msText is fmt.Sprintf("%.<prec>fms", ms) without fmt, whose frames would
// grow the stack of every probe's goroutine (each formats its reply time).
func msText(ms float64, prec int) string {
	var b [24]byte
	return string(append(strconv.AppendFloat(b[:0], ms, 'f', prec, 64), "ms"...))
}

// fmtRate formats a byte count over a duration as a bit rate.
func fmtRate(n int64, d time.Duration) string {
	if d <= 0 {
		return "inf"
	}
	bps := float64(n) * 8 / d.Seconds()
	switch {
	case bps >= 1e9:
		return fmt.Sprintf("%.2f Gbit/s", bps/1e9)
	case bps >= 1e6:
		return fmt.Sprintf("%.2f Mbit/s", bps/1e6)
	case bps >= 1e3:
		return fmt.Sprintf("%.2f kbit/s", bps/1e3)
	}
	return fmt.Sprintf("%.0f bit/s", bps)
}
