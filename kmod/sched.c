// SPDX-License-Identifier: GPL-2.0
/*
 * npoll: scheduler mode - the poller's ready list (Go's netpoll(delay)).
 *
 * An armed mode (npoll_desc_arm()) has no thread behind it.  The waker
 * that decides its outcome - readiness, a deadline, unblock or close -
 * moves the mode's word from ARMED to FIRED(outcome) and pushes the
 * mode's link onto @ev_in with llist_add(): one cmpxchg, no lock, so it
 * may run in the deadline timer's callback or under a file's wait-queue
 * lock (readiness).  The queued link holds a reference to
 * the descriptor.
 *
 * A harvester (NPOLL_IOC_POLL) takes the whole of @ev_in at once,
 * reverses it into arrival order onto @ev_out and delivers from there;
 * each event costs O(1) whatever the number of descriptors.  It holds
 * @ev_lock from reading an event's outcome until the word leaves FIRED,
 * and copies to user space in between: if the copy faults, the events
 * stay at the head of @ev_out and nothing is lost.
 *
 * Close: once a descriptor's hooks and timer are gone no outcome can be
 * decided for it any more; npoll_desc_close_events() then rewrites every
 * undelivered event of it to NPOLL_ERR_CLOSING under @ev_lock.  So after
 * np_close() has returned, no harvest can deliver another outcome of
 * that descriptor: one that read the outcome earlier has finished its
 * copy before the close could take @ev_lock.
 *
 * Blocking: harvesters sleep on @ev_wait.  A waker whose push found
 * @ev_in empty wakes them (a harvester checks the lists after
 * prepare_to_wait(), so it cannot miss a push); a harvester that leaves
 * events behind wakes the next.  The timeout is an on-stack hrtimer at
 * an absolute CLOCK_MONOTONIC expiry without slack.
 */
#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/llist.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#include "npoll.h"
#include "npoll_trace.h"
#include "sem.h"
#include "deadline.h"

/* Events copied to user space per copy_to_user(). */
#define NPOLL_POLL_BATCH 16

static struct npoll_desc *npoll_evlink_desc(struct llist_node *node)
{
	struct npoll_evlink *l = container_of(node, struct npoll_evlink, node);

	return container_of(l, struct npoll_desc, ev[l->mode - 1]);
}

/**
 * npoll_sched_init() - set up a new poller's ready list
 * @p: poller being allocated
 */
void npoll_sched_init(struct npoll_poller *p)
{
	mutex_init(&p->ev_lock);
	init_llist_head(&p->ev_in);
	p->ev_out = NULL;
	init_waitqueue_head(&p->ev_wait);
	atomic_set(&p->brk, 0);
	atomic_set(&p->narmed, 0);
	atomic_set(&p->nevents, 0);
}

/**
 * npoll_sched_release() - drop the events of a poller being freed
 * @p: poller; every descriptor is torn down, no ioctl runs
 *
 * Context: process.
 */
void npoll_sched_release(struct npoll_poller *p)
{
	struct llist_node *node, *next;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		node = pass ? llist_del_all(&p->ev_in) : p->ev_out;
		for (; node; node = next) {
			next = node->next;
			atomic_dec(&p->nevents);
			npoll_desc_put(npoll_evlink_desc(node));
		}
	}
	p->ev_out = NULL;
	mutex_destroy(&p->ev_lock);
}

/**
 * npoll_event_queue() - put a fired mode on the ready list
 * @d: descriptor
 * @mode: the mode whose word the caller moved from ARMED to FIRED
 *
 * Context: any a wake-up comes from (hard interrupt on a non-RT kernel;
 * on PREEMPT_RT wait-queue locks sleep, so no waker runs there), the
 * deadline timer's callback; @d is alive (hooked, timer armed or an
 * ioctl's reference), so taking a reference is safe.
 */
void npoll_event_queue(struct npoll_desc *d, u32 mode)
{
	struct npoll_poller *p = d->poller;

	refcount_inc(&d->ref);
	atomic_dec(&p->narmed);
	atomic_inc(&p->nevents);
	/* Full barrier; pairs with prepare_to_wait() in the harvester. */
	if (llist_add(&d->ev[mode - 1].node, &p->ev_in) &&
	    wq_has_sleeper(&p->ev_wait))
		wake_up(&p->ev_wait);
}

/**
 * npoll_desc_close_events() - undelivered events of a closed descriptor
 * become NPOLL_ERR_CLOSING
 * @d: descriptor after its hooks and timer are gone
 *
 * Context: process, may sleep (waits for a harvest in progress).
 */
void npoll_desc_close_events(struct npoll_desc *d)
{
	struct npoll_poller *p = d->poller;

	if (!npoll_sem_is_fired(READ_ONCE(d->rg)) &&
	    !npoll_sem_is_fired(READ_ONCE(d->wg)))
		return;
	mutex_lock(&p->ev_lock);
	npoll_sem_close_event(&d->rg);
	npoll_sem_close_event(&d->wg);
	mutex_unlock(&p->ev_lock);
}

static bool npoll_events_pending(struct npoll_poller *p)
{
	return READ_ONCE(p->ev_out) || !llist_empty(&p->ev_in);
}

/*
 * Deliver up to @max events.  Returns the number delivered, or -EFAULT
 * if the first copy failed (the events stay queued).
 */
