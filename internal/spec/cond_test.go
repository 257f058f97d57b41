package spec_test

import (
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/nsscript/nsscript/internal/spec"
	"github.com/nsscript/nsscript/internal/testenv"

	// The rootless test runs this binary as nsscript (see nstest's init).
	_ "github.com/nsscript/nsscript/nstest"
)

func TestConditions(t *testing.T) {
	testenv.NeedNamespaces(t)
	for _, tc := range []struct {
		cond string
		want bool
	}{
		{"root", os.Geteuid() == 0},
		{"linktype:veth", true},
		{"linktype:bridge", true},
		{"qdisc:pfifo", true},
		{"exec:sh", true},
		{"exec:no-such-program-here", false},
		{"linux", true},
		{"sysctl:net.ipv4.ip_forward", true},
		{"sysctl:net.ipv4.no_such_setting", false},
		{"windows", false},
	} {
		for range 2 { // the second answer comes from the cache
			got, err := spec.Condition(tc.cond)
			if err != nil || got != tc.want {
				t.Errorf("Condition(%q) = %v, %v; want %v", tc.cond, got, err, tc.want)
			}
		}
	}
}

func TestConditionErrors(t *testing.T) {
	for cond, want := range map[string]string{
		"bogus":                    `unknown condition "bogus"`,
		"linktype":                 `unknown condition "linktype"`,
		"linktype:":                `"" is not a valid linktype name`,
		"qdisc:Net Em":             `"Net Em" is not a valid qdisc name`,
		"linktype:../../x":         `is not a valid linktype name`,
		"userns:yes please":        `unknown condition`,
		"linktype:dumy":            `Linux has no linktype "dumy" (a typo?)`,
		"linktype:no-such":         `Linux has no linktype "no-such" (a typo?)`,
		"qdisc:netme":              `Linux has no qdisc "netme" (a typo?)`,
		"sysctl:kernel.domainname": `"kernel.domainname" is not a network sysctl (net.*)`,
		"sysctl:net/../x":          `is not a network sysctl`,
	} {
		if _, err := spec.Condition(cond); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Condition(%q) error = %v, want %q", cond, err, want)
		}
	}
}

func TestWriteReadConditions(t *testing.T) {
	r, w := io.Pipe()
	go func() { w.CloseWithError(spec.WriteConditions(w, []string{"root"})) }()
	got, err := spec.ReadConditions(r)
	if err != nil || len(got) != 1 || got["root"] != (os.Geteuid() == 0) {
		t.Errorf("ReadConditions = %v, %v", got, err)
	}
	if _, err := spec.ReadConditions(strings.NewReader("root maybe\n")); err == nil {
		t.Error("ReadConditions accepted a bad line")
	}
}

// TestConditionsRootless checks the path of an unprivileged caller, who may
// not create network namespaces: the link check then runs in a sandboxed
// child. Run as root, it starts a copy of this binary as nobody.
func TestConditionsRootless(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedNamespaces(t)
	bin := testenv.ExecutableCopy(t, "nsscript")
	cmd := exec.Command(bin, "test", "-conditions", "root", "userns", "linktype:veth", "exec:sh")
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/bin:/bin", spec.MarkerEnv + "=1"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "user namespace") {
			t.Skipf("nobody cannot create user namespaces here: %s", out)
		}
		t.Fatalf("nsscript test -conditions as nobody: %v\n%s", err, out)
	}
	want := "root false\nuserns true\nlinktype:veth true\nexec:sh true\n"
	if string(out) != want {
		t.Errorf("as nobody:\n%s\nwant:\n%s", out, want)
	}
}
