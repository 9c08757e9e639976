// SPDX-License-Identifier: GPL-2.0
/*
 * npoll-bench: npoll next to the kernel's other ways of waiting for a
 * file, measured side by side in one run.
 *
 *   npoll-bench [--quick] [--idle N] [--json FILE|-] [--only SECTION[,SECTION...]]
 *
 * Sections: pingpong rearm lateness register scale sched threads napi,
 * and xcpu, which runs only when --only names it: the ping-pong rows
 * with the two sides pinned to two vCPUs, for scripts/bench's second
 * guest (two vCPUs, instructions counted by bench/vcpu_insns.so).  --idle sets
 * the scale section's idle descriptors (1 000 000, --quick 10 000; the
 * user-space backend's rows take at most 100 000 of them).  The table
 * goes to stdout, progress to stderr (lines starting "npoll-bench: ").
 * --json - prints the JSON document on stdout between the lines
 * "--- npoll-bench json begin ---" and "--- npoll-bench json end ---"
 * (the guest of scripts/vm-run has no other way out than its console).
 *
 * Exit status: 0 when the run completed (targets may still fail: they
 * are reported, not enforced), 1 on a setup error.
 */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/utsname.h>

#include "bench.h"

struct bench_cfg cfg = {
	.batches = 5,
	.pp_unix = 2000,
	.pp_tcp = 1000,
	.rearm = 20000,
	.regist = 2000,
	.late = 200,
	.idle = 1000000,
	.sched_conns = 1000,
	.sched_cycles = 4,
};

