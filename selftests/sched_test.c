// SPDX-License-Identifier: GPL-2.0
/*
 * Scheduler mode (Documentation/userspace-api.rst, NPOLL_IOC_ARM and
 * NPOLL_IOC_POLL): np_arm decides like np_wait without blocking; an armed mode gets exactly one event from np_poll when
 * readiness, its deadline or unblock/close decides it; np_poll's
 * timeout, max and ordering; np_break; events racing close and
 * unblock; thousands of armed descriptors; poller release with armed
 * descriptors and undelivered events.
 */
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "kselftest_harness.h"
#include "npoll_test_util.h"
#include "stress.h"

/* Harvest with a bounded wait; the number of events or -errno. */
static int poll_ms(np_poller *p, struct np_event *ev, int max, int ms)
{
	return np_poll(p, ev, max, ms * NPT_MS);
}

/* Expect no event now, and none within @ms. */
static bool quiet_for(np_poller *p, int ms)
{
	struct np_event ev;

	return poll_ms(p, &ev, 1, ms) == 0;
}

static long stat_armed(np_poller *p)
{
	struct np_stats st;

	return np_stats(p, &st) ? -1 : (long)st.armed;
}

static long stat_events(np_poller *p)
{
	struct np_stats st;

	return np_stats(p, &st) ? -1 : (long)st.events;
}

/* Raise RLIMIT_NOFILE to at least @n; false if not allowed. */
static bool raise_nofile(rlim_t n)
{
	struct rlimit rl;

	/* The user backend holds two duplicate fds per descriptor. */
	if (npt_user_backend())
		n *= 3;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return false;
	if (rl.rlim_cur >= n)
		return true;
	rl.rlim_cur = n;
	if (rl.rlim_max < n)
		rl.rlim_max = n;
	return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

NPT_UNIX_FIXTURE(arm);

/* Long runs (thousands of descriptors, race rounds): their own limit. */
FIXTURE(big) {};
FIXTURE_SETUP(big) {}
FIXTURE_TEARDOWN(big) {}

static void poke(FIXTURE_DATA(arm) *self)
{
	if (write(self->sv[1], "x", 1) != 1)
		abort();
}

/* Pending readiness is consumed at once: NP_OK and no event. */
TEST_F(arm, pending_readiness_returns_ok_without_event)
{
	poke(self);
	EXPECT_EQ(NP_OK, np_arm(self->pd, NP_READ));
	EXPECT_TRUE(quiet_for(self->p, 50));
	/* Consumed: the next arm waits for a new edge. */
	EXPECT_EQ(NP_PENDING, np_arm(self->pd, NP_READ));
	EXPECT_EQ(1, stat_armed(self->p));
}

TEST_F(arm, readiness_delivers_one_ok_event)
{
	struct np_event ev[4];

	ASSERT_EQ(NP_PENDING, np_arm(self->pd, NP_READ));
	EXPECT_EQ(0, np_poll(self->p, ev, 4, 0));
	EXPECT_EQ(1, stat_armed(self->p));
	poke(self);
	ASSERT_EQ(1, poll_ms(self->p, ev, 4, 5000));
	EXPECT_EQ(1, ev[0].user);
	EXPECT_EQ(NP_READ, ev[0].mode);
	EXPECT_EQ(NP_OK, ev[0].result);
	EXPECT_EQ(0, stat_armed(self->p));
	EXPECT_EQ(0, stat_events(self->p));
	/* Exactly one: more data makes no second event. */
	poke(self);
	EXPECT_TRUE(quiet_for(self->p, 50));
}

/* The initial write readiness of a new descriptor, then a real edge. */
TEST_F(arm, write_mode_is_independent)
{
	struct np_event ev[2];
	long filled;

	ASSERT_EQ(NP_PENDING, np_arm(self->pd, NP_READ));
	filled = npt_fill(self->sv[0]);
	ASSERT_GT(filled, 0);
	ASSERT_EQ(NP_PENDING, np_arm(self->pd, NP_WRITE));
	EXPECT_EQ(2, stat_armed(self->p));
	fcntl(self->sv[1], F_SETFL, O_NONBLOCK);
	ASSERT_GT(npt_drain(self->sv[1]), 0);
	ASSERT_EQ(1, poll_ms(self->p, ev, 2, 5000));
	EXPECT_EQ(NP_WRITE, ev[0].mode);
	EXPECT_EQ(NP_OK, ev[0].result);
	EXPECT_EQ(1, stat_armed(self->p));
}

TEST_F(arm, applying_errors_are_returned_at_once)
{
	ASSERT_EQ(0, np_set_deadline(self->pd, -1, NP_READ));
	EXPECT_EQ(NP_ERR_TIMEOUT, np_arm(self->pd, NP_READ));
	/* Precedence: an expired deadline before readiness. */
	poke(self);
	EXPECT_EQ(NP_ERR_TIMEOUT, np_arm(self->pd, NP_READ));
	EXPECT_EQ(NP_PENDING, np_arm(self->pd, NP_WRITE));
	ASSERT_EQ(0, np_set_deadline(self->pd, 0, NP_READ));
	EXPECT_EQ(NP_OK, np_arm(self->pd, NP_READ));
	ASSERT_EQ(0, np_unblock(self->pd));
	EXPECT_EQ(NP_ERR_CLOSING, np_arm(self->pd, NP_READ));
	EXPECT_EQ(0, stat_armed(self->p));
}

/*
 * A read error event of the file: NP_ERR_NOT_POLLABLE, as np_wait.  A UDP
 * socket connected to a closed port: ICMP port unreachable reports
 * EPOLLERR alone.
 */
TEST(error_event_applies_to_read_arm)
{
	struct sockaddr_in sin;
	np_poller *p;
	np_desc *pd;
	int fd, i;

	NPT_OPEN_POLLER(p);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, fd);
	npt_loopback(&sin, npt_closed_port(SOCK_DGRAM));
	ASSERT_EQ(0, connect(fd, (struct sockaddr *)&sin, sizeof(sin)));
	ASSERT_EQ(0, np_open(p, fd, 7, &pd));
	ASSERT_EQ(1, send(fd, "x", 1, 0));
	ASSERT_EQ(1, poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1,
			  20000));
	/* A readiness edge from open may come first. */
	for (i = 0; i < 2; i++)
		if (np_arm(pd, NP_READ) == NP_ERR_NOT_POLLABLE)
			break;
	EXPECT_LT(i, 2);
	np_close(pd);
	np_poller_close(p);
	close(fd);
}

