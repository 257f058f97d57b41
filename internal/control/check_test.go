package control

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestCheck: a "check" request reaches the lab's CheckFunc with the
// exercise and an output file the function writes to; its result or error
// comes back. A lab without a CheckFunc says so.
func TestCheck(t *testing.T) {
	_, path := testServer(t)
	_, err := Check(path, Request{Exercise: json.RawMessage(`"ex"`)}, os.Stdout, nil)
	if err == nil || err.Error() != "this lab cannot grade itself" {
		t.Errorf("no CheckFunc: %v", err)
	}
	ln, id, path, err := Listen(t.TempDir(), "c.star")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(ln, Info{ID: id, Paused: true}, plainStart)
	srv.SetCheck(func(req *Request, out *os.File) (json.RawMessage, error) {
		var name string
		if err := json.Unmarshal(req.Exercise, &name); err != nil || name == "bad" {
			return nil, fmt.Errorf("bad exercise %q", name)
		}
		fmt.Fprintf(out, "grading %s, verbose %v\n", name, req.Verbose)
		return json.RawMessage(`{"score":1}`), nil
	})
	go srv.Serve()
	defer srv.Close()
	stdio, collect := pipes(t)
	r, err := Check(path, Request{Exercise: json.RawMessage(`"ex"`), Verbose: true}, stdio[1], nil)
	out, _ := collect()
	if err != nil || string(r.Result) != `{"score":1}` || out != "grading ex, verbose true\n" {
		t.Errorf("check: %v, result %s, output %q", err, r.Result, out)
	}
	if _, err := Check(path, Request{Exercise: json.RawMessage(`"bad"`)}, os.Stdout, nil); err == nil || !strings.Contains(err.Error(), `bad exercise "bad"`) {
		t.Errorf("failing check: %v", err)
	}
}
