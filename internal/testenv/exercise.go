package testenv

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

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
