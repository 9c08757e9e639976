// SPDX-License-Identifier: GPL-2.0
/*
 * npoll: descriptors - their cache, lifetime and the wait state machine.
 *
 * READ this before changing the wait path.  A waiter and a waker meet
 * on two locations: the mode's semaphore word (kmod/sem.h) and the
 * error summary @info.  The waiter stores WAIT to the word and then
 * loads @info; the unblocking side (close, deadline) stores @info and
 * then loads the word.  Both pairs are separated by full barriers, so at
 * least one side sees the other's store:
 *
 *   waiter (npoll_block)                  unblocker (npoll_desc_unblock)
 *   cmpxchg(word, NIL, WAIT)  [full mb]   atomic_or(CLOSING, info)
 *                                         smp_mb__after_atomic()
 *   err = npoll_info_err(info)            cmpxchg(word, WAIT|task, NIL)
 *   if (!err) cmpxchg(word, WAIT, task)
 *             ... sleep ...
 *
 * Either the waiter sees CLOSING and does not sleep, or the unblocker
 * sees WAIT or the task and takes it away, so the waiter's commit fails
 * or its sleep ends.  Readiness needs no such pair: it always changes
 * the word, and a commit WAIT->task fails if the word became READY.
 *
 * The sleep itself follows the usual pattern: set_current_state() before
 * re-reading the word, the waker changes the word before
 * wake_up_process(), so a wake-up between the read and schedule() only
 * makes schedule() return at once.
 *
 * Task lifetime: a waker that takes a task pointer out of a word wakes it
 * inside an RCU read-side section that began before the xchg; the waiter
 * cannot have left the wait before that xchg, so the task's final
 * put (delayed by RCU in release_task()) cannot free it under the waker.
 */
#include <linux/file.h>
#include <linux/error-injection.h>
#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <net/busy_poll.h>
#include <net/sock.h>

#include "npoll.h"
#include "npoll_trace.h"
#include "sem.h"

static struct kmem_cache *npoll_desc_cachep;

/**
 * npoll_desc_cache_init() - create the descriptor cache
 *
 * Context: module init.
 * Return: 0 or -ENOMEM.
 */
int npoll_desc_cache_init(void)
{
	/*
	 * Kernel memory per descriptor (Documentation/performance.rst): the
	 * slab object (plus SLUB's 8-byte free pointer, outside the object
	 * for a SLAB_TYPESAFE_BY_RCU cache) must stay at most 240 bytes, 17
	 * objects per 4 KiB slab.  Lock debugging makes spinlock_t larger,
	 * and on PREEMPT_RT it is an rt_mutex.
	 */
#if !defined(CONFIG_DEBUG_SPINLOCK) && !defined(CONFIG_DEBUG_LOCK_ALLOC) && \
	!defined(CONFIG_PREEMPT_RT)
	BUILD_BUG_ON(sizeof(struct npoll_desc) > 232);
	BUILD_BUG_ON(offsetof(struct npoll_desc, mref) !=
		     offsetof(struct npoll_desc, lock) + sizeof(spinlock_t));
#endif
	npoll_desc_cachep =
		kmem_cache_create("npoll_desc", sizeof(struct npoll_desc), 0,
				  SLAB_TYPESAFE_BY_RCU | SLAB_ACCOUNT, NULL);
	return npoll_desc_cachep ? 0 : -ENOMEM;
}

/**
 * npoll_desc_cache_exit() - destroy the descriptor cache
 *
 * Context: module exit; waits for RCU readers of freed objects.
 */
void npoll_desc_cache_exit(void)
{
	kmem_cache_destroy(npoll_desc_cachep);
}

/**
 * npoll_desc_alloc() - allocate and initialize a descriptor
 * @p: owning poller
 * @file: the file to register; the descriptor takes over this reference
 * @user: user cookie
 *
 * The new descriptor holds one user reference (the table's once
 * published), which owns @file, and the memory reference of its users.
 *
 * Context: process, may sleep.
 * Return: the descriptor or NULL.
 */
