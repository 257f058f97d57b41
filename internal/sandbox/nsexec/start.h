// nsexec_start, the constructor, and the parent's part after the clone:
// the handover and the supervision. Include decide.h and setup.h first.

// nsexec_hand sends the child this process's environment and standard
// files over the lifeline fd, in spawn.Hand's wire format: a 4-byte
// little-endian length, the environment's entries separated by NUL bytes
// (without spawn's two variables, then EnvVar=1, as spawn's childEnv makes
// it), and descriptors 0, 1 and 2 as SCM_RIGHTS with the first bytes.
static int nsexec_hand(int fd) {
	static const char mark[] = NSEXEC_ENV "=1";
	size_t size = sizeof mark; // stpcpy writes its NUL too
	for (char **e = environ; *e; e++) {
		size += strlen(*e) + 1;
	}
	char *msg = malloc(4 + size);
	if (!msg) {
		return -1;
	}
	char *p = msg + 4;
	for (char **e = environ; *e; e++) {
		if (strncmp(*e, NSEXEC_ENV "=", sizeof NSEXEC_ENV) && strncmp(*e, NSEXEC_LIFELINE_ENV "=", sizeof NSEXEC_LIFELINE_ENV)) {
			p = stpcpy(p, *e) + 1; // the NUL separates
		}
	}
	p = stpcpy(p, mark);
	size = p - (msg + 4);
	for (int i = 0; i < 4; i++) {
		msg[i] = (char)(size >> (8 * i));
	}
	int fds[3] = {0, 1, 2};
	char control[CMSG_SPACE(sizeof fds)];
	memset(control, 0, sizeof control);
	struct iovec iov = {msg, 4 + size};
	struct msghdr hdr = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
	struct cmsghdr *c = CMSG_FIRSTHDR(&hdr);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof fds);
	memcpy(CMSG_DATA(c), fds, sizeof fds);
	ssize_t n;
	while ((n = sendmsg(fd, &hdr, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
	}
	for (size_t sent = n < 0 ? 0 : n; n >= 0 && sent < 4 + size; sent += n > 0 ? n : 0) {
		n = send(fd, msg + sent, 4 + size - sent, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR) {
			n = 0;
		}
	}
	free(msg);
	return n < 0 ? -1 : 0;
}

// nsexec_status is spawn.Supervise's exit code for a wait status.
static int nsexec_status(int st) {
	if (WIFSIGNALED(st)) {
		return 128 + WTERMSIG(st);
	}
	return WEXITSTATUS(st);
}

// nsexec_supervise is spawn.Supervise: it forwards SIGINT and SIGTERM to
// the child once the child has written its byte to the lifeline (it is
// init of its PID namespace: the kernel drops a signal it has no handler
// for yet), holding those that come before, and returns the child's exit
// code once it ended. The lifeline stays open: the child exits when it
// sees it end, that is, when this process is gone.
static int nsexec_supervise(pid_t pid, int lifeline, int sigfd) {
	int pending[16], npending = 0, ready = 0;
	struct pollfd fds[2] = {{.fd = sigfd, .events = POLLIN}, {.fd = lifeline, .events = POLLIN}};
	for (;;) {
		if (poll(fds, ready ? 1 : 2, -1) < 0) {
			if (errno == EINTR) {
				continue;
			}
			return -1;
		}
		if (!ready && fds[1].revents) {
			char b;
			if (read(lifeline, &b, 1) < 0 && (errno == EINTR || errno == EAGAIN)) {
				continue;
			}
			ready = 1; // the byte, or end of file: the child ended first
			for (int i = 0; i < npending; i++) {
				kill(pid, pending[i]);
			}
		}
		struct signalfd_siginfo si;
		if (!(fds[0].revents & POLLIN) || read(sigfd, &si, sizeof si) != sizeof si) {
			continue;
		}
		if (si.ssi_signo != SIGCHLD) {
			if (ready) {
				kill(pid, si.ssi_signo);
			} else if (npending < (int)(sizeof pending / sizeof pending[0])) {
				pending[npending++] = si.ssi_signo;
			}
			continue;
		}
		int st;
		pid_t r;
		while ((r = waitpid(pid, &st, WNOHANG)) < 0 && errno == EINTR) {
		}
		if (r == pid) {
			return nsexec_status(st);
		}
		if (r < 0) {
			return -1;
		}
	}
}

// nsexec_stdio opens /dev/null on standard descriptors that are closed, as
// Go's runtime does at its start, so that nothing nsexec opens takes them.
static void nsexec_stdio(void) {
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
			open("/dev/null", O_RDWR);
		}
	}
}

