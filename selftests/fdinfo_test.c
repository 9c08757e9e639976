// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/PID/fdinfo of a poller (Documentation/userspace-api.rst,
 * "fdinfo"): the poller's id, one line per descriptor with its handle,
 * fd, file, cookie, and each mode's state and deadline, then the
 * counters of NPOLL_IOC_STATS.  Driven through the raw device, so that
 * every deadline reaches the kernel when it is set.
 */
#include <inttypes.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "kselftest_harness.h"
#include "npoll_test_util.h"

/* One descriptor line of fdinfo. */
struct fdi_desc {
	uint64_t handle, ino, user;
	unsigned int sdev;
	int fd;
	char st[2][16];		/* r, w */
	char dl[2][24];		/* "-", "0" or ns left */
};

struct fdi {
	uint64_t id;
	int n, max;
	struct fdi_desc *d;
	long descs, waiters, armed, events;	/* -1 if the line is missing */
	int bad;		/* lines after "poller:" that parse as neither */
};

/* Read and parse /proc/self/fdinfo/@fd into @fi; false if unreadable. */
static bool fdi_read(int fd, struct fdi *fi, int max)
{
	char path[64], line[512];
	FILE *f;

	memset(fi, 0, sizeof(*fi));
	fi->descs = fi->waiters = fi->armed = fi->events = -1;
	fi->max = max;
	fi->d = calloc(max ? max : 1, sizeof(*fi->d));
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f || !fi->d)
		return false;
	while (fgets(line, sizeof(line), f)) {
		struct fdi_desc x;
		uint64_t id;

		if (sscanf(line, "poller:\t%" SCNu64, &id) == 1) {
			fi->id = id;
		} else if (sscanf(line, "desc: %" SCNx64 " fd: %d ino: %" SCNx64
				  " sdev: %x user: 0x%" SCNx64
				  " r: %15s %23s w: %15s %23s",
				  &x.handle, &x.fd, &x.ino, &x.sdev, &x.user,
				  x.st[0], x.dl[0], x.st[1], x.dl[1]) == 9) {
			if (fi->n < fi->max)
				fi->d[fi->n] = x;
			fi->n++;
		} else if (sscanf(line, "descs: %ld waiters: %ld armed: %ld events: %ld",
				  &fi->descs, &fi->waiters, &fi->armed,
				  &fi->events) == 4) {
			;
		} else if (fi->id) {
			fi->bad++;
		}
	}
	fclose(f);
	return true;
}

static void fdi_free(struct fdi *fi)
{
	free(fi->d);
	fi->d = NULL;
}

/* The line of the descriptor with cookie @user, or NULL. */
static struct fdi_desc *fdi_find(struct fdi *fi, uint64_t user)
{
	for (int i = 0; i < fi->n && i < fi->max; i++)
		if (fi->d[i].user == user)
			return &fi->d[i];
	return NULL;
}

/* The device number as the kernel keeps it (and epoll's fdinfo prints). */
static unsigned int kdev(dev_t d)
{
	return major(d) << 20 | minor(d);
}

FIXTURE(fdinfo) {
	int dev;
	int efd[4];
	uint64_t h[4];
};

FIXTURE_SETUP(fdinfo)
{
	self->dev = -1;
	for (int i = 0; i < 4; i++)
		self->efd[i] = -1;
	NPT_OPEN_DEV(self->dev);
	for (int i = 0; i < 4; i++) {
		self->efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ASSERT_LE(0, self->efd[i]);
		ASSERT_EQ(0, npt_raw_open(self->dev, self->efd[i], 0x1000 + i,
					  &self->h[i]));
	}
}

FIXTURE_TEARDOWN(fdinfo)
{
	if (self->dev >= 0)
		close(self->dev);
	for (int i = 0; i < 4; i++)
		if (self->efd[i] >= 0)
			close(self->efd[i]);
}

