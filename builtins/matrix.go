package builtins

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"go.starlark.net/starlark"

	"github.com/nsscript/nsscript/internal/lab"
	"github.com/nsscript/nsscript/lang"
)

// maxMatrixProbes bounds how many probes of one matrix are in flight at once.
const maxMatrixProbes = 512

// fnReachability implements reachability(nss, expect=None, timeout="1s").
func fnReachability(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		list    starlark.Iterable
		expectV starlark.Value = starlark.None
		timeout                = durationArg{time.Second}
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "nss", &list, "expect?", &expectV, "timeout?", &timeout); err != nil {
		return nil, err
	}
	nss, err := matrixNamespaces(r, list)
	if err != nil {
		return nil, fmt.Errorf("for parameter nss: %w", err)
	}
	var want [][]int8
	if expectV != starlark.None {
		if want, err = parseExpectMatrix(expectV, len(nss)); err != nil {
			return nil, fmt.Errorf("for parameter expect: %w", err)
		}
	}
	pos := lang.CallerPos(t)
	r.Lab.Settle(r.Ctx)
	got := probeMatrix(r, nss, timeout.d)

	table := matrixTable(pos, nss, got, want)
	if want == nil {
		r.emit(&outItem{text: table})
	} else {
		e, diff := matrixExpectation(pos, nss, got, want)
		for _, line := range diff {
			table += "\n  ! " + line
		}
		r.emit(&outItem{text: table})
		r.emit(&outItem{exp: e})
	}
	rows := make([]starlark.Value, len(nss))
	for i := range nss {
		row := make([]starlark.Value, len(nss))
		for j := range nss {
			row[j] = starlark.None
			if i != j {
				row[j] = starlark.Bool(reply(&got[i][j]))
			}
		}
		rows[i] = starlark.NewList(row)
	}
	return starlark.NewList(rows), nil
}

// matrixNS is one namespace of a matrix and the address it is probed at.
type matrixNS struct {
	ns   *lab.Netns
	addr netip.Addr
}

// matrixNamespaces unpacks the list of namespaces (values or names).
func matrixNamespaces(r *Run, list starlark.Iterable) ([]matrixNS, error) {
	var out []matrixNS
	seen := map[*lab.Netns]bool{}
	iter := list.Iterate()
	defer iter.Done()
	var v starlark.Value
	for iter.Next(&v) {
		a := nsArg{run: r}
		if err := a.Unpack(v); err != nil {
			return nil, fmt.Errorf("item %d: %w", len(out)+1, err)
		}
		if seen[a.ns] {
			return nil, fmt.Errorf("netns %q is listed twice", a.ns.Name)
		}
		seen[a.ns] = true
		addr, ok := a.ns.FirstAddr()
		if !ok {
			return nil, fmt.Errorf("netns %q has no address to probe", a.ns.Name)
		}
		out = append(out, matrixNS{a.ns, addr})
	}
	if len(out) < 2 {
		return nil, fmt.Errorf("got %d namespaces, want at least 2", len(out))
	}
	return out, nil
}

// parseExpectMatrix reads the expected matrix: one row per source, each a
// string such as "- 1 0" (spaces ignored) or a list such as [None, True, 0].
// It returns 1 (reply), 0 (none) and -1 on the diagonal.
func parseExpectMatrix(v starlark.Value, n int) ([][]int8, error) {
	rows, ok := v.(starlark.Indexable)
	if !ok {
		return nil, fmt.Errorf("got %s, want list of %d rows", v.Type(), n)
	}
	if rows.Len() != n {
		return nil, fmt.Errorf("got %d rows, want %d (one per namespace)", rows.Len(), n)
	}
	want := make([][]int8, n)
	for i := range n {
		cells, err := expectRow(rows.Index(i), n)
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", i+1, err)
		}
		for j, c := range cells {
			if (i == j) != (c == -1) {
				if i == j {
					return nil, fmt.Errorf("row %d column %d: want - (or None) on the diagonal: a namespace is not probed against itself", i+1, j+1)
				}
				return nil, fmt.Errorf("row %d column %d: - (or None) belongs on the diagonal only; want 1 or 0", i+1, j+1)
			}
		}
		want[i] = cells
	}
	return want, nil
}

// expectRow reads one row of an expected matrix.
func expectRow(v starlark.Value, n int) ([]int8, error) {
	var cells []int8
	switch v := v.(type) {
	case starlark.String:
		for _, c := range strings.ReplaceAll(string(v), " ", "") {
			switch c {
			case '1':
				cells = append(cells, 1)
			case '0':
				cells = append(cells, 0)
			case '-':
				cells = append(cells, -1)
			default:
				return nil, fmt.Errorf("got %q in %s, want 1 (reply), 0 (none) or - (diagonal)", c, v)
			}
		}
	case starlark.Indexable:
		for k := range v.Len() {
			switch x := v.Index(k).(type) {
			case starlark.NoneType:
				cells = append(cells, -1)
			case starlark.Bool:
				cells = append(cells, map[bool]int8{true: 1, false: 0}[bool(x)])
			case starlark.Int:
				if i, ok := x.Int64(); ok && (i == 0 || i == 1) {
					cells = append(cells, int8(i))
					continue
				}
				return nil, fmt.Errorf("column %d: got %s, want 1 or 0", k+1, x)
			default:
				return nil, fmt.Errorf("column %d: got %s, want bool, 1, 0 or None", k+1, x.Type())
			}
		}
	default:
		return nil, fmt.Errorf("got %s, want string such as \"- 1 0\" or list", v.Type())
	}
	if len(cells) != n {
		return nil, fmt.Errorf("got %d entries, want %d", len(cells), n)
	}
	return cells, nil
}

