package spec

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/lab"
	"github.com/nsscript/nsscript/internal/sandbox"
)

// Conditions lists the conditions nsscript adds to testscript's own (exec:NAME,
// short, net, GOOS and GOARCH names, ...), with what each one means.
var Conditions = []struct{ Name, Doc string }{
	{"root", "the specs run as root (uid 0)"},
	{"userns", "unprivileged users can create user namespaces, so nsscript runs rootless"},
	{"tun", "this user can open /dev/net/tun, so tap() can make tap and tun devices"},
	{"linktype:NAME", "the kernel can create a link of type NAME (veth, bridge, macvlan, vxlan, vlan, dummy, ...)"},
	{"qdisc:NAME", "the kernel can attach a queueing discipline NAME (netem, tbf, htb, ...)"},
	{"frr", "FRR is installed (zebra and the other daemons in /usr/lib/frr or /usr/libexec/frr, vtysh on PATH); where it is not, the condition is an error when " + requireEnv + "=1, so CI never skips the FRR specs"},
	{"sysctl:KEY", "a new network namespace has the sysctl KEY (net.*, such as net.bridge.bridge-nf-call-iptables, which needs br_netfilter)"},
}

// Condition reports whether cond, one of Conditions, holds on this machine.
// An unknown condition is an error, so a misspelt one fails the spec instead
// of silently skipping its lines. Results are computed once per process.
func Condition(cond string) (bool, error) {
	c := cacheEntry(cond)
	c.once.Do(func() { c.ok, c.err = evaluate(cond) })
	return c.ok, c.err
}

// errUnknown starts the error for a condition nobody knows.
var errUnknown = errors.New("unknown condition")

type condResult struct {
	once sync.Once
	ok   bool
	err  error
}

var (
	cacheMu sync.Mutex
	cache   = map[string]*condResult{}
)

func cacheEntry(cond string) *condResult {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	c := cache[cond]
	if c == nil {
		c = &condResult{}
		cache[cond] = c
	}
	return c
}

// evaluate computes one condition without the cache.
func evaluate(cond string) (bool, error) {
	kind, name, hasArg := strings.Cut(cond, ":")
	switch {
	case cond == "root":
		return os.Geteuid() == 0, nil
	case cond == "userns":
		return usernsUsable(), nil
	case cond == "tun":
		return tunUsable(), nil
	case cond == "frr":
		return frrInstalled()
	case hasArg && kind == "sysctl":
		if !validSysctlKey(name) {
			return false, fmt.Errorf("%q is not a network sysctl (net.*)", name)
		}
		ok, err := hasSysctl(name)
		if errors.Is(err, errNoNetns) && !sandbox.Inside() {
			return checkInSandbox(cond)
		}
		return ok, err
	case hasArg && (kind == "linktype" || kind == "qdisc"):
		if !validKindName(name) {
			return false, fmt.Errorf("%q is not a valid %s name", name, kind)
		}
		if known := map[string]func() map[string]bool{"linktype": linkKinds, "qdisc": qdiscKinds}[kind]; !known()[name] {
			return false, fmt.Errorf("Linux has no %s %q (a typo?)", kind, name)
		}
		ok, err := kernelCheck(kind, name)
		if errors.Is(err, errNoNetns) && !sandbox.Inside() {
			return checkInSandbox(cond)
		}
		return ok, err
	}
	if ok, known := testscriptCondition(cond); known {
		return ok, nil
	}
	return false, fmt.Errorf("%w %q (nsscript knows root, userns, tun, frr, linktype:NAME, qdisc:NAME, sysctl:KEY; testscript knows exec:NAME, GOOS and GOARCH names and others)", errUnknown, cond)
}

// requireEnv is testenv.RequireEnv (CI sets it; testenv is for tests only).
const requireEnv = "NSSCRIPT_REQUIRE_NAMESPACES"

