// SPDX-License-Identifier: GPL-2.0
/*
 * npoll: the hook into a registered file's wait queues.
 *
 * Registration calls vfs_poll() with npoll's own poll_table: the file's
 * poll method hands each of its wait-queue heads to npoll_queue_proc(),
 * which puts one of the descriptor's entries on it (up to two heads, as
 * AF_UNIX datagram sockets use; the second entry is allocated only for
 * such files).  From then on every wake-up of those queues calls
 * npoll_wake_fn() with the event mask as key.
 *
 * Duplicates: the entry is added under the queue's lock after a walk of
 * the queue for an entry of the same poller, as the file's own list of
 * watchers.  Walk and insertion are one critical section of the queue's
 * lock, so concurrent registrations of one file (which run without the
 * poller's mutex) see each other, and a descriptor being closed is
 * marked DETACHED before its close returns, so the walk finds exactly
 * the live registrations: no per-poller hash of files is needed.  The
 * walk runs with interrupts off, so it is bounded: a queue with more than
 * NPOLL_DUP_SCAN entries ahead of the point where the walk would end is
 * refused with -EBUSY rather than walked.
 *
 * POLLFREE: a queue that is about to be freed while still in use
 * (signalfd's sighand, binder) is woken with POLLFREE.  The callback then
 * unlinks the entry itself and, as its very last access to the
 * descriptor, stores NULL to the hook's head with release semantics.
 * npoll_hook_unregister() reads the head with acquire semantics under
 * RCU: NULL means the entry is gone and the head must not be touched;
 * non-NULL means the head is still alive for the RCU section (its owner
 * frees it only after a grace period) and remove_wait_queue() takes the
 * queue's lock, which serializes with a POLLFREE wake-up in progress.
 */
#include <linux/error-injection.h>
#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/wait.h>

#include "npoll.h"
#include "sem.h"

/* Most wait-queue entries the duplicate check walks with interrupts off. */
#define NPOLL_DUP_SCAN 512

struct npoll_ptqueue {
	poll_table pt;
	struct npoll_desc *desc;
	int nhooks;
	int error;
};

/*
 * The second wait-queue entry of a file with two queues, filed under the
 * descriptor's slot; NULL when it cannot be allocated.  The slot is the
 * descriptor's: a closed descriptor's slot stays reserved until its
 * teardown has erased its entry here (npoll_poller_release_slot()), so
 * nobody else stores there.  Open to fail_function (its own allocation
 * and the table's), as npoll_desc_alloc() and npoll_poller_alloc() are.
 */
static noinline struct npoll_hook *npoll_hook2_alloc(struct npoll_desc *d)
{
	struct npoll_hook *hook = kzalloc(sizeof(*hook), GFP_KERNEL_ACCOUNT);

	if (!hook)
		return NULL;
	if (xa_err(xa_store(&d->poller->hooks2, npoll_desc_slot(d), hook,
			    GFP_KERNEL_ACCOUNT))) {
		kfree(hook);
		return NULL;
	}
	return hook;
}

ALLOW_ERROR_INJECTION(npoll_hook2_alloc, NULL);

static int npoll_wake_fn(wait_queue_entry_t *wait, unsigned int mode, int sync,
			 void *key)
{
	struct npoll_hook *hook = container_of(wait, struct npoll_hook, wait);
	struct npoll_desc *d = wait->private;
	__poll_t mask = key_to_poll(key);

	/*
	 * A wake-up without a key may mean anything: both directions.  The
	 * woken thread is placed as the file's own sleepers would be: @sync
	 * carries the waker's flags (WF_SYNC from a sender about to sleep,
	 * as sock_def_readable() wakes), as epoll passes it on.
	 */
	npoll_desc_ready(d, mask ? mask : EPOLLIN | EPOLLOUT, sync);

	if (mask & POLLFREE) {
		list_del_init(&wait->entry);
		/* Last access to @d; pairs with npoll_hook_unregister(). */
		smp_store_release(&hook->whead, NULL);
	}
	return 0;
}

/*
 * Is @d's file registered with @d's poller on @whead already (a live
 * descriptor)?  0 no; -EEXIST yes; -EBUSY the queue is longer than the
 * walk may be.  Called with the queue's lock.
 */
