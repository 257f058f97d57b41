package builtins

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"go.starlark.net/starlark"
)

// This file is where builtins parse addresses, networks and MAC addresses:
// every argument that holds one goes through these functions (a test keeps
// it so), and each caller words its own error.

// parseIP parses an address without prefix length or zone, "10.0.0.1" or
// "fd00::1"; an IPv4-mapped IPv6 address becomes its IPv4 address.
func parseIP(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// parseIPPort parses "IP:PORT" ("10.0.0.2:80", "[fd00::2]:80") as parseIP
// parses the address; the caller decides whether port 0 is allowed.
func parseIPPort(s string) (netip.AddrPort, bool) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Addr().Zone() != "" {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
}

// ParsePrefix parses an interface address "10.0.0.1/24" or "fd00::1/64". A
// bare address gets a host prefix (/32 or /128).
func ParsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, ok := parseIP(s)
		if !ok {
			return netip.Prefix{}, fmt.Errorf("invalid address %q (want e.g. \"10.0.0.1/24\")", s)
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid address %q (want e.g. \"10.0.0.1/24\")", s)
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Errorf("invalid address %q: IPv4-mapped IPv6", s)
	}
	return p, nil
}

// ParseMAC parses a hardware address "02:00:00:00:00:01".
func ParseMAC(s string) (net.HardwareAddr, error) {
	m, err := net.ParseMAC(s)
	if err != nil || len(m) != 6 {
		return nil, fmt.Errorf("invalid mac address %q (want e.g. \"02:00:00:00:00:01\")", s)
	}
	return m, nil
}

// unpackAddr unpacks a string that holds an address with parse; example
// shows one in the error for a value of another type.
func unpackAddr[T any](v starlark.Value, example string, parse func(string) (T, error)) (T, error) {
	s, ok := starlark.AsString(v)
	if !ok {
		var zero T
		return zero, fmt.Errorf("got %s, want address string such as %q", v.Type(), example)
	}
	return parse(s)
}

func unpackPrefix(v starlark.Value) (netip.Prefix, error) {
	return unpackAddr(v, "10.0.0.1/24", ParsePrefix)
}

func unpackIP(v starlark.Value) (netip.Addr, error) {
	return unpackAddr(v, "192.168.0.2", func(s string) (netip.Addr, error) {
		a, ok := parseIP(s)
		if !ok {
			return a, fmt.Errorf("invalid address %q (want e.g. \"192.168.0.2\")", s)
		}
		return a, nil
	})
}

// addrsArg unpacks one interface address ("10.0.0.1/24") or a list of them.
type addrsArg struct{ ps []netip.Prefix }

// Unpack implements starlark.Unpacker.
func (a *addrsArg) Unpack(v starlark.Value) (err error) {
	a.ps, err = oneOrList(v, unpackPrefix)
	return err
}

// ipArg unpacks one IP address without a prefix length.
type ipArg struct{ addr netip.Addr }

// Unpack implements starlark.Unpacker.
func (a *ipArg) Unpack(v starlark.Value) (err error) {
	a.addr, err = unpackIP(v)
	return err
}

// ipsArg unpacks one IP address or a list of them.
type ipsArg struct{ addrs []netip.Addr }

// Unpack implements starlark.Unpacker.
func (a *ipsArg) Unpack(v starlark.Value) (err error) {
	a.addrs, err = oneOrList(v, unpackIP)
	return err
}
