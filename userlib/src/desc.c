// SPDX-License-Identifier: MIT
/*
 * libnpoll: descriptors.  Thin wrappers over the per-descriptor ioctls,
 * and the reference count that lets np_close run while other threads
 * are blocked in calls on the same descriptor.
 *
 * Lifetime, as Go's fdMutex and FD.Close: np_open sets the count to one
 * (the open's reference).  Every call takes a reference at entry and
 * drops it at exit.  np_close sets @closing, closes the kernel
 * descriptor (which wakes every thread parked on it with
 * NP_ERR_CLOSING), drops the open's reference and then waits until the
 * count is zero, i.e. until every call that was running has returned;
 * only then does it free the memory and return.  So no call touches
 * @fd (or @pd) once np_close has returned, and the caller may close the
 * fd and have its number reused.  A call that starts after np_close has
 * returned uses a dangling pointer: the caller must not do that.
 *
 * A call increments the count before it tests @closing, and np_close
 * sets @closing before it drops its reference (both sequentially
 * consistent), so a call that sees @closing clear holds a reference
 * np_close waits for; if np_close then wins the race to the kernel, the
 * call's ioctl fails with -EBADF on the dead handle, which is reported
 * as closing.  Every blocking point of a call ends once the kernel
 * descriptor is closed (the kernel wakes parked threads, a later ioctl
 * gets -EBADF, a thread queued on an I/O mutex sees @closing once it
 * has the mutex), so the wait in np_close is bounded by the calls
 * themselves.  np_close waits for the calls of other threads: called
 * from a signal handler that interrupted a call on the same descriptor
 * it would wait for itself, and is not allowed there.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>
#include <sys/syscall.h>

#include "internal.h"

/* Take a call's reference; false (holding none) if @pd is closing. */
bool np__desc_get(struct np_desc *pd)
{
	atomic_fetch_add(&pd->refs, 1);
	if (atomic_load(&pd->closing)) {
		np__desc_put(pd);
		return false;
	}
	return true;
}

/*
 * Drop a reference.  The count reaches zero only after np_close dropped
 * the open's reference: the last call out wakes the closer.  Nothing
 * of @pd is read after the decrement (the closer may free it at once);
 * a private futex wake names the address and never reads the memory.
 */
void np__desc_put(struct np_desc *pd)
{
	atomic_uint *refs = &pd->refs;

	if (atomic_fetch_sub(refs, 1) == 1)
		np__futex_wake(refs);
}

/* Drop the open's reference and wait until no call holds @pd. */
static void desc_drain(struct np_desc *pd)
{
	unsigned int v;

	if (atomic_fetch_sub(&pd->refs, 1) == 1)
		return;
	while ((v = atomic_load(&pd->refs)) != 0)
		np__futex_wait(&pd->refs, v);
}

static void desc_free(struct np_desc *pd)
{
	struct np_poller *p = pd->poller;

	pthread_mutex_destroy(&pd->dlock);
	pthread_mutex_destroy(&pd->wlock);
	pthread_mutex_destroy(&pd->rlock);
	free(pd);
	np__poller_put(p);
}

/*
 * A descriptor ioctl made while holding a reference.  -EBADF once
 * @pd is closing means np_close reached the kernel first: report
 * @closed instead.
 */
static int desc_ioctl(struct np_desc *pd, unsigned long cmd, void *arg,
		      int closed)
{
	int ret = np__ioctl(pd->poller->fd, cmd, arg);

	if (ret == -EBADF && atomic_load(&pd->closing))
		return closed;
	return ret;
}

/* desc_ioctl() wrapped in a call's reference; @closed if closing. */
static int desc_call(struct np_desc *pd, unsigned long cmd, void *arg,
		     int closed)
{
	int ret;

	if (!np__desc_get(pd))
		return closed;
	ret = desc_ioctl(pd, cmd, arg, closed);
	np__desc_put(pd);
	return ret;
}

