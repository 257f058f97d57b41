package builtins

import (
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/nsscript/nsscript/internal/lab"
)

// Service is the Starlark value of a built-in server started by serve().
type Service struct {
	run *Run
	s   *lab.Service
}

var _ starlark.HasAttrs = (*Service)(nil)

func (s *Service) String() string {
	return fmt.Sprintf("<service %s %s in %s>", s.s.Proto, s.s.Addr(), s.s.NS.Name)
}
func (s *Service) Type() string          { return "service" }
func (s *Service) Freeze()               {}
func (s *Service) Truth() starlark.Bool  { return true }
func (s *Service) Hash() (uint32, error) { return identityHash(s) }

var serviceAttrs = []string{"addr", "close", "ns", "peers", "port", "proto"}

// AttrNames implements starlark.HasAttrs.
func (s *Service) AttrNames() []string { return serviceAttrs }

// Attr implements starlark.HasAttrs.
func (s *Service) Attr(name string) (starlark.Value, error) {
	switch name {
	case "ns":
		return NetnsValue(s.s.NS), nil
	case "proto":
		return starlark.String(s.s.Proto), nil
	case "addr":
		return starlark.String(s.s.Addr()), nil
	case "port":
		return starlark.MakeInt(s.s.Port()), nil
	case "peers":
		s.run.Flush() // the probes queued before this line have connected
		var vs []starlark.Value
		for _, p := range s.s.Peers() {
			vs = append(vs, starlark.String(p))
		}
		return starlark.NewList(vs), nil
	case "close":
		return starlark.NewBuiltin("close", s.close), nil
	}
	return nil, nil
}

func (s *Service) close(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	return call(s.run, b.Name(), true, t, func() (starlark.Value, error) {
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
			return nil, err
		}
		return starlark.None, s.s.Close()
	})
}

// listenArg unpacks where a server listens: ":8080", "10.0.0.2:8080" or a
// port number.
type listenArg struct{ addr string }

// Unpack implements starlark.Unpacker.
func (a *listenArg) Unpack(v starlark.Value) error {
	switch v := v.(type) {
	case starlark.String:
		a.addr = string(v)
		return nil
	case starlark.Int:
		p := intIn("port", 0, 65535, 0)
		if err := p.Unpack(v); err != nil {
			return err
		}
		a.addr = ":" + strconv.Itoa(p.n)
		return nil
	}
	return fmt.Errorf("got %s, want address string such as \":8080\" or a port number", v.Type())
}

// fnServe implements serve(ns, proto, addr).
func fnServe(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		ns    = nsArg{run: r}
		proto string
		addr  listenArg
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "ns", &ns, "proto", &proto, "addr", &addr); err != nil {
		return nil, err
	}
	s, err := r.Lab.Serve(ns.ns, proto, addr.addr)
	if err != nil {
		return nil, err
	}
	r.Defer(func() { s.Close() })
	return &Service{run: r, s: s}, nil
}

// connTarget unpacks what a connection probe aims at: "10.0.0.2:8080" or a
// service value (its own address, or its namespace's first address when it
// listens on all of them).
type connTarget struct {
	addr  netip.AddrPort
	proto string // the service's transport, when given a service
	label string
}

// Unpack implements starlark.Unpacker.
func (a *connTarget) Unpack(v starlark.Value) error {
	switch v := v.(type) {
	case starlark.String:
		ap, ok := parseIPPort(string(v))
		if !ok || ap.Port() == 0 {
			return fmt.Errorf("invalid address %q (want \"IP:PORT\", e.g. \"10.0.0.2:8080\")", string(v))
		}
		a.addr = ap
		a.label = a.addr.String()
		return nil
	case *Service:
		ap, ok := parseIPPort(v.s.Addr())
		ip := ap.Addr()
		if !ok || ip.IsUnspecified() {
			first, ok := v.s.NS.FirstAddr()
			if !ok {
				return fmt.Errorf("netns %q of %s has no address to connect to", v.s.NS.Name, v.String())
			}
			ip = first
		}
		a.addr = netip.AddrPortFrom(ip, uint16(v.s.Port()))
		a.proto = v.s.Proto
		if a.proto == "http" {
			a.proto = "tcp"
		}
		a.label = fmt.Sprintf("%s (%s)", v.s.NS.Name, a.addr)
		return nil
	}
	return fmt.Errorf("got %s, want \"IP:PORT\" string or service", v.Type())
}

