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
 */
#include <linux/hrtimer.h>
#include <linux/rcupdate.h>

#include "npoll.h"
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

/* Arm the timer for the earliest pending deadline, or stop it. */
static void npoll_deadline_rearm(struct npoll_desc *d)
{
	s64 next = npoll_deadline_next(d->rd, d->wd);

	lockdep_assert_held(&d->lock);
	if (!next) {
		hrtimer_try_to_cancel(&d->timer);
		return;
	}
	if (hrtimer_is_queued(&d->timer) &&
	    ktime_to_ns(hrtimer_get_expires(&d->timer)) == next)
		return;
	hrtimer_start(&d->timer, ns_to_ktime(next), HRTIMER_MODE_ABS_HARD);
}

static enum hrtimer_restart npoll_deadline_fire(struct hrtimer *timer)
{
	struct npoll_desc *d = container_of(timer, struct npoll_desc, timer);
	enum hrtimer_restart ret = HRTIMER_NORESTART;
	unsigned long flags;
	u32 expired = 0;
	s64 now, next;

	rcu_read_lock();
	spin_lock_irqsave(&d->lock, flags);
	if (atomic_read(&d->info) & NPOLL_INFO_CLOSING)
		goto out;
	now = ktime_get_ns();
	if (d->rd > 0 && d->rd <= now) {
		d->rd = NPOLL_DL_EXPIRED;
		expired |= NPOLL_MODE_READ;
	}
	if (d->wd > 0 && d->wd <= now) {
		d->wd = NPOLL_DL_EXPIRED;
		expired |= NPOLL_MODE_WRITE;
	}
	if (expired)
		npoll_deadline_apply(d, expired);
	next = npoll_deadline_next(d->rd, d->wd);
	/*
	 * If a deadline change re-armed the timer while this callback
	 * waited for the lock, the timer is queued again for the right
	 * time: changing its expiry now would corrupt the queue.
	 */
	if (next && !hrtimer_is_queued(timer)) {
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
	hrtimer_init(&d->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS_HARD);
	d->timer.function = npoll_deadline_fire;
}

/**
 * npoll_desc_set_deadline() - pollSetDeadline
 * @d: descriptor
 * @deadline: relative or absolute, see struct npoll_deadline_args
 * @mode: NPOLL_MODE_READ, NPOLL_MODE_WRITE or NPOLL_MODE_RW
 * @absolute: @deadline is CLOCK_MONOTONIC ns
 *
 * A deadline moved into the past wakes the mode's waiter with
 * NPOLL_ERR_TIMEOUT; one extended or cleared leaves it parked.  After
 * unblock this is a no-op.
 *
 * Context: process; takes @d->lock.
 * Return: 0.
 */
int npoll_desc_set_deadline(struct npoll_desc *d, s64 deadline, u32 mode,
			    bool absolute)
{
	s64 now = ktime_get_ns();
	s64 when = absolute ? npoll_deadline_abs(now, deadline) :
			      npoll_deadline_rel(now, deadline);
	unsigned long flags;
	u32 expired = 0;

	rcu_read_lock();
	spin_lock_irqsave(&d->lock, flags);
	if (atomic_read(&d->info) & NPOLL_INFO_CLOSING)
		goto out;
	if (mode & NPOLL_MODE_READ)
		d->rd = when;
	if (mode & NPOLL_MODE_WRITE)
		d->wd = when;
	if (when < 0)
		expired = mode;
	npoll_deadline_apply(d, expired);
	npoll_deadline_rearm(d);
out:
	spin_unlock_irqrestore(&d->lock, flags);
	rcu_read_unlock();
	return 0;
}
