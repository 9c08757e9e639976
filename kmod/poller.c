// SPDX-License-Identifier: GPL-2.0
/*
 * npoll: the poller - its descriptor table and handles.
 *
 * A handle is (generation << 32) | (slot + 1).  The slot is the lowest
 * free index of the poller's xarray, so the table stays dense (one
 * descriptor lives in the xarray's head, without a node; a cyclic
 * allocation would create and free a node on every registration); the
 * generation is a per-poller counter bumped for every registration (Go's
 * fdseq).  A handle of a closed descriptor fails the lookup even if its
 * slot holds a newer descriptor, until the 32-bit generation wraps
 * around to the very same value on the very same slot.  Neither half of
 * a valid handle is ever 0.
 */
#include <linux/error-injection.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/net.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/xarray.h>
#include <net/af_unix.h>
#include <net/scm.h>
#include <net/sock.h>

#include "npoll.h"
#include "npoll_trace.h"
#include "sem.h"
#include "deadline.h"

static atomic64_t npoll_last_poller_id = ATOMIC64_INIT(0);

/* The table slot a handle names; its low half is slot + 1. */
static unsigned long npoll_handle_slot(u64 handle)
{
	return lower_32_bits(handle) - 1;
}

/**
 * npoll_desc_slot() - the table slot of a descriptor
 * @d: descriptor with its handle assigned
 *
 * Return: the index of @d in its poller's tables.
 */
unsigned long npoll_desc_slot(struct npoll_desc *d)
{
	return npoll_handle_slot(d->handle);
}

/**
 * npoll_poller_alloc() - a new, empty poller
 *
 * Context: process, may sleep.
 * Return: the poller or NULL.
 */
struct npoll_poller *npoll_poller_alloc(void)
{
	struct npoll_poller *p;

	p = kzalloc(sizeof(*p), GFP_KERNEL_ACCOUNT);
	if (!p)
		return NULL;
	p->counts = alloc_percpu_gfp(struct npoll_counts, GFP_KERNEL_ACCOUNT);
	if (!p->counts) {
		kfree(p);
		return NULL;
	}
	p->id = atomic64_inc_return(&npoll_last_poller_id);
	mutex_init(&p->lock);
	xa_init_flags(&p->descs, XA_FLAGS_ALLOC | XA_FLAGS_ACCOUNT);
	xa_init_flags(&p->hooks2, XA_FLAGS_ACCOUNT);
	npoll_sched_init(p);
	return p;
}

ALLOW_ERROR_INJECTION(npoll_poller_alloc, NULL);

/*
 * Take @d out of @p's table; the caller owns the table's reference.  A
 * descriptor with a second wait-queue entry (NPOLL_INFO_HOOK2, final
 * once it is published) keeps its slot reserved (it reads as empty,
 * xa_alloc() skips it): that entry is still filed under the slot in
 * @hooks2 until the teardown, and a registration that took the slot now
 * would file its own there.  The caller then frees it after the
 * teardown with npoll_poller_release_slot().  Every other descriptor's
 * slot is free at once: nothing of it is filed under the index.
 *
 * Return: true if the slot stays reserved.
 */
static bool __npoll_poller_remove(struct npoll_poller *p, struct npoll_desc *d)
{
	bool reserved = atomic_read(&d->info) & NPOLL_INFO_HOOK2;

	lockdep_assert_held(&p->lock);
	/* A NULL store into an allocating xarray keeps the index reserved. */
	if (reserved)
		xa_store(&p->descs, npoll_desc_slot(d), NULL,
			 GFP_KERNEL_ACCOUNT);
	else
		xa_erase(&p->descs, npoll_desc_slot(d));
	atomic_dec(&p->ndescs);
	if (atomic_read(&d->info) & NPOLL_INFO_UNIX)
		atomic_dec(&p->nunix);
	/* Before a registration of the same file can look for it. */
	npoll_desc_detach(d);
	return reserved;
}

