package cli

import (
	"sort"
	"strings"
)

// The tools an explained script needs are the programs its commands run:
// the first word of every simple command, looked through the wrappers that
// run another command (ip netns exec NS, timeout N, sh -c '...', $(...)).
// What every Debian system has (the shell, coreutils, grep) is left out.

// baseTools are shell keywords and builtins and the programs of Debian's
// essential packages: a script never needs to declare them.
var baseTools = map[string]bool{
	"!": true, "[": true, "bash": true, "sh": true, "cd": true, "command": true, "echo": true,
	"exit": true, "false": true, "kill": true, "printf": true, "set": true, "test": true,
	"trap": true, "true": true, "wait": true, "for": true, "while": true, "until": true, "do": true,
	"done": true, "if": true, "then": true, "else": true, "fi": true, "exec": true, "read": true,
	"cat": true, "cp": true, "cut": true, "head": true, "mkdir": true, "mv": true, "rm": true,
	"seq": true, "sleep": true, "sort": true, "tail": true, "tee": true, "timeout": true,
	"touch": true, "tr": true, "mount": true, "chmod": true, "wc": true, "grep": true, "sed": true,
}

// toolSet collects tools in the order they were first seen.
type toolSet struct {
	seen  map[string]bool
	order []string
}

// addCommand records the tools a command line runs.
func (ts *toolSet) addCommand(line string) {
	for _, words := range simpleCommands(line) {
		ts.addWords(words)
	}
}

// addWords records the program of one simple command, and of the command it
// wraps.
func (ts *toolSet) addWords(w []string) {
	for len(w) > 0 {
		switch {
		case strings.Contains(w[0], "=") && !strings.HasPrefix(w[0], "="):
			w = w[1:] // a variable assignment before the command
			continue
		case w[0] == "!" || w[0] == "until" || w[0] == "while" || w[0] == "do" || w[0] == "if" || w[0] == "then" || w[0] == "exec":
			w = w[1:]
			continue
		case w[0] == "for" || w[0] == "done" || w[0] == "fi":
			return
		}
		break
	}
	if len(w) == 0 {
		return
	}
	prog := w[0]
	if prog != "" && !baseTools[prog] && !strings.ContainsAny(prog, "/$") {
		if ts.seen == nil {
			ts.seen = map[string]bool{}
		}
		if !ts.seen[prog] {
			ts.seen[prog] = true
			ts.order = append(ts.order, prog)
		}
	}
	switch {
	case prog == "ip" && len(w) > 4 && w[1] == "netns" && w[2] == "exec":
		ts.addWords(w[4:])
	case prog == "timeout" && len(w) > 2:
		ts.addWords(w[2:])
	case (prog == "sh" || prog == "bash") && len(w) > 2 && w[1] == "-c":
		ts.addCommand(w[2])
	}
}

// sorted returns the tools, ip first (every script needs it), the rest in
// alphabetical order.
func (ts *toolSet) sorted() []string {
	out := append([]string(nil), ts.order...)
	sort.Slice(out, func(i, j int) bool {
		if (out[i] == "ip") != (out[j] == "ip") {
			return out[i] == "ip"
		}
		return out[i] < out[j]
	})
	return out
}

// simpleCommands splits a shell command line into its simple commands, each
// as its words with quotes removed. Command substitutions $(...) count as
// commands of their own; redirections are dropped.
func simpleCommands(line string) [][]string {
	var (
		cmds  [][]string
		words []string
		word  strings.Builder
		inW   bool
	)
	endWord := func() {
		if inW {
			words = append(words, word.String())
		}
		word.Reset()
		inW = false
	}
	endCmd := func() {
		endWord()
		if len(words) > 0 {
			cmds = append(cmds, dropRedirects(words))
		}
		words = nil
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				j = len(line) - i - 1
			}
			word.WriteString(line[i+1 : i+1+j])
			inW, i = true, i+1+j
		case c == '"':
			j := i + 1
			for ; j < len(line) && line[j] != '"'; j++ {
				if line[j] == '\\' {
					j++
				} else if strings.HasPrefix(line[j:], "$(") {
					end := closingParen(line, j+1)
					cmds = append(cmds, simpleCommands(line[j+2:end])...)
					j = end
				}
			}
			word.WriteString(line[i+1 : min(j, len(line))])
			inW, i = true, j
		case c == '$' && i+1 < len(line) && line[i+1] == '(':
			end := closingParen(line, i+1)
			cmds = append(cmds, simpleCommands(line[i+2:end])...)
			word.WriteString("$")
			inW, i = true, end
		case c == '\\' && i+1 < len(line):
			word.WriteByte(line[i+1])
			inW, i = true, i+1
		case c == ' ' || c == '\t':
			endWord()
		case strings.HasPrefix(line[i:], "<<"):
			i = hereDocEnd(line, i)
			endCmd()
		case c == '&' && i > 0 && (line[i-1] == '>' || line[i-1] == '<'):
			word.WriteByte(c) // 2>&1
		case c == '|' || c == ';' || c == '&' || c == '(' || c == ')' || c == '{' || c == '}' || c == '\n':
			endCmd()
		case c == '#' && !inW:
			endCmd()
			return cmds
		default:
			word.WriteByte(c)
			inW = true
		}
	}
	endCmd()
	return cmds
}

// hereDocEnd returns the index of the end of the here-document whose <<
// is at i: the end of its closing delimiter line, or of s.
func hereDocEnd(s string, i int) int {
	nl := strings.IndexByte(s[i:], '\n')
	if nl < 0 {
		return len(s)
	}
	delim := strings.Trim(strings.TrimSpace(strings.TrimLeft(s[i+2:i+nl], "-")), `'"`)
	body := s[i+nl:]
	if j := strings.Index(body, "\n"+delim+"\n"); j >= 0 {
		return i + nl + j + len(delim) + 1
	}
	if strings.HasSuffix(body, "\n"+delim) {
		return len(s)
	}
	return len(s)
}

// closingParen returns the index of the ')' closing the '(' at open.
func closingParen(s string, open int) int {
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i
			}
		case '\'':
			if j := strings.IndexByte(s[i+1:], '\''); j >= 0 {
				i += j + 1
			}
		}
	}
	return len(s)
}

// dropRedirects removes redirections (2>&1, >/dev/null, < file) from words.
func dropRedirects(words []string) []string {
	var out []string
	for i := 0; i < len(words); i++ {
		w := strings.TrimLeft(words[i], "0123456789")
		if strings.HasPrefix(w, ">") || strings.HasPrefix(w, "<") {
			if w == ">" || w == ">>" || w == "<" {
				i++ // the file is the next word
			}
			continue
		}
		out = append(out, words[i])
	}
	return out
}
