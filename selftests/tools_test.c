// SPDX-License-Identifier: GPL-2.0
/*
 * The tracing recipes of Documentation/tracing.rst, run as written:
 * tools/npoll-waits.bt under bpftrace against waits of known length and
 * outcome, and perf list, perf record + perf script, perf stat and perf
 * trace on the npoll:* events of npoll-demo.
 *
 * bpftrace and perf are not part of every guest: scripts/check adds
 * them to the distro guest (vm-run --add).  Where they are missing, or
 * without root (both need it for tracepoints), the tests skip and say
 * so.
 */
#include <signal.h>
#include <sys/stat.h>

#include "kselftest_harness.h"
#include "npoll_test_util.h"

/* Cookies of the bpftrace workload. */
#define COOKIE_TIMEOUT	0x1111	/* 4369: three 20 ms timeouts */
#define COOKIE_WOKEN	0x2222	/* 8738: one ready, one unblocked */
#define COOKIE_OTHER	0x3333	/* another process: filtered out */
#define TIMEOUT_NS	(20 * NPT_MS)

/* bpftrace compiles its program with LLVM: slow on an emulated guest. */
#define BT_STARTUP_NS	(300 * NPT_SEC)

/* The whole of @path into @buf (NUL-terminated); its length or -1. */
static ssize_t slurp(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;
	ssize_t r;

	if (fd < 0)
		return -1;
	while (n + 1 < len && (r = read(fd, buf + n, len - 1 - n)) > 0)
		n += r;
	close(fd);
	buf[n] = 0;
	return n;
}

/* Occurrences of @word in @s. */
static int count_of(const char *s, const char *word)
{
	int n = 0;

	for (s = strstr(s, word); s; s = strstr(s + 1, word))
		n++;
	return n;
}

/* Lines of @s that contain both @a and @b. */
static int lines_with(const char *s, const char *a, const char *b)
{
	int n = 0;

	while (*s) {
		const char *e = strchrnul(s, '\n');
		const char *x = memmem(s, e - s, a, strlen(a));

		if (x && (!b || memmem(s, e - s, b, strlen(b))))
			n++;
		s = *e ? e + 1 : e;
	}
	return n;
}

/* --- bpftrace's map output ------------------------------------------------ */

/*
 * One printed map entry: "@name[keys]: N" (count()), or "@name[keys]:"
 * followed by hist() bucket lines "[LO, HI)   N |@@@|".  For a
 * histogram, count is the sum of its buckets, lo_min the lower bound
 * of its lowest non-empty bucket and lo_max that of its highest.
 */
struct bt_entry {
	char name[40];
	char keys[64];
	long long count;
	long long lo_min;
	long long lo_max;
};

/* "16K" -> 16384, "1M" -> 1048576. */
static long long bt_size(const char *s)
{
	char *end;
	long long v = strtoll(s, &end, 10);

	switch (*end) {
	case 'K': return v << 10;
	case 'M': return v << 20;
	case 'G': return v << 30;
	default: return v;
	}
}

static int bt_parse(char *out, struct bt_entry *ent, int max)
{
	struct bt_entry *cur = NULL;
	int n = 0;

	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
		char lo[16];
		long long v;

		if (l[0] == '@' && n < max) {
			char *br = strchr(l, '['), *colon = strstr(l, ":");

			if (!colon)
				continue;
			cur = &ent[n++];
			memset(cur, 0, sizeof(*cur));
			cur->lo_min = cur->lo_max = -1;
			if (br && br < colon) {
				char *close = strchr(br, ']');

				snprintf(cur->name, sizeof(cur->name), "%.*s",
					 (int)(br - l - 1), l + 1);
				if (close)
					snprintf(cur->keys, sizeof(cur->keys),
						 "%.*s", (int)(close - br - 1),
						 br + 1);
				colon = close ? strstr(close, ":") : colon;
			} else {
				snprintf(cur->name, sizeof(cur->name), "%.*s",
					 (int)(colon - l - 1), l + 1);
			}
			if (colon && sscanf(colon + 1, "%lld", &v) == 1) {
				cur->count = v;
				cur = NULL;	/* a count, not a histogram */
			}
		} else if (cur && l[0] == '[' &&
			   sscanf(l, "[%15[^,], %*[^)]) %lld", lo, &v) == 2) {
			cur->count += v;
			if (v > 0 && cur->lo_min < 0)
				cur->lo_min = bt_size(lo);
			if (v > 0)
				cur->lo_max = bt_size(lo);
		}
	}
	return n;
}

