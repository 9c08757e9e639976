// SPDX-License-Identifier: GPL-2.0
/*
 * npoll-bench: ping-pong round trips.
 *
 * The measured thread writes a message and waits for the echo by the
 * variant's method; an echo thread answers with plain blocking reads and
 * writes, identical for every variant, so the differences between rows
 * are the cost of the measured side's way of waiting.  Each variant gets
 * a fresh connection.  The poll-based variants follow the edge-triggered
 * rule: read until EAGAIN, then wait.
 *
 * Next to the simple forms, the peers as their experts set them up:
 * epoll waiting with epoll_pwait2() for the time left to a per-read
 * deadline (no timerfd), and io_uring with SINGLE_ISSUER|DEFER_TASKRUN,
 * a registered ring fd and a fixed file, the send linked to the receive
 * in one io_uring_enter(), the receive with IORING_RECVSEND_POLL_FIRST
 * (its data cannot be there yet when it is submitted) and the deadline
 * as the wait's EXT_ARG timeout instead of a linked timeout SQE.  Such
 * a variant sends the message itself (pp_variant.sends).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/timerfd.h>

#include <liburing.h>

#include "bench.h"

#define SEC 1000000000LL
#define MSG_MAX 64

struct pp {
	int cfd, sfd;		/* measured side, echo side */
	size_t msg;
	pthread_t echo;
	bool echo_started;
	int epfd, tfd;
	bool own_ep;
	struct io_uring ring;
	bool ring_ok;
	bool ring_fallback;	/* DEFER_TASKRUN refused: flags 0 */
	np_poller *p;
	bool own_p;
	enum bench_backend backend;
	np_desc *pd;
};

struct pp_variant {
	const char *id;
	const char *label;
	int (*setup)(struct pp *pp);
	int (*recv)(struct pp *pp, char *buf);	/* read pp->msg bytes */
	bool sends;		/* recv() also sends the message */
	enum bench_backend backend;	/* of the npoll variants' poller */
};

/* --- setup ---------------------------------------------------------------- */

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static int setup_none(struct pp *pp)
{
	(void)pp;
	return 0;
}

static int setup_rcvtimeo(struct pp *pp)
{
	struct timeval tv = { .tv_sec = 10 };

	if (setsockopt(pp->cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	return 0;
}

static int setup_epoll(struct pp *pp)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.u32 = 0 };
	int ret = set_nonblock(pp->cfd);

	if (ret)
		return ret;
	if (pp->epfd < 0) {
		pp->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (pp->epfd < 0)
			return -errno;
		pp->own_ep = true;
	}
	if (epoll_ctl(pp->epfd, EPOLL_CTL_ADD, pp->cfd, &ev) < 0)
		return -errno;
	return 0;
}

static int setup_epoll_timerfd(struct pp *pp)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.u32 = 1 };
	int ret = setup_epoll(pp);

	if (ret)
		return ret;
	pp->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (pp->tfd < 0)
		return -errno;
	if (epoll_ctl(pp->epfd, EPOLL_CTL_ADD, pp->tfd, &ev) < 0)
		return -errno;
	return 0;
}

static int setup_uring(struct pp *pp)
{
	int ret = io_uring_queue_init(8, &pp->ring, 0);

	if (ret < 0)
		return ret;
	pp->ring_ok = true;
	return 0;
}

/*
 * io_uring as its experts use it on 6.1: one issuer, task work deferred
 * to the waits (DEFER_TASKRUN needs SINGLE_ISSUER), the ring fd
 * registered (io_uring_enter() without an fdget), the socket as fixed
 * file 0.
 */
static int setup_uring_expert(struct pp *pp)
{
	struct io_uring_params prm = {
		.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
	};
	int ret = io_uring_queue_init_params(8, &pp->ring, &prm);

	if (ret == -EINVAL) {
		memset(&prm, 0, sizeof(prm));
		ret = io_uring_queue_init_params(8, &pp->ring, &prm);
		pp->ring_fallback = true;
	}
	if (ret < 0)
		return ret;
	pp->ring_ok = true;
	if (!(prm.features & IORING_FEAT_EXT_ARG))
		return -EOPNOTSUPP;
	ret = io_uring_register_ring_fd(&pp->ring);
	if (ret < 0)
		return ret;
	ret = io_uring_register_files(&pp->ring, &pp->cfd, 1);
	return ret < 0 ? ret : 0;
}