// frrInstalled reports whether FRR's daemons and vtysh are there; their
// absence is an error when the specs must not skip (CI).
func frrInstalled() (bool, error) {
	_, err := lab.FRRDaemonPath("zebra")
	if err == nil {
		_, err = exec.LookPath("vtysh")
	}
	if err != nil && os.Getenv(requireEnv) == "1" {
		return false, fmt.Errorf("FRR is needed and %s=1: %w", requireEnv, err)
	}
	return err == nil, nil
}

func kernelCheck(kind, name string) (bool, error) {
	if kind == "linktype" {
		return canCreateLink(name)
	}
	return canAddQdisc(name)
}

// validKindName accepts the names the kernel uses for link and qdisc kinds.
func validKindName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// validSysctlKey accepts net.* sysctl names.
func validSysctlKey(s string) bool {
	if !strings.HasPrefix(s, "net.") || len(s) > 128 || strings.Contains(s, "..") || strings.HasSuffix(s, ".") {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// usernsUsable reports whether unprivileged user namespaces work. A non-root
// caller tries one (sandbox.Check forks a child into a new user namespace);
// root, which would not need one, reads the sysctls that disable them.
func usernsUsable() bool {
	if os.Geteuid() != 0 {
		return sandbox.Check() == nil
	}
	for file, off := range map[string]string{
		"kernel/unprivileged_userns_clone":             "0",
		"user/max_user_namespaces":                     "0",
		"kernel/apparmor_restrict_unprivileged_userns": "1",
	} {
		b, err := os.ReadFile("/proc/sys/" + file)
		if err == nil && strings.TrimSpace(string(b)) == off {
			return false
		}
	}
	return true
}

// tunUsable reports whether this user may open /dev/net/tun for reading and
// writing, which making a tap or tun device needs (also inside the sandbox:
// its root is this user, who gains no access to a file owned by the real
// root). Root may open it whatever its mode.
func tunUsable() bool {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// checkInSandbox evaluates cond in a sandboxed copy of this program (a user
// namespace where it may create network namespaces), for callers that are not
// privileged. The child runs "nsscript test -conditions COND"; argv[0] and
// MarkerEnv make a test binary that imports nstest act as nsscript.
func checkInSandbox(cond string) (bool, error) {
	if err := sandbox.Check(); err != nil {
		return false, fmt.Errorf("check in sandbox: %w", err)
	}
	var out, errOut bytes.Buffer
	code, err := sandbox.Run(sandbox.Options{
		Args:   []string{"nsscript", "test", "-conditions", cond},
		Env:    append(os.Environ(), MarkerEnv+"=1"),
		Stdin:  bytes.NewReader(nil),
		Stdout: &out,
		Stderr: &errOut,
	})
	if err == nil && code != 0 {
		err = fmt.Errorf("exit status %d: %s", code, strings.TrimSpace(errOut.String()))
	}
	if err != nil {
		return false, fmt.Errorf("check in sandbox: %w", err)
	}
	got, err := ReadConditions(&out)
	if err != nil {
		return false, fmt.Errorf("check in sandbox: %w", err)
	}
	ok, found := got[cond]
	if !found {
		return false, errors.New("check in sandbox: no answer")
	}
	return ok, nil
}

// WriteConditions evaluates conds (every known one but linktype and qdisc
// when empty) and writes one "COND true|false" line each, as "nsscript test
// -conditions" prints them. It stops at the first unknown condition.
func WriteConditions(w io.Writer, conds []string) error {
	if len(conds) == 0 {
		conds = []string{"root", "userns", "tun"}
	}
	for _, c := range conds {
		ok, err := Condition(c)
		if err != nil && !errors.Is(err, errUnknown) {
			err = fmt.Errorf("condition %s: %w", c, err)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s %t\n", c, ok)
	}
	return nil
}

// ReadConditions parses the output of WriteConditions.
func ReadConditions(r io.Reader) (map[string]bool, error) {
	m := map[string]bool{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 || (f[1] != "true" && f[1] != "false") {
			return nil, fmt.Errorf("unexpected line %q", sc.Text())
		}
		m[f[0]] = f[1] == "true"
	}
	return m, sc.Err()
}