static const struct bt_entry *bt_find(const struct bt_entry *ent, int n,
				      const char *name, const char *keys)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(ent[i].name, name) && !strcmp(ent[i].keys, keys))
			return &ent[i];
	return NULL;
}

/* Waits that bpftrace must not see: another process's, on its own poller. */
static long long other_process_waits(void)
{
	int pfd[2], st;
	long long id = -1;
	pid_t pid;

	if (pipe(pfd))
		return -1;
	pid = fork();
	if (pid == 0) {
		np_poller *p;
		np_desc *pd;
		int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

		if (efd < 0 || np_poller_open(&p) ||
		    np_open(p, efd, COOKIE_OTHER, &pd))
			_exit(1);
		id = npt_poller_id(np_poller_fd(p));
		np_set_deadline(pd, 10 * NPT_MS, NP_READ);
		if (np_wait(pd, NP_READ) != NP_ERR_TIMEOUT)
			_exit(2);
		if (write(pfd[1], &id, sizeof(id)) != sizeof(id))
			_exit(3);
		_exit(0);
	}
	close(pfd[1]);
	if (pid < 0 || read(pfd[0], &id, sizeof(id)) != sizeof(id))
		id = -1;
	close(pfd[0]);
	if (pid > 0 && (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
			WEXITSTATUS(st)))
		id = -1;
	return id;
}

/*
 * Poller A: three waits of cookie COOKIE_TIMEOUT, each ending at its
 * 20 ms deadline.  Poller B: cookie COOKIE_WOKEN waits once for data
 * written 30 ms later and once until another thread unblocks it.  A
 * child process waits once on a poller of its own.  npoll-waits.bt,
 * given this process's pid, must print exactly these waits, at least
 * 20 ms long for the timeouts (never early), and none of the child's.
 */
