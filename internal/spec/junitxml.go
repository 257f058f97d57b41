package spec

import (
	"strconv"
	"strings"
)

// junitXML returns the JUnit report of suite, laid out as encoding/xml's
// MarshalIndent with a two-space indent would: a <testsuites> element with
// the totals around the one <testsuite>.
func junitXML(suite *junitSuite) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	counts := func(x *junitSuite) {
		attr(&b, "tests", strconv.Itoa(x.Tests))
		attr(&b, "failures", strconv.Itoa(x.Failures))
		attr(&b, "errors", strconv.Itoa(x.Errors))
		attr(&b, "skipped", strconv.Itoa(x.Skipped))
		attr(&b, "time", x.Time)
	}
	b.WriteString("<testsuites")
	counts(suite)
	b.WriteString(">\n  <testsuite")
	attr(&b, "name", suite.Name)
	counts(suite)
	attr(&b, "timestamp", suite.Timestamp)
	b.WriteString(">")
	for _, c := range suite.Cases {
		b.WriteString("\n    <testcase")
		attr(&b, "name", c.Name)
		attr(&b, "classname", c.Classname)
		if c.File != "" {
			attr(&b, "file", c.File)
		}
		attr(&b, "time", c.Time)
		b.WriteString(">")
		for _, m := range []struct {
			tag string
			m   *junitMessage
		}{{"failure", c.Failure}, {"error", c.Error}, {"skipped", c.Skipped}} {
			if m.m == nil {
				continue
			}
			b.WriteString("\n      <" + m.tag)
			attr(&b, "message", m.m.Message)
			if m.m.Type != "" {
				attr(&b, "type", m.m.Type)
			}
			b.WriteString(">")
			cdata(&b, m.m.Text)
			b.WriteString("</" + m.tag + ">")
		}
		if c.SystemOut != nil {
			b.WriteString("\n      <system-out>")
			cdata(&b, *c.SystemOut)
			b.WriteString("</system-out>")
		}
		b.WriteString("\n    </testcase>")
	}
	if len(suite.Cases) > 0 {
		b.WriteString("\n  ")
	}
	b.WriteString("</testsuite>\n</testsuites>\n")
	return []byte(b.String())
}

// attrEscaper escapes an attribute value as encoding/xml does.
var attrEscaper = strings.NewReplacer(`"`, "&#34;", "'", "&#39;", "&", "&amp;", "<", "&lt;", ">", "&gt;",
	"\t", "&#x9;", "\n", "&#xA;", "\r", "&#xD;")

// attr writes ` name="value"`; value is xmlSafe already.
func attr(b *strings.Builder, name, value string) {
	b.WriteString(" " + name + `="`)
	attrEscaper.WriteString(b, value)
	b.WriteString(`"`)
}

// cdata writes s as a CDATA section (nothing when s is empty); a "]]>" in s
// ends one section and starts another between its "]]" and ">".
func cdata(b *strings.Builder, s string) {
	if s == "" {
		return
	}
	b.WriteString("<![CDATA[")
	b.WriteString(strings.ReplaceAll(s, "]]>", "]]]]><![CDATA[>"))
	b.WriteString("]]>")
}
