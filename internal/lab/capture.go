package lab

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/nsscript/nsscript/internal/probe"
)

// Capture is a packet capture the lab runs on one of its links (see
// probe.Capture): what tcpdump -i LINK would record, kept in memory until
// the lab closes. Captures stop with the lab.
type Capture struct {
	Link   *Link
	Filter probe.PacketMatch
	Pos    string // script position that started it
	// File is the pcap file name the shell equivalent writes ("cap1.pcap"),
	// and the capture's name in a failure bundle.
	File string
	// Started is when it started recording.
	Started time.Time

	n int            // 1 for the lab's first capture
	c *probe.Capture // nil in plan mode
}

// Capture starts recording the packets that link lk sends and receives,
// keeping those filter matches. The socket is opened in the link's
// namespace, so a capture works wherever the lab does, rootless included.
func (l *Lab) Capture(lk *Link, filter probe.PacketMatch) (*Capture, error) {
	if err := filter.Check(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	n := len(l.captures) + 1
	l.mu.Unlock()
	c := &Capture{Link: lk, Filter: filter, Pos: l.pos, File: "cap" + strconv.Itoa(n) + ".pcap", n: n}
	what := "every packet"
	if !filter.IsZero() {
		what = "packets with " + filter.String()
	}
	desc := fmt.Sprintf("capture %s on %s in netns %s", what, lk.Name(), lk.NS().Name)
	err := l.apply(Step{NS: lk.NS().Name, Op: "capture", Desc: desc, Cmds: c.startCmds()}, func() error {
		idx, err := lk.Index()
		if err != nil {
			return err
		}
		c.Started = time.Now()
		pc, err := probe.StartCapture(lk.NS().fd, idx, filter)
		if err != nil {
			return err
		}
		c.c = pc
		return nil
	})
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed { // the lab went away meanwhile (a cancelled run)
		c.Stop()
		return nil, fmt.Errorf("the lab is closed")
	}
	l.captures = append(l.captures, c)
	return c, nil
}

// Captures returns the lab's captures in the order they were started.
func (l *Lab) Captures() []*Capture {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*Capture(nil), l.captures...)
}

// stopCaptures stops every capture (when the lab closes).
func (l *Lab) stopCaptures() {
	for _, c := range l.Captures() {
		c.Stop()
	}
}

// Packets returns the packets recorded so far, including every one that
// crossed the link before the call.
func (c *Capture) Packets() []probe.Packet {
	if c.c == nil {
		return nil
	}
	c.c.Sync()
	return c.c.Packets()
}

// Dropped returns how many matching packets the capture could not keep.
func (c *Capture) Dropped() int {
	if c.c == nil {
		return 0
	}
	return c.c.Dropped()
}

// Err returns the error that ended the capture early, if any.
func (c *Capture) Err() error {
	if c.c == nil {
		return nil
	}
	return c.c.Err()
}

// Stop ends the capture; its packets stay. Stopping twice is harmless.
func (c *Capture) Stop() {
	if c.c != nil {
		c.c.Stop()
	}
}

// Save writes the packets recorded so far to path as a pcap file, which
// tcpdump -r and Wireshark read.
func (c *Capture) Save(path string) error {
	if c.c == nil {
		return nil
	}
	c.c.Sync()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = c.c.WritePcap(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// startCmds are the shell equivalent of starting the capture, for explain:
// tcpdump in the background, handing each packet over at once
// (--immediate-mode) and writing it to the file at once (-U), with the
// filter as a pcap-filter expression; then a wait until it says it listens.
// The variable names its process for StopCmd.
func (c *Capture) startCmds() []string {
	cmd := "tcpdump -i " + shellQuote(c.Link.Name()) + " -nU --immediate-mode -w " + c.File
	if x := c.Filter.Tcpdump(); x != "" {
		cmd += " " + shellQuote(x)
	}
	log := c.pidVar() + ".log"
	return []string{
		inNS(c.Link.NS(), cmd) + " 2>" + log + " & " + c.pidVar() + "=$!",
		"timeout 10 sh -c '" + WaitUntil("grep -q \"listening on\" "+log) + "'",
	}
}

func (c *Capture) pidVar() string { return "cap" + strconv.Itoa(c.n) }

// StopCmd is the shell equivalent of stopping the capture.
func (c *Capture) StopCmd() string {
	return "kill $" + c.pidVar() + "; wait $" + c.pidVar() + " || true"
}

// SaveCmd is the shell equivalent of saving the capture to path.
func (c *Capture) SaveCmd(path string) string { return "cp " + c.File + " " + shellQuote(path) }

// CountCmd is the shell equivalent of counting the packets that match m:
// a test of tcpdump -r's line count, "-eq 1", "-ge 1" or both bounds.
func (c *Capture) CountCmd(m probe.PacketMatch, lo, hi int) string {
	read := "tcpdump -nr " + c.File
	if x := m.Tcpdump(); x != "" {
		read += " " + shellQuote(x)
	}
	n := `"$(` + read + ` 2>/dev/null | wc -l)"`
	switch {
	case lo == hi:
		return "test " + n + " -eq " + strconv.Itoa(lo)
	case hi < 0:
		return "test " + n + " -ge " + strconv.Itoa(lo)
	case lo <= 0:
		return "test " + n + " -le " + strconv.Itoa(hi)
	}
	return "n=" + n + "; test $n -ge " + strconv.Itoa(lo) + " -a $n -le " + strconv.Itoa(hi)
}
