package cli

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nsscript/nsscript/internal/testenv"
	"github.com/nsscript/nsscript/internal/web"
)

// webLabSrc is pauseLabSrc and net2, a namespace without an address (the
// page shows it; the matrix leaves it out).
const webLabSrc = pauseLabSrc + `net2 = netns("net2")
`

var liveViewRE = regexp.MustCompile(`live view: (http://\S+)`)

// startWeb starts a paused run of webLabSrc with --web :0 and returns it
// with the address of its live view.
func startWeb(t *testing.T) (*pausedRun, string) {
	t.Helper()
	dir := writeScript(t, "lab.star", webLabSrc)
	p := startPaused(t, t.TempDir(), dir, "--web", ":0", "lab.star")
	m := liveViewRE.FindStringSubmatch(p.stderr.String())
	if m == nil {
		t.Fatalf("the pause message has no live view:\n%s", p.stderr.String())
	}
	return p, m[1]
}

// waitJS wraps a JavaScript expression into a promise that resolves to its
// value once it is truthy: the page updates itself, the test waits for it.
func waitJS(expr string) string {
	return `new Promise(done => { const f = () => { let v; try { v = (` + expr + `) } catch (e) {} ` +
		`if (v) done(v); else setTimeout(f, 50) }; f() })`
}

// TestWebLiveView opens the live view of a paused lab in headless
// Chromium: it shows every namespace and the matrix; a link set down in
// the lab (nsscript exec ... ip link set) shows as down, and a re-probe
// shows the pair it cut as unreachable; when the lab ends, so does the page.
func TestWebLiveView(t *testing.T) {
	testenv.NeedNamespaces(t)
	chromium := testenv.NeedBrowser(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip (iproute2) to set a link down inside the lab")
	}
	t.Parallel()
	p, url := startWeb(t)
	ctx := testenv.Context(t)
	b := testenv.StartBrowser(t, ctx, chromium)
	if err := b.Navigate(ctx, url); err != nil {
		t.Fatal(err)
	}
	eval := func(what, expr string, result any) {
		t.Helper()
		if err := b.Eval(ctx, waitJS(expr), result); err != nil {
			t.Fatalf("%s: %v\nbrowser stderr:\n%s", what, err, b.Stderr())
		}
	}

	var names []string
	eval("namespaces", `[...document.querySelectorAll("section[data-ns]")].map(s => s.dataset.ns).join(" ")`, new(string))
	eval("namespaces", `[...document.querySelectorAll("section[data-ns]")].map(s => s.dataset.ns)`, &names)
	if !slices.Equal(names, []string{"host", "net1", "net2"}) {
		t.Errorf("namespaces on the page: %v, want host net1 net2", names)
	}
	var text string
	eval("page text", `document.body.innerText`, &text)
	for _, want := range []string{"net1", "net2", "inner", "10.7.0.2/24", "outer"} {
		if !strings.Contains(text, want) {
			t.Errorf("the page does not show %q:\n%s", want, text)
		}
	}
	var w int
	eval("topology", `document.getElementById("graph").complete && document.getElementById("graph").naturalWidth`, &w)
	// The page probes once when it opens.
	var reply string
	eval("first matrix", `document.querySelector('[data-pair="net1>host"]')?.dataset.reply`, &reply)
	if reply != "true" {
		t.Errorf("net1 -> host before the link went down: reply %s, want true", reply)
	}

	if out, errOut, code := p.nss(t, "", "exec", "net1", "--", "ip", "link", "set", "inner", "down"); code != 0 {
		t.Fatalf("ip link set inner down: exit %d\n%s%s", code, out, errOut)
	}
	var state string
	eval("inner set down", `document.querySelector('[data-link="net1/inner"][data-state="down"]')?.innerText`, &state)
	if !strings.Contains(state, "down") {
		t.Errorf("row of net1/inner: %q, want it to say down", state)
	}
	eval("outer without carrier", `document.querySelector('[data-link="host/outer"]')?.dataset.state == "no-carrier"`, new(bool))

	eval("re-probe", `document.getElementById("reprobe").click() || true`, new(bool))
	eval("matrix after the re-probe", `document.querySelector('[data-pair="net1>host"]')?.dataset.reply == "false"`, new(bool))
	eval("matrix after the re-probe", `document.querySelector('[data-pair="host>net1"]')?.dataset.reply`, &reply)
	if reply != "false" {
		t.Errorf("host -> net1 after the link went down: reply %s, want false", reply)
	}

	// The lab ends: the page says so.
	p.stdin.Close()
	if code, rest := p.wait(t); code != 0 {
		t.Errorf("run after the pause: exit %d\n%s", code, rest)
	}
	eval("lab ended", `document.getElementById("status").classList.contains("ended")`, new(bool))
}

