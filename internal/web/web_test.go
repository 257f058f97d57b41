package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nsscript/nsscript/internal/lab"
	"github.com/nsscript/nsscript/internal/sandbox"
	"github.com/nsscript/nsscript/internal/testenv"
)

func TestLocalHost(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1:8080": true, "localhost:80": true, "LOCALHOST": true, "[::1]:9000": true,
		"192.0.2.7:80": true, // an address, not a name: no rebinding
		"evil.example": false, "evil.example:8080": false, "localhost.evil.example:80": false, "": false,
	} {
		if got := localHost(host); got != want {
			t.Errorf("localHost(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestLinkState(t *testing.T) {
	for _, c := range []struct {
		admin bool
		oper  string
		want  string
	}{
		{true, "UP", "up"},
		{true, "UNKNOWN", "up"}, // lo, a tun with a reader
		{false, "DOWN", "down"},
		{true, "DOWN", "no-carrier"}, // a veth whose peer is down
		{true, "LOWERLAYERDOWN", "no-carrier"},
	} {
		x := lab.LinkStatus{LinkSnapshot: lab.LinkSnapshot{Name: "eth0", State: c.oper}, AdminUp: c.admin}
		if got := linkOf(x).State; got != c.want {
			t.Errorf("admin up %v, oper %s: state %q, want %q", c.admin, c.oper, got, c.want)
		}
	}
}

// newLab builds namespaces a (10.9.0.1/24) and b (10.9.0.2/24) on a veth,
// and c without an address, in a fresh host namespace (root only).
func newLab(t *testing.T) (*lab.Lab, *lab.Link) {
	t.Helper()
	testenv.NeedNamespaces(t)
	testenv.NeedRoot(t)
	sandbox.Reap()
	l, err := lab.New(lab.Options{FreshHost: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var ns []*lab.Netns
	for _, name := range []string{"a", "b", "c"} {
		n, err := l.NewNetns(name)
		if err != nil {
			t.Fatal(err)
		}
		ns = append(ns, n)
	}
	x, y, err := l.Veth(lab.VethSpec{LinkSpec: lab.LinkSpec{Name: "xa", Up: true}, NS: ns[0], PeerNS: ns[1], PeerName: "yb"})
	if err != nil {
		t.Fatal(err)
	}
	for lk, p := range map[*lab.Link]string{x: "10.9.0.1/24", y: "10.9.0.2/24"} {
		if err := lk.AddAddr(netip.MustParsePrefix(p)); err != nil {
			t.Fatal(err)
		}
	}
	return l, y
}

// TestServer serves a lab through its handler: state, matrix and picture,
// a link set down, and nothing after Close.
func TestServer(t *testing.T) {
	l, y := newLab(t)
	s := New(l, Info{ID: "t1", Script: "t.star"})
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()

	links := func() []string {
		var st State
		get(t, ts.URL+"/api/state", &st)
		var out []string
		for _, ns := range st.Namespaces {
			for _, lk := range ns.Links {
				if lk.Name != "lo" {
					out = append(out, ns.Name+"/"+lk.Name+" "+lk.State+" "+strings.Join(lk.Addrs, ",")+" peer "+lk.Peer)
				}
			}
		}
		return out
	}
	// A probe waits for the links to come up.
	m := reprobe(t, ts.URL)
	if len(m.Namespaces) != 2 || !m.Cells[0][1].Reply || !m.Cells[1][0].Reply || !slices.Equal(m.Skipped, []string{"host", "c"}) {
		t.Errorf("matrix: %+v", m)
	}
	want := []string{"a/xa up 10.9.0.1/24 peer b/yb", "b/yb up 10.9.0.2/24 peer a/xa"}
	if got := links(); !slices.Equal(got, want) {
		t.Errorf("links:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The kernel changes, not the lab model: the page follows the kernel.
	// The peer loses its carrier a moment later (the kernel's link watch),
	// so the state is read again until it shows, as the page does.
	if err := y.SetUp(false); err != nil {
		t.Fatal(err)
	}
	want = []string{"a/xa no-carrier 10.9.0.1/24 peer b/yb", "b/yb down 10.9.0.2/24 peer a/xa"}
	ctx := testenv.Context(t)
	for got := links(); !slices.Equal(got, want); got = links() {
		if ctx.Err() != nil {
			t.Fatalf("links after yb went down:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if m := reprobe(t, ts.URL); m.Cells[0][1].Reply || m.Cells[1][0].Reply {
		t.Errorf("matrix after yb went down: %+v %+v", m.Cells[0][1], m.Cells[1][0])
	}
	var last Matrix
	get(t, ts.URL+"/api/matrix", &last)
	if !last.Probed || last.Cells[0][1].Reply {
		t.Errorf("GET /api/matrix is not the last re-probe: %+v", last)
	}

	s.Close()
	if resp, err := http.Get(ts.URL + "/api/state"); err == nil && resp.StatusCode == http.StatusOK {
		t.Errorf("state served after Close")
	}
}

// TestProbeMatrixCut: a re-probe whose lab ends says so, cell by cell.
func TestProbeMatrixCut(t *testing.T) {
	l, y := newLab(t)
	if err := y.SetUp(false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m := ProbeMatrix(ctx, l)
	if c := m.Cells[0][1]; c.Reply || !c.Cut {
		t.Errorf("a -> b with the lab ended: %+v", c)
	}
}

func get(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func reprobe(t *testing.T, url string) *Matrix {
	t.Helper()
	resp, err := http.Post(url+"/api/matrix", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var m Matrix
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("POST /api/matrix: %v: %s", err, data)
	}
	return &m
}