// probeMatrix probes every ordered pair of distinct namespaces at once and
// returns the results by [source][destination].
func probeMatrix(r *Run, nss []matrixNS, timeout time.Duration) [][]lab.ProbeResult {
	got := make([][]lab.ProbeResult, len(nss))
	sem := make(chan struct{}, maxMatrixProbes)
	var wg sync.WaitGroup
	for i := range nss {
		got[i] = make([]lab.ProbeResult, len(nss))
		for j := range nss {
			if i == j {
				continue
			}
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				got[i][j] = r.Lab.Ping(r.Ctx, nss[i].ns, nss[j].addr, lab.ProbeOptions{Timeout: timeout})
				<-sem
			}()
		}
	}
	wg.Wait()
	return got
}

// matrixTable renders the matrix: rows are sources, columns destinations,
// 1 a reply, 0 none; with want, a ! marks each cell that differs.
func matrixTable(pos string, nss []matrixNS, got [][]lab.ProbeResult, want [][]int8) string {
	w := 1
	for _, n := range nss {
		w = max(w, len(n.ns.Name))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "reachability at %s (rows: from, columns: to; 1 reply, 0 none", pos)
	if cut := countCut(got); cut > 0 {
		b.WriteString(", ? cut short")
	}
	if want != nil {
		b.WriteString(", ! not as expected")
	}
	b.WriteString(")\n")
	fmt.Fprintf(&b, "  %*s ", w, "")
	for _, n := range nss {
		fmt.Fprintf(&b, " %*s ", w, n.ns.Name)
	}
	for i, src := range nss {
		fmt.Fprintf(&b, "\n  %*s ", w, src.ns.Name)
		for j := range nss {
			cell, mark := "-", " "
			if i != j {
				cell = "0"
				switch {
				case got[i][j].Cut:
					cell = "?"
				case reply(&got[i][j]):
					cell = "1"
				}
				if want != nil && cell != "?" && cell != fmt.Sprint(want[i][j]) {
					mark = "!"
				}
			}
			fmt.Fprintf(&b, " %*s%s", w, cell, mark)
		}
	}
	lines := strings.Split(b.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

// matrixExpectation compares got with want as one expectation; on a
// mismatch Src and Dst name the first pair that differs. diff explains each
// differing pair with its probe's outcome.
func matrixExpectation(pos string, nss []matrixNS, got [][]lab.ProbeResult, want [][]int8) (e *Expectation, diff []string) {
	var names []string
	for _, n := range nss {
		names = append(names, n.ns.Name)
	}
	e = &Expectation{Pos: pos, Builtin: "reachability", What: strings.Join(names, " "), OK: true, done: make(chan struct{})}
	close(e.done)
	pairs := len(nss) * (len(nss) - 1)
	var bad []string
	for i := range nss {
		for j := range nss {
			if i == j || got[i][j].Cut || reply(&got[i][j]) == (want[i][j] == 1) {
				continue
			}
			if e.OK {
				e.OK, e.Src, e.Dst, e.Result = false, nss[i].ns, nss[j].addr, got[i][j]
			}
			bad = append(bad, fmt.Sprintf("%s -> %s want %d", nss[i].ns.Name, nss[j].ns.Name, want[i][j]))
			w := "want a reply, got "
			if want[i][j] == 0 {
				w = "want none, got a "
			}
			diff = append(diff, fmt.Sprintf("%s -> %s (%s): %s%s", nss[i].ns.Name, nss[j].ns.Name, nss[j].addr, w, got[i][j].Detail))
		}
	}
	switch cut := countCut(got); {
	case cut > 0:
		e.OK, e.Cut = false, true
		e.Detail = fmt.Sprintf("stopped: %d of %d pairs cut short", cut, pairs)
		if len(bad) > 0 {
			e.Detail += fmt.Sprintf("; %d differ: %s", len(bad), strings.Join(bad, ", "))
		}
	case e.OK:
		e.Detail = fmt.Sprintf("all %d pairs as expected", pairs)
	default:
		e.Detail = fmt.Sprintf("%d of %d pairs differ: %s", len(bad), pairs, strings.Join(bad, ", "))
	}
	return e, diff
}

// countCut counts the probes of a matrix that the end of the run cut short.
func countCut(got [][]lab.ProbeResult) int {
	n := 0
	for _, row := range got {
		for _, res := range row {
			if res.Cut {
				n++
			}
		}
	}
	return n
}