/*
 * Free the slot of a descriptor whose teardown is complete: nothing of
 * it is filed under the slot any more.  The xarray's own lock is enough;
 * a registration that runs concurrently under @p->lock may take the slot
 * as soon as it is free.
 */
static void npoll_poller_release_slot(struct npoll_poller *p,
				      unsigned long slot)
{
	WARN_ON_ONCE(xa_load(&p->hooks2, slot));
	xa_erase(&p->descs, slot);
}

/**
 * npoll_poller_free() - release a poller and every descriptor in it
 * @p: poller; no ioctl can be running on it any more
 *
 * Context: process (file release), may sleep.
 */
void npoll_poller_free(struct npoll_poller *p)
{
	struct npoll_desc *d;
	unsigned long index;

	mutex_lock(&p->lock);
	xa_for_each(&p->descs, index, d) {
		bool reserved = __npoll_poller_remove(p, d);

		trace_npoll_close(d);
		npoll_desc_teardown(d);
		if (reserved)
			npoll_poller_release_slot(p, index);
		npoll_desc_put(d);
	}
	mutex_unlock(&p->lock);
	/* Undelivered events hold the last references of their descriptors. */
	npoll_sched_release(p);
	xa_destroy(&p->descs);
	xa_destroy(&p->hooks2);
	mutex_destroy(&p->lock);
	free_percpu(p->counts);
	kfree(p);
}

/* Is @file an AF_UNIX socket (whose queue may carry files)? */
static bool npoll_file_is_unix(struct file *file)
{
	struct socket *sock = sock_from_file(file);

	return sock && sock->ops && sock->ops->family == PF_UNIX;
}

/*
 * Descriptors one poller may hold for the caller: max_descs, and as for
 * io_uring's registered files the caller's RLIMIT_NOFILE, since every
 * descriptor pins a file that may have no fd any more.
 */
static unsigned long npoll_desc_limit(void)
{
	return min_t(unsigned long, READ_ONCE(npoll_max_descs),
		     rlimit(RLIMIT_NOFILE));
}

/*
 * References to @pf in the messages queued on the AF_UNIX socket of @d
 * (SCM_RIGHTS).  A listener's embryos and their queues are not looked
 * at.
 */
static long npoll_unix_queue_refs(struct npoll_desc *d, struct file *pf)
{
	struct sock *sk = sock_from_file(d->file)->sk;
	struct scm_fp_list *fp;
	struct sk_buff *skb;
	unsigned long flags;
	long n = 0;
	int i;

	spin_lock_irqsave(&sk->sk_receive_queue.lock, flags);
	skb_queue_walk(&sk->sk_receive_queue, skb)
	{
		fp = UNIXCB(skb).fp;
		for (i = 0; fp && i < fp->count; i++)
			n += fp->fp[i] == pf;
	}
	spin_unlock_irqrestore(&sk->sk_receive_queue.lock, flags);
	return n;
}

/**
 * npoll_poller_flush() - an fd of the poller is being closed
 * @p: poller
 * @file: its file
 *
 * Breaks the reference cycle of a poller whose file was sent with
 * SCM_RIGHTS into the queue of an AF_UNIX socket registered in it: the
 * message pins the poller, the poller pins the socket, and the kernel's
 * unix garbage collector sees only sockets.  If, apart from the fd being
 * closed, every reference to the poller's file is in a message queued on
 * one of its own AF_UNIX sockets, nothing outside can reach the poller
 * but through those queues: their descriptors are closed, so the
 * sockets (and with them their queues and the poller) go when their
 * last fd does.  Documentation/design.rst ("Pinned files") lists what
 * this cannot see.
 *
 * Context: process (close(2)), may sleep.
 */
