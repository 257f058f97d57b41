package lab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// AddAddr adds an address (with its prefix length) to the link. IPv6
// addresses skip duplicate address detection so they work at once.
func (lk *Link) AddAddr(p netip.Prefix) error {
	n := lk.ns
	for _, have := range lk.addrs {
		if have == p {
			return fmt.Errorf("%s already has address %s", lk.name, p)
		}
	}
	cmd := ipn(n) + " addr add " + p.String() + " dev " + shellQuote(lk.name)
	var cmds []string
	if p.Addr().Is6() {
		cmd += " nodad"
		cmds = append(cmds, inNS(n, "sysctl -qw net.ipv6.conf."+lk.name+".disable_ipv6=0"))
	}
	cmds = append(cmds, cmd)
	return lk.addAddr(p, Step{NS: n.Name, Op: "addr add", Desc: fmt.Sprintf("add %s to %s in %s", p, lk.name, n.Name), Cmds: cmds})
}

// addAddr adds p to the link as the step s says (a DHCP lease's address
// with explain's commands that read it from shell variables).
func (lk *Link) addAddr(p netip.Prefix, s Step) error {
	n := lk.ns
	err := n.lab.apply(s, func() error {
		ref, err := lk.ref()
		if err != nil {
			return err
		}
		a := &netlink.Addr{IPNet: prefixNet(p)}
		if p.Addr().Is6() {
			a.Flags = unix.IFA_F_NODAD
			// New links start with IPv6 off (see setupFresh); turn it on
			// for this one only.
			if err := n.writeSysctls(map[string]string{"net.ipv6.conf." + lk.name + ".disable_ipv6": "0"}); err != nil {
				return err
			}
		}
		if err := n.lab.hostAddr(lk, p, func() error { return n.h.AddrAdd(ref, a) }); err != nil {
			if errors.Is(err, unix.EEXIST) {
				return fmt.Errorf("address %s already exists", p)
			}
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("add %s to %s in netns %q: %w", p, lk.name, n.Name, err)
	}
	lk.addrs = append(lk.addrs, p)
	if p.Addr().Is6() {
		// IPv6 just came on: the link gets a link-local address, which
		// probes wait for (Settle).
		n.lab.markPending(lk)
	}
	return nil
}

// prefixNet converts a prefix to the net.IPNet netlink wants, keeping the
// host bits (10.0.0.1/24 stays 10.0.0.1/24).
func prefixNet(p netip.Prefix) *net.IPNet {
	bits := 32
	if p.Addr().Is6() {
		bits = 128
	}
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), bits)}
}

// SetUp sets the link administratively up or down.
func (lk *Link) SetUp(up bool) error {
	n := lk.ns
	word := "down"
	if up {
		word = "up"
	}
	cmds := []string{ipn(n) + " link set " + shellQuote(lk.name) + " " + word}
	if up && lk.kind == "veth" {
		// As a probe waits for pending links (Settle): the carrier comes a
		// moment after the link is up (not at all while the peer is down).
		cmds = append(cmds, "timeout 5 sh -c "+shellQuote(WaitUntil(ipn(n)+" link show "+shellQuote(lk.name)+" | grep -q LOWER_UP"))+" || true")
	}
	err := n.lab.apply(Step{NS: n.Name, Op: "link set", Desc: fmt.Sprintf("set %s %s in %s", lk.name, word, n.Name),
		Cmds: cmds}, func() error {
		ref, err := lk.ref()
		if err != nil {
			return err
		}
		if up {
			return n.h.LinkSetUp(ref)
		}
		return n.h.LinkSetDown(ref)
	})
	if err != nil {
		return fmt.Errorf("set %s %s in netns %q: %w", lk.name, word, n.Name, err)
	}
	lk.up = up
	if up {
		n.lab.markPending(lk)
	}
	return nil
}

// SetMaster makes the link a port of bridge br (nil removes it from its
// bridge).
func (lk *Link) SetMaster(br *Link) error {
	n := lk.ns
	if br != nil && br.ns != n {
		return fmt.Errorf("%s is in netns %q but bridge %s is in netns %q", lk.name, n.Name, br.name, br.ns.Name)
	}
	if br == lk {
		return fmt.Errorf("%s cannot be its own master", lk.name)
	}
	cmd := ipn(n) + " link set " + shellQuote(lk.name) + " nomaster"
	desc := fmt.Sprintf("detach %s from its bridge in %s", lk.name, n.Name)
	if br != nil {
		cmd = ipn(n) + " link set " + shellQuote(lk.name) + " master " + shellQuote(br.name)
		desc = fmt.Sprintf("attach %s to %s in %s", lk.name, br.name, n.Name)
	}
	err := n.lab.apply(Step{NS: n.Name, Op: "link set", Desc: desc, Cmds: []string{cmd}}, func() error {
		ref, err := lk.ref()
		if err != nil {
			return err
		}
		if br == nil {
			return n.h.LinkSetNoMaster(ref)
		}
		bi, err := br.Index()
		if err != nil {
			return err
		}
		err = n.h.LinkSetMasterByIndex(ref, bi)
		if errors.Is(err, unix.EXFULL) && br.kind == "bridge" {
			return fmt.Errorf("bridge %s is full: a bridge takes at most 1023 ports (join several bridges with veth pairs, as scripts/scale.star does): %w", br.name, err)
		}
		return err
	})
	if err != nil {
		if br != nil {
			return fmt.Errorf("attach %s to %s in netns %q: %w", lk.name, br.name, n.Name, err)
		}
		return fmt.Errorf("detach %s in netns %q: %w", lk.name, n.Name, err)
	}
	lk.master = br
	if lk.up {
		n.lab.markPending(lk)
	}
	return nil
}