static int setup_np(struct pp *pp)
{
	int ret;

	if (!pp->p) {
		ret = bench_poller_open(&pp->p, pp->backend);
		if (ret < 0)
			return ret;
		pp->own_p = true;
	}
	return np_open(pp->p, pp->cfd, 0, &pp->pd);
}

static int setup_np_dl_once(struct pp *pp)
{
	int ret = setup_np(pp);

	if (ret < 0)
		return ret;
	return np_set_deadline(pp->pd, 3600 * SEC, NP_READ);
}

/* --- the measured side's wait ------------------------------------------- */

static int recv_blocking(struct pp *pp, char *buf)
{
	size_t got = 0;

	while (got < pp->msg) {
		ssize_t n = read(pp->cfd, buf + got, pp->msg - got);

		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		got += (size_t)n;
	}
	return 0;
}

static int recv_epoll(struct pp *pp, char *buf)
{
	struct epoll_event ev[4];
	size_t got = 0;
	int i, n;

	while (got < pp->msg) {
		ssize_t r = read(pp->cfd, buf + got, pp->msg - got);

		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r == 0)
			return -EPIPE;
		if (errno != EAGAIN)
			return -errno;
		n = epoll_wait(pp->epfd, ev, 4, -1);
		if (n < 0 && errno != EINTR)
			return -errno;
		for (i = 0; i < n; i++)
			if (ev[i].data.u32 == 1)
				return -ETIMEDOUT;	/* the timerfd fired */
	}
	return 0;
}

/* Go's net/http pattern: a fresh read deadline before every read. */
static int recv_epoll_timerfd(struct pp *pp, char *buf)
{
	struct itimerspec it = { .it_value = { .tv_sec = 1 } };

	if (timerfd_settime(pp->tfd, 0, &it, NULL) < 0)
		return -errno;
	return recv_epoll(pp, buf);
}

/* Reap the @n completions of one linked submission; 0 or the first error. */
static int uring_reap(struct pp *pp, unsigned int n, int *res)
{
	struct io_uring_cqe *cqe;
	unsigned int seen = 0;
	int ret;

	while (seen < n) {
		ret = io_uring_wait_cqe(&pp->ring, &cqe);
		if (ret < 0)
			return ret;
		if (cqe->user_data == 1)
			*res = cqe->res;
		io_uring_cqe_seen(&pp->ring, cqe);
		seen++;
	}
	return 0;
}

static int uring_link_timeout(struct pp *pp)
{
	static struct __kernel_timespec ts = { .tv_sec = 1 };
	struct io_uring_sqe *sqe = io_uring_get_sqe(&pp->ring);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_link_timeout(sqe, &ts, 0);
	sqe->user_data = 2;
	return 0;
}

static int recv_uring_recv(struct pp *pp, char *buf)
{
	struct io_uring_sqe *sqe;
	size_t got = 0;
	int ret, res;

	while (got < pp->msg) {
		sqe = io_uring_get_sqe(&pp->ring);
		if (!sqe)
			return -EBUSY;
		io_uring_prep_recv(sqe, pp->cfd, buf + got, pp->msg - got, 0);
		sqe->flags |= IOSQE_IO_LINK;
		sqe->user_data = 1;
		ret = uring_link_timeout(pp);
		if (ret)
			return ret;
		ret = io_uring_submit_and_wait(&pp->ring, 2);
		if (ret < 0)
			return ret;
		res = -EIO;
		ret = uring_reap(pp, 2, &res);
		if (ret < 0)
			return ret;
		if (res <= 0)
			return res < 0 ? res : -EPIPE;
		got += (size_t)res;
	}
	return 0;
}

static int recv_uring_poll(struct pp *pp, char *buf)
{
	struct io_uring_sqe *sqe;
	size_t got = 0;
	int ret, res;

	while (got < pp->msg) {
		ssize_t r = recv(pp->cfd, buf + got, pp->msg - got, MSG_DONTWAIT);

		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r == 0)
			return -EPIPE;
		if (errno != EAGAIN)
			return -errno;
		sqe = io_uring_get_sqe(&pp->ring);
		if (!sqe)
			return -EBUSY;
		io_uring_prep_poll_add(sqe, pp->cfd, POLLIN);
		sqe->flags |= IOSQE_IO_LINK;
		sqe->user_data = 1;
		ret = uring_link_timeout(pp);
		if (ret)
			return ret;
		ret = io_uring_submit_and_wait(&pp->ring, 2);
		if (ret < 0)
			return ret;
		res = -EIO;
		ret = uring_reap(pp, 2, &res);
		if (ret < 0)
			return ret;
		if (res < 0)
			return res;
	}
	return 0;
}

