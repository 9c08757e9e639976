// SPDX-License-Identifier: GPL-2.0
/*
 * Tracepoints (trace system "npoll", Documentation/tracing.rst): a
 * scripted sequence of calls on one descriptor produces exactly the
 * expected events, in order, with the right fields; disabled events
 * record nothing; a wait that began before npoll_wait_end was enabled
 * reports waited_ns=0 (no clock read for a disabled event); the event
 * formats carry the documented fields.  And the scheduler sees a
 * thread parked in npoll woken exactly as a thread blocked in read():
 * with the waker's wake flags (WF_SYNC from a socket or pipe writer),
 * read from a kprobe on try_to_wake_up().
 *
 * Each test records into its own tracefs instance (a private ring
 * buffer with the "mono" clock, so that timestamps of different CPUs
 * compare), and removes it afterwards.  Tracing needs root: the
 * unprivileged run skips.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "kselftest_harness.h"
#include "npoll_test_util.h"

#define TR_MAX_EVENTS	64
#define TR_USER		0x5eedf00dULL

static const char *const tr_roots[] = {
	"/sys/kernel/tracing",
	"/sys/kernel/debug/tracing",
};

/* One recorded event: "name: fields" of a trace line, and its time. */
struct tr_event {
	char name[32];
	char fields[224];
	int64_t ts_ns;
};

/* The tracefs mount with npoll's events, mounting it if need be. */
static const char *tr_find_root(void)
{
	char path[256];
	unsigned int i;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/events", tr_roots[i]);
		if (!access(path, F_OK))
			return tr_roots[i];
	}
	if (mount("tracefs", tr_roots[0], "tracefs", 0, NULL))
		return NULL;
	return tr_roots[0];
}

static int tr_write(const char *dir, const char *file, const char *val)
{
	char path[512];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -EIO;
}

/* The whole of a tracefs file into a malloc'ed string, or NULL. */
static char *tr_slurp(const char *dir, const char *file)
{
	size_t len = 0, cap = 65536;
	char path[512], *buf;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	buf = malloc(cap);
	while (buf) {
		n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += n;
		if (cap - len < 4096)
			buf = realloc(buf, cap *= 2);
	}
	close(fd);
	if (buf)
		buf[len] = '\0';
	return buf;
}

/*
 * Parse the npoll events out of an instance's "trace" file, e.g.
 *   trace_test-97 [001] d.h2. 31.502217: npoll_deadline: handle=... mode=read
 * Returns the number of events (at most @max), or -1 if unreadable.
 */
static int tr_read(const char *inst, struct tr_event *ev, int max)
{
	char *buf = tr_slurp(inst, "trace"), *line, *save = NULL;
	int n = 0;

	if (!buf)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *at = strstr(line, ": npoll_"), *ts, *colon;
		long long sec, usec;

		if (line[0] == '#' || !at || n == max)
			continue;
		for (ts = at; ts > line && ts[-1] != ' '; ts--)
			;
		if (sscanf(ts, "%lld.%lld", &sec, &usec) != 2)
			continue;
		colon = strchr(at + 2, ':');
		if (!colon)
			continue;
		memset(&ev[n], 0, sizeof(ev[n]));
		snprintf(ev[n].name, sizeof(ev[n].name), "%.*s",
			 (int)(colon - at - 2), at + 2);
		snprintf(ev[n].fields, sizeof(ev[n].fields), "%s",
			 colon[1] == ' ' ? colon + 2 : colon + 1);
		ev[n].ts_ns = sec * 1000000000LL + usec * 1000;
		n++;
	}
	free(buf);
	return n;
}

