// The decision of nsexec_start (start.h): is this command line a
// sandboxed run that needs nothing of the command in the parent? It is the
// C twin of spawn.EarlyArgs and spawn.Alone; a Go test checks that
// the two answer alike.

#define _GNU_SOURCE
#include <string.h>

// nsexec_flags are spawn.AloneFlags: the flags of nsscript run that need
// nothing of the parent, each with whether it takes a value. A Go test
// checks that the two agree.
struct nsexec_flag {
	const char *name;
	int takes;
};
static const struct nsexec_flag nsexec_flags[] = {
	{"set", 1}, {"timeout", 1}, {"neigh", 1}, {"max-objects", 1},
	{"max-steps", 1}, {"bundle", 1}, {"v", 0}, {"explain", 0}, {NULL, 0},
};

static int nsexec_flag_takes(const char *name, size_t len) {
	for (const struct nsexec_flag *f = nsexec_flags; f->name; f++) {
		if (strlen(f->name) == len && strncmp(f->name, name, len) == 0) {
			return f->takes;
		}
	}
	return -1;
}

// nsexec_alone reports whether argv[first:] is what spawn.Alone accepts
// after "run": only nsexec_flags, then one script file, not standard input.
static int nsexec_alone(int argc, char **argv, int first) {
	for (int i = first; i < argc; i++) {
		const char *a = argv[i];
		size_t n = strlen(a);
		if (n < 2 || a[0] != '-') {
			return i == argc - 1 && n > 0 && strcmp(a, "-") != 0;
		}
		const char *name = a[1] == '-' ? a + 2 : a + 1;
		const char *eq = strchr(name, '=');
		int takes = nsexec_flag_takes(name, eq ? (size_t)(eq - name) : strlen(name));
		if (takes < 0 || (!takes && eq)) {
			return 0;
		}
		if (takes && !eq) {
			i++; // the value is the next argument
		}
	}
	return 0;
}

// nsexec_decide reports whether argv is a sandboxed run that needs nothing
// of the command in the parent: spawn.EarlyArgs, then spawn.Alone.
int nsexec_decide(int argc, char **argv) {
	if (argc < 2) {
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		while (*a == '-') {
			a++;
		}
		if (!strcmp(a, "h") || !strcmp(a, "help") || !strcmp(a, "host") || !strncmp(a, "host=", 5)) {
			return 0;
		}
	}
	size_t n = strlen(argv[1]);
	if (!strcmp(argv[1], "run")) {
		return argc > 2 && nsexec_alone(argc, argv, 2);
	}
	if (n > 5 && !strcmp(argv[1] + n - 5, ".star")) {
		return nsexec_alone(argc, argv, 1);
	}
	return 0;
}

// nsexec_flag_at returns nsexec_flags[i] (the last has no name), for the
// Go test that compares the table with spawn.AloneFlags.
static struct nsexec_flag nsexec_flag_at(int i) {
	return nsexec_flags[i];
}
