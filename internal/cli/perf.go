package cli

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/nsscript/nsscript/internal/lab"
)

// addNeighFlag registers --neigh, how probes resolve next hops at scale.
func addNeighFlag(fs *flag.FlagSet, f *runFlags) {
	fs.Func("neigh", "how probes find next hops' MAC addresses: `auto` (permanent entries when the lab could overflow the kernel's shared neighbour table, else ARP), static or arp", func(s string) error {
		m, err := lab.ParseNeighMode(s)
		f.neigh = m
		return err
	})
}

// ProfileEnv names the environment variable that, when set to a file name,
// makes nsscript run write a CPU profile of the lab run to it (for
// `go tool pprof`). It is read inside the sandbox, so the profile covers
// building, probing and closing the lab, not the re-execution.
const ProfileEnv = "NSSCRIPT_CPUPROFILE"

// MemProfileEnv names the environment variable that, set to a file name,
// makes nsscript run write a heap profile (allocations since the start and
// memory in use at the end of the run) to it.
const MemProfileEnv = "NSSCRIPT_MEMPROFILE"

// startProfile starts a CPU profile if ProfileEnv is set and returns the
// function that stops it (and writes the heap profile MemProfileEnv asks for).
func startProfile(env *Env, stderr io.Writer) func() {
	path, mem := "", ""
	if env.Getenv != nil {
		path, mem = env.Getenv(ProfileEnv), env.Getenv(MemProfileEnv)
	}
	if mem != "" {
		stopCPU := startProfile(&Env{Getenv: func(k string) string {
			if k == ProfileEnv {
				return path
			}
			return ""
		}}, stderr)
		return func() {
			stopCPU()
			writeHeapProfile(mem, stderr)
		}
	}
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(stderr, "nsscript run: %s: %v\n", ProfileEnv, err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(stderr, "nsscript run: %s: %v\n", ProfileEnv, err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

func writeHeapProfile(path string, stderr io.Writer) {
	f, err := os.Create(path)
	if err == nil {
		err = pprof.Lookup("heap").WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "nsscript run: %s: %v\n", MemProfileEnv, err)
	}
}
