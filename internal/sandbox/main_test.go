package sandbox

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/nsscript/nsscript/internal/nsutil"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The test binary plays three parts, chosen by the environment:
//   - the sandboxed child (EnvVar=1): Setup, then the program named by
//     childModeEnv, then exit;
//   - a parent started by a test (parentEnv=run): call Run and exit with its
//     code, so tests can kill or signal a parent that is not the test itself;
//   - the tests.
const (
	childModeEnv = "SANDBOX_TEST_CHILD"
	parentEnv    = "SANDBOX_TEST_PARENT"
	// exitNoSandbox is a parent's exit code when Check fails.
	exitNoSandbox = 42
)

func TestMain(m *testing.M) {
	if Inside() {
		if err := Setup(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(97)
		}
		os.Exit(childMain(os.Getenv(childModeEnv)))
	}
	if os.Getenv(parentEnv) == "run" {
		if err := Check(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(exitNoSandbox)
		}
		code, err := Run(Options{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(98)
		}
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// info is what the "info" child reports about its sandbox.
type info struct {
	Netns       uint64
	UID         int
	Rootless    bool
	Where       string
	LoUp        bool
	RunNetns    []string // entries of /run/netns
	RunNetnsFS  int64    // statfs type of /run/netns
	Run         []string // entries of /run
	SysClassNet []string
	EnvVarSet   bool
	Args        []string
	NamedNetns  string // error from bind-mounting a named netns, or "ok"
}

func childMain(mode string) int {
	switch mode {
	case "info":
		return printInfo()
	case "exit3":
		return 3
	case "sigterm-self":
		// Init of a PID namespace cannot die of its own signals: Go's
		// runtime, finding SIGTERM unhandled and itself still alive,
		// exits with status 2.
		syscall.Kill(os.Getpid(), syscall.SIGTERM)
		time.Sleep(10 * time.Second)
		return 1
	case "wait":
		fmt.Println("ready")
		select {}
	case "hold-netns":
		return holdNetns()
	case "signals":
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGINT, syscall.SIGTERM)
		fmt.Println("ready")
		s := <-c
		fmt.Println("got", s)
		select { // a signal must arrive once, not also through the parent
		case s := <-c:
			fmt.Println("again", s)
		case <-time.After(200 * time.Millisecond):
		}
		if s == syscall.SIGINT {
			return 7
		}
		return 8
	case "veth-sleep":
		name := os.Getenv("SANDBOX_TEST_VETH")
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name + "a"}, PeerName: name + "b"}
		if err := netlink.LinkAdd(veth); err != nil {
			fmt.Println("veth:", err)
			return 1
		}
		fmt.Println("ready")
		select {}
	}
	fmt.Fprintf(os.Stderr, "unknown child mode %q\n", mode)
	return 2
}

func printInfo() int {
	var in info
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &st); err != nil {
		fmt.Println(err)
		return 1
	}
	in.Netns = st.Ino
	in.UID = os.Getuid()
	in.Rootless = Rootless()
	in.Where = Where()
	if lo, err := net.InterfaceByName("lo"); err == nil {
		in.LoUp = lo.Flags&net.FlagUp != 0
	}
	in.RunNetns = names(netnsDir)
	var sfs unix.Statfs_t
	if unix.Statfs(netnsDir, &sfs) == nil {
		in.RunNetnsFS = sfs.Type
	}
	in.Run = names("/run")
	in.SysClassNet = names("/sys/class/net")
	_, in.EnvVarSet = os.LookupEnv(EnvVar)
	in.Args = os.Args
	in.NamedNetns = namedNetns(filepath.Join(netnsDir, "lab"+strconv.FormatUint(in.Netns, 10)))
	b, _ := json.Marshal(in)
	fmt.Println(string(b))
	return 0
}

// namedNetns does what `ip netns add` does: bind-mounts a new netns on a file
// in /run/netns, then opens it by that name.
func namedNetns(path string) string {
	fd, err := nsutil.New()
	if err != nil {
		return err.Error()
	}
	defer unix.Close(fd)
	f, err := os.Create(path)
	if err != nil {
		return err.Error()
	}
	f.Close()
	if err := unix.Mount(fmt.Sprintf("/proc/self/fd/%d", fd), path, "", unix.MS_BIND, ""); err != nil {
		return "bind: " + err.Error()
	}
	nfd, err := nsutil.Open(path)
	if err != nil {
		return err.Error()
	}
	unix.Close(nfd)
	return "ok"
}

func names(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	out := make([]string, 0, len(ents))
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}