/*
 * epoll as its experts wait with a deadline: epoll_pwait2() with the time
 * left to the read's deadline, nanosecond precision, no timerfd.
 */
static int recv_epoll_pwait2(struct pp *pp, char *buf)
{
	int64_t deadline = now_ns() + SEC;
	struct epoll_event ev[4];
	size_t got = 0;

	while (got < pp->msg) {
		ssize_t r = read(pp->cfd, buf + got, pp->msg - got);
		struct timespec left;
		int64_t ns;

		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r == 0)
			return -EPIPE;
		if (errno != EAGAIN)
			return -errno;
		ns = deadline - now_ns();
		if (ns <= 0)
			return -ETIMEDOUT;
		left.tv_sec = ns / SEC;
		left.tv_nsec = ns % SEC;
		if (epoll_pwait2(pp->epfd, ev, 4, &left, NULL) < 0 && errno != EINTR)
			return -errno;
	}
	return 0;
}

/*
 * The expert io_uring round trip: send and receive linked in one
 * submission that also waits, with the deadline as the wait's timeout;
 * a short receive (TCP may split) is completed by further receives.
 */
static int recv_uring_expert(struct pp *pp, char *buf)
{
	int64_t deadline = now_ns() + SEC;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	unsigned int want = 2;
	size_t got = 0;
	bool first = true;
	int ret;

	while (got < pp->msg) {
		struct __kernel_timespec left;
		int64_t ns;

		if (first) {
			sqe = io_uring_get_sqe(&pp->ring);
			if (!sqe)
				return -EBUSY;
			io_uring_prep_send(sqe, 0, buf, pp->msg, 0);
			sqe->flags |= IOSQE_FIXED_FILE | IOSQE_IO_LINK;
			sqe->user_data = 3;
		}
		sqe = io_uring_get_sqe(&pp->ring);
		if (!sqe)
			return -EBUSY;
		io_uring_prep_recv(sqe, 0, buf + got, pp->msg - got, 0);
		sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
		sqe->flags |= IOSQE_FIXED_FILE;
		sqe->user_data = 1;
		want = first ? 2 : 1;
		first = false;
		ns = deadline - now_ns();
		if (ns <= 0)
			return -ETIMEDOUT;
		left.tv_sec = ns / SEC;
		left.tv_nsec = ns % SEC;
		ret = io_uring_submit_and_wait_timeout(&pp->ring, &cqe, want, &left, NULL);
		if (ret < 0)
			return ret;
		while (want && io_uring_peek_cqe(&pp->ring, &cqe) == 0) {
			int res = cqe->res;
			__u64 ud = cqe->user_data;

			io_uring_cqe_seen(&pp->ring, cqe);
			want--;
			if (ud == 3 && res != (int)pp->msg)
				return res < 0 ? res : -EIO;
			if (ud == 1) {
				if (res <= 0)
					return res < 0 ? res : -EPIPE;
				got += (size_t)res;
			}
		}
		if (want)
			return -ETIMEDOUT;
	}
	return 0;
}

static int recv_np_wait(struct pp *pp, char *buf)
{
	size_t got = 0;
	int ret;

	while (got < pp->msg) {
		ssize_t r = read(pp->cfd, buf + got, pp->msg - got);

		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r == 0)
			return -EPIPE;
		if (errno != EAGAIN)
			return -errno;
		ret = np_wait(pp->pd, NP_READ);
		if (ret != NP_OK)
			return ret < 0 ? ret : -EIO;
	}
	return 0;
}

static int recv_np_read(struct pp *pp, char *buf)
{
	size_t got = 0;

	while (got < pp->msg) {
		ssize_t r = np_read(pp->pd, buf + got, pp->msg - got);

		if (r <= 0)
			return r < 0 ? (int)r : -EPIPE;
		got += (size_t)r;
	}
	return 0;
}

static int recv_np_read_dl(struct pp *pp, char *buf)
{
	size_t got = 0;
	int ret;

	while (got < pp->msg) {
		ssize_t r;

		ret = np_set_deadline(pp->pd, SEC, NP_READ);
		if (ret < 0)
			return ret;
		r = np_read(pp->pd, buf + got, pp->msg - got);
		if (r <= 0)
			return r < 0 ? (int)r : -EPIPE;
		got += (size_t)r;
	}
	return 0;
}

