package lab

import (
	"net"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestRouteAndNeighText(t *testing.T) {
	names := map[int]string{2: "eth0", 3: "br0"}
	_, dst, _ := net.ParseCIDR("10.1.0.0/16")
	for _, tc := range []struct {
		r    netlink.Route
		want string
	}{
		{netlink.Route{Gw: net.ParseIP("10.0.0.1"), LinkIndex: 2}, "default via 10.0.0.1 dev eth0"},
		{netlink.Route{Dst: dst, LinkIndex: 3, Src: net.ParseIP("10.1.0.1"), Priority: 10}, "10.1.0.0/16 dev br0 src 10.1.0.1 metric 10"},
		{netlink.Route{Dst: dst, Type: unix.RTN_BLACKHOLE}, "blackhole 10.1.0.0/16"},
	} {
		if got := routeText(tc.r, names); got != tc.want {
			t.Errorf("routeText = %q, want %q", got, tc.want)
		}
	}
	mac, _ := net.ParseMAC("02:00:00:00:00:01")
	nb := netlink.Neigh{IP: net.ParseIP("10.0.0.1"), LinkIndex: 2, HardwareAddr: mac, State: netlink.NUD_STALE}
	if got := neighText(nb, names); got != "10.0.0.1 dev eth0 lladdr 02:00:00:00:00:01 STALE" {
		t.Errorf("neighText = %q", got)
	}
	if got := neighText(netlink.Neigh{IP: net.ParseIP("10.0.0.9"), LinkIndex: 2, State: netlink.NUD_FAILED}, names); got != "10.0.0.9 dev eth0 FAILED" {
		t.Errorf("neighText = %q", got)
	}
}

func TestAddrText(t *testing.T) {
	addr := func(cidr string, flags int) netlink.Addr {
		ip, n, _ := net.ParseCIDR(cidr)
		n.IP = ip
		return netlink.Addr{IPNet: n, Flags: flags}
	}
	for _, tc := range []struct {
		a    netlink.Addr
		want string
	}{
		{addr("10.0.0.1/24", 0), "10.0.0.1/24"},
		{addr("2001:db8::1/64", 0), "2001:db8::1/64"},
		{addr("fe80::1/64", 0), ""},
		{addr("fe80::1/64", unix.IFA_F_TENTATIVE), "fe80::1/64 tentative"},
		{addr("2001:db8::1/64", unix.IFA_F_TENTATIVE), "2001:db8::1/64 tentative"},
		{addr("fe80::1/64", unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED), "fe80::1/64 dadfailed"},
	} {
		if got, _ := addrText(tc.a); got != tc.want {
			t.Errorf("addrText(%v, %#x) = %q, want %q", tc.a.IPNet, tc.a.Flags, got, tc.want)
		}
	}
}
