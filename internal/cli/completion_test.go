package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nsscript/nsscript/internal/testenv"
)

// completionDir makes a directory with scripts, a spec, another file and a
// subdirectory, the working directory of the completion tests.
func completionDir(t *testing.T) string {
	dir := t.TempDir()
	for _, f := range []string{"bridge.star", "bridge-nat.star", "spec.txtar", "notes.txt", "sub/x.star"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestComplete: nsscript __complete WORD... CURRENT lists commands, flags,
// files by kind, and shells.
func TestComplete(t *testing.T) {
	dir := completionDir(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"re"}, "repl"},
		{[]string{"b"}, "bridge-nat.star bridge.star"},
		{[]string{"run", ""}, "bridge-nat.star bridge.star sub/"},
		{[]string{"run", "sub/"}, "sub/x.star"},
		{[]string{"run", "--ti"}, "--timeout"},
		{[]string{"test", "--sh"}, "--shard"},
		{[]string{"test", ""}, "bridge-nat.star bridge.star spec.txtar sub/"},
		{[]string{"help", "ver"}, "version"},
		{[]string{"completion", ""}, "bash fish zsh"},
		{[]string{"__"}, ""}, // hidden commands stay hidden
	} {
		out, errOut, code := runNsscript(t, dir, append([]string{completeCmd}, tc.args...)...)
		if got := strings.Join(strings.Fields(out), " "); code != 0 || got != tc.want {
			t.Errorf("complete %q: exit %d, got %q, want %q %s", tc.args, code, got, tc.want, errOut)
		}
	}
}

// TestCompleteBash: the bash script parses, and sourced, its function
// fills COMPREPLY from nsscript __complete.
func TestCompleteBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	for _, sh := range []string{"bash", "zsh", "fish"} {
		out, _, code := runNsscript(t, t.TempDir(), "completion", sh)
		if code != 0 || !strings.Contains(out, "__complete") {
			t.Errorf("completion %s: exit %d:\n%s", sh, code, out)
		}
	}
	dir := completionDir(t)
	bin := t.TempDir()
	exe, _ := os.Executable()
	if err := os.Symlink(exe, filepath.Join(bin, "nsscript")); err != nil {
		t.Fatal(err)
	}
	script, _, _ := runNsscript(t, dir, "completion", "bash")
	if out, err := exec.Command(bash, "-n", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	cmd := exec.Command(bash, "-c", `source <(nsscript completion bash)
COMP_WORDS=(nsscript run br); COMP_CWORD=2; _nsscript; printf '%s\n' "${COMPREPLY[@]}"
COMP_WORDS=(nsscript test --sh); COMP_CWORD=2; _nsscript; printf '%s\n' "${COMPREPLY[@]}"`)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), mainEnv+"=1")
	out, err := cmd.CombinedOutput()
	if got, want := strings.Fields(string(out)), []string{"bridge-nat.star", "bridge.star", "--shard"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("bash completion: %v: got %q, want %q", err, got, want)
	}
}

// TestCompletePausedLab: for shell and exec, the completion offers the
// paused labs' IDs after --lab and their namespaces.
func TestCompletePausedLab(t *testing.T) {
	testenv.NeedNamespaces(t)
	t.Parallel()
	rt := t.TempDir()
	dir := writeScript(t, "lab.star", pauseLabSrc)
	p := startPaused(t, rt, dir, "--pause", "lab.star")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"shell", ""}, "host net1"},
		{[]string{"exec", "n"}, "net1"},
		{[]string{"exec", "--lab", ""}, "lab"},
		{[]string{"shell", "--lab", "lab", "ne"}, "net1"},
		{[]string{"exec", "--lab", "nosuch", ""}, ""},
	} {
		out, errOut, code := p.nss(t, "", append([]string{completeCmd}, tc.args...)...)
		if got := strings.Join(strings.Fields(out), " "); code != 0 || got != tc.want {
			t.Errorf("complete %q: exit %d, got %q, want %q %s", tc.args, code, got, tc.want, errOut)
		}
	}
	p.stdin.Close()
	p.wait(t)
}
