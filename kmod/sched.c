// SPDX-License-Identifier: GPL-2.0
/*
 * npoll: scheduler mode - the poller's ready list (Go's netpoll(delay)).
 *
 * An armed mode (npoll_desc_arm()) has no thread behind it.  The waker
 * that decides its outcome - readiness, a deadline, unblock or close -
 * moves the mode's word from ARMED to FIRED(outcome) and pushes the
 * mode's link onto the mode's list @ev_in[mode - 1] with llist_add():
 * one cmpxchg, no lock, so it may run in the deadline timer's callback
 * or under a file's wait-queue lock (readiness).  The queued link holds
 * a memory reference to the descriptor, not its file: a closed
 * descriptor's file is released at once even while its events wait.
 *
 * A harvester (NPOLL_IOC_POLL) takes the whole of a mode's @ev_in at
 * once, reverses it into arrival order onto @ev_out and delivers from
 * there, taking from the two modes in turn; each event costs O(1)
 * whatever the number of descriptors.  Under @ev_lock it takes a batch
 * of at most NPOLL_POLL_BATCH events off @ev_out into a kernel buffer,
 * reading their outcomes; it copies the buffer to user space without the
 * lock, and only then moves the words out of FIRED.  While a batch is
 * copied its words stay FIRED, so none of its modes can be armed or
 * queued again; if the copy faults the batch goes back to the head of
 * @ev_out under @ev_lock, in its order: nothing is lost or delivered
 * twice, and a copy that sleeps on a page fault (userfaultfd) holds no
 * lock anyone else needs.
 *
 * A timeout is decided when the timer fires.  Go's woken waiter checks
 * the deadline again and parks once more if it has been moved; the
 * harvest does the same when it takes a TIMEOUT event
 * (npoll_event_recheck()): a deadline moved into the future since makes
 * it no timeout, the mode is armed again (or delivers NPOLL_OK when
 * readiness came meanwhile).
 *
 * Close: once a descriptor's hooks and timer are gone no outcome can be
 * decided for it any more; npoll_desc_close_events() then rewrites every
 * undelivered event of it to NPOLL_ERR_CLOSING under @ev_lock.  So a
 * harvest that takes its events after np_close() has returned delivers
 * only NPOLL_ERR_CLOSING for that descriptor; a harvest that took an
 * event before (an np_poll() overlapping the close) delivers the outcome
 * it took.
 *
 * Blocking: harvesters sleep on @ev_wait.  A waker whose push found
 * @ev_in empty wakes them (a harvester checks the lists after
 * prepare_to_wait(), so it cannot miss a push); a harvester that leaves
 * events behind wakes the next.  The timeout is an on-stack hrtimer at
 * an absolute CLOCK_MONOTONIC expiry without slack.
 *
 * Nesting: the poller file's .poll reports EPOLLIN while events are
 * pending, so poll(), epoll and io_uring can wait for a poller.  They
 * wait on @poll_wait, not on @ev_wait: the harvesters' wake-up stays as
 * it is, and the wake-up of @poll_wait runs from an irq_work instead of
 * the waker's context.  A waker runs under the registered file's
 * wait-queue lock, and an epoll that waits for the poller may itself be
 * registered with this or another poller: woken in place, the chain
 * would take this poller's @poll_wait lock again (a deadlock), or the
 * lock of another poller's, which lockdep cannot tell from a recursion.
 * The irq_work coalesces wake-ups and starts from a context of its own
 * (hard interrupt, or the irq_work thread on PREEMPT_RT).  It wakes
 * on the same condition as the harvesters, a push onto an empty list:
 * with EPOLLET an edge comes for the first event after a harvest took
 * the list, so such a waiter harvests until np_poll() returns fewer
 * events than it asked for.  A pending break does not make the poller
 * readable (a harvest that does not block leaves the break, so a loop
 * woken for it would spin).
 */
#include <linux/hrtimer.h>
#include <linux/irq_work.h>
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

/* The descriptor of a link on the list of @mode. */
static struct npoll_desc *npoll_evlink_desc(struct llist_node *node, u32 mode)
{
	return mode == NPOLL_MODE_READ ?
		       container_of(node, struct npoll_desc, ev[0]) :
		       container_of(node, struct npoll_desc, ev[1]);
}

/* Wake poll(), epoll and io_uring waiting for the poller (see Nesting). */
static void npoll_poll_work_fn(struct irq_work *work)
{
	struct npoll_poller *p =
		container_of(work, struct npoll_poller, poll_work);

	wake_up_poll(&p->poll_wait, EPOLLIN | EPOLLRDNORM);
}

/**
 * npoll_sched_init() - set up a new poller's ready list
 * @p: poller being allocated
 */
