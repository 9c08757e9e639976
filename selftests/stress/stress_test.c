// SPDX-License-Identifier: GPL-2.0
/*
 * Race stress: readiness vs deadline expiry vs deadline changes vs
 * unblock vs close, in both modes.  Every iteration checks that the
 * waiter returned once, with an outcome consistent with what raced it:
 * readiness alone gives NP_OK, an expired deadline alone NP_ERR_TIMEOUT,
 * unblock alone NP_ERR_CLOSING; when two raced either one is fine, a
 * hang never is.  At the end of each test no thread is parked, no mode
 * armed, no event queued (np_stats), and the descriptor cache is back
 * to its count before the test (as root: the slab counters are root's).
 *
 * These are the parked-thread races: every iteration wakes a sleeping
 * thread, a cross-vCPU wake-up that costs about a millisecond under
 * TCG, so their counts are modest; stress_sched_test.c races armed
 * modes, which need no sleeping thread, in far larger numbers.  Each
 * test prints its figure as a "# STRESS" line (stress.h) that
 * scripts/check adds up per guest.  Loop counts scale with
 * NPOLL_STRESS_SCALE.
 */
#include <semaphore.h>

#include "kselftest_harness.h"
#include "npoll_test_util.h"
#include "stress.h"

#define EFD_FULL 0xfffffffffffffffeULL

/* What the actor thread does to the waiter in one iteration. */
enum scen {
	S_READY,		/* readiness only: NP_OK */
	S_OWN_DEADLINE,		/* waiter's own short deadline only: TIMEOUT */
	S_READY_VS_DEADLINE,	/* short deadline vs readiness: either */
	S_SET_PAST,		/* actor moves the deadline into the past: TIMEOUT */
	S_EXTEND,		/* short deadline extended, then ready: either */
	S_CLEAR,		/* short deadline cleared, then ready: either */
	S_UNBLOCK,		/* unblock only: CLOSING */
	S_READY_VS_UNBLOCK,	/* readiness vs unblock: OK or CLOSING */
	S_NR
};

static const char *const scen_name[S_NR] = {
	"ready", "own-deadline", "ready-vs-deadline", "set-past",
	"extend", "clear", "unblock", "ready-vs-unblock",
};

/*
 * An eventfd registered in @p: read mode waits for a non-zero count,
 * write mode for a count below the maximum.
 */
FIXTURE(race) {
	np_poller *p;
	np_desc *pd;
	int efd;
	pthread_t actor;
	bool actor_started;
	sem_t go, done;
	atomic_int quit;
	enum scen scen;
	uint64_t seed;
	int mode;
	long slab_base;
};

FIXTURE_VARIANT(race) {
	int mode;
};

FIXTURE_VARIANT_ADD(race, read) { .mode = NP_READ };
FIXTURE_VARIANT_ADD(race, write) { .mode = NP_WRITE };

static void spin_ns(int64_t ns)
{
	int64_t end = npoll_test_now() + ns;

	while (npoll_test_now() < end)
		;
}

/* Give the mode's readiness: a count for read, room for write. */
static void make_ready(FIXTURE_DATA(race) *self)
{
	uint64_t v = 1;

	if (self->mode == NP_READ) {
		if (write(self->efd, &v, sizeof(v)) != sizeof(v))
			abort();
	} else {
		if (read(self->efd, &v, sizeof(v)) != sizeof(v))
			abort();
	}
}

