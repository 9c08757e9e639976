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
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/rhashtable-types.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/xarray.h>

#include <linux/npoll.h>

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
 * @ref:    references: the poller's table holds one, every ioctl in
 *          flight on the descriptor holds one
 * @handle: generation << 32 | table index; constant while @ref > 0
 * @poller: owner; constant while @ref > 0
 * @file:   the registered file, pinned until the descriptor is freed
 * @user:   user cookie
 * @lock:   protects @rd, @wd, the arming of @timer and the closing and
 *          expired bits of @info.  Taken from the timer's hard-irq
 *          callback, so always with interrupts disabled.
 * @rd:     read deadline (kmod/deadline.h encoding)
 * @wd:     write deadline
 * @timer:  fires at the earliest pending deadline
 * @node:   in the poller's file hash (duplicate registrations)
 * @hooks:  wait-queue entries on the file's queues
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
	spinlock_t lock;
	s64 rd;
	s64 wd;
	struct hrtimer timer;
	struct rhash_head node;
	struct npoll_hook hooks[NPOLL_MAX_HOOKS];
};

/**
 * struct npoll_poller - one open() of /dev/netpoll
 * @lock:       serializes registration and deregistration; protects
 *              @files, @next_index, @next_gen and the table's contents
 *              (readers of @descs use RCU)
 * @descs:      table index -> descriptor
 * @files:      file -> descriptor, to refuse duplicates
 * @next_index: cursor for cyclic index allocation
 * @next_gen:   generation of the last handle issued
 * @ndescs:     descriptors in the table
 * @nwaiters:   threads parked in waits
 */
struct npoll_poller {
	struct mutex lock;
	struct xarray descs;
	struct rhashtable files;
	u32 next_index;
	u32 next_gen;
	atomic_t ndescs;
	atomic_t nwaiters;
};

extern unsigned int npoll_max_descs;

/* main.c */
bool npoll_is_poller_file(struct file *file);

/* poller.c */
struct npoll_poller *npoll_poller_alloc(void);
void npoll_poller_free(struct npoll_poller *p);
int npoll_poller_open_desc(struct npoll_poller *p, int fd, u64 user,
			   u64 *handle);
int npoll_poller_close_desc(struct npoll_poller *p, u64 handle);
struct npoll_desc *npoll_desc_get(struct npoll_poller *p, u64 handle);

/* desc.c */
int npoll_desc_cache_init(void);
void npoll_desc_cache_exit(void);
struct npoll_desc *npoll_desc_alloc(struct npoll_poller *p,
				    struct file *file, u64 user);
void npoll_desc_put(struct npoll_desc *d);
void npoll_desc_teardown(struct npoll_desc *d);
void npoll_desc_unblock(struct npoll_desc *d);
void npoll_desc_ready(struct npoll_desc *d, __poll_t mask);
int npoll_desc_reset(struct npoll_desc *d, u32 mode);
int npoll_desc_wait(struct npoll_desc *d, u32 mode, bool canceled);
void npoll_publish(struct npoll_desc *d);
void npoll_wake(unsigned long task);

/* deadline.c */
void npoll_deadline_init(struct npoll_desc *d);
int npoll_desc_set_deadline(struct npoll_desc *d, s64 deadline, u32 mode,
			    bool absolute);

/* hook.c */
int npoll_hook_register(struct npoll_desc *d);
void npoll_hook_unregister(struct npoll_desc *d);

#endif /* _NPOLL_INTERNAL_H */
