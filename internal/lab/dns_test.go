package lab

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/nsscript/nsscript/internal/nsutil"
)

// fakeDNS answers A queries from names (name -> address), AAAA with no
// data, and other names with NXDOMAIN; ignore names get no answer at all.
// It listens on 127.0.0.1 in n and returns its port.
func fakeDNS(t *testing.T, n *Netns, names map[string]string, ignore string) uint16 {
	var c *net.UDPConn
	err := nsutil.Do(n.fd, func() error {
		var err error
		c, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			k, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			var m dnsmessage.Message
			if m.Unpack(buf[:k]) != nil || len(m.Questions) != 1 {
				continue
			}
			q := m.Questions[0]
			name := strings.TrimSuffix(q.Name.String(), ".")
			if name == ignore {
				continue
			}
			m.Response = true
			addr, ok := names[name]
			switch {
			case !ok:
				m.RCode = dnsmessage.RCodeNameError
			case q.Type == dnsmessage.TypeA:
				a := netip.MustParseAddr(addr).As4()
				m.Answers = []dnsmessage.Resource{{Header: dnsmessage.ResourceHeader{Name: q.Name, Type: q.Type, Class: q.Class, TTL: 60},
					Body: &dnsmessage.AResource{A: a}}}
			}
			b, _ := m.Pack()
			c.WriteToUDP(b, from)
		}
	}()
	return uint16(c.LocalAddr().(*net.UDPAddr).Port)
}

// TestResolve: a lookup from a namespace asks the server given (no search
// list, no resolv.conf) and tells an address, NXDOMAIN, a server that does
// not answer and a port where nothing listens apart.
func TestResolve(t *testing.T) {
	l := newLab(t, Options{})
	n, err := l.NewNetns("c1")
	if err != nil {
		t.Fatal(err)
	}
	port := fakeDNS(t, n, map[string]string{"web": "10.0.0.5"}, "slow")
	server := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
	ctx := context.Background()

	ans, err := Resolve(ctx, n, server, "web", time.Second)
	if err != nil || ans.String() != "10.0.0.5" || ans.RCode != "NOERROR" {
		t.Errorf("web: got %v (%s), %v; want 10.0.0.5", ans, ans.RCode, err)
	}
	ans, err = Resolve(ctx, n, server, "nope.", time.Second)
	if err != nil || ans.Found() || ans.String() != "NXDOMAIN" {
		t.Errorf("nope: got %v, %v; want NXDOMAIN", ans, err)
	}
	_, err = Resolve(ctx, n, server, "slow", 300*time.Millisecond)
	if err == nil || err.Error() != "no answer from "+server.String()+" within 300ms" {
		t.Errorf("slow: err = %v", err)
	}
	// The same port in another namespace has no server: the lookup is made
	// from the namespace given, not from the test's.
	other, err := l.NewNetns("c2")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Resolve(ctx, other, server, "web", 2*time.Second)
	if err == nil || !strings.Contains(err.Error(), "no DNS server at "+server.String()) {
		t.Errorf("from c2: err = %v, want port unreachable", err)
	}
}

// TestCheckDNSName: names that cannot be asked are refused before a query.
func TestCheckDNSName(t *testing.T) {
	for _, bad := range []string{"", ".", strings.Repeat("a", 64) + ".lab"} {
		if CheckDNSName(bad) == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	for _, good := range []string{"c1", "c1.lab.", "web-1.example"} {
		if err := CheckDNSName(good); err != nil {
			t.Errorf("%q: %v", good, err)
		}
	}
}
