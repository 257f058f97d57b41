package probe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// maxBody bounds the part of an HTTP body HTTPGet keeps in memory; the rest
// is read and counted but dropped, so that GET /bytes/1073741824 does not
// hold a gigabyte.
const maxBody = 16 << 20

// HTTPGet fetches url (whose host must be an IP literal) from inside the
// network namespace nsFD within timeout (1s when 0) and ctx. It reads the
// whole body: Bytes is its length, body its first 16 MiB. r.OK means a
// response was read completely, whatever its status; r.Peer is set when the
// body is a built-in server's "peer IP:PORT" line. Cut as with Connect.
func HTTPGet(ctx context.Context, nsFD int, url string, timeout time.Duration) (status int, body []byte, r ConnResult) {
	return HTTPGetFrom(ctx, nsFD, netip.Addr{}, url, timeout)
}

// HTTPGetFrom is HTTPGet from the source address src (curl --interface
// ADDR); an invalid src lets the route choose. r.Src is the source the
// connection had.
func HTTPGetFrom(ctx context.Context, nsFD int, src netip.Addr, url string, timeout time.Duration) (status int, body []byte, r ConnResult) {
	start := time.Now()
	// The transport dials on its own goroutine, which may outlive a
	// cancelled request.
	var (
		mu   sync.Mutex
		used netip.Addr
	)
	defer func() { mu.Lock(); r.Src = used; mu.Unlock() }()
	timeout = orDefault(timeout)
	defer markCut(&r, ctx, start)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialNS(ctx, nsFD, src, network, addr)
			if err == nil {
				mu.Lock()
				used = localAddr(c)
				mu.Unlock()
			}
			return c, err
		},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, ConnResult{Outcome: NoRoute, Detail: err.Error(), Elapsed: time.Since(start)}
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return 0, nil, failed(err, start, timeout)
	}
	defer resp.Body.Close()
	var buf bytesBuf
	n, err := io.Copy(&buf, resp.Body)
	if err != nil {
		r = failed(err, start, timeout)
		r.Bytes = n
		return resp.StatusCode, buf.b, r
	}
	r = ConnResult{OK: true, Outcome: Reply, Bytes: n, Elapsed: time.Since(start)}
	r.Detail = fmt.Sprintf("%s, %d bytes in %s", strings.ToLower(resp.Status), n, fmtDur(r.Elapsed))
	if line, _, _ := strings.Cut(string(buf.b[:min(len(buf.b), 128)]), "\n"); strings.HasPrefix(line, "peer ") {
		r.Peer = strings.TrimPrefix(line, "peer ")
		r.Detail += " (seen as " + r.Peer + ")"
	}
	return resp.StatusCode, buf.b, r
}

// bytesBuf keeps the first maxBody bytes written to it and drops the rest.
type bytesBuf struct{ b []byte }

func (w *bytesBuf) Write(p []byte) (int, error) {
	if room := maxBody - len(w.b); room > 0 {
		w.b = append(w.b, p[:min(len(p), room)]...)
	}
	return len(p), nil
}

// Transfer sends n bytes to the built-in tcp server at addr ("ip:port") from
// inside the network namespace nsFD and reads them back: the server echoes,
// so the data crosses the path once in each direction, and a rate limit on
// either direction bounds the transfer. Elapsed runs from the connection's
// establishment to the last byte echoed back, so n/Elapsed can be compared
// with a configured rate. Bytes counts the bytes echoed back, which are
// checked against what was sent; OK means all n came back. timeout (1s when
// 0) and ctx bound the whole transfer; cut as with Connect.
func Transfer(ctx context.Context, nsFD int, addr string, n int64, timeout time.Duration) (res ConnResult) {
	start := time.Now()
	timeout = orDefault(timeout)
	defer markCut(&res, ctx, start)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := dialNS(ctx, nsFD, netip.Addr{}, "tcp", addr)
	if err != nil {
		return failed(err, start, timeout)
	}
	defer c.Close()
	defer watch(ctx, c)()
	t0 := time.Now()

	br := bufio.NewReaderSize(c, 64<<10)
	line, err := br.ReadString('\n')
	peer, isPeer := strings.CutPrefix(strings.TrimSpace(line), "peer ")
	if err != nil || !isPeer {
		r := failed(fmt.Errorf("no greeting from the built-in tcp server: %w", orEOF(err)), start, timeout)
		if err == nil {
			r.Outcome, r.Detail = Unreachable, "not the built-in tcp server"
		}
		return r
	}

	werr := make(chan error, 1)
	go func() {
		werr <- sendPattern(c, n)
	}()
	got, rerr := checkPattern(br, n)
	elapsed := time.Since(t0)
	if rerr != nil {
		c.Close() // unblock the writer
	}
	if err := <-werr; err != nil && rerr == nil {
		rerr = err
	}
	if rerr != nil {
		r := failed(rerr, start, timeout)
		r.Peer, r.Bytes = peer, got
		r.Detail = fmt.Sprintf("%s after %d of %d bytes", r.Detail, got, n)
		return r
	}
	return ConnResult{
		OK: true, Outcome: Reply, Peer: peer, Bytes: got, Elapsed: elapsed,
		Detail: fmt.Sprintf("echoed %d bytes in %s (%s)", got, fmtDur(elapsed), fmtRate(got, elapsed)),
	}
}

func orEOF(err error) error {
	if err == nil {
		return io.ErrUnexpectedEOF
	}
	return err
}

// pattern is the data Transfer sends: byte i of the stream is pattern[i%251],
// a prime period so that shifted or dropped chunks do not line up. It is
// made on first use, not at program start.
var pattern = sync.OnceValue(func() []byte {
	b := make([]byte, 251*256)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
})

func sendPattern(c net.Conn, n int64) error {
	for off := int64(0); off < n; {
		start := off % 251
		p := pattern()
		k := min(n-off, int64(len(p))-start)
		w, err := c.Write(p[start : start+k])
		off += int64(w)
		if err != nil {
			return err
		}
	}
	if tc, ok := c.(*net.TCPConn); ok {
		return tc.CloseWrite()
	}
	return nil
}

// checkPattern reads n echoed bytes from r and checks them.
func checkPattern(r io.Reader, n int64) (int64, error) {
	buf := make([]byte, 64<<10)
	var got int64
	for got < n {
		k, err := r.Read(buf[:min(int64(len(buf)), n-got)])
		for i, b := range buf[:k] {
			if b != byte((got+int64(i))%251) {
				return got + int64(i), fmt.Errorf("echo differs at byte %d", got+int64(i))
			}
		}
		got += int64(k)
		if err != nil {
			if errors.Is(err, io.EOF) && got < n {
				return got, fmt.Errorf("connection closed: %w", io.ErrUnexpectedEOF)
			}
			if got < n {
				return got, err
			}
		}
	}
	return got, nil
}
