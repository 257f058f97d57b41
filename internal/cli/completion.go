package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nsscript/nsscript/internal/control"
)

const completionAbout = `
Prints a completion script for SHELL (bash, zsh or fish). It completes
commands, flags, .star and .txtar files, and for shell, exec and stop the
IDs of paused labs and their namespaces; the script asks nsscript itself
for the candidates. Load it with

  source <(nsscript completion bash)          # ~/.bashrc
  source <(nsscript completion zsh)           # ~/.zshrc
  nsscript completion fish | source           # ~/.config/fish/config.fish`

// completeCmd is the hidden command the completion scripts call:
// nsscript __complete WORD... CURRENT prints the candidates for CURRENT,
// one a line.
const completeCmd = "__complete"

func init() {
	register(&command{"completion", "bash|zsh|fish", "print a shell completion script", 95, cmdCompletion})
	register(&command{completeCmd, "WORD... CURRENT", "", 1001, cmdComplete})
}

func cmdCompletion(env *Env, args []string) int {
	fs := newFlags(env, "completion", "bash|zsh|fish", completionAbout)
	if code, done := parseFlags(env, fs, args); done {
		return code
	}
	script, ok := completionScripts[fs.Arg(0)]
	if fs.NArg() != 1 || !ok {
		fmt.Fprintln(env.Stderr, "nsscript completion: want one shell: bash, zsh or fish")
		return ExitError
	}
	fmt.Fprint(env.Stdout, script)
	return ExitOK
}

func cmdComplete(env *Env, args []string) int {
	if len(args) == 0 {
		args = []string{""}
	}
	for _, c := range complete(env, args[:len(args)-1], args[len(args)-1]) {
		fmt.Fprintln(env.Stdout, c)
	}
	return ExitOK
}

// complete returns the candidates for cur, the word being typed after the
// words before it (the command line without "nsscript").
func complete(env *Env, words []string, cur string) []string {
	if len(words) == 0 {
		return append(commandNames(cur), files(cur, ".star")...) // nsscript lab.star runs it
	}
	name, prev := words[0], words[len(words)-1]
	switch {
	case prev == "--lab" || prev == "-lab":
		return prefixed(pausedLabs(env), cur)
	case strings.HasPrefix(cur, "-"):
		return prefixed(commandFlags(name), cur)
	}
	switch name {
	case "help":
		return commandNames(cur)
	case "completion":
		return prefixed([]string{"bash", "fish", "zsh"}, cur)
	case "shell", "exec":
		if positional(words[1:]) > 0 {
			return files(cur) // exec: the command's own arguments
		}
		return prefixed(labNamespaces(env, labArg(words)), cur)
	case "stop", "ps", "version", "repl":
		return nil
	case "test", "check":
		return files(cur, ".txtar", ".star")
	}
	return files(cur, ".star")
}

// commandNames returns the names of the commands (not the hidden ones)
// that start with prefix.
func commandNames(prefix string) []string {
	var out []string
	for _, c := range commands {
		if c.summary != "" && strings.HasPrefix(c.name, prefix) {
			out = append(out, c.name)
		}
	}
	return out
}

// prefixed returns the candidates that start with cur.
func prefixed(cands []string, cur string) []string {
	var out []string
	for _, c := range cands {
		if strings.HasPrefix(c, cur) {
			out = append(out, c)
		}
	}
	return out
}

// positional counts the arguments of words (after the command name) that
// are neither flags nor a --lab value.
func positional(words []string) int {
	n := 0
	for i := 0; i < len(words); i++ {
		switch w := words[i]; {
		case w == "--lab" || w == "-lab":
			i++
		case !strings.HasPrefix(w, "-"):
			n++
		}
	}
	return n
}

// labArg returns the value of --lab among words, or "".
func labArg(words []string) string {
	for i, w := range words {
		if (w == "--lab" || w == "-lab") && i+1 < len(words) {
			return words[i+1]
		}
		if v, ok := strings.CutPrefix(w, "--lab="); ok {
			return v
		}
	}
	return ""
}

var flagLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?m)^  -(\S+)`) })

// commandFlags returns the flags of the command called name, as --NAME,
// read from its own help.
func commandFlags(name string) []string {
	for _, c := range commands {
		if c.name == name && c.summary != "" {
			var out bytes.Buffer
			c.run(&Env{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}, []string{"-h"})
			var flags []string
			for _, m := range flagLine().FindAllStringSubmatch(out.String(), -1) {
				flags = append(flags, "--"+m[1])
			}
			return flags
		}
	}
	return nil
}

// pausedLabs returns the IDs of the paused labs.
func pausedLabs(env *Env) []string {
	dir, err := control.Dir(env.Getenv)
	if err != nil {
		return nil
	}
	ids, _ := control.List(dir)
	return ids
}

// labNamespaces returns the namespaces of the paused lab id (or of the only
// one), and host.
func labNamespaces(env *Env, id string) []string {
	path, err := findLab(env, id)
	if err != nil {
		return nil
	}
	info, err := control.GetInfo(path, 300*time.Millisecond)
	if err != nil {
		return nil
	}
	return info.Namespaces
}

// files returns the directories (with a trailing /) and the files with one
// of exts (all files when none is given) whose path starts with cur.
func files(cur string, exts ...string) []string {
	dir, base := filepath.Split(cur)
	entries, err := os.ReadDir(filepath.Join(".", dir))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, base) || (strings.HasPrefix(name, ".") && !strings.HasPrefix(base, ".")) {
			continue
		}
		isDir := e.IsDir()
		if e.Type()&os.ModeSymlink != 0 {
			if st, err := os.Stat(filepath.Join(".", dir, name)); err == nil {
				isDir = st.IsDir()
			}
		}
		switch {
		case isDir:
			out = append(out, dir+name+"/")
		case len(exts) == 0 || hasExt(name, exts):
			out = append(out, dir+name)
		}
	}
	sort.Strings(out)
	return out
}

// hasExt reports whether name ends with one of exts.
func hasExt(name string, exts []string) bool {
	for _, x := range exts {
		if strings.HasSuffix(name, x) {
			return true
		}
	}
	return false
}

// completionScripts are the scripts of nsscript completion, by shell. Each
// passes the words before the cursor and the word at it to
// nsscript __complete and offers what it prints; a candidate ending in /
// (a directory) gets no space after it.
var completionScripts = map[string]string{
	"bash": `# bash completion for nsscript: source <(nsscript completion bash)
_nsscript() {
	local cur=${COMP_WORDS[COMP_CWORD]} IFS=$'\n'
	COMPREPLY=($(nsscript __complete "${COMP_WORDS[@]:1:COMP_CWORD-1}" "$cur" 2>/dev/null))
	if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == */ ]]; then
		compopt -o nospace 2>/dev/null
	fi
	return 0
}
complete -F _nsscript nsscript
`,
	"zsh": `#compdef nsscript
# zsh completion for nsscript: source <(nsscript completion zsh)
_nsscript() {
	local -a cands
	cands=("${(@f)$(nsscript __complete "${(@)words[2,CURRENT-1]}" "${words[CURRENT]}" 2>/dev/null)}")
	compadd -S '' -- ${(M)cands:#*/}
	compadd -- ${cands:#*/}
}
if (( $+functions[compdef] )); then compdef _nsscript nsscript; fi
`,
	"fish": `# fish completion for nsscript: nsscript completion fish | source
function __nsscript_complete
	set -l words (commandline -opc)
	set -e words[1]
	nsscript __complete $words (commandline -ct) 2>/dev/null
end
complete -c nsscript -f -a '(__nsscript_complete)'
`,
}
