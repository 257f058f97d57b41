package builtins

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/nsscript/nsscript/lang"
	"go.starlark.net/starlark"
)

// Builtin describes one Starlark builtin of nsscript, or one value type or
// method of the values builtins return (Fn nil, Name "link" or "link.addr").
type Builtin struct {
	Name   string
	Sig    string // Starlark signature, "veth(name?, peer?, ns=host, ...)"
	Domain string // the file it lives in: netns, link, route, probe
	Doc    string // what it does; first sentence is the summary
	// Mutates is set for the barriers: builtins that change the lab (and
	// run(), and sleep()). Expectations still probing are finished before
	// such a builtin runs, so each observes the lab as of its own line.
	Mutates bool
	Fn      func(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error)
}

// Table lists every builtin, domain by domain. nsscript doc and the README's
// reference are generated from it.
var Table = []*Builtin{
	// netns.go
	{Name: "netns", Domain: "netns", Mutates: true, Fn: fnNetns,
		Sig: `netns(name, existing=False, path=None, pid=None)`,
		Doc: `Creates a network namespace with loopback up and returns it. With existing=True it opens a namespace that something else made (a shell script run with run(), say) at /run/netns/NAME, or at path (a bind mount or /proc/PID/ns/net), or that of process pid (a running container), and adopts its links and addresses.`},
	{Name: "host", Domain: "netns",
		Sig: `host`,
		Doc: `The lab's root namespace: in the sandbox, its private network namespace; with --host, the real host's. Not a function.`},
	// link.go
	{Name: "veth", Domain: "link", Mutates: true, Fn: fnVeth,
		Sig: `veth(name=None, peer=None, ns=host, peer_ns=host, mtu=None, mac=None, peer_mac=None, addr=None, peer_addr=None, up=True)`,
		Doc: `Creates a veth pair and returns both ends as (link, peer). Each end may live in any namespace; names are generated when not given (ethN inside a namespace, vethN in host). addr and peer_addr are addresses for each end ("10.0.0.1/24" or a list), as link.addr adds them. Both ends are set up unless up=False.`},
	{Name: "bridge", Domain: "link", Mutates: true, Fn: fnBridge,
		Sig: `bridge(name, ns=host, addr=None, mtu=None, mac=None, up=True)`,
		Doc: `Creates a Linux bridge (STP off) in ns, optionally with one address or a list of them, and returns it. Attach ports with link.set(master=br).`},
	{Name: "link", Domain: "link", Fn: fnLink,
		Sig: `link(ns, name)`,
		Doc: `Returns the link called name in ns: one the lab made, or one the kernel has there (made by a program that run() started, or found in an existing namespace), which the lab then adopts with its addresses. A missing name is an error that lists the links ns has.`},
	// route.go
	{Name: "route", Domain: "route", Mutates: true, Fn: fnRoute,
		Sig: `route(ns, dst, via=None, dev=None, metric=0, table=None, src=None, scope=None, type=None)`,
		Doc: `Adds a route in ns and returns it as a route value (method delete). dst is a prefix ("10.0.0.0/24"), an address, "default" or "default6". via is the gateway: an address; a netns, which stands for its address on a subnet that ns has an address on; a link of another namespace, which stands for its own address on such a subnet; or a link of ns, which stands for its peer's address on the link's subnet (the far end of a veth) and is also the route's dev. A list of gateways makes a multipath (ECMP) route, each alone or as (gateway, weight) with weight 1 to 256: via=[("10.0.1.1", 1), ("10.0.2.1", 2)] sends about a third of the flows by the first. Unicast routes need via or dev. table is a number or "main", "local", "default"; src the preferred source address; scope "global", "link" or "host"; type "unicast" (default), "blackhole" (drop silently), "unreachable" or "prohibit" (drop with an ICMP error), which take neither via nor dev. With --host, only main-table unicast routes with one path can be added (they are undone when the run ends).`},
	{Name: "rule", Domain: "route", Mutates: true, Fn: fnRule,
		Sig: `rule(ns, from_=None, to=None, iif=None, oif=None, fwmark=None, table=None, priority=None, action="lookup", family=None)`,
		Doc: `Adds a policy routing rule in ns, as ip rule add does, and returns it as a rule value (method delete): packets from from_ and to to (networks, addresses, or a netns or link for its first address), arriving on iif or sent from oif (links of ns or names), with firewall mark fwmark (an int or "MARK/MASK" such as "0x1/0xff") are looked up in table (a number or "main"), or, with action "blackhole", "unreachable" or "prohibit", dropped. priority orders the rules (smaller first; the kernel picks one when not given). The family comes from from_ or to, else family ("ipv4", the default, or "ipv6"). Not available with --host.`},
	{Name: "sysctl", Domain: "route", Mutates: true, Fn: fnSysctl,
		Sig: `sysctl(ns, key, value=None)`,
		Doc: `Sets a network sysctl (net.* only) in ns and returns its previous value; without value, returns the current value.`},
	{Name: "forwarding", Domain: "route", Mutates: true, Fn: fnForwarding,
		Sig: `forwarding(ns, on=True, family="both")`,
		Doc: `Turns IPv4 and IPv6 forwarding on (or off) in ns: a router. family "ipv4" or "ipv6" changes only that family's (net.ipv4.ip_forward, net.ipv6.conf.all.forwarding) and leaves the other as it is.`},
	// probe.go
	{Name: "ping", Domain: "probe", Fn: fnPing,
		Sig: `ping(src, dst, count=1, timeout="1s", interval="200ms", size=56, df=False, src_addr=None)`,
		Doc: `Sends ICMP echo requests from namespace src to dst (an address, a namespace, which stands for its first address, or a link) and returns a result with ok, sent, received, rtt (milliseconds of the first reply), outcome and detail. All count requests are sent, interval apart; timeout is how long to wait for replies after the last one (ping's -W), so it never cuts the count short. size is the payload of each request (ping -s); df=True sends with "don't fragment" (ping -M do): a request too big for a link on the way ends the probe at once with outcome "frag needed" and the MTU reported (attribute mtu), not a timeout. Without df, the kernel learns the path MTU from such an answer and fragments the resends. src_addr (an address of src, or a link of src, which stands for its address of dst's family) sends from that source (ping -I ADDR), whatever address the route would pick: source-based routing rules see it, and the far end must route back to it; an address that src does not have is an error. Attribute src is the source the requests carried (the first reply's destination). Never fails the run.`},
	{Name: "expect_reachable", Domain: "probe", Fn: fnExpectReachable,
		Sig: `expect_reachable(src, dst, timeout="1s", within=None, size=56, df=False, src_addr=None)`,
		Doc: `Expects an ICMP echo reply from dst to src within timeout. Records ok or FAIL with the script position and goes on; the run ends with "N passed, N failed" and exit status 1 if any failed. Probes run concurrently with the rest of the script (never with a change: every change, run() and sleep() waits for them, so the line observes the lab as of its position; one cut short by the end of the run prints CUT) and are re-sent while no reply came, so one lost first packet does not fail them. With within (e.g. "5s"), a network that is still converging gets until then: probes (each at most timeout) are repeated until one gets a reply, and the line says how long it took ("reply after 1.2s (within 5s)"). size, df and src_addr are ping's (a path MTU test: a too-big df request FAILs with "fragmentation needed (mtu 1400)"; with src_addr, the line adds "from ADDR").`},
	{Name: "expect_unreachable", Domain: "probe", Fn: fnExpectUnreachable,
		Sig: `expect_unreachable(src, dst, timeout="1s", within=None, size=56, df=False, src_addr=None)`,
		Doc: `Expects no echo reply from dst to src. An ICMP error or a missing route settles it at once; only silence waits the timeout (all silent probes wait it together). With within, probes are repeated until one gets no reply or the deadline passes ("unreachable after 0.4s (within 5s): no reply in 300ms", 0.4s being when that probe was sent). A probe sent before the deadline waits its whole timeout: a silence the deadline would cut short proves nothing, so a late reply still counts.`},
	// path.go
	{Name: "traceroute", Domain: "probe", Fn: fnTraceroute,
		Sig: `traceroute(src, dst, proto="icmp", max_hops=30, timeout="1s")`,
		Doc: `Finds the routers from namespace src to dst natively: probes (ICMP echo requests, or with proto="udp" UDP datagrams to high ports) with TTL (hop limit) 1 to max_hops are sent all at once, and each router where one expires answers time exceeded. Returns a list of hops, one per TTL up to the destination (or the router whose ICMP error ended the trace, or one silent hop past the last that answered), each with ttl, addr (None for a silent hop), rtt (milliseconds, None if silent), ns (the lab namespace that has addr, else None) and error (the ICMP error that ended the trace there, else None). Unanswered TTLs are probed again every 200ms; timeout bounds the whole trace. IPv4 and IPv6. Never fails the run.`},
	{Name: "expect_path", Domain: "probe", Fn: fnExpectPath,
		Sig: `expect_path(src, dst, via, proto="icmp", max_hops=30, timeout="1s", within=None)`,
		Doc: `Expects packets from src to reach dst through the namespaces in the list via (values or names), in that order: a traceroute whose hops' namespaces include via in order (other hops may lie between) and that reaches dst. Records ok or FAIL at its position like expect_reachable; the line lists the hops seen ("1 r1 (10.0.1.1), 2 *, 3 b (10.0.2.2)"). With within, traces are repeated until one passes or the deadline passes. A FAIL shows the FIB decision of each namespace on the way (ip route get there, with the interface the packet came in on and its source), up to where the packet dies: no route, an unreachable, blackhole or prohibit route, forwarding off, a next hop outside the lab, or a loop; each hop names the firewall chains of the hook the packet crosses there that drop or reject; when the packet would arrive, the answer's way back too.`},
	// matrix.go (reachability matrix)
	{Name: "reachability", Domain: "matrix", Fn: fnReachability,
		Sig: `reachability(nss, expect=None, timeout="1s")`,
		Doc: `Probes every ordered pair of the namespaces in the list nss (values or names; each is probed at its first address) at once and prints the matrix: one row per source, one column per destination, 1 for a reply, 0 for none, - on the diagonal (not probed). Returns it as a list of rows of True, False and None. With expect, the same shape written as strings ("- 1 0", spaces ignored) or lists ([None, True, False]), the matrix counts as one expectation: ok, or FAIL naming the pairs that differ, which the table marks with ! and explains one per line (what the probe saw). Silent pairs wait timeout together; a pair that the end of the run cut short shows ? and makes the matrix CUT.`},

	// iface.go (macvlan, ipvlan, vlan, vxlan, tap, dummy)
	{Name: "macvlan", Domain: "iface", Mutates: true, Fn: fnMacvlan,
		Sig: `macvlan(parent, name=None, ns=None, mode="bridge", mtu=None, mac=None, addr=None, up=True)`,
		Doc: `Creates a macvlan on parent (any link) in ns (the parent's namespace unless given) and returns it; addr is one address or a list. Modes: "bridge" (siblings on one parent reach each other directly), "private" (they never do), "vepa" (only through an outside switch that sends frames back: a bridge port with hairpin on), "passthru" (one macvlan takes the parent alone; a second one fails). No macvlan reaches its parent's own addresses directly. The name defaults to ethN inside a namespace, macvlanN in host.`},
	{Name: "ipvlan", Domain: "iface", Mutates: true, Fn: fnIPVlan,
		Sig: `ipvlan(parent, name=None, ns=None, mode="l2", flag="bridge", mtu=None, addr=None, up=True)`,
		Doc: `Creates an ipvlan on parent: like a macvlan, but sharing the parent's MAC address. mode is "l2", "l3" or "l3s"; flag is "bridge", "private" or "vepa". Fails with one line on kernels without ipvlan.`},
	{Name: "vlan", Domain: "iface", Mutates: true, Fn: fnVlan,
		Sig: `vlan(parent, id, name=None, ns=None, protocol="802.1q", mtu=None, mac=None, addr=None, up=True)`,
		Doc: `Creates an 802.1Q (or "802.1ad") VLAN interface with tag id (1 to 4094) on parent, named PARENT.ID unless given. Fails with one line on kernels without VLAN support.`},
	{Name: "dummy", Domain: "iface", Mutates: true, Fn: fnDummy,
		Sig: `dummy(name=None, ns=host, mtu=None, mac=None, addr=None, up=True)`,
		Doc: `Creates a dummy interface (a NIC that only holds addresses) in ns. Fails with one line on kernels without the dummy module.`},
	{Name: "tap", Domain: "iface", Mutates: true, Fn: fnTap,
		Sig: `tap(name=None, ns=host, mode="tap", owner=0, mtu=None, mac=None, addr=None, up=True)`,
		Doc: `Creates a persistent tap (or, with mode="tun", tun) device in ns, as ip tuntap add does, for a virtual machine or program to attach to; owner is the uid allowed to. Until a program opens it, it has no carrier and drops what it is sent.`},
	{Name: "vxlan", Domain: "iface", Mutates: true, Fn: fnVxlan,
		Sig: `vxlan(name, vni, ns=host, remote=None, local=None, group=None, dev=None, port=4789, learning=True, mtu=None, mac=None, addr=None, up=True)`,
		Doc: `Creates a VXLAN endpoint in ns carrying segment vni (1 to 16777215) in UDP to remote (the other endpoint's underlay address, or a list of them) or to a multicast group (needs dev). local is the underlay source address, dev the underlay link. Attach it to a bridge to join the nodes behind two hosts into one segment.`},

	// nat.go (nftables NAT and filter rules)
	{Name: "masquerade", Domain: "nat", Mutates: true, Fn: fnMasquerade,
		Sig: `masquerade(ns, src=None, dst=None, out=None, not_out=None, proto=None, port=None)`,
		Doc: `Adds a source-NAT rule in ns (nftables, table inet nsscript, chain postrouting): packets from src to dst that leave through out, or through any link but not_out, get the address of their outgoing link as source, as "iptables -t nat -A POSTROUTING -s 10.100.0.0/16 ! -o br00 -j MASQUERADE" does. src and dst are networks ("10.100.0.0/16"; host bits are dropped as iptables does) or a netns or link (its first address); out and not_out are links of ns or their names; proto ("tcp", "udp", "icmp", "icmpv6") and port (the destination port, tcp or udp) limit the rule to that traffic. Forwarding is not turned on: call forwarding(ns). Connections ns already tracks are forgotten (conntrack -F), so a probe made before the rule does not keep its untranslated path.`},
	{Name: "port_forward", Domain: "nat", Mutates: true, Fn: fnPortForward,
		Sig: `port_forward(ns, port, to, proto="tcp", src=None, dst=None, in_=None, not_in=None, local=False)`,
		Doc: `Adds a destination-NAT rule in ns (chain prerouting): proto connections to port that arrive at ns are forwarded to to ("10.0.0.2:80", "10.0.0.2" for the same port, or a netns), as "iptables -t nat -A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination 10.0.0.2:80" does. Without dst, only connections addressed to one of ns's own addresses are forwarded (fib daddr type local); in_ / not_in limit the rule to connections arriving on (or not on) a link. Connections ns opens itself are forwarded only with local=True, which adds the same rule in a nat chain on hook output, as a host's port map does for its own clients (not for 127.0.0.1: a packet from the loopback address cannot leave ns). Needs forwarding(ns); tracked connections are forgotten as with masquerade.`},
	{Name: "firewall", Domain: "nat", Mutates: true, Fn: fnFirewall,
		Sig: `firewall(ns, action, src=None, dst=None, proto=None, port=None, icmp_type=None, in_=None, out=None, not_in=None, not_out=None, state=None, hook="forward", counter=False)`,
		Doc: `Adds a filter rule in ns: action ("accept", "drop" or "reject", which answers with ICMP administratively prohibited) for the packets that match every given field. hook is "forward" (packets ns routes), "input" (packets for ns) or "output" (packets from ns). proto is "tcp", "udp", "icmp" or "icmpv6"; port, the destination port, needs tcp or udp; icmp_type, the message type as nft names it ("echo-request", "echo-reply", "destination-unreachable", "packet-too-big", "nd-neighbor-solicit", ...), needs icmp or icmpv6; state is a conntrack state list such as "established,related" (also "new", "invalid", "untracked"). Action "notrack", in hook "prerouting" or "output" (a raw chain, before connection tracking), exempts the packets it matches from tracking: later rules see them in state untracked. Rules apply in script order, the first match decides, and what no rule matches is accepted: end with firewall(ns, "drop") for a default-deny lab. Frames that a bridge in ns passes between its ports are not routed, and no hook sees them: lab namespaces start with bridge netfilter off (net.bridge.bridge-nf-call-iptables and -ip6tables 0, where the kernel has br_netfilter); sysctl turns it on. With counter=True the rule counts what it matches (nft's counter) and firewall returns a firewall_rule value whose packets and bytes read the count; otherwise it returns None.`},

	// service.go (built-in services and connection probes)
	{Name: "serve", Domain: "service", Mutates: true, Fn: fnServe,
		Sig: `serve(ns, proto, addr)`,
		Doc: `Starts a built-in server in ns and returns it as a service value (attributes ns, proto, addr, port, peers; method close). proto is "tcp" (greets with "peer IP:PORT" and echoes), "udp" (answers each datagram with "peer IP:PORT" and the datagram) or "http" (GET / answers 200 "peer IP:PORT"; GET /bytes/N sends N bytes). addr is ":8080", "10.0.0.2:8080" or a port number. service.peers lists the client addresses the server saw, which proves whether NAT rewrote them. Servers stop when the run ends.`},
	{Name: "connect", Domain: "service", Fn: fnConnect,
		Sig: `connect(src, addr, proto="tcp", timeout="1s", src_addr=None)`,
		Doc: `Opens a tcp connection (or sends udp datagrams until an answer) from namespace src to addr ("10.0.0.2:8080" or a service value) and returns a result with ok, outcome, detail, peer (the address a built-in server saw), src (the local address the connection had), elapsed (milliseconds) and bytes. src_addr (an address or a link of src) binds the socket to that source first (nc -s ADDR); an address that src does not have is an error. Never fails the run.`},
	{Name: "http_get", Domain: "service", Fn: fnHTTPGet,
		Sig: `http_get(src, url, timeout="1s", src_addr=None)`,
		Doc: `Fetches url ("http://10.0.0.2:8080/"; the host must be an IP address) from namespace src and returns a result with ok, status, body, peer, src, outcome, detail and elapsed. src_addr is connect's (curl --interface ADDR). Never fails the run.`},
	{Name: "expect_connect", Domain: "service", Fn: fnExpectConnect,
		Sig: `expect_connect(src, addr, proto="tcp", seen_as=None, timeout="1s", src_addr=None)`,
		Doc: `Expects a tcp connection (or a udp answer) from src to addr ("IP:PORT" or a service value, whose proto is then the default). With seen_as (an address, netns or link), also expects the built-in server to report that address as the client's: the proof that masquerading rewrote the source (or did not). src_addr is connect's. Records ok or FAIL with the script position, like expect_reachable.`},
	{Name: "expect_no_connect", Domain: "service", Fn: fnExpectNoConnect,
		Sig: `expect_no_connect(src, addr, proto="tcp", timeout="1s", src_addr=None)`,
		Doc: `Expects no connection (or no udp answer) from src to addr: refused, unreachable, filtered or silent until timeout.`},
	{Name: "expect_http", Domain: "service", Fn: fnExpectHTTP,
		Sig: `expect_http(src, url, status=200, body_contains=None, seen_as=None, timeout="1s", src_addr=None)`,
		Doc: `Expects an HTTP GET of url from src to answer with status (0: any), a body containing body_contains when given, and, with seen_as, a built-in server that saw that client address. src_addr is connect's.`},
	{Name: "expect_no_http", Domain: "service", Fn: fnExpectNoHTTP,
		Sig: `expect_no_http(src, url, timeout="1s", src_addr=None)`,
		Doc: `Expects no HTTP answer from url to src (refused, unreachable, filtered or silent until timeout).`},

	// exec.go (run real programs in a namespace)
	{Name: "run", Domain: "exec", Mutates: true, Fn: fnRun,
		Sig: `run(ns, argv, timeout="30s", check=True, stdin="", env=None, background=False, ready=None)`,
		Doc: `Runs a real program inside namespace ns and returns a result with ok, status, signal, stdout and stderr. argv is a list (["bash", "setup.sh", "up"]) or a string run by sh -c. The working directory is the script's; the lab's namespaces are first bound under /run/netns, so "ip netns exec NAME" and scripts that use it see them (in the sandbox, privately). A status other than 0 stops the run with an error unless check=False; so does running longer than timeout. With background=True the program keeps running and a process value is returned (attributes pid, running, status, stdout, stderr; method stop); ready ("IP:PORT" or a port number on 127.0.0.1) waits, up to timeout, until it accepts tcp connections there. Every program, and whatever it left in its process group, is stopped when the run ends.`},
	// daemon.go (daemons with private directories, BIRD)
	{Name: "daemon", Domain: "daemon", Mutates: true, Fn: fnDaemon,
		Sig: `daemon(ns, argv, files=None, dirs=None, ready=None, env=None, timeout="10s")`,
		Doc: `Starts a long-running program (in the foreground mode it must not fork away from) in ns with private directories and returns a daemon value. It runs in a mount namespace of its own where each directory of dirs, and the directory of each file of files ({"/etc/bird/bird.conf": text}), is an empty tmpfs that only it sees (a directory missing on the machine is made there, never on the host), so ten daemons of one lab never share a control socket, pid file or configuration. ready says when it counts as started, waited for up to timeout: a port number or "IP:PORT" (accepts tcp connections from ns), "unix:PATH" (a socket in its private directories accepts connections) or "log:REGEX" (a line of its stdout or stderr matches). A daemon that exits first or is not ready in time is an error at this line that shows its last lines of output. Every daemon stops when the run ends.`},
	// frr.go (FRR)
	{Name: "frr", Domain: "daemon", Mutates: true, Fn: fnFrr,
		Sig: `frr(ns, conf, daemons=None, timeout="10s")`,
		Doc: `Starts an FRR router (Debian's frr, daemons from /usr/lib/frr) in ns and returns it once it runs conf, an integrated configuration (frr.conf). Its daemons (default: zebra, the daemon of each "router bgp|ospf|ospf6|rip|ripng|isis|eigrp|babel" block, staticd when conf has "ip route" lines; or the list daemons, zebra first) share one mount namespace of their own with private /etc/frr, /run/frr and /var/tmp/frr, so they find each other's sockets while no other router sees them. zebra starts first; each daemon is ready once its vty socket answers a command; then FRR's vtysh applies conf. A daemon that exits or is not ready within timeout is an error at this line with its last log lines, and so is a line of conf that FRR refuses. Each daemon logs to its stdout, runs as the lab's root (-u root -g frrvty, so also rootless) and stops when the run ends. Routes go into the kernel with proto "ospf", "bgp", "static", ...: expect_route(..., proto="ospf", within=).`},
	{Name: "vtysh", Domain: "daemon", Mutates: true, Fn: fnVtysh,
		Sig: `vtysh(router, cmd, timeout="5s")`,
		Doc: `Sends one command to the daemons of router (from frr()) over their vty sockets, natively as vtysh does, and returns what those that know the command answer: text, or a dict or list when the reply is JSON (vtysh(r1, "show ip ospf neighbor json")["neighbors"]). It waits for the expectations before its line first. A command no daemon knows, or that fails, is an error at this line with FRR's message. In a plan (explain, graph) it asks nothing and returns "", or {} for a command that ends in json.`},
	{Name: "expect_ospf_full", Domain: "daemon", Fn: fnExpectOSPFFull,
		Sig: `expect_ospf_full(router, neighbour, within=None)`,
		Doc: `Expects router (from frr() or bird()) to have an OSPF adjacency in state Full with the neighbour whose router ID is neighbour ("10.0.0.2"): the neighbour's line in "show ip ospf neighbor" (FRR) or "show ospf neighbors" (BIRD) says Full. As expect_daemon with that command, including the failure's last reply and FRR's last log lines; with within, asked again until it holds.`},
	// bird.go (BIRD 2)
	{Name: "bird", Domain: "daemon", Mutates: true, Fn: fnBird,
		Sig: `bird(ns, conf, timeout="10s")`,
		Doc: `Starts BIRD 2 (Debian's bird2) in ns as daemon() does, with conf as its private /etc/bird/bird.conf and its control socket at a private /run/bird/bird.ctl, and returns the daemon value once the socket answers (a configuration error is an error at this line with BIRD's message). Without a log statement in conf, "log stderr all;" is added at its end, so daemon.stderr holds BIRD's log. Its routes go into the kernel with proto "bird": routes(ns, proto="bird"), expect_route(..., proto="bird", within=).`},
	{Name: "birdc", Domain: "daemon", Mutates: true, Fn: fnBirdc,
		Sig: `birdc(router, cmd, timeout="5s")`,
		Doc: `Sends one command to the BIRD of router (a daemon from bird()) on its control socket, as birdc does, and returns the reply as birdc prints it: birdc(r1, "show protocols"). It waits for the expectations before its line first, so after expect_daemon(..., within=) it sees the state that one waited for. An error reply (a syntax error, an unknown protocol) is an error at this line.`},
	{Name: "expect_daemon", Domain: "daemon", Fn: fnExpectDaemon,
		Sig: `expect_daemon(router, cmd, match, within=None)`,
		Doc: `Expects the reply of router (a daemon from bird() or a router from frr()) to cmd (as birdc() or vtysh() returns its text) to have a line matching the regular expression match (^ and $ match at line ends): expect_daemon(r1, "show protocols", "^peer2 +BGP .* Established", within="5s") for a BGP session that is up, expect_daemon(f1, "show ip ospf neighbor", "^10\.0\.0\.2 .*Full/", within="5s") for an OSPF adjacency. Records ok or FAIL with the matching line; a failure shows the last reply (for FRR also the last lines each daemon logged, which say why an adjacency is missing). With within, the command is sent again until a line matches (a session coming up). Runs alongside the script like the probes.`},
	{Name: "sleep", Domain: "exec", Mutates: true, Fn: fnSleep,
		Sig: `sleep(duration)`,
		Doc: `Waits for duration ("500ms", "2s", or seconds as a number) while background programs go on: a barrier, like every builtin that changes the lab and every foreground run(), so the expectations before it finish first and those after it observe the lab as it is then. The run's --timeout and Ctrl-C end it at once.`},
	// dhcp.go (dnsmasq, the DHCP client)
	{Name: "dnsmasq", Domain: "dhcp", Mutates: true, Fn: fnDnsmasq,
		Sig: `dnsmasq(ns, link=None, dhcp_range=None, hosts=None, conf=None, timeout="10s")`,
		Doc: `Starts dnsmasq (Debian's dnsmasq-base) in ns as daemon() does, as a DHCP and DNS server, and returns the daemon value once it answers DNS (by then its DHCP port is bound too; a configuration error is an error at this line with dnsmasq's message). link (a link of ns or its name) is the one link it serves, else every link of ns. dhcp_range ("10.0.0.100,10.0.0.150", optionally ",1h" for the lease time) hands out addresses on the link whose subnet holds them, with ns's address there as router and DNS server. DNS answers the names in hosts ({"web": "10.0.0.5", "srv": netns}), the host names DHCP clients send, and NXDOMAIN for every other name (it asks no other server and reads neither /etc/hosts nor resolv.conf). conf is more dnsmasq configuration lines. Its configuration, leases and pid file are private (/run/dnsmasq); it logs DHCP and queries to daemon.stderr, whose last lines explain a dhcp() that got no lease.`},
	{Name: "dhcp", Domain: "dhcp", Mutates: true, Fn: fnDHCP,
		Sig: `dhcp(link, hostname=None, route=True, within="10s")`,
		Doc: `Asks for a DHCP lease on link with udhcpc (Debian's udhcpc, or busybox's applet), as "udhcpc -i eth0" does, and returns a lease value once nsscript has applied it through netlink: the address on link (listed by addresses() and used as the namespace's address by probes) and, with route, a default route via the lease's router (proto "dhcp"; a namespace that already has one is an error). hostname (default: the namespace's name) is sent to the server, so dnsmasq answers it in DNS. No lease within within (one request a second) is an error at this line with udhcpc's and the DHCP servers' last lines. The client does not stay to renew (a lab lives shorter than a lease). Under explain, the address is the next one of the first dnsmasq's range, a stand-in: the explained shell reads the real lease into variables ($lease1_ip) and uses them wherever the script uses the address.`},
	// dns.go (DNS lookups)
	{Name: "resolve", Domain: "dns", Fn: fnResolve,
		Sig: `resolve(ns, name, server=None, timeout="2s")`,
		Doc: `Looks name up from ns, as dig @server name does (A and AAAA queries over UDP from inside ns, natively; no search list: "c1" is "c1."), and returns the list of addresses ([] for NXDOMAIN or no address). server is an address, "IP:PORT", a netns or link (its first address), by default the DNS server of ns's latest DHCP lease. A server that does not answer within timeout is an error.`},
	{Name: "expect_resolves", Domain: "dns", Fn: fnExpectResolves,
		Sig: `expect_resolves(ns, name, addr=None, server=None, within=None)`,
		Doc: `Expects name, looked up from ns as resolve() does, to have an address, and with addr (an address, netns or link) that one. Records ok or FAIL with the answer ("10.0.0.147", "NXDOMAIN", "no answer from 10.0.0.1:53 within 1s"). With within, it asks again until the answer is the wanted one.`},

	// impair.go (delay, loss, rate)
	// watch.go (behaviour over time)
	{Name: "watch", Domain: "watch", Mutates: true, Fn: fnWatch,
		Sig: `watch(src, dst, interval="50ms", timeout="1s")`,
		Doc: `Starts a continuous background probe: an ICMP echo request from src to dst (an address, netns or link) every interval, each lost when no reply comes within timeout, and returns a watch value. Unlike an expectation, a watch is not held by the barriers: it runs on its own clock while the script changes the lab (link.down(), impair(), sleep()), so it observes the lab over time, e.g. how long a failover takes. Its attributes are the results so far: sent, received, lost, windows (a list of (start, end) loss windows, from the first lost request to the next answered one, as milliseconds since the watch started), outages (their number), max_outage (the longest, in milliseconds: compare with duration("500ms")), first_reply and last_reply (arrival times, None without a reply), elapsed, running. A window is measured to the interval, and a reply that comes within timeout counts however late (the kernel queues packets while it resolves a neighbour): timeout is the longest delay that is not an outage. w.stop() ends it; so does the end of the run.`},
	{Name: "duration", Domain: "watch", Fn: fnDuration,
		Sig: `duration(d)`,
		Doc: `Returns duration d ("500ms", "2s", or seconds as a number) as a number of milliseconds, the unit of every duration in a value (rtt, max_outage): expect(w.max_outage < duration("500ms")).`},
	{Name: "impair", Domain: "impair", Mutates: true, Fn: fnImpair,
		Sig: `impair(link, delay=None, jitter=None, loss=None, rate=None, burst=None, latency=None, limit=None, qdisc=None, clear=False)`,
		Doc: `Impairs what link sends through its queueing discipline: delay and jitter ("20ms", "5ms"), loss ("1%") with netem, rate ("1mbit", "500kbit"; "kbps" is kilobytes per second, as in tc) with tbf, or with qdisc="htb" with an htb qdisc whose one default class has rate and ceil at rate, as Mininet shapes its links. burst (bytes) sizes the bucket of either; latency sizes tbf's queue; limit is netem's queue in packets. Only the sending side is impaired: impair both ends of a veth for both directions. Calling it again replaces the impairment; clear=True removes it. Fails with one line where the kernel lacks netem or tbf.`},
	{Name: "transfer", Domain: "impair", Mutates: true, Fn: fnTransfer,
		Sig: `transfer(src, dst, size="1MB", timeout="30s")`,
		Doc: `Sends size bytes ("64KB", "1MiB" or an int) over TCP from namespace src to dst and reads them back, timing it. dst is a netns or link (a built-in tcp server runs on its first address for the time of the transfer), an address of a lab namespace, or "ip:port" of a built-in tcp server already running. Returns a result with ok, bytes, seconds, rate (bits per second), peer and detail. Never fails the run.`},
	{Name: "expect_rate", Domain: "impair", Mutates: true, Fn: fnExpectRate,
		Sig: `expect_rate(src, dst, rate=None, min=None, max=None, tolerance="20%", size=None, timeout=None)`,
		Doc: `Expects a timed transfer from src to dst (as transfer) to run at rate within tolerance, or between min and max. size defaults to what the expected rate carries in two seconds. A rate out of bounds is measured once more before it counts (one transfer can lose a window to a TCP timeout). Records ok or FAIL with the measured rate and goes on.`},
	{Name: "expect_rtt", Domain: "impair", Fn: fnExpectRTT,
		Sig: `expect_rtt(src, dst, min=None, max=None, count=5, timeout="2s")`,
		Doc: `Expects the average round-trip time of count ICMP echoes from src to dst to lie between min and max ("20ms"): shows a delay added with impair. Records ok or FAIL with min/avg/max and goes on.`},

	// state.go and stateexpect.go (kernel state as values)
	{Name: "routes", Domain: "state", Fn: fnRoutes,
		Sig: `routes(ns, table="main", proto=None)`,
		Doc: `Returns the routes of ns as the kernel has them now (IPv4 and IPv6, read through netlink on each call, so routes that programs or daemons added are there too): a list of route values with dst, via, dev, src, metric, table, proto, scope and type. table is "main", "local", "all" or a number; proto ("kernel", "boot" for the lab's own routes, "static", "dhcp", "bird", ... or a number) keeps only the routes of that origin. As ip route show does.`},
	{Name: "route_get", Domain: "state", Fn: fnRouteGet,
		Sig: `route_get(ns, dst, src=None, iif=None, mark=None)`,
		Doc: `Asks the kernel of ns which route a packet to the address dst takes, as ip route get does, and returns it as a route value (dev, via, src and table of the decision; proto, metric and scope of the route it matched), or None when ns has no route there. A blackhole, unreachable or prohibit route gives a value of that type without dev. src is the packet's source address; iif (a link of ns or its name) simulates a packet arriving there to be forwarded (needs src and forwarding); mark is a firewall mark.`},
	{Name: "neighbours", Domain: "state", Fn: fnNeighbours,
		Sig: `neighbours(of)`,
		Doc: `Returns the neighbour (ARP and NDP) entries of the namespace of (a netns or its name), or only those on the link of: a list of neighbour values with addr, mac, state and dev, as ip neigh show does.`},
	{Name: "addresses", Domain: "state", Fn: fnAddresses,
		Sig: `addresses(of)`,
		Doc: `Returns the addresses of the namespace of (a netns or its name), or only those of the link of, as the kernel has them now, including the ones that programs (a DHCP client, run("ip addr add ...")) added and the kernel's own IPv6 link-local ones: a list of address values with addr ("10.0.0.1/24"), dev and scope, as ip addr show does. (netns.addrs and link.addrs list only what the lab added.)`},
	{Name: "fdb", Domain: "state", Fn: fnFDB,
		Sig: `fdb(link)`,
		Doc: `Returns the forwarding database of a bridge (the entries of its ports and its own) or of a vxlan device: a list of fdb_entry values with mac, dev (the port), remote (a vxlan entry's endpoint), vlan and state, as bridge fdb show does.`},
	{Name: "expect_route", Domain: "state", Fn: fnExpectRoute,
		Sig: `expect_route(ns, dst, via=None, dev=None, table=None, proto=None, src=None, iif=None, mark=None, within=None)`,
		Doc: `Expects the kernel's decision for a packet from ns to the address dst (as route_get) to go via that gateway, out of dev (a link of ns or its name), from that table and a route of that proto; without any of them, that there is a route that forwards (not none, blackhole, unreachable or prohibit). Records ok or FAIL with the decision ("via 10.0.1.1 dev eth0 src 10.0.1.2 table main proto boot"). With within, the decision is read again until it matches (a routing daemon converging). A FAIL lists what the lookup considered: the policy rules in order, each table's routes that contain dst (marking a table no rule looks up) and, with iif, forwarding when it is off.`},
	{Name: "expect_neighbour", Domain: "state", Fn: fnExpectNeighbour,
		Sig: `expect_neighbour(ns, addr, state=None, mac=None, within=None)`,
		Doc: `Expects ns's neighbour entry for addr to be in state ("reachable", "stale", "delay", "probe", "incomplete", "failed", "permanent", "noarp", or "none" for no entry at all), and to have link-layer address mac; without state, to be resolved (to have a MAC). With within, the table is read again until it matches.`},

	// check.go (counted custom checks)
	{Name: "expect", Domain: "check", Fn: fnExpect,
		Sig: `expect(cond, msg=None, within=None)`,
		Doc: `Records ok or FAIL for a condition of the script's own, at its position, counted like every expect_*: expect(len(routes(r1)) == 3, "three routes"). cond may be a function (lambda: ...), which is called now; with within, it is called again every 100ms until it returns a true value or the time is over ("true (after 0.3s, within 5s)"). The script waits meanwhile: a function is Starlark code, which runs on the script's own thread, so expect(..., within=) is a barrier (probes started before it go on).`},
	{Name: "expect_run", Domain: "check", Mutates: true, Fn: fnExpectRun,
		Sig: `expect_run(ns, cmd, status=0, stdout=None, stderr=None, timeout="30s", stdin="", env=None, within=None)`,
		Doc: `Runs a program in ns as run() does and records ok or FAIL for its verdict: exit status status, and stdout and stderr that match the regular expressions given (RE2, searched anywhere: anchor with ^ and $, (?m) for lines). An unmodified test script becomes one counted expectation. A failure shows the last lines of what the program wrote under the FAIL line; one that runs longer than timeout is stopped and fails. With within, the program is run again (every 100ms after it ends) until its verdict is the wanted one or the time is over: a check that a daemon has converged. Like run(), it waits for the expectations before it, and the script waits for it.`},

	// capture.go, capture_expect.go (packets on a wire)
	{Name: "capture", Domain: "capture", Mutates: true, Fn: fnCapture,
		Sig: `capture(link, filter=None)`,
		Doc: `Starts recording the packets link sends and receives, as tcpdump -i does, and returns a capture value (attributes packets, filter, dropped; methods stop, save). It opens a packet socket in the link's namespace (no tcpdump needed, rootless too) and records from this line on; reading capture.packets waits for the probes before that line, so their packets are in. filter, a dict of the keys expect_packets takes ({"proto": "icmp", "host": net1}), keeps only the packets that match. Captures stop when the run ends, and a failed run's --bundle directory gets each one as a pcap file.`},
	{Name: "expect_packets", Domain: "capture", Mutates: true, Fn: fnExpectPackets,
		Sig: `expect_packets(capture, match=None, count=None, min=None, max=None, within=None, proto=None, type=None, flags=None, src=None, dst=None, host=None, sport=None, dport=None, port=None)`,
		Doc: `Expects the capture to hold count packets (or between min and max; by default at least one) that match every key given, as a dict match or as keyword arguments: proto ("arp", "icmp", "icmp6", "igmp", "tcp", "udp"; "ip" and "ip6" match every IPv4 or IPv6 packet), type (arp "request" or "reply"; icmp and icmp6 "echo-request", "echo-reply", "unreachable", "time-exceeded", "neighbor-solicitation", ...), flags (tcp, exactly as tcpdump writes them: "S" for a SYN, "S." for a SYN-ACK), src, dst and host (either end: an address, a network "10.0.0.0/24", a netns or link; for arp the sender's and target's addresses), sport, dport and port (either). It counts what crossed the link up to this line; with within ("2s"), packets still coming count until the lower bound is reached or the time is up. Records ok or FAIL with the script position; a failure lists the packets the capture saw, the matching ones marked with *.`},

	// The values builtins return: an entry named by the value's type lists
	// its attributes, one named TYPE.METHOD documents a method.
	{Name: "netns", Domain: "values", Sig: `netns value`,
		Doc: `What netns() returns and host is: attributes name, addrs (every address the lab added), addr (the first, IPv4 preferred, or None), links, deleted; equal to itself however it was reached.`},
	{Name: "netns.link", Domain: "values", Sig: `netns.link(name)`,
		Doc: `Returns the link called name in this namespace, as link(ns, name) does.`},
	{Name: "link", Domain: "values", Sig: `link value`,
		Doc: `What veth(), bridge(), link() and the interface builtins return: attributes name, ns, kind, index, mac, mtu, addrs, peer, master, stats (the kernel's counters, read fresh on each access: a link_stats value); equal to itself however it was reached, also after rename() or move().`},
	{Name: "link.addr", Domain: "values", Mutates: true, Sig: `link.addr(addr, ...)`,
		Doc: `Adds addresses ("10.0.0.1/24", "fd00::1/64", or lists of them; IPv6 without DAD wait) and returns the link.`},
	{Name: "link.up", Domain: "values", Mutates: true, Sig: `link.up()`,
		Doc: `Sets the link administratively up and returns it.`},
	{Name: "link.down", Domain: "values", Mutates: true, Sig: `link.down()`,
		Doc: `Sets the link administratively down and returns it.`},
	{Name: "link.set", Domain: "values", Mutates: true, Sig: `link.set(master=unchanged, mtu=None, mac=None, name=None, ns=None, up=None, hairpin=None)`,
		Doc: `Changes several things at once and returns the link. None leaves a thing as it is, but master=None detaches the link from its bridge. hairpin=True lets a bridge port send frames back where they came from (a VEPA switch).`},
	{Name: "link.move", Domain: "values", Mutates: true, Sig: `link.move(ns)`,
		Doc: `Moves the link into another namespace (the kernel drops its addresses and sets it down) and returns it.`},
	{Name: "link.rename", Domain: "values", Mutates: true, Sig: `link.rename(name)`,
		Doc: `Renames the link (set it down first) and returns it.`},
	{Name: "link.delete", Domain: "values", Mutates: true, Sig: `link.delete()`,
		Doc: `Deletes the link (a veth takes its peer with it, a parent its macvlans and vlans; the kernel removes the routes through it). Later use of the value, or of its peer's, is an error naming where it was deleted.`},
	{Name: "netns.delete", Domain: "values", Mutates: true, Sig: `netns.delete()`,
		Doc: `Deletes the namespace, as ip netns del does, with its links, and at once the veth peers and macvlans in other namespaces whose other end or parent was in it. Later use of the value, of its name, or of its links is an error naming where it was deleted. The host namespace and namespaces opened with existing=True cannot be deleted; with --host, namespaces are deleted when the run ends.`},
	{Name: "rule", Domain: "values", Sig: `rule value`,
		Doc: `What rule() returns: attributes ns, table (or None), priority (or None when the kernel picked it), action, deleted.`},
	{Name: "rule.delete", Domain: "values", Mutates: true, Sig: `rule.delete()`,
		Doc: `Deletes the rule, as ip rule del does. Deleting it twice is an error.`},
	{Name: "ping_result", Domain: "values", Sig: `ping_result`,
		Doc: `What ping() returns: attributes ok, sent, received, rtt (milliseconds, first reply), outcome ("reply", "unreachable", "no route", "timeout", "frag needed"), detail, mtu (the MTU a "frag needed" reported, else 0), ttl (TTL or hop limit of the first reply as it arrived, 0 if none) sender (the address the first reply or the ICMP error came from, None if nothing came; from is a reserved word in Starlark) and src (the source address the requests carried: the first reply's destination, or src_addr; None if neither tells).`},
	{Name: "connect_result", Domain: "values", Sig: `connect_result`,
		Doc: `What connect() and http_get() return: attributes ok, outcome ("reply", "unreachable", "no route", "timeout"), detail, peer (the client address a built-in server reported, or ""), src (the local address of the connection, None if it never got one), elapsed (milliseconds), bytes; http_get adds status and body.`},
	{Name: "service", Domain: "values", Sig: `service value`,
		Doc: `What serve() returns: attributes ns, proto, addr, port, peers (the client addresses "ip:port" the server saw, in order).`},
	{Name: "service.close", Domain: "values", Mutates: true, Sig: `service.close()`,
		Doc: `Stops the server (every server stops when the run ends).`},
	{Name: "process", Domain: "values", Sig: `process value`,
		Doc: `What run(..., background=True) returns: attributes pid, argv, ns, running, status (None while running), stdout, stderr (the output so far).`},
	{Name: "process.stop", Domain: "values", Mutates: true, Sig: `process.stop()`,
		Doc: `Sends SIGTERM, then SIGKILL after 1s, to the program and its process group, and returns its run_result.`},
	{Name: "watch", Domain: "values", Sig: `watch value`,
		Doc: `What watch() has seen so far: sent, received, lost, windows, outages, max_outage, first_reply, last_reply, elapsed (durations in milliseconds), running.`},
	{Name: "watch.stop", Domain: "values", Mutates: true, Sig: `watch.stop()`,
		Doc: `Ends the watch: no request is sent after it and those in flight get their reply or time out (at most timeout), so what is read after it is final. Returns the watch.`},
	{Name: "route", Domain: "values", Sig: `route value`,
		Doc: `What route(), routes() and route_get() return: attributes dst ("10.0.0.0/24", "default"; route_get: the address asked for), via (gateway, the first one's of a multipath route, or None), dev (interface name or None), src (preferred source or None), metric, table ("main", "local", "100"; None for a blackhole or unreachable decision), proto ("kernel", "boot", "static", "dhcp", "bird", ...), scope ("global", "link", "host"), type ("unicast", "local", "blackhole", "unreachable", "prohibit", ...). What route() returns also has ns, nexthops (a list of (gateway, weight) of a multipath route, else empty), deleted, and the method delete.`},
	{Name: "firewall_rule", Domain: "values", Sig: `firewall_rule`,
		Doc: `What firewall(..., counter=True) returns: attributes packets and bytes (what the rule has matched so far, read from the kernel at that line, after the probes before it: expect(r.packets > 0)), desc (the rule in words) and ns.`},
	{Name: "route.delete", Domain: "values", Mutates: true, Sig: `route.delete()`,
		Doc: `Deletes the route, as ip route del does. Deleting it twice is an error.`},
	{Name: "address", Domain: "values", Sig: `address`,
		Doc: `What addresses() returns: attributes addr ("10.0.0.1/24"), dev, scope ("global", "link", "host").`},
	{Name: "neighbour", Domain: "values", Sig: `neighbour`,
		Doc: `What neighbours() returns: attributes addr, mac (None while incomplete), state ("reachable", "stale", "delay", "probe", "incomplete", "failed", "permanent", "noarp"), dev.`},
	{Name: "fdb_entry", Domain: "values", Sig: `fdb_entry`,
		Doc: `What fdb() returns: attributes mac, dev (the port, or the vxlan device), remote (a vxlan entry's remote endpoint, or None), vlan (0 for none), state ("permanent" for local and static entries, "reachable" or "stale" for learnt ones).`},
	{Name: "link_stats", Domain: "values", Sig: `link_stats`,
		Doc: `What link.stats is (read fresh on each access, as ip -s link show does): attributes rx_packets, tx_packets, rx_bytes, tx_bytes, rx_dropped, tx_dropped, rx_errors, tx_errors.`},

	{Name: "capture", Domain: "values", Sig: `capture value`,
		Doc: `What capture() returns: attributes link, filter (as keyword text, "proto=arp"), packets (the packet values recorded so far, in order; reading it waits for the probes before its line), dropped (packets not kept: past 100000 or 256 MiB, or dropped by the kernel).`},
	{Name: "capture.stop", Domain: "values", Mutates: true, Sig: `capture.stop()`,
		Doc: `Stops recording (every capture stops when the run ends); the packets stay.`},
	{Name: "capture.save", Domain: "values", Mutates: true, Sig: `capture.save(path)`,
		Doc: `Writes the packets recorded so far as a pcap file (tcpdump -r, Wireshark); a relative path is relative to the script.`},
	{Name: "packet", Domain: "values", Sig: `packet`,
		Doc: `One of capture.packets: attributes time (seconds since the capture started), dir ("in" or "out" of the link), proto ("arp", "icmp", "icmp6", "igmp", "tcp", "udp", "ip", "ip6" or "ether"), type (arp: "request", "reply"; icmp, icmp6: "echo-request", "echo-reply", "unreachable", "time-exceeded", "neighbor-solicitation", ...; else None), flags (tcp flags as tcpdump writes them: "S", "S.", ".", "P.", "F.", "R"; else None), src, dst (IP addresses; for arp the sender's and target's; else None), sport, dport (tcp and udp; else None), len (bytes on the wire), summary (tcpdump -nS's line without the time: "ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28").`},
	{Name: "daemon", Domain: "values", Sig: `daemon value`,
		Doc: `What daemon(), bird() and dnsmasq() return: attributes name (the program's base name), argv, ns, pid, files (the private files' paths), running, status (None while running), stdout, stderr; method stop.`},
	{Name: "frr", Domain: "values", Sig: `frr value`,
		Doc: `What frr() returns: attributes ns and daemons (the daemon values, zebra first). vtysh() and expect_daemon() take it.`},
	{Name: "daemon.stop", Domain: "values", Mutates: true, Sig: `daemon.stop()`,
		Doc: `Stops the daemon (SIGTERM, SIGKILL a second later) and returns a run_result; every daemon stops when the run ends.`},
	{Name: "lease", Domain: "values", Sig: `lease`,
		Doc: `What dhcp() returns: attributes addr (the leased address, "10.0.0.147": a probe target), prefix ("10.0.0.147/24"), router, server (the DHCP server's address; each None when not given), dns (a list of DNS server addresses), domain, lease_time (milliseconds: compare with duration("1h")), hostname (the name sent), link, ns.`},
	{Name: "run_result", Domain: "values", Sig: `run_result`,
		Doc: `What run() returns: attributes ok (exit status 0), status (exit status, -1 when a signal ended the program), signal ("" or e.g. "SIGKILL"), stdout, stderr.`},
}

