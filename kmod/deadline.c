// SPDX-License-Identifier: GPL-2.0
/*
 * npoll: read and write deadlines (Go's rd/wd and their timers).
 *
 * Each descriptor has one hrtimer on CLOCK_MONOTONIC, absolute, without
 * slack, armed for the earliest pending deadline; equal read and write
 * deadlines therefore share it.  The callback decides under the
 * descriptor's lock, from the stored deadlines and the clock, which
 * modes expired: a callback for a deadline that has since moved finds
 * nothing due and does nothing, and one for a closed descriptor sees
 * CLOSING.  That re-check under the lock plays the part of Go's
 * rseq/wseq: the state that decides is the state at the time of the
 * callback, not the state when the timer was armed.
 *
 * A deadline never fires early: the callback runs at or after the
 * expiry and checks "deadline <= now" against ktime_get() again.
 *
 * The timer is not a HRTIMER_MODE_*_HARD one.  Its callback takes
 * @d->lock (a spinlock_t) and, for an armed mode, the poller's wait
 * queue; on PREEMPT_RT both are sleeping locks, which hard interrupt
 * context must not take.  Without _HARD the callback runs in hard
 * interrupt context on other kernels, exactly as before, and on
 * PREEMPT_RT in the timer softirq thread, as timerfd's does: a deadline
 * is then as punctual as a timerfd expiry on the same kernel, never
 * earlier (Documentation/design.rst, "PREEMPT_RT").
 *
 * Lazy arming: setting a deadline stores it; the timer is armed only
 * while a waiter (parked thread or armed mode) exists, by the setter if
 * it sees one, else by the waiter itself before it commits
 * (npoll_deadline_prepare_wait()).  Both run under @d->lock after the
 * waiter's WAIT is stored, so one of them arms it.  Without a waiter an
 * expiry only matters to the next check, which compares the stored
 * deadline with the clock (npoll_deadline_check()).  A timer left queued
 * for a deadline since changed fires and finds nothing due.
 */
#include <linux/hrtimer.h>
#include <linux/rcupdate.h>

#include "compat.h"
#include "npoll.h"
#include "npoll_trace.h"
#include "sem.h"
#include "deadline.h"

/*
 * Bring the summary bits in line with @rd/@wd and end the wait of each
 * mode whose deadline is now expired.  Called with @d->lock held, inside
 * an RCU read-side section.
 */
static void npoll_deadline_apply(struct npoll_desc *d, u32 expired)
{
	unsigned int set = 0, clear = 0;

	lockdep_assert_held(&d->lock);
	if (d->rd < 0)
		set |= NPOLL_INFO_RD_EXPIRED;
	else
		clear |= NPOLL_INFO_RD_EXPIRED;
	if (d->wd < 0)
		set |= NPOLL_INFO_WD_EXPIRED;
	else
		clear |= NPOLL_INFO_WD_EXPIRED;
	atomic_andnot(clear, &d->info);
	atomic_or(set, &d->info);
	npoll_publish(d);
	if (expired & NPOLL_MODE_READ)
		npoll_desc_wake(d, NPOLL_MODE_READ,
				npoll_sem_unblock(&d->rg, NPOLL_ERR_TIMEOUT));
	if (expired & NPOLL_MODE_WRITE)
		npoll_desc_wake(d, NPOLL_MODE_WRITE,
				npoll_sem_unblock(&d->wg, NPOLL_ERR_TIMEOUT));
}

static bool npoll_desc_has_waiter(struct npoll_desc *d)
{
	return npoll_sem_has_waiter(READ_ONCE(d->rg)) ||
	       npoll_sem_has_waiter(READ_ONCE(d->wg));
}

/*
 * Have the timer fire no later than the earliest pending deadline.  A
 * timer queued for an earlier time is left alone: it fires, finds
 * nothing due and re-arms for the deadline then pending, so extending a
 * deadline (Go's net/http re-arms before every read) reprograms nothing.
 */
static void npoll_deadline_rearm(struct npoll_desc *d)
{
	s64 next = npoll_deadline_next(d->rd, d->wd);

	lockdep_assert_held(&d->lock);
	if (!next)
		return;
	if (hrtimer_is_queued(&d->timer) &&
	    ktime_to_ns(hrtimer_get_expires(&d->timer)) <= next)
		return;
	hrtimer_start(&d->timer, ns_to_ktime(next), HRTIMER_MODE_ABS);
}

