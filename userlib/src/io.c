// SPDX-License-Identifier: MIT
/*
 * libnpoll: Go-style I/O helpers, after Go's internal/poll.FD.
 *
 * Each helper holds a reference on the descriptor for its whole run and
 * the mutex of its direction (read: np_read, np_recvfrom, np_accept;
 * write: np_write, np_sendto, np_connect), so that helpers of one
 * direction take turns and never meet as two waiters of one mode
 * (-EBUSY).  Before the first attempt np_reset applies: closing or an
 * expired deadline fails the call even when the file is ready.  Then
 * the helper tries the non-blocking syscall and, on EAGAIN, waits for
 * the direction's readiness and tries again.
 *
 * On a socket, np_read and np_write do all of that in one system call
 * (NPOLL_IOC_IO), which also carries a deferred deadline change.  Other
 * helpers apply a deferred change before their first attempt.
 *
 * np_close does not need to interrupt the mutexes: it wakes the thread
 * parked in the kernel, which returns and unlocks, and each thread
 * queued behind it sees @closing once it has the mutex.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/socket.h>

#include "internal.h"

/* A wait outcome as a helper's result: 0 for NP_OK, else -errno. */
static int io_errno(int res)
{
	switch (res) {
	case NP_OK:
		return 0;
	case NP_ERR_CLOSING:
		return -ECANCELED;
	case NP_ERR_TIMEOUT:
		return -ETIMEDOUT;
	case NP_ERR_NOT_POLLABLE:
		return -EIO;
	default:
		/* -errno of the ioctl itself (-EINTR, -EBUSY ...) as is. */
		return res < 0 ? res : -EIO;
	}
}

static pthread_mutex_t *io_mutex(struct np_desc *pd, int mode)
{
	return mode == NP_READ ? &pd->rlock : &pd->wlock;
}

static void io_unlock(struct np_desc *pd, int mode)
{
	np__dl_leave(pd, mode);
	pthread_mutex_unlock(io_mutex(pd, mode));
	np__desc_put(pd);
}

/* Enter a helper of direction @mode: 0, or -errno holding nothing. */
static int io_lock(struct np_desc *pd, int mode)
{
	if (!pd)
		return -EINVAL;
	if (!np__desc_get(pd))
		return -ECANCELED;
	pthread_mutex_lock(io_mutex(pd, mode));
	np__dl_enter(pd, mode, false);
	if (atomic_load(&pd->closing)) {
		io_unlock(pd, mode);
		return -ECANCELED;
	}
	return 0;
}

/*
 * Before the first attempt: apply a deferred deadline change, then 0 or
 * the error that applies to @mode.
 */
static int io_prepare(struct np_desc *pd, int mode)
{
	struct np_dl_take t;
	int ret;

	np__dl_take(pd, mode, &t);
	ret = np__dl_apply(pd, mode, &t);
	if (ret < 0)
		return ret == -EBADF && atomic_load(&pd->closing) ? -ECANCELED :
								      ret;
	return io_errno(np__reset(pd, mode));
}

/*
 * One NPOLL_IOC_IO on a socket: bytes transferred or -errno, with the
 * deferred deadline change taken along on the first call.
 */
static ssize_t io_fused(struct np_desc *pd, int mode, const void *buf,
			size_t len, struct np_dl_take *t)
{
	struct npoll_io_args a = {
		.handle = pd->handle,
		.mode = (__u32)mode,
		.buf = (uintptr_t)buf,
		.len = len,
	};
	ssize_t ret;

	if (t->set) {
		a.flags = NPOLL_IO_DEADLINE;
		a.deadline = t->when;
		a.seq = t->seq;
	}
	do {
		ret = np__ioctl(pd->poller->fd, NPOLL_IOC_IO, &a);
	} while (ret == -EINTR);
	t->set = false;
	if (ret == -EBADF && atomic_load(&pd->closing))
		return -ECANCELED;
	return ret;
}

/*
 * After a syscall failed with @err: 0 to try again (at once on EINTR,
 * after readiness of @mode on EAGAIN), else the helper's -errno.
 */
static int io_again(struct np_desc *pd, int mode, int err)
{
	if (err == EINTR)
		return 0;
	if (err != EAGAIN)
		return -err;
	return io_errno(np__wait(pd, mode, 0));
}

ssize_t np_read(np_desc *pd, void *buf, size_t len)
{
	ssize_t ret, n;

	ret = io_lock(pd, NP_READ);
	if (ret < 0)
		return ret;
	if (len == 0)
		goto out;
	if (atomic_load_explicit(&pd->sock, memory_order_relaxed)) {
		struct np_dl_take t;

		np__dl_take(pd, NP_READ, &t);
		ret = io_fused(pd, NP_READ, buf, len, &t);
		if (ret != -EOPNOTSUPP)
			goto out;
		/* Not a socket (the deadline change went in nonetheless). */
		atomic_store(&pd->sock, false);
	}
	ret = io_prepare(pd, NP_READ);
	while (ret == 0) {
		n = read(pd->fd, buf, len);
		if (n >= 0) {
			ret = n;
			break;
		}
		ret = io_again(pd, NP_READ, errno);
	}
out:
	io_unlock(pd, NP_READ);
	return ret;
}