void npoll_poller_flush(struct npoll_poller *p, struct file *file)
{
	long count, found = 0;
	struct npoll_desc *d;
	unsigned long index;
	bool reserved;

	if (!atomic_read(&p->nunix))
		return;
	/* The fd being closed holds one; with no other, release follows. */
	count = file_count(file);
	if (count <= 1)
		return;
	mutex_lock(&p->lock);
	xa_for_each(&p->descs, index, d) {
		if (atomic_read(&d->info) & NPOLL_INFO_UNIX)
			found += npoll_unix_queue_refs(d, file);
	}
	if (!found || found + 1 < count)
		goto out;
	xa_for_each(&p->descs, index, d) {
		if (!(atomic_read(&d->info) & NPOLL_INFO_UNIX) ||
		    !npoll_unix_queue_refs(d, file))
			continue;
		reserved = __npoll_poller_remove(p, d);
		trace_npoll_close(d);
		npoll_desc_teardown(d);
		if (reserved)
			npoll_poller_release_slot(p, index);
		npoll_desc_put(d);
	}
out:
	mutex_unlock(&p->lock);
}

/**
 * npoll_poller_open_desc() - register a file (NPOLL_IOC_OPEN)
 * @p: poller
 * @fd: the caller's file descriptor
 * @user: cookie
 * @handle: out: the new handle
 *
 * The file's poll method runs without @p->lock: a slow one (a FUSE
 * file's) delays only this registration, not the poller's other opens
 * and closes.  The slot is reserved and counted first, so the limits
 * hold for registrations in progress too.
 *
 * Context: process, may sleep.
 * Return: 0; -EBADF @fd is not open; -EPERM the file cannot be polled;
 * -EINVAL the file is a poller; -EEXIST already registered here;
 * -EBUSY the file's wait queue is too crowded to check for that
 * (NPOLL_DUP_SCAN entries); -EMFILE the poller holds as many
 * descriptors as the caller's RLIMIT_NOFILE or the module parameter
 * max_descs allows; -ENOMEM.
 */
int npoll_poller_open_desc(struct npoll_poller *p, int fd, u64 user,
			   u64 *handle)
{
	struct npoll_desc *d;
	struct file *file;
	u32 index, gen;
	int ret;

	file = fget(fd);
	if (!file)
		return -EBADF;
	if (npoll_is_poller_file(file)) {
		ret = -EINVAL;
		goto out_put_file;
	}
	if (!file_can_poll(file)) {
		ret = -EPERM;
		goto out_put_file;
	}
	d = npoll_desc_alloc(p, file, user);
	if (!d) {
		ret = -ENOMEM;
		goto out_put_file;
	}
	d->fd = fd;

	mutex_lock(&p->lock);
	if (atomic_read(&p->ndescs) >= npoll_desc_limit()) {
		ret = -EMFILE;
		goto out_unlock;
	}
	/* Reserve the slot; it reads as empty until xa_store() below. */
	ret = xa_alloc(&p->descs, &index, NULL, XA_LIMIT(0, U32_MAX - 1),
		       GFP_KERNEL_ACCOUNT);
	if (ret < 0) {
		if (ret == -EBUSY)
			ret = -EMFILE;
		goto out_unlock;
	}
	/*
	 * The handle is complete from the start, so that a wake-up during
	 * the registration below is traced with the handle the descriptor
	 * will have; it resolves only once published, as npoll_desc_get()
	 * also requires the table to hold this very object at the slot.
	 */
	gen = ++p->next_gen;
	if (!gen)
		gen = ++p->next_gen;
	WRITE_ONCE(d->handle, (u64)gen << 32 | (index + 1));
	atomic_inc(&p->ndescs);
	mutex_unlock(&p->lock);

	/*
	 * Duplicates need no lock of ours: the check and the insertion are
	 * done under the file's wait-queue lock (kmod/hook.c).
	 */
	ret = npoll_hook_register(d);
	if (ret)
		goto out_teardown;

	/* As Go does: the registered file does non-blocking I/O. */
	spin_lock(&file->f_lock);
	file->f_flags |= O_NONBLOCK;
	spin_unlock(&file->f_lock);
	if (npoll_file_is_unix(file))
		atomic_or(NPOLL_INFO_UNIX, &d->info);
	*handle = d->handle;
	trace_npoll_open(d, fd);
	/*
	 * Publish last: from here on any thread holding the poller may
	 * close the descriptor, so neither @d nor @file is touched after.
	 */
	mutex_lock(&p->lock);
	if (atomic_read(&d->info) & NPOLL_INFO_UNIX)
		atomic_inc(&p->nunix);
	xa_store(&p->descs, index, d, GFP_KERNEL_ACCOUNT);
	mutex_unlock(&p->lock);
	return 0;

out_teardown:
	/*
	 * Nobody else holds a reference (the handle never resolved), but
	 * the unwinding is the close's all the same: whatever was set up is
	 * undone before the slot and the object are given back.
	 */
	npoll_desc_teardown(d);
	npoll_poller_release_slot(p, index);
	atomic_dec(&p->ndescs);
	npoll_desc_put(d);
	return ret;

out_unlock:
	mutex_unlock(&p->lock);
	/* Never registered: only its users' references go. */
	atomic_or(NPOLL_INFO_CLOSING | NPOLL_INFO_DETACHED, &d->info);
	npoll_desc_put(d);
	return ret;

out_put_file:
	fput(file);
	return ret;
}