static int npoll_queue_has_desc(wait_queue_head_t *whead, struct npoll_desc *d)
{
	unsigned int walked = 0;
	wait_queue_entry_t *w;
	struct npoll_desc *o;

	lockdep_assert_held(&whead->lock);
	list_for_each_entry(w, &whead->head, entry) {
		if (++walked > NPOLL_DUP_SCAN)
			return -EBUSY;
		if (w->func != npoll_wake_fn)
			continue;
		o = w->private;
		/*
		 * The same file: a queue may be shared by several files (an
		 * AF_UNIX datagram server's queue by all its peers).
		 */
		if (o->poller == d->poller && o->file == d->file &&
		    !(atomic_read(&o->info) & NPOLL_INFO_DETACHED))
			return -EEXIST;
	}
	return 0;
}

static void npoll_queue_proc(struct file *file, wait_queue_head_t *whead,
			     poll_table *pt)
{
	struct npoll_ptqueue *q = container_of(pt, struct npoll_ptqueue, pt);
	struct npoll_desc *d = q->desc;
	struct npoll_hook *hook;
	unsigned long flags;
	int err;

	if (q->error)
		return;
	if (q->nhooks >= NPOLL_MAX_HOOKS) {
		q->error = -EPERM;
		return;
	}
	if (q->nhooks == 0) {
		hook = &d->hook;
	} else {
		hook = npoll_hook2_alloc(d);
		if (!hook) {
			q->error = -ENOMEM;
			return;
		}
		atomic_or(NPOLL_INFO_HOOK2, &d->info);
	}
	init_waitqueue_func_entry(&hook->wait, npoll_wake_fn);
	hook->wait.private = d;

	spin_lock_irqsave(&whead->lock, flags);
	err = npoll_queue_has_desc(whead, d);
	if (err) {
		spin_unlock_irqrestore(&whead->lock, flags);
		/* A second entry is removed (and freed) by unregister. */
		q->error = err;
		return;
	}
	hook->whead = whead;
	__add_wait_queue(whead, &hook->wait);
	spin_unlock_irqrestore(&whead->lock, flags);
	q->nhooks++;
}

/**
 * npoll_hook_register() - hook a descriptor into its file's wait queues
 * @d: descriptor, fully initialized (callbacks may run at once)
 *
 * Turns the file's current poll mask into initial readiness.
 *
 * Context: process, may sleep (the file's poll method).
 * Return: 0; -EPERM if the file uses no wait-queue head or more than
 * npoll supports; -EEXIST the file is registered with this poller already;
 * -EBUSY a queue has more than NPOLL_DUP_SCAN entries; -ENOMEM.  Nothing
 * stays hooked on failure.
 */
int npoll_hook_register(struct npoll_desc *d)
{
	struct npoll_ptqueue q = { .desc = d };
	__poll_t mask;

	init_poll_funcptr(&q.pt, npoll_queue_proc);
	q.pt._key = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLHUP | EPOLLERR |
		    EPOLLRDNORM | EPOLLWRNORM;
	mask = vfs_poll(d->file, &q.pt);
	/*
	 * A poll method that hands over no queue (most /proc files) can
	 * never wake the descriptor: such a file cannot be polled.
	 */
	if (!q.error && !q.nhooks)
		q.error = -EPERM;
	if (q.error) {
		npoll_hook_unregister(d);
		return q.error;
	}
	npoll_desc_ready(d, mask, 0);
	return 0;
}

/*
 * Take @hook off its queue, once: a failed registration unhooks what it
 * had hooked, and the teardown of the descriptor that follows calls
 * this again, which must find nothing left to remove.
 */
static void npoll_hook_remove(struct npoll_hook *hook)
{
	wait_queue_head_t *whead;

	rcu_read_lock();
	/* Pairs with smp_store_release() in npoll_wake_fn(). */
	whead = smp_load_acquire(&hook->whead);
	if (whead) {
		remove_wait_queue(whead, &hook->wait);
		/* Off the queue: no wake-up can store here any more. */
		WRITE_ONCE(hook->whead, NULL);
	}
	rcu_read_unlock();
}

/**
 * npoll_hook_unregister() - take a descriptor off its file's queues
 * @d: descriptor
 *
 * On return no wake callback runs or will run on @d.
 *
 * Context: process.
 */
void npoll_hook_unregister(struct npoll_desc *d)
{
	struct npoll_hook *hook2;

	npoll_hook_remove(&d->hook);
	if (!(atomic_read(&d->info) & NPOLL_INFO_HOOK2))
		return;
	atomic_andnot(NPOLL_INFO_HOOK2, &d->info);
	hook2 = xa_erase(&d->poller->hooks2, npoll_desc_slot(d));
	if (hook2) {
		npoll_hook_remove(hook2);
		/* Off its queue, or POLLFREE made its last access. */
		kfree(hook2);
	}
}