TEST(bpftrace_waits_per_poller_and_cookie)
{
	static char out[1 << 16];
	char script[512], path[64], pidarg[16], keys[64];
	struct bt_entry ent[32];
	const struct bt_entry *e;
	long long ida, idb, idc;
	np_poller *a, *b;
	np_desc *pa, *pb;
	struct npt_delayed dw;
	struct npt_waiter w;
	int64_t end;
	int efd, sv[2], st, n, i;
	pid_t bt;

	if (geteuid() != 0)
		SKIP(return, "bpftrace attaches to tracepoints as root only");
	if (!npt_on_path("bpftrace"))
		SKIP(return, "no bpftrace in this guest (scripts/check adds it to the distro guest)");
	ASSERT_TRUE(npt_tree_path(script, sizeof(script), "tools/npoll-waits.bt", R_OK));
	NPT_OPEN_POLLER(a);
	NPT_OPEN_POLLER(b);
	ida = npt_poller_id(np_poller_fd(a));
	idb = npt_poller_id(np_poller_fd(b));
	ASSERT_LT(0, ida);
	ASSERT_LT(0, idb);

	snprintf(path, sizeof(path), "/tmp/npoll-waits.%d", getpid());
	snprintf(pidarg, sizeof(pidarg), "%d", getpid());
	bt = fork();
	ASSERT_LE(0, bt);
	if (bt == 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		execlp("bpftrace", "bpftrace", script, pidarg, (char *)NULL);
		_exit(127);
	}
	/* The BEGIN line comes once every probe is attached. */
	end = npoll_test_now() + BT_STARTUP_NS;
	while (slurp(path, out, sizeof(out)) < 0 || !strstr(out, "Ctrl-C ends")) {
		if (waitpid(bt, &st, WNOHANG) == bt || npoll_test_now() > end) {
			kill(bt, SIGKILL);
			waitpid(bt, &st, 0);
			slurp(path, out, sizeof(out));
			unlink(path);
			ASSERT_TRUE(false) TH_LOG("bpftrace did not start:\n%s", out);
		}
		npoll_test_sleep_ns(100 * NPT_MS);
	}

	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, np_open(a, efd, COOKIE_TIMEOUT, &pa));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(NP_OK, np_set_deadline(pa, TIMEOUT_NS, NP_READ));
		ASSERT_EQ(NP_ERR_TIMEOUT, np_wait(pa, NP_READ));
	}

	ASSERT_EQ(0, npt_unix_pair(sv));
	ASSERT_EQ(0, np_open(b, sv[0], COOKIE_WOKEN, &pb));
	ASSERT_EQ(0, npt_delayed_write(&dw, sv[1], 30 * NPT_MS, "x", 1));
	ASSERT_EQ(NP_OK, np_wait(pb, NP_READ));
	ASSERT_EQ(1, npt_delayed_join(&dw));
	ASSERT_EQ(1, npt_drain(sv[0]));
	ASSERT_EQ(0, npt_waiter_start(&w, pb, NP_READ, NPT_WAIT));
	ASSERT_TRUE(npt_wait_waiters(b, 1));
	ASSERT_EQ(NP_OK, np_unblock(pb));
	ASSERT_TRUE(npt_waiter_join(&w));
	ASSERT_EQ(NP_ERR_CLOSING, w.result);

	idc = other_process_waits();
	ASSERT_LT(0, idc);

	ASSERT_EQ(0, kill(bt, SIGINT));
	ASSERT_EQ(bt, waitpid(bt, &st, 0));
	ASSERT_LE(0, slurp(path, out, sizeof(out)));
	unlink(path);
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0)
		TH_LOG("bpftrace status %#x:\n%s", st, out);
	TH_LOG("pollers %lld %lld (child %lld)\n%s", ida, idb, idc, out);

	n = bt_parse(out, ent, 32);
	ASSERT_LT(0, n);

	snprintf(keys, sizeof(keys), "%lld, timeout", ida);
	e = bt_find(ent, n, "waits", keys);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(3, e->count);
	snprintf(keys, sizeof(keys), "%lld, ok", idb);
	e = bt_find(ent, n, "waits", keys);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(1, e->count);
	snprintf(keys, sizeof(keys), "%lld, closing", idb);
	e = bt_find(ent, n, "waits", keys);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(1, e->count);

	snprintf(keys, sizeof(keys), "%lld, %d", ida, COOKIE_TIMEOUT);
	e = bt_find(ent, n, "wait_us_by_cookie", keys);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(3, e->count);
	/*
	 * A 20 ms deadline runs from np_set_deadline(), the measured wait
	 * from its start: a vCPU stalled in between (the host's scheduling)
	 * makes that wait shorter.  At least one of the three is in the
	 * [16K, 32K) us bucket or above.
	 */
	EXPECT_LE(16384, e->lo_max);
	snprintf(keys, sizeof(keys), "%lld, %d", idb, COOKIE_WOKEN);
	e = bt_find(ent, n, "wait_us_by_cookie", keys);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(2, e->count);

	snprintf(keys, sizeof(keys), "%lld", ida);
	e = bt_find(ent, n, "wait_us_by_poller", keys);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(3, e->count);
	snprintf(keys, sizeof(keys), "%lld", idb);
	e = bt_find(ent, n, "wait_us_by_poller", keys);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(2, e->count);

	/* Exactly those entries: nothing of the child's, nothing else. */
	for (i = 0; i < n; i++) {
		long long id = strtoll(ent[i].keys, NULL, 10);

		EXPECT_TRUE(id == ida || id == idb)
			TH_LOG("@%s[%s]", ent[i].name, ent[i].keys);
	}
	EXPECT_EQ(7, n);

	np_close(pa);
	np_close(pb);
	close(efd);
	close(sv[0]);
	close(sv[1]);
	np_poller_close(a);
	np_poller_close(b);
}

/* --- perf ------------------------------------------------------------------- */

/*
 * npoll-demo's waits (examples/demo.c): a read that waits for data
 * (ok), a deadline expiring and one moved into the past while parked
 * (timeout, twice), and a close from another thread (closing).
 */
#define DEMO_TIMEOUTS	2
#define DEMO_CLOSINGS	1

static const char *const events[] = {
	"npoll_open", "npoll_close", "npoll_unblock", "npoll_wait_start",
	"npoll_wait_end", "npoll_ready", "npoll_deadline",
	"npoll_set_deadline", "npoll_arm", "npoll_harvest",
};

FIXTURE(perf) {
	char dir[64];
	char cmd[512];
	char out[1 << 17];
};

FIXTURE_SETUP(perf)
{
	self->dir[0] = 0;
	if (geteuid() != 0)
		SKIP(return, "perf -a on tracepoints needs root");
	if (!npt_on_path("perf"))
		SKIP(return, "no perf in this guest (scripts/check adds it to the distro guest)");
	if (!npt_on_path("npoll-demo"))
		SKIP(return, "no npoll-demo on PATH");
	if (access(NPOLL_DEV, F_OK))
		SKIP(return, "no " NPOLL_DEV);
	snprintf(self->dir, sizeof(self->dir), "/tmp/npoll-perf.%d", getpid());
	ASSERT_EQ(0, mkdir(self->dir, 0700));
}

FIXTURE_TEARDOWN(perf)
{
	char cmd[128];

	if (self->dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", self->dir);
		if (system(cmd))
			TH_LOG("could not remove %s", self->dir);
	}
}

