// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suites for npoll's internals that user space cannot steer
 * precisely: the semaphore word's transitions, the error precedence,
 * the deadline arithmetic and the scheduler mode's event words.  Built
 * as its own module (npoll_kunit.ko) where the kernel has KUnit.
 */
#include <kunit/test.h>
#include <linux/llist.h>
#include <linux/module.h>

#include "sem.h"
#include "deadline.h"

/* Any value above NPOLL_SEM_LAST stands for a parked task. */
#define FAKE_TASK 0x1000UL

static void sem_prepare_consumes_readiness(struct kunit *test)
{
	unsigned long w = NPOLL_SEM_READY;

	KUNIT_EXPECT_EQ(test, npoll_sem_prepare(&w, FAKE_TASK), 1);
	KUNIT_EXPECT_EQ(test, w, NPOLL_SEM_NIL);
}

static void sem_prepare_announces_waiter(struct kunit *test)
{
	unsigned long w = NPOLL_SEM_NIL;

	KUNIT_EXPECT_EQ(test, npoll_sem_prepare(&w, FAKE_TASK), 0);
	KUNIT_EXPECT_EQ(test, w, npoll_sem_wait_of(FAKE_TASK));
}

static void sem_second_waiter_is_busy(struct kunit *test)
{
	unsigned long w = npoll_sem_wait_of(FAKE_TASK);

	KUNIT_EXPECT_EQ(test, npoll_sem_prepare(&w, FAKE_TASK), -EBUSY);
	KUNIT_EXPECT_EQ(test, w, npoll_sem_wait_of(FAKE_TASK));
	w = FAKE_TASK;
	KUNIT_EXPECT_EQ(test, npoll_sem_prepare(&w, FAKE_TASK), -EBUSY);
	KUNIT_EXPECT_EQ(test, w, FAKE_TASK);
}

static void sem_commit_only_from_wait(struct kunit *test)
{
	unsigned long w = npoll_sem_wait_of(FAKE_TASK);

	KUNIT_EXPECT_TRUE(test, npoll_sem_commit(&w, FAKE_TASK, FAKE_TASK));
	KUNIT_EXPECT_EQ(test, w, FAKE_TASK);
	w = NPOLL_SEM_READY;
	KUNIT_EXPECT_FALSE(test, npoll_sem_commit(&w, FAKE_TASK, FAKE_TASK));
	KUNIT_EXPECT_EQ(test, w, NPOLL_SEM_READY);
	w = NPOLL_SEM_NIL;
	KUNIT_EXPECT_FALSE(test, npoll_sem_commit(&w, FAKE_TASK, FAKE_TASK));
	KUNIT_EXPECT_EQ(test, w, NPOLL_SEM_NIL);
}

static void sem_ready_wakes_parked_task(struct kunit *test)
{
	unsigned long w = FAKE_TASK;

	KUNIT_EXPECT_EQ(test, npoll_sem_ready(&w), FAKE_TASK);
	KUNIT_EXPECT_EQ(test, w, NPOLL_SEM_READY);
	/* Readiness is a binary semaphore: a second signal is absorbed. */
	KUNIT_EXPECT_EQ(test, npoll_sem_ready(&w), NPOLL_SEM_NIL);
	KUNIT_EXPECT_EQ(test, w, NPOLL_SEM_READY);
}

static void sem_ready_before_commit_makes_commit_fail(struct kunit *test)
{
	unsigned long w = NPOLL_SEM_NIL;

	KUNIT_ASSERT_EQ(test, npoll_sem_prepare(&w, FAKE_TASK), 0);
	KUNIT_EXPECT_EQ(test, npoll_sem_ready(&w), NPOLL_SEM_NIL);
	KUNIT_EXPECT_FALSE(test, npoll_sem_commit(&w, FAKE_TASK, FAKE_TASK));
	KUNIT_EXPECT_TRUE(test, npoll_sem_finish(&w, FAKE_TASK));
	KUNIT_EXPECT_EQ(test, w, NPOLL_SEM_NIL);
}