/* np_reset() for a caller that already holds a reference. */
int np__reset(struct np_desc *pd, int mode)
{
	struct npoll_wait_args a = {
		.handle = pd->handle,
		.mode = (__u32)mode,
	};

	return desc_ioctl(pd, NPOLL_IOC_RESET, &a, NP_ERR_CLOSING);
}

/* np_wait() for a caller that already holds a reference. */
int np__wait(struct np_desc *pd, int mode, uint32_t flags)
{
	struct npoll_wait_args a = {
		.handle = pd->handle,
		.mode = (__u32)mode,
		.flags = flags,
	};

	return desc_ioctl(pd, NPOLL_IOC_WAIT, &a, NP_ERR_CLOSING);
}

/*
 * The open holds a reference on @p from the start, so that a concurrent
 * np_poller_close cannot close the device fd under the OPEN ioctl; it
 * becomes the descriptor's reference.  A poller that is closing takes
 * no new descriptor: the check at the start fails fast, the one under
 * the list lock (np__poller_link) is the one that decides.
 */
int np_open(np_poller *p, int fd, uint64_t user, np_desc **out)
{
	struct npoll_open_args a = {
		.fd = fd,
		.user = user,
	};
	struct npoll_handle_args c;
	struct np_desc *pd;
	int ret;

	if (!p || !out)
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	if (!np__poller_get(p))
		return -EBADF;
	pd = calloc(1, sizeof(*pd));
	ret = -ENOMEM;
	if (!pd)
		goto out_put_poller;
	ret = -pthread_mutex_init(&pd->rlock, NULL);
	if (ret)
		goto out_free;
	ret = -pthread_mutex_init(&pd->wlock, NULL);
	if (ret)
		goto out_destroy_rlock;
	ret = -pthread_mutex_init(&pd->dlock, NULL);
	if (ret)
		goto out_destroy_wlock;
	ret = np__ioctl(p->fd, NPOLL_IOC_OPEN, &a);
	if (ret < 0)
		goto out_destroy_dlock;
	/* Until NPOLL_IOC_IO says otherwise (see io.c). */
	atomic_init(&pd->sock, true);
	for (int m = 0; m < 2; m++)
		atomic_init(&pd->dl[m].busy, 0);

	pd->poller = p;
	pd->fd = fd;
	pd->handle = a.handle;
	pd->user = user;
	atomic_init(&pd->refs, 1);
	atomic_init(&pd->closing, false);
	ret = np__poller_link(p, pd);
	if (ret)
		goto out_close_handle;
	*out = pd;
	return 0;

out_close_handle:
	c = (struct npoll_handle_args){ .handle = a.handle };
	np__ioctl(p->fd, NPOLL_IOC_CLOSE, &c);
out_destroy_dlock:
	pthread_mutex_destroy(&pd->dlock);
out_destroy_wlock:
	pthread_mutex_destroy(&pd->wlock);
out_destroy_rlock:
	pthread_mutex_destroy(&pd->rlock);
out_free:
	free(pd);
out_put_poller:
	np__poller_put(p);
	return ret;
}

/*
 * The rest of a close, run once by whoever set @closing (np_close or
 * np_poller_close): close the kernel descriptor, waking its waiters,
 * wait for the calls still running to return, forget @pd in its poller
 * and free it.
 */
int np__desc_shutdown(struct np_desc *pd)
{
	struct npoll_handle_args a = { .handle = pd->handle };
	int ret;

	ret = np__ioctl(pd->poller->fd, NPOLL_IOC_CLOSE, &a);
	desc_drain(pd);
	np__poller_unlink(pd->poller, pd);
	desc_free(pd);
	return ret < 0 ? ret : 0;
}

/*
 * @pd must not be used after np_close returns.  A second np_close that
 * overlaps the first (so @pd is still allocated) fails with -EBADF at
 * once, without waiting for the first.
 */
