package cli

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/nsscript/nsscript/internal/spec"
)

const testAbout = `Runs txtar specs, the scenarios go test runs, without a Go toolchain. Each
spec is a testscript file: commands such as "exec nsscript run lab.star" and
"stdout 'regexp'", then the files it uses ("-- lab.star --"). Every nsscript
run builds its lab in its own sandbox, so specs run in parallel.

Arguments are spec files or directories of them (*.txtar, *.txt); the default
is ./testdata, or the current directory if there is none. Specs see $SCRIPTS,
the scripts directory beside their own directory, and the conditions [root],
[userns], [linktype:NAME], [qdisc:NAME] and [exec:NAME].

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
	fs.BoolVar(&f.conditions, "conditions", false, "print whether each condition given as argument (default: root, userns) holds here, and exit")
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
	groups, err := specGroups(fs.Args(), match)
	if err != nil {
		fmt.Fprintf(env.Stderr, "nsscript test: %v\n", err)
		return ExitError
	}
	r := &specRunner{env: env, flags: f, sem: make(chan struct{}, f.parallel), multi: len(groups) > 1}
	defer r.watchInterrupt()()
	for _, g := range groups {
		for _, file := range g.files {
			r.width = max(r.width, len(r.display(g.dir, specName(file))))
		}
	}
	if err := r.runAll(groups); err != nil {
		fmt.Fprintf(env.Stderr, "nsscript test: %v\n", err)
		return ExitError
	}
	return r.finish()
}

// specGroup is the specs of one directory, run by one testscript.RunT.
type specGroup struct {
	dir   string
	files []string
}

// specGroups resolves the command line into spec files grouped by directory,
// keeping those whose name matches (all when match is nil).
func specGroups(args []string, match *regexp.Regexp) ([]*specGroup, error) {
	if len(args) == 0 {
		args = []string{"."}
		if st, err := os.Stat("testdata"); err == nil && st.IsDir() {
			args = []string{"testdata"}
		}
	}
	var groups []*specGroup
	byDir := map[string]*specGroup{}
	add := func(file string) {
		if match != nil && !match.MatchString(specName(file)) {
			return
		}
		dir := filepath.Dir(file)
		g := byDir[dir]
		if g == nil {
			g = &specGroup{dir: dir}
			byDir[dir] = g
			groups = append(groups, g)
		}
		g.files = append(g.files, file)
	}
	found := 0
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, unwrapPathErr(err, a)
		}
		if !st.IsDir() {
			found++
			add(filepath.Clean(a))
			continue
		}
		entries, err := os.ReadDir(a)
		if err != nil {
			return nil, err
		}
		n := 0
		for _, e := range entries {
			if !e.IsDir() && (strings.HasSuffix(e.Name(), ".txtar") || strings.HasSuffix(e.Name(), ".txt")) {
				n++
				add(filepath.Join(a, e.Name()))
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("no specs (*.txtar, *.txt) in %s", a)
		}
		found += n
	}
	if len(groups) == 0 {
		return nil, fmt.Errorf("none of the %d specs matches -run %q", found, match)
	}
	return groups, nil
}

// specName is the name testscript gives the spec in file.
func specName(file string) string {
	base := filepath.Base(file)
	for _, ext := range []string{".txtar", ".txt"} {
		if s, ok := strings.CutSuffix(base, ext); ok {
			return s
		}
	}
	return base
}

// specResult is the outcome of one spec.
type specResult struct {
	Name    string    `json:"name"`
	File    string    `json:"file"`
	Status  string    `json:"status"` // "pass", "fail", "skip" or "cut"
	Start   time.Time `json:"start"`
	Elapsed float64   `json:"elapsed"` // seconds
	Log     string    `json:"log,omitempty"`
}

// specRunner runs the specs and reports each one as it ends.
type specRunner struct {
	env   *Env
	flags testFlags
	sem   chan struct{}
	multi bool // more than one directory: show directories in names
	width int

	wg          sync.WaitGroup
	mu          sync.Mutex
	results     []*specResult
	errs        []string
	interrupted atomic.Bool // Ctrl-C (SIGINT) or SIGTERM came
}

// watchInterrupt makes the first SIGINT or SIGTERM stop the run gently: the
// specs still running (whose programs the terminal's Ctrl-C reaches too) and
// those not started are reported cut short, and the reports are written. A
// second signal kills at once. It returns the function that stops watching.
func (r *specRunner) watchInterrupt() (stop func()) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			r.interrupted.Store(true)
			signal.Stop(sigs)
		case <-done:
		}
	}()
	return func() { signal.Stop(sigs); close(done) }
}

// timedOut is testscript's word for a spec that its deadline stopped.
const timedOut = "test timed out while running command"

// status is the outcome of a spec that ended: cut short when it was stopped
// (by -timeout, or by an interruption) rather than ending on its own.
func (r *specRunner) status(t *specT) string {
	switch {
	case t.cut:
		return "cut"
	case t.failed && (r.interrupted.Load() || strings.Contains(failLine(t.log.String()), timedOut)):
		return "cut"
	case t.failed:
		return "fail"
	case t.skipped:
		return "skip"
	}
	return "pass"
}

func (r *specRunner) display(dir, name string) string {
	if r.multi {
		return filepath.Join(dir, name)
	}
	return name
}

// runAll runs every group through testscript.RunT and waits for all specs.
func (r *specRunner) runAll(groups []*specGroup) error {
	deadline := time.Now().Add(r.flags.timeout)
	for _, g := range groups {
		p, cleanup, err := spec.Params(spec.Options{Files: g.files, Update: r.flags.update, Deadline: deadline})
		if err != nil {
			return err
		}
		defer cleanup()
		files := map[string]string{}
		for _, f := range g.files {
			files[specName(f)] = f
		}
		top := &specT{r: r, dir: g.dir, files: files, top: true}
		done := make(chan struct{})
		go func() { // RunT's Fatal ends its goroutine with runtime.Goexit
			defer close(done)
			testscript.RunT(top, p)
		}()
		<-done
		if msg := strings.TrimSpace(top.log.String()); msg != "" {
			r.mu.Lock()
			r.errs = append(r.errs, msg)
			r.mu.Unlock()
		}
	}
	r.wg.Wait()
	if len(r.errs) > 0 {
		return fmt.Errorf("%s", strings.Join(r.errs, "; "))
	}
	return nil
}

// specT implements testscript.T for one spec (or, with top set, for the run
// of a directory, whose Run starts the specs). FailNow and Skip end the
// calling goroutine with runtime.Goexit, as testing.T's do.
type specT struct {
	r     *specRunner
	dir   string
	files map[string]string // spec name -> file
	top   bool
	name  string

	mu      sync.Mutex
	log     strings.Builder
	failed  bool
	skipped bool
	cut     bool // never started: the run was interrupted first
	holds   bool // holds a slot of the semaphore
	start   time.Time
}

var _ testscript.T = (*specT)(nil)

func (t *specT) Log(args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.log.WriteString(fmt.Sprintln(args...))
}

func (t *specT) Fatal(args ...any) {
	t.Log(args...)
	t.FailNow()
}

func (t *specT) FailNow() {
	t.mu.Lock()
	t.failed = true
	t.mu.Unlock()
	runtime.Goexit()
}

func (t *specT) Skip(args ...any) {
	t.Log(args...)
	t.mu.Lock()
	t.skipped = true
	t.mu.Unlock()
	runtime.Goexit()
}

func (t *specT) Verbose() bool { return t.r.flags.verbose }

// Parallel waits for one of the -p slots; the spec's time starts then.
func (t *specT) Parallel() {
	if t.top || t.holds {
		return
	}
	t.r.sem <- struct{}{}
	t.holds = true
	t.start = time.Now()
	if t.r.interrupted.Load() {
		t.Log("not started: nsscript test was interrupted")
		t.mu.Lock()
		t.cut = true
		t.mu.Unlock()
		runtime.Goexit()
	}
}

// Run starts the spec name on its own goroutine and returns at once.
func (t *specT) Run(name string, f func(testscript.T)) {
	child := &specT{r: t.r, dir: t.dir, name: name, start: time.Now()}
	file := t.files[strings.SplitN(name, "#", 2)[0]]
	t.r.wg.Add(1)
	go func() {
		defer t.r.wg.Done()
		defer func() {
			if e := recover(); e != nil {
				child.Log(fmt.Sprintf("panic: %v", e))
				child.failed = true
			}
			if child.holds {
				<-t.r.sem
			}
			res := &specResult{Name: t.r.display(t.dir, name), File: file, Status: t.r.status(child),
				Start: child.start, Elapsed: time.Since(child.start).Seconds(), Log: child.log.String()}
			t.r.report(res)
		}()
		f(child)
	}()
}
