/* SPDX-License-Identifier: GPL-2.0 */
/*
 * npoll: internal declarations shared by the module's files.
 *
 * Layers, one file each:
 *   main.c      device registration, file operations, ioctl dispatch
 *   poller.c    the poller: descriptor table, handles, lookup
 *   desc.c      the descriptor cache, open/close, the wait state machine
 *   deadline.c  deadlines and their hrtimer
 *   hook.c      the wait-queue hook into the registered file
 */
#ifndef _NPOLL_INTERNAL_H
#define _NPOLL_INTERNAL_H

#include <linux/hrtimer.h>
#include <linux/irq_work.h>
#include <linux/llist.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/refcount.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/xarray.h>

#include <linux/npoll.h>

/* Poll events that signal readiness of the read and of the write mode. */
#define NPOLL_READ_EVENTS \
	(EPOLLIN | EPOLLRDNORM | EPOLLRDHUP | EPOLLHUP | EPOLLERR)
#define NPOLL_WRITE_EVENTS (EPOLLOUT | EPOLLWRNORM | EPOLLHUP | EPOLLERR)

/* A file may hand vfs_poll() up to this many wait-queue heads. */
#define NPOLL_MAX_HOOKS 2

/**
 * struct npoll_hook - one entry on one of the file's wait queues
 * @wait:  the entry; @wait.private is the descriptor
 * @whead: the queue it is on; NULL if unused or detached by POLLFREE.
 *         Written with smp_store_release() by the POLLFREE path and read
 *         with smp_load_acquire() by npoll_hook_unregister().
 */
struct npoll_hook {
	wait_queue_entry_t wait;
	wait_queue_head_t *whead;
};

/**
 * struct npoll_desc - the kernel pollDesc, one per registered file
 * @rg:     read semaphore word (kmod/sem.h)
 * @wg:     write semaphore word
 * @info:   error summary, NPOLL_INFO_* bits; the closing and expired
 *          bits change only under @lock, the event-error bit at any time
 * @ref:    users: the poller's table holds one, every ioctl in flight on
 *          the descriptor holds one.  Together they own @file: the last
 *          of them releases it (npoll_desc_put()).
 * @handle: generation << 32 | (table index + 1); set before the
 *          registration, resolvable once the table holds the descriptor,
 *          then constant while @ref > 0
 * @poller: owner; constant while @ref > 0
 * @file:   the registered file, pinned until @ref reaches 0 (then NULL)
 * @user:   user cookie
 * @fd:     the fd number the file was registered by (fdinfo's ``fd:``;
 *          the file may have any number since, or none)
 * @lock:   protects @rd, @wd, @rseq, @wseq, the arming of @timer and the
 *          closing and expired bits of @info.  Taken from the timer's
 *          hard-irq callback, so always with interrupts disabled.
 * @mref:   memory: one for all users together (dropped when @ref reaches
 *          0) and one for every queued event.  The last one frees the
 *          object; none of them owns @file.
 * @rseq:   sequence of the last ordered read deadline change (64 bits,
 *          or a 32-bit one of the first ABI layout zero-extended)
 * @wseq:   sequence of the last ordered write deadline change
 * @rd:     read deadline (kmod/deadline.h encoding)
 * @wd:     write deadline
 * @timer:  fires at the earliest pending deadline
 * @hook:   entry on the file's (first) wait queue
 *          (a second entry, for the rare file with two queues, lives in
 *          the poller's @hooks2: NPOLL_INFO_HOOK2)
 * @ev:     ready-list links of the read and the write mode, on the
 *          poller's list of that mode (so a link needs no mode field); a
 *          queued link holds a memory reference (@mref)
 *
 * Objects come from a SLAB_TYPESAFE_BY_RCU cache: a pointer found under
 * RCU may name a freed and reused descriptor, so lookups take a
 * reference with refcount_inc_not_zero() and then check @handle and
 * @poller (npoll_desc_get()).
 */
struct npoll_desc {
	unsigned long rg;
	unsigned long wg;
	atomic_t info;
	refcount_t ref;
	u64 handle;
	struct npoll_poller *poller;
	struct file *file;
	u64 user;
	int fd;
	/* Deadlines, timer arming, closing and expired bits of @info. */
	spinlock_t lock;
	/* Fills the padding after @lock on kernels without lock debugging. */
	refcount_t mref;
	u64 rseq;
	u64 wseq;
	s64 rd;
	s64 wd;
	struct hrtimer timer;
	struct npoll_hook hook;
	struct llist_node ev[2];
};

/**
 * struct npoll_counts - one CPU's share of a poller's counters
 * @waiters:    threads parked in waits
 * @armed:      armed modes whose outcome is not decided
 * @events:     decided outcomes not yet delivered
 * @busy_polls: read waits that busy-polled (NPOLL_IOC_STATS)
 * @busy_ready: those of them that found readiness while spinning
 *
 * Each count goes up on one CPU and may come down on another: only the
 * sum over the CPUs (npoll_counts_sum()) means anything.  Per CPU, so
 * that the threads of a gateway that share one poller do not bounce a
 * poller-wide cache line between them at every park and every arm.
 */
struct npoll_counts {
	int waiters;
	int armed;
	int events;
	unsigned long busy_polls;
	unsigned long busy_ready;
};