/* The value of "key=value" in an event's fields, into @out; false if none. */
static bool tr_field(const struct tr_event *ev, const char *key, char *out,
		     size_t len)
{
	size_t klen = strlen(key);
	const char *p = ev->fields;

	while (p && *p) {
		if (!strncmp(p, key, klen) && p[klen] == '=') {
			p += klen + 1;
			snprintf(out, len, "%.*s", (int)strcspn(p, " "), p);
			return true;
		}
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	return false;
}

static long long tr_num(const struct tr_event *ev, const char *key)
{
	char v[64];

	return tr_field(ev, key, v, sizeof(v)) ? strtoll(v, NULL, 0) : -1;
}

/* Does the '|'-separated flag list of @key contain @flag? */
static bool tr_has_flag(const struct tr_event *ev, const char *key,
			const char *flag)
{
	char v[128], *tok, *save = NULL;

	if (!tr_field(ev, key, v, sizeof(v)))
		return false;
	for (tok = strtok_r(v, "|", &save); tok;
	     tok = strtok_r(NULL, "|", &save))
		if (!strcmp(tok, flag))
			return true;
	return false;
}

/* A thread blocked in a raw NPOLL_IOC_WAIT. */
struct tr_waiter {
	pthread_t th;
	int dev;
	uint64_t handle;
	uint32_t mode;
	int result;
	atomic_int tid;		/* the thread's, once it runs */
	int64_t t0, t1;		/* CLOCK_MONOTONIC around the ioctl */
};

static void *tr_waiter_fn(void *arg)
{
	struct tr_waiter *w = arg;

	atomic_store(&w->tid, (int)gettid());
	w->t0 = npoll_test_now();
	w->result = npt_raw_wait(w->dev, NPOLL_IOC_WAIT, w->handle, w->mode, 0);
	w->t1 = npoll_test_now();
	return NULL;
}

/* Start a waiter and return once it is parked (np_stats waiters == 1). */
static bool tr_park(struct tr_waiter *w, int dev, uint64_t h, uint32_t mode)
{
	int64_t end = npoll_test_now() + NPT_PATIENCE;

	memset(w, 0, sizeof(*w));
	w->dev = dev;
	w->handle = h;
	w->mode = mode;
	if (pthread_create(&w->th, NULL, tr_waiter_fn, w))
		return false;
	while (npt_raw_stat(dev, true) != 1) {
		if (npoll_test_now() > end) {
			npt_raw_handle(dev, NPOLL_IOC_UNBLOCK, h);
			pthread_join(w->th, NULL);
			return false;
		}
		npoll_test_sleep_ns(NPT_MS);
	}
	return true;
}

FIXTURE(trace) {
	const char *root;
	char inst[256];
	bool have_inst;
	int dev;
	int sv[2];
};

FIXTURE_SETUP(trace)
{
	char path[512];

	self->dev = self->sv[0] = self->sv[1] = -1;
	self->have_inst = false;
	if (geteuid() != 0)
		SKIP(return, "tracefs needs root");
	self->root = tr_find_root();
	if (!self->root)
		SKIP(return, "no tracefs (CONFIG_TRACING) at %s or %s",
		     tr_roots[0], tr_roots[1]);
	snprintf(path, sizeof(path), "%s/events/npoll", self->root);
	ASSERT_EQ(0, access(path, F_OK)) TH_LOG("no %s: no npoll tracepoints", path);
	snprintf(self->inst, sizeof(self->inst), "%s/instances/npoll_trace_test.%d",
		 self->root, getpid());
	ASSERT_EQ(0, mkdir(self->inst, 0755)) TH_LOG("mkdir %s: %s", self->inst,
						     strerror(errno));
	self->have_inst = true;
	ASSERT_EQ(0, tr_write(self->inst, "trace_clock", "mono"));
	NPT_OPEN_DEV(self->dev);
	ASSERT_EQ(0, npt_unix_pair(self->sv));
}

FIXTURE_TEARDOWN(trace)
{
	if (self->have_inst) {
		tr_write(self->inst, "events/npoll/enable", "0");
		if (rmdir(self->inst))
			TH_LOG("rmdir %s: %s", self->inst, strerror(errno));
	}
	if (self->dev >= 0)
		close(self->dev);
	if (self->sv[0] >= 0)
		close(self->sv[0]);
	if (self->sv[1] >= 0)
		close(self->sv[1]);
}

static void tr_poke(FIXTURE_DATA(trace) *self)
{
	if (write(self->sv[1], "x", 1) != 1)
		abort();
}

/* What one event of the script must be. */
struct tr_expect {
	const char *name;
	const char *mode;	/* exact, or NULL: no mode field */
	const char *result;	/* exact, or NULL: no result field */
};

/*
 * The script, one descriptor H (sv[0] of an AF_UNIX pair, cookie U):
 *
 *   open                     ready(write), open
 *   waiter parks, 20 ms,     wait_start(read), ready(read),
 *   peer writes              wait_end(read, ok)
 *   waiter parks, read       wait_start(read), set_deadline(read),
 *   deadline in 20 ms        deadline(read), wait_end(read, timeout)
 *   deadline cleared; arm    set_deadline(read), arm(read, pending),
 *   read, peer writes, poll  ready(read), harvest(read, ok)
 *   reset write; waiter      wait_start(write), unblock,
 *   parks, unblock           wait_end(write, closing)
 *   close                    close
 *
 * The readiness at open is the socket's writability: the file's mask
 * becomes initial readiness before the descriptor is published, so
 * npoll_ready comes just before npoll_open.
 */
static const struct tr_expect tr_script[] = {
	{ "npoll_ready", "write", NULL },
	{ "npoll_open", NULL, NULL },
	{ "npoll_wait_start", "read", NULL },
	{ "npoll_ready", "read", NULL },
	{ "npoll_wait_end", "read", "ok" },
	{ "npoll_wait_start", "read", NULL },
	{ "npoll_set_deadline", "read", NULL },
	{ "npoll_deadline", "read", NULL },
	{ "npoll_wait_end", "read", "timeout" },
	{ "npoll_set_deadline", "read", NULL },
	{ "npoll_arm", "read", "pending" },
	{ "npoll_ready", "read", NULL },
	{ "npoll_harvest", "read", "ok" },
	{ "npoll_wait_start", "write", NULL },
	{ "npoll_unblock", NULL, NULL },
	{ "npoll_wait_end", "write", "closing" },
	{ "npoll_close", NULL, NULL },
};

#define TR_NSCRIPT ((int)(sizeof(tr_script) / sizeof(tr_script[0])))

static void tr_log_events(struct __test_metadata *_metadata,
			  const struct tr_event *ev, int n)
{
	int i;

	for (i = 0; i < n; i++)
		TH_LOG("  %2d %s: %s", i, ev[i].name, ev[i].fields);
}

TEST_F(trace, scripted_sequence_gives_exactly_these_events)
{
	struct npoll_poll_args pa = { 0 };
	struct tr_event ev[TR_MAX_EVENTS];
	struct tr_waiter rd_ok, rd_to, wr_cl;
	struct npoll_event out[4];
	char want[128], got[128];
	long long poller;
	uint64_t h = 0;
	int i, n;

	NPT_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, tr_write(self->inst, "events/npoll/enable", "1"));

	ASSERT_EQ(0, npt_raw_open(self->dev, self->sv[0], TR_USER, &h));

	ASSERT_TRUE(tr_park(&rd_ok, self->dev, h, NPOLL_MODE_READ));
	npoll_test_sleep_ns(20 * NPT_MS);
	tr_poke(self);
	pthread_join(rd_ok.th, NULL);
	EXPECT_EQ(NPOLL_OK, rd_ok.result);

	ASSERT_TRUE(tr_park(&rd_to, self->dev, h, NPOLL_MODE_READ));
	ASSERT_EQ(0, npt_raw_deadline(self->dev, h, 20 * NPT_MS,
				      NPOLL_MODE_READ, 0));
	pthread_join(rd_to.th, NULL);
	EXPECT_EQ(NPOLL_ERR_TIMEOUT, rd_to.result);

	ASSERT_EQ(0, npt_raw_deadline(self->dev, h, 0, NPOLL_MODE_READ, 0));
	ASSERT_EQ(NPOLL_PENDING, npt_raw_wait(self->dev, NPOLL_IOC_ARM, h,
					      NPOLL_MODE_READ, 0));
	tr_poke(self);
	pa.events = (uintptr_t)out;
	pa.max = 4;
	pa.timeout_ns = NPT_PATIENCE;
	ASSERT_EQ(1, npt_ioctl(self->dev, NPOLL_IOC_POLL, &pa));
	EXPECT_EQ(TR_USER, out[0].user);
	EXPECT_EQ(NPOLL_MODE_READ, out[0].mode);
	EXPECT_EQ(NPOLL_OK, out[0].result);

	ASSERT_EQ(NPOLL_OK, npt_raw_wait(self->dev, NPOLL_IOC_RESET, h,
					 NPOLL_MODE_WRITE, 0));
	ASSERT_TRUE(tr_park(&wr_cl, self->dev, h, NPOLL_MODE_WRITE));
	ASSERT_EQ(0, npt_raw_handle(self->dev, NPOLL_IOC_UNBLOCK, h));
	pthread_join(wr_cl.th, NULL);
	EXPECT_EQ(NPOLL_ERR_CLOSING, wr_cl.result);

	ASSERT_EQ(0, npt_raw_handle(self->dev, NPOLL_IOC_CLOSE, h));
	ASSERT_EQ(0, tr_write(self->inst, "events/npoll/enable", "0"));

	n = tr_read(self->inst, ev, TR_MAX_EVENTS);
	ASSERT_EQ(TR_NSCRIPT, n) tr_log_events(_metadata, ev, n);

	snprintf(want, sizeof(want), "%#llx", (unsigned long long)h);
	poller = npt_poller_id(self->dev);
	ASSERT_LT(0, poller);
	for (i = 0; i < n; i++) {
		const struct tr_expect *x = &tr_script[i];

		EXPECT_STREQ(x->name, ev[i].name) TH_LOG("event %d", i);
		EXPECT_TRUE(tr_field(&ev[i], "handle", got, sizeof(got)));
		EXPECT_STREQ(want, got) TH_LOG("event %d", i);
		/* Every event names the poller and carries the cookie. */
		EXPECT_EQ(poller, tr_num(&ev[i], "poller")) TH_LOG("event %d", i);
		EXPECT_EQ((long long)TR_USER, tr_num(&ev[i], "user"))
			TH_LOG("event %d", i);
		if (x->mode) {
			EXPECT_TRUE(tr_field(&ev[i], "mode", got, sizeof(got)));
			EXPECT_STREQ(x->mode, got) TH_LOG("event %d", i);
		}
		if (x->result) {
			EXPECT_TRUE(tr_field(&ev[i], "result", got, sizeof(got)));
			EXPECT_STREQ(x->result, got) TH_LOG("event %d", i);
		}
		if (i > 0)
			EXPECT_LE(ev[i - 1].ts_ns, ev[i].ts_ns);
	}
	if (!_metadata->passed)
		tr_log_events(_metadata, ev, n);

	/* The fields the names alone do not pin. */
	EXPECT_TRUE(tr_has_flag(&ev[0], "mask", "OUT")) TH_LOG("%s", ev[0].fields);
	EXPECT_EQ(self->sv[0], tr_num(&ev[1], "fd"));
	EXPECT_EQ((long long)TR_USER, tr_num(&ev[1], "user"));
	EXPECT_EQ(0, tr_num(&ev[2], "canceled"));
	EXPECT_TRUE(tr_has_flag(&ev[3], "mask", "IN")) TH_LOG("%s", ev[3].fields);
	/* The readiness and the deadline name the thread that waited. */
	EXPECT_EQ(atomic_load(&rd_ok.tid), tr_num(&ev[3], "rpid"));
	EXPECT_EQ(0, tr_num(&ev[3], "wpid"));
	EXPECT_EQ(0, tr_num(&ev[0], "rpid"));
	EXPECT_EQ(atomic_load(&rd_to.tid), tr_num(&ev[7], "pid"));
	/* The deadline as stored: absolute, 20 ms after it was set; cleared. */
	EXPECT_LT(rd_to.t0, tr_num(&ev[6], "deadline"));
	EXPECT_GE(rd_to.t1, tr_num(&ev[6], "deadline"));
	EXPECT_EQ(0, tr_num(&ev[9], "deadline"));
	EXPECT_LE(0, tr_num(&ev[7], "lateness_ns"));
	EXPECT_GT(NPT_PATIENCE, tr_num(&ev[7], "lateness_ns"));
	/* The readiness of an armed mode: nobody parked. */
	EXPECT_EQ(0, tr_num(&ev[11], "rpid"));

	/*
	 * waited_ns: the waiter parked at least 20 ms before it was woken;
	 * the wait lies within the ioctl's span as the waiter saw it, and
	 * spans the trace times of its start and end events (1 us print
	 * resolution).
	 */
	{
		const struct { int s, e; struct tr_waiter *w; } span[] = {
			{ 2, 4, &rd_ok }, { 5, 8, &rd_to }, { 13, 15, &wr_cl },
		};

		for (i = 0; i < 3; i++) {
			long long waited = tr_num(&ev[span[i].e], "waited_ns");

			EXPECT_GE(span[i].w->t1 - span[i].w->t0, waited)
				TH_LOG("wait %d: %lld ns", i, waited);
			EXPECT_GE(waited + 2000,
				  ev[span[i].e].ts_ns - ev[span[i].s].ts_ns)
				TH_LOG("wait %d: %lld ns", i, waited);
			if (i < 2)
				EXPECT_LE(20 * NPT_MS, waited)
					TH_LOG("wait %d: %lld ns", i, waited);
		}
	}
}