struct npoll_desc *npoll_desc_alloc(struct npoll_poller *p, struct file *file,
				    u64 user)
{
	struct npoll_desc *d;

	d = kmem_cache_alloc(npoll_desc_cachep, GFP_KERNEL);
	if (!d)
		return NULL;
	/*
	 * A stale RCU reader may still look at this memory (@ref is 0 since
	 * the free).  It only ever tries refcount_inc_not_zero() and then
	 * compares @handle and @poller, so those are reset before @ref
	 * becomes non-zero; no handle it holds can match until this
	 * descriptor is published, and it then drops its reference.
	 */
	d->rg = NPOLL_SEM_NIL;
	d->wg = NPOLL_SEM_NIL;
	atomic_set(&d->info, 0);
	d->handle = 0;
	d->poller = p;
	d->file = file;
	d->user = user;
	d->fd = -1;
	spin_lock_init(&d->lock);
	d->rd = 0;
	d->wd = 0;
	d->rseq = 0;
	d->wseq = 0;
	npoll_deadline_init(d);
	memset(&d->hook, 0, sizeof(d->hook));
	refcount_set(&d->mref, 1);
	/* Pairs with smp_rmb() in npoll_desc_get(). */
	smp_wmb();
	refcount_set(&d->ref, 1);
	return d;
}

/* fail_function may make it fail as an allocation does (selftests/fault_test). */
ALLOW_ERROR_INJECTION(npoll_desc_alloc, NULL);

/**
 * npoll_desc_mput() - drop a memory reference
 * @d: descriptor
 *
 * The last one frees the object.  By then the users are gone (the file
 * is released), the hooks are off the file's queues and the timer is
 * cancelled (npoll_desc_teardown(), on every path, the failed
 * registration's too); the free cancels a timer found queued all the
 * same, with a warning: freeing the object would otherwise leave a
 * queued hrtimer in reusable memory.
 *
 * Context: process; not under @d->lock (may wait for the timer callback).
 */
void npoll_desc_mput(struct npoll_desc *d)
{
	if (!refcount_dec_and_test(&d->mref))
		return;
	WARN_ON_ONCE(hrtimer_cancel(&d->timer));
	kmem_cache_free(npoll_desc_cachep, d);
}

/**
 * npoll_desc_put() - drop a user reference
 * @d: descriptor
 *
 * The last user (the table's reference or the last ioctl in flight,
 * whichever goes last) releases the file at once, even while events of
 * the descriptor wait to be harvested: those own the memory only.  Then
 * it drops the users' memory reference.
 *
 * Context: process; not under @d->lock.
 */
void npoll_desc_put(struct npoll_desc *d)
{
	struct file *file;

	if (!refcount_dec_and_test(&d->ref))
		return;
	/* Only a torn-down descriptor loses its last user. */
	WARN_ON_ONCE(!(atomic_read(&d->info) & NPOLL_INFO_DETACHED));
	file = d->file;
	d->file = NULL;
	fput(file);
	npoll_desc_mput(d);
}

/**
 * npoll_wake_flags() - wake a task taken out of a semaphore word
 * @task: word value naming the task, or NPOLL_SEM_NIL
 * @wake_flags: the scheduler's wake flags: those a readiness wake-up
 *              callback was called with (WF_SYNC from a waker about to
 *              sleep, as a blocking read or epoll_wait() is woken), 0
 *              otherwise (npoll_wake(): wake_up_process())
 *
 * Context: any; the caller is in an RCU read-side section that began
 * before it took @task out of the word (see the comment at the top).
 */
static void npoll_wake_flags(unsigned long task, int wake_flags)
{
	/*
	 * default_wake_function() is the exported way into try_to_wake_up()
	 * with flags; it uses nothing of the entry but its task.
	 */
	wait_queue_entry_t entry = { .private = (void *)task };

	RCU_LOCKDEP_WARN(!rcu_read_lock_any_held(),
			 "task woken outside an RCU read-side section");
	if (task)
		default_wake_function(&entry, TASK_NORMAL, wake_flags, NULL);
}

static void npoll_wake(unsigned long task)
{
	npoll_wake_flags(task, 0);
}

/**
 * npoll_desc_wake() - act on what a waker took out of a mode's word
 * @d: descriptor
 * @mode: NPOLL_MODE_READ or NPOLL_MODE_WRITE
 * @taken: a task (wake it), NPOLL_SEM_ARMED (queue the mode's event,
 *         its outcome is in the word now) or NPOLL_SEM_NIL
 *
 * Context: as npoll_wake().
 */