void npoll_sched_init(struct npoll_poller *p)
{
	mutex_init(&p->ev_lock);
	init_llist_head(&p->ev_in[0]);
	init_llist_head(&p->ev_in[1]);
	p->ev_out[0] = NULL;
	p->ev_out[1] = NULL;
	init_waitqueue_head(&p->ev_wait);
	init_waitqueue_head(&p->poll_wait);
	init_irq_work(&p->poll_work, npoll_poll_work_fn);
	atomic_set(&p->brk, 0);
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
	int pass, m;

	for (m = 0; m < 2; m++) {
		for (pass = 0; pass < 2; pass++) {
			node = pass ? llist_del_all(&p->ev_in[m]) :
				      p->ev_out[m];
			for (; node; node = next) {
				next = node->next;
				this_cpu_dec(p->counts->events);
				npoll_desc_mput(npoll_evlink_desc(node, m + 1));
			}
		}
		p->ev_out[m] = NULL;
	}
	/* No waker is left to queue it again. */
	irq_work_sync(&p->poll_work);
	mutex_destroy(&p->ev_lock);
}

/**
 * npoll_event_queue() - put a fired mode on the ready list
 * @d: descriptor
 * @mode: the mode whose word the caller moved from ARMED to FIRED
 *
 * Context: any a wake-up comes from (hard interrupt on a non-RT kernel;
 * on PREEMPT_RT wait-queue locks sleep, so no waker runs there), the
 * deadline timer's callback, a harvest re-arming a stale timeout; @d's
 * memory is alive (hooked, timer armed, an ioctl's or a queued event's
 * reference), so taking a memory reference is safe.
 */
void npoll_event_queue(struct npoll_desc *d, u32 mode)
{
	struct npoll_poller *p = d->poller;

	refcount_inc(&d->mref);
	this_cpu_dec(p->counts->armed);
	this_cpu_inc(p->counts->events);
	if (llist_add(&d->ev[mode - 1], &p->ev_in[mode - 1])) {
		/*
		 * llist_add() is a full barrier: it pairs with
		 * prepare_to_wait() in the harvester.
		 */
		if (waitqueue_active(&p->ev_wait))
			wake_up(&p->ev_wait);
		/* Pairs with the smp_mb() in npoll_poller_poll_mask(). */
		if (waitqueue_active(&p->poll_wait))
			irq_work_queue(&p->poll_work);
	}
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
	return READ_ONCE(p->ev_out[0]) || READ_ONCE(p->ev_out[1]) ||
	       !llist_empty(&p->ev_in[0]) || !llist_empty(&p->ev_in[1]);
}

/*
 * The outcome to deliver for the event of @mode just taken off the list,
 * or -1 if it is no outcome any more: a TIMEOUT whose deadline has been
 * moved since the timer decided it is checked again as Go's waiter does
 * (netpollblock returns, netpollcheckerr finds no error, it parks
 * again).  Then the mode is armed again and this event's memory
 * reference is dropped; a later waker queues the next event.  Closing
 * and an expired deadline end it as they end an arm; readiness that
 * came meanwhile is delivered as NPOLL_OK.  Called with @ev_lock held,
 * so no close rewrites the word meanwhile.
 */
static int npoll_event_recheck(struct npoll_poller *p, struct npoll_desc *d,
			       u32 mode)
{
	unsigned long *sem = npoll_sem_of(d, mode);
	int err = npoll_sem_fired_result(READ_ONCE(*sem));

	lockdep_assert_held(&p->ev_lock);
	if (err != NPOLL_ERR_TIMEOUT)
		return err;
	/* A deadline moved and already due again expires now. */
	npoll_deadline_check(d, mode);
	err = npoll_info_err(atomic_read(&d->info), mode);
	if (err == NPOLL_ERR_CLOSING || err == NPOLL_ERR_TIMEOUT)
		return err;
	/* Counted first: a waker that takes ARMED uncounts it. */
	this_cpu_inc(p->counts->armed);
	if (!npoll_sem_rearm(sem)) {
		this_cpu_dec(p->counts->armed);
		return NPOLL_OK;
	}
	this_cpu_dec(p->counts->events);
	/*
	 * As npoll_desc_arm() after its commit: the timer is armed for the
	 * new deadline (the setter saw no waiter while the word was FIRED),
	 * and after the word's full barrier either this sees closing or an
	 * expiry, or the unblocker sees ARMED and queues the event itself.
	 */
	npoll_deadline_prepare_wait(d);
	err = npoll_info_err(atomic_read(&d->info), mode);
	if (err == NPOLL_ERR_CLOSING || err == NPOLL_ERR_TIMEOUT) {
		if (npoll_sem_unblock(sem, err) == NPOLL_SEM_ARMED)
			npoll_event_queue(d, mode);
	}
	npoll_desc_mput(d);
	return -1;
}