TEST_F(arm, one_waiter_per_mode)
{
	struct npt_waiter w;
	struct np_event ev;

	ASSERT_EQ(NP_PENDING, np_arm(self->pd, NP_READ));
	EXPECT_EQ(-EBUSY, np_arm(self->pd, NP_READ));
	EXPECT_EQ(-EBUSY, np_wait(self->pd, NP_READ));
	/* Decided but not harvested: still busy. */
	poke(self);
	EXPECT_EQ(-EBUSY, np_arm(self->pd, NP_READ));
	ASSERT_EQ(1, poll_ms(self->p, &ev, 1, 5000));
	/* A parked thread makes arming busy too. */
	ASSERT_EQ(0, npt_waiter_start(&w, self->pd, NP_READ, NPT_WAIT));
	ASSERT_TRUE(npt_wait_waiters(self->p, 1));
	EXPECT_EQ(-EBUSY, np_arm(self->pd, NP_READ));
	poke(self);
	ASSERT_TRUE(npt_waiter_join(&w));
	EXPECT_EQ(NP_OK, w.result);
}

TEST_F(arm, bad_mode_is_einval)
{
	EXPECT_EQ(-EINVAL, np_arm(self->pd, 0));
	EXPECT_EQ(-EINVAL, np_arm(self->pd, NP_RW));
	EXPECT_EQ(-EINVAL, np_arm(self->pd, 4));
	EXPECT_EQ(-EINVAL, np_arm(NULL, NP_READ));
}

/* A deadline event: never early, result NP_ERR_TIMEOUT. */
TEST_F(arm, deadline_delivers_timeout_event)
{
	struct np_event ev;
	int64_t t0 = npoll_test_now();

	ASSERT_EQ(0, np_set_deadline(self->pd, 30 * NPT_MS, NP_READ));
	ASSERT_EQ(NP_PENDING, np_arm(self->pd, NP_READ));
	ASSERT_EQ(1, poll_ms(self->p, &ev, 1, 10000));
	EXPECT_GE(npoll_test_now() - t0, 30 * NPT_MS);
	EXPECT_EQ(NP_READ, ev.mode);
	EXPECT_EQ(NP_ERR_TIMEOUT, ev.result);
	/* Sticky until changed, like a wait. */
	EXPECT_EQ(NP_ERR_TIMEOUT, np_arm(self->pd, NP_READ));
}

TEST_F(arm, deadline_moved_into_the_past_fires)
{
	struct np_event ev;

	ASSERT_EQ(0, np_set_deadline(self->pd, 60 * NPT_SEC, NP_READ));
	ASSERT_EQ(NP_PENDING, np_arm(self->pd, NP_READ));
	EXPECT_TRUE(quiet_for(self->p, 30));
	ASSERT_EQ(0, np_set_deadline(self->pd, -1, NP_READ));
	ASSERT_EQ(1, poll_ms(self->p, &ev, 1, 5000));
	EXPECT_EQ(NP_ERR_TIMEOUT, ev.result);
}

/* Extended or cleared while armed: no event from the old deadline. */
TEST_F(arm, deadline_extended_or_cleared_keeps_it_armed)
{
	struct np_event ev;

	ASSERT_EQ(0, np_set_deadline(self->pd, 40 * NPT_MS, NP_READ));
	ASSERT_EQ(NP_PENDING, np_arm(self->pd, NP_READ));
	ASSERT_EQ(0, np_set_deadline(self->pd, 60 * NPT_SEC, NP_READ));
	EXPECT_TRUE(quiet_for(self->p, 150));
	ASSERT_EQ(0, np_set_deadline(self->pd, 0, NP_READ));
	EXPECT_TRUE(quiet_for(self->p, 50));
	EXPECT_EQ(1, stat_armed(self->p));
	poke(self);
	ASSERT_EQ(1, poll_ms(self->p, &ev, 1, 5000));
	EXPECT_EQ(NP_OK, ev.result);
}

TEST_F(arm, write_deadline_fires_write_event_only)
{
	struct np_event ev[2];

	ASSERT_GT(npt_fill(self->sv[0]), 0);
	ASSERT_EQ(NP_PENDING, np_arm(self->pd, NP_READ));
	ASSERT_EQ(NP_PENDING, np_arm(self->pd, NP_WRITE));
	ASSERT_EQ(0, np_set_deadline(self->pd, 20 * NPT_MS, NP_WRITE));
	ASSERT_EQ(1, poll_ms(self->p, ev, 2, 5000));
	EXPECT_EQ(NP_WRITE, ev[0].mode);
	EXPECT_EQ(NP_ERR_TIMEOUT, ev[0].result);
	EXPECT_TRUE(quiet_for(self->p, 50));
	EXPECT_EQ(1, stat_armed(self->p));
}

static int find_mode(struct np_event *ev, int n, int mode)
{
	for (int i = 0; i < n; i++)
		if (ev[i].mode == mode)
			return i;
	return -1;
}

TEST_F(arm, unblock_delivers_closing_to_both_modes)
{
	struct np_event ev[4];
	int n, r, w;

	ASSERT_GT(npt_fill(self->sv[0]), 0);
	ASSERT_EQ(NP_PENDING, np_arm(self->pd, NP_READ));
	ASSERT_EQ(NP_PENDING, np_arm(self->pd, NP_WRITE));
	ASSERT_EQ(0, np_unblock(self->pd));
	n = poll_ms(self->p, ev, 4, 5000);
	if (n == 1)
		n += poll_ms(self->p, ev + 1, 3, 5000);
	ASSERT_EQ(2, n);
	r = find_mode(ev, 2, NP_READ);
	w = find_mode(ev, 2, NP_WRITE);
	ASSERT_GE(r, 0);
	ASSERT_GE(w, 0);
	EXPECT_EQ(NP_ERR_CLOSING, ev[r].result);
	EXPECT_EQ(NP_ERR_CLOSING, ev[w].result);
	EXPECT_TRUE(quiet_for(self->p, 30));
}

/* The first decision wins; later ones change nothing. */
TEST_F(arm, exactly_one_event_per_arm)
{
	struct np_event ev[4];

	ASSERT_EQ(NP_PENDING, np_arm(self->pd, NP_READ));
	poke(self);
	ASSERT_EQ(0, np_set_deadline(self->pd, -1, NP_READ));
	ASSERT_EQ(0, np_unblock(self->pd));
	ASSERT_EQ(1, poll_ms(self->p, ev, 4, 5000));
	EXPECT_EQ(NP_OK, ev[0].result);
	EXPECT_TRUE(quiet_for(self->p, 50));
}