// connArgs unpacks the arguments of connect and expect_(no_)connect.
// from, the source address, is resolved for the target.
func connArgs(r *Run, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple, seen *dstArg) (src *lab.Netns, from netip.Addr, dst connTarget, proto string, timeout time.Duration, err error) {
	ns := nsArg{run: r}
	to := durationArg{time.Second}
	var fromArg srcAddrArg
	params := []any{"src", &ns, "addr", &dst, "proto?", &proto, "timeout?", &to}
	if seen != nil {
		params = append(params, "seen_as??", seen)
	}
	params = append(params, "src_addr??", &fromArg)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, params...); err != nil {
		return nil, from, dst, "", 0, err
	}
	if from, err = fromArg.resolve(ns.ns, dst.addr.Addr()); err != nil {
		return nil, from, dst, "", 0, err
	}
	if proto == "" {
		proto = dst.proto
	}
	switch proto {
	case "":
		proto = "tcp"
	case "tcp", "udp":
	default:
		return nil, from, dst, "", 0, fmt.Errorf("invalid proto %q (want tcp or udp)", proto)
	}
	return ns.ns, from, dst, proto, to.d, nil
}

// fnConnect implements connect(src, addr, proto="tcp", timeout="1s", src_addr=None).
func fnConnect(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	src, from, dst, proto, timeout, err := connArgs(r, b, args, kwargs, nil)
	if err != nil {
		return nil, err
	}
	r.Lab.Note(lab.Step{NS: src.Name, Op: "connect", Desc: fmt.Sprintf("connect %s -> %s (%s)%s", src.Name, dst.label, proto, fromText(from)),
		Cmds: []string{ncFrom(lab.ConnectCmd(src, proto, dst.addr, ceilSeconds(timeout), netip.Addr{}), from) + " || true"}})
	res := r.Lab.ConnectFrom(r.Ctx, src, from, proto, dst.addr.String(), timeout)
	return connValue("connect_result", res, nil), nil
}

// ncFrom adds the source address from, when valid, to an nc command line
// (nc -s ADDR).
func ncFrom(cmd string, from netip.Addr) string {
	if !from.IsValid() {
		return cmd
	}
	return strings.Replace(cmd, " nc ", " nc -s "+from.String()+" ", 1)
}

// curlFrom adds the source address from, when valid, to each curl command
// line (curl --interface ADDR).
func curlFrom(cmds []string, from netip.Addr) []string {
	if !from.IsValid() {
		return cmds
	}
	for i, c := range cmds {
		cmds[i] = strings.ReplaceAll(c, "curl ", "curl --interface "+from.String()+" ")
	}
	return cmds
}

func connValue(name string, res lab.ConnResult, extra starlark.StringDict) starlark.Value {
	d := starlark.StringDict{
		"ok":      starlark.Bool(res.OK),
		"outcome": starlark.String(res.Outcome.String()),
		"detail":  starlark.String(res.Detail),
		"peer":    starlark.String(res.Peer),
		"elapsed": starlark.Float(float64(res.Elapsed) / float64(time.Millisecond)),
		"bytes":   starlark.MakeInt64(res.Bytes),
		"src":     addrOrNone(res.Src),
	}
	for k, v := range extra {
		d[k] = v
	}
	return starlarkstruct.FromStringDict(starlark.String(name), d)
}

