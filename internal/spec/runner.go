package spec

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// Group is the specs of one directory, run by one testscript.RunT.
type Group struct {
	Dir   string
	Files []string
}

// Groups resolves spec files and directories (default: ./testdata, or the
// current directory if there is none) into spec files grouped by directory,
// keeping those whose name matches (all when match is nil).
func Groups(args []string, match *regexp.Regexp) ([]*Group, error) {
	if len(args) == 0 {
		args = []string{"."}
		if st, err := os.Stat("testdata"); err == nil && st.IsDir() {
			args = []string{"testdata"}
		}
	}
	var groups []*Group
	byDir := map[string]*Group{}
	add := func(file string) {
		if match != nil && !match.MatchString(Name(file)) {
			return
		}
		dir := filepath.Dir(file)
		g := byDir[dir]
		if g == nil {
			g = &Group{Dir: dir}
			byDir[dir] = g
			groups = append(groups, g)
		}
		g.Files = append(g.Files, file)
	}
	found := 0
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, pathErr(err, a)
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

// Name is the name testscript gives the spec in file.
func Name(file string) string {
	base := filepath.Base(file)
	for _, ext := range []string{".txtar", ".txt"} {
		if s, ok := strings.CutSuffix(base, ext); ok {
			return s
		}
	}
	return base
}

// pathErr names the path as the user gave it: "x.txtar: no such file or
// directory".
func pathErr(err error, path string) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", path, pe.Err)
	}
	return err
}

// Result is the outcome of one spec.
type Result struct {
	Name    string    `json:"name"`
	File    string    `json:"file"`
	Status  string    `json:"status"` // "pass", "fail", "skip" or "cut"
	Start   time.Time `json:"start"`
	Elapsed float64   `json:"elapsed"` // seconds
	Log     string    `json:"log,omitempty"`
}

// Runner runs specs in parallel, each in its own testscript work directory,
// and hands each result to Report as soon as the spec ends.
type Runner struct {
	// Parallel is how many specs run at once (at least 1).
	Parallel int
	// Verbose keeps a spec's whole log, not just its failing phase.
	Verbose bool
	// Update rewrites golden files (see UpdateEnv).
	Update bool
	// Timeout stops specs still running after it; they are cut short.
	Timeout time.Duration
	// Report receives each result, one at a time, as its spec ends.
	Report func(*Result)

	sem         chan struct{}
	multi       bool // more than one directory: show directories in names
	wg          sync.WaitGroup
	mu          sync.Mutex
	results     []*Result
	errs        []string
	interrupted atomic.Bool // Ctrl-C (SIGINT) or SIGTERM came
}

// Names returns the name Run will give each spec of groups: with more than
// one directory, the directory too.
func Names(groups []*Group) []string {
	var names []string
	for _, g := range groups {
		for _, f := range g.Files {
			names = append(names, display(len(groups) > 1, g.Dir, Name(f)))
		}
	}
	return names
}

func display(multi bool, dir, name string) string {
	if multi {
		return filepath.Join(dir, name)
	}
	return name
}

// Run runs every spec of groups and returns their results, sorted by name.
// The first SIGINT or SIGTERM during the run cuts it short (see
// watchInterrupt). The error reports a testscript setup problem.
func (r *Runner) Run(groups []*Group) ([]*Result, error) {
	r.sem = make(chan struct{}, max(r.Parallel, 1))
	r.multi = len(groups) > 1
	defer r.watchInterrupt()()
	err := r.runAll(groups)
	sort.Slice(r.results, func(i, j int) bool { return r.results[i].Name < r.results[j].Name })
	return r.results, err
}

// report records res and hands it to Report.
func (r *Runner) report(res *Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results = append(r.results, res)
	if r.Report != nil {
		r.Report(res)
	}
}

// watchInterrupt makes the first SIGINT or SIGTERM stop the run gently: the
// specs still running (whose programs the terminal's Ctrl-C reaches too) and
// those not started are reported cut short, and the reports are written. A
// second signal kills at once. It returns the function that stops watching.
func (r *Runner) watchInterrupt() (stop func()) {
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
func (r *Runner) status(t *specT) string {
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

// runAll runs every group through testscript.RunT and waits for all specs.
func (r *Runner) runAll(groups []*Group) error {
	deadline := time.Now().Add(r.Timeout)
	for _, g := range groups {
		p, cleanup, err := Params(Options{Files: g.Files, Update: r.Update, Deadline: deadline})
		if err != nil {
			return err
		}
		defer cleanup()
		files := map[string]string{}
		for _, f := range g.Files {
			files[Name(f)] = f
		}
		top := &specT{r: r, dir: g.Dir, files: files, top: true}
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
	r     *Runner
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

func (t *specT) Verbose() bool { return t.r.Verbose }

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
			res := &Result{Name: display(t.r.multi, t.dir, name), File: file, Status: t.r.status(child),
				Start: child.start, Elapsed: time.Since(child.start).Seconds(), Log: child.log.String()}
			t.r.report(res)
		}()
		f(child)
	}()
}
