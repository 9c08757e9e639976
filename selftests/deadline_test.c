// SPDX-License-Identifier: GPL-2.0
/*
 * Deadlines: relative and absolute, none, expired, saturation, changes
 * applying to a parked waiter, stickiness of an expired deadline, never
 * firing early, independence of the read and write deadlines, NP_RW and
 * equal deadlines (Documentation/userspace-api.rst, "Deadlines").
 */
#include "kselftest_harness.h"
#include "npoll_test_util.h"

NPT_UNIX_FIXTURE(dl);

/* Make sv[0] readable. */
static void poke(FIXTURE_DATA(dl) *self)
{
	if (write(self->sv[1], "x", 1) != 1)
		abort();
}

/* Fill sv[0]'s send side so that a write wait really blocks. */
static long fill(FIXTURE_DATA(dl) *self)
{
	return npt_fill(self->sv[0]);
}

TEST_F(dl, relative_positive_deadline_expires_after_d)
{
	int64_t t0 = npoll_test_now();

	ASSERT_EQ(0, np_set_deadline(self->pd, 50 * NPT_MS, NP_READ));
	EXPECT_EQ(NP_ERR_TIMEOUT, np_wait(self->pd, NP_READ));
	EXPECT_GE(npoll_test_now() - t0, 50 * NPT_MS);
}

TEST_F(dl, negative_deadline_is_already_expired)
{
	ASSERT_EQ(0, np_set_deadline(self->pd, -1, NP_READ));
	EXPECT_EQ(NP_ERR_TIMEOUT, np_wait(self->pd, NP_READ));
	ASSERT_EQ(0, np_set_deadline(self->pd, INT64_MIN, NP_READ));
	EXPECT_EQ(NP_ERR_TIMEOUT, np_wait(self->pd, NP_READ));
	EXPECT_EQ(NP_ERR_TIMEOUT, np_reset(self->pd, NP_READ));
}

/* d == 0 clears: a wait with no deadline stays parked. */
TEST_F(dl, zero_deadline_means_none)
{
	struct npt_waiter w;

	ASSERT_EQ(0, np_set_deadline(self->pd, -1, NP_READ));
	ASSERT_EQ(0, np_set_deadline(self->pd, 0, NP_READ));
	EXPECT_EQ(NP_OK, np_reset(self->pd, NP_READ));
	ASSERT_EQ(0, npt_waiter_start(&w, self->pd, NP_READ, NPT_WAIT));
	EXPECT_TRUE(npt_wait_waiters(self->p, 1));
	npoll_test_sleep_ns(150 * NPT_MS);
	EXPECT_FALSE(atomic_load(&w.done));
	poke(self);
	EXPECT_TRUE(npt_waiter_join(&w));
	EXPECT_EQ(NP_OK, w.result);
}

TEST_F(dl, absolute_deadline_expires_at_its_time)
{
	int64_t at = npoll_test_now() + 50 * NPT_MS;

	ASSERT_EQ(0, np_set_deadline_at(self->pd, at, NP_READ));
	EXPECT_EQ(NP_ERR_TIMEOUT, np_wait(self->pd, NP_READ));
	EXPECT_GE(npoll_test_now(), at);
}

TEST_F(dl, absolute_deadline_not_after_now_is_expired)
{
	ASSERT_EQ(0, np_set_deadline_at(self->pd, npoll_test_now(), NP_READ));
	EXPECT_EQ(NP_ERR_TIMEOUT, np_wait(self->pd, NP_READ));
	ASSERT_EQ(0, np_set_deadline_at(self->pd, 1, NP_WRITE));
	EXPECT_EQ(NP_ERR_TIMEOUT, np_wait(self->pd, NP_WRITE));
	ASSERT_EQ(0, np_set_deadline_at(self->pd, -5, NP_WRITE));
	EXPECT_EQ(NP_ERR_TIMEOUT, np_wait(self->pd, NP_WRITE));
}