// byName indexes Table: a name's entries, the builtin before the value type
// of the same name (link). It is made on first use: a run that looks up no
// doc string does not pay for it at start.
var byName = sync.OnceValue(func() map[string][]*Builtin {
	m := map[string][]*Builtin{}
	for _, b := range Table {
		m[b.Name] = append(m[b.Name], b)
	}
	return m
})

// Lookup returns the builtin, value type or method called name ("veth",
// "ping_result", "link.addr"), or nil. For a name that is both a builtin
// and the type of what it returns (link, netns), it returns the builtin.
func Lookup(name string) *Builtin {
	if bs := byName()[name]; len(bs) > 0 {
		return bs[0]
	}
	return nil
}

// Predeclared returns the names a script sees in run r: every builtin, host,
// vars (the --set values as a dict) and each --set value by its own name.
func Predeclared(r *Run) starlark.StringDict {
	d := starlark.StringDict{}
	for _, b := range Table {
		if b.Fn == nil {
			continue
		}
		d[b.Name] = starlark.NewBuiltin(b.Name, wrap(b))
	}
	d["host"] = NetnsValue(r.Lab.Host)
	vars := starlark.NewDict(len(r.Vars))
	for _, k := range sortedKeys(r.Vars) {
		vars.SetKey(starlark.String(k), r.Vars[k])
		d[k] = r.Vars[k]
	}
	vars.Freeze()
	d["vars"] = vars
	return d
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// wrap adapts a table entry to a Starlark builtin: it records the caller's
// position for the lab's steps, finishes pending expectations before a
// change, and gives every error exactly one "name: " prefix.
func wrap(b *Builtin) func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return func(t *starlark.Thread, sb *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		r := runOf(t)
		if r == nil {
			return nil, fmt.Errorf("%s: no lab in this thread", b.Name)
		}
		v, err := call(r, b.Name, b.Mutates, t, func() (starlark.Value, error) { return b.Fn(r, t, sb, args, kwargs) })
		if err != nil {
			err = withHint(err, b.Sig)
		}
		return v, err
	}
}

