package lab

import (
	"strings"

	"github.com/nsscript/nsscript/internal/nsutil"
)

// Bridge netfilter (br_netfilter's net.bridge.bridge-nf-call-* switches,
// which exist only where the module is loaded and then are 1 in every new
// namespace) sends the frames that a namespace's bridges pass between their
// ports through the IP (and ARP) firewall hooks. In a lab, the forward hook
// sees what a namespace routes, not what it bridges (firewall() documents
// that model), so the lab turns the switches off; a script turns them back
// on with sysctl.
//
// They matter only in a namespace that holds a bridge, and writing them
// costs more with every namespace there is: each namespace has its own
// /proc/sys/net/bridge, all of the same name under the one /proc/sys/net,
// and a path lookup compares the name with every namespace's that was
// looked up before (at 1,000 namespaces that was a third of building them;
// BENCHMARKS.md). So the lab writes them when a namespace can first hold
// a bridge:
//
//   - before the lab makes a bridge in it (Bridge);
//   - in every namespace, before the first program starts anywhere in the
//     lab (a program can make a bridge in any of them: it can enter each
//     through NetnsDir), and at creation in every namespace after that;
//   - before a script reads or writes a net.bridge sysctl in it, so that
//     the script sees the lab's values and its own write wins.
//
// The lab's host namespace gets them at once (setupFresh); a namespace the
// lab only opened (OpenNetns), and the real host in a --host run, keep
// their own.

// bridgeNetfilterOff is the value of each switch in a lab namespace.
var bridgeNetfilterOff = []sysctlValue{
	{"bridge-nf-call-arptables", "0"},
	{"bridge-nf-call-ip6tables", "0"},
	{"bridge-nf-call-iptables", "0"},
}

// offBridgeNetfilter turns bridge netfilter off in n, if the lab has not
// already.
func (n *Netns) offBridgeNetfilter() error {
	l := n.lab
	if l.opts.Plan || n.Existing || n.fd < 0 || l.opts.HostMode && n == l.Host {
		return nil
	}
	l.brnfMu.Lock()
	defer l.brnfMu.Unlock()
	if n.brnfOff {
		return nil
	}
	err := nsutil.Do(n.fd, func() error { return writeSysctlsHere("net.bridge", bridgeNetfilterOff, true) })
	if err != nil {
		return err
	}
	n.brnfOff = true
	return nil
}

// BeforeProgram turns bridge netfilter off in every namespace of the lab
// before its first program starts (see above). Every start of a program in
// the lab calls it first: the lab's own (startIn) and those of nsscript
// exec (internal/control), which runs while the lab is paused.
func (l *Lab) BeforeProgram() error {
	l.brnfMu.Lock()
	started := l.programs
	l.programs = true
	l.brnfMu.Unlock()
	if started {
		return nil
	}
	for _, n := range l.order {
		if err := n.offBridgeNetfilter(); err != nil {
			return err
		}
	}
	return nil
}

// programsStarted reports whether a program has started in the lab: a
// namespace made from then on gets bridge netfilter off at creation.
func (l *Lab) programsStarted() bool {
	l.brnfMu.Lock()
	defer l.brnfMu.Unlock()
	return l.programs
}

// bridgeSysctl reports whether key is one of br_netfilter's.
func bridgeSysctl(key string) bool { return strings.HasPrefix(key, "net.bridge.") }
