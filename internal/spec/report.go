package spec

import (
	"encoding/json"
	"encoding/xml"
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

// JUnit XML, as read by Jenkins, GitLab and GitHub test reporters.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"` // cut short: neither passed nor failed
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",cdata"`
}

type junitText struct {
	Text string `xml:",cdata"`
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
			c.SystemOut = &junitText{xmlSafe(res.Log)}
		}
		suite.Tests++
		total += res.Elapsed
		suite.Cases = append(suite.Cases, c)
	}
	suite.Time = fmt.Sprintf("%.3f", total)
	doc := junitSuites{Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors, Skipped: suite.Skipped, Time: suite.Time, Suites: []junitSuite{suite}}
	b, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, append([]byte(xml.Header), append(b, '\n')...), 0o666)
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
