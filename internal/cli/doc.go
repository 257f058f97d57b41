package cli

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/nsscript/nsscript/builtins"
)

//go:generate go run ../../cmd/nsscript doc --readme ../../README.md

const docAbout = `Prints the reference of every builtin, or of one (a builtin, a value
type such as link, or a method such as link.addr) and of every one whose
name starts with the name given (doc expect lists expect and every
expect_*). The text comes from the builtins table, as does the
README's reference section: --markdown prints that section, and
--readme FILE rewrites it in place (go generate ./internal/cli does so for
the repository's README).`

// The README's generated region lies between these lines.
const (
	refBegin = "<!-- BEGIN REFERENCE (generated; do not edit) -->"
	refEnd   = "<!-- END REFERENCE -->"
)

func init() {
	register(&command{"doc", "[BUILTIN]", "print the builtins' reference, or of those whose name starts with BUILTIN", 50, cmdDoc})
}

func cmdDoc(env *Env, args []string) int {
	var markdown bool
	var readme string
	fs := newFlags(env, "doc", "[flags] [BUILTIN]", docAbout)
	fs.BoolVar(&markdown, "markdown", false, "print the whole reference as Markdown")
	fs.StringVar(&readme, "readme", "", "rewrite the generated reference region of the Markdown `FILE`")
	if code, done := parseFlags(env, fs, args); done {
		return code
	}
	switch {
	case fs.NArg() > 1:
		fmt.Fprintln(env.Stderr, "nsscript doc: want at most one builtin name")
		return ExitError
	case fs.NArg() == 1 && (markdown || readme != ""):
		fmt.Fprintln(env.Stderr, "nsscript doc: --markdown and --readme take no builtin name")
		return ExitError
	case readme != "":
		if err := rewriteReadme(readme); err != nil {
			fmt.Fprintf(env.Stderr, "nsscript doc: %v\n", err)
			return ExitError
		}
		return ExitOK
	case markdown:
		fmt.Fprint(env.Stdout, referenceMarkdown())
		return ExitOK
	}
	text, err := docText(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript doc: %v\n", err)
		return ExitError
	}
	fmt.Fprint(env.Stdout, text)
	return ExitOK
}

// docText returns the reference of every builtin (name ""), or of name and
// of every builtin, value type or method whose name starts with it, in the
// table's order: doc expect shows expect and every expect_*, doc link the
// link builtin, its type and its methods.
func docText(name string) (string, error) {
	if name == "" {
		return builtins.Doc("")
	}
	names := []string{}
	seen := map[string]bool{}
	if builtins.Lookup(name) != nil {
		names, seen[name] = append(names, name), true
	}
	for _, x := range builtins.Table {
		if strings.HasPrefix(x.Name, name) && !seen[x.Name] {
			names, seen[x.Name] = append(names, x.Name), true
		}
	}
	if len(names) == 0 {
		return builtins.Doc(name) // the error
	}
	var b strings.Builder
	for i, n := range names {
		text, err := builtins.Doc(n)
		if err != nil {
			return "", err
		}
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(text)
	}
	return b.String(), nil
}

// referenceMarkdown renders the builtins table (and the value types) as the
// README's reference: one heading per domain, in the order domains first
// appear in the table (a builtin listed later under an earlier domain joins
// that domain's section), one per builtin with its signature, and its doc as
// a paragraph.
func referenceMarkdown() string {
	var b strings.Builder
	for _, g := range builtins.Domains() {
		fmt.Fprintf(&b, "\n### %s\n", g.Domain)
		for _, x := range g.Builtins {
			fmt.Fprintf(&b, "\n#### `%s`\n\n%s\n", x.Sig, mdEscape(x.Doc))
		}
	}
	return strings.TrimPrefix(b.String(), "\n")
}

// mdEscape keeps Markdown from reading doc text as markup.
func mdEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "<", "&lt;", "`", "\\`").Replace(s)
}

// readmeRegion returns the generated region of a README: everything
// between the lines refBegin and refEnd, and where it starts and ends.
func readmeRegion(data []byte) (start, end int, err error) {
	b := bytes.Index(data, []byte(refBegin+"\n"))
	e := bytes.Index(data, []byte(refEnd))
	if b < 0 || e < b {
		return 0, 0, fmt.Errorf("no %q ... %q region", refBegin, refEnd)
	}
	return b + len(refBegin) + 1, e, nil
}

// rewriteReadme replaces the generated region of the file with the
// reference (and leaves every other byte alone).
func rewriteReadme(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return unwrapPathErr(err, file)
	}
	start, end, err := readmeRegion(data)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	out := append(append(append([]byte(nil), data[:start]...), referenceMarkdown()...), data[end:]...)
	if bytes.Equal(out, data) {
		return nil
	}
	return os.WriteFile(file, out, 0o644)
}
