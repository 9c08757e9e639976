/* SPDX-License-Identifier: MIT */
/*
 * libnpoll: Go's runtime network poller for C programs, over the
 * /dev/netpoll device of the npoll kernel module.
 *
 * Every int/ssize_t call returns a non-negative value on success and
 * -errno on failure; no call sets errno.  All calls are thread-safe.
 * See npoll(7) and Documentation/userspace-api.rst.
 */
#ifndef NPOLL_H
#define NPOLL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NP_READ   1
#define NP_WRITE  2
#define NP_RW     (NP_READ | NP_WRITE)

/* Outcome of a wait (runtime/netpoll.go's pollNoError, pollErr*). */
enum {
	NP_OK               = 0, /* ready */
	NP_ERR_CLOSING      = 1, /* unblocked or closed */
	NP_ERR_TIMEOUT      = 2, /* the mode's deadline expired */
	NP_ERR_NOT_POLLABLE = 3, /* the file reported an error event */
	NP_PENDING          = 4, /* np_arm: outcome comes later via np_poll */
};

typedef struct np_poller np_poller;
typedef struct np_desc np_desc;

/*
 * Open a poller.  The environment variable NPOLL_BACKEND chooses its
 * backend: "kernel" (an open() of /dev/netpoll; -ENOENT without the
 * module), "user" (epoll, futexes and a poller thread in this process,
 * same semantics), or "auto", the default: the module if /dev/netpoll
 * opens, else user space.  Another value: -EINVAL.
 */
int  np_poller_open(np_poller **out);
/* The backend of @p: NP_BACKEND_KERNEL or NP_BACKEND_USER; -EINVAL for NULL. */
#define NP_BACKEND_KERNEL 1
#define NP_BACKEND_USER   2
int  np_poller_backend(const np_poller *p);
/* Close every descriptor still open, then the poller. */
void np_poller_close(np_poller *p);
/*
 * The poller's own file descriptor, for poll(), epoll or io_uring: it is
 * readable while np_poll has events to return (user backend: an eventfd
 * kept in step with the events).  Owned by @p: do not close it.  -EINVAL
 * for NULL.
 */
int  np_poller_fd(const np_poller *p);

/*
 * Busy polling, per poller (epoll's EPIOCSPARAMS): a read wait on a
 * socket first spins on the socket's NAPI context for @usecs (0: the
 * socket's SO_BUSY_POLL, by default net.core.busy_read), polling
 * @budget packets at a time (0: the socket's, or 8; above 64 needs
 * CAP_NET_ADMIN), preferring busy polling to the softirq if @prefer
 * (0 or 1).  The spin ends on readiness, the deadline, unblock or
 * close, a signal, or after @usecs.  @pad must be 0.  0, -EINVAL,
 * -EPERM, -EOPNOTSUPP (kernel without CONFIG_NET_RX_BUSY_POLL).
 */
struct np_busy_poll {
	uint32_t usecs;
	uint16_t budget;
	uint8_t  prefer;
	uint8_t  pad;
};
int  np_set_busy_poll(np_poller *p, const struct np_busy_poll *bp);
int  np_get_busy_poll(np_poller *p, struct np_busy_poll *bp);

/*
 * Register @fd (which becomes O_NONBLOCK) with @p; @user comes back in
 * events.  -EBADF not an open fd, -EPERM not pollable, -EEXIST already
 * registered with @p, -EBUSY too many waiters on the file to check that,
 * -EMFILE too many descriptors (the caller's RLIMIT_NOFILE or the
 * module's max_descs), -ENOMEM, -EINVAL.
 */
int  np_open(np_poller *p, int fd, uint64_t user, np_desc **out);
/*
 * Unblock, deregister and free @pd; @fd stays open.  Calls blocked on
 * @pd in other threads return NP_ERR_CLOSING / -ECANCELED; the memory
 * is freed when the last of them has returned.
 */
int  np_close(np_desc *pd);
/* Mark @pd closing and wake both waiters with NP_ERR_CLOSING. */
int  np_unblock(np_desc *pd);
/* The error that applies to @mode, else clear pending readiness: NP_OK. */
int  np_reset(np_desc *pd, int mode);
/*
 * Wait until @mode (NP_READ or NP_WRITE) is ready (NP_OK), its deadline
 * expires (NP_ERR_TIMEOUT) or @pd is unblocked (NP_ERR_CLOSING).
 * -EBUSY another thread waits in @mode; -EINTR a signal without
 * SA_RESTART; -EINVAL bad mode.
 */
int  np_wait(np_desc *pd, int mode);
/* Wait for readiness only, ignoring closing and deadlines. */
int  np_wait_canceled(np_desc *pd, int mode);
/*
 * @d > 0: @d ns from now; @d < 0: expired; 0: none.  @mode may be NP_RW.
 * Costs no system call when no call of the mode is in progress: the
 * change is handed to the kernel by the next call of the mode.
 */
