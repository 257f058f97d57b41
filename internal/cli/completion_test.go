package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
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
	dir, env := completionShell(t)
	script, _, _ := runNsscript(t, dir, "completion", "bash")
	if out, err := exec.Command(bash, "-n", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	cmd := exec.Command(bash, "-c", `source <(nsscript completion bash)
COMP_WORDS=(nsscript run br); COMP_CWORD=2; _nsscript; printf '%s\n' "${COMPREPLY[@]}"
COMP_WORDS=(nsscript test --sh); COMP_CWORD=2; _nsscript; printf '%s\n' "${COMPREPLY[@]}"`)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if got, want := strings.Fields(string(out)), []string{"bridge-nat.star", "bridge.star", "--shard"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("bash completion: %v: got %q, want %q", err, got, want)
	}
}

// completionShell returns completionDir and an environment whose PATH
// starts with a directory holding this test binary as nsscript, for
// shells that run nsscript __complete.
func completionShell(t *testing.T) (dir string, env []string) {
	t.Helper()
	bin := t.TempDir()
	exe, _ := os.Executable()
	if err := os.Symlink(exe, filepath.Join(bin, "nsscript")); err != nil {
		t.Fatal(err)
	}
	return completionDir(t), append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), mainEnv+"=1")
}

// TestCompleteZsh: the zsh script registers _nsscript with compinit, and
// its function offers nsscript __complete's candidates through compadd,
// directories without the space after them. compadd is replaced by a
// function that prints what it was given, as zsh's own is only callable
// from inside a completion widget.
func TestCompleteZsh(t *testing.T) {
	testenv.NeedProgram(t, "zsh")
	dir, env := completionShell(t)
	cmd := exec.Command("zsh", "-f", "-c", `autoload -U compinit && compinit -u -D
source <(nsscript completion zsh)
print "registered: $_comps[nsscript]"
compadd() {
	local nospace=
	while [[ $1 != -- ]]; do [[ $1 == -S && $2 == '' ]] && nospace=' (no space)'; shift; done
	shift
	for c in "$@"; do print -- "$c$nospace"; done
}
words=(nsscript run ''); CURRENT=3; _nsscript
words=(nsscript test --sh); CURRENT=3; _nsscript`)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	want := "registered: _nsscript\nsub/ (no space)\nbridge-nat.star\nbridge.star\n--shard\n"
	if err != nil || string(out) != want {
		t.Errorf("zsh completion: %v:\n%s\nwant:\n%s", err, out, want)
	}
}

// TestCompleteFish: fish's own completer (complete -C, what Tab shows)
// offers nsscript __complete's candidates once the script is sourced.
func TestCompleteFish(t *testing.T) {
	testenv.NeedProgram(t, "fish")
	dir, env := completionShell(t)
	cmd := exec.Command("fish", "--no-config", "-c", `nsscript completion fish | source
complete -C 'nsscript run br'
complete -C 'nsscript test --sh'
complete -C 'nsscript completion '`)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	got := strings.Fields(string(out))
	slices.Sort(got)
	want := []string{"--shard", "bash", "bridge-nat.star", "bridge.star", "fish", "zsh"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("fish completion: %v: got %q, want %q\n%s", err, got, want, out)
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
