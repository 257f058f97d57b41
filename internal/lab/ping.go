package lab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/nsscript/nsscript/internal/probe"
)

// beforeProbe is what every probe from src to dst waits for and prepares,
// whatever its protocol: the links set up since the last probe carry packets
// and their addresses are usable (Settle), and, in static neighbour mode,
// the path there and back has permanent neighbour entries (prepareNeigh).
// dst may be invalid when the probe's address is not known (then only the
// links settle). It also starts watching the neighbour table, for afterProbe.
func (l *Lab) beforeProbe(ctx context.Context, src *Netns, dst netip.Addr) {
	l.Settle(ctx)
	l.probed.Store(true)
	l.neigh.watch.start()
	if dst.IsValid() {
		l.prepareNeigh(src, dst.Unmap())
	}
}

// afterProbe adds to a failed probe's detail what the neighbour table
// watch saw meanwhile (an overflow that dropped its ARP requests).
func (l *Lab) afterProbe(ok bool, detail *string) {
	if ok {
		return
	}
	if note := l.neigh.watch.note(); note != "" {
		*detail += " (" + note + ")"
	}
}

// Ping sends ICMP echo requests from src to dst once the lab is ready for
// the probe (beforeProbe). It never fails the run: trouble is reported in
// the result.
func (l *Lab) Ping(ctx context.Context, src *Netns, dst netip.Addr, o probe.Options) (res probe.Result) {
	// res is filled in place: a probe's goroutine runs this, and every
	// Result the frame holds makes its stack bigger (see BENCHMARKS.md).
	if l.opts.Plan {
		res.Outcome, res.Detail, res.Src = probe.Reply, "planned", o.Src
		return res
	}
	l.beforeProbe(ctx, src, dst)
	p, err := src.Pinger()
	if err != nil {
		res.Outcome, res.Detail = probe.NoRoute, fmt.Sprintf("open icmp socket in netns %q: %v", src.Name, err)
		return res
	}
	res = p.Ping(ctx, dst, o)
	l.afterProbe(res.Outcome == probe.Reply, &res.Detail)
	return res
}

// Connect probes addr ("ip:port") over tcp or udp from namespace src once
// the lab is ready for the probe (see probe.Connect).
func (l *Lab) Connect(ctx context.Context, src *Netns, proto, addr string, timeout time.Duration) probe.ConnResult {
	return l.ConnectFrom(ctx, src, netip.Addr{}, proto, addr, timeout)
}

// ConnectFrom is Connect from the source address from, one of src's
// addresses (see HasAddr); an invalid from lets the route choose.
func (l *Lab) ConnectFrom(ctx context.Context, src *Netns, from netip.Addr, proto, addr string, timeout time.Duration) probe.ConnResult {
	if l.opts.Plan {
		return probe.ConnResult{OK: true, Outcome: probe.Reply, Detail: "planned", Src: from}
	}
	ap, _ := netip.ParseAddrPort(addr) // probe.Connect words a bad one
	l.beforeProbe(ctx, src, ap.Addr())
	res := probe.ConnectFrom(ctx, src.fd, from, proto, addr, timeout)
	l.afterProbe(res.OK, &res.Detail)
	return res
}

// HTTPGet fetches rawURL from namespace src once the lab is ready for the
// probe (see probe.HTTPGet).
func (l *Lab) HTTPGet(ctx context.Context, src *Netns, rawURL string, timeout time.Duration) (int, []byte, probe.ConnResult) {
	return l.HTTPGetFrom(ctx, src, netip.Addr{}, rawURL, timeout)
}

// HTTPGetFrom is HTTPGet from the source address from, one of src's
// addresses; an invalid from lets the route choose.
func (l *Lab) HTTPGetFrom(ctx context.Context, src *Netns, from netip.Addr, rawURL string, timeout time.Duration) (int, []byte, probe.ConnResult) {
	if l.opts.Plan {
		return 200, nil, probe.ConnResult{OK: true, Outcome: probe.Reply, Detail: "planned", Src: from}
	}
	var dst netip.Addr
	if u, err := url.Parse(rawURL); err == nil {
		dst, _ = netip.ParseAddr(u.Hostname())
	}
	l.beforeProbe(ctx, src, dst)
	status, body, res := probe.HTTPGetFrom(ctx, src.fd, from, rawURL, timeout)
	l.afterProbe(res.OK, &res.Detail)
	return status, body, res
}

// HasAddr reports whether a is an address of the namespace: one the lab
// added, or, outside a plan, one the kernel has there (added by a program,
// a DHCP client, or 127.0.0.1 on lo). A probe's source must be one.
func (n *Netns) HasAddr(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	for _, p := range n.Addrs() {
		if p.Addr() == a {
			return true
		}
	}
	if n.lab.opts.Plan || n.h == nil {
		return a.IsLoopback()
	}
	all, err := retryDump(func() ([]netlink.Addr, error) { return n.h.AddrList(nil, netlink.FAMILY_ALL) })
	if err != nil {
		return false
	}
	for _, ad := range all {
		if x, ok := netip.AddrFromSlice(ad.IP); ok && x.Unmap() == a {
			return true
		}
	}
	return false
}

// Transfer sends n bytes from src to a tcp server at dst and port and
// checks that they come back (see probe.Transfer), once the lab is ready
// for the probe. With server set, the lab starts a built-in tcp server in
// that namespace on dst (any free port) for the time of the transfer.
func (l *Lab) Transfer(ctx context.Context, src *Netns, server *Netns, dst netip.Addr, port int, n int64, timeout time.Duration) probe.ConnResult {
	if l.opts.Plan {
		return probe.ConnResult{OK: true, Outcome: probe.Reply, Bytes: n, Detail: "planned"}
	}
	l.beforeProbe(ctx, src, dst)
	addr := net.JoinHostPort(dst.String(), strconv.Itoa(port))
	if server != nil {
		srv, err := probe.Serve(server.fd, "tcp", net.JoinHostPort(dst.String(), "0"))
		if err != nil {
			return probe.ConnResult{Outcome: probe.NoRoute, Detail: fmt.Sprintf("start a tcp server in netns %q: %v", server.Name, err)}
		}
		defer srv.Close()
		addr = srv.Addr()
	}
	res := probe.Transfer(ctx, src.fd, addr, n, timeout)
	l.afterProbe(res.OK, &res.Detail)
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