TEST_F(dl, absolute_zero_means_none)
{
	ASSERT_EQ(0, np_set_deadline_at(self->pd, 1, NP_READ));
	EXPECT_EQ(NP_ERR_TIMEOUT, np_reset(self->pd, NP_READ));
	ASSERT_EQ(0, np_set_deadline_at(self->pd, 0, NP_READ));
	EXPECT_EQ(NP_OK, np_reset(self->pd, NP_READ));
	poke(self);
	EXPECT_EQ(NP_OK, np_wait(self->pd, NP_READ));
}

/* now + INT64_MAX saturates far in the future, never wraps to the past. */
TEST_F(dl, huge_relative_deadline_saturates_never_expires)
{
	static const int64_t huge[] = { INT64_MAX, INT64_MAX - 1,
					INT64_MAX / 2 + 1 };
	struct npt_waiter w;
	unsigned int i;

	for (i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		ASSERT_EQ(0, np_set_deadline(self->pd, huge[i], NP_RW));
		EXPECT_EQ(NP_OK, np_reset(self->pd, NP_READ));
		EXPECT_EQ(NP_OK, np_reset(self->pd, NP_WRITE));
	}
	ASSERT_EQ(0, np_set_deadline(self->pd, INT64_MAX, NP_READ));
	ASSERT_EQ(0, npt_waiter_start(&w, self->pd, NP_READ, NPT_WAIT));
	EXPECT_TRUE(npt_wait_waiters(self->p, 1));
	npoll_test_sleep_ns(150 * NPT_MS);
	EXPECT_FALSE(atomic_load(&w.done));
	poke(self);
	EXPECT_TRUE(npt_waiter_join(&w));
	EXPECT_EQ(NP_OK, w.result);
	/* The absolute form with the largest time is also "far future". */
	ASSERT_EQ(0, np_set_deadline_at(self->pd, INT64_MAX, NP_READ));
	EXPECT_EQ(NP_OK, np_reset(self->pd, NP_READ));
}

/*
 * waiter: np_wait(READ), no deadline ...... NP_ERR_TIMEOUT
 * main:   set deadline into the past ----^
 */
TEST_F(dl, parked_waiter_woken_by_deadline_moved_into_past)
{
	struct npt_waiter w;
	int how;

	for (how = 0; how < 3; how++) {
		ASSERT_EQ(0, np_set_deadline(self->pd, 0, NP_READ));
		ASSERT_EQ(0, npt_waiter_start(&w, self->pd, NP_READ, NPT_WAIT));
		ASSERT_TRUE(npt_wait_waiters(self->p, 1));
		if (how == 0) {
			ASSERT_EQ(0, np_set_deadline(self->pd, -1, NP_READ));
		} else if (how == 1) {
			ASSERT_EQ(0, np_set_deadline_at(self->pd, 1, NP_READ));
		} else {
			ASSERT_EQ(0, np_set_deadline(self->pd, 1, NP_READ));
		}
		EXPECT_TRUE(npt_waiter_join(&w));
		EXPECT_EQ(NP_ERR_TIMEOUT, w.result) {
			TH_LOG("way %d", how);
		}
	}
	EXPECT_EQ(0, npt_waiters(self->p));
}

/* A pending deadline moved later (or removed) does not wake the waiter. */
TEST_F(dl, read_deadline_extended_while_parked)
{
	struct npt_waiter w;

	ASSERT_EQ(0, np_set_deadline(self->pd, 300 * NPT_MS, NP_READ));
	ASSERT_EQ(0, npt_waiter_start(&w, self->pd, NP_READ, NPT_WAIT));
	ASSERT_TRUE(npt_wait_waiters(self->p, 1));
	ASSERT_EQ(0, np_set_deadline(self->pd, 60 * NPT_SEC, NP_READ));
	npoll_test_sleep_ns(500 * NPT_MS);
	EXPECT_FALSE(atomic_load(&w.done));
	EXPECT_EQ(1, npt_waiters(self->p));
	poke(self);
	EXPECT_TRUE(npt_waiter_join(&w));
	EXPECT_EQ(NP_OK, w.result);
}