static void sem_unblock_keeps_readiness(struct kunit *test)
{
	unsigned long w = NPOLL_SEM_READY;

	KUNIT_EXPECT_EQ(test, npoll_sem_unblock(&w, NPOLL_ERR_TIMEOUT),
			NPOLL_SEM_NIL);
	KUNIT_EXPECT_EQ(test, w, NPOLL_SEM_READY);
	w = NPOLL_SEM_NIL;
	KUNIT_EXPECT_EQ(test, npoll_sem_unblock(&w, NPOLL_ERR_TIMEOUT),
			NPOLL_SEM_NIL);
	KUNIT_EXPECT_EQ(test, w, NPOLL_SEM_NIL);
}

static void sem_unblock_removes_waiter(struct kunit *test)
{
	unsigned long w = FAKE_TASK;

	KUNIT_EXPECT_EQ(test, npoll_sem_unblock(&w, NPOLL_ERR_TIMEOUT),
			FAKE_TASK);
	KUNIT_EXPECT_EQ(test, w, NPOLL_SEM_NIL);
	w = npoll_sem_wait_of(FAKE_TASK);
	KUNIT_EXPECT_EQ(test, npoll_sem_unblock(&w, NPOLL_ERR_TIMEOUT),
			NPOLL_SEM_NIL);
	KUNIT_EXPECT_EQ(test, w, NPOLL_SEM_NIL);
	KUNIT_EXPECT_FALSE(test, npoll_sem_finish(&w, FAKE_TASK));
}

static void sem_consume_leaves_waiter(struct kunit *test)
{
	unsigned long w = FAKE_TASK;

	npoll_sem_consume(&w);
	KUNIT_EXPECT_EQ(test, w, FAKE_TASK);
	w = NPOLL_SEM_READY;
	npoll_sem_consume(&w);
	KUNIT_EXPECT_EQ(test, w, NPOLL_SEM_NIL);
}

static void info_error_precedence(struct kunit *test)
{
	const unsigned int all = NPOLL_INFO_CLOSING | NPOLL_INFO_RD_EXPIRED |
				 NPOLL_INFO_WD_EXPIRED | NPOLL_INFO_EVENT_ERR;
	const unsigned int r = NPOLL_MODE_READ, w = NPOLL_MODE_WRITE;
	const unsigned int err_rd = NPOLL_INFO_EVENT_ERR |
				    NPOLL_INFO_RD_EXPIRED;

	KUNIT_EXPECT_EQ(test, npoll_info_err(0, r), NPOLL_OK);
	KUNIT_EXPECT_EQ(test, npoll_info_err(0, w), NPOLL_OK);
	KUNIT_EXPECT_EQ(test, npoll_info_err(all, r), NPOLL_ERR_CLOSING);
	KUNIT_EXPECT_EQ(test, npoll_info_err(all, w), NPOLL_ERR_CLOSING);
	KUNIT_EXPECT_EQ(test, npoll_info_err(all & ~NPOLL_INFO_CLOSING, r),
			NPOLL_ERR_TIMEOUT);
	KUNIT_EXPECT_EQ(test, npoll_info_err(NPOLL_INFO_RD_EXPIRED, w),
			NPOLL_OK);
	KUNIT_EXPECT_EQ(test, npoll_info_err(NPOLL_INFO_WD_EXPIRED, r),
			NPOLL_OK);
	KUNIT_EXPECT_EQ(test, npoll_info_err(NPOLL_INFO_WD_EXPIRED, w),
			NPOLL_ERR_TIMEOUT);
	KUNIT_EXPECT_EQ(test, npoll_info_err(NPOLL_INFO_EVENT_ERR, r),
			NPOLL_ERR_NOT_POLLABLE);
	/* The event error is a read-side error only. */
	KUNIT_EXPECT_EQ(test, npoll_info_err(NPOLL_INFO_EVENT_ERR, w),
			NPOLL_OK);
	KUNIT_EXPECT_EQ(test, npoll_info_err(err_rd, r), NPOLL_ERR_TIMEOUT);
}

static void deadline_relative(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, npoll_deadline_rel(1000, 0), (s64)NPOLL_DL_NONE);
	KUNIT_EXPECT_EQ(test, npoll_deadline_rel(1000, -1),
			(s64)NPOLL_DL_EXPIRED);
	KUNIT_EXPECT_EQ(test, npoll_deadline_rel(1000, S64_MIN),
			(s64)NPOLL_DL_EXPIRED);
	KUNIT_EXPECT_EQ(test, npoll_deadline_rel(1000, 1), 1001LL);
	KUNIT_EXPECT_EQ(test, npoll_deadline_rel(1000, 5000), 6000LL);
}

