// SPDX-License-Identifier: GPL-2.0
/*
 * The fast paths: NPOLL_IOC_IO (error check, reset, transfer, wait and
 * retry in one call, for sockets), ordered deadline changes
 * (NPOLL_DEADLINE_SEQ), the library's deferred deadlines, and the lazy
 * arming of the deadline timer (a deadline that passes while nobody
 * waits still counts).
 */
#include <pthread.h>
#include <signal.h>

#include "kselftest_harness.h"
#include "npoll_test_util.h"

FIXTURE(raw) {
	int dev;
	int sv[2];
	uint64_t h;
};

FIXTURE_SETUP(raw)
{
	NPT_OPEN_DEV(self->dev);
	ASSERT_EQ(0, npt_unix_pair(self->sv));
	ASSERT_EQ(0, npt_raw_open(self->dev, self->sv[0], 9, &self->h));
}

FIXTURE_TEARDOWN(raw)
{
	close(self->dev);
	close(self->sv[0]);
	close(self->sv[1]);
}

static long io(int dev, uint64_t h, uint32_t mode, void *buf, size_t len,
	       uint32_t flags, int64_t deadline, uint32_t seq)
{
	struct npoll_io_args a = {
		.handle = h, .mode = mode, .flags = flags,
		.buf = (uintptr_t)buf, .len = len,
		.deadline = deadline, .seq = seq,
	};

	return npt_ioctl(dev, NPOLL_IOC_IO, &a);
}

static int64_t mono(void)
{
	return npoll_test_now();
}

TEST_F(raw, io_reads_ready_data_at_once)
{
	char buf[16];

	ASSERT_EQ(3, write(self->sv[1], "abc", 3));
	EXPECT_EQ(3, io(self->dev, self->h, NPOLL_MODE_READ, buf, sizeof(buf),
			0, 0, 0));
	EXPECT_EQ(0, memcmp(buf, "abc", 3));
}

struct later {
	int fd;
	int64_t delay;
	pthread_t t;
};

static void *later_fn(void *arg)
{
	struct later *l = arg;

	npoll_test_sleep_ns(l->delay);
	if (write(l->fd, "xy", 2) != 2)
		abort();
	return NULL;
}

/* EAGAIN: the call waits for readiness and retries. */
TEST_F(raw, io_waits_for_data)
{
	struct later l = { .fd = self->sv[1], .delay = 50 * NPT_MS };
	char buf[4];

	ASSERT_EQ(0, pthread_create(&l.t, NULL, later_fn, &l));
	EXPECT_EQ(2, io(self->dev, self->h, NPOLL_MODE_READ, buf, sizeof(buf),
			0, 0, 0));
	ASSERT_EQ(0, pthread_join(l.t, NULL));
}

/* The deadline comes with the call; never early. */
TEST_F(raw, io_deadline_times_out)
{
	int64_t d = mono() + 40 * NPT_MS;
	char buf[4];

	EXPECT_EQ(-ETIMEDOUT, io(self->dev, self->h, NPOLL_MODE_READ, buf,
				 sizeof(buf), NPOLL_IO_DEADLINE, d, 1));
	EXPECT_GE(mono(), d);
	/* Sticky, and ahead of ready data (the reset check comes first). */
	ASSERT_EQ(1, write(self->sv[1], "z", 1));
	EXPECT_EQ(-ETIMEDOUT, io(self->dev, self->h, NPOLL_MODE_READ, buf,
				 sizeof(buf), 0, 0, 0));
	/* Cleared by a newer change; an older one is ignored. */
	EXPECT_EQ(-ETIMEDOUT, io(self->dev, self->h, NPOLL_MODE_READ, buf,
				 sizeof(buf), NPOLL_IO_DEADLINE, 0, 1));
	EXPECT_EQ(1, io(self->dev, self->h, NPOLL_MODE_READ, buf, sizeof(buf),
			NPOLL_IO_DEADLINE, 0, 2));
}

TEST_F(raw, io_unblock_cancels)
{
	char buf[4];

	ASSERT_EQ(0, npt_raw_handle(self->dev, NPOLL_IOC_UNBLOCK, self->h));
	ASSERT_EQ(1, write(self->sv[1], "z", 1));
	EXPECT_EQ(-ECANCELED, io(self->dev, self->h, NPOLL_MODE_READ, buf,
				 sizeof(buf), 0, 0, 0));
}

