/* SPDX-License-Identifier: MIT */
/*
 * libnpoll internals: the poller and descriptor objects and the helpers
 * shared by the source files.  Nothing here is exported; the public
 * header is included with default visibility, everything else stays
 * hidden in the shared library.
 *
 * Two layers, one file or more each:
 *
 *   syscall.c   the thin layer of the kernel backend: one wrapper per
 *               ioctl (np__sys_*) and the futex calls, nothing else
 *   ubackend.c  the thin layer of the user-space backend: the same
 *               operations over epoll, futexes and eventfds, for a
 *               system without /dev/netpoll
 *   poller.c    the poller object: its reference count, its list of
 *               descriptors, np_poller_close, np_poll and np_break
 *   desc.c      the descriptor and its references (Go's fdMutex): open,
 *               close waiting for the calls in flight, the wait calls
 *   deadline.c  deadlines handed to the kernel late (no system call to
 *               re-arm a deadline), with the order of changes kept
 *   io.c        the I/O helpers (Go's internal/poll.FD): turn-taking per
 *               direction and the one retry helper
 *
 * The descriptor layer reaches the kernel only through the thin layer,
 * and the thin layer only through np__be_*() below: one interface
 * (struct np_backend) whose backend each poller chooses at
 * np_poller_open.  The kernel backend is called directly behind one
 * predictable branch, the user backend through its table.
 */
#ifndef NPOLL_INTERNAL_H
#define NPOLL_INTERNAL_H

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#pragma GCC visibility push(default)
#include <npoll.h>
#pragma GCC visibility pop

#include <linux/npoll.h>

/* The library's names are the ABI's values. */
static_assert(NP_READ == NPOLL_MODE_READ, "NP_READ");
static_assert(NP_WRITE == NPOLL_MODE_WRITE, "NP_WRITE");
static_assert(NP_RW == NPOLL_MODE_RW, "NP_RW");
static_assert(NP_OK == NPOLL_OK, "NP_OK");
static_assert(NP_ERR_CLOSING == NPOLL_ERR_CLOSING, "NP_ERR_CLOSING");
static_assert(NP_ERR_TIMEOUT == NPOLL_ERR_TIMEOUT, "NP_ERR_TIMEOUT");
static_assert(NP_ERR_NOT_POLLABLE == NPOLL_ERR_NOT_POLLABLE,
	      "NP_ERR_NOT_POLLABLE");
static_assert(NP_PENDING == NPOLL_PENDING, "NP_PENDING");

struct np_poller;
struct np_dl_change;
struct ub_poller;

/*
 * struct np_backend - the thin layer's operations, one table per
 * backend.  Each mirrors an np__sys_* wrapper, taking the poller
 * instead of its device fd, and returns what the ioctl would.
 * @forget:  the library freed the descriptor of closed handle @h
 * @release: the poller's last reference is gone: free the backend
 */
struct np_backend {
	int kind;			/* NP_BACKEND_* */
	int (*open)(struct np_poller *p, int fd, uint64_t user, __u64 *h);
	int (*close)(struct np_poller *p, __u64 h);
	int (*unblock)(struct np_poller *p, __u64 h);
	int (*mode)(struct np_poller *p, unsigned long cmd, __u64 h, int mode,
		    uint32_t flags);
	int (*set_deadline)(struct np_poller *p, __u64 h, int mode,
			    int64_t when, uint64_t seq);
	ssize_t (*io)(struct np_poller *p, __u64 h, int mode, const void *buf,
		      size_t len, const struct np_dl_change *dl);
	int (*poll)(struct np_poller *p, struct np_event *ev, int max,
		    int64_t timeout_ns);
	int (*brk)(struct np_poller *p);
	int (*stats)(struct np_poller *p, struct npoll_stats *st);
	int (*busy_poll)(struct np_poller *p, bool set,
			 struct npoll_busy_poll *bp);
	void (*forget)(struct np_poller *p, __u64 h);
	void (*release)(struct np_poller *p);
};

