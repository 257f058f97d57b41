package cli

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/bazelbuild/buildtools/build"
	"github.com/rogpeppe/go-internal/diff"
	"go.starlark.net/syntax"

	"github.com/nsscript/nsscript/lang"
)

const fmtAbout = `Formats .star scripts the way buildifier formats Starlark (bazelbuild/
buildtools, in its mode for generic Starlark files): four-space indents,
spaces around "=" in keyword arguments, two spaces before a trailing
comment, comments kept. A directory stands for the .star files under it.

Without flags the formatted text goes to standard output. Exit status: 0,
or 1 when -d or -l found a file that needs formatting, or 2 on a syntax
error. buildtools' Starlark has no while loops, which nsscript run allows:
fmt says so, at the loop, and leaves such a file alone.`

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
		src, err := lang.ReadSource(f)
		if err != nil {
			fmt.Fprintf(env.Stderr, "nsscript fmt: %v\n", err)
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
// "file.star:LINE:COL: syntax error ...". A script nsscript runs but
// buildtools cannot parse (a while loop) gets an error that says so, at
// the loop.
func FormatStar(filename string, src []byte) ([]byte, error) {
	f, err := build.ParseDefault(filename, src)
	if err != nil {
		return nil, parseError(filename, src, err)
	}
	return build.Format(f), nil
}

// parseError explains why buildtools could not parse a script (its error
// buildErr). nsscript's own parser knows while loops: when it accepts the
// script, the error names the first while loop; when it rejects it, its
// own syntax error is the one to show.
func parseError(filename string, src []byte, buildErr error) error {
	f, err := lang.Parse(filename, src)
	if err != nil {
		return err // "file:line:col: message"
	}
	var pos syntax.Position
	syntax.Walk(f, func(n syntax.Node) bool {
		if w, ok := n.(*syntax.WhileStmt); ok && !pos.IsValid() {
			pos, _ = w.Span()
		}
		return !pos.IsValid()
	})
	if !pos.IsValid() {
		return buildErr // "file:line:col: message"
	}
	return fmt.Errorf("%s: cannot format a while loop: buildifier's Starlark has none (nsscript run accepts it; format by hand or use a for loop)", pos)
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
// both the text of file, as gofmt -d writes it; "" when they are equal.
func unifiedDiff(file, a, b string) string {
	d := diff.Diff(file, []byte(a), file+" (formatted)", []byte(b))
	// Drop diff's "diff OLD NEW" header line: the ---/+++ lines name both.
	_, rest, _ := bytes.Cut(d, []byte("\n"))
	return string(rest)
}
