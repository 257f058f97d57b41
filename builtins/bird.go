package builtins

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"time"

	"go.starlark.net/starlark"

	"github.com/nsscript/nsscript/internal/lab"
)

// BIRD 2 as a lab part: bird() starts it with a private /etc/bird and
// /run/bird, birdc() and expect_daemon() talk to its control socket.

const (
	birdConf = "/etc/bird/bird.conf"
	birdCtl  = "/run/bird/bird.ctl"
)

// birdLogLine finds a top-level log statement in a BIRD configuration.
var birdLogLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?m)^\s*log\s`) })

// fnBird implements bird(ns, conf, timeout="10s").
func fnBird(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		ns      = nsArg{run: r}
		conf    string
		timeout = durationArg{10 * time.Second}
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "ns", &ns, "conf", &conf, "timeout?", &timeout); err != nil {
		return nil, err
	}
	if !birdLogLine().MatchString(conf) {
		// Appended, so that BIRD's line numbers are those of conf.
		conf += "\nlog stderr all;\n"
	}
	s := lab.DaemonSpec{
		Argv:    []string{"bird", "-f", "-c", birdConf, "-s", birdCtl},
		Dirs:    []string{"/run/bird"},
		Files:   map[string]string{birdConf: conf},
		Ready:   lab.Ready{Unix: birdCtl},
		Control: birdCtl,
	}
	return startDaemon(r, t, ns.ns, s, timeout.d)
}

// birdArg unpacks a daemon that answers commands on a BIRD control socket.
type birdArg struct{ d *Daemon }

// Unpack implements starlark.Unpacker.
func (a *birdArg) Unpack(v starlark.Value) error {
	d, ok := v.(*Daemon)
	if !ok {
		return fmt.Errorf("got %s, want daemon (from bird())", v.Type())
	}
	if d.d.Spec.Control == "" {
		return fmt.Errorf("daemon %s has no control socket (start BIRD with bird())", d.d.Name())
	}
	a.d = d
	return nil
}

// fnBirdc implements birdc(router, cmd, timeout="5s"). It is a barrier,
// like capture.packets: the reply reflects the expectations before its line
// (a session they waited for is up).
func fnBirdc(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var router birdArg
	cmd, timeout, err := queryArgs(b, args, kwargs, &router)
	if err != nil {
		return nil, err
	}
	r.Lab.Note(lab.Step{NS: router.d.d.NS.Name, Op: "query", Desc: "birdc " + cmd, Cmds: []string{birdcCmd(router.d.d, cmd)}})
	text, err := router.d.d.Query(r.Ctx, cmd, timeout)
	if err != nil {
		return nil, err
	}
	return starlark.String(text), nil
}

// queryArgs unpacks the arguments (router, cmd, timeout="5s") of birdc and
// vtysh into router and returns cmd and timeout.
func queryArgs(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple, router starlark.Unpacker) (string, time.Duration, error) {
	var (
		cmd     string
		timeout = durationArg{5 * time.Second}
	)
	err := starlark.UnpackArgs(b.Name(), args, kwargs, "router", router, "cmd", &cmd, "timeout?", &timeout)
	return cmd, timeout.d, err
}

// birdcCmd is the shell equivalent of a query.
func birdcCmd(d *lab.Daemon, cmd string) string {
	return lab.ShellJoin([]string{"birdc", "-s", d.ShellPath(d.Spec.Control), cmd})
}

// fnExpectDaemon implements expect_daemon(router, cmd, match, within=None).
func fnExpectDaemon(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		router controlArg
		cmd    string
		match  string
		within durationArg
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "router", &router, "cmd", &cmd, "match", &match, "within??", &within); err != nil {
		return nil, err
	}
	var re regexArg
	if err := re.Unpack(starlark.String("(?m)" + match)); err != nil {
		return nil, fmt.Errorf("for parameter match: %w", err)
	}
	c := router.c
	what := fmt.Sprintf("%s: %s =~ %s", c.label(), cmd, match)
	expectReply(r, t, b, c, what, cmd, match, re.re, within.d)
	return starlark.None, nil
}

// expectReply queues an expectation that c's reply to cmd has a line that
// re (the regular expression match) matches, within the given time.
func expectReply(r *Run, t *starlark.Thread, b *starlark.Builtin, c controller, what, cmd, match string, re *regexp.Regexp, within time.Duration) {
	// grep -P: match is a Go regular expression (\s, \d), which
	// POSIX's extended syntax (grep -E) does not have.
	shell := c.shell(cmd) + " | grep -qP " + lab.ShellJoin([]string{match})
	if within > 0 {
		shell = untilCmd(shell, within)
	}
	queueExpect(r, t, b, c.netns(), netip.Addr{}, what, []string{shell}, func(e *Expectation) {
		last := ""
		o, _ := poll(r, within, func() (bool, string, error) {
			text, err := c.query(r.Ctx, cmd, 2*time.Second)
			if err != nil {
				return false, err.Error(), nil
			}
			last = text
			if m := re.FindString(text); m != "" {
				return true, "matched " + fmt.Sprintf("%q", lineOf(text, m)), nil
			}
			return false, "no line matches", nil
		})
		o.settle(e)
		if !o.ok {
			e.Output = last
			if logs := c.logs(); len(logs) > 0 {
				e.Output = strings.TrimRight(last, "\n") + "\nlast log lines:\n" + strings.Join(logs, "\n") + "\n"
			}
		}
	})
}

// frrLogLines is how many of each FRR daemon's last log lines a failed
// expect_daemon shows.
const frrLogLines = 3

// controller is a router that answers commands: a BIRD daemon or an FRR
// router.
type controller interface {
	query(ctx context.Context, cmd string, timeout time.Duration) (string, error)
	shell(cmd string) string // the shell equivalent of a query
	label() string           // "bird in r2"
	netns() *lab.Netns
	logs() []string         // the last log lines, for a failure
	ospfNeighbours() string // the command that lists OSPF neighbours
}

type birdControl struct{ d *lab.Daemon }

func (c birdControl) query(ctx context.Context, cmd string, timeout time.Duration) (string, error) {
	return c.d.Query(ctx, cmd, timeout)
}
func (c birdControl) shell(cmd string) string { return birdcCmd(c.d, cmd) }
func (c birdControl) label() string           { return c.d.Name() + " in " + c.d.NS.Name }
func (c birdControl) netns() *lab.Netns       { return c.d.NS }

func (c birdControl) ospfNeighbours() string { return "show ospf neighbors" }

// logs is empty: BIRD's replies name the cause already ("Bad peer AS").
func (c birdControl) logs() []string { return nil }

type frrControl struct{ f *lab.FRR }

func (c frrControl) query(ctx context.Context, cmd string, timeout time.Duration) (string, error) {
	return c.f.Query(ctx, cmd, timeout)
}
func (c frrControl) shell(cmd string) string { return vtyshCmd(c.f, cmd) }
func (c frrControl) label() string           { return "frr in " + c.f.NS.Name }
func (c frrControl) netns() *lab.Netns       { return c.f.NS }

func (c frrControl) ospfNeighbours() string { return "show ip ospf neighbor" }

// logs are the daemons' last lines: FRR's replies do not say why an
// adjacency is missing, its log does ("ospf_read invalid Area ID 0.0.0.1").
func (c frrControl) logs() []string { return c.f.LogTail(frrLogLines) }

// controlArg unpacks a router that answers commands: a daemon from bird()
// or a router from frr().
type controlArg struct{ c controller }

// Unpack implements starlark.Unpacker.
func (a *controlArg) Unpack(v starlark.Value) error {
	if f, ok := v.(*FRRRouter); ok {
		a.c = frrControl{f.f}
		return nil
	}
	var b birdArg
	if err := b.Unpack(v); err != nil {
		if _, ok := v.(*Daemon); ok {
			return err
		}
		return fmt.Errorf("got %s, want daemon (from bird()) or frr (from frr())", v.Type())
	}
	a.c = birdControl{b.d.d}
	return nil
}

// lineOf returns the line of text that holds m, trimmed.
func lineOf(text, m string) string {
	i := strings.Index(text, m)
	start := strings.LastIndexByte(text[:i], '\n') + 1
	end := strings.IndexByte(text[i:], '\n')
	if end < 0 {
		return strings.TrimSpace(text[start:])
	}
	return strings.TrimSpace(text[start : i+end])
}