int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void progress(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("npoll-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

void die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("npoll-bench: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

struct bench_marks bench_marks;
static long marks_done;

long bench_mark(void)
{
	/* nopl 0x4e504c4d(%rax): see bench/vcpu_insns.c. */
	__asm__ volatile(".byte 0x0f, 0x1f, 0x80, 0x4d, 0x4c, 0x50, 0x4e"
			 ::: "memory");
	return ++marks_done;
}

int bench_ops(op_fn fn, void *ctx, int iters, struct bstat *st)
{
	double per[64];
	int b, ret, nb = cfg.batches;

	if (nb > 64)
		nb = 64;
	bench_marks.n = 0;
	ret = fn(ctx, iters / 5 + 1);
	if (ret < 0)
		return ret;
	for (b = 0; b < nb; b++) {
		int64_t t0 = now_ns();

		if (cfg.xcpu)
			bench_marks.begin[b] = bench_mark();
		ret = fn(ctx, iters);
		if (cfg.xcpu)
			bench_marks.end[b] = bench_mark();
		if (ret < 0)
			return ret;
		per[b] = (double)(now_ns() - t0) / iters;
		bench_marks.n = cfg.xcpu ? b + 1 : 0;
	}
	qsort(per, nb, sizeof(per[0]), cmp_double);
	st->med = per[nb / 2];
	st->min = per[0];
	st->max = per[nb - 1];
	return 0;
}

const char *const bench_backend_suffix[] = { "", "_user" };
const char *const bench_backend_label[] = { "", ", user backend" };

int bench_poller_open(np_poller **p, enum bench_backend b)
{
	const char *was = getenv("NPOLL_BACKEND");
	char *saved = was ? strdup(was) : NULL;
	int ret;

	if (was && !saved)
		return -ENOMEM;
	setenv("NPOLL_BACKEND", b == BK_USER ? "user" : "kernel", 1);
	ret = np_poller_open(p);
	if (saved)
		setenv("NPOLL_BACKEND", saved, 1);
	else
		unsetenv("NPOLL_BACKEND");
	free(saved);
	return ret;
}

/* The idle descriptors of the user backend's scale rows (two fds each). */
int scale_user_idle(void)
{
	return cfg.idle < 100000 ? cfg.idle : 100000;
}

/* The number a sysctl or sysfs file at @path holds, or -1. */
long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

long sysctl_swap(const char *path, long v)
{
	long old = read_long(path);
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fprintf(f, "%ld\n", v);
	fclose(f);
	return old;
}

/*
 * Raise the sysctl at @path to @want if it is lower: fs.nr_open bounds
 * RLIMIT_NOFILE, fs.epoll.max_user_watches the epoll items of one user
 * (4 % of low memory by default: some 440 000 in a 2 GiB guest).
 */
static void raise_sysctl(const char *path, long want)
{
	long cur = read_long(path);

	if (cur >= 0 && cur < want)
		sysctl_swap(path, want);
}

static void read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	buf[0] = 0;
	if (!f)
		return;
	if (fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = 0;
	fclose(f);
}

static void describe_env(void)
{
	struct utsname u;
	char cs[64];

	if (uname(&u) == 0)
		env_set("kernel", "%s", u.release);
	read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource",
		  cs, sizeof(cs));
	env_set("clocksource", "%s", cs[0] ? cs : "unknown");
	env_set("cpus", "%ld", sysconf(_SC_NPROCESSORS_ONLN));
	env_set("batches", "%d", cfg.batches);
	env_set("quick", "%s", cfg.quick ? "yes" : "no");
	env_set("idle_descriptors", "%d", cfg.idle);
}

static bool want(const char *only, const char *name)
{
	size_t n = strlen(name);
	const char *s = only;

	if (!only)
		return true;
	while ((s = strstr(s, name))) {
		if ((s == only || s[-1] == ',') && (s[n] == 0 || s[n] == ','))
			return true;
		s += n;
	}
	return false;
}

static void usage(void)
{
	fprintf(stderr, "usage: npoll-bench [--quick] [--idle N] [--json FILE|-] "
		"[--only pingpong,rearm,lateness,register,scale,sched,threads,napi,xcpu]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
		bool named_only;	/* runs only when --only names it */
	} sections[] = {
		{ "pingpong", sec_pingpong, false },
		{ "rearm", sec_rearm, false },
		{ "lateness", sec_lateness, false },
		{ "register", sec_register, false },
		{ "scale", sec_scale, false },
		{ "sched", sec_sched, false },
		{ "threads", sec_threads, false },
		{ "napi", sec_napi, false },
		{ "xcpu", sec_xcpu, true },
	};
	const char *json = NULL, *only = NULL;
	int idle = 0;
	struct rlimit rl;
	size_t i;
	int a;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--quick")) {
			cfg.quick = true;
		} else if (!strcmp(argv[a], "--json") && a + 1 < argc) {
			json = argv[++a];
		} else if (!strcmp(argv[a], "--idle") && a + 1 < argc) {
			idle = atoi(argv[++a]);
			if (idle < 1 || idle > 1000000)
				usage();
		} else if (!strcmp(argv[a], "--only") && a + 1 < argc) {
			only = argv[++a];
		} else {
			usage();
		}
	}
	if (cfg.quick) {
		cfg.batches = 3;
		cfg.pp_unix /= 10;
		cfg.pp_tcp /= 10;
		cfg.rearm /= 10;
		cfg.regist /= 10;
		cfg.late /= 10;
		cfg.idle = 10000;
		cfg.sched_cycles = 2;
	}
	if (idle)
		cfg.idle = idle;

	/*
	 * Room for the idle set, the connections and the user-space
	 * backend's two duplicates of each.
	 */
	rl.rlim_cur = rl.rlim_max = (rlim_t)cfg.idle + 2 * scale_user_idle() +
				    8 * cfg.sched_conns + 1024;
	raise_sysctl("/proc/sys/fs/nr_open", (long)rl.rlim_max);
	raise_sysctl("/proc/sys/fs/epoll/max_user_watches",
		     (long)rl.rlim_max + 2L * cfg.idle);
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("setrlimit(RLIMIT_NOFILE, %lu): %s (run as root)",
		    (unsigned long)rl.rlim_cur, strerror(errno));

	/*
	 * No wake-up preemption: a woken thread waits until the waker
	 * blocks, so the measured side of a ping-pong parks on every round
	 * trip, as it does when its peer runs on another CPU.  Under
	 * SCHED_OTHER the outcome would depend on how far the two threads'
	 * vruntimes have drifted apart, which changes over a long run.
	 */
	if (sched_setscheduler(0, SCHED_BATCH, &(struct sched_param){ 0 }) < 0)
		die("sched_setscheduler(SCHED_BATCH): %s", strerror(errno));
	env_set("policy", "SCHED_BATCH");
	describe_env();
	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		if (!want(only, sections[i].name) ||
		    (sections[i].named_only && !only))
			continue;
		progress("[%zu/%zu] %s", i + 1,
			 sizeof(sections) / sizeof(sections[0]),
			 sections[i].name);
		sections[i].fn();
	}
	report(json);
	return 0;
}