static const struct pp_variant variants[] = {
	{ "blocking_read", "blocking read (the floor)", setup_none, recv_blocking, false, BK_KERNEL },
	{ "rcvtimeo", "expert: read, SO_RCVTIMEO set once", setup_rcvtimeo,
	  recv_blocking, false, BK_KERNEL },
	{ "epoll_et", "epoll ET + read", setup_epoll, recv_epoll, false, BK_KERNEL },
	{ "epoll_et_timerfd", "epoll ET + timerfd deadline per read",
	  setup_epoll_timerfd, recv_epoll_timerfd, false, BK_KERNEL },
	{ "uring_recv_lt", "io_uring recv + link timeout", setup_uring,
	  recv_uring_recv, false, BK_KERNEL },
	{ "uring_poll_lt", "io_uring poll + link timeout, read",
	  setup_uring, recv_uring_poll, false, BK_KERNEL },
	{ "epoll_et_pwait2", "expert: epoll ET + epoll_pwait2 to a deadline per read",
	  setup_epoll, recv_epoll_pwait2, false, BK_KERNEL },
	{ "uring_expert", "expert: io_uring DEFER_TASKRUN, send+recv, wait timeout",
	  setup_uring_expert, recv_uring_expert, true, BK_KERNEL },
	{ "np_wait_read", "npoll np_wait + read", setup_np, recv_np_wait, false, BK_KERNEL },
	{ "np_read", "npoll np_read", setup_np, recv_np_read, false, BK_KERNEL },
	{ "np_read_dl_once", "npoll np_read, deadline set once",
	  setup_np_dl_once, recv_np_read, false, BK_KERNEL },
	{ "np_read_dl", "npoll np_read, deadline re-armed per read",
	  setup_np, recv_np_read_dl, false, BK_KERNEL },
	{ "np_wait_read_user", "npoll np_wait + read, user backend",
	  setup_np, recv_np_wait, false, BK_USER },
	{ "np_read_user", "npoll np_read, user backend", setup_np,
	  recv_np_read, false, BK_USER },
	{ "np_read_dl_once_user",
	  "npoll np_read, deadline set once, user backend",
	  setup_np_dl_once, recv_np_read, false, BK_USER },
	{ "np_read_dl_user",
	  "npoll np_read, deadline re-armed per read, user backend",
	  setup_np, recv_np_read_dl, false, BK_USER },
};

const struct pp_variant *pp_find(const char *id)
{
	size_t i;

	for (i = 0; i < sizeof(variants) / sizeof(variants[0]); i++)
		if (!strcmp(variants[i].id, id))
			return &variants[i];
	return NULL;
}

/* --- connections and the echo thread ------------------------------------ */

int pp_tcp_pair(int *cfd, int *sfd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int one = 1, lfd, c = -1, s = -1, ret = 0;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 1) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) < 0)
		goto err;
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto err;
	s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0)
		goto err;
	if (setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		goto err;
	close(lfd);
	*cfd = c;
	*sfd = s;
	return 0;
err:
	ret = -errno;
	if (c >= 0)
		close(c);
	if (s >= 0)
		close(s);
	close(lfd);
	return ret;
}

static void *echo_main(void *arg)
{
	struct pp *pp = arg;
	char buf[MSG_MAX];

	for (;;) {
		size_t got = 0, put = 0;

		while (got < pp->msg) {
			ssize_t n = read(pp->sfd, buf + got, pp->msg - got);

			if (n <= 0)
				return NULL;
			got += (size_t)n;
		}
		while (put < pp->msg) {
			ssize_t n = write(pp->sfd, buf + put, pp->msg - put);

			if (n <= 0)
				return NULL;
			put += (size_t)n;
		}
	}
}

/* The echo thread; on vCPU 1 in the xcpu section (the measured side on 0). */
static int echo_start(struct pp *pp)
{
	pthread_attr_t attr;
	cpu_set_t set;
	int ret;

	ret = pthread_attr_init(&attr);
	if (ret)
		return ret;
	if (cfg.xcpu) {
		CPU_ZERO(&set);
		CPU_SET(1, &set);
		ret = pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	}
	if (!ret)
		ret = pthread_create(&pp->echo, &attr, echo_main, pp);
	pthread_attr_destroy(&attr);
	return ret;
}

/*
 * System-wide context switches (/proc/stat "ctxt") and inter-processor
 * interrupts (/proc/interrupts: rescheduling and function-call IPIs of
 * every CPU).
 */