int  np_set_deadline(np_desc *pd, int64_t d, int mode);
/* Absolute CLOCK_MONOTONIC ns: 0 none, <= now expired. */
int  np_set_deadline_at(np_desc *pd, int64_t mono_ns, int mode);

/*
 * Scheduler mode (Go's netpoll(delay)), for coroutine and M:N runtimes
 * that park their tasks in user space instead of parking a thread.
 *
 * np_arm() decides like np_wait() but never blocks.  It returns NP_OK
 * (pending readiness consumed) or an NP_ERR_* code when the outcome is
 * known now; otherwise it registers the mode's single waiter and
 * returns NP_PENDING.  Exactly one event then reports the outcome:
 * readiness (NP_OK), the mode's deadline (NP_ERR_TIMEOUT), unblock or
 * close (NP_ERR_CLOSING).  -EBUSY: a thread waits in @mode, or the mode
 * is armed, or its event has not been harvested yet.  -EINVAL bad mode.
 *
 * After np_close() returns, a later np_poll() reports no other event of
 * that descriptor than NP_ERR_CLOSING: an outcome decided before the
 * close but not yet harvested is delivered as NP_ERR_CLOSING.
 */
struct np_event {
	uint64_t user;		/* the descriptor's cookie (np_open) */
	int32_t mode;		/* NP_READ or NP_WRITE */
	int32_t result;		/* NP_OK or an NP_ERR_* code */
};
int  np_arm(np_desc *pd, int mode);
/*
 * Harvest up to @max (1 .. 1048576) events of armed modes into @ev,
 * oldest first within each mode (the modes in turn), waiting up to @timeout_ns if none is there (< 0
 * forever, 0 not at all; measured on CLOCK_MONOTONIC without slack).
 * Returns the number stored; 0 on timeout or when woken by np_break().
 * -EINTR a signal arrived (never restarted: the timeout is relative);
 * -EFAULT @ev is not writable (no event is lost: it stays queued);
 * -EINVAL bad @max.  Several threads may poll one poller at once.
 */
int  np_poll(np_poller *p, struct np_event *ev, int max, int64_t timeout_ns);
/*
 * Wake a thread blocked in np_poll() on @p; with none blocked, the next
 * np_poll() that would block returns 0 at once, once.  Breaks from
 * several threads before that poll coalesce into one.  A blocking poll
 * that returns events also consumes a pending break.
 */
int  np_break(np_poller *p);

struct np_stats {
	uint64_t descs;		/* descriptors open in the poller */
	uint64_t waiters;	/* threads parked in waits */
	uint64_t armed;		/* armed modes whose outcome is not decided */
	uint64_t events;	/* decided outcomes np_poll has not returned */
};
int  np_stats(np_poller *p, struct np_stats *st);
/* 1 for a /dev/netpoll file descriptor, else 0. */
int  np_is_poll_descriptor(int fd);

/* The fd a descriptor was opened on, and its cookie. */
int      np_desc_fd(const np_desc *pd);
uint64_t np_desc_user(const np_desc *pd);

/*
 * The errno the I/O helpers report for the outcome @result of a wait
 * (np_wait, np_arm, np_poll's events): 0 for NP_OK, -ECANCELED for
 * NP_ERR_CLOSING, -ETIMEDOUT for NP_ERR_TIMEOUT, -EIO for
 * NP_ERR_NOT_POLLABLE; a negative @result (-errno) as it is.  For
 * programs that run their own non-blocking I/O around np_wait or
 * np_arm and want to fail as np_read would.
 */
int  np_errno(int result);

/*
 * Go-style I/O (internal/poll.FD): fail at once on an expired deadline
 * or closing, retry on EAGAIN after waiting.  Outcomes of the wait
 * become errnos as np_errno() maps them.
 * Calls in the same direction on one descriptor take turns.  On a
 * socket np_read and np_write are one system call each, and writing to
 * a peer that is gone returns -EPIPE without raising SIGPIPE.
 */
ssize_t np_read(np_desc *pd, void *buf, size_t len);
ssize_t np_write(np_desc *pd, const void *buf, size_t len);
int     np_accept(np_desc *pd, struct sockaddr *addr, socklen_t *len, int flags);
int     np_connect(np_desc *pd, const struct sockaddr *addr, socklen_t len);
ssize_t np_recvfrom(np_desc *pd, void *buf, size_t len, int flags,
		    struct sockaddr *src, socklen_t *srclen);
ssize_t np_sendto(np_desc *pd, const void *buf, size_t len, int flags,
		  const struct sockaddr *dst, socklen_t dstlen);

#ifdef __cplusplus
}
#endif

#endif /* NPOLL_H */
