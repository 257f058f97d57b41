package cli

import (
	"fmt"
	"io"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/nsscript/nsscript/internal/spec"
)

const testAbout = `Runs txtar specs, the scenarios go test runs, without a Go toolchain. Each
spec is a testscript file: commands such as "exec nsscript run lab.star" and
"stdout 'regexp'", then the files it uses ("-- lab.star --"). Every nsscript
run builds its lab in its own sandbox, so specs run in parallel.

Arguments are spec files or directories of them (*.txtar, *.txt); the default
is ./testdata, or the current directory if there is none. Specs see $SCRIPTS,
the scripts directory beside their own directory, and the conditions [root],
[userns], [tun], [linktype:NAME], [qdisc:NAME], [sysctl:KEY] and [exec:NAME].

--shard K/N (or NSSCRIPT_SHARD=K/N) runs the K-th of N disjoint parts of
the specs: sorted by path, every N-th from the K-th. N machines given the
same specs and K = 1..N run each spec exactly once; write a --junit file per
shard and hand them all to the CI's test report (docs/specs.md).

Prints one line per spec ("ok   NAME  0.12s" or "FAIL NAME  0.30s" followed by
the failing phase of its log), then "N passed, N failed". A spec that -timeout
or Ctrl-C stopped before its end is "CUT", never ok; the summary then adds
", N cut short" (in --json its status is "cut", in --junit an error).

Exit status:
  0  every spec passed (or was skipped)
  1  a spec failed
  2  usage error, no spec found, or a spec was cut short`

// testFlags are the flags of nsscript test.
type testFlags struct {
	parallel   int
	run        string
	verbose    bool
	junit      string
	json       bool
	update     bool
	timeout    time.Duration
	conditions bool
	shard      string
}

func init() {
	register(&command{"test", "[flags] [DIR|FILE...]", "run txtar specs (what go test runs) in parallel and report", 20, cmdTest})
}

func cmdTest(env *Env, args []string) int {
	var f testFlags
	fs := newFlags(env, "test", "[flags] [DIR|FILE...]", testAbout)
	fs.IntVar(&f.parallel, "p", runtime.NumCPU(), "run at most `N` specs at once")
	fs.StringVar(&f.run, "run", "", "run only the specs whose name matches `regexp`")
	fs.BoolVar(&f.verbose, "v", false, "print every spec's whole log, not just a failing phase")
	fs.StringVar(&f.junit, "junit", "", "also write the results as JUnit XML to `file`")
	fs.BoolVar(&f.json, "json", false, "print one JSON object per spec instead of text (the summary goes to stderr)")
	fs.BoolVar(&f.update, "update", false, "rewrite golden files in the specs when cmp fails (also NSSCRIPT_UPDATE=1)")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Minute, "stop specs still running after this `duration`")
	fs.StringVar(&f.shard, "shard", "", "run only part `K/N` of the specs (sorted, every N-th from the K-th), as one of N CI machines; default $"+spec.ShardEnv)
	fs.BoolVar(&f.conditions, "conditions", false, "print whether each condition given as argument (default: root, userns, tun) holds here, and exit")
	if code, done := parseFlags(env, fs, args); done {
		return code
	}
	if f.conditions {
		if err := spec.WriteConditions(env.Stdout, fs.Args()); err != nil {
			fmt.Fprintf(env.Stderr, "nsscript test: %v\n", err)
			return ExitError
		}
		return ExitOK
	}
	if f.parallel < 1 {
		fmt.Fprintln(env.Stderr, "nsscript test: -p must be at least 1")
		return ExitError
	}
	var match *regexp.Regexp
	if f.run != "" {
		re, err := regexp.Compile(f.run)
		if err != nil {
			fmt.Fprintf(env.Stderr, "nsscript test: -run: %v\n", err)
			return ExitError
		}
		match = re
	}
	if f.shard == "" && env.Getenv != nil {
		f.shard = env.Getenv(spec.ShardEnv)
	}
	shard, err := spec.ParseShard(f.shard)
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript test: --shard: %v\n", err)
		return ExitError
	}
	groups, err := spec.Groups(fs.Args(), match)
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript test: %v\n", err)
		return ExitError
	}
	groups = shard.Groups(groups)
	width := 0
	for _, name := range spec.Names(groups) {
		width = max(width, len(name))
	}
	r := &spec.Runner{Parallel: f.parallel, Verbose: f.verbose, Update: f.update, Timeout: f.timeout,
		Report: func(res *spec.Result) { reportSpec(env.Stdout, res, f, width) }}
	results, err := r.Run(groups)
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript test: %v\n", err)
		return ExitError
	}
	return finishTest(env, results, f)
}

// reportSpec prints one spec's result as soon as it is known: a JSON line,
// or "ok   NAME  0.12s" and, unless it passed, its log.
func reportSpec(w io.Writer, res *spec.Result, f testFlags, width int) {
	if f.json {
		spec.WriteJSONLine(w, res, f.verbose)
		return
	}
	word := map[string]string{"pass": "ok", "fail": "FAIL", "skip": "skip", "cut": "CUT"}[res.Status]
	fmt.Fprintf(w, "%-4s %-*s %5.2fs\n", word, width, res.Name, res.Elapsed)
	if res.Status != "pass" || f.verbose {
		for _, line := range strings.Split(strings.TrimRight(res.Log, "\n"), "\n") {
			if line != "" {
				fmt.Fprintf(w, "    %s\n", line)
			}
		}
	}
}

// finishTest writes the summary (and the JUnit file) and returns the exit
// code.
func finishTest(env *Env, results []*spec.Result, f testFlags) int {
	n := map[string]int{}
	for _, res := range results {
		n[res.Status]++
	}
	summary := fmt.Sprintf("%d passed, %d failed", n["pass"], n["fail"])
	if n["skip"] > 0 {
		summary += fmt.Sprintf(", %d skipped", n["skip"])
	}
	if n["cut"] > 0 {
		summary += fmt.Sprintf(", %d cut short", n["cut"])
	}
	if f.json {
		fmt.Fprintln(env.Stderr, summary)
	} else {
		fmt.Fprintln(env.Stdout, summary)
	}
	if f.junit != "" {
		if err := spec.WriteJUnit(f.junit, results); err != nil {
			fmt.Fprintf(env.Stderr, "nsscript test: write junit: %v\n", err)
			return ExitError
		}
	}
	switch {
	case n["cut"] > 0:
		return ExitError
	case n["fail"] > 0:
		return ExitFail
	}
	return ExitOK
}
