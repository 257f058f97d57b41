package builtins

import (
	"context"
	"strings"
	"testing"
)

// writes records each Write it gets.
type writes []string

func (w *writes) Write(b []byte) (int, error) {
	*w = append(*w, string(b))
	return len(b), nil
}

// Result lines that are ready together go out in one write, in script
// order, prints included; a failed expectation's line is written before
// OnFail runs, so that what OnFail writes comes after it.
func TestOutputReadyTogetherIsOneWrite(t *testing.T) {
	var out writes
	r := NewRun(context.Background(), nil, &out)
	defer r.Close()
	exp := func(what string) *Expectation {
		return &Expectation{Pos: "x.star:1:1", Builtin: "expect_reachable", What: what, done: make(chan struct{})}
	}
	a, b, c := exp("a -> b"), exp("b -> a"), exp("c -> a")
	r.emit(&outItem{exp: a})
	r.emit(&outItem{text: "printed"})
	r.emit(&outItem{exp: b})
	r.emit(&outItem{exp: c})
	if len(out) != 0 {
		t.Fatalf("wrote %q before the first expectation was done", out)
	}
	var atFail []string
	r.OnFail = func(e *Expectation) { atFail = append([]string(nil), out...) }
	for _, e := range []*Expectation{a, b} {
		e.OK, e.Detail = true, "reply in 0.1ms"
		close(e.done)
	}
	c.Detail = "no reply in 1s"
	close(c.done)
	r.Flush()
	want := []string{"ok   x.star:1:1: expect_reachable: a -> b: reply in 0.1ms\n" +
		"printed\n" +
		"ok   x.star:1:1: expect_reachable: b -> a: reply in 0.1ms\n" +
		"FAIL x.star:1:1: expect_reachable: c -> a: no reply in 1s\n"}
	if strings.Join(out, "|") != strings.Join(want, "|") {
		t.Errorf("writes:\n%q\nwant\n%q", out, want)
	}
	if len(atFail) != 1 || atFail[0] != want[0] {
		t.Errorf("OnFail saw the writes %q, want the first", atFail)
	}
}