TEST_F(dl, read_deadline_cleared_while_parked)
{
	struct npt_waiter w;

	ASSERT_EQ(0, np_set_deadline(self->pd, 300 * NPT_MS, NP_READ));
	ASSERT_EQ(0, npt_waiter_start(&w, self->pd, NP_READ, NPT_WAIT));
	ASSERT_TRUE(npt_wait_waiters(self->p, 1));
	ASSERT_EQ(0, np_set_deadline(self->pd, 0, NP_READ));
	npoll_test_sleep_ns(500 * NPT_MS);
	EXPECT_FALSE(atomic_load(&w.done));
	EXPECT_EQ(1, npt_waiters(self->p));
	poke(self);
	EXPECT_TRUE(npt_waiter_join(&w));
	EXPECT_EQ(NP_OK, w.result);
}

TEST_F(dl, write_deadline_extended_while_parked)
{
	struct npt_waiter w;

	EXPECT_LT(0, fill(self));
	ASSERT_EQ(0, np_set_deadline(self->pd, 300 * NPT_MS, NP_WRITE));
	ASSERT_EQ(0, npt_waiter_start(&w, self->pd, NP_WRITE, NPT_WAIT));
	ASSERT_TRUE(npt_wait_waiters(self->p, 1));
	ASSERT_EQ(0, np_set_deadline_at(self->pd,
					npoll_test_now() + 60 * NPT_SEC,
					NP_WRITE));
	npoll_test_sleep_ns(500 * NPT_MS);
	EXPECT_FALSE(atomic_load(&w.done));
	fcntl(self->sv[1], F_SETFL, O_NONBLOCK);
	EXPECT_LT(0, npt_drain(self->sv[1]));
	EXPECT_TRUE(npt_waiter_join(&w));
	EXPECT_EQ(NP_OK, w.result);
}

/* An expired deadline fails every later wait of its mode at once. */
TEST_F(dl, expired_deadline_sticks_until_changed)
{
	int i;

	ASSERT_EQ(0, np_set_deadline(self->pd, 20 * NPT_MS, NP_READ));
	EXPECT_EQ(NP_ERR_TIMEOUT, np_wait(self->pd, NP_READ));
	poke(self);
	npoll_test_sleep_ns(50 * NPT_MS);
	for (i = 0; i < 5; i++) {
		EXPECT_EQ(NP_ERR_TIMEOUT, np_wait(self->pd, NP_READ));
		EXPECT_EQ(NP_ERR_TIMEOUT, np_reset(self->pd, NP_READ));
	}
	/* A new deadline in the future lifts it; the data edge is there. */
	ASSERT_EQ(0, np_set_deadline(self->pd, 10 * NPT_SEC, NP_READ));
	EXPECT_EQ(NP_OK, np_wait(self->pd, NP_READ));
}

/*
 * A deadline never fires early: the woken waiter sees CLOCK_MONOTONIC
 * at or after it.  Short deadlines, 100 us to 2 ms, both forms.
 */
TEST_F(dl, deadline_never_fires_early)
{
	int64_t d, before, at, early = 0, late_max = 0;
	int i, r, bad = 0;

	srand(1234);
	for (i = 0; i < 200; i++) {
		d = 100000 + (rand() % 1900) * 1000LL;
		before = npoll_test_now();
		if (i & 1) {
			at = before + d;
			ASSERT_EQ(0, np_set_deadline_at(self->pd, at, NP_READ));
		} else {
			/* Relative: the deadline is at least before + d. */
			at = before + d;
			ASSERT_EQ(0, np_set_deadline(self->pd, d, NP_READ));
		}
		r = np_wait(self->pd, NP_READ);
		before = npoll_test_now();
		if (r != NP_ERR_TIMEOUT)
			bad++;
		if (before < at)
			early++;
		if (before - at > late_max)
			late_max = before - at;
	}
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, early);
	TH_LOG("200 short deadlines: worst lateness %lld us",
	       (long long)(late_max / 1000));
}