void npoll_desc_wake(struct npoll_desc *d, u32 mode, unsigned long taken)
{
	if (taken == NPOLL_SEM_ARMED)
		npoll_event_queue(d, mode);
	else
		npoll_wake(taken);
}

/* npoll_desc_wake() for readiness: a parked task is woken with @wake_flags. */
static void npoll_desc_wake_ready(struct npoll_desc *d, u32 mode,
				  unsigned long taken, int wake_flags)
{
	if (taken == NPOLL_SEM_ARMED)
		npoll_event_queue(d, mode);
	else
		npoll_wake_flags(taken, wake_flags);
}

/**
 * npoll_publish() - make @info changes visible before loading the words
 * @d: descriptor
 *
 * Context: @d->lock held.  Pairs with the full barrier of the waiter's
 * NIL->WAIT in npoll_sem_prepare().
 */
void npoll_publish(struct npoll_desc *d)
{
	lockdep_assert_held(&d->lock);
	/* Pairs with the NIL->WAIT cmpxchg of npoll_sem_prepare(). */
	smp_mb__after_atomic();
}

static void npoll_desc_set_and_wake(struct npoll_desc *d, unsigned int bits)
{
	unsigned long flags;

	rcu_read_lock();
	spin_lock_irqsave(&d->lock, flags);
	if ((atomic_read(&d->info) & bits) != bits) {
		atomic_or(bits, &d->info);
		npoll_publish(d);
		npoll_desc_wake(d, NPOLL_MODE_READ,
				npoll_sem_unblock(&d->rg, NPOLL_ERR_CLOSING));
		npoll_desc_wake(d, NPOLL_MODE_WRITE,
				npoll_sem_unblock(&d->wg, NPOLL_ERR_CLOSING));
		/* A callback already running sees CLOSING and stops. */
		hrtimer_try_to_cancel(&d->timer);
	}
	spin_unlock_irqrestore(&d->lock, flags);
	rcu_read_unlock();
}

/**
 * npoll_desc_unblock() - mark closing and wake both waiters (pollUnblock)
 * @d: descriptor
 *
 * Idempotent.  Waiters return NPOLL_ERR_CLOSING; later deadline changes
 * are no-ops.  Canceled waits (NPOLL_WAIT_CANCELED) go on waiting.
 *
 * Context: process or softirq; takes @d->lock.
 */
void npoll_desc_unblock(struct npoll_desc *d)
{
	trace_npoll_unblock(d);
	npoll_desc_set_and_wake(d, NPOLL_INFO_CLOSING);
}

/**
 * npoll_desc_detach() - mark closed: closing, and no longer registered
 * @d: descriptor
 *
 * Wakes every waiter, canceled ones included.  Called under the poller's
 * mutex when the descriptor leaves the table, so a registration of the
 * same file that follows does not count it as a duplicate.
 *
 * Context: process; takes @d->lock.
 */
void npoll_desc_detach(struct npoll_desc *d)
{
	npoll_desc_set_and_wake(d, NPOLL_INFO_CLOSING | NPOLL_INFO_DETACHED);
}

/**
 * npoll_desc_teardown() - detach a descriptor from the world
 * @d: descriptor, already out of its poller's table
 *
 * Unblocks it, takes its entries off the file's wait queues and cancels
 * its timer.  After this no callback can run on @d; the references of
 * ioctls still in flight keep the file and the memory, queued events
 * the memory only.  Events not yet harvested become NPOLL_ERR_CLOSING.
 *
 * Context: process, may sleep.
 */
void npoll_desc_teardown(struct npoll_desc *d)
{
	/* No readiness can come after this: end canceled waits too. */
	npoll_desc_detach(d);
	npoll_hook_unregister(d);
	hrtimer_cancel(&d->timer);
	/* No waker runs any more: no outcome can be decided after this. */
	npoll_desc_close_events(d);
}

/**
 * npoll_desc_ready() - readiness reported by the file (netpollready)
 * @d: descriptor
 * @mask: poll mask of the event; callers pass both directions for a
 *        wake-up without a key
 * @wake_flags: the wake-up's scheduler flags (npoll_wake_flags()), 0
 *              for readiness found by npoll itself
 *
 * Context: any a wake-up comes from (hard interrupt on a non-RT kernel),
 * under the file's wait-queue lock: only atomic transitions,
 * wake_up_process() and, for an armed mode, npoll_event_queue().
 */