/*
 * struct np_poller - one poller: an open() of /dev/netpoll, or a
 * user-space poller
 * @fd:      the device file descriptor, closed with the last reference
 *           (user backend: its event fd, the backend's to close)
 * @be:      the backend, chosen at open
 * @ub:      the user backend's state, NULL with the kernel's
 * @refs:    one for the user (dropped by np_poller_close) plus one per
 *           np_desc not yet freed and one per np_open in progress, so
 *           that a thread still inside a call on a descriptor never
 *           issues an ioctl on a closed (and maybe reused) fd number
 * @polls:   np_poll calls in progress; np_poller_close breaks them until
 *           none is left
 * @closing: set once by np_poller_close, under @lock; np_open and
 *           np_poll fail with -EBADF from then on
 * @lock:    protects @descs, the list links of every descriptor and the
 *           setting of @closing
 * @descs:   descriptors opened and not yet closed, for np_poller_close
 */
struct np_poller {
	int fd;
	const struct np_backend *be;
	struct ub_poller *ub;
	atomic_uint refs;
	atomic_uint polls;
	atomic_bool closing;
	pthread_mutex_t lock;
	struct np_desc *descs;
};

/*
 * struct np_desc - one registered file, the user-space side of a kernel
 * descriptor
 * @poller:  owner; holds a reference on it
 * @fd:      the registered file descriptor (the caller's)
 * @handle:  the kernel descriptor's handle
 * @user:    the caller's cookie
 * @refs:    one for the open (dropped by np_close) plus one per call in
 *           progress; the memory is freed when it reaches zero
 * @closing: set once by the caller that closes; later calls fail fast
 * @rlock:   serialises the read-side I/O helpers
 * @wlock:   serialises the write-side I/O helpers
 * @sock:    the I/O helpers try NPOLL_IOC_IO; cleared the first time it
 *           says the file is not a socket
 * @dlock:   protects @dl
 * @dl:      per mode (read, write): the deadline change not yet given to
 *           the kernel, and whether changes must go to the kernel at once
 *           (see deadline.c)
 * @prev:    link in @poller->descs, under @poller->lock
 * @next:    link in @poller->descs, under @poller->lock
 *
 * Only @refs, @closing and the links change after np_open; the other
 * fields may be read by any thread that holds a reference.
 */
struct np_desc {
	struct np_poller *poller;
	int fd;
	__u64 handle;
	uint64_t user;
	atomic_uint refs;
	atomic_bool closing;
	pthread_mutex_t rlock;
	pthread_mutex_t wlock;
	atomic_bool sock;
	pthread_mutex_t dlock;
	struct np_dl {
		int64_t when;		/* absolute CLOCK_MONOTONIC ns, 0 none */
		uint64_t seq;		/* the mode's last change, from 1 */
		bool dirty;		/* @when is not in the kernel yet */
		bool eager;		/* the mode was armed: never defer */
		atomic_int busy;	/* calls of the mode in progress */
	} dl[2];
	struct np_desc *prev;
	struct np_desc *next;
};

/* Library-private, also for calls between the library's own files. */
#pragma GCC visibility push(hidden)

/* A deadline change of one mode that the kernel has not seen yet. */
struct np_dl_change {
	bool set;		/* false: nothing to hand over */
	int64_t when;		/* absolute CLOCK_MONOTONIC ns, 0 none */
	uint64_t seq;		/* the mode's sequence number of the change */
};

/* syscall.c: the thin layer.  Each returns the ioctl's result or -errno. */
int np__sys_open(int dev, int fd, uint64_t user, __u64 *h);
int np__sys_close(int dev, __u64 h);
int np__sys_unblock(int dev, __u64 h);
int np__sys_mode(int dev, unsigned long cmd, __u64 h, int mode,
		 uint32_t flags);
int np__sys_set_deadline(int dev, __u64 h, int mode, int64_t when,
			 uint64_t seq);
ssize_t np__sys_io(int dev, __u64 h, int mode, const void *buf, size_t len,
		   const struct np_dl_change *dl);
int np__sys_poll(int dev, struct np_event *ev, int max, int64_t timeout_ns);
int np__sys_break(int dev);
int np__sys_stats(int dev, struct npoll_stats *st);
int np__sys_busy_poll(int dev, bool set, struct npoll_busy_poll *bp);
void np__futex_wait(atomic_uint *word, unsigned int val);
void np__futex_wake(atomic_uint *word);
extern const struct np_backend np__kernel_backend;

