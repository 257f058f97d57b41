package spec

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// WriteJSONLine prints res as one JSON object; the log of a passing spec
// only in verbose mode.
func WriteJSONLine(w io.Writer, res *Result, verbose bool) {
	out := *res
	if out.Status == "pass" && !verbose {
		out.Log = ""
	}
	b, err := json.Marshal(&out)
	if err != nil { // cannot happen: plain strings and numbers
		b = []byte(fmt.Sprintf(`{"name":%q,"status":"fail","log":%q}`, res.Name, err.Error()))
	}
	fmt.Fprintf(w, "%s\n", b)
}

// JUnit XML, as read by Jenkins, GitLab and GitHub test reporters. It is
// written by hand (junitxml.go) rather than with encoding/xml, whose package
// init every run of the binary would pay for.
type junitSuite struct {
	Name, Time, Timestamp            string
	Tests, Failures, Errors, Skipped int
	Cases                            []junitCase
}

type junitCase struct {
	Name, Classname, File, Time string
	Failure, Error, Skipped     *junitMessage // Error: cut short, neither passed nor failed
	SystemOut                   *string
}

type junitMessage struct {
	Message, Type, Text string
}

// WriteJUnit writes results to file as one test suite named nsscript.
func WriteJUnit(file string, results []*Result) error {
	suite := junitSuite{Name: "nsscript", Timestamp: time.Now().UTC().Format(time.RFC3339)}
	var total float64
	for _, res := range results {
		dir, _ := filepath.Abs(filepath.Dir(res.File))
		c := junitCase{Name: res.Name, Classname: "nsscript." + filepath.Base(dir),
			File: res.File, Time: fmt.Sprintf("%.3f", res.Elapsed)}
		switch res.Status {
		case "fail":
			suite.Failures++
			c.Failure = &junitMessage{Message: xmlSafe(failLine(res.Log)), Type: "FAIL", Text: xmlSafe(res.Log)}
		case "cut":
			suite.Errors++
			c.Error = &junitMessage{Message: xmlSafe("cut short: " + failLine(res.Log)), Type: "CUT", Text: xmlSafe(res.Log)}
		case "skip":
			suite.Skipped++
			c.Skipped = &junitMessage{Message: xmlSafe(strings.TrimSpace(lastLine(res.Log)))}
		default:
			out := xmlSafe(res.Log)
			c.SystemOut = &out
		}
		suite.Tests++
		total += res.Elapsed
		suite.Cases = append(suite.Cases, c)
	}
	suite.Time = fmt.Sprintf("%.3f", total)
	return os.WriteFile(file, junitXML(&suite), 0o666)
}

// failLine picks testscript's "FAIL: spec.txtar:7: ..." line out of a log,
// the spec position of the failure.
func failLine(log string) string {
	for _, line := range strings.Split(log, "\n") {
		if strings.HasPrefix(line, "FAIL: ") {
			return strings.TrimPrefix(line, "FAIL: ")
		}
	}
	return strings.TrimSpace(lastLine(log))
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// xmlSafe replaces the characters XML 1.0 forbids even in CDATA (terminal
// escapes from a program's output, say) with U+FFFD.
func xmlSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r != 0xFFFE && r != 0xFFFF && !(r >= 0xD800 && r <= 0xDFFF) {
			return r
		}
		return '\uFFFD'
	}, s)
}
