// SPDX-License-Identifier: MIT
/*
 * npoll-stat: which pollers a process has, and what each of their
 * descriptors is doing - from /proc/PID/fdinfo (the poller's fdinfo,
 * Documentation/userspace-api.rst "fdinfo"), without the library.
 *
 *   npoll-stat [-p PID]... [-w [SECONDS]] [-n COUNT]
 *
 * For every process given (all that can be read without -p), every fd
 * that is an open /dev/netpoll: a header line with the process, the fd,
 * the poller's id and its counters, then one line per descriptor with
 * its handle, fd, cookie, and each mode's state and deadline left.
 * --watch redraws every SECONDS (default 1) like top, until interrupted
 * or COUNT redraws.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEVICE "/dev/netpoll"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: npoll-stat [-p PID]... [-w [SECONDS]] [-n COUNT]\n"
		"  -p, --pid PID        this process only (repeatable); default: all\n"
		"  -w, --watch[=SEC]    redraw every SEC seconds (default 1)\n"
		"  -n, --iterations N   with --watch: stop after N redraws\n"
		"  -h, --help           this text\n");
}

/* A deadline as fdinfo gives it ("-", "0" or ns left), for people. */
static const char *fmt_deadline(const char *dl, char *buf, size_t len)
{
	char *end;
	long long ns;

	if (!strcmp(dl, "-"))
		return "-";
	ns = strtoll(dl, &end, 10);
	if (*end || ns < 0)
		return "?";
	if (ns == 0)
		return "expired";
	if (ns < 1000000LL)
		snprintf(buf, len, "%lldus", ns / 1000);
	else if (ns < 1000000000LL)
		snprintf(buf, len, "%.1fms", ns / 1e6);
	else
		snprintf(buf, len, "%.3fs", ns / 1e9);
	return buf;
}

static bool is_poller_fd(int pid, const char *fd)
{
	char path[320], target[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd/%s", pid, fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = 0;
	return !strcmp(target, DEVICE);
}

/* Print one poller of @pid; false if its fdinfo cannot be read. */
static bool show_poller(int pid, const char *comm, const char *fd)
{
	char path[320], line[512], buf[2][32];
	unsigned long long id = 0;
	long descs = -1, waiters = -1, armed = -1, events = -1;
	long busy_polls = -1, busy_ready = -1;
	char **lines = NULL;
	size_t n = 0, cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", pid, fd);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long handle, user;
		char st[2][16], dl[2][24];
		int dfd;

		if (sscanf(line, "poller:\t%llu", &id) == 1)
			continue;
		/* The busy-poll counters come with npoll 1.2.0. */
		if (sscanf(line, "descs: %ld waiters: %ld armed: %ld events: %ld"
			   " busy_polls: %ld busy_ready: %ld", &descs, &waiters,
			   &armed, &events, &busy_polls, &busy_ready) >= 4)
			continue;
		if (sscanf(line, "desc: %llx fd: %d ino: %*x sdev: %*x user: 0x%llx"
			   " r: %15s %23s w: %15s %23s", &handle, &dfd, &user,
			   st[0], dl[0], st[1], dl[1]) != 7)
			continue;
		if (n == cap) {
			char **nl = realloc(lines, (cap = cap ? cap * 2 : 64) *
						   sizeof(*lines));

			if (!nl)
				break;
			lines = nl;
		}
		if (asprintf(&lines[n], "  %-14llx %6d  %#-18llx %-8s %-10s %-8s %-10s\n",
			     handle, dfd, user, st[0],
			     fmt_deadline(dl[0], buf[0], sizeof(buf[0])), st[1],
			     fmt_deadline(dl[1], buf[1], sizeof(buf[1]))) < 0)
			break;
		n++;
	}
	fclose(f);
	if (!id) {	/* not a poller's fdinfo (an older module?) */
		for (size_t i = 0; i < n; i++)
			free(lines[i]);
		free(lines);
		return false;
	}
	printf("%-7d %-16s fd %-5s poller %-6llu descs %ld waiters %ld armed %ld events %ld",
	       pid, comm, fd, id, descs, waiters, armed, events);
	/* Only where waits have spun: a user tuning busy polling looks here. */
	if (busy_polls > 0)
		printf(" busy %ld ready %ld", busy_polls, busy_ready);
	putchar('\n');
	if (n)
		printf("  %-14s %6s  %-18s %-8s %-10s %-8s %-10s\n", "HANDLE", "FD",
		       "USER", "READ", "DEADLINE", "WRITE", "DEADLINE");
	for (size_t i = 0; i < n; i++) {
		fputs(lines[i], stdout);
		free(lines[i]);
	}
	free(lines);
	return true;
}