/* Make @ev_out[m] non-empty from @ev_in[m] if it can be; true if it is. */
static bool npoll_events_refill(struct npoll_poller *p, int m)
{
	struct llist_node *node;

	if (p->ev_out[m])
		return true;
	node = llist_del_all(&p->ev_in[m]);
	if (!node)
		return false;
	WRITE_ONCE(p->ev_out[m], llist_reverse_order(node));
	return true;
}

/* A batch of events taken off the lists, copied without @ev_lock. */
struct npoll_batch {
	struct npoll_event ev[NPOLL_POLL_BATCH];
	struct llist_node *node[NPOLL_POLL_BATCH];
	u8 mode[NPOLL_POLL_BATCH];
	u32 n;
};

/*
 * Take up to @room events off @ev_out, the two modes in turn, into @b.
 * Their words stay FIRED until npoll_batch_commit().
 */
static void npoll_batch_take(struct npoll_poller *p, struct npoll_batch *b,
			     u32 room)
{
	struct llist_node *node;
	struct npoll_desc *d;
	int m = 0, tries, r;

	lockdep_assert_held(&p->ev_lock);
	b->n = 0;
	while (b->n < room) {
		for (tries = 0; tries < 2 && !npoll_events_refill(p, m);
		     tries++)
			m ^= 1;
		if (tries == 2)
			break;
		node = p->ev_out[m];
		WRITE_ONCE(p->ev_out[m], node->next);
		d = npoll_evlink_desc(node, m + 1);
		r = npoll_event_recheck(p, d, m + 1);
		if (r >= 0) {
			b->node[b->n] = node;
			b->mode[b->n] = m + 1;
			b->ev[b->n].user = d->user;
			b->ev[b->n].mode = m + 1;
			b->ev[b->n].result = r;
			b->n++;
		}
		m ^= 1;
	}
}

/* A copy failed: put @b back at the head of @ev_out, in its order. */
static void npoll_batch_put_back(struct npoll_poller *p, struct npoll_batch *b)
{
	struct llist_node *node;
	int m;
	u32 i;

	lockdep_assert_held(&p->ev_lock);
	for (i = b->n; i-- > 0;) {
		m = b->mode[i] - 1;
		node = b->node[i];
		node->next = p->ev_out[m];
		WRITE_ONCE(p->ev_out[m], node);
	}
}

/* The batch reached user space: its words leave FIRED. */
static void npoll_batch_commit(struct npoll_poller *p, struct npoll_batch *b)
{
	struct npoll_desc *d;
	u32 i;

	for (i = 0; i < b->n; i++) {
		d = npoll_evlink_desc(b->node[i], b->mode[i]);
		trace_npoll_harvest(d, b->mode[i], b->ev[i].result);
		npoll_sem_harvest(npoll_sem_of(d, b->mode[i]));
		this_cpu_dec(p->counts->events);
		/* The link may be queued again from here on. */
		npoll_desc_mput(d);
	}
}

/*
 * Deliver up to @max events.  Returns the number delivered, or -EFAULT
 * if the first copy failed (the events stay queued).
 */
static int npoll_harvest(struct npoll_poller *p, struct npoll_event __user *uev,
			 u32 max)
{
	struct npoll_batch b;
	u32 done = 0;
	int ret = 0;

	while (done < max) {
		mutex_lock(&p->ev_lock);
		npoll_batch_take(p, &b,
				 min_t(u32, max - done, NPOLL_POLL_BATCH));
		mutex_unlock(&p->ev_lock);
		if (!b.n)
			break;
		if (copy_to_user(uev + done, b.ev, b.n * sizeof(b.ev[0]))) {
			mutex_lock(&p->ev_lock);
			npoll_batch_put_back(p, &b);
			mutex_unlock(&p->ev_lock);
			ret = -EFAULT;
			break;
		}
		npoll_batch_commit(p, &b);
		done += b.n;
	}
	/* Left some behind: another blocked harvester may take them. */
	if (done && npoll_events_pending(p))
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
		/* Pairs with the wakers' barriers (npoll_event_queue()). */
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

/**
 * npoll_poller_poll_mask() - .poll of the poller file
 * @p: poller
 * @file: its file
 * @pt: the caller's poll table
 *
 * Context: process.
 * Return: EPOLLIN | EPOLLRDNORM while events wait to be harvested.
 */
__poll_t npoll_poller_poll_mask(struct npoll_poller *p, struct file *file,
				poll_table *pt)
{
	poll_wait(file, &p->poll_wait, pt);
	/* Pairs with the full barrier of llist_add() in npoll_event_queue(). */
	smp_mb();
	return npoll_events_pending(p) ? EPOLLIN | EPOLLRDNORM : 0;
}
