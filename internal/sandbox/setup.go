package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/nsutil"
	"github.com/nsscript/nsscript/internal/sandbox/spawn"
)

const netnsDir = "/run/netns"

// lifelineEnv names the descriptor of the socket whose other end the parent
// holds (see Run and watchParent).
const lifelineEnv = spawn.LifelineEnv

var (
	setupOnce sync.Once
	setupErr  error
	notesMu   sync.Mutex
	notes     []string // what Setup could not do, for Where
)

// Setup prepares the sandboxed child. The child calls it first thing (when
// Inside reports true), before starting goroutines that use namespaces. It
//   - receives its environment and descriptors from Run, unless Receive
//     did so before;
//   - checks that it is init of a new PID namespace started by Run, and
//     exits at once when Run's process is gone (watchParent);
//   - makes every mount private, so nothing mounted here reaches the host;
//   - mounts a fresh /proc for its PID namespace, so the lab's programs see
//     only the sandbox's processes (if the kernel refuses, as under a
//     container's masked /proc, the host's /proc stays and Where says so;
//     the host's processes still cannot be signalled or joined);
//   - reaps orphaned processes, as an init must (Reap);
//   - mounts an empty tmpfs on /run/netns, where named namespaces are
//     bind-mounted as `ip netns add` does. If the host has no /run/netns, it is
//     not created there (that would leave a directory behind on the host):
//     instead a tmpfs is mounted on /run, the host's /run entries are
//     bind-mounted back into it (best effort; /run/user, /run/systemd and the
//     like stay visible) and /run/netns is made inside it. This is done
//     before anything can run in the sandbox, so that no program (`ip netns
//     add`) writes into the real host's /run;
//   - mounts a fresh sysfs on /sys, so /sys/class/net shows the lab's links,
//     as `ip netns exec` does (the host's mounts under /sys, such as
//     /sys/fs/cgroup, are hidden; if the kernel refuses, the host's /sys stays
//     and Where says so);
//   - brings loopback up;
//   - removes EnvVar from the environment.
//
// Only the first call does anything; later calls return its result.
func Setup() error {
	setupOnce.Do(func() { setupErr = setup() })
	return setupErr
}

func setup() error {
	if !Inside() {
		return fmt.Errorf("sandbox: setup called outside the sandbox (%s is not 1)", EnvVar)
	}
	if err := Receive(); err != nil {
		return err
	}
	if err := watchParent(); err != nil {
		return err
	}
	Reap()
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("sandbox: make mounts private: %w", mountHint(err))
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		note("host /proc kept (mount proc: %v)", err)
	}
	if err := mountNetnsDir(); err != nil {
		return err
	}
	if err := unix.Mount("sysfs", "/sys", "sysfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		note("host /sys kept (mount sysfs: %v)", err)
	}
	if err := nsutil.LoopbackUp(); err != nil {
		return fmt.Errorf("sandbox: bring up loopback: %w", err)
	}
	os.Unsetenv(lifelineEnv)
	return os.Unsetenv(EnvVar)
}

// Receive waits for the environment and descriptors Run hands the child,
// and puts them in place (spawn.Receive). The child calls it before it reads
// its environment, beyond EnvVar, or its standard input; Setup calls it too.
func Receive() error { return spawn.Receive() }

// DiscardEarly ends the child that the binary started early for a
// sandboxed run (spawn.Early), if Run did not take it: call it when the
// command will not run in a sandbox, and before the program exits.
func DiscardEarly() { spawn.DiscardEarly() }

