package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCleanRefusesCraftedJournal gives nsscript clean a journal that
// nsscript did not write: a "namespace" outside /run/netns (a file to
// delete) and a global sysctl. clean refuses both, says so on one stderr
// line and exits 2; -n keeps the test free of privileges and of risk.
func TestCleanRefusesCraftedJournal(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "precious")
	os.WriteFile(victim, []byte("data"), 0o644)
	journal := filepath.Join(dir, "journal-1.json")
	os.WriteFile(journal, []byte(`{"pid": 1, "start": 1, "entries": [
		{"id": 1, "kind": "netns", "done": true, "name": "precious", "path": "`+victim+`"},
		{"id": 2, "kind": "sysctl", "done": true, "name": "kernel.domainname", "old": "x", "new": "y"}]}`), 0o600)
	out, errOut, code := runNsscript(t, dir, "clean", "-n", journal)
	if code != ExitError {
		t.Errorf("exit %d, want 2\nstdout:\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "namespace "+victim+": refused") ||
		!strings.Contains(lines[0], "sysctl kernel.domainname: refused") {
		t.Errorf("stderr %q, want one line that refuses both entries", errOut)
	}
	if b, err := os.ReadFile(victim); err != nil || string(b) != "data" {
		t.Errorf("%s: %q, %v", victim, b, err)
	}
}
