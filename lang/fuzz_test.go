package lang_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nsscript/nsscript/builtins"
	"github.com/nsscript/nsscript/internal/lab"
	"github.com/nsscript/nsscript/lang"
)

// posRE is the position every script error must start with.
var posRE = regexp.MustCompile(`^[^:\n]+\.star:\d+:\d+$`)

// FuzzPlan runs arbitrary scripts through the front end and the builtins
// against a lab in plan mode (no kernel): whatever the input, the run ends
// (a step limit and a deadline bound it), nothing panics, and an error is
// one line that starts with a script position. Run it for a while with
//
//	go test -run='^$' -fuzz=FuzzPlan -fuzztime=10m ./lang
func FuzzPlan(f *testing.F) {
	seeds, _ := filepath.Glob("../scripts/*.star")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(string(b))
		}
	}
	for _, s := range []string{
		`netns(42)`,
		`a = netns("a"); b = netns("b"); x, y = veth(ns = a, peer_ns = b); x.addr("10.0.0.1/24"); expect_reachable(a, "10.0.0.2")`,
		`br = bridge("br0", addr = ["10.0.0.1/24", "fd00::1/64"]); route(host, "default", via = "10.0.0.254")`,
		`load("other.star", "x")`,
		`def f(n): return f(n + 1)` + "\nf(0)",
		`while True: pass`,
		`sysctl(host, "net.ipv4.ip_forward", 1); forwarding(host); print(sysctl(host, "net.ipv4.ip_forward"))`,
		`r = ping(host, "127.0.0.1", count = 3); print(r.ok, r.rtt)`,
		`a, b = veth(); a.set(mtu = 9000, mac = "02:00:00:00:00:01", name = "x"); a.down(); a.rename("y"); a.delete()`,
		"x = \"\\xff\"\nnetns(x)",
		"def (",
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	file := filepath.Join(dir, "fuzz.star")
	if err := os.WriteFile(filepath.Join(dir, "other.star"), []byte("x = netns(\"o\")\n"), 0o644); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src string) {
		l, err := lab.New(lab.Options{Plan: true, MaxObjects: 1000})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r := builtins.NewRun(ctx, l, io.Discard)
		done := make(chan error, 1)
		go func() {
			_, err := lang.Exec(ctx, lang.Options{
				Filename:    file,
				Src:         []byte(src),
				Predeclared: builtins.Predeclared(r),
				Print:       r.Print,
				SetupThread: r.SetupThread,
				MaxSteps:    100_000,
			})
			r.Flush()
			done <- err
		}()
		select {
		case err = <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("script did not stop 5s after its deadline")
		}
		if err == nil {
			return
		}
		le := lang.Wrap(err)
		msg := le.Error()
		if strings.ContainsAny(msg, "\n\r") || le.Msg == "" {
			t.Fatalf("error is not one non-empty line: %q", msg)
		}
		if !posRE.MatchString(le.Pos) {
			t.Fatalf("error has no script position (pos %q): %q", le.Pos, msg)
		}
	})
}
