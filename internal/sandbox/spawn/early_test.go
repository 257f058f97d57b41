package spawn

import (
	"slices"
	"testing"
)

func TestEarlyArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string // nil: no early start
	}{
		{[]string{"nsscript", "run", "a.star"}, []string{"nsscript", "run", "a.star"}},
		{[]string{"nsscript", "a.star"}, []string{"nsscript", "run", "a.star"}},
		{[]string{"nsscript", "a.star", "--set", "n=3"}, []string{"nsscript", "run", "a.star", "--set", "n=3"}},
		{[]string{"nsscript", "run", "-v", "-"}, []string{"nsscript", "run", "-v", "-"}},
		{[]string{"nsscript", "run"}, nil},
		{[]string{"nsscript"}, nil},
		{[]string{"nsscript", "test", "a.txtar"}, nil},
		{[]string{"nsscript", "version"}, nil},
		{[]string{"nsscript", "run", "--host", "a.star"}, nil},
		{[]string{"nsscript", "run", "-host=true", "a.star"}, nil},
		{[]string{"nsscript", "run", "--host=T", "a.star"}, nil},
		{[]string{"nsscript", "run", "-h"}, nil},
		{[]string{"nsscript", "run", "--help", "a.star"}, nil},
		{[]string{"nsscript", ".star"}, nil},
	} {
		got, ok := EarlyArgs(tc.args)
		if ok != (tc.want != nil) || !slices.Equal(got, tc.want) {
			t.Errorf("EarlyArgs(%q) = %q, %v; want %q", tc.args, got, ok, tc.want)
		}
	}
}

func TestAlone(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"nsscript", "run", "a.star"}, true},
		{[]string{"nsscript", "run", "-v", "--explain", "a.star"}, true},
		{[]string{"nsscript", "run", "--set", "n=3", "-set=m=4", "--timeout", "5s", "a.star"}, true},
		{[]string{"nsscript", "run", "--max-steps=10", "-neigh", "static", "-bundle", "out", "a.star"}, true},
		{[]string{"nsscript", "run", "--timeout=-1s", "a.star"}, true}, // the child reports the bad value
		{[]string{"nsscript", "run", "-"}, false},                      // the script on standard input
		{[]string{"nsscript", "run", "--pause", "a.star"}, false},
		{[]string{"nsscript", "run", "--pause-on-fail", "a.star"}, false},
		{[]string{"nsscript", "run", "--web", ":0", "a.star"}, false},
		{[]string{"nsscript", "run", "--keep", "a.star"}, false},
		{[]string{"nsscript", "run", "--v=false", "a.star"}, false},
		{[]string{"nsscript", "run", "--no-such-flag", "a.star"}, false},
		{[]string{"nsscript", "run", "--", "a.star"}, false},
		{[]string{"nsscript", "run", "--set"}, false},
		{[]string{"nsscript", "run", "--timeout", "5s"}, false},
		{[]string{"nsscript", "run", "a.star", "b.star"}, false},
		{[]string{"nsscript", "run", "a.star", "-v"}, false},
		{[]string{"nsscript", "run", ""}, false},
		{[]string{"nsscript", "run"}, false},
		{[]string{"nsscript", "shell", "a.star"}, false},
	} {
		if got := Alone(tc.args); got != tc.want {
			t.Errorf("Alone(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}
