// SPDX-License-Identifier: MIT
/*
 * libnpoll, the descriptor layer: Go-style I/O helpers, after Go's
 * internal/poll.FD.
 *
 * Each helper holds a reference on the descriptor for its whole run and
 * the mutex of its direction (read: np_read, np_recvfrom, np_accept;
 * write: np_write, np_sendto, np_connect), so that helpers of one
 * direction take turns and never meet as two waiters of one mode
 * (-EBUSY).  Before the first attempt np_reset applies: closing or an
 * expired deadline fails the call even when the file is ready.  Then
 * the helper tries the non-blocking syscall and, on EAGAIN, waits for
 * the direction's readiness and tries again.  That frame is written
 * once, io_call() and its loop io_loop(); each helper only says what
 * one attempt is.  A signal that interrupts the wait ends every helper
 * alike with -EINTR (unless its handler has SA_RESTART, which restarts
 * the wait).  Outcomes become errnos through np_errno(), the map that
 * NPOLL_IOC_IO applies in the kernel.
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

int np_errno(int result)
{
	return npoll_outcome_errno(result);
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
 * One non-blocking attempt of a helper on @fd: the result (>= 0) or
 * -errno.  -EAGAIN makes io_loop() wait for readiness and try again.
 */
typedef ssize_t (*io_attempt_fn)(int fd, void *arg);

/*
 * The loop of Go's FD.Read and friends: apply np_reset (and with it a
 * deferred deadline change), then attempt; on -EAGAIN wait for
 * readiness of @mode and attempt again.  -EINTR of the attempt itself
 * (a non-blocking syscall did not wait) is tried again at once; a
 * signal that ends the wait ends the helper with -EINTR, as it ends
 * np_wait (a handler with SA_RESTART restarts the wait in the kernel
 * instead).
 */
static ssize_t io_loop(struct np_desc *pd, int mode, io_attempt_fn attempt,
		       void *arg)
{
	ssize_t ret;

	ret = np_errno(np__mode_call(pd, mode, NPOLL_IOC_RESET, 0));
	while (ret == 0) {
		ret = attempt(pd->fd, arg);
		if (ret == -EINTR)
			ret = 0;
		else if (ret == -EAGAIN)
			ret = np_errno(np__mode_call(pd, mode, NPOLL_IOC_WAIT, 0));
		else
			break;
	}
	return ret;
}

/* A buffer and how much of it is done, for the attempts below. */
struct io_buf {
	void *buf;
	size_t len;
	size_t done;
	int flags;
	void *addr;
	socklen_t alen;
	socklen_t *alenp;
};

/*
 * The kernel's loop on a socket: NPOLL_IOC_IO, carrying the deferred
 * deadline change on the first call.  A read is one call: the bytes
 * read or -errno.  A write calls until the whole buffer is written: 0,
 * or -errno with @b->done saying how much went before.  -EOPNOTSUPP
 * with nothing done: not a socket (the deadline change went in
 * nonetheless).
 */
static ssize_t io_fused(struct np_desc *pd, int mode, struct io_buf *b)
{
	struct np_dl_change c;
	ssize_t n;

	np__dl_take(pd, mode, &c);
	do {
		n = np__be_io(pd->poller, pd->handle, mode,
			       (const char *)b->buf + b->done,
			       b->len - b->done, &c);
		c.set = false;
		if (n == -EBADF)
			n = np__desc_closed(pd, -EBADF, -ECANCELED);
		if (mode == NP_READ)
			return n;
		if (n <= 0)
			return n ? n : -EIO;
		b->done += (size_t)n;
	} while (b->done < b->len);
	return 0;
}

/*
 * The one frame of every helper: take the direction's turn, then run
 * the kernel's loop (io_fused, sockets only) or ours (io_loop) with
 * @attempt.  @fused is the buffer of np_read and np_write, which may
 * take the kernel's loop, else NULL.  A file found not to be a socket
 * is not asked again.  A read of nothing returns 0 at once, before any
 * check (Go's FD.Read).
 */
static ssize_t io_call(struct np_desc *pd, int mode, io_attempt_fn attempt,
		       void *arg, struct io_buf *fused)
{
	int cancel = -1;
	ssize_t ret;
	bool sock;

	ret = io_lock(pd, mode);
	if (ret < 0)
		return ret;
	if (fused && !fused->len && mode == NP_READ)
		goto out;
	/*
	 * A helper is no cancellation point, as NPOLL_IOC_IO is none: a
	 * thread cancelled in the read() or accept() of an attempt would
	 * keep the direction's mutex and the descriptor's reference, and
	 * np_close would wait for it for ever.  The module's loop makes no
	 * call that is one.
	 */
	sock = fused && fused->len &&
	       atomic_load_explicit(&pd->sock, memory_order_relaxed);
	if (!sock || !NP_KERNEL(pd->poller))
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	if (sock) {
		ret = io_fused(pd, mode, fused);
		if (ret != -EOPNOTSUPP || fused->done)
			goto out;
		atomic_store(&pd->sock, false);
		if (cancel < 0)
			pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	}
	ret = io_loop(pd, mode, attempt, arg);
out:
	io_unlock(pd, mode);
	if (cancel >= 0)
		pthread_setcancelstate(cancel, NULL);
	return ret;
}

