// Package control lets other processes reach a paused lab. The lab process
// serves a unix socket in a per-user runtime directory (see Dir); nsscript
// shell and nsscript exec connect to it, pass their standard files over it
// (SCM_RIGHTS) and ask the lab to start a command in one of its namespaces.
// The lab process already lives inside the sandbox, so the client never has
// to enter a user or mount namespace itself (which a multi-threaded Go
// program cannot do), and the same path works for root and rootless labs.
//
// The socket is the lab's only record: its name is the lab's ID, and a
// socket nobody listens on any more is stale and removed by the next List.
package control

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// DirEnv overrides the runtime directory (tests use it to stay apart).
const DirEnv = "NSSCRIPT_RUNTIME_DIR"

// sockExt is the extension of lab sockets in the runtime directory.
const sockExt = ".sock"

// Dir returns the directory where paused labs keep their sockets, creating
// it (mode 0700) when missing: $NSSCRIPT_RUNTIME_DIR if set, /run/nsscript
// for root, $XDG_RUNTIME_DIR/nsscript, or /tmp/nsscript-UID.
func Dir(getenv func(string) string) (string, error) {
	dir := getenv(DirEnv)
	switch {
	case dir != "":
	case os.Geteuid() == 0:
		dir = "/run/nsscript"
	case getenv("XDG_RUNTIME_DIR") != "":
		dir = filepath.Join(getenv("XDG_RUNTIME_DIR"), "nsscript")
	default:
		dir = filepath.Join(os.TempDir(), "nsscript-"+strconv.Itoa(os.Geteuid()))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("runtime directory: %w", err)
	}
	// The directory keeps other users away from the sockets: refuse one
	// that another user owns or may write to (a planted /tmp directory).
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return "", fmt.Errorf("runtime directory: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return "", fmt.Errorf("runtime directory %s is not a directory", dir)
	}
	if int(st.Uid) != os.Geteuid() || st.Mode&0o022 != 0 {
		return "", fmt.Errorf("runtime directory %s is not private to uid %d (owner %d, mode %o)", dir, os.Geteuid(), st.Uid, st.Mode&0o777)
	}
	return dir, nil
}

// Listen creates the socket of a new lab in dir. The ID is base (the
// script's name without .star), or base-2, base-3, ... when a live lab
// already uses it; a stale socket of that name is replaced.
func Listen(dir, base string) (ln *net.UnixListener, id, path string, err error) {
	base = sanitize(base)
	for i := 1; i < 1000; i++ {
		id = base
		if i > 1 {
			id = fmt.Sprintf("%s-%d", base, i)
		}
		path = filepath.Join(dir, id+sockExt)
		for attempt := 0; attempt < 2; attempt++ {
			ln, err = net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
			if err == nil {
				ln.SetUnlinkOnClose(false) // the creator removes it, see Remove
				os.Chmod(path, 0o600)
				return ln, id, path, nil
			}
			if !errors.Is(err, syscall.EADDRINUSE) || !removeStale(path) {
				break
			}
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, "", "", fmt.Errorf("listen on %s: %w", path, err)
		}
	}
	return nil, "", "", fmt.Errorf("listen in %s: too many labs called %s", dir, base)
}

// removeStale removes the socket at path if no process listens on it and
// reports whether it did.
func removeStale(path string) bool {
	c, err := net.Dial("unixpacket", path)
	if err == nil {
		c.Close()
		return false
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return os.Remove(path) == nil
	}
	return false
}

// sanitize turns a script name into an ID that is safe as a file name.
func sanitize(s string) string {
	s = strings.TrimSuffix(filepath.Base(s), ".star")
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	s = strings.TrimLeft(string(b), ".")
	if s == "" {
		s = "lab"
	}
	if len(s) > 40 {
		s = s[:40]
	}
	return s
}

// List returns the IDs of the labs in dir that have a live socket, sorted,
// and removes stale sockets.
func List(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list paused labs: %w", err)
	}
	var ids []string
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, sockExt) || e.Type()&os.ModeSocket == 0 {
			continue
		}
		if removeStale(filepath.Join(dir, name)) {
			continue
		}
		ids = append(ids, strings.TrimSuffix(name, sockExt))
	}
	sort.Strings(ids)
	return ids, nil
}

// Find returns the socket path of the lab called id in dir, or, when id is
// empty, of the only paused lab there.
func Find(dir, id string) (string, error) {
	if id != "" {
		if sanitize(id) != id {
			return "", fmt.Errorf("invalid lab ID %q", id)
		}
		p := filepath.Join(dir, id+sockExt)
		if _, err := os.Stat(p); err != nil || removeStale(p) {
			ids, _ := List(dir)
			return "", fmt.Errorf("no paused lab %q (%s)", id, listing(ids))
		}
		return p, nil
	}
	ids, err := List(dir)
	if err != nil {
		return "", err
	}
	switch len(ids) {
	case 0:
		return "", errors.New("no paused lab (start one with nsscript run --pause FILE.star)")
	case 1:
		return filepath.Join(dir, ids[0]+sockExt), nil
	}
	return "", fmt.Errorf("%d paused labs (%s): pick one with --lab ID", len(ids), strings.Join(ids, ", "))
}

func listing(ids []string) string {
	if len(ids) == 0 {
		return "no lab is paused"
	}
	return "paused: " + strings.Join(ids, ", ")
}
