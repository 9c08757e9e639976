// SPDX-License-Identifier: MIT
/*
 * libnpoll, the descriptor layer: deadlines, handed to the kernel late.
 *
 * A deadline change that no waiter of the mode can observe yet is kept
 * here and handed to the kernel by the next call of the mode
 * (NPOLL_IOC_IO carries it, other calls apply it first), so re-arming a
 * deadline before each read costs no system call.  A change
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
 *
 * A change is a pair (when, seq) of one mode (struct np_dl_change);
 * the thin layer carries it to the kernel as NPOLL_IOC_SET_DEADLINE or
 * inside NPOLL_IOC_IO.
 */
#include <errno.h>
#include <stdint.h>
#include <time.h>

#include "internal.h"

/*
 * A call of @mode begins: from now on changes of the mode go to the
 * kernel at once.  @arm: the call arms the mode, and an armed mode
 * (whose outcome comes later, with no call in progress) never defers.
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

/* A call of @mode that np__dl_enter() counted has ended. */
void np__dl_leave(struct np_desc *pd, int mode)
{
	atomic_fetch_sub(&pd->dl[mode - 1].busy, 1);
}

/* Take the change of @mode deferred so far, if any, into @c. */
void np__dl_take(struct np_desc *pd, int mode, struct np_dl_change *c)
{
	struct np_dl *dl = &pd->dl[mode - 1];

	c->set = false;
	pthread_mutex_lock(&pd->dlock);
	if (dl->dirty) {
		c->set = true;
		c->when = dl->when;
		c->seq = dl->seq;
		dl->dirty = false;
	}
	pthread_mutex_unlock(&pd->dlock);
}

/* One mode's change to the kernel; 0 (not -EBADF) once @pd is closing. */
static int dl_send(struct np_desc *pd, int mode, int64_t when, uint64_t seq)
{
	int ret = np__be_set_deadline(pd->poller, pd->handle, mode, when,
				       seq);

	return np__desc_closed(pd, ret, 0);
}

/*
 * Give the kernel a change taken by np__dl_take(), which is then spent:
 * 0 or -errno.
 */
int np__dl_apply(struct np_desc *pd, int mode, struct np_dl_change *c)
{
	int ret;

	if (!c->set)
		return 0;
	c->set = false;
	ret = dl_send(pd, mode, c->when, c->seq);
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
		r = dl_send(pd, m, when, seq[m - 1]);
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