/* Nothing enabled in the instance: the same calls record nothing. */
TEST_F(trace, disabled_events_record_nothing)
{
	struct tr_event ev[TR_MAX_EVENTS];
	uint64_t h = 0;

	NPT_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, npt_raw_open(self->dev, self->sv[0], TR_USER, &h));
	tr_poke(self);
	EXPECT_EQ(NPOLL_OK, npt_raw_wait(self->dev, NPOLL_IOC_WAIT, h,
					 NPOLL_MODE_READ, 0));
	ASSERT_EQ(0, npt_raw_deadline(self->dev, h, 1000, NPOLL_MODE_READ, 0));
	EXPECT_EQ(NPOLL_ERR_TIMEOUT, npt_raw_wait(self->dev, NPOLL_IOC_WAIT, h,
						  NPOLL_MODE_READ, 0));
	ASSERT_EQ(0, npt_raw_handle(self->dev, NPOLL_IOC_UNBLOCK, h));
	ASSERT_EQ(0, npt_raw_handle(self->dev, NPOLL_IOC_CLOSE, h));
	EXPECT_EQ(0, tr_read(self->inst, ev, TR_MAX_EVENTS));
}

/*
 * The start time of a wait is read only while npoll_wait_end is
 * enabled: enabled after the waiter parked, it reports waited_ns=0.
 * (The enable state of a tracepoint is global: enabled elsewhere, as
 * in the top-level buffer, the start time is read.)
 */
