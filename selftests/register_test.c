// SPDX-License-Identifier: GPL-2.0
/*
 * Registration and the poller's lock:
 *
 * - the registered file's poll method runs without the poller's mutex:
 *   a registration whose poll is slow (here made slow by the delay
 *   module at eventfd_poll) does not hold up another registration and
 *   close on the same poller;
 * - the duplicate check walks the file's wait queue with interrupts off
 *   only for a bounded number of entries: a file with more watchers is
 *   refused with -EBUSY instead of being walked.
 */
#include <sys/epoll.h>

#include "../build/kselftest/kselftest_harness.h"
#include "npoll_test_util.h"
#include "stress.h"

struct slow_open {
	int dev;
	int fd;
	atomic_int in;
	atomic_int done;
	int ret;
	uint64_t h;
	pthread_t th;
};

static void *slow_open_fn(void *arg)
{
	struct slow_open *s = arg;

	stress_delay_name("np-slowpoll");
	atomic_store(&s->in, 1);
	s->ret = npt_raw_open(s->dev, s->fd, 1, &s->h);
	atomic_store(&s->done, 1);
	return NULL;
}


TEST(slow_poll_method_does_not_hold_the_poller)
{
	struct slow_open s = { 0 };
	uint64_t h, first;
	int sv[2], efd;

	if (!stress_delay_load("entry:eventfd_poll:np-slowpoll:2000000"))
		SKIP(return, "needs root and selftests/kmod/npoll_delay_test.ko");
	s.dev = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, s.dev);
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, npt_unix_pair(sv));
	s.fd = efd;
	ASSERT_EQ(0, pthread_create(&s.th, NULL, slow_open_fn, &s));
	while (!atomic_load(&s.in))
		npoll_test_sleep_ns(NPT_MS);
	/* Well inside its 2 s poll. */
	npoll_test_sleep_ns(300 * NPT_MS);
	/* The slow registration took the first handle (generation 1, slot 0). */
	first = 1ULL << 32 | 1;
	ASSERT_EQ(0, npt_raw_open(s.dev, sv[0], 2, &h));
	ASSERT_EQ(0, npt_raw_handle(s.dev, NPOLL_IOC_CLOSE, h));
	/* ... and is not published yet: this open and close did not wait. */
	EXPECT_EQ(-EBADF, npt_raw_handle(s.dev, NPOLL_IOC_UNBLOCK, first));
	EXPECT_EQ(0, atomic_load(&s.done));
	pthread_join(s.th, NULL);
	stress_delay_unload();
	EXPECT_EQ(0, s.ret);
	EXPECT_EQ(0, npt_raw_handle(s.dev, NPOLL_IOC_UNBLOCK, first));
	close(s.dev);
	close(efd);
	close(sv[0]);
	close(sv[1]);
}

/* More than 512 watchers on the file's queue: refused, not walked. */
TEST(crowded_wait_queue_is_refused)
{
	enum { N = 540, LESS = 500 };
	int ep[N], efd, dev, i;
	uint64_t h;

	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	dev = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, dev);
	for (i = 0; i < N; i++) {
		struct epoll_event e = { .events = EPOLLIN };

		ep[i] = epoll_create1(EPOLL_CLOEXEC);
		ASSERT_LE(0, ep[i]);
		ASSERT_EQ(0, epoll_ctl(ep[i], EPOLL_CTL_ADD, efd, &e));
	}
	EXPECT_EQ(-EBUSY, npt_raw_open(dev, efd, 1, &h));
	EXPECT_EQ(0, npt_raw_stat(dev, false));
	for (i = LESS; i < N; i++)
		close(ep[i]);
	/* Short enough now; the duplicate is still found behind them. */
	ASSERT_EQ(0, npt_raw_open(dev, efd, 1, &h));
	EXPECT_EQ(-EEXIST, npt_raw_open(dev, efd, 2, &h));
	close(dev);
	for (i = 0; i < LESS; i++)
		close(ep[i]);
	close(efd);
}

TEST_HARNESS_MAIN
