// SPDX-License-Identifier: GPL-2.0
/*
 * What a registration pins, and for how long:
 *
 * - np_close releases the file at once, even while an event of the
 *   descriptor waits to be harvested (queued events own memory only);
 * - the descriptors of one poller, each pinning a file that may have no
 *   fd left, are limited by the caller's RLIMIT_NOFILE (-EMFILE);
 * - a poller sent with SCM_RIGHTS into the queue of an AF_UNIX socket
 *   registered in it does not stay pinned (and the module loaded) once
 *   every fd is closed, in any order of the closes.
 */
#include <poll.h>
#include <sys/resource.h>

#include "../build/kselftest/kselftest_harness.h"
#include "npoll_test_util.h"

static long stat_events(np_poller *p)
{
	struct np_stats st;

	return np_stats(p, &st) ? -1 : (long)st.events;
}

/* Wait, by iteration count, for @n events to be queued. */
static bool events_queued(np_poller *p, long n)
{
	for (int k = 0; k < 20000; k++) {
		if (stat_events(p) == n)
			return true;
		npoll_test_sleep_ns(NPT_MS);
	}
	return false;
}

static long module_refcnt(void)
{
	FILE *f = fopen("/sys/module/npoll/refcnt", "r");
	long v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = "m", .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

/*
 * The peer of a released stream socket sees it now, without waiting:
 * end of file, or ECONNRESET if the released socket had unread data.
 */
static bool eof_now(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c;
	ssize_t n;

	if (poll(&pfd, 1, 0) != 1)
		return false;
	n = recv(fd, &c, 1, MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* An armed mode whose event is queued: np_close releases the file. */
TEST(close_releases_the_file_with_an_event_queued)
{
	struct np_event ev[2];
	np_poller *p;
	np_desc *pd;
	int sv[2];

	NPT_OPEN_POLLER(p);
	ASSERT_EQ(0, npt_unix_pair(sv));
	ASSERT_EQ(0, np_open(p, sv[0], 7, &pd));
	ASSERT_EQ(NP_PENDING, np_arm(pd, NP_READ));
	ASSERT_EQ(1, write(sv[1], "x", 1));
	ASSERT_TRUE(events_queued(p, 1));
	ASSERT_EQ(0, np_close(pd));
	ASSERT_EQ(0, close(sv[0]));
	/* The registration's reference is gone: the socket is released. */
	EXPECT_TRUE(eof_now(sv[1]));
	/* The event is still delivered, as closing. */
	ASSERT_EQ(1, np_poll(p, ev, 2, 0));
	EXPECT_EQ(7u, ev[0].user);
	EXPECT_EQ(NP_ERR_CLOSING, ev[0].result);
	close(sv[1]);
	np_poller_close(p);
}

/* The same with a deadline's event (the timer decided it). */
TEST(close_releases_the_file_with_a_timeout_queued)
{
	struct np_event ev[2];
	np_poller *p;
	np_desc *pd;
	int sv[2];

	NPT_OPEN_POLLER(p);
	ASSERT_EQ(0, npt_unix_pair(sv));
	ASSERT_EQ(0, np_open(p, sv[0], 8, &pd));
	ASSERT_EQ(NP_PENDING, np_arm(pd, NP_READ));
	ASSERT_EQ(0, np_set_deadline(pd, NPT_MS, NP_READ));
	ASSERT_TRUE(events_queued(p, 1));
	ASSERT_EQ(0, np_close(pd));
	ASSERT_EQ(0, close(sv[0]));
	EXPECT_TRUE(eof_now(sv[1]));
	ASSERT_EQ(1, np_poll(p, ev, 2, 0));
	EXPECT_EQ(NP_ERR_CLOSING, ev[0].result);
	close(sv[1]);
	np_poller_close(p);
}

/* Descriptors beyond the caller's RLIMIT_NOFILE fail with -EMFILE. */
TEST(descriptors_are_limited_by_rlimit_nofile)
{
	enum { N = 48, LIMIT = 24 };
	struct rlimit old, rl;
	uint64_t h[N];
	int efd[N], dev, i, ok = 0;

	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &old));
	dev = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, dev);
	for (i = 0; i < N; i++) {
		efd[i] = eventfd(0, EFD_CLOEXEC);
		ASSERT_LE(0, efd[i]);
	}
	/* Only the soft limit: the fds above stay open. */
	rl = old;
	rl.rlim_cur = LIMIT;
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl));
	for (i = 0; i < N; i++) {
		int r = npt_raw_open(dev, efd[i], i, &h[i]);

		if (i < LIMIT) {
			EXPECT_EQ(0, r);
			ok += r == 0;
		} else {
			EXPECT_EQ(-EMFILE, r);
		}
	}
	EXPECT_EQ(LIMIT, ok);
	EXPECT_EQ(LIMIT, npt_raw_stat(dev, false));
	/* A close makes room for one more. */
	EXPECT_EQ(0, npt_raw_handle(dev, NPOLL_IOC_CLOSE, h[0]));
	EXPECT_EQ(0, npt_raw_open(dev, efd[LIMIT], 1, &h[LIMIT]));
	EXPECT_EQ(-EMFILE, npt_raw_open(dev, efd[LIMIT + 1], 1, &h[0]));
	/* Raising the limit again lets registration go on. */
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &old));
	EXPECT_EQ(0, npt_raw_open(dev, efd[LIMIT + 1], 1, &h[0]));
	close(dev);
	for (i = 0; i < N; i++)
		close(efd[i]);
}

