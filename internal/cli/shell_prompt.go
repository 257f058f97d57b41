package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// promptLabel is what the prompt of nsscript shell starts with.
func promptLabel(id, ns string) string { return fmt.Sprintf("[lab %s ns %s] ", id, ns) }

// shellPrompt makes the interactive shell argv[0] show the lab and the
// namespace in its prompt, as a Python virtualenv shows its name: bash
// reads, instead of ~/.bashrc, a file that sources ~/.bashrc and then puts
// the label before the prompt the user's rc made (/etc/bash.bashrc is read
// as usual); any other shell gets PS1 set in its environment, which its own
// rc may replace. It returns the argv and environment to use and a function
// that removes the file.
func shellPrompt(argv, environ []string, id, ns string) ([]string, []string, func(), error) {
	label := promptLabel(id, ns)
	if filepath.Base(argv[0]) != "bash" {
		// "# ": the shell runs as root of the lab's sandbox.
		return argv, append(environ, "PS1="+label+"# "), func() {}, nil
	}
	f, err := os.CreateTemp("", "nsscript-bashrc-")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("prompt: %w", err)
	}
	// The rc runs inside the lab, as the user (root of the sandbox stands
	// for them), and so may read a file of theirs in /tmp.
	rc := "# nsscript shell: the user's own rc, then the lab in the prompt\n" +
		"if [ -f ~/.bashrc ]; then . ~/.bashrc; fi\n" +
		"PS1=" + shellQuote(label) + "\"${PS1-\\\\$ }\"\n"
	_, err = f.WriteString(rc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return nil, nil, nil, fmt.Errorf("prompt: %w", err)
	}
	done := func() { os.Remove(f.Name()) }
	return append([]string{argv[0], "--rcfile", f.Name()}, argv[1:]...), environ, done, nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