TEST_F(trace, wait_end_enabled_mid_wait_reports_zero_waited)
{
	struct tr_event ev[TR_MAX_EVENTS];
	struct tr_waiter w;
	char dir[512], *top;
	uint64_t h = 0;
	bool on;
	int n;

	NPT_RETURN_IF_SKIPPED();
	snprintf(dir, sizeof(dir), "%s/events/npoll/npoll_wait_end", self->root);
	top = tr_slurp(dir, "enable");
	ASSERT_NE(NULL, top);
	on = top[0] != '0';
	free(top);
	if (on)
		SKIP(return, "npoll_wait_end is enabled outside this test");
	ASSERT_EQ(0, npt_raw_open(self->dev, self->sv[0], TR_USER, &h));
	ASSERT_TRUE(tr_park(&w, self->dev, h, NPOLL_MODE_READ));
	ASSERT_EQ(0, tr_write(self->inst, "events/npoll/npoll_wait_end/enable",
			      "1"));
	tr_poke(self);
	pthread_join(w.th, NULL);
	EXPECT_EQ(NPOLL_OK, w.result);
	ASSERT_EQ(0, npt_raw_handle(self->dev, NPOLL_IOC_CLOSE, h));
	n = tr_read(self->inst, ev, TR_MAX_EVENTS);
	ASSERT_EQ(1, n) tr_log_events(_metadata, ev, n);
	EXPECT_STREQ("npoll_wait_end", ev[0].name);
	EXPECT_EQ(0, tr_num(&ev[0], "waited_ns"));
}