/* Same for a parked waiter woken by the timer from another thread. */
TEST_F(dl, parked_waiter_never_woken_early)
{
	struct npt_waiter w;
	int64_t at;
	int i, early = 0, bad = 0;

	for (i = 0; i < 50; i++) {
		ASSERT_EQ(0, np_set_deadline(self->pd, 0, NP_READ));
		ASSERT_EQ(0, npt_waiter_start(&w, self->pd, NP_READ, NPT_WAIT));
		ASSERT_TRUE(npt_wait_waiters(self->p, 1));
		at = npoll_test_now() + 200000 + (i % 10) * 100000;
		ASSERT_EQ(0, np_set_deadline_at(self->pd, at, NP_READ));
		EXPECT_TRUE(npt_waiter_join(&w));
		if (w.result != NP_ERR_TIMEOUT)
			bad++;
		if (w.woke_ns < at)
			early++;
	}
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, early);
}

/*
 * reader and writer parked; the read deadline moved into the past wakes
 * the reader only, then the write deadline wakes the writer.
 */
TEST_F(dl, read_and_write_deadlines_independent)
{
	struct npt_waiter r, w;

	EXPECT_LT(0, fill(self));
	ASSERT_EQ(0, npt_waiter_start(&r, self->pd, NP_READ, NPT_WAIT));
	ASSERT_EQ(0, npt_waiter_start(&w, self->pd, NP_WRITE, NPT_WAIT));
	ASSERT_TRUE(npt_wait_waiters(self->p, 2));
	ASSERT_EQ(0, np_set_deadline(self->pd, -1, NP_READ));
	EXPECT_TRUE(npt_waiter_done_within(&r, NPT_PATIENCE));
	npoll_test_sleep_ns(150 * NPT_MS);
	EXPECT_FALSE(atomic_load(&w.done));
	EXPECT_EQ(1, npt_waiters(self->p));
	/* The read deadline does not show in write-mode calls. */
	EXPECT_EQ(-EBUSY, np_wait(self->pd, NP_WRITE));
	ASSERT_EQ(0, np_set_deadline(self->pd, -1, NP_WRITE));
	EXPECT_TRUE(npt_waiter_join(&w));
	EXPECT_TRUE(npt_waiter_join(&r));
	EXPECT_EQ(NP_ERR_TIMEOUT, r.result);
	EXPECT_EQ(NP_ERR_TIMEOUT, w.result);
	/* Clearing one leaves the other expired. */
	ASSERT_EQ(0, np_set_deadline(self->pd, 0, NP_READ));
	EXPECT_EQ(NP_OK, np_reset(self->pd, NP_READ));
	EXPECT_EQ(NP_ERR_TIMEOUT, np_reset(self->pd, NP_WRITE));
}

TEST_F(dl, expired_write_deadline_leaves_reads_alone)
{
	ASSERT_EQ(0, np_set_deadline(self->pd, -1, NP_WRITE));
	poke(self);
	ASSERT_EQ(0, np_set_deadline(self->pd, 10 * NPT_SEC, NP_READ));
	EXPECT_EQ(NP_OK, np_wait(self->pd, NP_READ));
	EXPECT_EQ(NP_ERR_TIMEOUT, np_wait(self->pd, NP_WRITE));
}

TEST_F(dl, rw_sets_both_deadlines)
{
	ASSERT_EQ(0, np_set_deadline(self->pd, -1, NP_RW));
	EXPECT_EQ(NP_ERR_TIMEOUT, np_wait(self->pd, NP_READ));
	EXPECT_EQ(NP_ERR_TIMEOUT, np_wait(self->pd, NP_WRITE));
	ASSERT_EQ(0, np_set_deadline(self->pd, 0, NP_RW));
	EXPECT_EQ(NP_OK, np_reset(self->pd, NP_READ));
	EXPECT_EQ(NP_OK, np_reset(self->pd, NP_WRITE));
	ASSERT_EQ(0, np_set_deadline_at(self->pd, 1, NP_RW));
	EXPECT_EQ(NP_ERR_TIMEOUT, np_reset(self->pd, NP_READ));
	EXPECT_EQ(NP_ERR_TIMEOUT, np_reset(self->pd, NP_WRITE));
}

