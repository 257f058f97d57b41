package builtins

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

var unexpectedKW = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`unexpected keyword argument "([^"]+)"$`) })

// withHint adds "(did you mean NAME?)" to an unexpected-keyword error when a
// parameter of sig is spelled close to the one given and Starlark's
// UnpackArgs, which allows fewer typos ("nmae" is two edits from name), gave
// no hint of its own.
func withHint(err error, sig string) error {
	m := unexpectedKW().FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	if best := nearest(m[1], params(sig)); best != "" {
		return fmt.Errorf("%w (did you mean %s?)", err, best)
	}
	return err
}

// params lists the keyword names of a signature "f(a, b=1, c?)"; in
// "f(a, ...)", a stands for any number of positional arguments and is none.
func params(sig string) []string {
	i, j := strings.IndexByte(sig, '('), strings.LastIndexByte(sig, ')')
	if i < 0 || j < i {
		return nil
	}
	var names []string
	ps := strings.Split(sig[i+1:j], ",")
	for k, p := range ps {
		p = strings.TrimSpace(p)
		if k+1 < len(ps) && strings.TrimSpace(ps[k+1]) == "..." {
			continue
		}
		if k := strings.IndexAny(p, "=?"); k >= 0 {
			p = p[:k]
		}
		if p = strings.TrimLeft(strings.TrimSpace(p), "*"); p != "" {
			names = append(names, p)
		}
	}
	return names
}

// nearest returns the candidate closest to x by edit distance, if close.
func nearest(x string, candidates []string) string {
	best, bestD := "", len(x)/2+1
	for _, c := range candidates {
		if d := editDistance(x, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
