package exercise

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsscript/nsscript/internal/testenv"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	full := map[string]string{"task.md": "# Task\n", "start.star": "x = 1\n", "checks.star": "check('a', lambda: None)\n"}
	ex, err := Load(testenv.WriteExercise(t, dir, "ok.txtar", full))
	if err != nil {
		t.Fatal(err)
	}
	if ex.Name != "ok" || ex.Title != "A title" || !strings.Contains(ex.Comment, "A title") || string(ex.Files["start.star"]) != "x = 1\n" {
		t.Errorf("loaded %+v", ex)
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"nochecks.txtar", map[string]string{"task.md": "", "start.star": ""}, "exercise has no checks.star"},
		{"extra.txtar", map[string]string{"task.md": "", "start.star": "", "checks.star": "", "extra": ""}, `unknown file "extra" in exercise`},
	} {
		_, err := Load(testenv.WriteExercise(t, dir, tc.name, tc.files))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing.txtar")); err == nil || !strings.Contains(err.Error(), "missing.txtar: no such file") {
		t.Errorf("missing file: %v", err)
	}
	// A directory works too; its title is task.md's heading.
	exdir := filepath.Join(dir, "bridge")
	os.Mkdir(exdir, 0o755)
	for n, s := range map[string]string{"task.md": "# Bridge it\n\ntext", "start.star": "", "checks.star": ""} {
		os.WriteFile(filepath.Join(exdir, n), []byte(s), 0o644)
	}
	ex, err = Load(exdir)
	if err != nil || ex.Title != "Bridge it" || ex.Name != "bridge" || ex.ChecksAt != filepath.Join(exdir, "checks.star") {
		t.Errorf("directory exercise: %+v, %v", ex, err)
	}
}
