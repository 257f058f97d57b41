package testenv

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// WriteJournal writes f (a hostjournal.File, which testenv cannot import)
// as a dead run's --host journal in a temporary directory and returns its
// path, for the tests of nsscript clean.
func WriteJournal(t *testing.T, f any) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "journal-1.json")
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