void npoll_desc_ready(struct npoll_desc *d, __poll_t mask, int wake_flags)
{
	trace_npoll_ready(d, mask);
	rcu_read_lock();
	/*
	 * Go's setEventErr(ev.Events == EPOLLERR): set by a report of the
	 * error alone, cleared by the next report of anything else.  Before
	 * the word changes: a woken reader's next check sees it.
	 */
	if (mask == EPOLLERR)
		atomic_or(NPOLL_INFO_EVENT_ERR, &d->info);
	else if (atomic_read(&d->info) & NPOLL_INFO_EVENT_ERR)
		atomic_andnot(NPOLL_INFO_EVENT_ERR, &d->info);
	if (mask & NPOLL_READ_EVENTS)
		npoll_desc_wake_ready(d, NPOLL_MODE_READ,
				      npoll_sem_ready(&d->rg), wake_flags);
	if (mask & NPOLL_WRITE_EVENTS)
		npoll_desc_wake_ready(d, NPOLL_MODE_WRITE,
				      npoll_sem_ready(&d->wg), wake_flags);
	rcu_read_unlock();
}

/* The semaphore word of @mode. */
unsigned long *npoll_sem_of(struct npoll_desc *d, u32 mode)
{
	return mode == NPOLL_MODE_READ ? &d->rg : &d->wg;
}

/*
 * Does the error event still stand?  A wake-up key reports a change, not
 * the file's state: a TCP reset wakes the queue twice, first without a
 * key (the state change: EOF, hang-up) and then with EPOLLERR alone (the
 * error report), so the last key is the error although the file reports
 * more.  Go sees the file's state (epoll polls the file when it
 * reports), and so does this check: the event applies only while the
 * file's read side reports the error and nothing else.  Otherwise it is
 * dropped as the next report would drop it, and the reader's next
 * system call gets the file's own result (ECONNRESET, then EOF).  An
 * error-only report racing with the drop may be lost; the reader then
 * gets the error from that system call instead.
 */
static bool npoll_event_err_stands(struct npoll_desc *d)
{
	if ((vfs_poll(d->file, NULL) & NPOLL_READ_EVENTS) == EPOLLERR)
		return true;
	atomic_andnot(NPOLL_INFO_EVENT_ERR, &d->info);
	return false;
}

static int npoll_checkerr(struct npoll_desc *d, u32 mode)
{
	int err = npoll_info_err(atomic_read(&d->info), mode);

	if (err == NPOLL_ERR_CLOSING || err == NPOLL_ERR_TIMEOUT)
		return err;
	/* A deadline that passed with no timer armed (lazy arming). */
	npoll_deadline_check(d, mode);
	err = npoll_info_err(atomic_read(&d->info), mode);
	if (err == NPOLL_ERR_NOT_POLLABLE && !npoll_event_err_stands(d))
		err = npoll_info_err(atomic_read(&d->info), mode);
	return err;
}

/**
 * npoll_desc_reset() - pollReset: the applying error, else drop readiness
 * @d: descriptor
 * @mode: NPOLL_MODE_READ or NPOLL_MODE_WRITE
 *
 * A parked waiter of the mode is left alone.
 *
 * Context: any.
 * Return: NPOLL_OK or an NPOLL_ERR_* code.
 */
int npoll_desc_reset(struct npoll_desc *d, u32 mode)
{
	int err = npoll_checkerr(d, mode);

	if (err)
		return err;
	npoll_sem_consume(npoll_sem_of(d, mode));
	return NPOLL_OK;
}

#ifdef CONFIG_NET_RX_BUSY_POLL
/* What npoll_busy_loop_end() tests: @wait is the word while this thread waits. */
struct npoll_busy {
	unsigned long *sem;
	unsigned long wait;
	unsigned long usecs;
};

/*
 * napi_busy_loop()'s stop test: anything that changed the word (readiness,
 * the deadline's timer, unblock, close), a signal, or the time is up.
 */
