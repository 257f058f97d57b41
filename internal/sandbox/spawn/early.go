package spawn

import (
	"os"
	"slices"
	"sync"
)

var (
	earlyMu sync.Mutex
	early   *Child
)

// Early starts the child of a sandboxed `nsscript run` from the binary's
// package initialisation (internal/sandbox/early calls it), when the command
// line asks for one: it is `nsscript run ...` or `nsscript FILE.star ...`
// (the same as `nsscript run FILE.star ...`), and does not ask for help or
// for --host. The command decides later whether to use it (TakeEarly); a
// child it does not take is discarded (DiscardEarly), so the worst a wrong
// guess costs is the child's start. It returns the child, or nil when it
// started none; it does nothing inside a sandbox.
func Early(args []string) *Child {
	if os.Getenv(EnvVar) == "1" {
		return nil
	}
	childArgs, ok := EarlyArgs(args)
	if !ok {
		return nil
	}
	earlyMu.Lock()
	defer earlyMu.Unlock()
	if early == nil {
		// Here, not on a goroutine of its own: this is the main thread,
		// which outlives the child, and the fork is quickest while the
		// rest of the program waits. Go forks a child with a new user
		// namespace without CLONE_VM, so that until the child has
		// executed, every page the parent writes is copied first, and a
		// goroutine would wait for a thread of its own.
		early = startHere(childArgs, os.Environ())
	}
	return early
}

// EarlyArgs returns the child's argv for the program's argv args, as the
// command would make it, and whether the command line looks like a
// sandboxed run.
func EarlyArgs(args []string) ([]string, bool) {
	if len(args) < 2 {
		return nil, false
	}
	for _, a := range args[1:] {
		for len(a) > 0 && a[0] == '-' {
			a = a[1:]
		}
		// Help, and --host with any value (a run with --host=false
		// starts its child when the command gets there).
		if a == "h" || a == "help" || a == "host" || hasPrefix(a, "host=") {
			return nil, false
		}
	}
	switch name := args[1]; {
	case name == "run" && len(args) > 2:
		return args, true
	case len(name) > len(".star") && name[len(name)-len(".star"):] == ".star":
		return append([]string{args[0], "run"}, args[1:]...), true
	}
	return nil, false
}

// TakeEarly returns the child Early started, if its argv is args, for the
// caller to hand over to and wait for; nil otherwise. A child with other
// arguments is discarded.
func TakeEarly(args []string) *Child {
	earlyMu.Lock()
	c := early
	early = nil
	earlyMu.Unlock()
	if c != nil && !slices.Equal(c.args, args) {
		c.Discard()
		c = nil
	}
	return c
}

// DiscardEarly discards the child Early started, unless it was taken.
func DiscardEarly() {
	earlyMu.Lock()
	c := early
	early = nil
	earlyMu.Unlock()
	if c != nil {
		c.Discard()
	}
}

// AloneFlags are the flags of nsscript run that need nothing of the parent
// process, each with whether it takes a value. With these alone, the parent
// of a sandboxed run only hands the child its own environment and standard
// files and waits (Alone). The other flags (--host, --keep, --pause,
// --pause-on-fail, --web, --web-public, help) and a script on standard input
// need the command in the parent: a socket made outside the sandbox, the
// script read there, or no sandbox at all. cli's tests check that every
// flag of run is one or the other.
var AloneFlags = map[string]bool{
	"set": true, "timeout": true, "neigh": true, "max-objects": true, "max-steps": true, "bundle": true,
	"v": false, "explain": false,
}

// Alone reports whether args, a child's argv (argv0 run [flags] FILE.star),
// is a run that needs nothing of the parent's command beyond the handover
// of its own environment and standard files: only AloneFlags, written as
// -name, --name, -name=value or --name value, then one script file that is
// not standard input. The child parses the same arguments and reports what
// is wrong with them, as the parent would have.
func Alone(args []string) bool {
	if len(args) < 3 || args[1] != "run" {
		return false
	}
	rest := args[2:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if len(a) < 2 || a[0] != '-' {
			return i == len(rest)-1 && a != "" && a != "-"
		}
		name := a[1:]
		if name[0] == '-' {
			name = name[1:]
		}
		value := false
		for j := 0; j < len(name); j++ {
			if name[j] == '=' {
				name, value = name[:j], true
				break
			}
		}
		takes, ok := AloneFlags[name]
		switch {
		case !ok, !takes && value:
			return false
		case takes && !value:
			i++ // the value is the next argument
		}
	}
	return false
}
