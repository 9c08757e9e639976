// SPDX-License-Identifier: MIT
/*
 * libnpoll, the descriptor layer: the reference count that lets
 * np_close run while other threads are blocked in calls on the same
 * descriptor, and the calls of one mode (np_reset, np_wait, np_arm).
 * The kernel is reached through the thin layer (syscall.c); deadlines
 * are deadline.c's, the I/O helpers io.c's.
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
#include <stdint.h>
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
 * The result @ret of an ioctl on @pd made while holding a reference.
 * -EBADF once @pd is closing means np_close reached the kernel first:
 * report @closed instead.
 */
int np__desc_closed(struct np_desc *pd, int ret, int closed)
{
	if (ret == -EBADF && atomic_load(&pd->closing))
		return closed;
	return ret;
}

/*
 * A call of @mode (@cmd: NPOLL_IOC_RESET, _WAIT or _ARM) by a caller
 * that holds a reference and counts itself in the mode (np__dl_enter):
 * give the kernel the deadline change it has not seen yet, then issue
 * @cmd.  An NP_* outcome or -errno.
 */
int np__mode_call(struct np_desc *pd, int mode, unsigned long cmd,
		  uint32_t flags)
{
	struct np_dl_change c;
	int ret;

	np__dl_take(pd, mode, &c);
	ret = np__dl_apply(pd, mode, &c);
	if (ret < 0)
		return ret;
	ret = np__be_mode(pd->poller, cmd, pd->handle, mode, flags);
	return np__desc_closed(pd, ret, NP_ERR_CLOSING);
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
	struct np_desc *pd;
	__u64 handle;
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
	ret = np__be_open(p, fd, user, &handle);
	if (ret < 0)
		goto out_destroy_dlock;
	/* Until NPOLL_IOC_IO says otherwise (see io.c). */
	atomic_init(&pd->sock, true);
	for (int m = 0; m < 2; m++)
		atomic_init(&pd->dl[m].busy, 0);

	pd->poller = p;
	pd->fd = fd;
	pd->handle = handle;
	pd->user = user;
	atomic_init(&pd->refs, 1);
	atomic_init(&pd->closing, false);
	ret = np__poller_link(p, pd);
	if (ret)
		goto out_close_handle;
	*out = pd;
	return 0;

out_close_handle:
	np__be_close(p, handle);
	np__be_forget(p, handle);
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
	int ret = np__be_close(pd->poller, pd->handle);

	desc_drain(pd);
	np__be_forget(pd->poller, pd->handle);
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
	int ret;

	if (!pd)
		return -EINVAL;
	if (!np__desc_get(pd))
		return 0;
	ret = np__be_unblock(pd->poller, pd->handle);
	ret = np__desc_closed(pd, ret, 0);
	np__desc_put(pd);
	return ret;
}

/*
 * np_reset, np_wait, np_wait_canceled and np_arm: a reference, then
 * np__mode_call counted in the mode.  A closing descriptor gets
 * NP_ERR_CLOSING (np_arm: and no event; one closed after the arm
 * succeeded gets its NP_ERR_CLOSING event from the kernel).
 */
static int desc_mode(np_desc *pd, int mode, unsigned long cmd,
		     uint32_t flags)
{
	bool arm = cmd == NPOLL_IOC_ARM;
	int ret;

	if (!pd)
		return -EINVAL;
	if (mode != NP_READ && mode != NP_WRITE)
		return -EINVAL;
	if (!np__desc_get(pd))
		return NP_ERR_CLOSING;
	np__dl_enter(pd, mode, arm);
	ret = np__mode_call(pd, mode, cmd, flags);
	np__dl_leave(pd, mode);
	np__desc_put(pd);
	return ret;
}

int np_reset(np_desc *pd, int mode)
{
	return desc_mode(pd, mode, NPOLL_IOC_RESET, 0);
}

int np_wait(np_desc *pd, int mode)
{
	return desc_mode(pd, mode, NPOLL_IOC_WAIT, 0);
}

int np_wait_canceled(np_desc *pd, int mode)
{
	return desc_mode(pd, mode, NPOLL_IOC_WAIT, NPOLL_WAIT_CANCELED);
}

int np_arm(np_desc *pd, int mode)
{
	return desc_mode(pd, mode, NPOLL_IOC_ARM, 0);
}

int np_desc_fd(const np_desc *pd)
{
	return pd ? pd->fd : -EINVAL;
}

uint64_t np_desc_user(const np_desc *pd)
{
	return pd ? pd->user : 0;
}