/* ubackend.c */
extern const struct np_backend np__user_backend;
int np__ub_init(struct np_poller *p);

/*
 * The thin layer as the descriptor layer calls it: the kernel's wrapper
 * directly (no indirect call on its fast paths), else the backend's.
 */
#define NP_KERNEL(p) __builtin_expect((p)->ub == NULL, 1)

static inline int np__be_open(struct np_poller *p, int fd, uint64_t user,
			      __u64 *h)
{
	if (NP_KERNEL(p))
		return np__sys_open(p->fd, fd, user, h);
	return p->be->open(p, fd, user, h);
}

static inline int np__be_close(struct np_poller *p, __u64 h)
{
	if (NP_KERNEL(p))
		return np__sys_close(p->fd, h);
	return p->be->close(p, h);
}

static inline void np__be_forget(struct np_poller *p, __u64 h)
{
	if (!NP_KERNEL(p))
		p->be->forget(p, h);
}

static inline int np__be_unblock(struct np_poller *p, __u64 h)
{
	if (NP_KERNEL(p))
		return np__sys_unblock(p->fd, h);
	return p->be->unblock(p, h);
}

static inline int np__be_mode(struct np_poller *p, unsigned long cmd,
			      __u64 h, int mode, uint32_t flags)
{
	if (NP_KERNEL(p))
		return np__sys_mode(p->fd, cmd, h, mode, flags);
	return p->be->mode(p, cmd, h, mode, flags);
}

static inline int np__be_set_deadline(struct np_poller *p, __u64 h, int mode,
				      int64_t when, uint64_t seq)
{
	if (NP_KERNEL(p))
		return np__sys_set_deadline(p->fd, h, mode, when, seq);
	return p->be->set_deadline(p, h, mode, when, seq);
}

static inline ssize_t np__be_io(struct np_poller *p, __u64 h, int mode,
				const void *buf, size_t len,
				const struct np_dl_change *dl)
{
	if (NP_KERNEL(p))
		return np__sys_io(p->fd, h, mode, buf, len, dl);
	return p->be->io(p, h, mode, buf, len, dl);
}

static inline int np__be_poll(struct np_poller *p, struct np_event *ev,
			      int max, int64_t timeout_ns)
{
	if (NP_KERNEL(p))
		return np__sys_poll(p->fd, ev, max, timeout_ns);
	return p->be->poll(p, ev, max, timeout_ns);
}

static inline int np__be_break(struct np_poller *p)
{
	if (NP_KERNEL(p))
		return np__sys_break(p->fd);
	return p->be->brk(p);
}

static inline int np__be_stats(struct np_poller *p, struct npoll_stats *st)
{
	if (NP_KERNEL(p))
		return np__sys_stats(p->fd, st);
	return p->be->stats(p, st);
}

static inline int np__be_busy_poll(struct np_poller *p, bool set,
				   struct npoll_busy_poll *bp)
{
	if (NP_KERNEL(p))
		return np__sys_busy_poll(p->fd, set, bp);
	return p->be->busy_poll(p, set, bp);
}

/* poller.c */
bool np__poller_get(struct np_poller *p);
void np__poller_put(struct np_poller *p);
int np__poller_link(struct np_poller *p, struct np_desc *pd);
void np__poller_unlink(struct np_poller *p, struct np_desc *pd);

/* desc.c */
bool np__desc_get(struct np_desc *pd);
void np__desc_put(struct np_desc *pd);
int np__desc_shutdown(struct np_desc *pd);
int np__desc_closed(struct np_desc *pd, int ret, int closed);
int np__mode_call(struct np_desc *pd, int mode, unsigned long cmd,
		  uint32_t flags);

/* deadline.c */
void np__dl_enter(struct np_desc *pd, int mode, bool arm);
void np__dl_leave(struct np_desc *pd, int mode);
void np__dl_take(struct np_desc *pd, int mode, struct np_dl_change *c);
int np__dl_apply(struct np_desc *pd, int mode, struct np_dl_change *c);

#pragma GCC visibility pop

#endif /* NPOLL_INTERNAL_H */