TEST_F(raw, io_write_is_partial_and_never_sigpipe)
{
	static char big[1 << 20];
	long n;

	n = io(self->dev, self->h, NPOLL_MODE_WRITE, big, sizeof(big), 0, 0, 0);
	EXPECT_GT(n, 0);
	EXPECT_LT(n, (long)sizeof(big));
	ASSERT_EQ(0, close(self->sv[1]));
	self->sv[1] = open("/dev/null", O_RDONLY);
	/* The peer is gone: EPIPE, and the process is still alive. */
	EXPECT_EQ(-EPIPE, io(self->dev, self->h, NPOLL_MODE_WRITE, big, 1,
			     0, 0, 0));
}

TEST_F(raw, io_rejects_bad_arguments_and_non_sockets)
{
	int p[2];
	uint64_t hp;
	char buf[4];
	struct npoll_io_args a = { .handle = self->h, .mode = 1,
				   .buf = (uintptr_t)buf, .len = 4 };

	a.flags = 2;
	EXPECT_EQ(-EINVAL, npt_ioctl(self->dev, NPOLL_IOC_IO, &a));
	a.flags = 0;
	a.reserved = 1;
	EXPECT_EQ(-EINVAL, npt_ioctl(self->dev, NPOLL_IOC_IO, &a));
	a.reserved = 0;
	a.deadline = 5;
	EXPECT_EQ(-EINVAL, npt_ioctl(self->dev, NPOLL_IOC_IO, &a));
	a.deadline = 0;
	a.seq = 5;
	EXPECT_EQ(-EINVAL, npt_ioctl(self->dev, NPOLL_IOC_IO, &a));
	a.seq = 0;
	a.mode = NPOLL_MODE_RW;
	EXPECT_EQ(-EINVAL, npt_ioctl(self->dev, NPOLL_IOC_IO, &a));
	a.mode = 1;
	a.handle = self->h + (1ULL << 32);
	EXPECT_EQ(-EBADF, npt_ioctl(self->dev, NPOLL_IOC_IO, &a));
	a.handle = self->h;
	ASSERT_EQ(1, write(self->sv[1], "z", 1));
	a.buf = 0xffff888000000000ULL;
	EXPECT_EQ(-EFAULT, npt_ioctl(self->dev, NPOLL_IOC_IO, &a));
	EXPECT_EQ(-EFAULT, npt_ioctl(self->dev, NPOLL_IOC_IO, NULL));
	ASSERT_EQ(0, npt_pipe(p));
	ASSERT_EQ(0, npt_raw_open(self->dev, p[0], 0, &hp));
	EXPECT_EQ(-EOPNOTSUPP, io(self->dev, hp, NPOLL_MODE_READ, buf, 4,
				  0, 0, 0));
	close(p[0]);
	close(p[1]);
}

static int set_seq(int dev, uint64_t h, int64_t abs, uint32_t seq)
{
	struct npoll_deadline_args a = {
		.handle = h, .deadline = abs, .mode = NPOLL_MODE_READ,
		.flags = NPOLL_DEADLINE_ABS | NPOLL_DEADLINE_SEQ, .seq = seq,
	};

	return npt_ioctl(dev, NPOLL_IOC_SET_DEADLINE, &a);
}

