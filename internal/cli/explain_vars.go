package cli

import (
	"regexp"
	"sort"
	"strings"

	"github.com/nsscript/nsscript/internal/lab"
)

// Values the explained script learns only when it runs (a DHCP lease) live
// in shell variables: from the step that binds them (lab.Step.Vars) on,
// explain writes the variable wherever the value, as the plan or run had
// it, appears in a command, a description or the script's printed output.

// shellVars are the bindings seen so far, longest value first (a lease's
// prefix "10.0.0.100/24" before its address).
type shellVars []lab.ShellVar

// add records the bindings of a step. A value's regular-expression form
// ("10\.0\.0\.100", as a pattern to grep for has it) is bound too.
func (vs *shellVars) add(more []lab.ShellVar) {
	for _, v := range more {
		*vs = append(*vs, v)
		if q := regexp.QuoteMeta(v.Value); q != v.Value {
			*vs = append(*vs, lab.ShellVar{Value: q, Ref: v.Ref})
		}
	}
	sort.SliceStable(*vs, func(i, j int) bool { return len((*vs)[i].Value) > len((*vs)[j].Value) })
}

// match returns the binding whose value stands at s[i:] as a whole word (an
// address, not a part of a longer one), or nil.
func (vs shellVars) match(s string, i int) *lab.ShellVar {
	if i > 0 && isAddrByte(s[i-1]) {
		return nil
	}
	for k := range vs {
		v := &vs[k]
		end := i + len(v.Value)
		if !strings.HasPrefix(s[i:], v.Value) {
			continue
		}
		if end < len(s) && (isWordByte(s[end]) || (s[end] == '.' || s[end] == ':') && end+1 < len(s) && isWordByte(s[end+1])) {
			continue
		}
		return v
	}
	return nil
}

func isWordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isAddrByte(c byte) bool { return isWordByte(c) || c == '.' || c == ':' || c == '\\' }

// text writes the variables into a comment or description: "$lease1_ip".
func (vs shellVars) text(s string) string {
	if len(vs) == 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if v := vs.match(s, i); v != nil {
			b.WriteString(v.Ref)
			i += len(v.Value)
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// command writes the variables into a shell command so that bash expands
// them: as they are outside quotes and in double quotes, spliced in
// ('"$lease1_ip"') in single quotes, which also reaches a command that
// runs under sh -c '...'. A here-document whose body has a value loses its
// quoting, its body escaped, so that the variable expands there.
func (vs shellVars) command(c string) string {
	if len(vs) == 0 {
		return c
	}
	head, body, heredoc := strings.Cut(c, "\n")
	if !heredoc {
		return vs.line(c)
	}
	if vs.text(body) == body || !strings.Contains(head, "<<'EOF'") {
		return vs.line(head) + "\n" + body
	}
	body = strings.NewReplacer(`\`, `\\`, "$", `\$`, "`", "\\`").Replace(body)
	return vs.line(strings.Replace(head, "<<'EOF'", "<<EOF", 1)) + "\n" + vs.text(body)
}

// line substitutes in one command line, following bash's quoting.
func (vs shellVars) line(c string) string {
	var b strings.Builder
	quote := byte(0) // the quote that is open: ', " or none
	for i := 0; i < len(c); {
		if v := vs.match(c, i); v != nil {
			if quote == '\'' {
				b.WriteString(`'"` + v.Ref + `"'`)
			} else {
				b.WriteString(v.Ref)
			}
			i += len(v.Value)
			continue
		}
		ch := c[i]
		switch {
		case ch == '\\' && quote != '\'' && i+1 < len(c):
			b.WriteString(c[i : i+2])
			i += 2
			continue
		case quote == 0 && (ch == '\'' || ch == '"'):
			quote = ch
		case quote == ch:
			quote = 0
		}
		b.WriteByte(ch)
		i++
	}
	return b.String()
}