static int npoll_harvest(struct npoll_poller *p, struct npoll_event __user *uev,
			 u32 max)
{
	struct npoll_event batch[NPOLL_POLL_BATCH];
	struct llist_node *node, *nodes[NPOLL_POLL_BATCH];
	struct npoll_evlink *l;
	struct npoll_desc *d;
	u32 done = 0, n, i;
	unsigned long w;
	int ret = 0;
	bool more;

	mutex_lock(&p->ev_lock);
	while (done < max) {
		if (!p->ev_out) {
			node = llist_del_all(&p->ev_in);
			if (!node)
				break;
			WRITE_ONCE(p->ev_out, llist_reverse_order(node));
		}
		/* Read a batch; the words stay FIRED until it is copied. */
		n = 0;
		for (node = p->ev_out;
		     node && n < NPOLL_POLL_BATCH && done + n < max;
		     node = node->next) {
			l = container_of(node, struct npoll_evlink, node);
			d = npoll_evlink_desc(node);
			nodes[n] = node;
			batch[n].user = d->user;
			batch[n].mode = l->mode;
			w = READ_ONCE(*npoll_sem_of(d, l->mode));
			batch[n].result = npoll_sem_fired_result(w);
			n++;
		}
		if (copy_to_user(uev + done, batch, n * sizeof(batch[0]))) {
			ret = -EFAULT;
			break;
		}
		WRITE_ONCE(p->ev_out, node);
		for (i = 0; i < n; i++) {
			d = npoll_evlink_desc(nodes[i]);
			trace_npoll_harvest(d, batch[i].mode, batch[i].result);
			npoll_sem_harvest(npoll_sem_of(d, batch[i].mode));
			atomic_dec(&p->nevents);
			/* The link may be queued again from here on. */
			npoll_desc_put(d);
		}
		done += n;
	}
	more = npoll_events_pending(p);
	mutex_unlock(&p->ev_lock);
	/* Left some behind: another blocked harvester may take them. */
	if (more && done)
		wake_up(&p->ev_wait);
	return done ? done : ret;
}

/* Absolute expiry of a relative timeout, saturating. */
static ktime_t npoll_poll_expiry(s64 timeout_ns)
{
	s64 now = ktime_get_ns();

	if (timeout_ns > KTIME_MAX - now)
		return KTIME_MAX;
	return ns_to_ktime(now + timeout_ns);
}

/*
 * Sleep until events are pending (1), a break or the timeout @t ends the
 * call (0), or a signal arrives (-EINTR).
 */
static int npoll_poll_sleep(struct npoll_poller *p, struct hrtimer_sleeper *t)
{
	DEFINE_WAIT(wait);
	int ret;

	for (;;) {
		/* Pairs with the barrier of wq_has_sleeper() in the wakers. */
		prepare_to_wait(&p->ev_wait, &wait, TASK_INTERRUPTIBLE);
		if (npoll_events_pending(p)) {
			ret = 1;
			break;
		}
		/* A break is consumed where it is observed, and only there. */
		if (atomic_xchg(&p->brk, 0) || (t && !READ_ONCE(t->task))) {
			ret = 0;
			break;
		}
		if (signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		schedule();
	}
	finish_wait(&p->ev_wait, &wait);
	return ret;
}

/**
 * npoll_poller_poll() - NPOLL_IOC_POLL
 * @p: poller
 * @events: user array of @max events
 * @max: 1 to NPOLL_POLL_MAX
 * @timeout_ns: < 0 forever, 0 no wait, > 0 relative, no slack
 *
 * A blocking call takes a pending break before each look at the ready
 * list (Go's netpoll reads its break eventfd when epoll_wait() returned
 * it): events found in that look are returned and the break with them;
 * with none the call returns 0.  A break that comes after the look stays
 * pending for the next blocking call, so no break is lost.  A call that
 * does not block leaves a break alone.
 *
 * Context: process, sleeps interruptibly.
 * Return: events stored; 0 on timeout or break; -EINTR on a signal
 * (not restarted: the timeout is relative); -EFAULT.
 */
int npoll_poller_poll(struct npoll_poller *p, struct npoll_event __user *events,
		      u32 max, s64 timeout_ns)
{
	struct hrtimer_sleeper t;
	bool timer = false, brk;
	int ret;

	for (;;) {
		/* Full barrier: the break is taken before the look. */
		brk = timeout_ns && atomic_xchg(&p->brk, 0);
		ret = npoll_harvest(p, events, max);
		if (ret || !timeout_ns || brk)
			break;
		if (timeout_ns > 0 && !timer) {
			hrtimer_init_sleeper_on_stack(&t, CLOCK_MONOTONIC,
						      HRTIMER_MODE_ABS);
			hrtimer_set_expires(&t.timer,
					    npoll_poll_expiry(timeout_ns));
			hrtimer_sleeper_start_expires(&t, HRTIMER_MODE_ABS);
			timer = true;
		}
		ret = npoll_poll_sleep(p, timer ? &t : NULL);
		if (ret <= 0)
			break;
	}
	/* A fault delivered nothing: the break it took is still owed. */
	if (ret < 0 && brk)
		npoll_poller_break(p);
	if (timer) {
		hrtimer_cancel(&t.timer);
		destroy_hrtimer_on_stack(&t.timer);
	}
	return ret;
}

/**
 * npoll_poller_break() - NPOLL_IOC_BREAK (netpollBreak)
 * @p: poller
 *
 * Wakes the blocked harvesters; the one that takes the break returns 0
 * (or the events it found with it).  With none blocked the next blocking
 * harvest returns at once.  Breaks before that coalesce.
 *
 * Context: any process context.
 */
void npoll_poller_break(struct npoll_poller *p)
{
	atomic_set(&p->brk, 1);
	/* wq_has_sleeper() orders the store before its check. */
	if (wq_has_sleeper(&p->ev_wait))
		wake_up(&p->ev_wait);
}
