package control

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/nsscript/nsscript/internal/lab"
	"github.com/nsscript/nsscript/internal/testenv"
)

// labWithNet1 returns a lab (its host a fresh namespace) with net1, where
// a veth end called inner has 10.9.0.2/24.
func labWithNet1(t *testing.T) *lab.Lab {
	t.Helper()
	testenv.NeedNamespaces(t)
	testenv.NeedRoot(t)
	l, err := lab.New(lab.Options{FreshHost: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	n, err := l.NewNetns("net1")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Veth(lab.VethSpec{LinkSpec: lab.LinkSpec{Name: "outer", Up: true}, PeerName: "inner", NS: l.Host, PeerNS: n}); err != nil {
		t.Fatal(err)
	}
	return l
}

func runStarted(t *testing.T, start StartFunc, req *Request) (string, error) {
	t.Helper()
	null, _ := os.Open(os.DevNull)
	defer null.Close()
	r, w, _ := os.Pipe()
	defer r.Close()
	cmd, err := start(req, []*os.File{null, w, w})
	w.Close()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String(), cmd.Wait()
}

func TestLabStarterRunsInNamespace(t *testing.T) {
	l := labWithNet1(t)
	start := LabStarter(l, "t", nil)
	env := []string{"PATH=" + os.Getenv("PATH")}
	// /proc/net/dev lists the links of the reader's network namespace.
	out, err := runStarted(t, start, &Request{NS: "net1", Argv: []string{"sh", "-c", "cat /proc/net/dev; echo ns=$NSSCRIPT_NETNS lab=$NSSCRIPT_LAB"}, Env: env, Dir: "/"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "inner:") || strings.Contains(out, "outer:") || !strings.Contains(out, "ns=net1 lab=t") {
		t.Fatalf("in net1:\n%s", out)
	}
	out, err = runStarted(t, start, &Request{NS: "host", Argv: []string{"cat", "/proc/net/dev"}, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "outer:") || strings.Contains(out, "inner:") {
		t.Fatalf("in host:\n%s", out)
	}
}

func TestLabStarterErrors(t *testing.T) {
	l := labWithNet1(t)
	start := LabStarter(l, "t", nil)
	_, err := runStarted(t, start, &Request{NS: "nope", Argv: []string{"true"}})
	if err == nil || err.Error() != `no namespace "nope" in lab t (it has: host, net1)` {
		t.Fatalf("unknown namespace: %v", err)
	}
	_, err = runStarted(t, start, &Request{NS: "net1", Argv: []string{"no-such-program-here"}, Env: []string{"PATH=/usr/bin:/bin"}})
	if err == nil || err.Error() != "no-such-program-here: command not found" {
		t.Fatalf("unknown program: %v", err)
	}
	_, err = runStarted(t, start, &Request{NS: "net1", Argv: []string{"sh", "-c", "exit 4"}, Env: []string{"PATH=/usr/bin:/bin"}})
	var ee *exec.ExitError
	if err == nil || !asExit(err, &ee) || ee.ExitCode() != 4 {
		t.Fatalf("exit 4: %v", err)
	}
}

func asExit(err error, ee **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	*ee = e
	return ok
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(dir+"/tool", []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(dir+"/data", []byte("x"), 0o644)
	if p, err := lookPath("tool", []string{"PATH=/nonexistent:" + dir}); err != nil || p != dir+"/tool" {
		t.Errorf("tool: %q, %v", p, err)
	}
	if _, err := lookPath("data", []string{"PATH=" + dir}); err == nil {
		t.Error("a file that is not executable was found")
	}
	if p, err := lookPath("/bin/sh", nil); err != nil || p != "/bin/sh" {
		t.Errorf("/bin/sh: %q, %v", p, err)
	}
}

// A program started through nsscript exec sees the lab's bridge netfilter
// (off) in every namespace, as one started by the script does: it could
// make a bridge there (internal/lab/bridgenf.go).
func TestLabStarterSeesBridgeNetfilterOff(t *testing.T) {
	l := labWithNet1(t)
	const key = "/proc/sys/net/bridge/bridge-nf-call-iptables"
	if _, err := os.Stat(key); err != nil {
		t.Skip("no br_netfilter here")
	}
	start := LabStarter(l, "t", nil)
	env := []string{"PATH=" + os.Getenv("PATH")}
	out, err := runStarted(t, start, &Request{NS: "net1", Argv: []string{"cat", key}, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) != "0" {
		t.Fatalf("in net1, %s = %q, want 0", key, out)
	}
}