/* Expire every mode whose deadline is due; @d->lock held. */
static void npoll_deadline_expire(struct npoll_desc *d)
{
	s64 now = ktime_get_ns();
	u32 expired = 0;

	lockdep_assert_held(&d->lock);
	if (d->rd > 0 && d->rd <= now) {
		trace_npoll_deadline(d, NPOLL_MODE_READ, now - d->rd);
		WRITE_ONCE(d->rd, NPOLL_DL_EXPIRED);
		expired |= NPOLL_MODE_READ;
	}
	if (d->wd > 0 && d->wd <= now) {
		trace_npoll_deadline(d, NPOLL_MODE_WRITE, now - d->wd);
		WRITE_ONCE(d->wd, NPOLL_DL_EXPIRED);
		expired |= NPOLL_MODE_WRITE;
	}
	if (expired)
		npoll_deadline_apply(d, expired);
}

static enum hrtimer_restart npoll_deadline_fire(struct hrtimer *timer)
{
	struct npoll_desc *d = container_of(timer, struct npoll_desc, timer);
	enum hrtimer_restart ret = HRTIMER_NORESTART;
	unsigned long flags;
	s64 next;

	rcu_read_lock();
	spin_lock_irqsave(&d->lock, flags);
	if (atomic_read(&d->info) & NPOLL_INFO_CLOSING)
		goto out;
	npoll_deadline_expire(d);
	next = npoll_deadline_next(d->rd, d->wd);
	/*
	 * If a deadline change re-armed the timer while this callback
	 * waited for the lock, the timer is queued again for the right
	 * time: changing its expiry now would corrupt the queue.  With no
	 * waiter left the timer stays off (lazy arming).
	 */
	if (next && !hrtimer_is_queued(timer) && npoll_desc_has_waiter(d)) {
		hrtimer_set_expires(timer, ns_to_ktime(next));
		ret = HRTIMER_RESTART;
	}
out:
	spin_unlock_irqrestore(&d->lock, flags);
	rcu_read_unlock();
	return ret;
}

/**
 * npoll_deadline_init() - initialize a descriptor's timer
 * @d: descriptor being set up
 */
void npoll_deadline_init(struct npoll_desc *d)
{
	npoll_hrtimer_setup(&d->timer, npoll_deadline_fire, CLOCK_MONOTONIC,
			    HRTIMER_MODE_ABS);
}

/**
 * npoll_deadline_prepare_wait() - a waiter is about to commit
 * @d: descriptor; the caller's mode word is WAIT
 *
 * Expires what is due and arms the timer for the pending deadlines, so
 * that the summary bits alone decide whether the waiter may park.
 *
 * Context: process; takes @d->lock if a deadline is set.
 */
void npoll_deadline_prepare_wait(struct npoll_desc *d)
{
	unsigned long flags;

	/* After the caller's WAIT (full barrier): pairs with smp_mb() in
	 * npoll_desc_set_deadline().
	 */
	if (READ_ONCE(d->rd) <= 0 && READ_ONCE(d->wd) <= 0)
		return;
	rcu_read_lock();
	spin_lock_irqsave(&d->lock, flags);
	if (!(atomic_read(&d->info) & NPOLL_INFO_CLOSING)) {
		npoll_deadline_expire(d);
		npoll_deadline_rearm(d);
	}
	spin_unlock_irqrestore(&d->lock, flags);
	rcu_read_unlock();
}

/**
 * npoll_deadline_check() - expire @mode's deadline if it is due
 * @d: descriptor
 * @mode: NPOLL_MODE_READ or NPOLL_MODE_WRITE
 *
 * For the error checks: with lazy arming no timer may have marked a
 * deadline that passed while nobody waited.
 *
 * Context: any process context.
 */