/*
 * The pollers of @pid.  Returns the number shown, or -1 if the process
 * cannot be read (gone, or not ours to look at).
 */
static int show_pid(int pid)
{
	char path[64], comm[32] = "?";
	struct dirent *de;
	int shown = 0;
	DIR *d;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "re");
	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = 0;
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (isdigit((unsigned char)de->d_name[0]) &&
		    is_poller_fd(pid, de->d_name) &&
		    show_poller(pid, comm, de->d_name))
			shown++;
	closedir(d);
	return shown;
}

/* One pass; the number of pollers shown, or -1 if a given PID failed. */
static int show(const int *pids, int npids)
{
	struct dirent *de;
	int total = 0, r;
	DIR *d;

	if (npids) {
		for (int i = 0; i < npids; i++) {
			r = show_pid(pids[i]);
			if (r < 0) {
				fprintf(stderr, "npoll-stat: cannot read process %d: %s\n",
					pids[i], strerror(errno));
				return -1;
			}
			total += r;
		}
		return total;
	}
	d = opendir("/proc");
	if (!d) {
		perror("npoll-stat: /proc");
		return -1;
	}
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0)
			continue;
		r = show_pid((int)pid);
		if (r > 0)
			total += r;
	}
	closedir(d);
	return total;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "watch", optional_argument, NULL, 'w' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int *pids = NULL, npids = 0, c, r;
	double interval = 0;
	long count = 0;
	char *end;

	while ((c = getopt_long(argc, argv, "p:w::n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': {
			long pid = strtol(optarg, &end, 10);
			int *np;

			if (*end || pid <= 0 || pid > 0x3fffffff) {
				fprintf(stderr, "npoll-stat: bad PID '%s'\n", optarg);
				return 2;
			}
			np = realloc(pids, (npids + 1) * sizeof(*pids));
			if (!np)
				return 1;
			pids = np;
			pids[npids++] = (int)pid;
			break;
		}
		case 'w':
			interval = 1;
			if (!optarg && optind < argc && argv[optind][0] != '-')
				optarg = argv[optind++];
			if (optarg) {
				interval = strtod(optarg, &end);
				if (*end || !(interval > 0) || interval > 86400) {
					fprintf(stderr, "npoll-stat: bad interval '%s'\n", optarg);
					return 2;
				}
			}
			break;
		case 'n':
			count = strtol(optarg, &end, 10);
			if (*end || count <= 0) {
				fprintf(stderr, "npoll-stat: bad count '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (!interval) {
		r = show(pids, npids);
		if (r == 0 && !npids)
			printf("no pollers (or none this user may read)\n");
		free(pids);
		return r < 0 ? 1 : 0;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	for (long i = 0; !stop && (!count || i < count); i++) {
		struct timespec ts = { (time_t)interval,
				       (long)((interval - (time_t)interval) * 1e9) };
		time_t now = time(NULL);

		if (isatty(STDOUT_FILENO))
			fputs("\033[H\033[2J", stdout);
		printf("npoll-stat, every %gs: %s", interval, ctime(&now));
		r = show(pids, npids);
		fflush(stdout);
		if (r < 0) {
			free(pids);
			return 1;
		}
		if (count && i + 1 == count)
			break;
		while (!stop && nanosleep(&ts, &ts) && errno == EINTR)
			;
	}
	free(pids);
	return 0;
}
