package spec

import (
	"os/exec"
	"runtime"
	"strings"
	"sync"
)

// linkKinds are the link kinds Linux's rtnetlink knows (the "type" of
// ip link add), with nsscript's "tap" for a tun device in tap mode. A
// [linktype:NAME] condition with a name outside this list is an error, so a
// typo fails the spec; a kind in it that this kernel cannot create (a module
// that is not built) is false.
var linkKinds = words(`amt bareudp batadv bond bridge can dsa dummy erspan
	geneve gre gretap gtp hsr ifb ip6erspan ip6gre ip6gretap ip6tnl ipip ipoib
	ipvlan ipvtap lowpan macsec macvlan macvtap netdevsim netkit nlmon ovpn
	pfcp rmnet sit tap team tun vcan veth virt_wifi vlan vrf vti vti6 vxcan
	vxlan wireguard xfrm`)

// qdiscKinds are the queueing disciplines Linux knows (tc qdisc add ...
// NAME), for [qdisc:NAME] as linkKinds for [linktype:NAME].
var qdiscKinds = words(`atm bfifo cake cbq cbs choke clsact codel drr
	dsmark dualpi2 etf ets fq fq_codel fq_pie gred hfsc hhf htb ingress mq
	mqprio multiq netem noqueue pfifo pfifo_fast pfifo_head_drop pie plug prio
	qfq red sfb sfq skbprio taprio tbf teql`)

// goosNames and goarchNames are the GOOS and GOARCH values testscript
// accepts as conditions.
var (
	goosNames = words(`aix android darwin dragonfly freebsd hurd illumos ios
		js linux nacl netbsd openbsd plan9 solaris wasip1 windows zos`)
	goarchNames = words(`386 amd64 amd64p32 arm arm64 arm64be armbe loong64
		mips mips64 mips64le mips64p32 mips64p32le mipsle ppc ppc64 ppc64le
		riscv riscv64 s390 s390x sparc sparc64 wasm`)
)

// words returns the set of the words in s, made on first use (most runs
// ask for none of these sets, and every run would pay for them at start).
func words(s string) func() map[string]bool {
	return sync.OnceValue(func() map[string]bool {
		m := map[string]bool{}
		for _, w := range strings.Fields(s) {
			m[w] = true
		}
		return m
	})
}

// testscriptCondition answers the conditions testscript itself evaluates in
// a spec that "nsscript test -conditions" can answer as it would: exec:NAME
// (NAME is on PATH), the GOOS and GOARCH names, unix, gc and gccgo. ok is
// false for any other condition.
func testscriptCondition(cond string) (holds, ok bool) {
	switch {
	case strings.HasPrefix(cond, "exec:") && len(cond) > len("exec:"):
		_, err := exec.LookPath(cond[len("exec:"):])
		return err == nil, true
	case goosNames()[cond]:
		return cond == runtime.GOOS, true
	case goarchNames()[cond]:
		return cond == runtime.GOARCH, true
	case cond == "unix":
		return runtime.GOOS != "windows" && runtime.GOOS != "plan9" && runtime.GOOS != "js" && runtime.GOOS != "wasip1", true
	case cond == "gc" || cond == "gccgo":
		return cond == runtime.Compiler, true
	}
	return false, false
}