static bool npoll_busy_loop_end(void *arg, unsigned long start)
{
	struct npoll_busy *b = arg;

	return READ_ONCE(*b->sem) != b->wait || signal_pending(current) ||
	       time_after(busy_loop_current_time(), start + b->usecs);
}

/*
 * Busy-poll the NAPI context of @d's socket while the read mode's word is
 * @wait, as a blocking recv() does in sk_busy_loop(): the poller's
 * settings (NPOLL_IOC_SET_BUSY_POLL) where set, else the socket's.
 * Returns true if it spun.
 */
static bool npoll_busy_poll(struct npoll_desc *d, unsigned long *sem,
			    unsigned long wait)
{
	struct npoll_poller *p = d->poller;
	struct npoll_busy b = { .sem = sem, .wait = wait };
	struct socket *sock = sock_from_file(d->file);
	unsigned int napi_id;
	struct sock *sk;
	u16 budget;
	bool prefer;

	sk = sock ? sock->sk : NULL;
	if (!sk)
		return false;
	b.usecs = READ_ONCE(p->busy_usecs) ?: READ_ONCE(sk->sk_ll_usec);
	napi_id = READ_ONCE(sk->sk_napi_id);
	if (!b.usecs || napi_id < MIN_NAPI_ID || signal_pending(current))
		return false;
	budget = READ_ONCE(p->busy_budget);
	if (!budget)
		budget = READ_ONCE(sk->sk_busy_poll_budget) ?: BUSY_POLL_BUDGET;
	prefer = READ_ONCE(p->busy_prefer) ||
		 READ_ONCE(sk->sk_prefer_busy_poll);
	/* Counted first: a test (or a tool) can see a spin in progress. */
	this_cpu_inc(p->counts->busy_polls);
	napi_busy_loop(napi_id, npoll_busy_loop_end, &b, prefer, budget);
	return true;
}
#else
static bool npoll_busy_poll(struct npoll_desc *d, unsigned long *sem,
			    unsigned long wait)
{
	return false;
}
#endif

/*
 * One round of netpollblock: consume readiness, or park until the word
 * changes.  Returns 1 on readiness, 0 when woken without it (deadline,
 * unblock, signal), -EBUSY when another thread waits in the mode.
 */
static int npoll_block(struct npoll_desc *d, u32 mode, bool canceled)
{
	unsigned long *sem = npoll_sem_of(d, mode);
	unsigned long self = (unsigned long)current;
	int ret;

	ret = npoll_sem_prepare(sem, self);
	if (ret)
		return ret;
	if (!canceled)
		npoll_deadline_prepare_wait(d);

	/*
	 * The word is WAIT; the NIL->WAIT cmpxchg ordered it before this.
	 * npoll_deadline_prepare_wait() expired what was due: the summary
	 * bits are enough.
	 */
	if (canceled ? !(atomic_read(&d->info) & NPOLL_INFO_DETACHED) :
		       !npoll_info_err(atomic_read(&d->info), mode)) {
		/*
		 * Spin on the socket's receive path first, where asked; the
		 * word changes when the spin finds readiness (or the
		 * deadline, unblock or close ends it), and the thread does
		 * not park.
		 */
		if (mode == NPOLL_MODE_READ &&
		    npoll_busy_poll(d, sem, npoll_sem_wait_of(self)) &&
		    READ_ONCE(*sem) != npoll_sem_wait_of(self))
			goto finish;
		this_cpu_inc(d->poller->counts->waiters);
		set_current_state(TASK_INTERRUPTIBLE);
		if (npoll_sem_commit(sem, self, self)) {
			while (READ_ONCE(*sem) == self &&
			       !signal_pending(current)) {
				schedule();
				set_current_state(TASK_INTERRUPTIBLE);
			}
		}
		__set_current_state(TASK_RUNNING);
		this_cpu_dec(d->poller->counts->waiters);
	}
	/* Take the word back; a waker that raced with us left READY or NIL. */
	return npoll_sem_finish(sem, self) ? 1 : 0;
finish:
	if (!npoll_sem_finish(sem, self))
		return 0;
	this_cpu_inc(d->poller->counts->busy_ready);
	return 1;
}