void npoll_deadline_check(struct npoll_desc *d, u32 mode)
{
	s64 dl = mode == NPOLL_MODE_READ ? READ_ONCE(d->rd) : READ_ONCE(d->wd);
	unsigned long flags;

	if (dl <= 0 || dl > ktime_get_ns())
		return;
	rcu_read_lock();
	spin_lock_irqsave(&d->lock, flags);
	if (!(atomic_read(&d->info) & NPOLL_INFO_CLOSING))
		npoll_deadline_expire(d);
	spin_unlock_irqrestore(&d->lock, flags);
	rcu_read_unlock();
}

/*
 * Keep only the modes whose last applied sequence is older than @seq, and
 * make @seq theirs.  Each mode has its own order: changes of one never
 * move the other's window.
 */
static u32 npoll_deadline_newer(struct npoll_desc *d, u32 mode, u64 seq,
				bool wide)
{
	lockdep_assert_held(&d->lock);
	if ((mode & NPOLL_MODE_READ) &&
	    npoll_deadline_seq_newer(d->rseq, seq, wide))
		d->rseq = seq;
	else
		mode &= ~NPOLL_MODE_READ;
	if ((mode & NPOLL_MODE_WRITE) &&
	    npoll_deadline_seq_newer(d->wseq, seq, wide))
		d->wseq = seq;
	else
		mode &= ~NPOLL_MODE_WRITE;
	return mode;
}

/**
 * npoll_desc_set_deadline() - pollSetDeadline
 * @d: descriptor
 * @deadline: relative or absolute, see struct npoll_deadline_args
 * @mode: NPOLL_MODE_READ, NPOLL_MODE_WRITE or NPOLL_MODE_RW
 * @flags: NPOLL_DEADLINE_ABS (@deadline is CLOCK_MONOTONIC ns) and
 *         NPOLL_DEADLINE_SEQ64 or NPOLL_DEADLINE_SEQ (apply only to
 *         modes whose last applied sequence is older than @seq, 64 or
 *         32 bits wide)
 * @seq: see @flags
 *
 * A deadline moved into the past wakes the mode's waiter with
 * NPOLL_ERR_TIMEOUT; one extended or cleared leaves it parked.  After
 * unblock this is a no-op.
 *
 * Context: process; takes @d->lock.
 * Return: 0.
 */
int npoll_desc_set_deadline(struct npoll_desc *d, s64 deadline, u32 mode,
			    u32 flags, u64 seq)
{
	unsigned long irqflags;
	u32 expired = 0;
	s64 when;

	rcu_read_lock();
	spin_lock_irqsave(&d->lock, irqflags);
	if (atomic_read(&d->info) & NPOLL_INFO_CLOSING)
		goto out;
	if (flags & (NPOLL_DEADLINE_SEQ | NPOLL_DEADLINE_SEQ64))
		mode = npoll_deadline_newer(d, mode, seq,
					    flags & NPOLL_DEADLINE_SEQ64);
	if (!mode)
		goto out;
	/*
	 * An absolute deadline is stored as given: whoever waits compares it
	 * with the clock (npoll_deadline_prepare_wait()), so setting one
	 * reads no clock unless a waiter exists.
	 */
	if ((flags & NPOLL_DEADLINE_ABS) && deadline >= 0)
		when = deadline;
	else if (flags & NPOLL_DEADLINE_ABS)
		when = NPOLL_DL_EXPIRED;
	else
		when = npoll_deadline_rel(ktime_get_ns(), deadline);
	if (mode & NPOLL_MODE_READ)
		WRITE_ONCE(d->rd, when);
	if (mode & NPOLL_MODE_WRITE)
		WRITE_ONCE(d->wd, when);
	trace_npoll_set_deadline(d, mode, when);
	if (when < 0)
		expired = mode;
	npoll_deadline_apply(d, expired);
	/*
	 * Store the deadline, then look for a waiter; a waiter stores WAIT,
	 * then looks at the deadlines (npoll_deadline_prepare_wait()).  With
	 * a full barrier on both sides one of the two sees the other: the
	 * waiter takes this lock and arms the timer itself, or this arms it.
	 */
	smp_mb();
	if (npoll_desc_has_waiter(d)) {
		npoll_deadline_expire(d);
		npoll_deadline_rearm(d);
	}
out:
	spin_unlock_irqrestore(&d->lock, irqflags);
	rcu_read_unlock();
	return 0;
}
