package spec

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ShardEnv names the environment variable that selects a shard of the specs
// under go test (nstest.Run), as --shard does for nsscript test: "K/N".
const ShardEnv = "NSSCRIPT_SHARD"

// Shard selects the K-th of N disjoint parts of a suite (1 <= K <= N), so
// that N machines of a CI matrix each run one part. The zero Shard selects
// everything.
type Shard struct{ K, N int }

// ParseShard parses "K/N"; "" is the zero Shard (every spec).
func ParseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{}, nil
	}
	ks, ns, ok := strings.Cut(s, "/")
	k, err1 := strconv.Atoi(ks)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil || n < 1 || k < 1 || k > n {
		return Shard{}, fmt.Errorf("shard %q: want K/N with 1 <= K <= N (e.g. 2/4)", s)
	}
	return Shard{K: k, N: n}, nil
}

// String returns "K/N", or "" for the zero Shard.
func (s Shard) String() string {
	if s.N == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.K, s.N)
}

// Select returns the files of the shard: the files sorted by path, then
// every N-th from the K-th on. Given the same files, the N shards are
// disjoint, their union is all of them, and their sizes differ by at most
// one; the order the files came in does not matter.
func (s Shard) Select(files []string) []string {
	sorted := append([]string(nil), files...)
	sort.Strings(sorted)
	if s.N == 0 {
		return sorted
	}
	var out []string
	for i, f := range sorted {
		if i%s.N == s.K-1 {
			out = append(out, f)
		}
	}
	return out
}

// Groups returns groups with only the shard's files (over all groups'
// files together), dropping groups left empty.
func (s Shard) Groups(groups []*Group) []*Group {
	if s.N == 0 {
		return groups
	}
	var all []string
	for _, g := range groups {
		all = append(all, g.Files...)
	}
	keep := map[string]bool{}
	for _, f := range s.Select(all) {
		keep[f] = true
	}
	var out []*Group
	for _, g := range groups {
		ng := *g
		ng.Files = nil
		for _, f := range g.Files {
			if keep[f] {
				ng.Files = append(ng.Files, f)
			}
		}
		if len(ng.Files) > 0 {
			out = append(out, &ng)
		}
	}
	return out
}