// nsexec_in_child is the child's part after the clone: it takes the steps
// spawn.SysProcAttr asks of Go's child (a session of its own; SIGKILL when
// the parent is gone), waits until the parent has written its id maps,
// puts the lifeline where spawn.Start puts it, in each reserved slot too,
// and returns, to start Go as the sandbox. The session comes first, before
// the wait (Go's child waits first): a SIGSTOP to the caller's process
// group that stopped the child there would leave it stopped for good once
// the parent was killed.
static void nsexec_in_child(int lifeline, int sync, const struct nsexec_saved *saved) {
	setsid();
	char b;
	ssize_t n;
	while ((n = read(sync, &b, 1)) < 0 && errno == EINTR) {
	}
	if (n != 1) {
		_exit(2); // the parent is gone
	}
	close(sync);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (int fd = NSEXEC_LIFELINE_FD; fd <= NSEXEC_LIFELINE_FD + NSEXEC_EXTRA_FILES; fd++) {
		if (fd != lifeline && dup2(lifeline, fd) < 0) {
			_exit(2);
		}
	}
	if (lifeline > NSEXEC_LIFELINE_FD + NSEXEC_EXTRA_FILES) {
		close(lifeline);
	} else {
		fcntl(lifeline, F_SETFD, 0);
	}
	nsexec_unblock(saved);
	nsexec_child = 1;
}

// nsexec_parent writes the child's maps, lets it go on, hands it over and
// supervises it to its end; it returns only if the child could not be
// handed over, having ended it.
static void nsexec_parent(pid_t pid, int rootless, int lifeline, int sync, int sigfd) {
	int ok = nsexec_maps(pid, rootless) == 0 && write(sync, "", 1) == 1;
	close(sync);
	if (ok && nsexec_hand(lifeline) == 0) {
		int code = nsexec_supervise(pid, lifeline, sigfd);
		if (code < 0) {
			fprintf(stderr, "nsscript run: sandbox: wait for child: %s\n", strerror(errno));
			kill(pid, SIGKILL);
			code = 2;
		}
		_exit(code);
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
	}
}

// nsexec_start runs before the Go runtime, in every process of a binary
// that links package nsexec with cgo. For a command line that nsexec_decide
// takes, it becomes the parent of the sandboxed child and never returns,
// and the child returns to start Go; otherwise, and when any step before
// the handover fails, it returns having undone what it did, and Go starts
// the child its own way.
__attribute__((constructor)) static void nsexec_start(void) {
	const char *mark = getenv(NSEXEC_ENV);
	char **argv;
	int argc;
	if ((mark && !strcmp(mark, "1")) || (argc = nsexec_cmdline(&argv)) < 0) {
		return;
	}
	int take = nsexec_decide(argc, argv);
	free(argv);
	if (!take) {
		return;
	}
	nsexec_stdio();
	int rootless = nsexec_rootless(), life[2], sync[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, life) < 0) {
		return;
	}
	if (pipe2(sync, O_CLOEXEC) < 0) {
		close(life[0]), close(life[1]);
		return;
	}
	struct nsexec_saved saved;
	nsexec_block(&saved);
	int sigfd = signalfd(-1, &saved.set, SFD_CLOEXEC);
	pid_t pid = sigfd < 0 ? -1 : syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWUTS | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid == 0) {
		close(sigfd), close(life[0]), close(sync[1]);
		nsexec_in_child(life[1], sync[0], &saved);
		return;
	}
	close(life[1]), close(sync[0]);
	if (pid > 0) {
		nsexec_parent(pid, rootless, life[0], sync[1], sigfd);
	} else {
		close(sync[1]);
	}
	close(life[0]);
	if (sigfd >= 0) {
		close(sigfd);
	}
	nsexec_unblock(&saved);
}
