// SPDX-License-Identifier: GPL-2.0
/*
 * The harvest of scheduler-mode events (np_poll):
 *
 * - a TIMEOUT decided by the timer is checked again when it is
 *   harvested: a deadline moved into the future since makes it no
 *   timeout (the mode stays armed), as Go's woken waiter checks again;
 * - the copy to user space holds no lock a close needs: np_close of a
 *   descriptor whose event is being copied returns before the copy ends,
 *   and no event is lost or delivered twice.
 */

#include "../build/kselftest/kselftest_harness.h"
#include "npoll_test_util.h"
#include "stress.h"

static long stat_of(np_poller *p, bool armed)
{
	struct np_stats st;

	if (np_stats(p, &st))
		return -1;
	return (long)(armed ? st.armed : st.events);
}

static bool events_queued(np_poller *p, long n)
{
	for (int k = 0; k < 20000; k++) {
		if (stat_of(p, false) == n)
			return true;
		npoll_test_sleep_ns(NPT_MS);
	}
	return false;
}

FIXTURE(armed)
{
	np_poller *p;
	np_desc *pd;
	int sv[2];
};

FIXTURE_SETUP(armed)
{
	NPT_OPEN_POLLER(self->p);
	ASSERT_EQ(0, npt_unix_pair(self->sv));
	ASSERT_EQ(0, np_open(self->p, self->sv[0], 5, &self->pd));
	ASSERT_EQ(NP_PENDING, np_arm(self->pd, NP_READ));
	/* Armed: the setter arms the timer; it decides the outcome. */
	ASSERT_EQ(0, np_set_deadline(self->pd, NPT_MS, NP_READ));
	ASSERT_TRUE(events_queued(self->p, 1));
}

FIXTURE_TEARDOWN(armed)
{
	np_close(self->pd);
	close(self->sv[0]);
	close(self->sv[1]);
	np_poller_close(self->p);
}

/* Extended before the harvest: no timeout; the mode is still armed. */
TEST_F(armed, timeout_extended_before_harvest_is_not_delivered)
{
	struct np_event ev[2];

	ASSERT_EQ(0, np_set_deadline(self->pd, 3600 * NPT_SEC, NP_READ));
	EXPECT_EQ(0, np_poll(self->p, ev, 2, 0));
	EXPECT_EQ(1, stat_of(self->p, true));
	EXPECT_EQ(0, stat_of(self->p, false));
	/* Still one waiter: a second arm is refused. */
	EXPECT_EQ(-EBUSY, np_arm(self->pd, NP_READ));
	/* Readiness decides it now. */
	ASSERT_EQ(1, write(self->sv[1], "x", 1));
	ASSERT_EQ(1, np_poll(self->p, ev, 2, NPT_PATIENCE));
	EXPECT_EQ(5u, ev[0].user);
	EXPECT_EQ(NP_READ, ev[0].mode);
	EXPECT_EQ(NP_OK, ev[0].result);
	EXPECT_EQ(0, stat_of(self->p, true));
}

/* Cleared before the harvest: the same. */
TEST_F(armed, timeout_cleared_before_harvest_is_not_delivered)
{
	struct np_event ev[2];

	ASSERT_EQ(0, np_set_deadline(self->pd, 0, NP_READ));
	EXPECT_EQ(0, np_poll(self->p, ev, 2, 0));
	EXPECT_EQ(1, stat_of(self->p, true));
	/* Unblock decides it. */
	ASSERT_EQ(0, np_unblock(self->pd));
	ASSERT_EQ(1, np_poll(self->p, ev, 2, NPT_PATIENCE));
	EXPECT_EQ(NP_ERR_CLOSING, ev[0].result);
}

