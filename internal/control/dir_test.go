package control

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func envWith(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestDirOverrideIsPrivate(t *testing.T) {
	want := filepath.Join(t.TempDir(), "rt")
	dir, err := Dir(envWith(map[string]string{DirEnv: want}))
	if err != nil {
		t.Fatal(err)
	}
	if dir != want {
		t.Fatalf("Dir = %s, want %s", dir, want)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("mode %o, want 700", fi.Mode().Perm())
	}
}

func TestDirRefusesWritableByOthers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	_, err := Dir(envWith(map[string]string{DirEnv: dir}))
	if err == nil || !strings.Contains(err.Error(), "not private") {
		t.Fatalf("Dir on a 0777 directory: err = %v, want 'not private'", err)
	}
}

func TestDirDefaults(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root always uses /run/nsscript")
	}
	xdg := t.TempDir()
	dir, err := Dir(envWith(map[string]string{"XDG_RUNTIME_DIR": xdg}))
	if err != nil || dir != filepath.Join(xdg, "nsscript") {
		t.Fatalf("Dir = %q, %v; want %s/nsscript", dir, err, xdg)
	}
}

func TestListenFindList(t *testing.T) {
	dir := t.TempDir()
	ln1, id1, p1, err := Listen(dir, "labs/bridge.star")
	if err != nil {
		t.Fatal(err)
	}
	ln2, id2, _, err := Listen(dir, "other/bridge.star")
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	if id1 != "bridge" || id2 != "bridge-2" {
		t.Fatalf("ids %q %q, want bridge bridge-2", id1, id2)
	}
	ids, err := List(dir)
	if err != nil || strings.Join(ids, " ") != "bridge bridge-2" {
		t.Fatalf("List = %v, %v", ids, err)
	}
	if _, err := Find(dir, ""); err == nil || !strings.Contains(err.Error(), "2 paused labs (bridge, bridge-2): pick one with --lab ID") {
		t.Fatalf("Find with two labs: %v", err)
	}
	if p, err := Find(dir, "bridge"); err != nil || p != p1 {
		t.Fatalf("Find(bridge) = %q, %v; want %s", p, err, p1)
	}
	if _, err := Find(dir, "nope"); err == nil || !strings.Contains(err.Error(), `no paused lab "nope" (paused: bridge, bridge-2)`) {
		t.Fatalf("Find(nope): %v", err)
	}
	if _, err := Find(dir, "../x"); err == nil || !strings.Contains(err.Error(), "invalid lab ID") {
		t.Fatalf("Find(../x): %v", err)
	}

	// A lab that went away without removing its socket is stale: List
	// removes it, and its ID is free again.
	ln1.Close()
	if _, err := os.Stat(p1); err != nil {
		t.Fatalf("socket removed on close: %v", err)
	}
	ids, _ = List(dir)
	if strings.Join(ids, " ") != "bridge-2" {
		t.Fatalf("List after close = %v, want [bridge-2]", ids)
	}
	if _, err := os.Stat(p1); !os.IsNotExist(err) {
		t.Fatalf("stale socket kept: %v", err)
	}
	if _, err := Find(dir, ""); err != nil {
		t.Fatalf("Find with one lab: %v", err)
	}
	ln3, id3, _, err := Listen(dir, "bridge.star")
	if err != nil || id3 != "bridge" {
		t.Fatalf("Listen after stale = %q, %v", id3, err)
	}
	ln3.Close()
}

func TestFindNone(t *testing.T) {
	_, err := Find(t.TempDir(), "")
	if err == nil || !strings.Contains(err.Error(), "no paused lab (start one with nsscript run --pause FILE.star)") {
		t.Fatalf("Find in an empty dir: %v", err)
	}
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"bridge.star":           "bridge",
		"/a/b/my lab.star":      "my_lab",
		"..star":                "lab",
		"x/.hidden.star":        "hidden",
		strings.Repeat("a", 60): strings.Repeat("a", 40),
	} {
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}