/**
 * npoll_poller_close_desc() - deregister and free (NPOLL_IOC_CLOSE)
 * @p: poller
 * @handle: descriptor
 *
 * Waiters in flight return NPOLL_ERR_CLOSING; the memory goes when the
 * last of them drops its reference.  The handle is stale at once.
 *
 * Context: process, may sleep.
 * Return: 0 or -EBADF.
 */
int npoll_poller_close_desc(struct npoll_poller *p, u64 handle)
{
	struct npoll_desc *d;
	bool reserved;

	mutex_lock(&p->lock);
	d = NULL;
	if (lower_32_bits(handle))
		d = xa_load(&p->descs, npoll_handle_slot(handle));
	if (!d || d->handle != handle) {
		mutex_unlock(&p->lock);
		return -EBADF;
	}
	reserved = __npoll_poller_remove(p, d);
	mutex_unlock(&p->lock);
	trace_npoll_close(d);

	npoll_desc_teardown(d);
	if (reserved)
		npoll_poller_release_slot(p, npoll_desc_slot(d));
	npoll_desc_put(d);
	return 0;
}

/**
 * npoll_desc_get() - look up a handle and take a reference
 * @p: poller
 * @handle: untrusted handle from user space
 *
 * Context: any process context.
 * Return: the descriptor (release with npoll_desc_put()) or NULL.
 */
struct npoll_desc *npoll_desc_get(struct npoll_poller *p, u64 handle)
{
	struct npoll_desc *d;

	if (!lower_32_bits(handle) || !upper_32_bits(handle))
		return NULL;
	rcu_read_lock();
	d = xa_load(&p->descs, npoll_handle_slot(handle));
	if (d && !refcount_inc_not_zero(&d->ref))
		d = NULL;
	rcu_read_unlock();
	if (!d)
		return NULL;
	/*
	 * The object may have been freed and reused since xa_load(): only
	 * a matching handle and poller make it the descriptor asked for.
	 * Pairs with smp_wmb() in npoll_desc_alloc().
	 */
	smp_rmb();
	if (READ_ONCE(d->handle) != handle || READ_ONCE(d->poller) != p)
		goto out_put;
	/*
	 * A stale pointer to an object reused by a registration still in
	 * progress matches the handle too, if the caller predicted it: only
	 * the table holding this object at the slot makes it published.
	 * xa_store() in npoll_poller_open_desc() publishes with release
	 * semantics; nothing can fail after it.
	 */
	if (xa_load(&p->descs, npoll_handle_slot(handle)) != d)
		goto out_put;
	return d;

out_put:
	npoll_desc_put(d);
	return NULL;
}

/* fdinfo's name for the state of a mode's word. */
static const char *npoll_sem_state_name(unsigned long v)
{
	if (v == NPOLL_SEM_NIL)
		return "idle";
	if (v == NPOLL_SEM_READY)
		return "ready";
	if (v == NPOLL_SEM_ARMED)
		return "armed";
	if (npoll_sem_is_fired(v))
		return "fired";
	return "waiting"; /* a task: parked, or about to park or arm */
}