static void deadline_relative_saturates(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, npoll_deadline_rel(1000, S64_MAX),
			(s64)KTIME_MAX);
	KUNIT_EXPECT_EQ(test, npoll_deadline_rel(KTIME_MAX - 10, 11),
			(s64)KTIME_MAX);
	KUNIT_EXPECT_EQ(test, npoll_deadline_rel(KTIME_MAX - 10, 10),
			(s64)KTIME_MAX);
	KUNIT_EXPECT_EQ(test, npoll_deadline_rel(KTIME_MAX - 10, 9),
			(s64)KTIME_MAX - 1);
	KUNIT_EXPECT_GT(test, npoll_deadline_rel(S64_MAX / 2, S64_MAX / 2 + 5),
			0LL);
}

static void deadline_absolute(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, npoll_deadline_abs(1000, 0), (s64)NPOLL_DL_NONE);
	KUNIT_EXPECT_EQ(test, npoll_deadline_abs(1000, 999),
			(s64)NPOLL_DL_EXPIRED);
	KUNIT_EXPECT_EQ(test, npoll_deadline_abs(1000, 1000),
			(s64)NPOLL_DL_EXPIRED);
	KUNIT_EXPECT_EQ(test, npoll_deadline_abs(1000, -5),
			(s64)NPOLL_DL_EXPIRED);
	KUNIT_EXPECT_EQ(test, npoll_deadline_abs(1000, 1001), 1001LL);
	KUNIT_EXPECT_EQ(test, npoll_deadline_abs(1000, S64_MAX), S64_MAX);
}

static void deadline_next_shares_timer(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, npoll_deadline_next(0, 0), 0LL);
	KUNIT_EXPECT_EQ(test, npoll_deadline_next(-1, -1), 0LL);
	KUNIT_EXPECT_EQ(test, npoll_deadline_next(500, 0), 500LL);
	KUNIT_EXPECT_EQ(test, npoll_deadline_next(0, 700), 700LL);
	KUNIT_EXPECT_EQ(test, npoll_deadline_next(-1, 700), 700LL);
	KUNIT_EXPECT_EQ(test, npoll_deadline_next(500, -1), 500LL);
	KUNIT_EXPECT_EQ(test, npoll_deadline_next(500, 700), 500LL);
	KUNIT_EXPECT_EQ(test, npoll_deadline_next(900, 700), 700LL);
	KUNIT_EXPECT_EQ(test, npoll_deadline_next(700, 700), 700LL);
}

/*
 * A mode's last change had sequence 5; the other mode has since seen
 * 2^31 + 10 changes.  With the mode's own 64-bit order the next change
 * of the first mode applies whatever the other did, and across 2^31 and
 * 2^32 newer stays newer; with the first layout's 32-bit window a
 * sequence 2^31 or more ahead reads as older (the dropped write
 * deadline of a shared counter).
 */
static void deadline_seq64_orders_across_old_window(struct kunit *test)
{
	const u64 half = 1ULL << 31, wrap = 1ULL << 32;

	KUNIT_EXPECT_TRUE(test, npoll_deadline_seq_newer(0, 1, true));
	KUNIT_EXPECT_TRUE(test, npoll_deadline_seq_newer(5, 6, true));
	KUNIT_EXPECT_TRUE(test,
			  npoll_deadline_seq_newer(5, 5 + half + 10, true));
	KUNIT_EXPECT_TRUE(test, npoll_deadline_seq_newer(half - 1, half, true));
	KUNIT_EXPECT_TRUE(test, npoll_deadline_seq_newer(half, half + 1, true));
	KUNIT_EXPECT_TRUE(test, npoll_deadline_seq_newer(wrap - 1, wrap, true));
	KUNIT_EXPECT_TRUE(test,
			  npoll_deadline_seq_newer(wrap + 3, 3 * wrap, true));
	/* Late hand-overs of older changes are ignored. */
	KUNIT_EXPECT_FALSE(test, npoll_deadline_seq_newer(6, 5, true));
	KUNIT_EXPECT_FALSE(test, npoll_deadline_seq_newer(6, 6, true));
	KUNIT_EXPECT_FALSE(test,
			   npoll_deadline_seq_newer(wrap, wrap - 1, true));
	KUNIT_EXPECT_FALSE(test,
			   npoll_deadline_seq_newer(5 + half + 10, 5, true));
	KUNIT_EXPECT_FALSE(test, npoll_deadline_seq_newer(U64_MAX, 1, true));

	/* The first layout: modulo 2^32 on the low half, as it always was. */
	KUNIT_EXPECT_TRUE(test, npoll_deadline_seq_newer(5, 6, false));
	KUNIT_EXPECT_TRUE(test,
			  npoll_deadline_seq_newer(0xffffffffULL, 1, false));
	KUNIT_EXPECT_FALSE(test,
			   npoll_deadline_seq_newer(5, 5 + half + 10, false));
	KUNIT_EXPECT_FALSE(test, npoll_deadline_seq_newer(6, 5, false));
}