/* The events, and the fields each one records (Documentation/tracing.rst). */
static const struct {
	const char *name;
	const char *fields[7];
} tr_formats[] = {
	{ "npoll_open", { "u64 handle", "u64 user", "int fd" } },
	{ "npoll_close", { "u64 handle", "u64 user" } },
	{ "npoll_unblock", { "u64 handle", "u64 user" } },
	{ "npoll_wait_start", { "u64 handle", "u64 user", "u32 mode",
				"u32 canceled" } },
	{ "npoll_wait_end", { "u64 handle", "u64 user", "u64 waited_ns",
			      "u32 mode", "int result" } },
	{ "npoll_ready", { "u64 handle", "u64 user", "u32 mode", "u32 mask",
			   "pid_t rpid", "pid_t wpid" } },
	{ "npoll_deadline", { "u64 handle", "u64 user", "s64 lateness_ns",
			      "u32 mode", "pid_t pid" } },
	{ "npoll_set_deadline", { "u64 handle", "u64 user", "s64 deadline",
				  "u32 mode" } },
	{ "npoll_arm", { "u64 handle", "u64 user", "u32 mode", "int result" } },
	{ "npoll_harvest", { "u64 handle", "u64 user", "u32 mode",
			     "int result" } },
};

#define TR_NFORMATS ((int)(sizeof(tr_formats) / sizeof(tr_formats[0])))