/* Readiness after a timeout event is not lost: the next arm sees it. */
TEST_F(arm, readiness_after_timeout_event_is_kept)
{
	struct np_event ev;

	ASSERT_EQ(0, np_set_deadline(self->pd, -1, NP_READ));
	ASSERT_EQ(NP_ERR_TIMEOUT, np_arm(self->pd, NP_READ));
	ASSERT_EQ(0, np_set_deadline(self->pd, 20 * NPT_MS, NP_READ));
	ASSERT_EQ(NP_PENDING, np_arm(self->pd, NP_READ));
	npoll_test_sleep_ns(60 * NPT_MS);
	poke(self);
	ASSERT_EQ(1, poll_ms(self->p, &ev, 1, 5000));
	EXPECT_EQ(NP_ERR_TIMEOUT, ev.result);
	ASSERT_EQ(0, np_set_deadline(self->pd, 0, NP_READ));
	EXPECT_EQ(NP_OK, np_arm(self->pd, NP_READ));
}

/* np_reset drops readiness remembered while the event was queued. */
TEST_F(arm, reset_drops_readiness_behind_an_event)
{
	struct np_event ev;

	ASSERT_EQ(NP_PENDING, np_arm(self->pd, NP_READ));
	/* The first decides the event, the second is remembered. */
	poke(self);
	poke(self);
	ASSERT_EQ(NP_OK, np_reset(self->pd, NP_READ));
	ASSERT_EQ(1, poll_ms(self->p, &ev, 1, 5000));
	EXPECT_EQ(NP_OK, ev.result);
	EXPECT_EQ(NP_PENDING, np_arm(self->pd, NP_READ));
}

/* Close decides an armed mode with NP_ERR_CLOSING. */
TEST_F(arm, close_delivers_closing_event)
{
	struct np_event ev;

	ASSERT_EQ(NP_PENDING, np_arm(self->pd, NP_READ));
	ASSERT_EQ(0, np_close(self->pd));
	self->pd = NULL;
	ASSERT_EQ(1, poll_ms(self->p, &ev, 1, 5000));
	EXPECT_EQ(1, ev.user);
	EXPECT_EQ(NP_ERR_CLOSING, ev.result);
	EXPECT_TRUE(quiet_for(self->p, 30));
	EXPECT_EQ(0, stat_events(self->p));
}

/* An outcome decided before close but not harvested comes as CLOSING. */
TEST_F(arm, close_rewrites_undelivered_event)
{
	struct np_event ev;

	ASSERT_EQ(NP_PENDING, np_arm(self->pd, NP_READ));
	poke(self);
	for (int i = 0; i < 1000 && stat_events(self->p) != 1; i++)
		npoll_test_sleep_ns(NPT_MS);
	ASSERT_EQ(1, stat_events(self->p));
	ASSERT_EQ(0, np_close(self->pd));
	self->pd = NULL;
	ASSERT_EQ(1, poll_ms(self->p, &ev, 1, 5000));
	EXPECT_EQ(NP_ERR_CLOSING, ev.result);
}

/* A closed descriptor with no armed mode makes no event at all. */
TEST_F(arm, close_without_arm_is_silent)
{
	poke(self);
	ASSERT_EQ(0, np_close(self->pd));
	self->pd = NULL;
	EXPECT_TRUE(quiet_for(self->p, 30));
}

TEST_F(arm, poll_times_out_after_timeout)
{
	struct np_event ev;
	int64_t t0;

	ASSERT_EQ(NP_PENDING, np_arm(self->pd, NP_READ));
	t0 = npoll_test_now();
	EXPECT_EQ(0, np_poll(self->p, &ev, 1, 50 * NPT_MS));
	EXPECT_GE(npoll_test_now() - t0, 50 * NPT_MS);
	t0 = npoll_test_now();
	EXPECT_EQ(0, np_poll(self->p, &ev, 1, 0));
	EXPECT_LT(npoll_test_now() - t0, 5 * NPT_SEC);
}

TEST_F(arm, poll_rejects_bad_arguments)
{
	struct np_event ev;
	struct npoll_poll_args a = { .events = (uintptr_t)&ev, .max = 1 };
	int dev;

	EXPECT_EQ(-EINVAL, np_poll(self->p, &ev, 0, 0));
	EXPECT_EQ(-EINVAL, np_poll(self->p, &ev, -1, 0));
	EXPECT_EQ(-EINVAL, np_poll(self->p, NULL, 1, 0));
	EXPECT_EQ(-EINVAL, np_poll(NULL, &ev, 1, 0));
	/* The raw ioctl: the same checks in the kernel. */
	NPT_OPEN_DEV(dev);
	EXPECT_EQ(0, npt_ioctl(dev, NPOLL_IOC_POLL, &a));
	a.max = 0;
	EXPECT_EQ(-EINVAL, npt_ioctl(dev, NPOLL_IOC_POLL, &a));
	a.max = NPOLL_POLL_MAX + 1;
	EXPECT_EQ(-EINVAL, npt_ioctl(dev, NPOLL_IOC_POLL, &a));
	a.max = 1;
	a.flags = 1;
	EXPECT_EQ(-EINVAL, npt_ioctl(dev, NPOLL_IOC_POLL, &a));
	a.flags = 0;
	a.reserved = 1;
	EXPECT_EQ(-EINVAL, npt_ioctl(dev, NPOLL_IOC_POLL, &a));
	a.reserved = 0;
	a.events = 0xffff888000000000ULL;
	EXPECT_EQ(-EFAULT, npt_ioctl(dev, NPOLL_IOC_POLL, &a));
	EXPECT_EQ(-EFAULT, npt_ioctl(dev, NPOLL_IOC_POLL, NULL));
	close(dev);
}

TEST_F(arm, arm_rejects_flags_and_reserved)
{
	int dev;
	uint64_t h;
	struct npoll_wait_args a;

	NPT_OPEN_DEV(dev);
	ASSERT_EQ(0, npt_raw_open(dev, self->sv[1], 0, &h));
	EXPECT_EQ(-EINVAL, npt_raw_wait(dev, NPOLL_IOC_ARM, h, NPOLL_MODE_READ,
				       NPOLL_WAIT_CANCELED));
	a = (struct npoll_wait_args){ .handle = h, .mode = 1, .reserved = 1 };
	EXPECT_EQ(-EINVAL, npt_ioctl(dev, NPOLL_IOC_ARM, &a));
	EXPECT_EQ(-EBADF, npt_raw_wait(dev, NPOLL_IOC_ARM, h + (1ULL << 32),
				      NPOLL_MODE_READ, 0));
	EXPECT_EQ(NPOLL_OK, npt_raw_wait(dev, NPOLL_IOC_ARM, h,
					 NPOLL_MODE_WRITE, 0));
	close(dev);
}