/* Ordered changes: an older sequence never overwrites a newer one. */
TEST_F(raw, deadline_sequence_orders_changes)
{
	struct npoll_deadline_args a = { .handle = self->h, .mode = 1,
					 .seq = 3 };

	EXPECT_EQ(-EINVAL, npt_ioctl(self->dev, NPOLL_IOC_SET_DEADLINE, &a));
	ASSERT_EQ(0, set_seq(self->dev, self->h, 1, 10));
	EXPECT_EQ(NPOLL_ERR_TIMEOUT, npt_raw_wait(self->dev, NPOLL_IOC_RESET,
						  self->h, NPOLL_MODE_READ, 0));
	ASSERT_EQ(0, set_seq(self->dev, self->h, 0, 9));
	EXPECT_EQ(NPOLL_ERR_TIMEOUT, npt_raw_wait(self->dev, NPOLL_IOC_RESET,
						  self->h, NPOLL_MODE_READ, 0));
	ASSERT_EQ(0, set_seq(self->dev, self->h, 0, 11));
	EXPECT_EQ(NPOLL_OK, npt_raw_wait(self->dev, NPOLL_IOC_RESET, self->h,
					 NPOLL_MODE_READ, 0));
	/* Modulo 2^32: 11 + 2^31 - 1 is newer than 11, and 11 older again. */
	ASSERT_EQ(0, set_seq(self->dev, self->h, 1, 11u + 0x7fffffffu));
	EXPECT_EQ(NPOLL_ERR_TIMEOUT, npt_raw_wait(self->dev, NPOLL_IOC_RESET,
						  self->h, NPOLL_MODE_READ, 0));
	ASSERT_EQ(0, set_seq(self->dev, self->h, 0, 11));
	EXPECT_EQ(NPOLL_ERR_TIMEOUT, npt_raw_wait(self->dev, NPOLL_IOC_RESET,
						  self->h, NPOLL_MODE_READ, 0));
	/* Unordered changes always apply. */
	ASSERT_EQ(0, npt_raw_deadline(self->dev, self->h, 0, NPOLL_MODE_READ, 0));
	EXPECT_EQ(NPOLL_OK, npt_raw_wait(self->dev, NPOLL_IOC_RESET, self->h,
					 NPOLL_MODE_READ, 0));
}

/* No waiter, no timer: a deadline that passed still counts. */
TEST_F(raw, deadline_passes_without_a_waiter)
{
	ASSERT_EQ(0, npt_raw_deadline(self->dev, self->h, 30 * NPT_MS,
				      NPOLL_MODE_READ, 0));
	EXPECT_EQ(NPOLL_OK, npt_raw_wait(self->dev, NPOLL_IOC_RESET, self->h,
					 NPOLL_MODE_READ, 0));
	npoll_test_sleep_ns(60 * NPT_MS);
	EXPECT_EQ(NPOLL_ERR_TIMEOUT, npt_raw_wait(self->dev, NPOLL_IOC_RESET,
						  self->h, NPOLL_MODE_READ, 0));
	EXPECT_EQ(NPOLL_ERR_TIMEOUT, npt_raw_wait(self->dev, NPOLL_IOC_WAIT,
						  self->h, NPOLL_MODE_READ, 0));
	/* The write deadline is independent. */
	EXPECT_EQ(NPOLL_OK, npt_raw_wait(self->dev, NPOLL_IOC_RESET, self->h,
					 NPOLL_MODE_WRITE, 0));
}

/*
 * Both ends of a pipe share its two wait queues: registering both in
 * one poller is not a duplicate, and each end gets its own readiness.
 * The same open file twice (a dup) is.
 */
TEST(pipe_ends_share_queues_but_are_not_duplicates)
{
	int dev = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	uint64_t hr, hw, hx;
	int p[2], dfd;
	char c;

	if (dev < 0 && errno == ENOENT)
		SKIP(return, "no " NPOLL_DEV);
	ASSERT_GE(dev, 0);
	ASSERT_EQ(0, npt_pipe(p));
	ASSERT_EQ(0, npt_raw_open(dev, p[1], 2, &hw));
	ASSERT_EQ(0, npt_raw_open(dev, p[0], 1, &hr));
	dfd = dup(p[0]);
	ASSERT_GE(dfd, 0);
	EXPECT_EQ(-EEXIST, npt_raw_open(dev, dfd, 3, &hx));
	/* The write end starts writable, the read end not readable. */
	EXPECT_EQ(NPOLL_OK, npt_raw_wait(dev, NPOLL_IOC_ARM, hw,
					 NPOLL_MODE_WRITE, 0));
	EXPECT_EQ(NPOLL_PENDING, npt_raw_wait(dev, NPOLL_IOC_ARM, hr,
					      NPOLL_MODE_READ, 0));
	ASSERT_EQ(1, write(p[1], "p", 1));
	{
		struct npoll_event ev[2];
		struct npoll_poll_args a = { .events = (uintptr_t)ev, .max = 2,
					     .timeout_ns = 5 * NPT_SEC };

		ASSERT_EQ(1, npt_ioctl(dev, NPOLL_IOC_POLL, &a));
		EXPECT_EQ(1, ev[0].user);
		EXPECT_EQ(NPOLL_MODE_READ, ev[0].mode);
		EXPECT_EQ(NPOLL_OK, ev[0].result);
	}
	ASSERT_EQ(1, read(p[0], &c, 1));
	EXPECT_EQ(0, npt_raw_handle(dev, NPOLL_IOC_CLOSE, hr));
	EXPECT_EQ(0, npt_raw_handle(dev, NPOLL_IOC_CLOSE, hw));
	/* Closed: the same ends register again. */
	EXPECT_EQ(0, npt_raw_open(dev, dfd, 3, &hx));
	close(dfd);
	close(p[0]);
	close(p[1]);
	close(dev);
}

