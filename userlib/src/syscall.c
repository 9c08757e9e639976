// SPDX-License-Identifier: MIT
/*
 * libnpoll, the thin layer: one wrapper per ioctl of /dev/netpoll, as
 * liburing's syscall.c.  Each builds the ioctl's argument with
 * designated initializers, makes the call and returns its result or
 * -errno.  No state, no references, no policy: that is the descriptor
 * layer's (desc.c, deadline.c, io.c), which calls these and only these
 * to reach the kernel.  @dev is the poller's device fd, @h a handle.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <unistd.h>
#include <linux/futex.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include "internal.h"

/* ioctl(2) returning -errno on failure instead of setting errno. */
static int sys_ioctl(int dev, unsigned long cmd, void *arg)
{
	int ret = ioctl(dev, cmd, arg);

	return ret < 0 ? -errno : ret;
}

int np__sys_open(int dev, int fd, uint64_t user, __u64 *h)
{
	struct npoll_open_args a = { .fd = fd, .user = user };
	int ret = sys_ioctl(dev, NPOLL_IOC_OPEN, &a);

	if (ret == 0)
		*h = a.handle;
	return ret;
}

int np__sys_close(int dev, __u64 h)
{
	struct npoll_handle_args a = { .handle = h };

	return sys_ioctl(dev, NPOLL_IOC_CLOSE, &a);
}

int np__sys_unblock(int dev, __u64 h)
{
	struct npoll_handle_args a = { .handle = h };

	return sys_ioctl(dev, NPOLL_IOC_UNBLOCK, &a);
}

/* NPOLL_IOC_RESET, NPOLL_IOC_WAIT or NPOLL_IOC_ARM: an NPOLL_* outcome. */
int np__sys_mode(int dev, unsigned long cmd, __u64 h, int mode,
		 uint32_t flags)
{
	struct npoll_wait_args a = {
		.handle = h,
		.mode = (__u32)mode,
		.flags = flags,
	};

	return sys_ioctl(dev, cmd, &a);
}

/* An absolute deadline change of one mode, ordered by its 64-bit @seq. */
int np__sys_set_deadline(int dev, __u64 h, int mode, int64_t when,
			 uint64_t seq)
{
	struct npoll_deadline_args a = {
		.handle = h,
		.deadline = when,
		.mode = (__u32)mode,
		.flags = NPOLL_DEADLINE_ABS | NPOLL_DEADLINE_SEQ64,
		.seq64 = seq,
	};

	return sys_ioctl(dev, NPOLL_IOC_SET_DEADLINE, &a);
}

/* NPOLL_IOC_IO, carrying the deadline change @dl if it is set. */
ssize_t np__sys_io(int dev, __u64 h, int mode, const void *buf, size_t len,
		   const struct np_dl_change *dl)
{
	struct npoll_io_args a = {
		.handle = h,
		.mode = (__u32)mode,
		.buf = (uintptr_t)buf,
		.len = len,
	};

	if (dl->set) {
		a.flags = NPOLL_IO_DEADLINE | NPOLL_IO_SEQ64;
		a.deadline = dl->when;
		a.seq64 = dl->seq;
	}
	return sys_ioctl(dev, NPOLL_IOC_IO, &a);
}

int np__sys_poll(int dev, struct np_event *ev, int max, int64_t timeout_ns)
{
	struct npoll_poll_args a = {
		.events = (uintptr_t)ev,
		.max = (__u32)max,
		.timeout_ns = timeout_ns,
	};

	return sys_ioctl(dev, NPOLL_IOC_POLL, &a);
}

int np__sys_break(int dev)
{
	return sys_ioctl(dev, NPOLL_IOC_BREAK, NULL);
}

int np__sys_stats(int dev, struct npoll_stats *st)
{
	return sys_ioctl(dev, NPOLL_IOC_STATS, st);
}

int np__sys_busy_poll(int dev, bool set, struct npoll_busy_poll *bp)
{
	return sys_ioctl(dev, set ? NPOLL_IOC_SET_BUSY_POLL :
				    NPOLL_IOC_GET_BUSY_POLL, bp);
}

/* Sleep while *@word is @val (or until a wake-up, maybe spurious). */
void np__futex_wait(atomic_uint *word, unsigned int val)
{
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

/*
 * Wake every thread sleeping on @word.  A private futex wake hashes the
 * address and never reads it, so @word may already be freed.
 */
void np__futex_wake(atomic_uint *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/*
 * The kernel backend's table, for what asks a poller's backend (its
 * kind); the descriptor layer calls the wrappers above directly.
 */
static int k_open(struct np_poller *p, int fd, uint64_t user, __u64 *h)
{
	return np__sys_open(p->fd, fd, user, h);
}

static int k_close(struct np_poller *p, __u64 h)
{
	return np__sys_close(p->fd, h);
}

static int k_unblock(struct np_poller *p, __u64 h)
{
	return np__sys_unblock(p->fd, h);
}

static int k_mode(struct np_poller *p, unsigned long cmd, __u64 h, int mode,
		  uint32_t flags)
{
	return np__sys_mode(p->fd, cmd, h, mode, flags);
}

static int k_set_deadline(struct np_poller *p, __u64 h, int mode,
			  int64_t when, uint64_t seq)
{
	return np__sys_set_deadline(p->fd, h, mode, when, seq);
}

static ssize_t k_io(struct np_poller *p, __u64 h, int mode, const void *buf,
		    size_t len, const struct np_dl_change *dl)
{
	return np__sys_io(p->fd, h, mode, buf, len, dl);
}

static int k_poll(struct np_poller *p, struct np_event *ev, int max,
		  int64_t timeout_ns)
{
	return np__sys_poll(p->fd, ev, max, timeout_ns);
}

static int k_break(struct np_poller *p)
{
	return np__sys_break(p->fd);
}

static int k_stats(struct np_poller *p, struct npoll_stats *st)
{
	return np__sys_stats(p->fd, st);
}

static int k_busy_poll(struct np_poller *p, bool set,
		       struct npoll_busy_poll *bp)
{
	return np__sys_busy_poll(p->fd, set, bp);
}

/* The kernel forgets a handle at NPOLL_IOC_CLOSE. */
static void k_forget(struct np_poller *p, __u64 h)
{
	(void)p;
	(void)h;
}

static void k_release(struct np_poller *p)
{
	close(p->fd);
}

const struct np_backend np__kernel_backend = {
	.kind = NP_BACKEND_KERNEL,
	.open = k_open,
	.close = k_close,
	.unblock = k_unblock,
	.mode = k_mode,
	.set_deadline = k_set_deadline,
	.io = k_io,
	.poll = k_poll,
	.brk = k_break,
	.stats = k_stats,
	.busy_poll = k_busy_poll,
	.forget = k_forget,
	.release = k_release,
};
