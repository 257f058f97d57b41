package builtins_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsscript/nsscript/builtins"
	"github.com/nsscript/nsscript/internal/lab"
)

// The fuzz targets below check the parsers and name checks that stand
// between a script's strings and the kernel: they never panic, their errors
// are one line, and what they accept the kernel accepts too (the oracles
// restate the kernel's own rules). Run one for a while with
//
//	go test -run='^$' -fuzz=FuzzParsePrefix -fuzztime=10m ./builtins

// oneLineErr fails the test when err's text spans lines or is empty.
func oneLineErr(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if s := err.Error(); s == "" || strings.ContainsAny(s, "\n\r") {
		t.Fatalf("error is not one line: %q", s)
	}
}

func FuzzParsePrefix(f *testing.F) {
	for _, s := range []string{"10.0.0.1/24", "10.0.0.1", "fd00::1/64", "::ffff:1.2.3.4/96", "fe80::1%eth0",
		"10.0.0.1/33", "1.2.3.4/0", "::/0", "", "/", "10.0.0.256/8", "2001:db8::/129", " 10.0.0.1/24"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := builtins.ParsePrefix(s)
		oneLineErr(t, err)
		if err != nil {
			return
		}
		if !p.IsValid() || p.Addr().Zone() != "" || p.Addr().Is4In6() {
			t.Fatalf("ParsePrefix(%q) = %v: invalid, zoned or IPv4-mapped", s, p)
		}
		if p.Bits() > p.Addr().BitLen() {
			t.Fatalf("ParsePrefix(%q) = %v: prefix longer than the address", s, p)
		}
		again, err := builtins.ParsePrefix(p.String())
		if err != nil || again != p {
			t.Fatalf("ParsePrefix(%q) = %v, but its text %q parses to %v, %v", s, p, p.String(), again, err)
		}
	})
}

func FuzzParseMAC(f *testing.F) {
	for _, s := range []string{"02:00:00:00:00:01", "02-00-00-00-00-01", "0200.0000.0001", "02:00:00:00:00",
		"00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01", "", "zz:00:00:00:00:01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := builtins.ParseMAC(s)
		oneLineErr(t, err)
		if err != nil {
			return
		}
		if len(m) != 6 {
			t.Fatalf("ParseMAC(%q) = %v: %d bytes, want 6", s, m, len(m))
		}
		again, err := builtins.ParseMAC(m.String())
		if err != nil || !bytes.Equal(again, m) {
			t.Fatalf("ParseMAC(%q) = %v, but its text parses to %v, %v", s, m, again, err)
		}
	})
}

// kernelValidIfname restates the kernel's dev_valid_name (net/core/dev.c):
// 1 to 15 bytes, not "." or "..", and no '/', ':' or isspace() byte, where
// the kernel's isspace (lib/ctype.c) also counts byte 0xa0.
func kernelValidIfname(name string) bool {
	if name == "" || len(name) >= 16 || name == "." || name == ".." {
		return false
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '/', c == ':', c == 0, c == ' ', c >= '\t' && c <= '\r', c == 0xa0:
			return false
		}
	}
	return true
}

func FuzzCheckLinkName(f *testing.F) {
	for _, s := range []string{"eth0", "veth-a.b_c", "123456789012345", "1234567890123456", ".", "..", "a/b", "a:b",
		"a b", "é", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := lab.CheckLinkName(s)
		oneLineErr(t, err)
		if (err == nil) != kernelValidIfname(s) {
			t.Fatalf("CheckLinkName(%q) = %v, but the kernel would say valid=%v", s, err, kernelValidIfname(s))
		}
	})
}

func FuzzCheckNetnsName(f *testing.F) {
	for _, s := range []string{"net1", "blue_ns", ".", "..", "a/b", "../x", "x\x00", "", "host name",
		strings.Repeat("n", 64), strings.Repeat("n", 65)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := lab.CheckNetnsName(s)
		oneLineErr(t, err)
		if err != nil {
			return
		}
		// The name becomes a file directly under the bind directory.
		const dir = "/run/netns"
		p := filepath.Join(dir, s)
		if filepath.Dir(p) != dir || filepath.Base(p) != s || strings.ContainsRune(s, 0) {
			t.Fatalf("CheckNetnsName(%q) accepted a name that is not a plain file name under %s (%s)", s, dir, p)
		}
	})
}

func FuzzCheckSysctlKey(f *testing.F) {
	for _, s := range []string{"net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding", "net.ipv4.conf.eth0.rp_filter",
		"kernel.hostname", "net", "net.", "net..x", "net.ipv4/../../kernel", "net.ipv4.. .x", "net.a\x00b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := lab.CheckSysctlKey(s)
		oneLineErr(t, err)
		if err != nil {
			return
		}
		// The key becomes a path that must stay under /proc/sys/net.
		p := "/proc/sys/" + strings.ReplaceAll(s, ".", "/")
		if clean := filepath.Clean(p); clean != p || !strings.HasPrefix(clean, "/proc/sys/net/") {
			t.Fatalf("CheckSysctlKey(%q) accepted a key whose path %s leaves /proc/sys/net (cleans to %s)", s, p, clean)
		}
	})
}

// TestParseSeeds keeps a few hand-picked verdicts in the ordinary test run.
func TestParseSeeds(t *testing.T) {
	for _, tc := range []struct {
		fn   func(string) error
		name string
		in   string
		ok   bool
	}{
		{lab.CheckLinkName, "CheckLinkName", "eth0", true},
		{lab.CheckLinkName, "CheckLinkName", "123456789012345", true},
		{lab.CheckLinkName, "CheckLinkName", "1234567890123456", false},
		{lab.CheckLinkName, "CheckLinkName", "a/b", false},
		{lab.CheckNetnsName, "CheckNetnsName", "..", false},
		{lab.CheckNetnsName, "CheckNetnsName", "net1", true},
		{lab.CheckSysctlKey, "CheckSysctlKey", "kernel.hostname", false},
		{lab.CheckSysctlKey, "CheckSysctlKey", "net.ipv4.ip_forward", true},
		{func(s string) error { _, err := builtins.ParsePrefix(s); return err }, "ParsePrefix", "10.0.0.1/33", false},
		{func(s string) error { _, err := builtins.ParsePrefix(s); return err }, "ParsePrefix", "fd00::1/64", true},
		{func(s string) error { _, err := builtins.ParseMAC(s); return err }, "ParseMAC", "02:00:00:00:00:01", true},
	} {
		err := tc.fn(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("%s(%q) = %v, want ok=%v", tc.name, tc.in, err, tc.ok)
		}
	}
}
