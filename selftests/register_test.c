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


/*
 * One round: a registration whose file's poll takes @delay_us, and an
 * open and close of another file meanwhile.  1: they did not wait for
 * it (and it was not published before it finished), 0: the delay ended
 * before they were done (a stalled guest), so the round proves nothing;
 * -1: they waited or saw it.
 */
static int slow_poll_round(struct __test_metadata *_metadata, long delay_us)
{
	struct slow_open s = { 0 };
	uint64_t h, first;
	int sv[2], efd, unblock, ok = -1;
	char spec[64];

	snprintf(spec, sizeof(spec), "entry:eventfd_poll:np-slowpoll:%ld", delay_us);
	if (!stress_delay_load(spec))
		return -2;
	s.dev = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	efd = eventfd(0, EFD_CLOEXEC);
	if (s.dev < 0 || efd < 0 || npt_unix_pair(sv))
		return -1;
	s.fd = efd;
	if (pthread_create(&s.th, NULL, slow_open_fn, &s))
		return -1;
	/* Inside its poll: the delay module counts the delays begun. */
	while (!atomic_load(&s.done) && stress_delay_param("entered") < 1)
		npoll_test_sleep_ns(NPT_MS);
	/* The slow registration took the first handle (generation 1, slot 0). */
	first = 1ULL << 32 | 1;
	if (npt_raw_open(s.dev, sv[0], 2, &h) == 0 &&
	    npt_raw_handle(s.dev, NPOLL_IOC_CLOSE, h) == 0) {
		/* ... and is not published yet: this open and close did not wait. */
		unblock = npt_raw_handle(s.dev, NPOLL_IOC_UNBLOCK, first);
		if (atomic_load(&s.done))
			ok = 0;
		else
			ok = unblock == -EBADF ? 1 : -1;
	}
	pthread_join(s.th, NULL);
	stress_delay_unload();
	EXPECT_EQ(0, s.ret);
	EXPECT_EQ(0, npt_raw_handle(s.dev, NPOLL_IOC_UNBLOCK, first));
	close(s.dev);
	close(efd);
	close(sv[0]);
	close(sv[1]);
	return ok;
}

FIXTURE(slow) {
	int unused;
};

FIXTURE_SETUP(slow)
{
}

FIXTURE_TEARDOWN(slow)
{
}

/* Up to three rounds of 2, 4 and 6 s. */
TEST_F_TIMEOUT(slow, poll_method_does_not_hold_the_poller, 120)
{
	/*
	 * The delay spins with preemption off (udelay, which runs short
	 * under TCG): below the soft-lockup watchdog's 20 s even on a
	 * loaded host.
	 */
	static const long delays_us[] = { 2000000, 4000000, 6000000 };
	int r = 0;

	for (size_t i = 0; i < sizeof(delays_us) / sizeof(delays_us[0]) && r == 0; i++) {
		r = slow_poll_round(_metadata, delays_us[i]);
		if (r == -2)
			SKIP(return, "needs root and selftests/kmod/npoll_delay_test.ko");
		if (r == 0)
			TH_LOG("the %ld us poll ended before the other calls did: again, longer",
			       delays_us[i]);
	}
	EXPECT_EQ(1, r);
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