TEST_F(trace, event_formats_have_the_documented_fields)
{
	char dir[512], field[64];
	struct dirent *de;
	int i, j, nev = 0;
	DIR *d;

	NPT_RETURN_IF_SKIPPED();
	for (i = 0; i < TR_NFORMATS; i++) {
		char *fmt;

		snprintf(dir, sizeof(dir), "%s/events/npoll/%s", self->root,
			 tr_formats[i].name);
		fmt = tr_slurp(dir, "format");
		ASSERT_NE(NULL, fmt) TH_LOG("no %s/format", dir);
		/* Every event names its poller. */
		EXPECT_NE(NULL, strstr(fmt, "field:u64 poller;"))
			TH_LOG("%s lacks u64 poller", tr_formats[i].name);
		for (j = 0; j < 7 && tr_formats[i].fields[j]; j++) {
			snprintf(field, sizeof(field), "field:%s;",
				 tr_formats[i].fields[j]);
			EXPECT_NE(NULL, strstr(fmt, field))
				TH_LOG("%s lacks %s", tr_formats[i].name, field);
		}
		free(fmt);
	}
	/* No event the documentation does not know. */
	snprintf(dir, sizeof(dir), "%s/events/npoll", self->root);
	d = opendir(dir);
	ASSERT_NE(NULL, d);
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		for (i = 0; i < TR_NFORMATS; i++)
			if (!strcmp(de->d_name, tr_formats[i].name))
				break;
		EXPECT_LT(i, TR_NFORMATS) TH_LOG("undocumented %s", de->d_name);
		nev++;
	}
	closedir(d);
	EXPECT_EQ(TR_NFORMATS, nev);
}

/* --- wake flags -------------------------------------------------------- */

/*
 * A kprobe event on try_to_wake_up(p, state, wake_flags) records the
 * flags (third argument: %dx on x86-64), sched_waking the woken thread;
 * each wake-up of the reader pairs with the waker's last probe hit (the
 * waker's comm-pid leads both lines).
 */
#define WK_GROUP	"npoll_wake_test"
#define WK_READER	"np-wk-reader"

enum wk_how { WK_READ, WK_NP_WAIT, WK_NP_READ };

FIXTURE(wake) {
	const char *root;
	char inst[256];
	bool have_inst, have_probe;
};

static int wk_append(const char *dir, const char *file, const char *val)
{
	char path[512];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -errno;
}