/* A faulting destination loses nothing: the events stay queued. */
TEST_F(arm, poll_fault_keeps_events)
{
	struct np_event ev[2];
	void *ro;

	ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_EQ(NP_PENDING, np_arm(self->pd, NP_READ));
	poke(self);
	for (int i = 0; i < 1000 && stat_events(self->p) != 1; i++)
		npoll_test_sleep_ns(NPT_MS);
	EXPECT_EQ(-EFAULT, np_poll(self->p, ro, 1, 0));
	EXPECT_EQ(-EFAULT, np_poll(self->p, ro, 1, -1));
	EXPECT_EQ(1, stat_events(self->p));
	ASSERT_EQ(1, np_poll(self->p, ev, 2, 0));
	EXPECT_EQ(NP_OK, ev[0].result);
	munmap(ro, 4096);
}

/* max limits one call; the rest stay, in arrival order. */
/*
 * np_poller_fd is readable while an event waits to be harvested, not
 * for a pending break, and no longer once the event is taken; a poll
 * that does not block leaves the break for the next one that would.
 */
TEST_F(arm, poller_fd_is_readable_while_events_wait)
{
	struct pollfd pf = { .fd = np_poller_fd(self->p), .events = POLLIN };
	struct np_event ev;

	ASSERT_LE(0, pf.fd);
	EXPECT_EQ(0, poll(&pf, 1, 0));
	ASSERT_EQ(NP_PENDING, np_arm(self->pd, NP_READ));
	EXPECT_EQ(0, poll(&pf, 1, 0));
	ASSERT_EQ(0, np_break(self->p));
	EXPECT_EQ(0, poll(&pf, 1, 0));
	poke(self);
	ASSERT_EQ(1, poll(&pf, 1, (int)(NPT_PATIENCE / NPT_MS)));
	EXPECT_TRUE(pf.revents & POLLIN);
	ASSERT_EQ(1, np_poll(self->p, &ev, 1, 0));
	EXPECT_EQ(NP_OK, ev.result);
	EXPECT_EQ(0, poll(&pf, 1, 0));
	EXPECT_EQ(0, np_poll(self->p, &ev, 1, -1));
}