FIXTURE(scm)
{
	long base;
	int dev;
	int sv[2];
	uint64_t h;
};

FIXTURE_SETUP(scm)
{
	self->base = module_refcnt();
	if (self->base < 0)
		SKIP(return, "no /sys/module/npoll/refcnt");
	self->dev = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dev);
	ASSERT_EQ(0, npt_unix_pair(self->sv));
	ASSERT_EQ(0, npt_raw_open(self->dev, self->sv[0], 1, &self->h));
	/* Into the queue of the registered socket. */
	ASSERT_EQ(0, send_fd(self->sv[1], self->dev));
	EXPECT_EQ(self->base + 1, module_refcnt());
}

FIXTURE_TEARDOWN(scm)
{
}

/* The cycle poller -> socket -> queued message -> poller is broken. */
TEST_F(scm, poller_closed_first)
{
	close(self->dev);
	close(self->sv[0]);
	close(self->sv[1]);
	EXPECT_EQ(self->base, module_refcnt());
}

TEST_F(scm, poller_closed_last)
{
	close(self->sv[0]);
	close(self->sv[1]);
	close(self->dev);
	EXPECT_EQ(self->base, module_refcnt());
}

TEST_F(scm, receiving_socket_closed_last)
{
	close(self->sv[1]);
	close(self->dev);
	close(self->sv[0]);
	EXPECT_EQ(self->base, module_refcnt());
}

/*
 * Only the registrations of sockets whose queues hold the poller are
 * dropped to break the cycle; another AF_UNIX socket's stays until the
 * poller goes, and then its file is released too.
 */
TEST_F(scm, only_the_sockets_holding_the_poller_are_dropped)
{
	int other[2];
	uint64_t h2;

	ASSERT_EQ(0, npt_unix_pair(other));
	ASSERT_EQ(0, npt_raw_open(self->dev, other[0], 2, &h2));
	close(self->dev);
	close(self->sv[0]);
	close(self->sv[1]);
	EXPECT_EQ(self->base, module_refcnt());
	/* The poller released its pin on the other socket's file. */
	close(other[0]);
	EXPECT_TRUE(npt_sees_eof(other[1]));
	close(other[1]);
}

/* With another fd of the poller open nothing is dropped. */
TEST_F(scm, another_fd_keeps_the_registration)
{
	int dup_fd = dup(self->dev);

	ASSERT_LE(0, dup_fd);
	close(self->dev);
	EXPECT_EQ(1, npt_raw_stat(dup_fd, false));
	EXPECT_EQ(0, npt_raw_handle(dup_fd, NPOLL_IOC_UNBLOCK, self->h));
	close(dup_fd);
	close(self->sv[0]);
	close(self->sv[1]);
	EXPECT_EQ(self->base, module_refcnt());
}

TEST_HARNESS_MAIN