// watchParent refuses to go on unless this process is what Run started: init
// of a new PID namespace (its parent is outside: getppid is 0) holding the
// end of Run's lifeline socket. Otherwise EnvVar was set by hand, and
// making mounts private would change the host's. It tells Run that signals
// may come now, then waits on the socket in the background and ends this
// process, and with it the whole sandbox, when the socket reaches end of
// file: Run's process is gone. This covers what
// Pdeathsig cannot: a parent that died before the kernel was told to signal
// the child (say, while the child was stopped by SIGSTOP).
func watchParent() error {
	fd, err := strconv.Atoi(os.Getenv(lifelineEnv))
	var st unix.Stat_t
	if err != nil || os.Getpid() != 1 || os.Getppid() != 0 ||
		unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return fmt.Errorf("sandbox: not in a private sandbox: %s=1 was set, but not by sandbox.Run", EnvVar)
	}
	unix.CloseOnExec(fd)
	// Setup runs after the program set up its signal handling (cli.Main
	// does first thing): from now on Run may forward signals.
	unix.Write(fd, []byte{1})
	go func() {
		var b [1]byte
		for {
			n, err := unix.Read(fd, b[:])
			if n == 0 && err != unix.EINTR {
				// As init, exiting kills every process of the sandbox.
				os.Exit(2)
			}
		}
	}()
	return nil
}

// mountNetnsDir gives the sandbox a private, empty /run/netns: it covers
// /run with a tmpfs (the host's entries of /run, but for its netns, are
// brought back) and makes /run/netns there. It never mounts on the host's
// /run/netns itself: when a directory that is a mount point in this
// namespace only is removed on the host (ip netns, a --host run's undo, a
// person's rmdir), the kernel detaches the mount here too, and the lab's
// namespaces would vanish from under ip netns in the middle of a run.
func mountNetnsDir() error {
	if err := coverDir(filepath.Dir(netnsDir), filepath.Base(netnsDir)); err != nil {
		return err
	}
	if err := os.Mkdir(netnsDir, 0o755); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	return nil
}

// coverDir mounts a tmpfs on dir and brings dir's former entries, but for
// the one named skip, back into it: symbolic links are copied, everything
// else is bind-mounted from the covered directory; both are reached through
// a descriptor opened before the mount. An entry that cannot be brought back
// is left out and noted.
func coverDir(dir, skip string) error {
	old, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sandbox: cover %s: %w", dir, err)
	}
	defer old.Close()
	entries, err := old.ReadDir(-1)
	if err != nil {
		return fmt.Errorf("sandbox: read %s: %w", dir, err)
	}
	if err := mountTmpfs(dir); err != nil {
		return fmt.Errorf("sandbox: mount tmpfs on %s: %w", dir, mountHint(err))
	}
	var skipped []string
	for _, e := range entries {
		name, dst := e.Name(), filepath.Join(dir, e.Name())
		if name == skip {
			continue
		}
		src := fmt.Sprintf("/proc/self/fd/%d/%s", old.Fd(), name)
		if e.Type()&fs.ModeSymlink != 0 {
			if target, err := os.Readlink(src); err != nil || os.Symlink(target, dst) != nil {
				skipped = append(skipped, name)
			}
			continue
		}
		if e.IsDir() {
			err = os.Mkdir(dst, 0o755)
		} else {
			var f *os.File
			if f, err = os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err == nil {
				f.Close()
			}
		}
		if err == nil {
			if err = unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
				os.Remove(dst)
			}
		}
		if err != nil {
			skipped = append(skipped, name)
		}
	}
	if len(skipped) > 0 {
		note("host %s entries left out: %s", dir, strings.Join(skipped, " "))
	}
	return nil
}

func mountTmpfs(dir string) error {
	return unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755")
}

// mountHint adds the likely reason to a mount failure in a user namespace.
func mountHint(err error) error {
	if errors.Is(err, unix.EPERM) && Rootless() && sysctl("kernel/apparmor_restrict_unprivileged_userns") == "1" {
		return fmt.Errorf("%w (AppArmor restricts unprivileged user namespaces: run as root, or set sysctl kernel.apparmor_restrict_unprivileged_userns=0)", err)
	}
	return err
}

func note(format string, args ...any) {
	notesMu.Lock()
	defer notesMu.Unlock()
	notes = append(notes, fmt.Sprintf(format, args...))
}

func setupNotes() string {
	notesMu.Lock()
	defer notesMu.Unlock()
	return strings.Join(notes, "; ")
}
