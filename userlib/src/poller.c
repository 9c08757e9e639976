// SPDX-License-Identifier: MIT
/*
 * libnpoll, the descriptor layer: pollers.  A poller is one open() of
 * /dev/netpoll, or a user-space poller (ubackend.c), chosen by
 * NPOLL_BACKEND at np_poller_open; it keeps
 * the list of its open descriptors so that np_poller_close can close
 * them, and a reference count so that the device fd outlives every
 * descriptor still in use.
 *
 * np_poller_close first marks the poller closing (np_open and np_poll
 * fail with -EBADF from then on), then breaks the np_poll calls in
 * progress until none is left (each returns -EBADF), then closes every
 * descriptor as np_close does, waiting for the calls on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "internal.h"

#define NPOLL_DEVICE "/dev/netpoll"

/* A reference for a call that may create a descriptor; false if closing. */
bool np__poller_get(struct np_poller *p)
{
	atomic_fetch_add(&p->refs, 1);
	if (atomic_load(&p->closing)) {
		np__poller_put(p);
		return false;
	}
	return true;
}

/* Drop a reference; the last one closes the device and frees @p. */
void np__poller_put(struct np_poller *p)
{
	if (atomic_fetch_sub(&p->refs, 1) != 1)
		return;
	if (NP_KERNEL(p))
		close(p->fd);
	else
		p->be->release(p);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* -EBADF if @p is closing: np_poller_close would never see @pd. */
int np__poller_link(struct np_poller *p, struct np_desc *pd)
{
	pthread_mutex_lock(&p->lock);
	if (atomic_load(&p->closing)) {
		pthread_mutex_unlock(&p->lock);
		return -EBADF;
	}
	pd->prev = NULL;
	pd->next = p->descs;
	if (p->descs)
		p->descs->prev = pd;
	p->descs = pd;
	pthread_mutex_unlock(&p->lock);
	return 0;
}

void np__poller_unlink(struct np_poller *p, struct np_desc *pd)
{
	pthread_mutex_lock(&p->lock);
	if (pd->prev)
		pd->prev->next = pd->next;
	else
		p->descs = pd->next;
	if (pd->next)
		pd->next->prev = pd->prev;
	pd->prev = NULL;
	pd->next = NULL;
	pthread_mutex_unlock(&p->lock);
}

/*
 * NPOLL_BACKEND: "kernel" (/dev/netpoll or -ENOENT), "user", or "auto"
 * (the default: the module if /dev/netpoll opens, else user space).
 */
enum { BE_KERNEL = 1, BE_USER, BE_AUTO };

static int poller_choice(void)
{
	const char *s = getenv("NPOLL_BACKEND");

	if (!s || !*s || !strcmp(s, "auto"))
		return BE_AUTO;
	if (!strcmp(s, "kernel"))
		return BE_KERNEL;
	if (!strcmp(s, "user"))
		return BE_USER;
	return -EINVAL;
}

/* /dev/netpoll into @p->fd: 0 or -errno. */
static int poller_open_kernel(struct np_poller *p)
{
	p->fd = open(NPOLL_DEVICE, O_RDWR | O_CLOEXEC);
	if (p->fd < 0)
		return -errno;
	p->be = &np__kernel_backend;
	return 0;
}

int np_poller_open(np_poller **out)
{
	struct np_poller *p;
	int ret, choice;

	if (!out)
		return -EINVAL;
	choice = poller_choice();
	if (choice < 0)
		return choice;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	ret = pthread_mutex_init(&p->lock, NULL);
	if (ret) {
		ret = -ret;
		goto out_free;
	}
	ret = -ENOENT;
	if (choice != BE_USER)
		ret = poller_open_kernel(p);
	if (ret && choice != BE_KERNEL) {
		/* auto falls back only where the module is absent */
		if (choice == BE_USER || ret == -ENOENT || ret == -ENXIO ||
		    ret == -ENODEV) {
			p->be = &np__user_backend;
			ret = np__ub_init(p);
		}
	}
	if (ret)
		goto out_destroy_lock;
	atomic_init(&p->refs, 1);
	atomic_init(&p->polls, 0);
	atomic_init(&p->closing, false);
	*out = p;
	return 0;

out_destroy_lock:
	pthread_mutex_destroy(&p->lock);
out_free:
	free(p);
	return ret;
}

/*
 * Claim the first descriptor of @p that nobody is closing yet, by
 * setting its closing flag under the list lock.  A descriptor already
 * claimed by a concurrent np_close stays linked (and allocated) until
 * that closer unlinks it, and is skipped here.
 */
static struct np_desc *poller_claim(struct np_poller *p)
{
	struct np_desc *pd;

	pthread_mutex_lock(&p->lock);
	for (pd = p->descs; pd; pd = pd->next)
		if (!atomic_exchange(&pd->closing, true))
			break;
	pthread_mutex_unlock(&p->lock);
	return pd;
}

/*
 * Break the np_poll calls in progress until none is left.  A break
 * wakes a blocked poll or, with none blocked yet, makes the next one
 * return at once; each poll that returns sees @closing and wakes us.
 */
static void poller_stop_polls(struct np_poller *p)
{
	unsigned int v;

	while ((v = atomic_load(&p->polls)) != 0) {
		np__be_break(p);
		np__futex_wait(&p->polls, v);
	}
}

int np_poller_fd(const np_poller *p)
{
	return p ? p->fd : -EINVAL;
}

int np_poller_backend(const np_poller *p)
{
	return p ? p->be->kind : -EINVAL;
}

/* The library's settings are the kernel's. */
static_assert(sizeof(struct np_busy_poll) == sizeof(struct npoll_busy_poll),
	      "np_busy_poll size");

int np_set_busy_poll(np_poller *p, const struct np_busy_poll *bp)
{
	struct npoll_busy_poll k;

	if (!p || !bp)
		return -EINVAL;
	k.usecs = bp->usecs;
	k.budget = bp->budget;
	k.prefer = bp->prefer;
	k.pad = bp->pad;
	return np__be_busy_poll(p, true, &k);
}

int np_get_busy_poll(np_poller *p, struct np_busy_poll *bp)
{
	struct npoll_busy_poll k = { 0 };
	int ret;

	if (!p || !bp)
		return -EINVAL;
	ret = np__be_busy_poll(p, false, &k);
	if (ret < 0)
		return ret;
	bp->usecs = k.usecs;
	bp->budget = k.budget;
	bp->prefer = k.prefer;
	bp->pad = 0;
	return 0;
}

void np_poller_close(np_poller *p)
{
	struct np_desc *pd;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	atomic_store(&p->closing, true);
	pthread_mutex_unlock(&p->lock);
	poller_stop_polls(p);
	while ((pd = poller_claim(p)))
		np__desc_shutdown(pd);
	np__poller_put(p);
}

int np_stats(np_poller *p, struct np_stats *st)
{
	struct npoll_stats s = { 0 };
	int ret;

	if (!p || !st)
		return -EINVAL;
	ret = np__be_stats(p, &s);
	if (ret < 0)
		return ret;
	st->descs = s.descs;
	st->waiters = s.waiters;
	st->armed = s.armed;
	st->events = s.events;
	return 0;
}

/* The library's event is the kernel's. */
static_assert(sizeof(struct np_event) == sizeof(struct npoll_event),
	      "np_event size");
static_assert(offsetof(struct np_event, user) ==
	      offsetof(struct npoll_event, user), "np_event.user");
static_assert(offsetof(struct np_event, mode) ==
	      offsetof(struct npoll_event, mode), "np_event.mode");
static_assert(offsetof(struct np_event, result) ==
	      offsetof(struct npoll_event, result), "np_event.result");

/*
 * The call's poller reference keeps the device fd open (and its number
 * ours) while the thread sleeps in the kernel.  It counts itself in
 * @polls before it tests @closing, and np_poller_close sets @closing
 * before it reads @polls (both sequentially consistent): either the
 * poll sees @closing and does not block, or np_poller_close sees the
 * poll and breaks it.  A poll woken empty-handed on a closing poller
 * returns -EBADF.
 */
int np_poll(np_poller *p, struct np_event *ev, int max, int64_t timeout_ns)
{
	int ret;

	if (!p || !ev || max <= 0 || (unsigned int)max > NPOLL_POLL_MAX)
		return -EINVAL;
	if (!np__poller_get(p))
		return -EBADF;
	atomic_fetch_add(&p->polls, 1);
	ret = -EBADF;
	if (!atomic_load(&p->closing))
		ret = np__be_poll(p, ev, max, timeout_ns);
	if (ret == 0 && atomic_load(&p->closing))
		ret = -EBADF;
	atomic_fetch_sub(&p->polls, 1);
	if (atomic_load(&p->closing))
		np__futex_wake(&p->polls);
	np__poller_put(p);
	return ret;
}

int np_break(np_poller *p)
{
	if (!p)
		return -EINVAL;
	return np__be_break(p);
}

/*
 * The device number of /dev/netpoll: the misc device's entry in sysfs,
 * else the device node.  0 if the module is not loaded.
 */
static dev_t poller_devt(void)
{
	unsigned int major, minor;
	struct stat st;
	FILE *f;
	int n = 0;

	f = fopen("/sys/class/misc/netpoll/dev", "re");
	if (f) {
		n = fscanf(f, "%u:%u", &major, &minor);
		fclose(f);
	}
	if (n == 2)
		return makedev(major, minor);
	if (stat(NPOLL_DEVICE, &st) == 0 && S_ISCHR(st.st_mode))
		return st.st_rdev;
	return 0;
}

/*
 * Identify by device number, never by an ioctl: @fd may be anybody's
 * file, and an unknown ioctl sent to a foreign device may do anything.
 */
int np_is_poll_descriptor(int fd)
{
	struct stat st;
	dev_t dev;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode))
		return 0;
	dev = poller_devt();
	return dev && st.st_rdev == dev;
}
