package cli

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/lab"
	"github.com/nsscript/nsscript/internal/nsutil"
	"github.com/nsscript/nsscript/internal/sandbox"
)

// The explain round trip (explain_test.go) needs one more part of the test
// binary, chosen in init so that it works whatever TestMain does: a
// sandboxed child (roundTripEnv set) that builds a lab, either by running a
// shell script with bash or by running a .star script with the lab, and
// then prints the normalised topology (topoDump).
const (
	roundTripEnv     = "NSSCRIPT_CLI_TEST_ROUNDTRIP" // "shell" or "script"
	roundTripFileEnv = "NSSCRIPT_CLI_TEST_ROUNDTRIP_FILE"
	roundTripDirEnv  = "NSSCRIPT_CLI_TEST_ROUNDTRIP_DIR" // where bash runs
)

func init() {
	mode := os.Getenv(roundTripEnv)
	if mode == "" || !sandbox.Inside() {
		return
	}
	if err := sandbox.Setup(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(97)
	}
	os.Exit(roundTripChild(mode, os.Getenv(roundTripFileEnv)))
}

// roundTripChild builds the lab of file inside the sandbox and prints its
// topology on stdout; everything else goes to stderr.
func roundTripChild(mode, file string) int {
	const netnsDir = "/run/netns"
	switch mode {
	case "shell":
		// The sandbox covers /run/netns, not /run: the explained script
		// writes its daemons' files under /run/nsscript, which would be
		// the real host's (and shared by parallel round trips). A tmpfs
		// on /run, in the sandbox's own mount namespace, keeps them here;
		// so does one on each directory outside /run that the script's
		// header asks to be private (FRR's /etc/frr and /var/tmp).
		for _, dir := range append([]string{"/run"}, privateDirs(file)...) {
			if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "mode=0755"); err != nil {
				fmt.Fprintf(os.Stderr, "mount tmpfs on %s: %v\n", dir, err)
				return 3
			}
		}
		if err := os.Mkdir(netnsDir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		cmd := exec.Command("bash", file)
		cmd.Dir = os.Getenv(roundTripDirEnv)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := runOwned(cmd, cmd.Start); err != nil {
			fmt.Fprintf(os.Stderr, "bash %s: %v\n", file, err)
			return 3
		}
		if left := leftRunning(); left != "" {
			fmt.Fprintf(os.Stderr, "bash %s left programs running:\n%s", file, left)
			return 3
		}
	case "script":
		// ARP, as the explained shell script has it (the lab would install
		// permanent entries on a machine whose neighbour table is nearly
		// full, which scripts about ARP, as their specs do, rule out).
		l, err := lab.New(lab.Options{Neigh: lab.NeighARP})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		defer l.Close()
		env := &Env{Stdout: os.Stderr, Stderr: os.Stderr, Getenv: os.Getenv}
		if code := execScript(context.Background(), env, l, file, nil, runFlags{}, func() {}); code != ExitOK {
			return 3
		}
		if err := l.BindAll(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		// What the run leaves, as the shell does: its own namespaces stay
		// (bound), one it only opened is gone if the script deleted it.
		if err := l.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
	default:
		fmt.Fprintf(os.Stderr, "unknown round trip mode %q\n", mode)
		return 2
	}
	out, err := settledDump(netnsDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dump:", err)
		return 4
	}
	fmt.Print(out)
	return 0
}

// privateDirs are the directories other than /run on which the header of
// the explained script file suggests a tmpfs ("mount -t tmpfs none DIR &&").
func privateDirs(file string) []string {
	b, _ := os.ReadFile(file)
	var dirs []string
	for _, m := range regexp.MustCompile(`mount -t tmpfs none (/\S+) &&`).FindAllStringSubmatch(string(b), -1) {
		if m[1] != "/run" && !slices.Contains(dirs, m[1]) {
			dirs = append(dirs, m[1])
		}
	}
	return dirs
}

// settledDump is topoDump once no veth has its peer in a namespace without
// a name ("peer=/#N"): one the script deleted, which the kernel destroys
// (and with it the veth pair) a moment later, asynchronously. It gives up
// waiting after a generous bound and returns what it sees then.
func settledDump(dir string) (string, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := topoDump(dir)
		if err != nil || !strings.Contains(out, " peer=/#") || time.Now().After(deadline) {
			return out, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// leftRunning lists the processes of the sandbox other than this one (its
// init) that are still alive once bash has exited: what the script started
// and did not stop. A process that is on its way out (a socat child whose
// connection just ended) is given until exitGrace to go.
func leftRunning() string {
	const exitGrace = 30 * time.Second
	deadline := time.Now().Add(exitGrace)
	for {
		var left strings.Builder
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
			if i := bytes.LastIndexByte(stat, ')'); err != nil || i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' {
				continue // gone, or a zombie: dead
			}
			cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			fmt.Fprintf(&left, "  %d %s\n", pid, bytes.ReplaceAll(bytes.TrimRight(cmdline, "\x00"), []byte{0}, []byte(" ")))
		}
		if left.Len() == 0 || time.Now().After(deadline) {
			return left.String()
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// topoDump describes, in a normalised text form, this process's network
// namespace (as "host") and every namespace bound under dir: the links with
// their kind, state, MTU, master and veth peer (by namespace and name, not
// index), their addresses, the main routing table, and forwarding. What the
// kernel numbers or randomises (indexes, MAC addresses) and the IPv6
// link-local addresses and routes the kernel adds by itself are left out.
func topoDump(dir string) (string, error) {
	v := &dumpView{}
	defer v.close()
	if err := v.open(dir); err != nil {
		return "", err
	}
	var b strings.Builder
	for _, n := range v.names {
		fmt.Fprintf(&b, "netns %s forwarding=%s/%s\n", n,
			readSysctl(v.fds[n], "net/ipv4/ip_forward"), readSysctl(v.fds[n], "net/ipv6/conf/all/forwarding"))
		for _, l := range v.links[n] {
			if err := v.writeLink(&b, n, l); err != nil {
				return "", err
			}
		}
		if err := v.writeRoutes(&b, n); err != nil {
			return "", err
		}
		rules, err := nftRuleset(n, v.fds[n])
		if err != nil {
			return "", err
		}
		b.WriteString(rules)
	}
	return b.String(), nil
}

// dumpView is what topoDump reads: the namespaces by name, with a
// descriptor, a netlink handle and the links of each.
type dumpView struct {
	names   []string
	fds     map[string]int
	handles map[string]*netlink.Handle
	nsids   map[string]map[int]string // nsids[a][id] names the namespace a sees as netns id id
	links   map[string][]netlink.Link // sorted by name
}

// open opens this process's namespace (as the lab's host) and those bound
// in dir, and lists their links and the ids they know each other by.
func (v *dumpView) open(dir string) error {
	v.names = []string{lab.HostName}
	v.fds, v.handles = map[string]int{}, map[string]*netlink.Handle{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		v.names = append(v.names, e.Name())
	}
	for _, n := range v.names {
		var fd int
		if n == lab.HostName {
			fd, err = nsutil.Current()
		} else {
			fd, err = nsutil.Open(filepath.Join(dir, n))
		}
		if err != nil {
			return fmt.Errorf("open netns %s: %w", n, err)
		}
		v.fds[n] = fd
		h, err := nsutil.NewHandle(fd, unix.NETLINK_ROUTE)
		if err != nil {
			return fmt.Errorf("netlink in %s: %w", n, err)
		}
		v.handles[n] = h
	}
	v.nsids, v.links = map[string]map[int]string{}, map[string][]netlink.Link{}
	for _, a := range v.names {
		v.nsids[a] = map[int]string{}
		for _, b := range v.names {
			if id, err := v.handles[a].GetNetNsIdByFd(v.fds[b]); err == nil && id >= 0 && a != b {
				v.nsids[a][id] = b
			}
		}
		ls, err := v.handles[a].LinkList()
		if err != nil {
			return fmt.Errorf("list links in %s: %w", a, err)
		}
		sort.Slice(ls, func(i, j int) bool { return ls[i].Attrs().Name < ls[j].Attrs().Name })
		v.links[a] = ls
	}
	return nil
}

// close closes the handles and descriptors open opened.
func (v *dumpView) close() {
	for _, h := range v.handles {
		h.Close()
	}
	for _, fd := range v.fds {
		unix.Close(fd)
	}
}

// nameOf names the link of namespace ns with the index given.
func (v *dumpView) nameOf(ns string, index int) string {
	for _, l := range v.links[ns] {
		if l.Attrs().Index == index {
			return l.Attrs().Name
		}
	}
	return "#" + strconv.Itoa(index)
}

// writeLink writes a line for link l of namespace n and one for each of its
// addresses other than link-local ones.
func (v *dumpView) writeLink(b *strings.Builder, n string, l netlink.Link) error {
	a := l.Attrs()
	state := "down"
	if a.Flags&net.FlagUp != 0 {
		state = "up"
	}
	fmt.Fprintf(b, "  link %s %s %s mtu=%d", a.Name, l.Type(), state, a.MTU)
	if a.MasterIndex != 0 {
		fmt.Fprintf(b, " master=%s", v.nameOf(n, a.MasterIndex))
	}
	if l.Type() == "veth" && a.ParentIndex != 0 {
		peerNS := n
		if a.NetNsID >= 0 {
			peerNS = v.nsids[n][a.NetNsID]
		}
		fmt.Fprintf(b, " peer=%s/%s", peerNS, v.nameOf(peerNS, a.ParentIndex))
	}
	b.WriteString("\n")
	addrs, err := v.handles[n].AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return err
	}
	var as []string
	for _, ad := range addrs {
		if !ad.IP.IsLinkLocalUnicast() {
			as = append(as, ad.IPNet.String())
		}
	}
	sort.Strings(as)
	for _, s := range as {
		fmt.Fprintf(b, "    addr %s\n", s)
	}
	return nil
}

// writeRoutes writes the routes of namespace n's main table, sorted, but
// for link-local and multicast ones.
func (v *dumpView) writeRoutes(b *strings.Builder, n string) error {
	routes, err := v.handles[n].RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return err
	}
	var rs []string
	for _, r := range routes {
		dst := "default"
		if r.Dst != nil {
			if ones, _ := r.Dst.Mask.Size(); ones > 0 || !r.Dst.IP.IsUnspecified() {
				dst = r.Dst.String()
			}
			if r.Dst.IP.IsLinkLocalUnicast() || r.Dst.IP.IsMulticast() {
				continue
			}
		}
		s := "  route " + dst
		if r.Gw != nil {
			s += " via " + r.Gw.String()
		}
		if r.LinkIndex != 0 {
			s += " dev " + v.nameOf(n, r.LinkIndex)
		}
		s += fmt.Sprintf(" proto %d scope %d metric %d", r.Protocol, r.Scope, r.Priority)
		rs = append(rs, s)
	}
	sort.Strings(rs)
	for _, s := range rs {
		b.WriteString(s + "\n")
	}
	return nil
}

// runOwned starts cmd with start and waits for it through the sandbox's
// reaper (sandbox.StartCmd, WaitCmd): this process is init of the sandbox
// and reaps orphans, and a plain cmd.Run could find its child reaped
// ("waitid: no child processes", seen in CI).
func runOwned(cmd *exec.Cmd, start func() error) error {
	if err := sandbox.StartCmd(cmd, start); err != nil {
		return err
	}
	return sandbox.WaitCmd(cmd)
}

// nftRuleset is the namespace's nft ruleset as `nft -s list ruleset` prints
// it (without counters and handles), indented; "" where nft is not
// installed (then neither lab has rules made with it) or the set is empty.
func nftRuleset(name string, fd int) (string, error) {
	if _, err := exec.LookPath("nft"); err != nil {
		return "", nil
	}
	var buf bytes.Buffer
	cmd := exec.Command("nft", "-s", "list", "ruleset")
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := runOwned(cmd, func() error { return nsutil.Do(fd, cmd.Start) })
	out := buf.Bytes()
	if err != nil {
		return "", fmt.Errorf("nft list ruleset in %s: %w: %s", name, err, out)
	}
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.TrimSpace(l) != "" {
			b.WriteString("  nft " + l + "\n")
		}
	}
	return b.String(), nil
}

// readSysctl reads a /proc/sys file inside the namespace behind fd.
func readSysctl(fd int, key string) string {
	var v string
	err := nsutil.Do(fd, func() error {
		b, err := os.ReadFile("/proc/sys/" + key)
		v = strings.TrimSpace(string(b))
		return err
	})
	if err != nil {
		return "?"
	}
	return v
}
