package probe

import (
	"context"
	"net/netip"
	"sync"
	"testing"
)

// Benchmarks of the native prober (`make bench`). A namespace with loopback
// up is enough: the kernel answers echo requests to 127.0.0.1 itself.

// benchPinger returns a pinger in a fresh namespace with lo up.
func benchPinger(b *testing.B) *Pinger {
	b.Helper()
	return newPinger(b, newNS(b))
}

var loopback = netip.MustParseAddr("127.0.0.1")

// BenchmarkPing is one probe (request, reply, result) at a time.
func BenchmarkPing(b *testing.B) {
	p := benchPinger(b)
	b.ReportAllocs()
	for b.Loop() {
		if r := p.Ping(context.Background(), loopback, Options{}); r.Outcome != Reply {
			b.Fatal(r.Detail)
		}
	}
}

// BenchmarkPingConcurrent keeps 256 probes in flight on one socket, as a
// script's expectations from one namespace do.
func BenchmarkPingConcurrent(b *testing.B) {
	p := benchPinger(b)
	b.ReportAllocs()
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	for b.Loop() {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if r := p.Ping(context.Background(), loopback, Options{}); r.Outcome != Reply {
				b.Error(r.Detail)
			}
		}()
	}
	wg.Wait()
}

// BenchmarkNewPinger opens the raw socket of a namespace and starts its
// reader (once per source namespace of a run).
func BenchmarkNewPinger(b *testing.B) {
	fd := newNS(b)
	b.ReportAllocs()
	for b.Loop() {
		p, err := NewPinger(fd)
		if err != nil {
			b.Fatal(err)
		}
		p.Close()
	}
}

// BenchmarkParseICMP decodes one echo reply, as the reader does per packet.
func BenchmarkParseICMP(b *testing.B) {
	msg := []byte{0, 0, 0, 0, 0x12, 0x34, 0, 7, 1, 2, 3, 4}
	src := netip.MustParseAddr("10.0.0.2")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, ok := parseICMP(msg, src, 0x1234, false); !ok {
			b.Fatal("not parsed")
		}
	}
}
