// Package privmount starts a program with private directories: a re-executed
// copy of the running binary unshares a mount namespace, covers the asked-for
// directories with empty tmpfs mounts, writes the program's files into them
// and then executes the program in its own place (same process id, same
// process group). Ten routing daemons of one lab thus never share a control
// socket, a pid file or a configuration, and nothing they write reaches the
// directories of the host or of each other; the mounts vanish with the
// program.
//
// The copy is recognised in an init function, before main runs, by EnvVar in
// its environment (any binary that links this package can serve, a test
// binary included). It reads a Spec as JSON on standard input and takes the
// program's argv from its own arguments.
package privmount

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// EnvVar is set to "1" in the environment of the re-executed copy; it is
// removed before the program runs.
const EnvVar = "NSSCRIPT_PRIVMOUNT"

// Exe is what to execute to get the copy: the running binary.
const Exe = "/proc/self/exe"

// Spec is what the copy prepares before it executes the program.
type Spec struct {
	// Dirs are absolute directories made private and empty.
	Dirs []string `json:"dirs,omitempty"`
	// Files maps absolute paths to their contents; their directories are
	// made private too.
	Files map[string]string `json:"files,omitempty"`
	// Join, when set, is the mount namespace (a path such as
	// /proc/PID/ns/mnt) the program enters instead of a new one: it then
	// shares the private directories of the program running there (the
	// daemons of one FRR router). Dirs must be empty then; Files are
	// written into the directories that namespace already has.
	Join string `json:"join,omitempty"`
}

// Check validates s: absolute, clean paths, no file that is also a directory.
func (s Spec) Check() error {
	if s.Join != "" && len(s.Dirs) > 0 {
		return errors.New("a program that joins a mount namespace makes no directories of its own")
	}
	for _, d := range s.Dirs {
		if err := checkPath(d); err != nil {
			return err
		}
		if _, ok := s.Files[d]; ok {
			return fmt.Errorf("%s is both a file and a directory", d)
		}
	}
	for p := range s.Files {
		if err := checkPath(p); err != nil {
			return err
		}
		if filepath.Dir(p) == "/" {
			return fmt.Errorf("%s: a file needs a directory of its own, not /", p)
		}
	}
	return nil
}

func checkPath(p string) error {
	if !filepath.IsAbs(p) || filepath.Clean(p) != p || p == "/" {
		return fmt.Errorf("invalid path %q (want an absolute, clean path below /)", p)
	}
	return nil
}

// AllDirs returns the directories the copy makes private: Dirs and the
// directory of every file, parents before children, without duplicates.
func (s Spec) AllDirs() []string {
	set := map[string]bool{}
	for _, d := range s.Dirs {
		set[d] = true
	}
	for p := range s.Files {
		set[filepath.Dir(p)] = true
	}
	out := make([]string, 0, len(set))
	for d := range set {
		out = append(out, d)
	}
	sort.Strings(out) // a parent sorts before its children
	return out
}

func init() {
	if os.Getenv(EnvVar) != "1" {
		return
	}
	// Package inits run on the main thread, locked to it: the mount
	// namespace unshared here is the one the program is executed in.
	err := serve()
	fmt.Fprintf(os.Stderr, "nsscript: private directories: %v\n", err)
	os.Exit(127)
}

// serve prepares the private directories and executes the program; it
// returns only on failure.
func serve() error {
	var s Spec
	if err := json.NewDecoder(os.Stdin).Decode(&s); err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	if null, err := os.Open(os.DevNull); err == nil {
		unix.Dup2(int(null.Fd()), 0)
		null.Close()
	}
	if len(os.Args) < 2 {
		return errors.New("no program given")
	}
	if s.Join != "" {
		if err := join(s.Join); err != nil {
			return err
		}
	} else if err := private(s); err != nil {
		return err
	}
	for p, text := range s.Files {
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			return err
		}
	}
	env := make([]string, 0, len(os.Environ()))
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, EnvVar+"=") {
			env = append(env, e)
		}
	}
	return unix.Exec(os.Args[1], os.Args[1:], env)
}

// private unshares a mount namespace and makes the directories of s private
// in it.
func private(s Spec) error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("unshare mount namespace: %w", err)
	}
	// Private from here on: nothing mounted below reaches nsscript's
	// mounts (or, with --host, the real host's).
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	var covered []string
	for _, d := range s.AllDirs() {
		var err error
		if covered, err = makePrivate(d, covered); err != nil {
			return fmt.Errorf("%s: %w", d, err)
		}
	}
	return nil
}

// join enters the mount namespace at path. The kernel refuses setns into a
// mount namespace to a thread that shares its file system attributes
// (CLONE_FS) with other threads, as every thread of a Go program does: this
// one unshares them first (unshare(CLONE_NEWNS) in private does the same
// implicitly). The program is executed from this thread, so it starts there.
func join(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("join mount namespace: %w", err)
	}
	defer f.Close()
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return fmt.Errorf("unshare file system attributes: %w", err)
	}
	if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("join mount namespace %s: %w", path, err)
	}
	return nil
}

// makePrivate makes dir an empty directory of its own. Below a tmpfs this
// copy mounted (covered), it is made there; an existing directory gets a
// tmpfs of its own; a missing one is made in a tmpfs that covers its nearest
// existing ancestor, whose entries are brought back (so no directory is ever
// made on the host's file systems). It returns covered with what it mounted.
func makePrivate(dir string, covered []string) ([]string, error) {
	for _, c := range covered {
		if strings.HasPrefix(dir, c+"/") {
			return covered, os.MkdirAll(dir, 0o755)
		}
	}
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return covered, errors.New("not a directory")
		}
		return append(covered, dir), mountTmpfs(dir)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return covered, err
	}
	anc := filepath.Dir(dir)
	for ; anc != "/"; anc = filepath.Dir(anc) {
		if _, err := os.Stat(anc); err == nil {
			break
		}
	}
	if anc == "/" {
		return covered, errors.New("no existing parent directory to cover (only / is there)")
	}
	if err := cover(anc); err != nil {
		return covered, err
	}
	return append(covered, anc), os.MkdirAll(dir, 0o755)
}

// cover mounts a tmpfs on dir and brings its former entries back: symbolic
// links are copied, everything else is bind-mounted from the covered
// directory, reached through a descriptor opened before the mount.
func cover(dir string) error {
	old, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer old.Close()
	entries, err := old.ReadDir(-1)
	if err != nil {
		return err
	}
	if err := mountTmpfs(dir); err != nil {
		return err
	}
	for _, e := range entries {
		src := fmt.Sprintf("/proc/self/fd/%d/%s", old.Fd(), e.Name())
		dst := filepath.Join(dir, e.Name())
		if e.Type()&fs.ModeSymlink != 0 {
			if target, err := os.Readlink(src); err == nil {
				os.Symlink(target, dst)
			}
			continue
		}
		if e.IsDir() {
			err = os.Mkdir(dst, 0o755)
		} else {
			err = os.WriteFile(dst, nil, 0o600)
		}
		if err == nil {
			unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, "") // best effort: an entry left out stays empty
		}
	}
	return nil
}

func mountTmpfs(dir string) error {
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		return fmt.Errorf("mount tmpfs: %w", err)
	}
	return nil
}
