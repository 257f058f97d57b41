package builtins

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/lab"
)

// runInDir runs src as DIR/lab.star, with the lab's namespaces bound under
// a temporary directory instead of /run/netns, and closes the run (stopping
// its programs) before it returns.
func runInDir(t *testing.T, dir, src string) (string, error) {
	t.Helper()
	netnsDir := t.TempDir()
	l := newLab(t, lab.Options{NetnsDir: netnsDir})
	t.Cleanup(func() {
		l.Close()
		ents, _ := os.ReadDir(netnsDir)
		for _, e := range ents {
			unix.Unmount(filepath.Join(netnsDir, e.Name()), unix.MNT_DETACH)
		}
	})
	return runFile(t, l, filepath.Join(dir, "lab.star"), src)
}

func TestRunScript(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "setup.sh"), []byte("echo \"setup $1 in $(basename \"$PWD\")\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runInDir(t, dir, `
box = netns("box")
r = run(box, ["sh", "setup.sh", "up"])
print(r.ok, r.status, repr(r.stdout), repr(r.stderr), r.signal)
r = run(box, "echo $GREETING; cat; exit 3", env = {"GREETING": "hi"}, stdin = "in\n", check = False)
print(r.ok, r.status, repr(r.stdout))
r = run(host, ["sh", "-c", "ls /sys/class/net | sort | tr '\\n' ' '"])
print(r.stdout)
p = run(box, ["sleep", "30"], background = True)
print(p.running, p.status, p.argv, p.ns.name, p.pid > 0, type(p))
s = p.stop()
print(p.running, s.status, s.signal)
print(str(p).startswith("<process "))
`)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out,
		`True 0 "setup up in `+filepath.Base(dir)+`\n" "" `,
		`False 3 "hi\nin\n"`,
		"lo ",
		`True None ["sleep", "30"] box True process`,
		"False -1 SIGTERM",
		"True")
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ src, want string }{
		{`run(host, ["sh", "-c", "echo bad >&2; exit 2"])`, `run: sh -c 'echo bad >&2; exit 2': exit status 2: bad (pass check=False to go on)`},
		{`run(host, "exit 5")`, `run: exit 5: exit status 5 (pass check=False to go on)`},
		{`run(host, ["no-such-program-nsscript"])`, `run: start no-such-program-nsscript: not found in PATH`},
		{`run(host, ["sleep", "5"], timeout = "100ms")`, `run: sleep 5: timed out after 100ms`},
		{`run(host, [])`, `run: for parameter argv: empty command`},
		{`run(host, "  ")`, `run: for parameter argv: empty command`},
		{`run(host, ["echo", 1])`, `run: for parameter argv: got int in the command list, want string`},
		{`run(host, "true", env = {"A=B": "x"})`, `run: for parameter "env": invalid environment variable name "A=B"`},
		{`run(host, "true", ready = 80)`, `run: ready needs background=True`},
		{`run(host, "true", background = True, ready = "localhost:80")`, `run: for parameter "ready": invalid address "localhost:80"`},
		{`run(host, "echo no server >&2", background = True, ready = 1, timeout = "5s")`, `run: sh -c 'echo no server >&2' exited (exit status 0) before listening on 127.0.0.1:1: no server`},
	} {
		_, err := runInDir(t, t.TempDir(), c.src)
		if err == nil || !strings.Contains(err.Error(), "lab.star:1:1: "+c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s:\n got  %v\n want lab.star:1:1: %s", c.src, err, c.want)
		}
	}
}

// TestRunBackgroundServer starts a real server program and reaches it with
// the probes; the run's end stops it.
func TestRunBackgroundServer(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3")
	}
	dir := t.TempDir()
	out, err := runInDir(t, dir, `
blue = netns("blue")
a, b = veth(peer_ns = blue)
a.addr("10.0.0.1/24")
b.addr("10.0.0.2/24")
p = run(blue, ["python3", "-m", "http.server", "8080"], background = True, ready = 8080)
expect_http(host, "http://10.0.0.2:8080/", body_contains = "Directory listing")
expect_connect(host, "10.0.0.2:8080")
print(p.running)
`)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out,
		"/lab.star:7:1: expect_http: host -> http://10.0.0.2:8080/: 200 ok",
		"/lab.star:8:1: expect_connect: host -> 10.0.0.2:8080 (tcp): connected",
		"True",
		"2 passed, 0 failed")
}