/* Every descriptor is listed with its handle, fd, file and cookie. */
TEST_F(fdinfo, lists_each_descriptor_with_its_file)
{
	struct fdi fi;
	int pfd[2];
	uint64_t hp;
	struct stat st;

	ASSERT_EQ(0, npt_pipe(pfd));
	ASSERT_EQ(0, npt_raw_open(self->dev, pfd[0], 0xfeedface12345678ULL, &hp));
	ASSERT_TRUE(fdi_read(self->dev, &fi, 16));
	EXPECT_NE(0, fi.id);
	EXPECT_EQ(0, fi.bad);
	ASSERT_EQ(5, fi.n);
	for (int i = 0; i < 5; i++) {
		int fd = i < 4 ? self->efd[i] : pfd[0];
		uint64_t user = i < 4 ? 0x1000 + (uint64_t)i : 0xfeedface12345678ULL;
		uint64_t h = i < 4 ? self->h[i] : hp;
		struct fdi_desc *d = fdi_find(&fi, user);

		ASSERT_NE(NULL, d);
		ASSERT_EQ(0, fstat(fd, &st));
		EXPECT_EQ(h, d->handle);
		EXPECT_EQ(fd, d->fd);
		EXPECT_EQ((uint64_t)st.st_ino, d->ino);
		EXPECT_EQ(kdev(st.st_dev), d->sdev);
	}
	fdi_free(&fi);
	/* A closed descriptor is gone from the list. */
	ASSERT_EQ(0, npt_raw_handle(self->dev, NPOLL_IOC_CLOSE, hp));
	ASSERT_TRUE(fdi_read(self->dev, &fi, 16));
	EXPECT_EQ(4, fi.n);
	EXPECT_EQ(NULL, fdi_find(&fi, 0xfeedface12345678ULL));
	fdi_free(&fi);
	close(pfd[0]);
	close(pfd[1]);
}

/* Two pollers have two ids; a poller keeps its id. */
TEST_F(fdinfo, poller_ids_are_unique)
{
	struct fdi a, b, c;
	int dev2 = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, dev2);
	ASSERT_TRUE(fdi_read(self->dev, &a, 8));
	ASSERT_TRUE(fdi_read(dev2, &b, 8));
	ASSERT_TRUE(fdi_read(self->dev, &c, 8));
	EXPECT_NE(0, a.id);
	EXPECT_NE(0, b.id);
	EXPECT_NE(a.id, b.id);
	EXPECT_EQ(a.id, c.id);
	EXPECT_EQ(0, b.n);
	EXPECT_EQ(0, b.descs);
	fdi_free(&a);
	fdi_free(&b);
	fdi_free(&c);
	close(dev2);
}

/*
 * Each mode's state and deadline: idle, ready, armed (with a deadline
 * as ns left), waiting (a parked thread), fired (an event not yet
 * harvested), an expired deadline as 0, and back to idle after the
 * harvest.
 */
TEST_F(fdinfo, mode_states_and_deadlines)
{
	struct npt_raw_waiter w;
	struct npoll_event ev[4];
	struct fdi_desc *d;
	struct fdi fi;
	uint64_t one = 1;
	long long left;

	/* 0: nothing; an eventfd is writable from the start. */
	/* 1: read armed, deadline in 60 s. */
	ASSERT_EQ(NPOLL_PENDING, npt_raw_wait(self->dev, NPOLL_IOC_ARM, self->h[1],
					      NPOLL_MODE_READ, 0));
	ASSERT_EQ(0, npt_raw_deadline(self->dev, self->h[1], 60 * NPT_SEC,
				      NPOLL_MODE_READ, 0));
	/* 2: read armed and made ready: an event waits. */
	ASSERT_EQ(NPOLL_PENDING, npt_raw_wait(self->dev, NPOLL_IOC_ARM, self->h[2],
					      NPOLL_MODE_READ, 0));
	ASSERT_EQ(8, write(self->efd[2], &one, 8));
	/* 3: a thread parked on read; the write deadline already expired. */
	ASSERT_EQ(0, npt_raw_deadline(self->dev, self->h[3], -1, NPOLL_MODE_WRITE, 0));
	ASSERT_EQ(0, npt_raw_waiter_start(&w, self->dev, self->h[3], NPOLL_MODE_READ));
	for (int64_t end = npoll_test_now() + NPT_PATIENCE;
	     npt_raw_stat(self->dev, true) < 1 && npoll_test_now() < end;)
		npoll_test_sleep_ns(NPT_MS);
	ASSERT_EQ(1, npt_raw_stat(self->dev, true));

	ASSERT_TRUE(fdi_read(self->dev, &fi, 8));
	ASSERT_EQ(4, fi.n);
	d = fdi_find(&fi, 0x1000);
	ASSERT_NE(NULL, d);
	EXPECT_STREQ("idle", d->st[0]);
	EXPECT_STREQ("-", d->dl[0]);
	EXPECT_STREQ("ready", d->st[1]);
	EXPECT_STREQ("-", d->dl[1]);
	d = fdi_find(&fi, 0x1001);
	ASSERT_NE(NULL, d);
	EXPECT_STREQ("armed", d->st[0]);
	left = strtoll(d->dl[0], NULL, 10);
	EXPECT_LT(0, left);
	EXPECT_GE(60 * NPT_SEC, left);
	EXPECT_STREQ("-", d->dl[1]);
	d = fdi_find(&fi, 0x1002);
	ASSERT_NE(NULL, d);
	EXPECT_STREQ("fired", d->st[0]);
	d = fdi_find(&fi, 0x1003);
	ASSERT_NE(NULL, d);
	EXPECT_STREQ("waiting", d->st[0]);
	EXPECT_STREQ("-", d->dl[0]);
	EXPECT_STREQ("0", d->dl[1]);
	EXPECT_EQ(4, fi.descs);
	EXPECT_EQ(1, fi.waiters);
	EXPECT_EQ(1, fi.armed);
	EXPECT_EQ(1, fi.events);
	fdi_free(&fi);

	/* Harvested: idle again.  Woken: no waiter left. */
	ASSERT_EQ(1, npt_raw_poll(self->dev, ev, 4, 0));
	EXPECT_EQ(0x1002, ev[0].user);
	ASSERT_EQ(8, write(self->efd[3], &one, 8));
	ASSERT_TRUE(npt_raw_waiter_join(&w));
	EXPECT_EQ(NPOLL_OK, w.result);
	ASSERT_TRUE(fdi_read(self->dev, &fi, 8));
	d = fdi_find(&fi, 0x1002);
	ASSERT_NE(NULL, d);
	EXPECT_STREQ("idle", d->st[0]);
	d = fdi_find(&fi, 0x1003);
	ASSERT_NE(NULL, d);
	EXPECT_STREQ("idle", d->st[0]);
	EXPECT_EQ(0, fi.waiters);
	EXPECT_EQ(0, fi.events);
	fdi_free(&fi);
}