struct sys_counts {
	long ctxt, ipis;
};

static struct sys_counts sys_counts(void)
{
	struct sys_counts c = { 0, 0 };
	char line[4096];
	FILE *f;

	f = fopen("/proc/stat", "re");
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "ctxt %ld", &c.ctxt) == 1)
				break;
		fclose(f);
	}
	f = fopen("/proc/interrupts", "re");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			char *p = line, *end;

			while (*p == ' ')
				p++;
			if (strncmp(p, "RES:", 4) && strncmp(p, "CAL:", 4))
				continue;
			for (p += 4;; p = end) {
				long v = strtol(p, &end, 10);

				if (end == p)
					break;
				c.ipis += v;
			}
		}
		fclose(f);
	}
	return c;
}

/* What a variant's setup made: descriptor, poller, ring, timerfd, epoll. */
static void pp_unsetup(struct pp *pp)
{
	if (pp->pd)
		np_close(pp->pd);
	if (pp->own_p)
		np_poller_close(pp->p);
	if (pp->ring_ok)
		io_uring_queue_exit(&pp->ring);
	if (pp->tfd >= 0)
		close(pp->tfd);
	if (pp->own_ep)
		close(pp->epfd);
}

static void pp_teardown(struct pp *pp)
{
	pp_unsetup(pp);
	/* The echo thread sees EOF and leaves. */
	shutdown(pp->cfd, SHUT_RDWR);
	close(pp->cfd);
	if (pp->echo_started)
		pthread_join(pp->echo, NULL);
	close(pp->sfd);
}

/* --- one waiting side, for the threads section ------------------------ */

struct pp_side {
	struct pp pp;
	const struct pp_variant *v;
};

int pp_side_open(const char *id, int fd, size_t msg, np_poller *shared,
		 struct pp_side **out)
{
	const struct pp_variant *v = pp_find(id);
	struct pp_side *s;
	int ret;

	if (!v || v->sends || msg > MSG_MAX)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->v = v;
	s->pp = (struct pp){ .cfd = fd, .sfd = -1, .msg = msg, .epfd = -1,
			     .tfd = -1, .p = shared, .backend = v->backend };
	ret = v->setup(&s->pp);
	if (ret < 0) {
		pp_side_close(s);
		return ret;
	}
	*out = s;
	return 0;
}

int pp_side_recv(struct pp_side *s, char *buf)
{
	return s->v->recv(&s->pp, buf);
}

void pp_side_close(struct pp_side *s)
{
	pp_unsetup(&s->pp);
	free(s);
}

struct pp_run {
	struct pp *pp;
	const struct pp_variant *v;
};

static int pp_batch(void *ctx, int iters)
{
	struct pp_run *run = ctx;
	struct pp *pp = run->pp;
	char buf[MSG_MAX];
	int i, ret;

	memset(buf, 'x', sizeof(buf));
	for (i = 0; i < iters; i++) {
		if (!run->v->sends && write(pp->cfd, buf, pp->msg) != (ssize_t)pp->msg)
			return -EIO;
		ret = run->v->recv(pp, buf);
		if (ret < 0)
			return ret;
	}
	return 0;
}