TEST(poll_max_and_order)
{
	enum { N = 40 };
	np_poller *p;
	np_desc *pd[N];
	int sv[N][2];
	struct np_event ev[N];
	int got = 0, n, i;

	NPT_OPEN_POLLER(p);
	for (i = 0; i < N; i++) {
		ASSERT_EQ(0, npt_unix_pair(sv[i]));
		ASSERT_EQ(0, np_open(p, sv[i][0], 100 + i, &pd[i]));
		ASSERT_EQ(NP_PENDING, np_arm(pd[i], NP_READ));
	}
	for (i = 0; i < N; i++) {
		ASSERT_EQ(1, write(sv[i][1], "x", 1));
		/* Let the event be queued before the next one. */
		for (int k = 0; k < 1000 && stat_events(p) != i + 1; k++)
			npoll_test_sleep_ns(NPT_MS / 10);
	}
	while (got < N) {
		n = np_poll(p, ev + got, 3, 0);
		ASSERT_GT(n, 0);
		ASSERT_LE(n, 3);
		got += n;
	}
	for (i = 0; i < N; i++) {
		EXPECT_EQ(100 + i, ev[i].user);
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

struct poller_thread {
	np_poller *p;
	int64_t timeout;
	int ret;
	int64_t took;
	atomic_bool done;
	pthread_t t;
};

static void *poller_fn(void *arg)
{
	struct poller_thread *pt = arg;
	struct np_event ev[4];
	int64_t t0 = npoll_test_now();

	pt->ret = np_poll(pt->p, ev, 4, pt->timeout);
	pt->took = npoll_test_now() - t0;
	atomic_store(&pt->done, true);
	return NULL;
}

static int poller_start(struct poller_thread *pt, np_poller *p, int64_t to)
{
	pt->p = p;
	pt->timeout = to;
	pt->ret = -1;
	atomic_init(&pt->done, false);
	return -pthread_create(&pt->t, NULL, poller_fn, pt);
}

TEST(break_wakes_a_blocked_poll)
{
	struct poller_thread pt;
	np_poller *p;

	NPT_OPEN_POLLER(p);
	ASSERT_EQ(0, poller_start(&pt, p, -1));
	npoll_test_sleep_ns(100 * NPT_MS);
	EXPECT_FALSE(atomic_load(&pt.done));
	ASSERT_EQ(0, np_break(p));
	ASSERT_EQ(0, pthread_join(pt.t, NULL));
	EXPECT_EQ(0, pt.ret);
	np_poller_close(p);
}

TEST(break_before_poll_returns_once)
{
	struct np_event ev;
	np_poller *p;
	int64_t t0;

	NPT_OPEN_POLLER(p);
	/* Several breaks coalesce into one. */
	ASSERT_EQ(0, np_break(p));
	ASSERT_EQ(0, np_break(p));
	ASSERT_EQ(0, np_break(p));
	/* A poll that would not block leaves the break pending. */
	EXPECT_EQ(0, np_poll(p, &ev, 1, 0));
	t0 = npoll_test_now();
	EXPECT_EQ(0, np_poll(p, &ev, 1, 60 * NPT_SEC));
	EXPECT_LT(npoll_test_now() - t0, 10 * NPT_SEC);
	/* Once: the next poll waits its full timeout. */
	t0 = npoll_test_now();
	EXPECT_EQ(0, np_poll(p, &ev, 1, 50 * NPT_MS));
	EXPECT_GE(npoll_test_now() - t0, 50 * NPT_MS);
	EXPECT_EQ(-EINVAL, np_break(NULL));
	np_poller_close(p);
}

/* A blocking poll that returns events consumes a pending break. */
TEST_F(arm, events_consume_a_pending_break)
{
	struct np_event ev;
	int64_t t0;

	ASSERT_EQ(NP_PENDING, np_arm(self->pd, NP_READ));
	poke(self);
	ASSERT_EQ(0, np_break(self->p));
	for (int i = 0; i < 1000 && stat_events(self->p) != 1; i++)
		npoll_test_sleep_ns(NPT_MS);
	ASSERT_EQ(1, np_poll(self->p, &ev, 1, -1));
	t0 = npoll_test_now();
	EXPECT_EQ(0, np_poll(self->p, &ev, 1, 40 * NPT_MS));
	EXPECT_GE(npoll_test_now() - t0, 40 * NPT_MS);
}

static void on_usr1(int sig)
{
	(void)sig;
}

/* A signal ends a blocked poll with -EINTR, even with SA_RESTART. */
TEST(signal_interrupts_poll)
{
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
	struct poller_thread pt;
	np_poller *p;

	NPT_OPEN_POLLER(p);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ASSERT_EQ(0, poller_start(&pt, p, -1));
	npoll_test_sleep_ns(100 * NPT_MS);
	ASSERT_EQ(0, pthread_kill(pt.t, SIGUSR1));
	for (int i = 0; i < 200 && !atomic_load(&pt.done); i++)
		npoll_test_sleep_ns(10 * NPT_MS);
	if (!atomic_load(&pt.done))
		np_break(p);
	ASSERT_EQ(0, pthread_join(pt.t, NULL));
	EXPECT_EQ(-EINTR, pt.ret);
	signal(SIGUSR1, SIG_DFL);
	np_poller_close(p);
}

struct storm {
	np_poller *p;
	long n;
	pthread_t t;
};

static void *storm_fn(void *arg)
{
	struct storm *s = arg;

	for (long i = 0; i < s->n; i++)
		if (np_break(s->p))
			abort();
	return NULL;
}

enum { STORM_PAIRS = 8 };

/* Writes one byte to every pair each time the harvester has armed. */
struct storm_writer {
	int (*sv)[2];
	long rounds;
	sem_t armed;
	pthread_t t;
};

static void *storm_writer_fn(void *arg)
{
	struct storm_writer *w = arg;

	for (long r = 0; r < w->rounds; r++) {
		while (sem_wait(&w->armed))
			;
		for (int i = 0; i < STORM_PAIRS; i++)
			if (write(w->sv[i][1], "x", 1) != 1)
				abort();
	}
	return NULL;
}

/*
 * Breaks from several threads while a harvester blocks in np_poll and
 * another thread makes the armed descriptors ready: every event
 * arrives exactly once, a poll ended by a break returns 0, and no poll
 * ever runs into its timeout.
 */
TEST_F_TIMEOUT(big, break_storm_loses_no_event, 600)
{
	enum { THREADS = 3 };
	long rounds = npoll_test_iters(400), breaks = npoll_test_iters(2000);
	struct storm s[THREADS];
	struct storm_writer w;
	np_poller *p;
	np_desc *pd[STORM_PAIRS];
	int sv[STORM_PAIRS][2];
	long got = 0, zero = 0;
	struct np_event ev[STORM_PAIRS];
	int i, n;

	NPT_OPEN_POLLER(p);
	for (i = 0; i < STORM_PAIRS; i++) {
		ASSERT_EQ(0, npt_unix_pair(sv[i]));
		ASSERT_EQ(0, np_open(p, sv[i][0], i, &pd[i]));
	}
	w.sv = sv;
	w.rounds = rounds;
	ASSERT_EQ(0, sem_init(&w.armed, 0, 0));
	ASSERT_EQ(0, pthread_create(&w.t, NULL, storm_writer_fn, &w));
	for (i = 0; i < THREADS; i++) {
		s[i].p = p;
		s[i].n = breaks;
		ASSERT_EQ(0, pthread_create(&s[i].t, NULL, storm_fn, &s[i]));
	}
	for (long r = 0; r < rounds; r++) {
		unsigned int seen = 0;
		char c;

		for (i = 0; i < STORM_PAIRS; i++) {
			while (read(sv[i][0], &c, 1) == 1)
				;
			ASSERT_EQ(NP_PENDING, np_arm(pd[i], NP_READ));
		}
		ASSERT_EQ(0, sem_post(&w.armed));
		while (seen != (1U << STORM_PAIRS) - 1) {
			int64_t t0 = npoll_test_now();

			n = np_poll(p, ev, STORM_PAIRS, 10 * NPT_SEC);
			ASSERT_GE(n, 0);
			if (n == 0) {
				/* A break may end it early; a timeout is a loss. */
				ASSERT_LT(npoll_test_now() - t0, 10 * NPT_SEC);
				zero++;
				continue;
			}
			for (int k = 0; k < n; k++) {
				ASSERT_EQ(NP_OK, ev[k].result);
				ASSERT_LT(ev[k].user, (uint64_t)STORM_PAIRS);
				ASSERT_EQ(0, seen & (1U << ev[k].user));
				seen |= 1U << ev[k].user;
			}
			got += n;
		}
	}
	for (i = 0; i < THREADS; i++)
		ASSERT_EQ(0, pthread_join(s[i].t, NULL));
	ASSERT_EQ(0, pthread_join(w.t, NULL));
	sem_destroy(&w.armed);
	EXPECT_EQ(0, np_poll(p, ev, STORM_PAIRS, 0));
	EXPECT_EQ(0, stat_events(p));
	EXPECT_EQ(rounds * STORM_PAIRS, got);
	TH_LOG("%ld events, %ld polls ended by a break", got, zero);
	for (i = 0; i < STORM_PAIRS; i++) {
		np_close(pd[i]);
		close(sv[i][0]);
		close(sv[i][1]);
	}
	np_poller_close(p);
}

/*
 * Per-descriptor deadlines over many armed descriptors, and close: ten
 * thousand, or five thousand on the sanitizer kernels, where creating
 * and closing a file costs about a millisecond.  Either fills three
 * levels of the handle table (an xarray of 64-slot nodes: indices from
 * 4096 on need the third), and every descriptor takes the same paths.
 */
TEST_F_TIMEOUT(big, thousands_of_armed_descriptors, 600)
{
	const int N = npoll_test_sanitized() ? 5000 : 10000;
	np_poller *p;
	np_desc **pd;
	int *fd;
	unsigned char *seen;
	struct np_event *ev;
	long ok = 0, to = 0, cl = 0;
	int i, n;

	if (!raise_nofile(N + 64))
		SKIP(return, "cannot raise RLIMIT_NOFILE to %d", N + 64);
	NPT_OPEN_POLLER(p);
	pd = calloc(N, sizeof(*pd));
	fd = calloc(N, sizeof(*fd));
	seen = calloc(N, 1);
	ev = calloc(N, sizeof(*ev));
	ASSERT_TRUE(pd && fd && seen && ev);
	for (i = 0; i < N; i++) {
		fd[i] = eventfd(0, EFD_CLOEXEC);
		ASSERT_GE(fd[i], 0);
		ASSERT_EQ(0, np_open(p, fd[i], i, &pd[i]));
		ASSERT_EQ(NP_OK, np_reset(pd[i], NP_WRITE));
		ASSERT_EQ(NP_PENDING, np_arm(pd[i], NP_READ));
	}
	EXPECT_EQ(N, stat_armed(p));
	/* A third get a deadline, a third readiness, a third close. */
	for (i = 0; i < N; i++) {
		uint64_t one = 1;

		if (i % 3 == 0) {
			ASSERT_EQ(0, np_set_deadline(pd[i], (20 + i % 50) * NPT_MS,
						     NP_READ));
		} else if (i % 3 == 1) {
			ASSERT_EQ(8, write(fd[i], &one, 8));
		} else {
			ASSERT_EQ(0, np_close(pd[i]));
			pd[i] = NULL;
		}
	}
	for (long got = 0; got < N; got += n) {
		n = np_poll(p, ev, N, 10 * NPT_SEC);
		ASSERT_GT(n, 0);
		for (int k = 0; k < n; k++) {
			uint64_t u = ev[k].user;

			ASSERT_LT(u, (uint64_t)N);
			ASSERT_EQ(0, seen[u]);
			seen[u] = 1;
			ASSERT_EQ(NP_READ, ev[k].mode);
			switch (u % 3) {
			case 0: EXPECT_EQ(NP_ERR_TIMEOUT, ev[k].result); to++; break;
			case 1: EXPECT_EQ(NP_OK, ev[k].result); ok++; break;
			default: EXPECT_EQ(NP_ERR_CLOSING, ev[k].result); cl++; break;
			}
		}
	}
	EXPECT_EQ(0, np_poll(p, ev, N, 0));
	EXPECT_EQ(0, stat_armed(p));
	EXPECT_EQ(0, stat_events(p));
	TH_LOG("%d descriptors: %ld ready, %ld timed out, %ld closed", N, ok,
	       to, cl);
	np_poller_close(p);
	for (i = 0; i < N; i++)
		close(fd[i]);
	free(pd);
	free(fd);
	free(seen);
	free(ev);
}

/*
 * 100 000 armed descriptors, each delivered exactly once: the scale run,
 * on the Debian kernels.  On the sanitizer kernels it would take most of
 * their suite's time (some 400 s of system calls under KASAN, lockdep
 * and kmemleak) for code that thousands_of_armed_descriptors already
 * runs there: its five thousand handles fill the same three levels of
 * the handle table, and every descriptor takes the same paths.
 */
TEST_F_TIMEOUT(big, hundred_thousand_armed_descriptors, 600)
{
	enum { N = 100000 };
	np_poller *p;
	np_desc **pd;
	int *fd;
	unsigned char *seen;
	struct np_event *ev;
	uint64_t one = 1;
	int i, n;

	if (npoll_test_sanitized())
		SKIP(return, "the scale run is the Debian kernels'; thousands_of_armed_descriptors runs here");
	if (!raise_nofile(N + 64))
		SKIP(return, "cannot raise RLIMIT_NOFILE to %d", N + 64);
	NPT_OPEN_POLLER(p);
	pd = calloc(N, sizeof(*pd));
	fd = calloc(N, sizeof(*fd));
	seen = calloc(N, 1);
	ev = calloc(4096, sizeof(*ev));
	ASSERT_TRUE(pd && fd && seen && ev);
	for (i = 0; i < N; i++) {
		fd[i] = eventfd(0, EFD_CLOEXEC);
		ASSERT_GE(fd[i], 0);
		ASSERT_EQ(0, np_open(p, fd[i], i, &pd[i]));
		ASSERT_EQ(NP_PENDING, np_arm(pd[i], NP_READ));
	}
	EXPECT_EQ(N, stat_armed(p));
	for (i = N - 1; i >= 0; i--)
		ASSERT_EQ(8, write(fd[i], &one, 8));
	for (long got = 0; got < N; got += n) {
		n = np_poll(p, ev, 4096, 10 * NPT_SEC);
		ASSERT_GT(n, 0);
		for (int k = 0; k < n; k++) {
			ASSERT_LT(ev[k].user, (uint64_t)N);
			ASSERT_EQ(0, seen[ev[k].user]);
			seen[ev[k].user] = 1;
			ASSERT_EQ(NP_OK, ev[k].result);
		}
	}
	EXPECT_EQ(0, stat_armed(p));
	EXPECT_EQ(0, stat_events(p));
	np_poller_close(p);
	for (i = 0; i < N; i++)
		close(fd[i]);
	free(pd);
	free(fd);
	free(seen);
	free(ev);
}

/*
 * Poller release with armed modes and undelivered events frees
 * everything: the registered files are released (the peer sees EOF once
 * the fd is closed too).
 */
TEST(poller_release_with_armed_and_queued)
{
	np_poller *p;
	np_desc *a, *b;
	int sa[2], sb[2];

	NPT_OPEN_POLLER(p);
	ASSERT_EQ(0, npt_unix_pair(sa));
	ASSERT_EQ(0, npt_unix_pair(sb));
	ASSERT_EQ(0, np_open(p, sa[0], 1, &a));
	ASSERT_EQ(0, np_open(p, sb[0], 2, &b));
	ASSERT_EQ(NP_PENDING, np_arm(a, NP_READ));
	ASSERT_EQ(NP_PENDING, np_arm(b, NP_READ));
	ASSERT_EQ(1, write(sb[1], "x", 1));
	for (int i = 0; i < 1000 && stat_events(p) != 1; i++)
		npoll_test_sleep_ns(NPT_MS);
	ASSERT_EQ(1, stat_events(p));
	EXPECT_EQ(1, stat_armed(p));
	np_poller_close(p);
	close(sa[0]);
	close(sb[0]);
	EXPECT_TRUE(npt_sees_eof(sa[1]));
	EXPECT_TRUE(npt_sees_eof(sb[1]));
	close(sa[1]);
	close(sb[1]);
}

/* The raw device closed with events queued (no library close first). */
TEST(raw_device_close_with_queued_events)
{
	int dev;
	int sv[2];
	uint64_t h;

	NPT_OPEN_DEV(dev);
	ASSERT_EQ(0, npt_unix_pair(sv));
	ASSERT_EQ(0, npt_raw_open(dev, sv[0], 5, &h));
	ASSERT_EQ(NPOLL_OK, npt_raw_wait(dev, NPOLL_IOC_ARM, h, NPOLL_MODE_WRITE, 0));
	ASSERT_EQ(NPOLL_PENDING, npt_raw_wait(dev, NPOLL_IOC_ARM, h, NPOLL_MODE_WRITE, 0));
	ASSERT_EQ(NPOLL_PENDING, npt_raw_wait(dev, NPOLL_IOC_ARM, h, NPOLL_MODE_READ, 0));
	ASSERT_EQ(0, npt_raw_handle(dev, NPOLL_IOC_UNBLOCK, h));
	ASSERT_EQ(0, close(dev));
	close(sv[0]);
	EXPECT_TRUE(npt_sees_eof(sv[1]));
	close(sv[1]);
}

/*
 * Events racing close and unblock, on the raw device (racing threads
 * may use a handle that is already closed: -EBADF, never a crash).
 * Each round arms both modes; readiness, a deadline in the past,
 * unblock and close race from threads.  Checked: every PENDING arm
 * yields exactly one event; once close has returned, a poll reports
 * nothing but NPOLL_ERR_CLOSING for that descriptor.
 *
 * The racers live for the whole loop and meet the main thread at two
 * barriers a round (released together, then all done): a round costs
 * two wake-ups, not four thread creations and joins.  The barrier wakes
 * its waiters in a fixed order, so each round deals the actions to the
 * racers afresh: no action is always the first to run.
 */
struct race_round {
	int dev;
	uint64_t h;
	int fd;
	int what[4];		/* each racer's action this round */
	bool stop;
	pthread_barrier_t start, done;
};

struct racer {
	struct race_round *rr;
	int i;
	pthread_t t;
};

/* Deal @n actions to @n threads: a random permutation of @what. */
static void deal(int *what, int n, uint64_t *rng)
{
	for (int i = n - 1; i > 0; i--) {
		int j = (int)(stress_rnd(rng) % (uint64_t)(i + 1)), t = what[i];

		what[i] = what[j];
		what[j] = t;
	}
}

static void *racer_fn(void *arg)
{
	struct racer *r = arg;
	struct race_round *rr = r->rr;

	for (;;) {
		int ret = 0;

		pthread_barrier_wait(&rr->start);
		if (rr->stop)
			return NULL;
		switch (rr->what[r->i]) {
		case 0:
			if (write(rr->fd, "x", 1) != 1)
				abort();
			break;
		case 1:
			ret = npt_raw_deadline(rr->dev, rr->h, -1, NPOLL_MODE_RW, 0);
			break;
		case 2:
			ret = npt_raw_handle(rr->dev, NPOLL_IOC_UNBLOCK, rr->h);
			break;
		case 3:
			ret = npt_raw_handle(rr->dev, NPOLL_IOC_CLOSE, rr->h);
			break;
		}
		if (ret != 0 && ret != -EBADF)
			abort();
		pthread_barrier_wait(&rr->done);
	}
}

TEST_F_TIMEOUT(big, events_race_close_and_unblock, 600)
{
	/* A race loop: the stress tests' sizing (an eighth unprivileged). */
	long rounds = stress_iters(1500, 1500);
	long res[4] = { 0 };
	struct race_round rr = { 0 };
	struct racer rc[4];
	struct npoll_event ev[4];
	struct npoll_stats st;
	uint64_t rng = 0x243f6a8885a308d3ULL;
	int sv[2], i;

	NPT_OPEN_DEV(rr.dev);
	ASSERT_EQ(0, pthread_barrier_init(&rr.start, NULL, 5));
	ASSERT_EQ(0, pthread_barrier_init(&rr.done, NULL, 5));
	for (i = 0; i < 4; i++) {
		rc[i] = (struct racer){ .rr = &rr, .i = i };
		ASSERT_EQ(0, pthread_create(&rc[i].t, NULL, racer_fn, &rc[i]));
	}
	/*
	 * One socket pair for all rounds: its send side stays full and its
	 * receive side is drained before each round's registration, so
	 * every round starts with neither mode ready.
	 */
	ASSERT_EQ(0, npt_unix_pair(sv));
	ASSERT_EQ(0, npt_small_sndbuf(sv[0]));
	ASSERT_EQ(0, fcntl(sv[0], F_SETFL, O_NONBLOCK));
	ASSERT_GT(npt_fill(sv[0]), 0);
	for (long r = 0; r < rounds; r++) {
		int got = 0, n;
		uint64_t user = 1000 + r;
		/* Odd rounds close here, after the race: two writes race. */
		bool closer_here = r % 2;

		npt_drain(sv[0]);
		ASSERT_EQ(0, npt_raw_open(rr.dev, sv[0], user, &rr.h));
		ASSERT_EQ(NPOLL_PENDING, npt_raw_wait(rr.dev, NPOLL_IOC_ARM, rr.h,
						      NPOLL_MODE_READ, 0));
		ASSERT_EQ(NPOLL_PENDING, npt_raw_wait(rr.dev, NPOLL_IOC_ARM, rr.h,
						      NPOLL_MODE_WRITE, 0));
		rr.fd = sv[1];
		for (i = 0; i < 4; i++)
			rr.what[i] = i == 3 && closer_here ? 0 : i;
		deal(rr.what, 4, &rng);
		pthread_barrier_wait(&rr.start);
		/* Harvest while they race: any outcome, once per mode. */
		n = npt_raw_poll(rr.dev, ev, 4, 0);
		ASSERT_GE(n, 0);
		for (int k = 0; k < n; k++) {
			ASSERT_EQ(user, ev[k].user);
			res[ev[k].result]++;
		}
		got += n;
		pthread_barrier_wait(&rr.done);
		if (closer_here)
			ASSERT_EQ(0, npt_raw_handle(rr.dev, NPOLL_IOC_CLOSE, rr.h));
		/* Closed now: whatever is left comes as CLOSING. */
		while (got < 2) {
			n = npt_raw_poll(rr.dev, ev, 4, 10 * NPT_SEC);
			ASSERT_GT(n, 0);
			for (int k = 0; k < n; k++) {
				ASSERT_EQ(user, ev[k].user);
				ASSERT_EQ(NPOLL_ERR_CLOSING, ev[k].result);
				res[NPOLL_ERR_CLOSING]++;
			}
			got += n;
		}
		ASSERT_EQ(2, got);
		ASSERT_EQ(0, npt_raw_poll(rr.dev, ev, 4, 0));
	}
	close(sv[0]);
	close(sv[1]);
	rr.stop = true;
	pthread_barrier_wait(&rr.start);
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, pthread_join(rc[i].t, NULL));
	ASSERT_EQ(0, npt_ioctl(rr.dev, NPOLL_IOC_STATS, &st));
	EXPECT_EQ(0, st.descs);
	EXPECT_EQ(0, st.armed);
	EXPECT_EQ(0, st.events);
	EXPECT_EQ(0, st.waiters);
	TH_LOG("%ld rounds: %ld ok, %ld timeout, %ld closing events",
	       rounds, res[0], res[2], res[1]);
	pthread_barrier_destroy(&rr.start);
	pthread_barrier_destroy(&rr.done);
	close(rr.dev);
}

/*
 * Arm racing close: an arm that returns NP_PENDING gets its one
 * CLOSING event; one that lost the race returns NP_ERR_CLOSING and
 * gets none.  Two threads for the whole loop, released together by
 * the main thread each round, one arming and one unblocking (which
 * does which is dealt afresh, as above).
 */
struct arm_race {
	np_desc *pd;
	pthread_barrier_t start, done;
	int what[2];		/* 0: arm, 1: unblock */
	int ret;		/* the arm's */
	int unblock_ret;
	bool stop;
};

struct arm_racer {
	struct arm_race *ar;
	int i;
	pthread_t t;
};

static void *arm_fn(void *arg)
{
	struct arm_racer *a = arg;
	struct arm_race *ar = a->ar;

	for (;;) {
		pthread_barrier_wait(&ar->start);
		if (ar->stop)
			return NULL;
		if (ar->what[a->i] == 0)
			ar->ret = np_arm(ar->pd, NP_READ);
		else
			ar->unblock_ret = np_unblock(ar->pd);
		pthread_barrier_wait(&ar->done);
	}
}

TEST_F_TIMEOUT(big, arm_races_close, 600)
{
	long rounds = stress_iters(1500, 1500), pending = 0, closing = 0;
	uint64_t rng = 0x13198a2e03707344ULL;
	struct arm_race ar = { 0 };
	struct arm_racer a[2];
	struct np_event ev[2];
	np_poller *p;
	int sv[2], i;

	NPT_OPEN_POLLER(p);
	ASSERT_EQ(0, pthread_barrier_init(&ar.start, NULL, 3));
	ASSERT_EQ(0, pthread_barrier_init(&ar.done, NULL, 3));
	for (i = 0; i < 2; i++) {
		a[i] = (struct arm_racer){ .ar = &ar, .i = i };
		ASSERT_EQ(0, pthread_create(&a[i].t, NULL, arm_fn, &a[i]));
	}
	/* One socket pair, registered afresh each round. */
	ASSERT_EQ(0, npt_unix_pair(sv));
	for (long r = 0; r < rounds; r++) {
		ASSERT_EQ(0, np_open(p, sv[0], r, &ar.pd));
		ar.what[0] = 0;
		ar.what[1] = 1;
		deal(ar.what, 2, &rng);
		pthread_barrier_wait(&ar.start);
		pthread_barrier_wait(&ar.done);
		ASSERT_EQ(0, ar.unblock_ret);
		ASSERT_EQ(0, np_close(ar.pd));
		if (ar.ret == NP_PENDING) {
			pending++;
			ASSERT_EQ(1, poll_ms(p, ev, 2, 10000));
			ASSERT_EQ((uint64_t)r, ev[0].user);
			ASSERT_EQ(NP_ERR_CLOSING, ev[0].result);
		} else {
			ASSERT_EQ(NP_ERR_CLOSING, ar.ret);
			closing++;
		}
		ASSERT_EQ(0, np_poll(p, ev, 2, 0));
	}
	close(sv[0]);
	close(sv[1]);
	ar.stop = true;
	pthread_barrier_wait(&ar.start);
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_join(a[i].t, NULL));
	TH_LOG("%ld rounds: arm won %ld, unblock won %ld", rounds, pending,
	       closing);
	pthread_barrier_destroy(&ar.start);
	pthread_barrier_destroy(&ar.done);
	np_poller_close(p);
}

