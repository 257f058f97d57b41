package cli

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/bazelbuild/buildtools/build"
)

const fmtAbout = `Formats .star scripts the way buildifier formats Starlark (bazelbuild/
buildtools, in its mode for generic Starlark files): four-space indents,
spaces around "=" in keyword arguments, two spaces before a trailing
comment, comments kept. A directory stands for the .star files under it.

Without flags the formatted text goes to standard output. Exit status: 0,
or 1 when -d or -l found a file that needs formatting, or 2 on a syntax
error (buildtools does not know while loops, which nsscript allows).`

func init() {
	register(&command{"fmt", "[-w] [-d] [-l] FILE.star|DIR...", "format scripts (as buildifier does)", 60, cmdFmt})
}

func cmdFmt(env *Env, args []string) int {
	var write, diff, list bool
	fs := newFlags(env, "fmt", "[-w] [-d] [-l] FILE.star|DIR...", fmtAbout)
	fs.BoolVar(&write, "w", false, "write the result to the file instead of standard output")
	fs.BoolVar(&diff, "d", false, "print a diff of the changes instead of the formatted text")
	fs.BoolVar(&list, "l", false, "list the files whose formatting differs")
	if code, done := parseFlags(env, fs, args); done {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(env.Stderr, "nsscript fmt: want at least one file or directory (nsscript fmt -w scripts)")
		return ExitError
	}
	files, err := starFiles(fs.Args())
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript fmt: %v\n", err)
		return ExitError
	}
	status := ExitOK
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(env.Stderr, "nsscript fmt: %v\n", unwrapPathErr(err, f))
			status = ExitError
			continue
		}
		out, err := FormatStar(f, src)
		if err != nil {
			fmt.Fprintln(env.Stderr, err)
			status = ExitError
			continue
		}
		changed := !bytes.Equal(src, out)
		if changed && (diff || list) && status == ExitOK {
			status = ExitFail
		}
		if list && changed {
			fmt.Fprintln(env.Stdout, f)
		}
		if diff && changed {
			fmt.Fprint(env.Stdout, unifiedDiff(f, string(src), string(out)))
		}
		if write && changed {
			if err := os.WriteFile(f, out, 0o644); err != nil {
				fmt.Fprintf(env.Stderr, "nsscript fmt: %v\n", unwrapPathErr(err, f))
				status = ExitError
			}
		}
		if !write && !diff && !list {
			env.Stdout.Write(out)
		}
	}
	return status
}

// FormatStar formats a Starlark script as buildifier formats a generic
// Starlark file (.star is not a BUILD or .bzl file, so no BUILD rewrites
// such as sorting arguments apply). A syntax error is one line,
// "file.star:LINE:COL: syntax error ...".
func FormatStar(filename string, src []byte) ([]byte, error) {
	f, err := build.ParseDefault(filename, src)
	if err != nil {
		return nil, err // a build.ParseError reads "file:line:col: message"
	}
	return build.Format(f), nil
}

// starFiles expands directories into the .star files under them, in order.
func starFiles(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, unwrapPathErr(err, a)
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(p, ".star") {
				out = append(out, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// unifiedDiff returns a unified diff (three lines of context) from a to b,
// both the text of file; "" when they are equal.
func unifiedDiff(file, a, b string) string {
	x, y := splitLines(a), splitLines(b)
	ops := diffLines(x, y)
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s (formatted)\n", file, file)
	const context = 3
	for i := 0; i < len(ops); {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		// A hunk: from context lines before the change to context lines
		// after the last change that is at most 2*context lines away.
		start := max(i-context, 0)
		end := i
		for j := i; j < len(ops); j++ {
			if ops[j].kind != ' ' {
				end = j
			} else if j-end > 2*context {
				break
			}
		}
		end = min(end+context+1, len(ops))
		var ax, ay, nx, ny int
		ax, ay = ops[start].x+1, ops[start].y+1
		var body strings.Builder
		for _, o := range ops[start:end] {
			switch o.kind {
			case ' ':
				nx++
				ny++
				body.WriteString(" " + x[o.x])
			case '-':
				nx++
				body.WriteString("-" + x[o.x])
			case '+':
				ny++
				body.WriteString("+" + y[o.y])
			}
		}
		if nx == 0 {
			ax--
		}
		if ny == 0 {
			ay--
		}
		fmt.Fprintf(&out, "@@ -%d,%d +%d,%d @@\n%s", ax, nx, ay, ny, body.String())
		i = end
	}
	return out.String()
}

// splitLines splits s after each newline; a last line without one gets
// "\ No newline at end of file" as diff writes it.
func splitLines(s string) []string {
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	} else {
		lines[len(lines)-1] += "\n\\ No newline at end of file\n"
	}
	return lines
}

// diffOp is one line of an edit script: ' ' keep x[x] (= y[y]), '-' drop
// x[x], '+' insert y[y]. x and y also mark the position in the other side.
type diffOp struct {
	kind byte
	x, y int
}

// diffLines finds a shortest edit script by the longest common subsequence
// (scripts are short; past 4M cells it replaces the whole file).
func diffLines(x, y []string) []diffOp {
	n, m := len(x), len(y)
	var ops []diffOp
	if n*m > 4<<20 {
		for i := range x {
			ops = append(ops, diffOp{'-', i, 0})
		}
		for j := range y {
			ops = append(ops, diffOp{'+', n, j})
		}
		return ops
	}
	// lcs[i][j] is the LCS length of x[i:] and y[j:].
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && x[i] == y[j]:
			ops = append(ops, diffOp{' ', i, j})
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, diffOp{'-', i, j})
			i++
		default:
			ops = append(ops, diffOp{'+', i, j})
			j++
		}
	}
	return ops
}