int np_close(np_desc *pd)
{
	if (!pd)
		return -EINVAL;
	if (atomic_exchange(&pd->closing, true))
		return -EBADF;
	return np__desc_shutdown(pd);
}

/* Closing implies unblock: on a closing @pd this is a no-op. */
int np_unblock(np_desc *pd)
{
	struct npoll_handle_args a;

	if (!pd)
		return -EINVAL;
	a = (struct npoll_handle_args){ .handle = pd->handle };
	return desc_call(pd, NPOLL_IOC_UNBLOCK, &a, 0);
}

static bool mode_is_one(int mode)
{
	return mode == NP_READ || mode == NP_WRITE;
}

/*
 * A call of @mode with a reference held: give the kernel the deadline
 * change it has not seen yet, then issue @cmd.
 */
static int desc_mode_call(struct np_desc *pd, int mode, unsigned long cmd,
			  uint32_t flags, bool arm)
{
	struct npoll_wait_args a = {
		.handle = pd->handle,
		.mode = (__u32)mode,
		.flags = flags,
	};
	struct np_dl_take t;
	int ret;

	if (!mode_is_one(mode))
		return -EINVAL;
	np__dl_enter(pd, mode, arm);
	np__dl_take(pd, mode, &t);
	ret = np__dl_apply(pd, mode, &t);
	if (ret == 0)
		ret = desc_ioctl(pd, cmd, &a, NP_ERR_CLOSING);
	np__dl_leave(pd, mode);
	return ret;
}

int np_reset(np_desc *pd, int mode)
{
	int ret;

	if (!pd)
		return -EINVAL;
	if (!np__desc_get(pd))
		return NP_ERR_CLOSING;
	ret = desc_mode_call(pd, mode, NPOLL_IOC_RESET, 0, false);
	np__desc_put(pd);
	return ret;
}

static int desc_wait(np_desc *pd, int mode, uint32_t flags)
{
	int ret;

	if (!pd)
		return -EINVAL;
	if (!np__desc_get(pd))
		return NP_ERR_CLOSING;
	ret = desc_mode_call(pd, mode, NPOLL_IOC_WAIT, flags, false);
	np__desc_put(pd);
	return ret;
}

int np_wait(np_desc *pd, int mode)
{
	return desc_wait(pd, mode, 0);
}

int np_wait_canceled(np_desc *pd, int mode)
{
	return desc_wait(pd, mode, NPOLL_WAIT_CANCELED);
}

/*
 * A closing descriptor gets NP_ERR_CLOSING and no event; one closed
 * after the arm succeeded gets its NP_ERR_CLOSING event from the kernel.
 */
int np_arm(np_desc *pd, int mode)
{
	int ret;

	if (!pd)
		return -EINVAL;
	if (!np__desc_get(pd))
		return NP_ERR_CLOSING;
	ret = desc_mode_call(pd, mode, NPOLL_IOC_ARM, 0, true);
	np__desc_put(pd);
	return ret;
}

/*
 * Deadlines, deferred.  A deadline change that no waiter of the mode can
 * observe yet is kept here and handed to the kernel by the next call of
 * the mode (NPOLL_IOC_IO carries it, other calls apply it first), so
 * re-arming a deadline before each read costs no system call.  A change
 * goes to the kernel at once when a call of the mode is in progress (it
 * may be parked and must see the change) or once the mode has been armed
 * (an armed mode has no call in progress to carry it).
 *
 * Ordering: a call counts itself in @busy and then takes the pending
 * change under @dlock; a change is stored under @dlock and then sent if
 * @busy is set.  A call that took an older change may reach the kernel
 * after a newer one sent at once: every change carries a sequence number
 * and the kernel ignores one older than the last it applied.  Each mode
 * counts its own changes, 64 bits wide (NPOLL_DEADLINE_SEQ64), so the
 * changes of one mode never age those of the other and the order never
 * wraps in practice.
 */