static ssize_t neg_errno(ssize_t n)
{
	return n < 0 ? -errno : n;
}

static ssize_t read_attempt(int fd, void *arg)
{
	struct io_buf *b = arg;

	return neg_errno(read(fd, b->buf, b->len));
}

ssize_t np_read(np_desc *pd, void *buf, size_t len)
{
	struct io_buf b = { .buf = buf, .len = len };

	return io_call(pd, NP_READ, read_attempt, &b, &b);
}

/*
 * Write what is left of the buffer; 0 once all of it is written.  A
 * write() that makes no progress is -EIO rather than a spin.
 */
static ssize_t write_attempt(int fd, void *arg)
{
	struct io_buf *b = arg;
	ssize_t n;

	while (b->done < b->len) {
		n = write(fd, (const char *)b->buf + b->done, b->len - b->done);
		if (n <= 0)
			return n ? -errno : -EIO;
		b->done += (size_t)n;
	}
	return 0;
}

/*
 * The whole buffer: @len, or the count written before an error if that
 * is not zero, else the error.
 */
ssize_t np_write(np_desc *pd, const void *buf, size_t len)
{
	struct io_buf b = { .buf = (void *)buf, .len = len };
	ssize_t ret;

	if (len > SSIZE_MAX)
		return -EINVAL;
	ret = io_call(pd, NP_WRITE, write_attempt, &b, &b);
	return b.done ? (ssize_t)b.done : ret;
}

static ssize_t recvfrom_attempt(int fd, void *arg)
{
	struct io_buf *b = arg;

	return neg_errno(recvfrom(fd, b->buf, b->len, b->flags, b->addr,
				  b->alenp));
}

ssize_t np_recvfrom(np_desc *pd, void *buf, size_t len, int flags,
		    struct sockaddr *src, socklen_t *srclen)
{
	struct io_buf b = {
		.buf = buf, .len = len, .flags = flags,
		.addr = src, .alenp = srclen,
	};

	return io_call(pd, NP_READ, recvfrom_attempt, &b, NULL);
}

static ssize_t sendto_attempt(int fd, void *arg)
{
	struct io_buf *b = arg;

	return neg_errno(sendto(fd, b->buf, b->len, b->flags, b->addr,
				b->alen));
}

ssize_t np_sendto(np_desc *pd, const void *buf, size_t len, int flags,
		  const struct sockaddr *dst, socklen_t dstlen)
{
	struct io_buf b = {
		.buf = (void *)buf, .len = len, .flags = flags,
		.addr = (void *)dst, .alen = dstlen,
	};

	return io_call(pd, NP_WRITE, sendto_attempt, &b, NULL);
}

/*
 * ECONNABORTED: a connection on the queue went away before it was
 * accepted.  Try the next one at once; EAGAIN then says if there is any.
 */
static ssize_t accept_attempt(int fd, void *arg)
{
	struct io_buf *b = arg;
	int nfd;

	do
		nfd = accept4(fd, b->addr, b->alenp, b->flags);
	while (nfd < 0 && errno == ECONNABORTED);
	return neg_errno(nfd);
}

int np_accept(np_desc *pd, struct sockaddr *addr, socklen_t *len, int flags)
{
	struct io_buf b = { .flags = flags, .addr = addr, .alenp = len };

	return (int)io_call(pd, NP_READ, accept_attempt, &b, NULL);
}

/* A connect and, once it is under way, the reading of its outcome. */
struct io_connect {
	const struct sockaddr *addr;
	socklen_t len;
	bool started;
};

/*
 * As Go's netFD.connect: the first attempt connects; EINPROGRESS,
 * EALREADY (a connect started earlier is still going on) and EINTR (the
 * kernel goes on connecting) mean wait for writability, EISCONN (one
 * started earlier completed) is success.  Every later attempt reads the
 * outcome from SO_ERROR; writability without a pending error counts as
 * connected only when the socket has a peer, against spurious wake-ups.
 */
static ssize_t connect_attempt(int fd, void *arg)
{
	struct io_connect *c = arg;
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	socklen_t elen = sizeof(int);
	int err = 0;

	if (!c->started) {
		c->started = true;
		if (connect(fd, c->addr, c->len) == 0)
			return 0;
		err = errno;
	} else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0) {
		return -errno;
	} else if (err == 0) {
		return getpeername(fd, (struct sockaddr *)&peer, &plen) < 0 ?
			       -EAGAIN : 0;
	}
	switch (err) {
	case EISCONN:
		return 0;
	case EINPROGRESS:
	case EALREADY:
	case EINTR:
		return -EAGAIN;
	default:
		return -err;
	}
}

int np_connect(np_desc *pd, const struct sockaddr *addr, socklen_t len)
{
	struct io_connect c = { .addr = addr, .len = len };

	return (int)io_call(pd, NP_WRITE, connect_attempt, &c, NULL);
}
