/* SPDX-License-Identifier: MIT */
/*
 * libnpoll internals: the poller and descriptor objects and the helpers
 * shared by the source files.  Nothing here is exported; the public
 * header is included with default visibility, everything else stays
 * hidden in the shared library.
 */
#ifndef NPOLL_INTERNAL_H
#define NPOLL_INTERNAL_H

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

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

/*
 * struct np_poller - one open() of /dev/netpoll
 * @fd:      the device file descriptor, closed with the last reference
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
 *           (see np_set_deadline in desc.c)
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

/* poller.c */
int np__ioctl(int fd, unsigned long cmd, void *arg);
void np__futex_wait(atomic_uint *word, unsigned int val);
void np__futex_wake(atomic_uint *word);
bool np__poller_get(struct np_poller *p);
void np__poller_put(struct np_poller *p);
int np__poller_link(struct np_poller *p, struct np_desc *pd);
void np__poller_unlink(struct np_poller *p, struct np_desc *pd);

/* A deferred deadline change taken by a call, to pass to the kernel. */
struct np_dl_take {
	bool set;
	int64_t when;
	uint64_t seq;
};

/* desc.c */
void np__dl_enter(struct np_desc *pd, int mode, bool arm);
void np__dl_leave(struct np_desc *pd, int mode);
void np__dl_take(struct np_desc *pd, int mode, struct np_dl_take *t);
int np__dl_apply(struct np_desc *pd, int mode, const struct np_dl_take *t);
bool np__desc_get(struct np_desc *pd);
void np__desc_put(struct np_desc *pd);
int np__desc_shutdown(struct np_desc *pd);
int np__reset(struct np_desc *pd, int mode);
int np__wait(struct np_desc *pd, int mode, uint32_t flags);

#pragma GCC visibility pop

#endif /* NPOLL_INTERNAL_H */