/* Run @recipe (a shell command line) in the scratch directory. */
static int perf_run(FIXTURE_DATA(perf) *self, const char *recipe)
{
	snprintf(self->cmd, sizeof(self->cmd), "cd '%s' && %s", self->dir,
		 recipe);
	return npt_run(self->cmd, self->out, sizeof(self->out));
}

TEST_F(perf, list_names_every_event)
{
	NPT_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, perf_run(self, "perf list 'npoll:*' 2>&1")) TH_LOG("%s", self->out);
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		char name[64];

		snprintf(name, sizeof(name), "npoll:%s ", events[i]);
		EXPECT_EQ(1, count_of(self->out, name)) TH_LOG("%s\n%s", name, self->out);
	}
}

/*
 * perf record -a, then perf script: every wait of the demo with its
 * outcome, every line naming the poller and the cookie.
 */
TEST_F(perf, record_and_script)
{
	int ok, lines;

	NPT_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, perf_run(self, "perf record -a -e 'npoll:*' -- npoll-demo >demo.out 2>perf.err"))
		TH_LOG("%s", self->out);
	ASSERT_EQ(0, perf_run(self, "perf script 2>perf.err")) TH_LOG("%s", self->out);

	EXPECT_EQ(DEMO_TIMEOUTS, lines_with(self->out, "npoll:npoll_wait_end:", "result=timeout"));
	EXPECT_EQ(DEMO_CLOSINGS, lines_with(self->out, "npoll:npoll_wait_end:", "result=closing"));
	ok = lines_with(self->out, "npoll:npoll_wait_end:", "result=ok");
	EXPECT_LE(1, ok);
	/* Every wait that ended began, and nothing else ended one. */
	EXPECT_EQ(DEMO_TIMEOUTS + DEMO_CLOSINGS + ok,
		  lines_with(self->out, "npoll:npoll_wait_end:", NULL));
	EXPECT_EQ(lines_with(self->out, "npoll:npoll_wait_start:", NULL),
		  lines_with(self->out, "npoll:npoll_wait_end:", NULL));
	EXPECT_LE(1, lines_with(self->out, "npoll:npoll_deadline:", NULL));
	EXPECT_LE(1, lines_with(self->out, "npoll:npoll_set_deadline:", NULL));
	EXPECT_LE(1, lines_with(self->out, "npoll:npoll_open:", NULL));
	lines = lines_with(self->out, "npoll:npoll_", NULL);
	EXPECT_EQ(lines, lines_with(self->out, "npoll:npoll_", " poller="));
	EXPECT_EQ(lines, lines_with(self->out, "npoll:npoll_", " user=0x"));
	if (!_metadata->passed)
		TH_LOG("%s", self->out);
}

/* perf stat counts the demo's waits and at least its timer deadline. */
TEST_F(perf, stat_counts_waits)
{
	long long waits = -1, deadlines = -1, v;
	char ev[64];

	NPT_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, perf_run(self, "perf stat -x, -a -e 'npoll:npoll_wait_end,npoll:npoll_deadline' "
			      "-o stat.csv -- npoll-demo >/dev/null 2>&1 && cat stat.csv"))
		TH_LOG("%s", self->out);
	for (char *l = strtok(self->out, "\n"); l; l = strtok(NULL, "\n")) {
		if (sscanf(l, "%lld,%*[^,],%63[^,]", &v, ev) != 2 &&
		    sscanf(l, "%lld,,%63[^,]", &v, ev) != 2)
			continue;
		if (!strcmp(ev, "npoll:npoll_wait_end"))
			waits = v;
		else if (!strcmp(ev, "npoll:npoll_deadline"))
			deadlines = v;
	}
	EXPECT_LE(DEMO_TIMEOUTS + DEMO_CLOSINGS + 1, waits);
	EXPECT_LE(1, deadlines);
}

/* perf trace prints the events of the demo, each with its fields. */
TEST_F(perf, trace_shows_events)
{
	NPT_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, perf_run(self, "perf trace -a -e 'npoll:*' -o trace.out -- npoll-demo "
			      ">/dev/null 2>&1 && cat trace.out"))
		TH_LOG("%s", self->out);
	EXPECT_LE(DEMO_TIMEOUTS + DEMO_CLOSINGS + 1,
		  lines_with(self->out, "npoll:npoll_wait_end", "waited_ns:"))
		TH_LOG("%s", self->out);
	EXPECT_LE(1, lines_with(self->out, "npoll:npoll_open", "fd:"));
}

TEST_HARNESS_MAIN
