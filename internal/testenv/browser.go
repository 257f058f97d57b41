package testenv

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// browserNames are the programs NeedBrowser looks for, in order (Debian's
// package chromium installs the first).
var browserNames = []string{"chromium", "chromium-browser", "google-chrome"}

// NeedBrowser returns the path of a headless-capable Chromium. Without one
// the test is skipped, or fails when RequireEnv is 1: CI installs chromium
// (.ci/run), so there the browser tests must run.
func NeedBrowser(t testing.TB) string {
	t.Helper()
	for _, name := range browserNames {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("no chromium and %s=1: install it (apt-get install chromium; .ci/run does)", RequireEnv)
	}
	t.Skipf("no browser: none of %v in PATH", browserNames)
	return ""
}

// Browser is a headless Chromium driven through the DevTools protocol
// over a pipe (--remote-debugging-pipe: JSON messages ended by a NUL byte
// on descriptors 3 and 4), with one page attached.
type Browser struct {
	cmd     *exec.Cmd
	w       *os.File // the browser's descriptor 3: our commands
	stderr  LockedBuffer
	session string // the page's DevTools session

	mu      sync.Mutex
	next    int
	pending map[int]chan cdpReply
	dead    error // why the pipe ended
}

type cdpReply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// StartBrowser starts the browser at path with a blank page; the test's
// cleanup ends it. As root Chromium runs only with --no-sandbox (its own
// sandbox, not nsscript's), which it is then given.
func StartBrowser(t testing.TB, ctx context.Context, path string) *Browser {
	t.Helper()
	args := []string{"--headless", "--remote-debugging-pipe", "--user-data-dir=" + t.TempDir(),
		"--no-first-run", "--no-default-browser-check", "--disable-gpu", "--disable-extensions",
		"--disable-background-networking", "--window-size=1200,1000"}
	if os.Geteuid() == 0 {
		args = append(args, "--no-sandbox")
	}
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	b := &Browser{pending: map[int]chan cdpReply{}, w: cmdW}
	b.cmd = exec.Command(path, append(args, "about:blank")...)
	b.cmd.ExtraFiles = []*os.File{cmdR, outW}
	b.cmd.Stderr = &b.stderr
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its helpers die with it
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	cmdR.Close()
	outW.Close()
	go b.read(outR)
	t.Cleanup(func() { b.close(t) })

	var target struct{ TargetID string }
	if err := b.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		t.Fatalf("browser: %v\n%s", err, b.Stderr())
	}
	var attached struct{ SessionID string }
	if err := b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached); err != nil {
		t.Fatalf("browser: %v\n%s", err, b.Stderr())
	}
	b.session = attached.SessionID
	return b
}

// read delivers the browser's replies to their callers; events are
// dropped.
func (b *Browser) read(r *os.File) {
	defer r.Close()
	br := bufio.NewReader(r)
	var err error
	for err == nil {
		var msg []byte
		if msg, err = br.ReadBytes(0); err != nil {
			break
		}
		var m struct {
			ID int `json:"id"`
			cdpReply
		}
		if json.Unmarshal(msg[:len(msg)-1], &m) != nil || m.ID == 0 {
			continue
		}
		b.mu.Lock()
		ch := b.pending[m.ID]
		delete(b.pending, m.ID)
		b.mu.Unlock()
		if ch != nil {
			ch <- m.cdpReply
		}
	}
	b.mu.Lock()
	b.dead = fmt.Errorf("the browser closed its pipe: %w", err)
	for id, ch := range b.pending {
		close(ch)
		delete(b.pending, id)
	}
	b.mu.Unlock()
}

// call sends one command (to the page when session is not empty) and
// decodes its result into result.
func (b *Browser) call(ctx context.Context, session, method string, params, result any) error {
	b.mu.Lock()
	if b.dead != nil {
		b.mu.Unlock()
		return b.dead
	}
	b.next++
	id := b.next
	ch := make(chan cdpReply, 1)
	b.pending[id] = ch
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method, "params": params}
	if session != "" {
		msg["sessionId"] = session
	}
	data, _ := json.Marshal(msg)
	if _, err := b.w.Write(append(data, 0)); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, context.Cause(ctx))
	case r, ok := <-ch:
		switch {
		case !ok:
			return fmt.Errorf("%s: %w", method, b.dead)
		case r.Error != nil:
			return fmt.Errorf("%s: %s", method, r.Error.Message)
		case result != nil:
			return json.Unmarshal(r.Result, result)
		}
		return nil
	}
}

// Navigate loads url in the page (it returns once the navigation is
// under way; wait for what the page shows with Eval).
func (b *Browser) Navigate(ctx context.Context, url string) error {
	var r struct{ ErrorText string }
	if err := b.call(ctx, b.session, "Page.navigate", map[string]any{"url": url}, &r); err != nil {
		return err
	}
	if r.ErrorText != "" {
		return fmt.Errorf("navigate to %s: %s", url, r.ErrorText)
	}
	return nil
}

// Eval evaluates the JavaScript expression expr in the page, waits for
// it when it is a promise, and decodes its value into result.
func (b *Browser) Eval(ctx context.Context, expr string, result any) error {
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	err := b.call(ctx, b.session, "Runtime.evaluate", map[string]any{"expression": expr,
		"awaitPromise": true, "returnByValue": true}, &r)
	switch {
	case err != nil:
		return err
	case r.ExceptionDetails != nil:
		return fmt.Errorf("%s %s", r.ExceptionDetails.Text, r.ExceptionDetails.Exception.Description)
	case result != nil && len(r.Result.Value) > 0:
		return json.Unmarshal(r.Result.Value, result)
	}
	return nil
}

// Stderr is what the browser printed on its standard error.
func (b *Browser) Stderr() string { return strings.TrimSpace(b.stderr.String()) }

// close asks the browser to quit and kills its process group if the pipe
// is gone already.
func (b *Browser) close(t testing.TB) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		err := b.call(ctx, "", "Browser.close", nil, nil)
		if err != nil && !errors.Is(err, context.Canceled) {
			syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
		}
	}()
	b.cmd.Wait()
	cancel()
	b.w.Close()
	syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL) // helpers that outlived it
}
