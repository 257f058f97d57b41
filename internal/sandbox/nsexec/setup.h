// What nsexec_start (start.h) needs before and around the clone: the
// command line, the id maps and the signals. Include decide.h first.

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

// nsexec_child is 1 in the sandboxed child that nsexec_start cloned.
int nsexec_child = 0;

// spawn's EnvVar and LifelineEnv, where spawn.Start puts the lifeline, and
// spawn.MaxExtraFiles (the lifeline is copied to that many more slots).
#define NSEXEC_ENV "NSSCRIPT_SANDBOX"
#define NSEXEC_LIFELINE_ENV "NSSCRIPT_SANDBOX_LIFELINE"
#define NSEXEC_LIFELINE_FD 3
#define NSEXEC_EXTRA_FILES 4

// nsexec_cmdline reads this process's argv from /proc/self/cmdline into
// *argvp (one allocation, free(*argvp) frees it) and returns argc, or -1.
static int nsexec_cmdline(char ***argvp) {
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return -1;
	}
	char buf[65536];
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof buf - len);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0 || (len += n) == sizeof buf) {
			break; // a command line this long is not one nsexec takes
		}
	}
	close(fd);
	if (len == 0 || len == sizeof buf) {
		return -1;
	}
	int argc = 0;
	for (size_t i = 0; i < len; i++) {
		argc += buf[i] == 0;
	}
	char **argv = malloc((argc + 1) * sizeof *argv + len);
	if (!argv) {
		return -1;
	}
	char *s = (char *)(argv + argc + 1);
	memcpy(s, buf, len);
	for (int i = 0; i < argc; i++) {
		argv[i] = s;
		s += strlen(s) + 1;
	}
	argv[argc] = NULL;
	*argvp = argv;
	return argc;
}

// nsexec_rootless is spawn.NeedUserNS: not root, or root without
// CAP_SYS_ADMIN.
static int nsexec_rootless(void) {
	if (geteuid() != 0) {
		return 1;
	}
	struct { uint32_t version; int pid; } hdr = {0x20080522, 0};
	struct { uint32_t effective, permitted, inheritable; } data[2];
	if (syscall(SYS_capget, &hdr, data) != 0) {
		return 1;
	}
	return !(data[0].effective & (1u << 21));
}

static int nsexec_write(pid_t pid, const char *file, const char *s) {
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		return -1;
	}
	ssize_t n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

// nsexec_maps writes the child's id maps as spawn.SysProcAttr asks Go to:
// the caller alone when rootless, the identity over every id as root.
static int nsexec_maps(pid_t pid, int rootless) {
	if (!rootless) {
		return nsexec_write(pid, "uid_map", "0 0 4294967295\n") ||
		       nsexec_write(pid, "setgroups", "allow") ||
		       nsexec_write(pid, "gid_map", "0 0 4294967295\n");
	}
	char uid[32], gid[32];
	snprintf(uid, sizeof uid, "0 %u 1\n", (unsigned)geteuid());
	snprintf(gid, sizeof gid, "0 %u 1\n", (unsigned)getegid());
	return nsexec_write(pid, "uid_map", uid) || nsexec_write(pid, "setgroups", "deny") ||
	       nsexec_write(pid, "gid_map", gid);
}

// The signals the parent waits for: SIGINT and SIGTERM to forward (as
// spawn.Supervise forwards those of package signals), SIGCHLD for the end.
static const int nsexec_signals[] = {SIGINT, SIGTERM, SIGCHLD};
#define NSEXEC_NSIG ((int)(sizeof nsexec_signals / sizeof nsexec_signals[0]))

// nsexec_saved is what nsexec_block changed, for nsexec_unblock, and the
// set it blocked, for the signalfd.
struct nsexec_saved {
	sigset_t set;
	sigset_t mask;
	struct sigaction act[NSEXEC_NSIG];
};

// nsexec_block blocks nsexec_signals, for a signalfd to read, and gives
// them their default action meanwhile: as Go's signal.Notify does, a
// SIGINT that the caller ignored is caught too.
static void nsexec_block(struct nsexec_saved *s) {
	sigemptyset(&s->set);
	for (int i = 0; i < NSEXEC_NSIG; i++) {
		sigaddset(&s->set, nsexec_signals[i]);
	}
	sigprocmask(SIG_BLOCK, &s->set, &s->mask);
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	for (int i = 0; i < NSEXEC_NSIG; i++) {
		sigaction(nsexec_signals[i], &dfl, &s->act[i]);
	}
}

static void nsexec_unblock(const struct nsexec_saved *s) {
	for (int i = 0; i < NSEXEC_NSIG; i++) {
		sigaction(nsexec_signals[i], &s->act[i], NULL);
	}
	sigprocmask(SIG_SETMASK, &s->mask, NULL);
}