void np__dl_enter(struct np_desc *pd, int mode, bool arm)
{
	struct np_dl *dl = &pd->dl[mode - 1];

	atomic_fetch_add(&dl->busy, 1);
	if (arm && !dl->eager) {
		pthread_mutex_lock(&pd->dlock);
		dl->eager = true;
		pthread_mutex_unlock(&pd->dlock);
	}
}

void np__dl_leave(struct np_desc *pd, int mode)
{
	atomic_fetch_sub(&pd->dl[mode - 1].busy, 1);
}

void np__dl_take(struct np_desc *pd, int mode, struct np_dl_take *t)
{
	struct np_dl *dl = &pd->dl[mode - 1];

	t->set = false;
	pthread_mutex_lock(&pd->dlock);
	if (dl->dirty) {
		t->set = true;
		t->when = dl->when;
		t->seq = dl->seq;
		dl->dirty = false;
	}
	pthread_mutex_unlock(&pd->dlock);
}

static int dl_ioctl(struct np_desc *pd, int mode, int64_t when, uint64_t seq)
{
	struct npoll_deadline_args a = {
		.handle = pd->handle,
		.deadline = when,
		.mode = (__u32)mode,
		.flags = NPOLL_DEADLINE_ABS | NPOLL_DEADLINE_SEQ64,
		.seq64 = seq,
	};

	return desc_ioctl(pd, NPOLL_IOC_SET_DEADLINE, &a, 0);
}

/* Give the kernel a change taken by np__dl_take(): 0 or -errno. */
int np__dl_apply(struct np_desc *pd, int mode, const struct np_dl_take *t)
{
	int ret;

	if (!t->set)
		return 0;
	ret = dl_ioctl(pd, mode, t->when, t->seq);
	return ret < 0 ? ret : 0;
}

static int64_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Deadlines of a closing descriptor are moot: a no-op returning 0. */
static int desc_deadline(np_desc *pd, int64_t when, int mode)
{
	uint64_t seq[2] = { 0, 0 };
	int ret = 0, r;

	if (!pd)
		return -EINVAL;
	if (mode <= 0 || (mode & ~NP_RW))
		return -EINVAL;
	if (!np__desc_get(pd))
		return 0;
	pthread_mutex_lock(&pd->dlock);
	for (int m = NP_READ; m <= NP_WRITE; m++) {
		struct np_dl *dl = &pd->dl[m - 1];

		if (!(mode & m))
			continue;
		dl->when = when;
		dl->seq++;
		dl->dirty = !(dl->eager || atomic_load(&dl->busy));
		if (!dl->dirty)
			seq[m - 1] = dl->seq;
	}
	pthread_mutex_unlock(&pd->dlock);
	/* Each mode's change in its own order: one ioctl per mode. */
	for (int m = NP_READ; m <= NP_WRITE; m++) {
		if (!seq[m - 1])
			continue;
		r = dl_ioctl(pd, m, when, seq[m - 1]);
		if (r < 0 && !ret)
			ret = r;
	}
	np__desc_put(pd);
	return ret < 0 ? ret : 0;
}

/* Relative: 0 none, < 0 expired (any time in the past), saturating. */
int np_set_deadline(np_desc *pd, int64_t d, int mode)
{
	int64_t now;

	if (d == 0)
		return desc_deadline(pd, 0, mode);
	if (d < 0)
		return desc_deadline(pd, 1, mode);
	now = mono_now();
	return desc_deadline(pd, d > INT64_MAX - now ? INT64_MAX : now + d,
			     mode);
}

int np_set_deadline_at(np_desc *pd, int64_t mono_ns, int mode)
{
	/* Every time at or before now is expired; 1 is such a time. */
	return desc_deadline(pd, mono_ns < 0 ? 1 : mono_ns, mode);
}

int np_desc_fd(const np_desc *pd)
{
	return pd ? pd->fd : -EINVAL;
}

uint64_t np_desc_user(const np_desc *pd)
{
	return pd ? pd->user : 0;
}
