package privmount

import (
	"slices"
	"testing"
)

// TestAllDirs: the directories of the files join Dirs, once each, parents
// before children.
func TestAllDirs(t *testing.T) {
	s := Spec{Dirs: []string{"/run/bird", "/etc/bird"}, Files: map[string]string{
		"/etc/bird/bird.conf": "", "/etc/bird/sub/x.conf": "", "/var/log/a/log": ""}}
	got := s.AllDirs()
	want := []string{"/etc/bird", "/etc/bird/sub", "/run/bird", "/var/log/a"}
	if !slices.Equal(got, want) {
		t.Errorf("AllDirs = %q, want %q", got, want)
	}
}

// TestCheck: relative, unclean and top-level paths are refused, and so is a
// path given both as a file and a directory.
func TestCheck(t *testing.T) {
	bad := []Spec{
		{Dirs: []string{"run/bird"}},
		{Dirs: []string{"/run/../etc"}},
		{Dirs: []string{"/"}},
		{Files: map[string]string{"/bird.conf": ""}},
		{Dirs: []string{"/etc/x"}, Files: map[string]string{"/etc/x": ""}},
		{Dirs: []string{"/run/frr"}, Join: "/proc/1/ns/mnt"},
	}
	for _, s := range bad {
		if err := s.Check(); err == nil {
			t.Errorf("Check(%+v) = nil, want an error", s)
		}
	}
	if err := (Spec{Dirs: []string{"/run/bird"}, Files: map[string]string{"/etc/bird/bird.conf": ""}}).Check(); err != nil {
		t.Errorf("Check of a good spec: %v", err)
	}
}