FIXTURE_SETUP(wake)
{
	char path[512];

	self->have_inst = self->have_probe = false;
	if (geteuid() != 0)
		SKIP(return, "tracefs needs root");
#ifndef __x86_64__
	SKIP(return, "the probe reads x86-64's third argument register");
#endif
	self->root = tr_find_root();
	if (!self->root)
		SKIP(return, "no tracefs");
	snprintf(path, sizeof(path), "%s/kprobe_events", self->root);
	if (access(path, W_OK))
		SKIP(return, "no kprobe events (CONFIG_KPROBE_EVENTS)");
	ASSERT_EQ(0, wk_append(self->root, "kprobe_events",
			       "p:" WK_GROUP "/ttwu try_to_wake_up flags=%dx:x32\n"));
	self->have_probe = true;
	snprintf(self->inst, sizeof(self->inst), "%s/instances/npoll_wake_test.%d",
		 self->root, getpid());
	ASSERT_EQ(0, mkdir(self->inst, 0755));
	self->have_inst = true;
	ASSERT_EQ(0, tr_write(self->inst, "events/sched/sched_waking/filter",
			      "comm == \"" WK_READER "\""));
}

FIXTURE_TEARDOWN(wake)
{
	if (self->have_inst) {
		tr_write(self->inst, "events/" WK_GROUP "/ttwu/enable", "0");
		tr_write(self->inst, "events/sched/sched_waking/enable", "0");
		tr_write(self->inst, "events/sched/sched_waking/filter", "0");
		if (rmdir(self->inst))
			TH_LOG("rmdir %s: %s", self->inst, strerror(errno));
	}
	if (self->have_probe && wk_append(self->root, "kprobe_events", "-:" WK_GROUP "/ttwu\n"))
		TH_LOG("could not remove the kprobe event");
}

struct wk_reader {
	pthread_t th;
	enum wk_how how;
	int fd;
	np_desc *pd;
	atomic_int tid;
	long result;
};

static void *wk_reader_fn(void *arg)
{
	struct wk_reader *r = arg;
	uint64_t c;	/* an eventfd reads 8 bytes */

	prctl(PR_SET_NAME, WK_READER, 0, 0, 0);
	atomic_store(&r->tid, gettid());
	switch (r->how) {
	case WK_READ:
		r->result = read(r->fd, &c, sizeof(c));
		break;
	case WK_NP_WAIT:
		r->result = np_wait(r->pd, NP_READ);
		break;
	case WK_NP_READ:
		r->result = np_read(r->pd, &c, sizeof(c));
		break;
	}
	return NULL;
}

/* Is thread @tid of this process asleep ("S" in its stat)? */
static bool wk_sleeping(int tid)
{
	char path[64], buf[256], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'S';
}

/*
 * The wake flags the reader of a fresh @kind pair got when its peer
 * wrote one byte, the reader blocked as @how says; -1 if no wake-up of
 * it was seen, -2 if the reader did not read the byte.
 */
static long long wk_flags_of(FIXTURE_DATA(wake) *self, enum npt_kind kind,
			     enum wk_how how)
{
	struct wk_reader r = { .how = how };
	np_poller *p = NULL;
	long long flags = -1, wflags[64];
	int fds[2], wpid[64], nw = 0, fl;
	int64_t end;
	char *trace, *l, *save;

	if (npt_pair(kind, fds))
		return -3;
	r.fd = fds[0];
	atomic_init(&r.tid, 0);
	fl = fcntl(fds[0], F_GETFL);
	fcntl(fds[0], F_SETFL, how == WK_READ ? fl & ~O_NONBLOCK : fl | O_NONBLOCK);
	if (how != WK_READ && (np_poller_open(&p) || np_open(p, fds[0], 1, &r.pd)))
		goto out;
	if (pthread_create(&r.th, NULL, wk_reader_fn, &r))
		goto out;
	end = npoll_test_now() + NPT_PATIENCE;
	while (!atomic_load(&r.tid) || !wk_sleeping(atomic_load(&r.tid)) ||
	       (p && npt_waiters(p) != 1)) {
		if (npoll_test_now() > end)
			break;
		npoll_test_sleep_ns(NPT_MS);
	}
	tr_write(self->inst, "trace", "");
	tr_write(self->inst, "events/sched/sched_waking/enable", "1");
	tr_write(self->inst, "events/" WK_GROUP "/ttwu/enable", "1");
	if (kind == NPT_EVENTFD) {
		uint64_t one = 1;

		if (write(fds[1], &one, sizeof(one)) != sizeof(one))
			flags = -4;
	} else if (write(fds[1], "x", 1) != 1) {
		flags = -4;
	}
	pthread_join(r.th, NULL);
	tr_write(self->inst, "events/" WK_GROUP "/ttwu/enable", "0");
	tr_write(self->inst, "events/sched/sched_waking/enable", "0");
	if (flags == -4)
		goto out;
	if (how == WK_NP_WAIT ? r.result != NP_OK : r.result <= 0) {
		flags = -2;
		goto out;
	}