/* Extended, then readiness, then the harvest: NP_OK. */
TEST_F(armed, timeout_extended_with_readiness_is_delivered_as_ok)
{
	struct np_event ev[2];

	ASSERT_EQ(0, np_set_deadline(self->pd, 3600 * NPT_SEC, NP_READ));
	ASSERT_EQ(1, write(self->sv[1], "x", 1));
	ASSERT_EQ(1, np_poll(self->p, ev, 2, 0));
	EXPECT_EQ(NP_OK, ev[0].result);
	/* The readiness was consumed by that outcome. */
	ASSERT_EQ(NP_PENDING, np_arm(self->pd, NP_READ));
}

/* Extended, then made to expire again: the timer ends it once more. */
TEST_F(armed, timeout_extended_then_expiring_again_is_delivered)
{
	struct np_event ev[2];

	ASSERT_EQ(0, np_set_deadline(self->pd, 2 * NPT_MS, NP_READ));
	ASSERT_EQ(1, np_poll(self->p, ev, 2, NPT_PATIENCE));
	EXPECT_EQ(NP_ERR_TIMEOUT, ev[0].result);
	EXPECT_EQ(0, stat_of(self->p, true));
	EXPECT_EQ(0, stat_of(self->p, false));
}

/* Not changed: delivered as the timeout it is. */
TEST_F(armed, timeout_not_changed_is_delivered)
{
	struct np_event ev[2];

	ASSERT_EQ(1, np_poll(self->p, ev, 2, 0));
	EXPECT_EQ(NP_ERR_TIMEOUT, ev[0].result);
}

struct harvester {
	int dev;
	struct npoll_event *ev;
	atomic_int done;
	int ret;
	pthread_t th;
};

static void *harvester_fn(void *arg)
{
	struct harvester *h = arg;

	struct npoll_poll_args a = {
		.events = (uintptr_t)h->ev, .max = 1, .timeout_ns = NPT_PATIENCE,
	};

	stress_delay_name("np-harvest");
	/* Its own vCPU: the main thread must run while it is delayed. */
	stress_pin(1);
	h->ret = npt_ioctl(h->dev, NPOLL_IOC_POLL, &a);
	atomic_store(&h->done, 1);
	return NULL;
}


/*
 * The harvester's copy to user space is held (the delay module
 * busy-waits at _copy_to_user for the harvester only, until the test
 * releases it or 8 s pass, short of the soft-lockup watchdog); a close
 * of the descriptor whose event it copies returns while the copy is
 * held, i.e. it does not wait for the copy.  The test waits until the
 * harvester is inside its delay, so the verdict does not depend on how
 * fast the guest runs: a close that waited for the copy returns only
 * after the 8 s bound, with the event written.  Raw ioctls only: the
 * delayed thread spins with preemption off, so the main thread must not
 * need it (no memory unmapped, hence no TLB shootdown).
 */
