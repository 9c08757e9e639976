// SPDX-License-Identifier: MIT
/*
 * libnpoll: descriptors.  Thin wrappers over the per-descriptor ioctls,
 * and the reference count that lets np_close run while other threads
 * are blocked in calls on the same descriptor.
 *
 * Lifetime, as Go's fdMutex: np_open sets the count to one (the open's
 * reference).  Every call takes a reference at entry and drops it at
 * exit; np_close sets @closing, closes the kernel descriptor (which
 * wakes every thread parked on it with NP_ERR_CLOSING) and drops the
 * open's reference.  The memory goes with the last reference, so a
 * thread already inside a call never touches freed memory.  A call
 * that starts after np_close has returned uses a dangling pointer: the
 * caller must not do that.
 *
 * A call increments the count before it tests @closing, and np_close
 * sets @closing before it drops its reference (both sequentially
 * consistent), so a call that sees @closing clear has a reference that
 * keeps the memory alive; if np_close then wins the race to the
 * kernel, the call's ioctl fails with -EBADF on the dead handle, which
 * is reported as closing.
 */
#include <errno.h>
#include <stdlib.h>

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

/* Drop a reference; the last one frees @pd and its poller reference. */
void np__desc_put(struct np_desc *pd)
{
	struct np_poller *p = pd->poller;

	if (atomic_fetch_sub(&pd->refs, 1) != 1)
		return;
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

int np_open(np_poller *p, int fd, uint64_t user, np_desc **out)
{
	struct npoll_open_args a = {
		.fd = fd,
		.user = user,
	};
	struct np_desc *pd;
	int ret;

	if (!p || !out)
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	pd = calloc(1, sizeof(*pd));
	if (!pd)
		return -ENOMEM;
	ret = -pthread_mutex_init(&pd->rlock, NULL);
	if (ret)
		goto out_free;
	ret = -pthread_mutex_init(&pd->wlock, NULL);
	if (ret)
		goto out_destroy_rlock;
	ret = np__ioctl(p->fd, NPOLL_IOC_OPEN, &a);
	if (ret < 0)
		goto out_destroy_wlock;

	pd->poller = p;
	pd->fd = fd;
	pd->handle = a.handle;
	pd->user = user;
	atomic_init(&pd->refs, 1);
	atomic_init(&pd->closing, false);
	np__poller_get(p);
	np__poller_link(p, pd);
	*out = pd;
	return 0;

out_destroy_wlock:
	pthread_mutex_destroy(&pd->wlock);
out_destroy_rlock:
	pthread_mutex_destroy(&pd->rlock);
out_free:
	free(pd);
	return ret;
}

/*
 * The rest of a close, run once by whoever set @closing (np_close or
 * np_poller_close): close the kernel descriptor, waking its waiters,
 * forget @pd in its poller and drop the open's reference.
 */
int np__desc_shutdown(struct np_desc *pd)
{
	struct npoll_handle_args a = { .handle = pd->handle };
	int ret;

	ret = np__ioctl(pd->poller->fd, NPOLL_IOC_CLOSE, &a);
	np__poller_unlink(pd->poller, pd);
	np__desc_put(pd);
	return ret < 0 ? ret : 0;
}

/*
 * @pd must not be used after np_close returns.  A second np_close that
 * overlaps the first (so @pd is still allocated) fails with -EBADF.
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

int np_reset(np_desc *pd, int mode)
{
	int ret;

	if (!pd)
		return -EINVAL;
	if (!np__desc_get(pd))
		return NP_ERR_CLOSING;
	ret = np__reset(pd, mode);
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
	ret = np__wait(pd, mode, flags);
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
	struct npoll_wait_args a;

	if (!pd)
		return -EINVAL;
	a = (struct npoll_wait_args){
		.handle = pd->handle,
		.mode = (__u32)mode,
	};
	return desc_call(pd, NPOLL_IOC_ARM, &a, NP_ERR_CLOSING);
}

/* Deadlines of a closing descriptor are moot: a no-op returning 0. */
static int desc_deadline(np_desc *pd, int64_t deadline, int mode,
			 uint32_t flags)
{
	struct npoll_deadline_args a;

	if (!pd)
		return -EINVAL;
	a = (struct npoll_deadline_args){
		.handle = pd->handle,
		.deadline = deadline,
		.mode = (__u32)mode,
		.flags = flags,
	};
	return desc_call(pd, NPOLL_IOC_SET_DEADLINE, &a, 0);
}

int np_set_deadline(np_desc *pd, int64_t d, int mode)
{
	return desc_deadline(pd, d, mode, 0);
}

int np_set_deadline_at(np_desc *pd, int64_t mono_ns, int mode)
{
	return desc_deadline(pd, mono_ns, mode, NPOLL_DEADLINE_ABS);
}

int np_desc_fd(const np_desc *pd)
{
	return pd ? pd->fd : -EINVAL;
}

uint64_t np_desc_user(const np_desc *pd)
{
	return pd ? pd->user : 0;
}