void pp_measure(enum pp_transport t, const char *id, np_poller *ext_p,
		int ext_ep, const char *section, const char *key,
		const char *label, const char *base)
{
	const struct pp_variant *v = pp_find(id);
	struct pp pp = { .epfd = ext_ep, .tfd = -1, .p = ext_p };
	struct pp_run run = { .pp = &pp, .v = v };
	const char *unit = "ns";
	struct rusage r0, r1;
	struct sys_counts sys0 = { 0, 0 }, sys1 = { 0, 0 };
	struct bstat st;
	int sv[2], ret, iters;
	double n;

	if (!v)
		die("no ping-pong variant %s", id);
	pp.backend = v->backend;
	if (t == PP_UNIX) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			die("socketpair: %s", strerror(errno));
		pp.cfd = sv[0];
		pp.sfd = sv[1];
		pp.msg = 1;
	} else {
		ret = pp_tcp_pair(&pp.cfd, &pp.sfd);
		if (ret < 0)
			die("TCP loopback connection: %s", strerror(-ret));
		pp.msg = 64;
	}
	ret = v->setup(&pp);
	if (ret < 0) {
		rec_na(section, key, label, unit, "setup: %s", strerror(-ret));
		pp_teardown(&pp);
		return;
	}
	ret = echo_start(&pp);
	if (ret)
		die("pthread_create: %s", strerror(ret));
	pp.echo_started = true;
	iters = t == PP_UNIX ? cfg.pp_unix : cfg.pp_tcp;
	getrusage(RUSAGE_THREAD, &r0);
	if (cfg.xcpu)
		sys0 = sys_counts();
	ret = bench_ops(pp_batch, &run, iters, &st);
	if (cfg.xcpu)
		sys1 = sys_counts();
	getrusage(RUSAGE_THREAD, &r1);
	/* Round trips in all: bench_ops()'s warm-up and its batches. */
	n = (double)iters * cfg.batches + iters / 5 + 1;
	if (ret < 0) {
		rec_na(section, key, label, unit, "%s", strerror(-ret));
	} else if (cfg.xcpu) {
		double sw = (sys1.ctxt - sys0.ctxt) / n;
		double ipis = (sys1.ipis - sys0.ipis) / n;
		int b;

		rec_add(section, key, label, unit, &st, base);
		rec_cols("host time; switches/rt %.2f, IPIs/rt %.2f", sw, ipis);
		rec_extra(", \"iters\": %d, \"switches_per_rt\": %.3f, \"ipis_per_rt\": %.3f, \"marks\": [",
			  iters, sw, ipis);
		for (b = 0; b < bench_marks.n; b++)
			rec_extra("%s[%ld, %ld]", b ? ", " : "",
				  bench_marks.begin[b], bench_marks.end[b]);
		rec_extra("]");
	} else {
		/* Context switches of the measured thread per round trip. */
		double vol = (r1.ru_nvcsw - r0.ru_nvcsw) / n;
		double inv = (r1.ru_nivcsw - r0.ru_nivcsw) / n;

		rec_add(section, key, label, unit, &st, base);
		rec_cols("min %.0f max %.0f, switches/rt %.2f+%.2f%s",
			 st.min, st.max, vol, inv,
			 pp.ring_fallback ? " (DEFER_TASKRUN refused: flags 0)" : "");
		rec_extra(", \"voluntary_switches\": %.3f, \"involuntary_switches\": %.3f",
			  vol, inv);
	}
	pp_teardown(&pp);
}

/* Every variant over both transports, as rows of sections @prefix.unix/.tcp. */
static void pp_rows(const char *prefix)
{
	static const struct {
		enum pp_transport t;
		const char *name;
	} tr[] = { { PP_UNIX, "unix" }, { PP_TCP, "tcp" } };
	char section[32], key[64], base[64];
	size_t i, j;

	for (i = 0; i < 2; i++) {
		snprintf(section, sizeof(section), "%s.%s", prefix, tr[i].name);
		snprintf(base, sizeof(base), "%s.blocking_read", section);
		for (j = 0; j < sizeof(variants) / sizeof(variants[0]); j++) {
			snprintf(key, sizeof(key), "%s.%s", section,
				 variants[j].id);
			progress("  %s", key);
			pp_measure(tr[i].t, variants[j].id, NULL, -1, section,
				   key, variants[j].label, base);
		}
	}
}

void sec_pingpong(void)
{
	pp_rows("pingpong");
}

/*
 * The ping-pong rows with the measured side on vCPU 0 and the echo
 * thread on vCPU 1: every round trip crosses CPUs twice, with the
 * wake-up IPIs and the remote wake-ups of a real gateway.  The host
 * turns the markers around each batch into instructions per round trip
 * (scripts/bench, bench/xcpu.py); the ns figures here are host time.
 */
void sec_xcpu(void)
{
	cpu_set_t set, was;
	int pp_unix = cfg.pp_unix, pp_tcp = cfg.pp_tcp;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		rec_na("xcpu.unix", "xcpu.unix.blocking_read", "blocking read (the floor)",
		       "ns", "one vCPU: run scripts/bench, whose second guest has two");
		return;
	}
	if (sched_getaffinity(0, sizeof(was), &was) < 0)
		die("sched_getaffinity: %s", strerror(errno));
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		die("sched_setaffinity: %s", strerror(errno));
	/* A cross-CPU round trip costs host time: a fifth of the batch. */
	cfg.pp_unix = pp_unix / 5;
	cfg.pp_tcp = pp_tcp / 5;
	cfg.xcpu = true;
	pp_rows("xcpu");
	cfg.xcpu = false;
	cfg.pp_unix = pp_unix;
	cfg.pp_tcp = pp_tcp;
	sched_setaffinity(0, sizeof(was), &was);
}