TEST(close_does_not_wait_for_a_slow_copy)
{
	static struct npoll_event ev[1];
	struct harvester h;
	int sv[2], dev, k, round, entered;
	char byte;
	uint64_t hd;
	struct npoll_stats st;

	NPT_SKIP_USER("the test drives the module's ioctls");
	if (!stress_delay_load("entry:_copy_to_user:np-harvest:8000000"))
		SKIP(return, "needs root and selftests/kmod/npoll_delay_test.ko");
	dev = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, dev);
	ASSERT_EQ(0, npt_unix_pair(sv));
	/*
	 * A round whose copy ran out its 8 s before this thread got to the
	 * close (a guest starved of host CPU) shows nothing: it is run
	 * again, up to three times.
	 */
	for (round = 0; round < 3; round++) {
		bool late;

		ASSERT_TRUE(stress_write_file("/sys/module/npoll_delay_test/parameters/release",
					      "0"));
		memset(ev, 0, sizeof(ev));
		memset(&h, 0, sizeof(h));
		ASSERT_EQ(0, npt_raw_open(dev, sv[0], 9, &hd));
		ASSERT_EQ(NPOLL_PENDING,
			  npt_raw_wait(dev, NPOLL_IOC_ARM, hd, NPOLL_MODE_READ, 0));
		ASSERT_EQ(1, write(sv[1], "x", 1));
		for (k = 0; k < 20000; k++) {
			ASSERT_EQ(0, npt_ioctl(dev, NPOLL_IOC_STATS, &st));
			if (st.events == 1)
				break;
			npoll_test_sleep_ns(NPT_MS);
		}
		ASSERT_EQ(1u, st.events);
		entered = stress_delay_param("entered");
		h.dev = dev;
		h.ev = ev;
		/*
		 * Not on the harvester's vCPU: a thread woken there would
		 * wait for the delay, which spins with preemption off.
		 */
		stress_pin(0);
		ASSERT_EQ(0, pthread_create(&h.th, NULL, harvester_fn, &h));
		/* The harvester is in its copy: the only delay it meets. */
		for (k = 0; k < 20000 && stress_delay_param("entered") <= entered; k++)
			npoll_test_sleep_ns(NPT_MS);
		ASSERT_EQ(entered + 1, stress_delay_param("entered"));
		late = atomic_load(&h.done);
		ASSERT_EQ(0, npt_raw_handle(dev, NPOLL_IOC_CLOSE, hd));
		if (!late) {
			/* The copy is still held: it has not written the event. */
			EXPECT_EQ(0u, __atomic_load_n(&ev[0].user, __ATOMIC_SEQ_CST));
			EXPECT_EQ(0, atomic_load(&h.done));
		}
		ASSERT_TRUE(stress_delay_release());
		pthread_join(h.th, NULL);
		/* Exactly one event, the outcome it had taken before the close. */
		EXPECT_EQ(1, h.ret);
		EXPECT_EQ(9u, ev[0].user);
		EXPECT_EQ(NPOLL_OK, ev[0].result);
		ASSERT_EQ(0, npt_ioctl(dev, NPOLL_IOC_STATS, &st));
		EXPECT_EQ(0u, st.events);
		/* The byte goes, so that the next round's is new readiness. */
		ASSERT_EQ(1, read(sv[0], &byte, 1));
		if (!late)
			break;
		TH_LOG("round %d: the copy's delay ended before the close; again", round);
	}
	stress_delay_unload();
	ASSERT_GT(3, round) TH_LOG("every round's delay ended before the close");
	close(dev);
	close(sv[0]);
	close(sv[1]);
}

/* A faulting copy loses nothing: every event comes once, in order. */
TEST(faulting_copies_lose_and_duplicate_nothing)
{
	enum { N = 40 };
	struct np_event ev[N];
	np_poller *p;
	np_desc *pd[N];
	int sv[N][2], i, got = 0, n;

	NPT_OPEN_POLLER(p);
	for (i = 0; i < N; i++) {
		ASSERT_EQ(0, npt_unix_pair(sv[i]));
		ASSERT_EQ(0, np_open(p, sv[i][0], 100 + i, &pd[i]));
		ASSERT_EQ(NP_PENDING, np_arm(pd[i], NP_READ));
	}
	for (i = 0; i < N; i++) {
		ASSERT_EQ(1, write(sv[i][1], "x", 1));
		ASSERT_TRUE(events_queued(p, i + 1));
	}
	/* Bad buffers between good ones. */
	while (got < N) {
		EXPECT_EQ(-EFAULT, np_poll(p, (struct np_event *)8, 20, 0));
		n = np_poll(p, ev + got, 3, 0);
		ASSERT_GT(n, 0);
		got += n;
	}
	for (i = 0; i < N; i++) {
		EXPECT_EQ((uint64_t)(100 + i), ev[i].user);
		EXPECT_EQ(NP_OK, ev[i].result);
	}
	EXPECT_EQ(0, np_poll(p, ev, N, 0));
	for (i = 0; i < N; i++) {
		np_close(pd[i]);
		close(sv[i][0]);
		close(sv[i][1]);
	}
	np_poller_close(p);
}

TEST_HARNESS_MAIN