// TestWebAPI reads the live view's JSON as a program would, and checks
// that the server refuses what a web page of another site could send and
// is gone with the lab.
func TestWebAPI(t *testing.T) {
	testenv.NeedNamespaces(t)
	t.Parallel()
	p, url := startWeb(t)

	var st web.State
	getJSON(t, url+"api/state", &st)
	var got []string
	for _, ns := range st.Namespaces {
		for _, l := range ns.Links {
			got = append(got, ns.Name+"/"+l.Name+" "+l.State+" "+strings.Join(l.Addrs, ","))
		}
	}
	want := []string{"host/lo up 127.0.0.1/8,::1/128", "host/outer up 10.7.0.1/24",
		"net1/lo up 127.0.0.1/8,::1/128", "net1/inner up 10.7.0.2/24", "net2/lo up 127.0.0.1/8,::1/128"}
	if st.Lab.ID != "lab" || st.Lab.Script != "lab.star" || !slices.Equal(got, want) {
		t.Errorf("state: lab %+v, links:\n%s\nwant:\n%s", st.Lab, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	var m web.Matrix
	getJSON(t, url+"api/matrix", &m)
	if m.Probed {
		t.Errorf("matrix probed before anyone asked: %+v", m)
	}
	resp := do(t, "POST", url+"api/matrix", nil)
	if err := json.Unmarshal([]byte(resp), &m); err != nil {
		t.Fatalf("re-probe: %v: %s", err, resp)
	}
	if !m.Probed || len(m.Namespaces) != 2 || m.Namespaces[1] != (web.MatrixNS{Name: "net1", Addr: "10.7.0.2"}) ||
		!m.Cells[0][1].Reply || !m.Cells[1][0].Reply || !slices.Equal(m.Skipped, []string{"net2"}) {
		t.Errorf("re-probe: %s", resp)
	}
	if svg := do(t, "GET", url+"graph.svg", nil); !strings.HasPrefix(svg, "<svg") || !strings.Contains(svg, "inner") {
		t.Errorf("graph.svg: %.200s", svg)
	}

	// Another site's page: by a name of its own (DNS rebinding), or a
	// cross-origin POST.
	if body := do(t, "GET", url+"api/state", map[string]string{"Host": "evil.example"}); !strings.Contains(body, "refused") {
		t.Errorf("GET with Host evil.example: %s", body)
	}
	if body := do(t, "POST", url+"api/matrix", map[string]string{"Origin": "http://evil.example"}); !strings.Contains(body, "refused") {
		t.Errorf("cross-origin POST: %s", body)
	}

	p.stdin.Close()
	p.wait(t)
	if _, err := http.Get(url + "api/state"); err == nil {
		t.Errorf("the live view outlived its lab")
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	body := do(t, "GET", url, nil)
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, body)
	}
}

// do sends one request with the headers given and returns the body.
func do(t *testing.T, method, url string, hdr map[string]string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
		if k == "Host" {
			req.Host = v
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// TestWebBadFlags: a --web address beyond loopback needs --web-public; each
// mistake is one line and exit 2, before anything is built.
func TestWebBadFlags(t *testing.T) {
	t.Parallel()
	dir := writeScript(t, "lab.star", webLabSrc)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--web", "192.0.2.1:8080"}, `nsscript run: --web "192.0.2.1:8080": 192.0.2.1 is not a loopback address; the page has no login, so add --web-public to serve it beyond this machine`},
		{[]string{"--web", "0.0.0.0:0"}, `0.0.0.0 is not a loopback address`},
		{[]string{"--web", "8080"}, `nsscript run: --web "8080": want HOST:PORT or :PORT (:0 picks a free port)`},
		{[]string{"--web"}, `nsscript run: --web "lab.star": want HOST:PORT or :PORT (:0 picks a free port)`},
		{[]string{"--web-public"}, `nsscript run: --web-public only makes sense with --web ADDR`},
		{[]string{"--web", "127.0.0.1:99999"}, `nsscript run: --web: listen tcp: address 99999: invalid port`},
		{[]string{"--web", taken.Addr().String()}, `nsscript run: --web: listen tcp ` + taken.Addr().String() + `: bind: address already in use`},
	} {
		_, errOut, code := runNsscript(t, dir, append(append([]string{"run"}, c.args...), "lab.star")...)
		if code != ExitError || !strings.Contains(errOut, c.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("run %v: exit %d, stderr %q, want %q", c.args, code, errOut, c.want)
		}
	}
}

// TestWebRootless serves the live view of a lab that user nobody runs: the
// socket is opened outside the sandbox, where a browser can reach it.
func TestWebRootless(t *testing.T) {
	head, _, end := nobodyPaused(t, webLabSrc, "--web", ":0")
	m := liveViewRE.FindStringSubmatch(head)
	if m == nil {
		t.Fatalf("no live view:\n%s", head)
	}
	var st web.State
	getJSON(t, m[1]+"api/state", &st)
	if len(st.Namespaces) != 3 || st.Namespaces[2].Name != "net2" {
		t.Errorf("state of a rootless lab: %+v", st)
	}
	var mx web.Matrix
	if err := json.Unmarshal([]byte(do(t, "POST", m[1]+"api/matrix", nil)), &mx); err != nil || !mx.Probed || !mx.Cells[1][0].Reply {
		t.Errorf("re-probe of a rootless lab: %v %+v", err, mx)
	}
	end()
}