/*
 * A waiter woken by unblock leaves after a newer waiter or an arm took
 * the word: it must not take their state (or an event) away.
 */
static void leaving_waiter_keeps_newer_state(struct kunit *test)
{
	unsigned long b = FAKE_TASK + 0x1000, w = NPOLL_SEM_NIL;

	KUNIT_ASSERT_EQ(test, npoll_sem_prepare(&w, FAKE_TASK), 0);
	KUNIT_ASSERT_TRUE(test, npoll_sem_commit(&w, FAKE_TASK, FAKE_TASK));
	KUNIT_EXPECT_EQ(test, npoll_sem_unblock(&w, NPOLL_ERR_TIMEOUT),
			FAKE_TASK);
	KUNIT_ASSERT_EQ(test, npoll_sem_prepare(&w, b), 0);
	KUNIT_EXPECT_FALSE(test, npoll_sem_finish(&w, FAKE_TASK));
	KUNIT_EXPECT_EQ(test, w, npoll_sem_wait_of(b));
	KUNIT_ASSERT_TRUE(test, npoll_sem_commit(&w, b, NPOLL_SEM_ARMED));
	KUNIT_EXPECT_FALSE(test, npoll_sem_finish(&w, FAKE_TASK));
	KUNIT_EXPECT_EQ(test, w, NPOLL_SEM_ARMED);
	npoll_sem_ready(&w);
	KUNIT_EXPECT_FALSE(test, npoll_sem_finish(&w, FAKE_TASK));
	KUNIT_EXPECT_TRUE(test, npoll_sem_is_fired(w));
	/* Its own states it does take back. */
	w = npoll_sem_wait_of(FAKE_TASK);
	KUNIT_EXPECT_FALSE(test, npoll_sem_finish(&w, FAKE_TASK));
	KUNIT_EXPECT_EQ(test, w, NPOLL_SEM_NIL);
	w = NPOLL_SEM_READY;
	KUNIT_EXPECT_TRUE(test, npoll_sem_finish(&w, FAKE_TASK));
	KUNIT_EXPECT_EQ(test, w, NPOLL_SEM_NIL);
}

/* Scheduler mode: the transitions of an armed mode's word. */
static void armed_ready_fires_ok(struct kunit *test)
{
	unsigned long w = NPOLL_SEM_NIL;

	KUNIT_ASSERT_EQ(test, npoll_sem_prepare(&w, FAKE_TASK), 0);
	KUNIT_ASSERT_TRUE(test,
			  npoll_sem_commit(&w, FAKE_TASK, NPOLL_SEM_ARMED));
	KUNIT_EXPECT_EQ(test, npoll_sem_ready(&w), NPOLL_SEM_ARMED);
	KUNIT_EXPECT_TRUE(test, npoll_sem_is_fired(w));
	KUNIT_EXPECT_EQ(test, npoll_sem_fired_result(w), NPOLL_OK);
}