/* Several harvesters on one poller: each event goes to exactly one. */
struct harvester {
	np_poller *p;
	unsigned char *seen;
	atomic_long *total;
	long want;
	pthread_t t;
};

static void *harvest_fn(void *arg)
{
	struct harvester *h = arg;
	struct np_event ev[8];
	int n;

	while (atomic_load(h->total) < h->want) {
		n = np_poll(h->p, ev, 8, 20 * NPT_MS);
		if (n < 0)
			abort();
		for (int k = 0; k < n; k++) {
			if (__atomic_exchange_n(&h->seen[ev[k].user], 1,
						__ATOMIC_SEQ_CST))
				abort();
		}
		atomic_fetch_add(h->total, n);
	}
	return NULL;
}

TEST_F_TIMEOUT(big, concurrent_harvesters_share_events, 600)
{
	enum { N = 2000, H = 3 };
	struct harvester h[H];
	atomic_long total = 0;
	unsigned char *seen = calloc(N, 1);
	np_poller *p;
	np_desc **pd = calloc(N, sizeof(*pd));
	int *fd = calloc(N, sizeof(int));
	uint64_t one = 1;

	ASSERT_TRUE(seen && pd && fd);
	if (!raise_nofile(N + 64))
		SKIP(return, "cannot raise RLIMIT_NOFILE");
	NPT_OPEN_POLLER(p);
	for (int i = 0; i < N; i++) {
		fd[i] = eventfd(0, EFD_CLOEXEC);
		ASSERT_GE(fd[i], 0);
		ASSERT_EQ(0, np_open(p, fd[i], i, &pd[i]));
		ASSERT_EQ(NP_PENDING, np_arm(pd[i], NP_READ));
	}
	for (int i = 0; i < H; i++) {
		h[i] = (struct harvester){ .p = p, .seen = seen,
					   .total = &total, .want = N };
		ASSERT_EQ(0, pthread_create(&h[i].t, NULL, harvest_fn, &h[i]));
	}
	for (int i = 0; i < N; i++)
		ASSERT_EQ(8, write(fd[i], &one, 8));
	for (int i = 0; i < H; i++)
		ASSERT_EQ(0, pthread_join(h[i].t, NULL));
	EXPECT_EQ(N, atomic_load(&total));
	for (int i = 0; i < N; i++)
		EXPECT_EQ(1, seen[i]);
	np_poller_close(p);
	for (int i = 0; i < N; i++)
		close(fd[i]);
	free(seen);
	free(pd);
	free(fd);
}

TEST_HARNESS_MAIN