/**
 * struct npoll_poller - one open() of /dev/netpoll
 * @id:         unique among every poller since the module was loaded
 *              (fdinfo's ``poller:``), never 0
 * @lock:       serializes registration and deregistration; protects
 *              @next_gen and the table's contents
 *              (readers of @descs use RCU)
 * @descs:      table index -> descriptor
 * @hooks2:     table index -> second wait-queue entry of a descriptor
 *              whose file has two queues (rare: kept out of the
 *              descriptor to keep it small).  A closed descriptor's
 *              index stays reserved in @descs until its teardown has
 *              erased its entry here, so only it stores at its index.
 * @next_gen:   generation of the last handle issued
 * @ndescs:     descriptors in the table
 * @counts:     per-CPU counters of waits, arms, events and busy polls
 * @ev_lock:    held by a harvester while it takes events off the lists
 *              and while it puts back the ones it could not copy (never
 *              across the copy); protects @ev_out.  Taken after @lock,
 *              never before.
 * @ev_in:      the ready lists, one per mode (index mode - 1): wakers
 *              push fired modes here, lock-free
 * @ev_out:     per mode, events taken off @ev_in in arrival order, not yet
 *              delivered (a harvest may take fewer than there are)
 * @ev_wait:    harvesters blocked in NPOLL_IOC_POLL
 * @poll_wait:  poll(), epoll and io_uring waiting on the poller file itself
 *              (.poll: readable while events are pending)
 * @poll_work:  wakes @poll_wait outside the waker's context (kmod/sched.c,
 *              "Nesting")
 * @brk:        a break is pending (NPOLL_IOC_BREAK)
 * @nunix:      descriptors of AF_UNIX sockets (npoll_poller_flush())
 * @busy_usecs: NPOLL_IOC_SET_BUSY_POLL's spin time (0: the socket's)
 * @busy_budget: ... its NAPI budget (0: the socket's, or 8)
 * @busy_prefer: ... its prefer-busy-poll
 */
struct npoll_poller {
	u64 id;
	/* Registration and deregistration; the table's contents. */
	struct mutex lock;
	struct xarray descs;
	struct xarray hooks2;
	u32 next_gen;
	atomic_t ndescs;
	struct npoll_counts __percpu *counts;
	/* Taking events off the lists, putting back what a copy missed. */
	struct mutex ev_lock;
	struct llist_head ev_in[2];
	struct llist_node *ev_out[2];
	wait_queue_head_t ev_wait;
	wait_queue_head_t poll_wait;
	struct irq_work poll_work;
	atomic_t brk;
	atomic_t nunix;
	u32 busy_usecs;
	u16 busy_budget;
	u8 busy_prefer;
};

extern unsigned int npoll_max_descs;

/* main.c */
bool npoll_is_poller_file(struct file *file);

/* poller.c */
struct npoll_poller *npoll_poller_alloc(void);
void npoll_poller_free(struct npoll_poller *p);
void npoll_poller_flush(struct npoll_poller *p, struct file *file);
void npoll_poller_show_fdinfo(struct seq_file *m, struct npoll_poller *p);
void npoll_counts_sum(struct npoll_poller *p, struct npoll_counts *sum);
int npoll_poller_open_desc(struct npoll_poller *p, int fd, u64 user,
			   u64 *handle);
int npoll_poller_close_desc(struct npoll_poller *p, u64 handle);
struct npoll_desc *npoll_desc_get(struct npoll_poller *p, u64 handle);
unsigned long npoll_desc_slot(struct npoll_desc *d);

/* desc.c */
int npoll_desc_cache_init(void);
void npoll_desc_cache_exit(void);
struct npoll_desc *npoll_desc_alloc(struct npoll_poller *p, struct file *file,
				    u64 user);
void npoll_desc_put(struct npoll_desc *d);
void npoll_desc_mput(struct npoll_desc *d);
void npoll_desc_teardown(struct npoll_desc *d);
void npoll_desc_unblock(struct npoll_desc *d);
void npoll_desc_detach(struct npoll_desc *d);
void npoll_desc_ready(struct npoll_desc *d, __poll_t mask, int wake_flags);
int npoll_desc_reset(struct npoll_desc *d, u32 mode);
int npoll_desc_wait(struct npoll_desc *d, u32 mode, bool canceled);
int npoll_desc_arm(struct npoll_desc *d, u32 mode);
void npoll_publish(struct npoll_desc *d);
void npoll_desc_wake(struct npoll_desc *d, u32 mode, unsigned long taken);
unsigned long *npoll_sem_of(struct npoll_desc *d, u32 mode);

/* sched.c */
void npoll_sched_init(struct npoll_poller *p);
void npoll_sched_release(struct npoll_poller *p);
void npoll_event_queue(struct npoll_desc *d, u32 mode);
void npoll_desc_close_events(struct npoll_desc *d);
int npoll_poller_poll(struct npoll_poller *p, struct npoll_event __user *events,
		      u32 max, s64 timeout_ns);
void npoll_poller_break(struct npoll_poller *p);
__poll_t npoll_poller_poll_mask(struct npoll_poller *p, struct file *file,
				poll_table *pt);

/* deadline.c */
void npoll_deadline_init(struct npoll_desc *d);
int npoll_desc_set_deadline(struct npoll_desc *d, s64 deadline, u32 mode,
			    u32 flags, u64 seq);
void npoll_deadline_prepare_wait(struct npoll_desc *d);
void npoll_deadline_check(struct npoll_desc *d, u32 mode);

/* io.c */
long npoll_desc_io(struct npoll_desc *d, u32 mode, void __user *buf,
		   size_t len);

/* hook.c */
int npoll_hook_register(struct npoll_desc *d);
void npoll_hook_unregister(struct npoll_desc *d);

#endif /* _NPOLL_INTERNAL_H */
