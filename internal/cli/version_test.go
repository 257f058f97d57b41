package cli

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/nsscript/nsscript/internal/sandbox/spawn"
)

// TestVersionBuildInfo: nsscript version reports the module version, the
// VCS revision and whether the tree was dirty from the build info.
func TestVersionBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/nsscript/nsscript", Version: "v0.0.0-20261202110600-c6cd7d9fdb1c+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "c6cd7d9fdb1ce4644363e2f153f1e71896a7adcb"},
			{Key: "vcs.time", Value: "2026-12-02T11:06:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	var b strings.Builder
	writeVersion(&b, bi)
	for _, want := range []string{
		"nsscript v0.0.0-20261202110600-c6cd7d9fdb1c+dirty\n",
		"revision c6cd7d9fdb1ce4644363e2f153f1e71896a7adcb (dirty: uncommitted changes)\n",
		"time     2026-12-02T11:06:00Z\n",
		"go       go1.26.8 ",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("version output lacks %q:\n%s", want, b.String())
		}
	}
	bi.Settings[3].Value = "false"
	bi.Main.Version = "(devel)"
	b.Reset()
	writeVersion(&b, bi)
	if !strings.HasPrefix(b.String(), "nsscript devel\n") || strings.Contains(b.String(), "dirty") ||
		!strings.Contains(b.String(), "revision c6cd7d9fdb1ce4644363e2f153f1e71896a7adcb\n") {
		t.Errorf("clean devel build:\n%s", b.String())
	}
	b.Reset()
	writeVersion(&b, nil)
	if !strings.Contains(b.String(), "revision unknown") {
		t.Errorf("no build info:\n%s", b.String())
	}
}

// TestVersionSandboxStart: nsscript version says how a run starts its
// sandbox, as spawn.BeforeGo says (package nsexec sets it in a binary
// built with cgo).
func TestVersionSandboxStart(t *testing.T) {
	defer func(was bool) { spawn.BeforeGo = was }(spawn.BeforeGo)
	for before, want := range map[bool]string{
		true:  "sandbox  started before Go (built with cgo): a run starts Go once\n",
		false: "sandbox  started from Go (built without cgo): a run starts Go twice\n",
	} {
		spawn.BeforeGo = before
		var b strings.Builder
		writeVersion(&b, nil)
		if !strings.HasSuffix(b.String(), want) {
			t.Errorf("BeforeGo %v: version output lacks %q:\n%s", before, want, b.String())
		}
	}
}

// TestHelpVersionAndHelpHelp: help works for every command, help and
// version included, and prints that command's usage.
func TestHelpVersionAndHelpHelp(t *testing.T) {
	for _, c := range commands {
		if c.summary == "" {
			continue
		}
		out, errOut, code := runNsscript(t, t.TempDir(), "help", c.name)
		if code != ExitOK || !strings.HasPrefix(out, "Usage: nsscript "+c.name) {
			t.Errorf("nsscript help %s: exit %d, stdout %q, stderr %q", c.name, code, out, errOut)
		}
	}
	out, _, code := runNsscript(t, t.TempDir(), "version")
	if code != ExitOK || !strings.HasPrefix(out, "nsscript ") || !strings.Contains(out, "\nrevision ") {
		t.Errorf("nsscript version: exit %d:\n%s", code, out)
	}
}