// fnExpectConnect implements expect_connect(src, addr, proto="tcp", seen_as=None, timeout="1s", src_addr=None).
func fnExpectConnect(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var seenAs dstArg
	src, from, dst, proto, timeout, err := connArgs(r, b, args, kwargs, &seenAs)
	if err != nil {
		return nil, err
	}
	seen := seenAs.addr
	what := fmt.Sprintf("%s -> %s (%s)%s", src.Name, dst.label, proto, fromText(from))
	cmds := []string{ncFrom(lab.ConnectCmd(src, proto, dst.addr, ceilSeconds(timeout), seen), from)}
	if seen.IsValid() {
		cmds = append(cmds, lab.SeenCmd(proto, seen))
	}
	queueExpect(r, t, b, src, dst.addr.Addr(), what, cmds, func(e *Expectation) {
		e.From = from
		res := r.Lab.ConnectFrom(r.Ctx, src, from, proto, dst.addr.String(), timeout)
		e.OK, e.Detail, e.Cut = res.OK, res.Detail, res.Cut
		if res.OK && seen.IsValid() {
			e.OK, e.Detail = checkSeen(res, seen)
		}
	})
	return starlark.None, nil
}

// fnExpectNoConnect implements expect_no_connect(src, addr, proto="tcp", timeout="1s", src_addr=None).
func fnExpectNoConnect(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	src, from, dst, proto, timeout, err := connArgs(r, b, args, kwargs, nil)
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("%s -> %s (%s)%s", src.Name, dst.label, proto, fromText(from))
	cmd := "! " + ncFrom(lab.ConnectCmd(src, proto, dst.addr, ceilSeconds(timeout), netip.Addr{}), from) + " || exit 1"
	queueExpect(r, t, b, src, dst.addr.Addr(), what, []string{cmd}, func(e *Expectation) {
		e.From = from
		res := r.Lab.ConnectFrom(r.Ctx, src, from, proto, dst.addr.String(), timeout)
		e.OK, e.Detail, e.Cut = !res.OK, res.Detail, res.Cut
		if res.OK {
			e.Detail = "got " + res.Detail
		}
	})
	return starlark.None, nil
}

// checkSeen compares the client address a built-in server reported with
// want: the proof that NAT rewrote (or kept) the source.
func checkSeen(res lab.ConnResult, want netip.Addr) (bool, string) {
	if res.Peer == "" {
		return false, res.Detail + ", but the server did not report the address it saw (is it a built-in server, from serve()?)"
	}
	ap, ok := parseIPPort(res.Peer)
	if !ok {
		return false, res.Detail + ", but the server reported " + res.Peer
	}
	if got := ap.Addr(); got != want {
		return false, fmt.Sprintf("%s, but the server saw %s, not %s", strings.TrimSuffix(res.Detail, " (seen as "+res.Peer+")"), got, want)
	}
	return true, res.Detail
}

// urlArg unpacks an http URL whose host is an IP literal.
type urlArg struct {
	url  string
	host netip.Addr
}

// Unpack implements starlark.Unpacker.
func (a *urlArg) Unpack(v starlark.Value) error {
	s, ok := starlark.AsString(v)
	if !ok {
		return fmt.Errorf("got %s, want URL string such as \"http://10.0.0.2:8080/\"", v.Type())
	}
	u, err := url.Parse(s)
	bad := fmt.Errorf("invalid url %q (want http://IP:PORT/PATH; a lab has no DNS)", s)
	if err != nil || u.Scheme != "http" {
		return bad
	}
	ip, ok := parseIP(u.Hostname())
	if !ok {
		return bad
	}
	a.url, a.host = s, ip
	return nil
}

// httpArgs unpacks the arguments shared by http_get and expect_(no_)http;
// from, the source address, is resolved for the URL's host.
func httpArgs(r *Run, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple, more ...any) (*lab.Netns, netip.Addr, urlArg, time.Duration, error) {
	var (
		ns   = nsArg{run: r}
		u    urlArg
		to   = durationArg{time.Second}
		from srcAddrArg
	)
	params := append([]any{"src", &ns, "url", &u}, more...)
	params = append(params, "timeout?", &to, "src_addr??", &from)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, params...); err != nil {
		return nil, netip.Addr{}, u, 0, err
	}
	src, err := from.resolve(ns.ns, u.host)
	if err != nil {
		return nil, src, u, 0, err
	}
	return ns.ns, src, u, to.d, nil
}