NPT_UNIX_FIXTURE(lib);

/* The library defers the change; the next read carries it. */
TEST_F(lib, deferred_deadline_reaches_the_read)
{
	char buf[4];
	int64_t t0 = mono();

	ASSERT_EQ(0, np_set_deadline(self->pd, 40 * NPT_MS, NP_READ));
	EXPECT_EQ(-ETIMEDOUT, np_read(self->pd, buf, sizeof(buf)));
	EXPECT_GE(mono() - t0, 40 * NPT_MS);
	ASSERT_EQ(0, np_set_deadline(self->pd, 0, NP_READ));
	ASSERT_EQ(1, write(self->sv[1], "q", 1));
	EXPECT_EQ(1, np_read(self->pd, buf, sizeof(buf)));
	/* Expired, and a reset says so without any read. */
	ASSERT_EQ(0, np_set_deadline(self->pd, -1, NP_READ));
	EXPECT_EQ(NP_ERR_TIMEOUT, np_reset(self->pd, NP_READ));
	EXPECT_EQ(NP_ERR_TIMEOUT, np_wait(self->pd, NP_READ));
	ASSERT_EQ(0, np_set_deadline_at(self->pd, 0, NP_READ));
	EXPECT_EQ(NP_OK, np_reset(self->pd, NP_READ));
}

struct reader {
	np_desc *pd;
	long ret;
	pthread_t t;
};

static void *reader_fn(void *arg)
{
	struct reader *r = arg;
	char buf[8];

	r->ret = np_read(r->pd, buf, sizeof(buf));
	return NULL;
}

/* A change while a read is parked goes to the kernel at once. */
TEST_F(lib, change_while_read_is_parked_applies)
{
	struct reader r = { .pd = self->pd };

	ASSERT_EQ(0, np_set_deadline(self->pd, 60 * NPT_SEC, NP_READ));
	ASSERT_EQ(0, pthread_create(&r.t, NULL, reader_fn, &r));
	ASSERT_TRUE(npt_wait_waiters(self->p, 1));
	ASSERT_EQ(0, np_set_deadline(self->pd, -1, NP_READ));
	ASSERT_EQ(0, pthread_join(r.t, NULL));
	EXPECT_EQ(-ETIMEDOUT, r.ret);
}

/* Re-armed before every read, as net/http does: data always wins. */
TEST_F(lib, rearmed_deadline_per_read)
{
	char c;

	for (int i = 0; i < 200; i++) {
		ASSERT_EQ(0, np_set_deadline(self->pd, 10 * NPT_SEC, NP_READ));
		ASSERT_EQ(1, write(self->sv[1], "r", 1));
		ASSERT_EQ(1, np_read(self->pd, &c, 1));
	}
	ASSERT_EQ(0, np_set_deadline(self->pd, 20 * NPT_MS, NP_READ));
	EXPECT_EQ(-ETIMEDOUT, np_read(self->pd, &c, 1));
}

/* np_write on a socket whose peer is gone: -EPIPE, no SIGPIPE. */
TEST_F(lib, write_to_closed_peer_is_epipe)
{
	ASSERT_EQ(0, close(self->sv[1]));
	self->sv[1] = -1;
	EXPECT_EQ(-EPIPE, np_write(self->pd, "x", 1));
}

TEST_HARNESS_MAIN
