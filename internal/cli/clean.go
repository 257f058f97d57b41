package cli

import (
	"fmt"
	"os"

	"github.com/nsscript/nsscript/internal/hostjournal"
)

const cleanAbout = `Undoes what --host runs left on this machine. A --host run journals every
change before it makes it (in ` + hostjournal.DefaultDir + `/journal-PID.json) and undoes
them itself on exit, error, SIGINT and SIGTERM; only a run killed with
SIGKILL (or kept with --keep) leaves a journal behind. clean reads each
journal, newest change first, and removes what that run made and nothing
else: links that carry the run's alias tag, namespace files under
/run/netns that hold the run's namespace (or are the empty files the run
made for them), sysctls (net.* only) still at the value the run set
(restored to the old value), its routes (marked "proto 110"), its
nftables table and /run/netns itself when the run made it and it is
empty and in use by no other mount namespace. It trusts no journal: an
entry of another kind, or for a file elsewhere, is refused.

Without arguments it cleans every journal of a run that is no longer
running; or name journal files. Needs root.

Exit status: 0 everything undone (or nothing to do), 2 something could not
be undone or was refused (said on stderr; its journal is kept, with what
is left).`

func init() {
	register(&command{"clean", "[-n] [JOURNAL...]", "undo what a killed --host run left behind", 20, cmdClean})
}

func cmdClean(env *Env, args []string) int {
	fs := newFlags(env, "clean", "[-n] [JOURNAL...]", cleanAbout)
	dry := fs.Bool("n", false, "only print what would be undone")
	dir := fs.String("dir", hostjournal.DefaultDir, "where the journals are")
	if code, done := parseFlags(env, fs, args); done {
		return code
	}
	paths := fs.Args()
	if len(paths) == 0 {
		var err error
		if paths, err = hostjournal.List(*dir); err != nil {
			fmt.Fprintf(env.Stderr, "nsscript clean: %v\n", err)
			return ExitError
		}
	}
	if len(paths) == 0 {
		fmt.Fprintln(env.Stdout, "nothing to clean")
		return ExitOK
	}
	if os.Geteuid() != 0 && !*dry {
		fmt.Fprintln(env.Stderr, "nsscript clean: needs root (it changes the real host's network); try -n to see what it would do")
		return ExitError
	}
	code := ExitOK
	for _, p := range paths {
		f, err := hostjournal.Read(p)
		if err != nil {
			fmt.Fprintf(env.Stderr, "nsscript clean: %v\n", err)
			code = ExitError
			continue
		}
		if f.Running() && len(fs.Args()) == 0 {
			fmt.Fprintf(env.Stdout, "run %d is still running: left alone\n", f.PID)
			continue
		}
		fmt.Fprintf(env.Stdout, "run %d (%d changes):\n", f.PID, len(f.Entries))
		err = hostjournal.Clean(p, hostjournal.CleanOptions{DryRun: *dry}, func(line string) { fmt.Fprintf(env.Stdout, "  %s\n", line) })
		if err != nil {
			fmt.Fprintf(env.Stderr, "nsscript clean: %s: %v\n", p, oneLine(err))
			code = ExitError
		}
	}
	return code
}

// oneLine joins a multi-error into one line.
func oneLine(err error) string {
	b := []byte(err.Error())
	for i, c := range b {
		if c == '\n' {
			b[i] = ';'
		}
	}
	return string(b)
}