/* The counters line is NPOLL_IOC_STATS's. */
TEST_F(fdinfo, counters_match_stats)
{
	struct npoll_stats st;
	struct fdi fi;

	ASSERT_EQ(NPOLL_PENDING, npt_raw_wait(self->dev, NPOLL_IOC_ARM, self->h[0],
					      NPOLL_MODE_READ, 0));
	ASSERT_EQ(0, npt_ioctl(self->dev, NPOLL_IOC_STATS, &st));
	ASSERT_TRUE(fdi_read(self->dev, &fi, 8));
	EXPECT_EQ((long)st.descs, fi.descs);
	EXPECT_EQ((long)st.waiters, fi.waiters);
	EXPECT_EQ((long)st.armed, fi.armed);
	EXPECT_EQ((long)st.events, fi.events);
	fdi_free(&fi);
}

/*
 * Thousands of descriptors, far more than one page of output: every
 * one is listed exactly once (seq_file retries with larger buffers; the
 * walk stops where a buffer is full).
 */
TEST(thousands_of_descriptors_are_all_listed)
{
	int N = npoll_test_sanitized() ? 2000 : 6000;
	struct rlimit rl;
	unsigned char *seen;
	struct fdi fi;
	int dev, *fd;

	NPT_OPEN_DEV(dev);
	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &rl));
	/* Unprivileged, as many as the hard limit allows: still pages of it. */
	if (geteuid() != 0 && rl.rlim_max < (rlim_t)N + 64 && rl.rlim_max >= 1064)
		N = (int)rl.rlim_max - 64;
	if (rl.rlim_cur < (rlim_t)N + 64) {
		rl.rlim_cur = (rlim_t)N + 64;
		if (rl.rlim_max < rl.rlim_cur)
			rl.rlim_max = rl.rlim_cur;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			SKIP(return, "cannot raise RLIMIT_NOFILE to %d", N + 64);
	}
	fd = calloc(N, sizeof(*fd));
	seen = calloc(N, 1);
	ASSERT_TRUE(fd && seen);
	for (int i = 0; i < N; i++) {
		uint64_t h;

		fd[i] = eventfd(0, EFD_CLOEXEC);
		ASSERT_LE(0, fd[i]);
		ASSERT_EQ(0, npt_raw_open(dev, fd[i], i, &h));
	}
	ASSERT_TRUE(fdi_read(dev, &fi, N));
	EXPECT_EQ(0, fi.bad);
	ASSERT_EQ(N, fi.n);
	EXPECT_EQ(N, fi.descs);
	for (int i = 0; i < N; i++) {
		uint64_t u = fi.d[i].user;

		ASSERT_GT((uint64_t)N, u);
		ASSERT_EQ(0, seen[u]);
		seen[u] = 1;
		ASSERT_EQ(fd[u], fi.d[i].fd);
	}
	fdi_free(&fi);
	close(dev);
	for (int i = 0; i < N; i++)
		close(fd[i]);
	free(fd);
	free(seen);
}

TEST_HARNESS_MAIN