// SetMTU sets the link's MTU.
func (lk *Link) SetMTU(mtu int) error {
	n := lk.ns
	if mtu < 68 || mtu > 65535 {
		return fmt.Errorf("invalid mtu %d (want 68 to 65535)", mtu)
	}
	err := n.lab.apply(Step{NS: n.Name, Op: "link set", Desc: fmt.Sprintf("set mtu of %s to %d in %s", lk.name, mtu, n.Name),
		Cmds: []string{fmt.Sprintf("%s link set %s mtu %d", ipn(n), shellQuote(lk.name), mtu)}}, func() error {
		ref, err := lk.ref()
		if err != nil {
			return err
		}
		return n.h.LinkSetMTU(ref, mtu)
	})
	if err != nil {
		return fmt.Errorf("set mtu of %s in netns %q: %w", lk.name, n.Name, err)
	}
	return nil
}

// SetMAC sets the link's hardware address.
func (lk *Link) SetMAC(mac net.HardwareAddr) error {
	n := lk.ns
	err := n.lab.apply(Step{NS: n.Name, Op: "link set", Desc: fmt.Sprintf("set address of %s to %s in %s", lk.name, mac, n.Name),
		Cmds: []string{fmt.Sprintf("%s link set %s address %s", ipn(n), shellQuote(lk.name), mac)}}, func() error {
		ref, err := lk.ref()
		if err != nil {
			return err
		}
		return n.h.LinkSetHardwareAddr(ref, mac)
	})
	if err != nil {
		return fmt.Errorf("set address of %s in netns %q: %w", lk.name, n.Name, err)
	}
	lk.mac = mac
	return nil
}

// Move moves the link into namespace to. The kernel forgets its addresses
// and sets it down, as `ip link set X netns Y` does.
func (lk *Link) Move(to *Netns) error {
	from := lk.ns
	if to == from {
		return nil
	}
	if prev := to.links[lk.name]; prev != nil {
		return fmt.Errorf("link %s already exists in netns %q (made at %s)", lk.name, to.Name, prev.Pos)
	}
	err := from.lab.apply(Step{NS: from.Name, Op: "link set", Desc: fmt.Sprintf("move %s from %s to %s", lk.name, from.Name, to.Name),
		Cmds: []string{ipn(from) + " link set " + shellQuote(lk.name) + " netns " + nsArg(to)}}, func() error {
		ref, err := lk.ref()
		if err != nil {
			return err
		}
		// Into the real host (--host), the link is journaled like a new one.
		return from.lab.hostChange(to, linkEntry(lk.name), func() error { return from.h.LinkSetNsFd(ref, to.fd) })
	})
	if err != nil {
		return fmt.Errorf("move %s from netns %q to %q: %w", lk.name, from.Name, to.Name, err)
	}
	from.removeLink(lk)
	to.addLink(lk)
	lk.index, lk.up, lk.addrs, lk.master = 0, false, nil, nil
	return nil
}

// Rename renames the link (it must be down, as the kernel requires).
func (lk *Link) Rename(name string) error {
	n := lk.ns
	if err := CheckLinkName(name); err != nil {
		return err
	}
	if prev := n.links[name]; prev != nil {
		return fmt.Errorf("link %s already exists in netns %q (made at %s)", name, n.Name, prev.Pos)
	}
	old := lk.name
	err := n.lab.apply(Step{NS: n.Name, Op: "link set", Desc: fmt.Sprintf("rename %s to %s in %s", old, name, n.Name),
		Cmds: []string{ipn(n) + " link set " + shellQuote(old) + " name " + shellQuote(name)}}, func() error {
		ref, err := lk.ref()
		if err != nil {
			return err
		}
		if err := n.h.LinkSetName(ref, name); err != nil {
			if errors.Is(err, unix.EBUSY) {
				return fmt.Errorf("%w (set it down first)", err)
			}
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rename %s to %s in netns %q: %w", old, name, n.Name, err)
	}
	delete(n.links, old)
	n.nameHint = 0
	lk.name = name
	n.links[name] = lk
	return nil
}
