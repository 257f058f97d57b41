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
	names := []string{lab.HostName}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	for _, e := range ents {
		names = append(names, e.Name())
	}
	fds := map[string]int{}
	handles := map[string]*netlink.Handle{}
	defer func() {
		for _, h := range handles {
			h.Close()
		}
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for _, n := range names {
		var fd int
		if n == lab.HostName {
			fd, err = nsutil.Current()
		} else {
			fd, err = nsutil.Open(filepath.Join(dir, n))
		}
		if err != nil {
			return "", fmt.Errorf("open netns %s: %w", n, err)
		}
		fds[n] = fd
		h, err := nsutil.NewHandle(fd, unix.NETLINK_ROUTE)
		if err != nil {
			return "", fmt.Errorf("netlink in %s: %w", n, err)
		}
		handles[n] = h
	}
	// nsids[a][id] names the namespace that a sees as netns id id.
	nsids := map[string]map[int]string{}
	links := map[string][]netlink.Link{}
	for _, a := range names {
		nsids[a] = map[int]string{}
		for _, b := range names {
			if id, err := handles[a].GetNetNsIdByFd(fds[b]); err == nil && id >= 0 && a != b {
				nsids[a][id] = b
			}
		}
		ls, err := handles[a].LinkList()
		if err != nil {
			return "", fmt.Errorf("list links in %s: %w", a, err)
		}
		sort.Slice(ls, func(i, j int) bool { return ls[i].Attrs().Name < ls[j].Attrs().Name })
		links[a] = ls
	}
	nameOf := func(ns string, index int) string {
		for _, l := range links[ns] {
			if l.Attrs().Index == index {
				return l.Attrs().Name
			}
		}
		return "#" + strconv.Itoa(index)
	}
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "netns %s forwarding=%s/%s\n", n,
			readSysctl(fds[n], "net/ipv4/ip_forward"), readSysctl(fds[n], "net/ipv6/conf/all/forwarding"))
		for _, l := range links[n] {
			a := l.Attrs()
			state := "down"
			if a.Flags&net.FlagUp != 0 {
				state = "up"
			}
			fmt.Fprintf(&b, "  link %s %s %s mtu=%d", a.Name, l.Type(), state, a.MTU)
			if a.MasterIndex != 0 {
				fmt.Fprintf(&b, " master=%s", nameOf(n, a.MasterIndex))
			}
			if l.Type() == "veth" && a.ParentIndex != 0 {
				peerNS := n
				if a.NetNsID >= 0 {
					peerNS = nsids[n][a.NetNsID]
				}
				fmt.Fprintf(&b, " peer=%s/%s", peerNS, nameOf(peerNS, a.ParentIndex))
			}
			b.WriteString("\n")
			addrs, err := handles[n].AddrList(l, netlink.FAMILY_ALL)
			if err != nil {
				return "", err
			}
			var as []string
			for _, ad := range addrs {
				if ad.IP.IsLinkLocalUnicast() {
					continue
				}
				as = append(as, ad.IPNet.String())
			}
			sort.Strings(as)
			for _, s := range as {
				fmt.Fprintf(&b, "    addr %s\n", s)
			}
		}
		routes, err := handles[n].RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
		if err != nil {
			return "", err
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
				s += " dev " + nameOf(n, r.LinkIndex)
			}
			s += fmt.Sprintf(" proto %d scope %d metric %d", r.Protocol, r.Scope, r.Priority)
			rs = append(rs, s)
		}
		sort.Strings(rs)
		for _, s := range rs {
			b.WriteString(s + "\n")
		}
		rules, err := nftRuleset(n, fds[n])
		if err != nil {
			return "", err
		}
		b.WriteString(rules)
	}
	return b.String(), nil
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
