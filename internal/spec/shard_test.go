package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
)

// TestShardPartition: for every N, the N shards of a suite are disjoint,
// their union is the suite, their sizes differ by at most one, and the
// order the files come in does not change them.
func TestShardPartition(t *testing.T) {
	var files []string
	for i := 0; i < 23; i++ {
		files = append(files, fmt.Sprintf("testdata/spec%02d.txtar", (i*7)%23))
	}
	reversed := append([]string(nil), files...)
	sort.Sort(sort.Reverse(sort.StringSlice(reversed)))
	for n := 1; n <= 30; n++ {
		seen := map[string]int{}
		lo, hi := len(files), 0
		for k := 1; k <= n; k++ {
			s, err := ParseShard(fmt.Sprintf("%d/%d", k, n))
			if err != nil {
				t.Fatal(err)
			}
			part := s.Select(files)
			if again := s.Select(reversed); !reflect.DeepEqual(part, again) {
				t.Errorf("shard %s depends on the order: %v vs %v", s, part, again)
			}
			lo, hi = min(lo, len(part)), max(hi, len(part))
			for _, f := range part {
				seen[f]++
			}
		}
		if len(seen) != len(files) {
			t.Errorf("N=%d: union holds %d of %d specs", n, len(seen), len(files))
		}
		for f, c := range seen {
			if c != 1 {
				t.Errorf("N=%d: %s in %d shards", n, f, c)
			}
		}
		if hi-lo > 1 {
			t.Errorf("N=%d: shard sizes from %d to %d", n, lo, hi)
		}
	}
	for _, bad := range []string{"0/3", "4/3", "1/0", "x/2", "1", "1/2/3", "-1/2"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("ParseShard(%q) accepted", bad)
		}
	}
}

// TestShardGroups: a shard spans the files of every group together and
// drops groups left without a file.
func TestShardGroups(t *testing.T) {
	dir := t.TempDir()
	var args []string
	for _, d := range []string{"a", "b"} {
		os.Mkdir(filepath.Join(dir, d), 0o755)
		for i := 0; i < 3; i++ {
			os.WriteFile(filepath.Join(dir, d, fmt.Sprintf("s%d.txtar", i)), []byte("env X=1\n"), 0o644)
		}
		args = append(args, filepath.Join(dir, d))
	}
	groups, err := Groups(args, nil)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for k := 1; k <= 4; k++ {
		for _, g := range (Shard{K: k, N: 4}).Groups(groups) {
			if len(g.Files) == 0 {
				t.Errorf("shard %d/4: empty group %s", k, g.Dir)
			}
			total += len(g.Files)
		}
	}
	if total != 6 {
		t.Errorf("4 shards hold %d of 6 specs", total)
	}
}