	trace = tr_slurp(self->inst, "trace");
	for (l = trace ? strtok_r(trace, "\n", &save) : NULL; l;
	     l = strtok_r(NULL, "\n", &save)) {
		char *dash, *f;
		int pid, i;

		if (l[0] == '#')
			continue;
		/* "  comm-pid  [cpu] flags ts: event: fields" */
		f = strchr(l, '[');
		if (!f)
			continue;
		for (dash = f; dash > l && dash[0] != '-'; dash--)
			;
		pid = atoi(dash + 1);
		if ((f = strstr(l, ": ttwu: "))) {
			f = strstr(f, "flags=");
			for (i = 0; i < nw && wpid[i] != pid; i++)
				;
			if (i == nw && nw < 64)
				nw++;
			if (f && i < 64) {
				wpid[i] = pid;
				wflags[i] = strtoll(f + 6, NULL, 0);
			}
		} else if ((f = strstr(l, ": sched_waking: "))) {
			char want[32];

			snprintf(want, sizeof(want), " pid=%d ", atomic_load(&r.tid));
			if (!strstr(f, want))
				continue;
			for (i = 0; i < nw && wpid[i] != pid; i++)
				;
			if (i < nw)
				flags = wflags[i];
		}
	}
	free(trace);
out:
	if (r.pd)
		np_close(r.pd);
	if (p)
		np_poller_close(p);
	close(fds[0]);
	if (fds[1] != fds[0])
		close(fds[1]);
	return flags;
}

/*
 * The flags of wk_flags_of() that two of three wake-ups agree on (else
 * the first): now and then a reader is woken from elsewhere than its
 * peer's write (a TCP reader by the stack's own work), with other flags.
 */
static long long wk_flags_usual(FIXTURE_DATA(wake) *self, enum npt_kind kind,
				enum wk_how how)
{
	long long f[3];

	for (int i = 0; i < 3; i++)
		f[i] = wk_flags_of(self, kind, how);
	return f[1] == f[2] ? f[1] : f[0];
}

/*
 * For each kind of file, the wake-up of a thread blocked in read() and
 * of one parked in np_wait() and in np_read() carry the same flags.
 * Sockets and pipes wake their readers with WF_SYNC (non-zero flags);
 * an eventfd without it.
 */
/* 45 wake-ups, each with its own pair and threads: slow on a busy guest. */
TEST_F_TIMEOUT(wake, parked_thread_gets_the_wakers_flags, 300)
{
	static const struct {
		enum npt_kind kind;
		const char *name;
		bool sync;
	} kinds[] = {
		{ NPT_UNIX, "unix", true }, { NPT_TCP, "tcp", true },
		{ NPT_UDP, "udp", true }, { NPT_PIPE, "pipe", true },
		{ NPT_EVENTFD, "eventfd", false },
	};

	NPT_RETURN_IF_SKIPPED();
	if (access(NPOLL_DEV, F_OK))
		SKIP(return, "no " NPOLL_DEV);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		long long rd = wk_flags_usual(self, kinds[i].kind, WK_READ);
		long long wt = wk_flags_usual(self, kinds[i].kind, WK_NP_WAIT);
		long long io = wk_flags_usual(self, kinds[i].kind, WK_NP_READ);

		TH_LOG("%s: read() %#llx, np_wait() %#llx, np_read() %#llx",
		       kinds[i].name, rd, wt, io);
		EXPECT_LE(0, rd) TH_LOG("%s", kinds[i].name);
		EXPECT_EQ(rd, wt) TH_LOG("%s", kinds[i].name);
		EXPECT_EQ(rd, io) TH_LOG("%s", kinds[i].name);
		if (kinds[i].sync)
			EXPECT_NE(0, rd) TH_LOG("%s", kinds[i].name);
	}
}

TEST_HARNESS_MAIN