// call runs fn as builtin (or method) name, with the bookkeeping of wrap. A
// cancelled run refuses the call, and a call that returns into a cancelled
// run ends the script at its line (lang's guard covers the predeclared
// builtins; this covers methods too).
func call(r *Run, name string, mutates bool, t *starlark.Thread, fn func() (starlark.Value, error)) (starlark.Value, error) {
	if err := lang.Stopped(r.Ctx); err != nil {
		return nil, err
	}
	if mutates {
		r.Flush()
	}
	r.Lab.SetPos(lang.CallerPos(t))
	v, err := fn()
	if stop := lang.Stopped(r.Ctx); stop != nil {
		// Cut short (or finished) as the run ended: the script goes no further.
		t.Cancel(stop.Error())
		return nil, stop
	}
	if err != nil {
		if !strings.HasPrefix(err.Error(), name+": ") {
			err = fmt.Errorf("%s: %w", name, err)
		}
		return nil, err
	}
	return v, nil
}

// Doc returns the reference text of one builtin, or of all when name is "".
func Doc(name string) (string, error) {
	var b strings.Builder
	if name != "" {
		xs := byName()[name]
		if len(xs) == 0 {
			return "", fmt.Errorf("no builtin %q (try nsscript doc for the list)", name)
		}
		for i, x := range xs {
			if i > 0 {
				b.WriteString("\n")
			}
			fmt.Fprintf(&b, "%s\n\n%s\n", x.Sig, wrapText(x.Doc, 76, "    "))
		}
		return b.String(), nil
	}
	for _, g := range Domains() {
		fmt.Fprintf(&b, "\n## %s\n\n", g.Domain)
		for _, x := range g.Builtins {
			fmt.Fprintf(&b, "%s\n%s\n\n", x.Sig, wrapText(x.Doc, 76, "    "))
		}
	}
	return strings.TrimLeft(b.String(), "\n"), nil
}

// DomainGroup is one domain of the table and its builtins, in table order.
type DomainGroup struct {
	Domain   string
	Builtins []*Builtin
}

// Domains returns the table grouped by domain, domains in the order they
// first appear: a builtin listed later under an earlier domain joins that
// domain's group, so every listing has one heading per domain.
func Domains() []DomainGroup {
	var groups []DomainGroup
	at := map[string]int{}
	for _, x := range Table {
		i, ok := at[x.Domain]
		if !ok {
			i = len(groups)
			at[x.Domain] = i
			groups = append(groups, DomainGroup{Domain: x.Domain})
		}
		groups[i].Builtins = append(groups[i].Builtins, x)
	}
	return groups
}

// wrapText folds s into lines of at most width, each with indent.
func wrapText(s string, width int, indent string) string {
	var b strings.Builder
	line := indent
	for _, w := range strings.Fields(s) {
		if len(line)+len(w)+1 > width && len(line) > len(indent) {
			b.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += w
	}
	b.WriteString(line)
	return b.String()
}
