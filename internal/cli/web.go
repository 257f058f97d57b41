package cli

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/nsscript/nsscript/internal/control"
	"github.com/nsscript/nsscript/internal/lab"
	"github.com/nsscript/nsscript/internal/sandbox"
	"github.com/nsscript/nsscript/internal/web"
)

// webEnv hands the live view's listening socket from the parent, which
// opened it in the real host's network namespace (where a browser can
// reach it), to the sandboxed child, which serves it: "FD".
const webEnv = "NSSCRIPT_WEB"

func init() { closeInheritedOnExec(webEnv) }

// addWebFlags adds the flags of the live view to run.
func addWebFlags(fs *flag.FlagSet, f *runFlags) {
	fs.StringVar(&f.web, "web", "", "serve a live view of the paused lab (topology, links, reachability) at `ADDR`, HOST:PORT or :PORT on 127.0.0.1 (:0 picks a free port); implies --pause unless --pause-on-fail")
	fs.BoolVar(&f.webPublic, "web-public", false, "let --web listen on an address that is not loopback (the page has no login: anyone who reaches it sees the lab and can re-probe)")
}

// checkWebFlags checks --web and --web-public and makes --web imply
// --pause.
func checkWebFlags(f *runFlags) error {
	if f.web == "" {
		if f.webPublic {
			return errors.New("--web-public only makes sense with --web ADDR")
		}
		return nil
	}
	host, port, err := net.SplitHostPort(f.web)
	if err != nil {
		return fmt.Errorf("--web %q: want HOST:PORT or :PORT (:0 picks a free port)", f.web)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if !f.webPublic && !loopbackHost(host) {
		return fmt.Errorf("--web %q: %s is not a loopback address; the page has no login, so add --web-public to serve it beyond this machine", f.web, host)
	}
	f.web = net.JoinHostPort(host, port)
	if !f.pauseOnFail {
		f.pause = true
	}
	return nil
}

// loopbackHost reports whether host is localhost or a loopback address.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// passWebSocket opens the live view's socket for the sandboxed child of
// cmdRun and adds it to o: a socket belongs to the network namespace it
// was made in, and the child's is the lab's. done closes the parent's copy.
func passWebSocket(o *sandbox.Options, f runFlags) (done func(), err error) {
	if f.web == "" {
		return func() {}, nil
	}
	ln, err := listenWeb(f)
	if err != nil {
		return nil, err
	}
	lf, err := ln.File()
	ln.Close()
	if err != nil {
		return nil, fmt.Errorf("--web: %w", err)
	}
	o.Env = append(o.Env, fmt.Sprintf("%s=%d", webEnv, 3+len(o.ExtraFiles)))
	o.ExtraFiles = append(o.ExtraFiles, lf)
	return func() { lf.Close() }, nil
}

// webListener is the live view's socket: the one the parent passed down
// (in the sandbox), or a new one (with --host). It is nil without --web.
func webListener(f runFlags) (*net.TCPListener, error) {
	v := os.Getenv(webEnv)
	os.Unsetenv(webEnv) // not for the commands the lab runs
	switch {
	case f.web == "":
		return nil, nil
	case v == "" && sandbox.Inside():
		return nil, fmt.Errorf("--web: no socket from outside the sandbox (%s is not set)", webEnv)
	case v == "":
		return listenWeb(f)
	}
	var fd int
	if _, err := fmt.Sscanf(v, "%d", &fd); err != nil || fd < 3 {
		return nil, fmt.Errorf("bad %s=%q", webEnv, v)
	}
	file := os.NewFile(uintptr(fd), "web")
	ln, err := net.FileListener(file)
	file.Close()
	if err != nil {
		return nil, fmt.Errorf("--web: %w", err)
	}
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		ln.Close()
		return nil, errors.New("--web: the inherited socket is not a TCP socket")
	}
	return tl, nil
}

func listenWeb(f runFlags) (*net.TCPListener, error) {
	ln, err := net.Listen("tcp", f.web)
	if err != nil {
		return nil, fmt.Errorf("--web: %w", err)
	}
	return ln.(*net.TCPListener), nil
}

// serveWeb starts the live view of l on f.webLn and sets info.Web to its
// address; stop ends it (and waits for the requests under way).
func serveWeb(env *Env, l *lab.Lab, f runFlags, info *control.Info) (stop func()) {
	if f.webLn == nil {
		return func() {}
	}
	info.Web = "http://" + f.webLn.Addr().String() + "/"
	s := web.New(l, web.Info{ID: info.ID, Script: info.Script, Public: f.webPublic})
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := s.Serve(f.webLn); err != nil {
			fmt.Fprintf(env.Stderr, "nsscript run: --web: %v\n", err)
		}
	}()
	return func() { s.Close(); <-served }
}