/*
 * The whole buffer: @len, or the count written before an error if that
 * is not zero, else the error.  A write() that makes no progress ends
 * the loop with -EIO rather than spinning.
 */
ssize_t np_write(np_desc *pd, const void *buf, size_t len)
{
	size_t done = 0;
	ssize_t ret, n;

	if (len > SSIZE_MAX)
		return -EINVAL;
	ret = io_lock(pd, NP_WRITE);
	if (ret < 0)
		return ret;
	if (len && atomic_load_explicit(&pd->sock, memory_order_relaxed)) {
		struct np_dl_take t;

		np__dl_take(pd, NP_WRITE, &t);
		ret = 0;
		while (ret == 0 && done < len) {
			n = io_fused(pd, NP_WRITE, (const char *)buf + done,
				     len - done, &t);
			if (n > 0)
				done += (size_t)n;
			else
				ret = n ? n : -EIO;
		}
		if (ret != -EOPNOTSUPP || done)
			goto out;
		/* Not a socket (the deadline change went in nonetheless). */
		atomic_store(&pd->sock, false);
		ret = 0;
	}
	ret = io_prepare(pd, NP_WRITE);
	while (ret == 0 && done < len) {
		n = write(pd->fd, (const char *)buf + done, len - done);
		if (n > 0)
			done += (size_t)n;
		else if (n == 0)
			ret = -EIO;
		else
			ret = io_again(pd, NP_WRITE, errno);
	}
out:
	io_unlock(pd, NP_WRITE);
	return done ? (ssize_t)done : ret;
}

ssize_t np_recvfrom(np_desc *pd, void *buf, size_t len, int flags,
		    struct sockaddr *src, socklen_t *srclen)
{
	ssize_t ret, n;

	ret = io_lock(pd, NP_READ);
	if (ret < 0)
		return ret;
	ret = io_prepare(pd, NP_READ);
	while (ret == 0) {
		n = recvfrom(pd->fd, buf, len, flags, src, srclen);
		if (n >= 0) {
			ret = n;
			break;
		}
		ret = io_again(pd, NP_READ, errno);
	}
	io_unlock(pd, NP_READ);
	return ret;
}

ssize_t np_sendto(np_desc *pd, const void *buf, size_t len, int flags,
		  const struct sockaddr *dst, socklen_t dstlen)
{
	ssize_t ret, n;

	ret = io_lock(pd, NP_WRITE);
	if (ret < 0)
		return ret;
	ret = io_prepare(pd, NP_WRITE);
	while (ret == 0) {
		n = sendto(pd->fd, buf, len, flags, dst, dstlen);
		if (n >= 0) {
			ret = n;
			break;
		}
		ret = io_again(pd, NP_WRITE, errno);
	}
	io_unlock(pd, NP_WRITE);
	return ret;
}

/*
 * ECONNABORTED: a connection on the queue went away before it was
 * accepted.  Try the next one at once; EAGAIN then says if there is any.
 */
int np_accept(np_desc *pd, struct sockaddr *addr, socklen_t *len, int flags)
{
	int ret, nfd;

	ret = io_lock(pd, NP_READ);
	if (ret < 0)
		return ret;
	ret = io_prepare(pd, NP_READ);
	while (ret == 0) {
		nfd = accept4(pd->fd, addr, len, flags);
		if (nfd >= 0) {
			ret = nfd;
			break;
		}
		if (errno != ECONNABORTED)
			ret = io_again(pd, NP_READ, errno);
	}
	io_unlock(pd, NP_READ);
	return ret;
}

/*
 * State of a connect in progress on @fd once it polled writable: 0
 * connected, 1 not yet (wait again), else the connection's -errno.
 * Writability without a pending error is taken as success only when
 * the socket has a peer, as Go does against spurious wake-ups.
 */
static int connect_state(int fd)
{
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	socklen_t elen;
	int err = 0;

	elen = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
		return -errno;
	switch (err) {
	case 0:
		if (getpeername(fd, (struct sockaddr *)&peer, &plen) < 0)
			return 1;
		return 0;
	case EISCONN:
		return 0;
	case EINPROGRESS:
	case EALREADY:
	case EINTR:
		return 1;
	default:
		return -err;
	}
}

/*
 * A non-blocking connect: EINPROGRESS (or EINTR, after which the
 * kernel goes on connecting) means wait for writability, then read the
 * outcome from SO_ERROR.
 */
int np_connect(np_desc *pd, const struct sockaddr *addr, socklen_t len)
{
	int ret;

	ret = io_lock(pd, NP_WRITE);
	if (ret < 0)
		return ret;
	ret = io_prepare(pd, NP_WRITE);
	if (ret)
		goto out;
	if (connect(pd->fd, addr, len) == 0)
		goto out;
	if (errno != EINPROGRESS && errno != EINTR) {
		ret = -errno;
		goto out;
	}
	do {
		ret = io_errno(np__wait(pd, NP_WRITE, 0));
		if (ret)
			break;
		ret = connect_state(pd->fd);
	} while (ret > 0);
out:
	io_unlock(pd, NP_WRITE);
	return ret;
}