static void armed_unblock_carries_outcome(struct kunit *test)
{
	unsigned long w = NPOLL_SEM_ARMED;

	KUNIT_EXPECT_EQ(test, npoll_sem_unblock(&w, NPOLL_ERR_TIMEOUT),
			NPOLL_SEM_ARMED);
	KUNIT_EXPECT_EQ(test, w, npoll_sem_fired(NPOLL_ERR_TIMEOUT));
	w = NPOLL_SEM_ARMED;
	KUNIT_EXPECT_EQ(test, npoll_sem_unblock(&w, NPOLL_ERR_CLOSING),
			NPOLL_SEM_ARMED);
	KUNIT_EXPECT_EQ(test, npoll_sem_fired_result(w), NPOLL_ERR_CLOSING);
}

/* One event per arm: a decided outcome is never decided again. */
static void fired_is_decided_once(struct kunit *test)
{
	unsigned long w = npoll_sem_fired(NPOLL_OK);

	KUNIT_EXPECT_EQ(test, npoll_sem_unblock(&w, NPOLL_ERR_TIMEOUT),
			NPOLL_SEM_NIL);
	KUNIT_EXPECT_EQ(test, w, npoll_sem_fired(NPOLL_OK));
	KUNIT_EXPECT_EQ(test, npoll_sem_ready(&w), NPOLL_SEM_NIL);
	KUNIT_EXPECT_EQ(test, w,
			npoll_sem_fired(NPOLL_OK) | NPOLL_SEM_FIRED_READY);
	KUNIT_EXPECT_EQ(test, npoll_sem_ready(&w), NPOLL_SEM_NIL);
	KUNIT_EXPECT_EQ(test, npoll_sem_fired_result(w), NPOLL_OK);
}

static void armed_and_fired_are_busy(struct kunit *test)
{
	unsigned long w = NPOLL_SEM_ARMED;

	KUNIT_EXPECT_EQ(test, npoll_sem_prepare(&w, FAKE_TASK), -EBUSY);
	KUNIT_EXPECT_EQ(test, w, NPOLL_SEM_ARMED);
	w = npoll_sem_fired(NPOLL_ERR_TIMEOUT) | NPOLL_SEM_FIRED_READY;
	KUNIT_EXPECT_EQ(test, npoll_sem_prepare(&w, FAKE_TASK), -EBUSY);
	KUNIT_EXPECT_FALSE(test,
			   npoll_sem_commit(&w, FAKE_TASK, NPOLL_SEM_ARMED));
}

/* Readiness that came after the event survives its harvest. */
static void harvest_keeps_later_readiness(struct kunit *test)
{
	unsigned long w = npoll_sem_fired(NPOLL_ERR_TIMEOUT);

	KUNIT_EXPECT_EQ(test, npoll_sem_harvest(&w), NPOLL_ERR_TIMEOUT);
	KUNIT_EXPECT_EQ(test, w, NPOLL_SEM_NIL);
	w = npoll_sem_fired(NPOLL_ERR_TIMEOUT);
	npoll_sem_ready(&w);
	KUNIT_EXPECT_EQ(test, npoll_sem_harvest(&w), NPOLL_ERR_TIMEOUT);
	KUNIT_EXPECT_EQ(test, w, NPOLL_SEM_READY);
}

static void close_rewrites_undelivered_outcome(struct kunit *test)
{
	const unsigned long closing = npoll_sem_fired(NPOLL_ERR_CLOSING);
	unsigned long w = npoll_sem_fired(NPOLL_OK) | NPOLL_SEM_FIRED_READY;

	npoll_sem_close_event(&w);
	KUNIT_EXPECT_EQ(test, w, closing | NPOLL_SEM_FIRED_READY);
	/* Words that carry no event are left alone. */
	w = NPOLL_SEM_READY;
	npoll_sem_close_event(&w);
	KUNIT_EXPECT_EQ(test, w, NPOLL_SEM_READY);
	w = FAKE_TASK;
	npoll_sem_close_event(&w);
	KUNIT_EXPECT_EQ(test, w, FAKE_TASK);
}

static void consume_drops_readiness_after_event(struct kunit *test)
{
	unsigned long w = npoll_sem_fired(NPOLL_OK) | NPOLL_SEM_FIRED_READY;

	npoll_sem_consume(&w);
	KUNIT_EXPECT_EQ(test, w, npoll_sem_fired(NPOLL_OK));
	npoll_sem_consume(&w);
	KUNIT_EXPECT_EQ(test, w, npoll_sem_fired(NPOLL_OK));
}

