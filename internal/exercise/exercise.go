// Package exercise loads classroom exercises (a task, a starting script,
// hidden checks and a solution, in a txtar archive or a directory) and
// grades a student's script against them: the script runs as with nsscript
// run, then the checks run in the same lab.
package exercise

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rogpeppe/go-internal/txtar"
)

// Exercise is a classroom exercise: a task, a starting script, hidden
// checks and, optionally, a solution.
type Exercise struct {
	Name     string            // file or directory name, without .txtar
	Title    string            // first line of the archive's comment
	Comment  string            // the archive's comment (for the teacher)
	Files    map[string][]byte // task.md, start.star, checks.star, solution.star
	ChecksAt string            // where checks.star is, for positions
}

// exerciseFiles are the parts of an exercise, and whether each is required.
var exerciseFiles = []struct {
	name     string
	required bool
}{{"task.md", true}, {"start.star", true}, {"checks.star", true}, {"solution.star", false}}

// Load reads an exercise from a .txtar archive or a directory.
func Load(path string) (*Exercise, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, pathErr(err, path)
	}
	ex := &Exercise{Files: map[string][]byte{}}
	if fi.IsDir() {
		ex.Name = filepath.Base(filepath.Clean(path))
		for _, f := range exerciseFiles {
			b, err := os.ReadFile(filepath.Join(path, f.name))
			if err == nil {
				ex.Files[f.name] = b
			} else if !errors.Is(err, os.ErrNotExist) {
				return nil, err
			}
		}
		if t, ok := ex.Files["task.md"]; ok {
			ex.Title = firstLine(strings.TrimLeft(string(t), "# "))
		}
		ex.ChecksAt = filepath.Join(path, "checks.star")
	} else {
		ar, err := txtar.ParseFile(path)
		if err != nil {
			return nil, err
		}
		ex.Name = strings.TrimSuffix(filepath.Base(path), ".txtar")
		known := map[string]bool{}
		for _, f := range exerciseFiles {
			known[f.name] = true
		}
		for _, f := range ar.Files {
			if !known[f.Name] {
				return nil, fmt.Errorf("%s: unknown file %q in exercise (want task.md, start.star, checks.star, solution.star)", path, f.Name)
			}
			if _, dup := ex.Files[f.Name]; dup {
				return nil, fmt.Errorf("%s: %s appears twice", path, f.Name)
			}
			ex.Files[f.Name] = f.Data
		}
		ex.Comment = string(ar.Comment)
		ex.Title = firstLine(strings.TrimLeft(ex.Comment, "# "))
		ex.ChecksAt = path + ":checks.star"
	}
	for _, f := range exerciseFiles {
		if _, ok := ex.Files[f.name]; f.required && !ok {
			return nil, fmt.Errorf("%s: exercise has no %s", path, f.name)
		}
	}
	if ex.Title == "" {
		ex.Title = ex.Name
	}
	return ex, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(s)
}

// pathErr names the path as the user gave it.
func pathErr(err error, path string) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", path, pe.Err)
	}
	return err
}

// WriteHandout writes what a student gets, task.md and start.star, into dir;
// it never overwrites a file.
func (ex *Exercise) WriteHandout(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, name := range []string{"task.md", "start.star"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%s exists; not overwriting it", p)
		}
		if err := os.WriteFile(p, ex.Files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}