/* Make the mode not ready and forget its pending readiness. */
static int make_idle(FIXTURE_DATA(race) *self)
{
	uint64_t v;

	if (read(self->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -1;
	if (self->mode == NP_WRITE) {
		v = EFD_FULL;
		if (write(self->efd, &v, sizeof(v)) != sizeof(v))
			return -1;
	}
	if (np_set_deadline(self->pd, 0, self->mode))
		return -1;
	return np_reset(self->pd, self->mode);
}

static void *actor_fn(void *arg)
{
	FIXTURE_DATA(race) *self = arg;
	uint64_t r;

	for (;;) {
		sem_wait(&self->go);
		if (atomic_load(&self->quit))
			break;
		r = stress_rnd(&self->seed);
		/* Sometimes act at once, sometimes once the waiter parked. */
		if (r & 1)
			spin_ns((r >> 1) % 100000);
		switch (self->scen) {
		case S_READY:
		case S_READY_VS_DEADLINE:
			make_ready(self);
			break;
		case S_OWN_DEADLINE:
			break;
		case S_SET_PAST:
			if (r & 2)
				np_set_deadline(self->pd, -1, self->mode);
			else
				np_set_deadline(self->pd, 1 + (r >> 8) % 50000,
						self->mode);
			break;
		case S_EXTEND:
			np_set_deadline(self->pd, 60 * NPT_SEC, self->mode);
			make_ready(self);
			break;
		case S_CLEAR:
			np_set_deadline(self->pd, 0, self->mode);
			make_ready(self);
			break;
		case S_UNBLOCK:
			np_unblock(self->pd);
			break;
		case S_READY_VS_UNBLOCK:
			make_ready(self);
			if (r & 4)
				spin_ns((r >> 8) % 50000);
			np_unblock(self->pd);
			break;
		case S_NR:
			break;
		}
		sem_post(&self->done);
	}
	return NULL;
}

FIXTURE_SETUP(race)
{
	self->efd = -1;
	self->mode = variant->mode;
	self->seed = 0x12345678abcdefULL + variant->mode;
	self->slab_base = stress_slab_descs();
	NPT_OPEN_POLLER(self->p);
	self->efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, self->efd);
	ASSERT_EQ(0, np_open(self->p, self->efd, 1, &self->pd));
	ASSERT_EQ(0, sem_init(&self->go, 0, 0));
	ASSERT_EQ(0, sem_init(&self->done, 0, 0));
	ASSERT_EQ(0, pthread_create(&self->actor, NULL, actor_fn, self));
	self->actor_started = true;
}

FIXTURE_TEARDOWN(race)
{
	if (self->actor_started) {
		atomic_store(&self->quit, 1);
		sem_post(&self->go);
		pthread_join(self->actor, NULL);
	}
	if (self->p)
		np_poller_close(self->p);
	if (self->efd >= 0)
		close(self->efd);
}

static bool consistent(enum scen s, int r)
{
	switch (s) {
	case S_READY:
		return r == NP_OK;
	case S_OWN_DEADLINE:
	case S_SET_PAST:
		return r == NP_ERR_TIMEOUT;
	case S_READY_VS_DEADLINE:
	case S_EXTEND:
	case S_CLEAR:
		return r == NP_OK || r == NP_ERR_TIMEOUT;
	case S_UNBLOCK:
		return r == NP_ERR_CLOSING;
	case S_READY_VS_UNBLOCK:
		return r == NP_OK || r == NP_ERR_CLOSING;
	default:
		return false;
	}
}

/* Tests of their own threads and descriptors: a fixture for the time limit. */
FIXTURE(parked) {};
FIXTURE_SETUP(parked) {}
FIXTURE_TEARDOWN(parked) {}

/* Nothing parked, armed or queued in @p, and @descs descriptors open. */
static void expect_idle(struct __test_metadata *_metadata, np_poller *p,
			long descs)
{
	struct np_stats st;

	ASSERT_EQ(0, np_stats(p, &st));
	STRESS_EXPECT_IDLE(st, descs);
}

/* End of a race fixture test: figures, idle poller, all descriptors freed. */
static void race_done(struct __test_metadata *_metadata,
		      FIXTURE_DATA(race) *self, long iters, int64_t t0)
{
	char buf[128];

	snprintf(buf, sizeof(buf), "race.%s.%s",
		 self->mode == NP_READ ? "read" : "write", _metadata->name);
	stress_report(buf, iters, t0);
	expect_idle(_metadata, self->p, 1);
	np_poller_close(self->p);
	self->p = NULL;
	stress_expect_slab_base(_metadata, self->slab_base);
}

/*
 * main (waiter):  make idle, [short deadline], post go, np_wait ... r
 * actor:                                   go -> [spin] -> action, post done
 * check r against the scenario; after an unblock, re-open the descriptor.
 */
TEST_F_TIMEOUT(race, wait_vs_ready_deadline_setdeadline_unblock, 900)
{
	long iters = stress_iters(4000, 1000), i, bad = 0;
	long count[S_NR][5] = { { 0 } };
	uint64_t seed = 0xfeedULL + self->mode;
	int64_t t0 = npoll_test_now();
	int r;

	for (i = 0; i < iters; i++) {
		enum scen s = (enum scen)(stress_rnd(&seed) % S_NR);

		ASSERT_EQ(NP_OK, make_idle(self));
		self->scen = s;
		if (s == S_OWN_DEADLINE || s == S_READY_VS_DEADLINE ||
		    s == S_EXTEND || s == S_CLEAR)
			ASSERT_EQ(0, np_set_deadline(self->pd,
						     1 + stress_rnd(&seed) % 300000,
						     self->mode));
		sem_post(&self->go);
		r = np_wait(self->pd, self->mode);
		sem_wait(&self->done);
		if (r >= 0 && r <= 4)
			count[s][r]++;
		if (!consistent(s, r)) {
			if (bad++ < 10)
				TH_LOG("iteration %ld: %s gave %d", i,
				       scen_name[s], r);
		}
		if (s == S_UNBLOCK || s == S_READY_VS_UNBLOCK) {
			ASSERT_EQ(0, np_close(self->pd));
			ASSERT_EQ(0, np_open(self->p, self->efd, 1, &self->pd));
		}
	}
	EXPECT_EQ(0, bad);
	for (i = 0; i < S_NR; i++)
		TH_LOG("  %-18s ok %ld closing %ld timeout %ld",
		       scen_name[i], count[i][NP_OK], count[i][NP_ERR_CLOSING],
		       count[i][NP_ERR_TIMEOUT]);
	race_done(_metadata, self, iters, t0);
}

/*
 * A waiter parked on a deadline that keeps moving: the actor re-arms
 * it far ahead many times, then gives readiness.  Re-arming must never
 * wake the waiter: the outcome is NP_OK every time.
 */
TEST_F_TIMEOUT(race, rearmed_deadline_never_wakes_waiter, 900)
{
	long iters = stress_iters(1000, 250), i, bad = 0;
	int64_t t0 = npoll_test_now();
	int r;

	for (i = 0; i < iters; i++) {
		ASSERT_EQ(NP_OK, make_idle(self));
		ASSERT_EQ(0, np_set_deadline(self->pd, 30 * NPT_SEC, self->mode));
		self->scen = S_EXTEND;
		sem_post(&self->go);
		r = np_wait(self->pd, self->mode);
		sem_wait(&self->done);
		if (r != NP_OK && bad++ < 10)
			TH_LOG("iteration %ld: %d", i, r);
	}
	EXPECT_EQ(0, bad);
	race_done(_metadata, self, iters, t0);
}

/*
 * reader, writer: np_wait parked (or not yet) ......... result
 * main:           [spin] [readiness to the reader] np_unblock
 * Both threads return exactly once: CLOSING, or OK for a reader given
 * readiness.  Repeated on fresh descriptors of one AF_UNIX socket.
 */
TEST_F_TIMEOUT(parked, unblock_vs_both_waiters, 900)
{
	long iters = stress_iters(1000, 250), i, bad = 0;
	long slab_base = stress_slab_descs();
	uint64_t seed = 0xabcdef;
	int64_t t0 = npoll_test_now();
	struct npt_waiter r, w;
	np_poller *p;
	np_desc *pd;
	int sv[2];

	NPT_OPEN_POLLER(p);
	ASSERT_EQ(0, npt_unix_pair(sv));
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	ASSERT_LT(0, npt_fill(sv[0]));
	for (i = 0; i < iters; i++) {
		uint64_t x = stress_rnd(&seed);
		bool fed = x & 2;

		ASSERT_EQ(0, np_open(p, sv[0], i, &pd));
		ASSERT_EQ(0, npt_waiter_start(&r, pd, NP_READ, NPT_WAIT));
		ASSERT_EQ(0, npt_waiter_start(&w, pd, NP_WRITE, NPT_WAIT));
		if (x & 1)
			spin_ns((x >> 8) % 200000);
		if (fed)
			ASSERT_EQ(1, write(sv[1], "x", 1));
		ASSERT_EQ(0, np_unblock(pd));
		if (!npt_waiter_join(&r) || !npt_waiter_join(&w)) {
			bad++;
			TH_LOG("iteration %ld: a waiter hung", i);
		}
		if (!(r.result == NP_ERR_CLOSING || (fed && r.result == NP_OK)) ||
		    w.result != NP_ERR_CLOSING) {
			if (bad++ < 10)
				TH_LOG("iteration %ld: reader %ld writer %ld",
				       i, r.result, w.result);
		}
		ASSERT_EQ(0, np_close(pd));
		npt_drain(sv[0]);
	}
	EXPECT_EQ(0, bad);
	stress_report("parked.unblock_vs_both_waiters", iters, t0);
	expect_idle(_metadata, p, 0);
	close(sv[0]);
	close(sv[1]);
	np_poller_close(p);
	stress_expect_slab_base(_metadata, slab_base);
}

/*
 * A raw WAIT on a handle raced by a raw CLOSE of it: the waiter gets
 * NPOLL_ERR_CLOSING (close came after it started) or -EBADF (the
 * handle was already dead), never a hang and never readiness.
 */
TEST_F_TIMEOUT(parked, raw_close_vs_wait, 900)
{
	long iters = stress_iters(1000, 250), i, bad = 0, closing = 0, ebadf = 0;
	long slab_base = stress_slab_descs();
	uint64_t seed = 0x5eed;
	int64_t t0 = npoll_test_now();
	struct npoll_stats st;
	struct npt_raw_waiter w;
	uint64_t h;
	int dev, efd;

	NPT_OPEN_DEV(dev);
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	for (i = 0; i < iters; i++) {
		uint64_t x = stress_rnd(&seed);

		ASSERT_EQ(0, npt_raw_open(dev, efd, i, &h));
		if (x & 1) {
			/* A deadline timer armed too: its callback must find nothing. */
			ASSERT_EQ(0, npt_raw_deadline(dev, h, 1 + (x >> 8) % 100000,
						      NPOLL_MODE_WRITE, 0));
		}
		ASSERT_EQ(0, npt_raw_waiter_start(&w, dev, h, NPOLL_MODE_READ));
		if (x & 2)
			spin_ns((x >> 16) % 200000);
		ASSERT_EQ(0, npt_raw_handle(dev, NPOLL_IOC_CLOSE, h));
		pthread_join(w.th, NULL);
		if (w.result == NPOLL_ERR_CLOSING)
			closing++;
		else if (w.result == -EBADF)
			ebadf++;
		else if (bad++ < 10)
			TH_LOG("iteration %ld: %d", i, w.result);
	}
	EXPECT_EQ(0, bad);
	stress_report("parked.raw_close_vs_wait", iters, t0);
	TH_LOG("%ld closing, %ld stale", closing, ebadf);
	ASSERT_EQ(0, npt_ioctl(dev, NPOLL_IOC_STATS, &st));
	STRESS_EXPECT_IDLE(st, 0);
	close(efd);
	close(dev);
	stress_expect_slab_base(_metadata, slab_base);
}

/*
 * waiter: short deadline, np_wait ............... NP_ERR_TIMEOUT
 * actor:        re-sets it (past or short) while it may be expiring
 * Whichever timer fires, the wait ends once, with a timeout.
 */
TEST_F_TIMEOUT(race, deadline_reset_while_expiring, 900)
{
	long iters = stress_iters(2000, 500), i, bad = 0;
	int64_t t0 = npoll_test_now();
	int r;

	for (i = 0; i < iters; i++) {
		ASSERT_EQ(NP_OK, make_idle(self));
		ASSERT_EQ(0, np_set_deadline(self->pd, 1 + (i * 7919) % 200000,
					     self->mode));
		self->scen = S_SET_PAST;
		sem_post(&self->go);
		r = np_wait(self->pd, self->mode);
		sem_wait(&self->done);
		if (r != NP_ERR_TIMEOUT && bad++ < 10)
			TH_LOG("iteration %ld: %d", i, r);
	}
	EXPECT_EQ(0, bad);
	race_done(_metadata, self, iters, t0);
}

TEST_HARNESS_MAIN