/* Equal read and write deadlines (one shared timer) wake both waiters. */
TEST_F(dl, equal_deadlines_both_fire)
{
	struct npt_waiter r, w;
	int64_t at;
	int way;

	EXPECT_LT(0, fill(self));
	for (way = 0; way < 2; way++) {
		ASSERT_EQ(0, np_set_deadline(self->pd, 0, NP_RW));
		ASSERT_EQ(0, npt_waiter_start(&r, self->pd, NP_READ, NPT_WAIT));
		ASSERT_EQ(0, npt_waiter_start(&w, self->pd, NP_WRITE, NPT_WAIT));
		ASSERT_TRUE(npt_wait_waiters(self->p, 2));
		at = npoll_test_now() + 100 * NPT_MS;
		if (way == 0) {
			ASSERT_EQ(0, np_set_deadline_at(self->pd, at, NP_RW));
		} else {
			ASSERT_EQ(0, np_set_deadline_at(self->pd, at, NP_READ));
			ASSERT_EQ(0, np_set_deadline_at(self->pd, at, NP_WRITE));
		}
		EXPECT_TRUE(npt_waiter_join(&r));
		EXPECT_TRUE(npt_waiter_join(&w));
		EXPECT_EQ(NP_ERR_TIMEOUT, r.result);
		EXPECT_EQ(NP_ERR_TIMEOUT, w.result);
		EXPECT_GE(r.woke_ns, at);
		EXPECT_GE(w.woke_ns, at);
	}
	/* Moving one of the pair away leaves the other's expiry in place. */
	ASSERT_EQ(0, np_set_deadline(self->pd, 0, NP_RW));
	ASSERT_EQ(0, npt_waiter_start(&r, self->pd, NP_READ, NPT_WAIT));
	ASSERT_EQ(0, npt_waiter_start(&w, self->pd, NP_WRITE, NPT_WAIT));
	ASSERT_TRUE(npt_wait_waiters(self->p, 2));
	at = npoll_test_now() + 100 * NPT_MS;
	ASSERT_EQ(0, np_set_deadline_at(self->pd, at, NP_RW));
	ASSERT_EQ(0, np_set_deadline(self->pd, 0, NP_WRITE));
	EXPECT_TRUE(npt_waiter_join(&r));
	EXPECT_EQ(NP_ERR_TIMEOUT, r.result);
	npoll_test_sleep_ns(200 * NPT_MS);
	EXPECT_FALSE(atomic_load(&w.done));
	ASSERT_EQ(0, np_set_deadline(self->pd, -1, NP_WRITE));
	EXPECT_TRUE(npt_waiter_join(&w));
	EXPECT_EQ(NP_ERR_TIMEOUT, w.result);
}

/* Re-arming a deadline that never fires many times leaves no expiry. */
TEST_F(dl, rearmed_deadline_never_fires)
{
	int i;

	for (i = 0; i < 10000; i++)
		ASSERT_EQ(0, np_set_deadline(self->pd, NPT_SEC, NP_READ));
	ASSERT_EQ(0, np_set_deadline(self->pd, 0, NP_READ));
	npoll_test_sleep_ns(1200 * NPT_MS);
	EXPECT_EQ(NP_OK, np_reset(self->pd, NP_READ));
}

/*
 * Read and write deadlines are ordered separately: many read changes,
 * deferred and handed over, never make a later write change look old.
 */
TEST_F(dl, write_deadline_applies_after_many_read_changes)
{
	char buf[8];
	long i, n = npoll_test_iters(2000);

	NPT_RETURN_IF_SKIPPED();
	ASSERT_LT(0, npt_fill(self->sv[0]));
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, np_set_deadline(self->pd, 10 * NPT_SEC + i,
					     NP_READ));
		if (i % 64 == 0)	/* hand the read change over */
			EXPECT_EQ(NP_OK, np_reset(self->pd, NP_READ));
	}
	ASSERT_EQ(0, np_set_deadline(self->pd, 20 * NPT_MS, NP_WRITE));
	EXPECT_EQ(-ETIMEDOUT, np_write(self->pd, "x", 1));
	ASSERT_EQ(0, np_set_deadline(self->pd, -1, NP_RW));
	EXPECT_EQ(-ETIMEDOUT, np_write(self->pd, "x", 1));
	EXPECT_EQ(-ETIMEDOUT, np_read(self->pd, buf, sizeof(buf)));
}

TEST_HARNESS_MAIN
