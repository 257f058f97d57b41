package lab

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/nsscript/nsscript/internal/nsutil"
)

// DNS lookups from a namespace, natively: A and AAAA queries on a UDP
// socket opened inside the namespace, asked of one server (no resolv.conf,
// no search list: a lab has its own server, and the machine's settings must
// not leak in).

// DNSPort is the port DNS servers answer on.
const DNSPort = 53

// DNSAnswer is a server's answer to a lookup of a name.
type DNSAnswer struct {
	Addrs []netip.Addr // A records, then AAAA records
	RCode string       // "NOERROR", "NXDOMAIN", "REFUSED", "SERVFAIL", ...
}

// Found reports whether the answer has addresses.
func (a DNSAnswer) Found() bool { return len(a.Addrs) > 0 }

// String describes the answer for a message: "10.0.0.2", "NXDOMAIN",
// "NOERROR, no address".
func (a DNSAnswer) String() string {
	if len(a.Addrs) == 0 {
		if a.RCode == "NOERROR" {
			return "NOERROR, no address"
		}
		return a.RCode
	}
	s := make([]string, len(a.Addrs))
	for i, ad := range a.Addrs {
		s[i] = ad.String()
	}
	return strings.Join(s, ", ")
}

// fqdn makes name absolute ("c1" -> "c1."), so that no search list applies.
func fqdn(name string) string {
	if strings.HasSuffix(name, ".") {
		return name
	}
	return name + "."
}

// CheckDNSName validates a name to look up.
func CheckDNSName(name string) error {
	if name == "" || name == "." {
		return errors.New("empty name")
	}
	bad := fmt.Errorf("invalid name %q (want labels of 1 to 63 letters, digits or -, joined by dots)", name)
	if len(name) > 253 || strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return bad
	}
	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if label == "" || len(label) > 63 {
			return bad
		}
	}
	return nil
}

// DigCmd is the shell equivalent of a lookup, for explain.
func DigCmd(n *Netns, server netip.AddrPort, name string) string {
	port := ""
	if server.Port() != DNSPort {
		port = fmt.Sprintf(" -p %d", server.Port())
	}
	return inNS(n, fmt.Sprintf("dig +short @%s%s %s", server.Addr(), port, shellQuote(name)))
}

// Resolve asks server, from namespace n, for the A and AAAA records of name
// and waits at most timeout (queries are sent again every 500ms). A server
// that does not answer is an error; NXDOMAIN is an answer.
func Resolve(ctx context.Context, n *Netns, server netip.AddrPort, name string, timeout time.Duration) (DNSAnswer, error) {
	qname, err := dnsmessage.NewName(fqdn(name))
	if err != nil {
		return DNSAnswer{}, fmt.Errorf("invalid name %q", name)
	}
	var c *net.UDPConn
	err = nsutil.Do(n.fd, func() error {
		var err error
		c, err = net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(server))
		return err
	})
	if err != nil {
		return DNSAnswer{}, fmt.Errorf("query %s: %w", server, err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	go func() {
		<-ctx.Done()
		c.SetReadDeadline(time.Now()) // ends the read below
	}()
	id := uint16(rand.Uint32()) &^ 1
	qs := map[uint16]dnsmessage.Type{id: dnsmessage.TypeA, id | 1: dnsmessage.TypeAAAA}
	got := map[dnsmessage.Type]*dnsmessage.Message{}
	stop, werr := sendQueries(ctx, c, qname, qs)
	defer stop()
	buf := make([]byte, 1500)
	for len(got) < len(qs) {
		k, err := c.Read(buf)
		if err != nil {
			if e := werr(); e != nil {
				err = e // the ICMP error came back to a write
			}
			return DNSAnswer{}, queryError(ctx, server, timeout, err)
		}
		var m dnsmessage.Message
		if m.Unpack(buf[:k]) != nil || !m.Response {
			continue
		}
		if t, ok := qs[m.ID]; ok {
			got[t] = &m
		}
	}
	return answerOf(got[dnsmessage.TypeA], got[dnsmessage.TypeAAAA]), nil
}

// sendQueries sends the queries now and every 500ms until ctx ends or stop
// is called. An ICMP error (port unreachable) is reported to whichever call
// on the socket comes next: when a write gets it, the sending stops, the
// read is woken, and werr returns it.
func sendQueries(ctx context.Context, c *net.UDPConn, name dnsmessage.Name, qs map[uint16]dnsmessage.Type) (stop func(), werr func() error) {
	var pkts [][]byte
	for id, t := range qs {
		m := dnsmessage.Message{
			Header:    dnsmessage.Header{ID: id, RecursionDesired: true},
			Questions: []dnsmessage.Question{{Name: name, Type: t, Class: dnsmessage.ClassINET}},
		}
		b, _ := m.Pack()
		pkts = append(pkts, b)
	}
	ctx, cancel := context.WithCancel(ctx)
	var failed atomic.Pointer[error]
	go func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			for _, p := range pkts {
				if _, err := c.Write(p); err != nil && !errors.Is(err, net.ErrClosed) {
					failed.Store(&err)
					c.SetReadDeadline(time.Now())
					return
				}
			}
			select {
			case <-t.C:
			case <-ctx.Done():
				return
			}
		}
	}()
	return cancel, func() error {
		if e := failed.Load(); e != nil {
			return *e
		}
		return nil
	}
}

// queryError says why no answer came.
func queryError(ctx context.Context, server netip.AddrPort, timeout time.Duration, err error) error {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("no DNS server at %s (port unreachable)", server)
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return fmt.Errorf("no route to DNS server %s", server)
	case ctx.Err() != nil:
		return fmt.Errorf("no answer from %s within %s", server, timeout)
	}
	return fmt.Errorf("query %s: %w", server, err)
}

// answerOf merges the replies to the A and AAAA queries.
func answerOf(a, aaaa *dnsmessage.Message) DNSAnswer {
	ans := DNSAnswer{RCode: rcodeName(a.RCode)}
	if a.RCode == dnsmessage.RCodeSuccess && aaaa.RCode != dnsmessage.RCodeSuccess {
		ans.RCode = rcodeName(aaaa.RCode)
	}
	for _, m := range []*dnsmessage.Message{a, aaaa} {
		for _, rr := range m.Answers {
			switch b := rr.Body.(type) {
			case *dnsmessage.AResource:
				ans.Addrs = append(ans.Addrs, netip.AddrFrom4(b.A))
			case *dnsmessage.AAAAResource:
				ans.Addrs = append(ans.Addrs, netip.AddrFrom16(b.AAAA))
			}
		}
	}
	if len(ans.Addrs) > 0 {
		ans.RCode = "NOERROR"
	}
	return ans
}

// rcodeName names a response code as dig prints it.
func rcodeName(c dnsmessage.RCode) string {
	switch c {
	case dnsmessage.RCodeSuccess:
		return "NOERROR"
	case dnsmessage.RCodeNameError:
		return "NXDOMAIN"
	case dnsmessage.RCodeServerFailure:
		return "SERVFAIL"
	case dnsmessage.RCodeRefused:
		return "REFUSED"
	case dnsmessage.RCodeFormatError:
		return "FORMERR"
	case dnsmessage.RCodeNotImplemented:
		return "NOTIMP"
	}
	return fmt.Sprintf("RCODE%d", c)
}
