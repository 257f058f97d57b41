package spec

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The JUnit document as encoding/xml would write it, to check the
// hand-written report against.
type xmlSuites struct {
	XMLName  xml.Name   `xml:"testsuites"`
	Tests    int        `xml:"tests,attr"`
	Failures int        `xml:"failures,attr"`
	Errors   int        `xml:"errors,attr"`
	Skipped  int        `xml:"skipped,attr"`
	Time     string     `xml:"time,attr"`
	Suites   []xmlSuite `xml:"testsuite"`
}

type xmlSuite struct {
	Name      string    `xml:"name,attr"`
	Tests     int       `xml:"tests,attr"`
	Failures  int       `xml:"failures,attr"`
	Errors    int       `xml:"errors,attr"`
	Skipped   int       `xml:"skipped,attr"`
	Time      string    `xml:"time,attr"`
	Timestamp string    `xml:"timestamp,attr"`
	Cases     []xmlCase `xml:"testcase"`
}

type xmlCase struct {
	Name      string      `xml:"name,attr"`
	Classname string      `xml:"classname,attr"`
	File      string      `xml:"file,attr,omitempty"`
	Time      string      `xml:"time,attr"`
	Failure   *xmlMessage `xml:"failure,omitempty"`
	Error     *xmlMessage `xml:"error,omitempty"`
	Skipped   *xmlMessage `xml:"skipped,omitempty"`
	SystemOut *xmlText    `xml:"system-out,omitempty"`
}

type xmlMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",cdata"`
}

type xmlText struct {
	Text string `xml:",cdata"`
}

func viaEncodingXML(t *testing.T, s *junitSuite) string {
	msg := func(m *junitMessage) *xmlMessage {
		if m == nil {
			return nil
		}
		return &xmlMessage{m.Message, m.Type, m.Text}
	}
	xs := xmlSuite{s.Name, s.Tests, s.Failures, s.Errors, s.Skipped, s.Time, s.Timestamp, nil}
	for _, c := range s.Cases {
		xc := xmlCase{Name: c.Name, Classname: c.Classname, File: c.File, Time: c.Time,
			Failure: msg(c.Failure), Error: msg(c.Error), Skipped: msg(c.Skipped)}
		if c.SystemOut != nil {
			xc.SystemOut = &xmlText{*c.SystemOut}
		}
		xs.Cases = append(xs.Cases, xc)
	}
	doc := xmlSuites{Tests: s.Tests, Failures: s.Failures, Errors: s.Errors, Skipped: s.Skipped, Time: s.Time, Suites: []xmlSuite{xs}}
	b, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return xml.Header + string(b) + "\n"
}

// TestJUnitXMLAsEncodingXML: the hand-written report is byte for byte what
// encoding/xml writes for the same document, for empty and odd texts
// (quotes, markup, "]]>", control characters after xmlSafe) and every kind
// of case.
func TestJUnitXMLAsEncodingXML(t *testing.T) {
	odd := xmlSafe("a \"quoted\" <tag> & 'apos'\tTab\r\nline ]]> end ]]]]> \x1b[31mred\x00")
	empty, log := "", "> exec nsscript run x.star\n[stdout]\nok\n"
	suites := []junitSuite{
		{Name: "nsscript", Time: "0.000", Timestamp: "2026-12-02T16:00:00Z"},
		{Name: "nsscript", Tests: 5, Failures: 1, Errors: 1, Skipped: 1, Time: "1.250", Timestamp: "2026-12-02T16:00:00Z", Cases: []junitCase{
			{Name: "pass", Classname: "nsscript.testdata", File: "testdata/pass.txtar", Time: "0.100", SystemOut: &log},
			{Name: "quiet", Classname: "nsscript.testdata", Time: "0.100", SystemOut: &empty},
			{Name: odd, Classname: odd, File: odd, Time: "0.200", Failure: &junitMessage{odd, "FAIL", odd}},
			{Name: "cut", Classname: "nsscript.x", Time: "0.300", Error: &junitMessage{"cut short: x", "CUT", log}},
			{Name: "skip", Classname: "nsscript.x", Time: "0.400", Skipped: &junitMessage{Message: "skip: no tap"}},
		}},
	}
	for i := range suites {
		if got, want := string(junitXML(&suites[i])), viaEncodingXML(t, &suites[i]); got != want {
			t.Errorf("suite %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

// TestWriteJUnit: a report of every status parses back with its counts and
// texts.
func TestWriteJUnit(t *testing.T) {
	file := filepath.Join(t.TempDir(), "report.xml")
	results := []*Result{
		{Name: "a", File: "testdata/a.txtar", Status: "pass", Log: "all <fine> ]]> here\n"},
		{Name: "b", File: "testdata/b.txtar", Status: "fail", Log: "> exec x\nFAIL: b.txtar:3: unexpected \"ok\"\n"},
		{Name: "c", File: "testdata/c.txtar", Status: "cut", Log: "FAIL: c.txtar:1: interrupted\n"},
		{Name: "d", File: "testdata/d.txtar", Status: "skip", Log: "> skip\nskip: no tap\n"},
	}
	if err := WriteJUnit(file, results); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc xmlSuites
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%v in\n%s", err, b)
	}
	s := doc.Suites[0]
	if doc.Tests != 4 || s.Failures != 1 || s.Errors != 1 || s.Skipped != 1 || len(s.Cases) != 4 {
		t.Fatalf("counts wrong in\n%s", b)
	}
	if c := s.Cases[0]; c.SystemOut == nil || c.SystemOut.Text != results[0].Log || c.Classname != "nsscript.testdata" {
		t.Errorf("pass case read back as %+v", c)
	}
	if c := s.Cases[1]; c.Failure == nil || c.Failure.Message != `b.txtar:3: unexpected "ok"` || !strings.Contains(c.Failure.Text, "> exec x") {
		t.Errorf("fail case read back as %+v", c)
	}
	if c := s.Cases[2]; c.Error == nil || c.Error.Type != "CUT" || c.Error.Message != "cut short: c.txtar:1: interrupted" {
		t.Errorf("cut case read back as %+v", c)
	}
	if c := s.Cases[3]; c.Skipped == nil || c.Skipped.Message != "skip: no tap" {
		t.Errorf("skip case read back as %+v", c)
	}
}
