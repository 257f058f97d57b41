package testenv

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
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

// WriteExercise writes an exercise archive called name into dir, titled "A
// title", with those of files (task.md, start.star, checks.star,
// solution.star and, to test refusals, extra) that are given, and returns
// its path.
func WriteExercise(t testing.TB, dir, name string, files map[string]string) string {
	t.Helper()
	ar := &txtar.Archive{Comment: []byte("# A title\n# more\n")}
	for _, n := range []string{"task.md", "start.star", "checks.star", "solution.star", "extra"} {
		if s, ok := files[n]; ok {
			ar.Files = append(ar.Files, txtar.File{Name: n, Data: []byte(s)})
		}
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, txtar.Format(ar), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