/* A mode's state and its deadline as fdinfo prints them. */
static void npoll_fdinfo_mode(struct seq_file *m, const char *name,
			      unsigned long sem, s64 dl, s64 now)
{
	seq_printf(m, " %s: %s ", name, npoll_sem_state_name(sem));
	if (dl == NPOLL_DL_NONE)
		seq_puts(m, "-");
	else if (dl == NPOLL_DL_EXPIRED || dl <= now)
		seq_puts(m, "0");
	else
		seq_printf(m, "%lld", dl - now);
}

/**
 * npoll_counts_sum() - a poller's counters, summed over the CPUs
 * @p: poller
 * @sum: filled in
 *
 * Exact while nothing changes them; a sum taken while counts move from
 * one CPU to another may be off by the changes in flight, and a count
 * never reads below zero.
 *
 * Context: any.
 */
void npoll_counts_sum(struct npoll_poller *p, struct npoll_counts *sum)
{
	int cpu;

	memset(sum, 0, sizeof(*sum));
	for_each_possible_cpu(cpu) {
		struct npoll_counts *c = per_cpu_ptr(p->counts, cpu);

		sum->waiters += READ_ONCE(c->waiters);
		sum->armed += READ_ONCE(c->armed);
		sum->events += READ_ONCE(c->events);
		sum->busy_polls += READ_ONCE(c->busy_polls);
		sum->busy_ready += READ_ONCE(c->busy_ready);
	}
	sum->waiters = max(sum->waiters, 0);
	sum->armed = max(sum->armed, 0);
	sum->events = max(sum->events, 0);
}

/**
 * npoll_poller_show_fdinfo() - /proc/PID/fdinfo/N of a poller
 * @m: the fdinfo file, after its generic lines
 * @p: poller
 *
 * One line per descriptor in handle order, then the counters of
 * NPOLL_IOC_STATS (Documentation/userspace-api.rst, "fdinfo").  The
 * states and deadlines are a snapshot taken without the descriptors'
 * locks: each field is current, the line as a whole may mix moments.
 * The table is walked under @p->lock (registrations wait), and the walk
 * stops as soon as @m's buffer is full: seq_file then calls again with a
 * buffer twice as large, so a reader never costs more than one walk per
 * doubling, and no line allocates.
 *
 * Context: process, sleeps.
 */
void npoll_poller_show_fdinfo(struct seq_file *m, struct npoll_poller *p)
{
	struct npoll_desc *d;
	struct npoll_counts c;
	unsigned long index;
	s64 now = ktime_get_ns();

	seq_printf(m, "poller:\t%llu\n", p->id);
	mutex_lock(&p->lock);
	xa_for_each(&p->descs, index, d) {
		struct inode *inode = file_inode(d->file);

		seq_printf(m,
			   "desc: %llx fd: %d ino: %lx sdev: %x user: 0x%llx",
			   d->handle, d->fd, inode->i_ino, inode->i_sb->s_dev,
			   d->user);
		npoll_fdinfo_mode(m, "r", READ_ONCE(d->rg), READ_ONCE(d->rd),
				  now);
		npoll_fdinfo_mode(m, "w", READ_ONCE(d->wg), READ_ONCE(d->wd),
				  now);
		seq_putc(m, '\n');
		if (seq_has_overflowed(m))
			break;
		cond_resched();
	}
	mutex_unlock(&p->lock);
	npoll_counts_sum(p, &c);
	seq_printf(m, "descs: %d waiters: %d armed: %d events: %d",
		   atomic_read(&p->ndescs), c.waiters, c.armed, c.events);
	seq_printf(m, " busy_polls: %lu busy_ready: %lu", c.busy_polls,
		   c.busy_ready);
	seq_printf(m, " busy_usecs: %u busy_budget: %u busy_prefer: %u\n",
		   READ_ONCE(p->busy_usecs), READ_ONCE(p->busy_budget),
		   READ_ONCE(p->busy_prefer));
}