/* The loop of npoll_desc_wait(); returns what it returns. */
static int __npoll_desc_wait(struct npoll_desc *d, u32 mode, bool canceled)
{
	int ret;

	for (;;) {
		if (!canceled) {
			ret = npoll_checkerr(d, mode);
			if (ret)
				return ret;
		}
		ret = npoll_block(d, mode, canceled);
		if (ret)
			return ret > 0 ? NPOLL_OK : ret;
		if (!canceled) {
			ret = npoll_checkerr(d, mode);
			if (ret)
				return ret;
		} else if (atomic_read(&d->info) & NPOLL_INFO_DETACHED) {
			return NPOLL_ERR_CLOSING;
		}
		if (signal_pending(current))
			return -ERESTARTSYS;
	}
}

/**
 * npoll_desc_wait() - pollWait / pollWaitCanceled
 * @d: descriptor (the caller holds a reference)
 * @mode: NPOLL_MODE_READ or NPOLL_MODE_WRITE
 * @canceled: wait for readiness only, ignoring unblock and deadlines;
 *            only closing the descriptor ends such a wait without it
 *
 * Returns an applying error at once, else consumes pending readiness,
 * else parks until readiness, the mode's deadline or unblock.  A wake-up
 * by a deadline that was moved before this thread ran does not end the
 * wait: the error check finds nothing and the thread parks again.
 *
 * Context: process, sleeps interruptibly.
 * Return: NPOLL_OK or an NPOLL_ERR_* code; -EBUSY another thread waits
 * in @mode; -ERESTARTSYS a signal arrived (restarted for SA_RESTART
 * handlers, -EINTR otherwise; deadlines are absolute, so a restart does
 * not extend them).
 */
int npoll_desc_wait(struct npoll_desc *d, u32 mode, bool canceled)
{
	u64 start = 0;
	int ret;

	/* The clock is read only for an enabled npoll_wait_end. */
	if (trace_npoll_wait_end_enabled())
		start = ktime_get_ns();
	trace_npoll_wait_start(d, mode, canceled);
	ret = __npoll_desc_wait(d, mode, canceled);
	trace_npoll_wait_end(d, mode, ret, start);
	return ret;
}

/* The decision of npoll_desc_arm(); returns what it returns. */
static int __npoll_desc_arm(struct npoll_desc *d, u32 mode)
{
	unsigned long *sem = npoll_sem_of(d, mode);
	unsigned long self = (unsigned long)current;
	int ret;

	for (;;) {
		ret = npoll_checkerr(d, mode);
		if (ret)
			return ret;
		ret = npoll_sem_prepare(sem, self);
		if (ret)
			return ret > 0 ? NPOLL_OK : ret;
		npoll_deadline_prepare_wait(d);
		if (!npoll_info_err(atomic_read(&d->info), mode)) {
			/* Counted first: the waker that takes ARMED uncounts it. */
			this_cpu_inc(d->poller->counts->armed);
			if (npoll_sem_commit(sem, self, NPOLL_SEM_ARMED))
				return NPOLL_PENDING;
			this_cpu_dec(d->poller->counts->armed);
		}
		/* Readiness or unblock replaced WAIT, or an error applies. */
		if (npoll_sem_finish(sem, self))
			return NPOLL_OK;
	}
}

/**
 * npoll_desc_arm() - scheduler mode: decide now or register the waiter
 * @d: descriptor (the caller holds a reference)
 * @mode: NPOLL_MODE_READ or NPOLL_MODE_WRITE
 *
 * Decides like npoll_desc_wait() but never sleeps: an applying error or
 * pending readiness is returned at once; otherwise the mode's word
 * becomes ARMED and the waker that decides the outcome (readiness,
 * deadline, unblock, close) queues exactly one event for it.  The
 * WAIT step is the one of npoll_block(), so arming pairs with unblock
 * and deadlines exactly as parking does: either this sees the error, or
 * the unblocker sees WAIT (the commit then fails) or ARMED (it queues
 * the event).
 *
 * Context: process.
 * Return: NPOLL_OK, an NPOLL_ERR_* code, NPOLL_PENDING (armed), or
 * -EBUSY (a waiter, an armed waiter or an undelivered event exists).
 */
int npoll_desc_arm(struct npoll_desc *d, u32 mode)
{
	int ret = __npoll_desc_arm(d, mode);

	trace_npoll_arm(d, mode, ret);
	return ret;
}