// fnHTTPGet implements http_get(src, url, timeout="1s", src_addr=None).
func fnHTTPGet(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	src, from, u, timeout, err := httpArgs(r, b, args, kwargs)
	if err != nil {
		return nil, err
	}
	r.Lab.Note(lab.Step{NS: src.Name, Op: "http", Desc: "http_get " + src.Name + " -> " + u.url + fromText(from),
		Cmds: []string{curlFrom(lab.HTTPCmds(src, u.url, ceilSeconds(timeout), 0, "", netip.Addr{}), from)[0] + " || true"}})
	status, body, res := r.Lab.HTTPGetFrom(r.Ctx, src, from, u.url, timeout)
	return connValue("http_result", res, starlark.StringDict{
		"status": starlark.MakeInt(status),
		"body":   starlark.String(body),
	}), nil
}

// fnExpectHTTP implements expect_http(src, url, status=200, body_contains=None, seen_as=None, timeout="1s", src_addr=None).
func fnExpectHTTP(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		status   = intIn("status", 0, math.MaxInt32, 200)
		contains string
		seenAs   dstArg
	)
	src, from, u, timeout, err := httpArgs(r, b, args, kwargs, "status?", &status, "body_contains??", &contains, "seen_as??", &seenAs)
	if err != nil {
		return nil, err
	}
	if status.n != 0 && (status.n < 100 || status.n > 599) {
		return nil, fmt.Errorf("invalid status %d (want 100 to 599, or 0 for any)", status.n)
	}
	seen := seenAs.addr
	cmds := curlFrom(lab.HTTPCmds(src, u.url, ceilSeconds(timeout), status.n, contains, seen), from)
	queueExpect(r, t, b, src, u.host, src.Name+" -> "+u.url+fromText(from), cmds, func(e *Expectation) {
		e.From = from
		got, body, res := r.Lab.HTTPGetFrom(r.Ctx, src, from, u.url, timeout)
		e.Detail, e.Cut = res.Detail, res.Cut
		switch {
		case !res.OK:
		case status.n != 0 && got != status.n:
			e.Detail = fmt.Sprintf("got status %d, want %d", got, status.n)
		case contains != "" && !strings.Contains(string(body), contains):
			e.Detail = fmt.Sprintf("body does not contain %q (it starts %q)", contains, bodyHead(body, 60))
		case seen.IsValid():
			e.OK, e.Detail = checkSeen(res, seen)
		default:
			e.OK = true
		}
	})
	return starlark.None, nil
}

// fnExpectNoHTTP implements expect_no_http(src, url, timeout="1s", src_addr=None).
func fnExpectNoHTTP(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	src, from, u, timeout, err := httpArgs(r, b, args, kwargs)
	if err != nil {
		return nil, err
	}
	cmds := curlFrom(lab.HTTPCmds(src, u.url, ceilSeconds(timeout), 0, "", netip.Addr{}), from)
	cmds[0] = "! " + strings.TrimSuffix(cmds[0], " >/dev/null") + " >/dev/null 2>&1 || exit 1"
	queueExpect(r, t, b, src, u.host, src.Name+" -> "+u.url+fromText(from), cmds, func(e *Expectation) {
		e.From = from
		_, _, res := r.Lab.HTTPGetFrom(r.Ctx, src, from, u.url, timeout)
		e.OK, e.Detail, e.Cut = !res.OK, res.Detail, res.Cut
		if res.OK {
			e.Detail = "got " + res.Detail
		}
	})
	return starlark.None, nil
}

// bodyHead returns the first n bytes of b as a string.
func bodyHead(b []byte, n int) string {
	return string(b[:min(len(b), n)])
}