/* Event words never read as a task, and carry every outcome. */
static void fired_encoding(struct kunit *test)
{
	int r;

	for (r = NPOLL_OK; r <= NPOLL_ERR_NOT_POLLABLE; r++) {
		unsigned long v = npoll_sem_fired(r);
		unsigned long vr = v | NPOLL_SEM_FIRED_READY;

		KUNIT_EXPECT_TRUE(test, npoll_sem_is_fired(v));
		KUNIT_EXPECT_TRUE(test, npoll_sem_is_fired(vr));
		KUNIT_EXPECT_FALSE(test, npoll_sem_is_task(vr));
		KUNIT_EXPECT_EQ(test, npoll_sem_fired_result(vr), r);
	}
	KUNIT_EXPECT_FALSE(test, npoll_sem_is_fired(NPOLL_SEM_ARMED));
	KUNIT_EXPECT_FALSE(test, npoll_sem_is_fired(FAKE_TASK));
	KUNIT_EXPECT_EQ(test, npoll_sem_taken(npoll_sem_wait_of(FAKE_TASK)),
			NPOLL_SEM_NIL);
	KUNIT_EXPECT_EQ(test, npoll_sem_taken(NPOLL_SEM_ARMED),
			NPOLL_SEM_ARMED);
}

/* The harvest relies on this: del_all + reverse gives arrival order. */
static void ready_list_is_fifo(struct kunit *test)
{
	struct llist_node nodes[4], *n;
	LLIST_HEAD(head);
	int i;

	for (i = 0; i < 4; i++)
		llist_add(&nodes[i], &head);
	n = llist_reverse_order(llist_del_all(&head));
	for (i = 0; i < 4; i++, n = n->next)
		KUNIT_EXPECT_PTR_EQ(test, n, &nodes[i]);
	KUNIT_EXPECT_TRUE(test, llist_empty(&head));
}

static struct kunit_case npoll_sem_cases[] = {
	KUNIT_CASE(sem_prepare_consumes_readiness),
	KUNIT_CASE(sem_prepare_announces_waiter),
	KUNIT_CASE(sem_second_waiter_is_busy),
	KUNIT_CASE(sem_commit_only_from_wait),
	KUNIT_CASE(sem_ready_wakes_parked_task),
	KUNIT_CASE(sem_ready_before_commit_makes_commit_fail),
	KUNIT_CASE(sem_unblock_keeps_readiness),
	KUNIT_CASE(sem_unblock_removes_waiter),
	KUNIT_CASE(sem_consume_leaves_waiter),
	KUNIT_CASE(leaving_waiter_keeps_newer_state),
	KUNIT_CASE(info_error_precedence),
	{}
};

static struct kunit_suite npoll_sem_suite = {
	.name = "npoll_state",
	.test_cases = npoll_sem_cases,
};

static struct kunit_case npoll_ready_list_cases[] = {
	KUNIT_CASE(armed_ready_fires_ok),
	KUNIT_CASE(armed_unblock_carries_outcome),
	KUNIT_CASE(fired_is_decided_once),
	KUNIT_CASE(armed_and_fired_are_busy),
	KUNIT_CASE(harvest_keeps_later_readiness),
	KUNIT_CASE(close_rewrites_undelivered_outcome),
	KUNIT_CASE(consume_drops_readiness_after_event),
	KUNIT_CASE(fired_encoding),
	KUNIT_CASE(ready_list_is_fifo),
	{}
};

static struct kunit_suite npoll_ready_list_suite = {
	.name = "npoll_ready_list",
	.test_cases = npoll_ready_list_cases,
};

static struct kunit_case npoll_deadline_cases[] = {
	KUNIT_CASE(deadline_relative),
	KUNIT_CASE(deadline_relative_saturates),
	KUNIT_CASE(deadline_absolute),
	KUNIT_CASE(deadline_next_shares_timer),
	KUNIT_CASE(deadline_seq64_orders_across_old_window),
	{}
};

static struct kunit_suite npoll_deadline_suite = {
	.name = "npoll_deadline",
	.test_cases = npoll_deadline_cases,
};

kunit_test_suites(&npoll_sem_suite, &npoll_deadline_suite,
		  &npoll_ready_list_suite);

MODULE_DESCRIPTION("KUnit suites for npoll's internals");
MODULE_LICENSE("GPL");
