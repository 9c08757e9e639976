// SPDX-License-Identifier: GPL-2.0
/*
 * Tracepoints (trace system "npoll", Documentation/tracing.rst): a
 * scripted sequence of calls on one descriptor produces exactly the
 * expected events, in order, with the right fields; disabled events
 * record nothing; a wait that began before npoll_wait_end was enabled
 * reports waited_ns=0 (no clock read for a disabled event); the event
 * formats carry the documented fields.
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

/* The poller id of fd @dev, from its fdinfo; -1 if not found. */
static long long tr_poller_id(int dev)
{
	char path[64], line[256];
	long long id = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", dev);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "poller:\t%lld", &id) == 1)
			break;
	fclose(f);
	return id;
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
	poller = tr_poller_id(self->dev);
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

TEST_HARNESS_MAIN
