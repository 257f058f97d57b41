package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/nsscript/nsscript/internal/sandbox/spawn"
)

// Version, when set at build time with
// -ldflags "-X github.com/nsscript/nsscript/internal/cli.Version=v1.2.3",
// overrides the module version from the build info.
var Version = ""

const versionAbout = `
Print nsscript's version: the module version (a tag when installed with
go install MODULE@VERSION, "devel" for a build from a clone), the VCS
revision and time the binary was built from, whether the work tree had
uncommitted changes (dirty), the Go toolchain, and how a run starts its
sandbox: before Go, by a C constructor, in a binary built with cgo (a run
starts Go once), or from Go otherwise (twice).`

func cmdVersion(env *Env, args []string) int {
	fs := newFlags(env, "version", "", versionAbout)
	if code, done := parseFlags(env, fs, args); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "nsscript version: unexpected argument %q\n", fs.Arg(0))
		return ExitError
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	writeVersion(env.Stdout, bi)
	return ExitOK
}

// writeVersion prints what bi (nil: no build info) says about this binary.
func writeVersion(w io.Writer, bi *debug.BuildInfo) {
	version, module := Version, "github.com/nsscript/nsscript"
	var rev, at, modified string
	goVersion := runtime.Version()
	if bi != nil {
		if bi.Main.Path != "" {
			module = bi.Main.Path
		}
		if version == "" {
			version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
	}
	if version == "" || version == "(devel)" {
		version = "devel"
	}
	fmt.Fprintf(w, "nsscript %s\n", version)
	fmt.Fprintf(w, "module   %s\n", module)
	switch {
	case rev == "":
		fmt.Fprintf(w, "revision unknown (built without VCS information)\n")
	case modified == "true":
		fmt.Fprintf(w, "revision %s (dirty: uncommitted changes)\n", rev)
	default:
		fmt.Fprintf(w, "revision %s\n", rev)
	}
	if at != "" {
		fmt.Fprintf(w, "time     %s\n", at)
	}
	fmt.Fprintf(w, "go       %s %s/%s\n", goVersion, runtime.GOOS, runtime.GOARCH)
	if spawn.BeforeGo {
		fmt.Fprintf(w, "sandbox  started before Go (built with cgo): a run starts Go once\n")
	} else {
		fmt.Fprintf(w, "sandbox  started from Go (built without cgo): a run starts Go twice\n")
	}
}
