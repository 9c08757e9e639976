// SPDX-License-Identifier: GPL-2.0
/*
 * npoll-bench: deadlines.
 *
 * Re-arm: the cost of moving a read deadline that never fires, as Go's
 * BenchmarkSetReadDeadline does (an absolute deadline one hour ahead,
 * one nanosecond later at every call), next to timerfd_settime() and
 * setsockopt(SO_RCVTIMEO), and a null system call for scale.
 *
 * Lateness: set a deadline, park until it fires, and take the time of
 * the wake-up minus the deadline.  The deadline is computed in user
 * space from a clock read just before the call, for every method alike.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>

#include "bench.h"

#define SEC 1000000000LL

struct dl_ctx {
	np_desc *pd;
	int fd;			/* timerfd, or the socket */
	int64_t next;		/* absolute deadline of the next call */
};

static struct timespec ts_of(int64_t ns)
{
	return (struct timespec){ .tv_sec = ns / SEC, .tv_nsec = ns % SEC };
}

static int op_null(void *ctx, int iters)
{
	int i;

	(void)ctx;
	for (i = 0; i < iters; i++)
		syscall(SYS_getppid);
	return 0;
}

static int op_np_rel(void *ctx, int iters)
{
	struct dl_ctx *c = ctx;
	int i, ret;

	for (i = 0; i < iters; i++) {
		ret = np_set_deadline(c->pd, 3600 * SEC, NP_READ);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int op_np_abs(void *ctx, int iters)
{
	struct dl_ctx *c = ctx;
	int i, ret;

	for (i = 0; i < iters; i++) {
		ret = np_set_deadline_at(c->pd, c->next++, NP_READ);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int op_tfd_rel(void *ctx, int iters)
{
	struct dl_ctx *c = ctx;
	struct itimerspec it = { .it_value = { .tv_sec = 3600 } };
	int i;

	for (i = 0; i < iters; i++)
		if (timerfd_settime(c->fd, 0, &it, NULL) < 0)
			return -errno;
	return 0;
}

static int op_tfd_abs(void *ctx, int iters)
{
	struct dl_ctx *c = ctx;
	struct itimerspec it = { 0 };
	int i;

	for (i = 0; i < iters; i++) {
		it.it_value = ts_of(c->next++);
		if (timerfd_settime(c->fd, TFD_TIMER_ABSTIME, &it, NULL) < 0)
			return -errno;
	}
	return 0;
}

static int op_rcvtimeo(void *ctx, int iters)
{
	struct dl_ctx *c = ctx;
	struct timeval tv = { .tv_sec = 3600 };
	int i;

	for (i = 0; i < iters; i++)
		if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
			return -errno;
	return 0;
}

static void rearm_one(const char *id, const char *label, op_fn fn,
		      struct dl_ctx *c, const char *base)
{
	char key[64];
	struct bstat st;
	int ret;

	snprintf(key, sizeof(key), "rearm.%s", id);
	progress("  %s", key);
	c->next = now_ns() + 3600 * SEC;
	ret = bench_ops(fn, c, cfg.rearm, &st);
	if (ret < 0)
		rec_na("rearm", key, label, "ns", "%s", strerror(-ret));
	else
		rec_add("rearm", key, label, "ns", &st, base);
}

/* The two np_set_deadline rows on a poller of backend @b. */
static void rearm_np(enum bench_backend b, struct dl_ctx *c, int fd)
{
	const char *sfx = bench_backend_suffix[b], *lsfx = bench_backend_label[b];
	char id_rel[48], id_abs[48], l_rel[80], l_abs[80], key[64];
	np_poller *p = NULL;
	int ret;

	snprintf(id_rel, sizeof(id_rel), "np_set_deadline%s", sfx);
	snprintf(id_abs, sizeof(id_abs), "np_set_deadline_at%s", sfx);
	snprintf(l_rel, sizeof(l_rel), "np_set_deadline (relative)%s", lsfx);
	snprintf(l_abs, sizeof(l_abs), "np_set_deadline_at (absolute)%s", lsfx);
	c->pd = NULL;
	ret = bench_poller_open(&p, b);
	if (ret == 0)
		ret = np_open(p, fd, 0, &c->pd);
	if (ret < 0) {
		snprintf(key, sizeof(key), "rearm.%s", id_rel);
		rec_na("rearm", key, l_rel, "ns", "%s", strerror(-ret));
		snprintf(key, sizeof(key), "rearm.%s", id_abs);
		rec_na("rearm", key, l_abs, "ns", "%s", strerror(-ret));
	} else {
		rearm_one(id_rel, l_rel, op_np_rel, c, "rearm.timerfd_settime");
		rearm_one(id_abs, l_abs, op_np_abs, c,
			  "rearm.timerfd_settime_abs");
	}
	if (c->pd)
		np_close(c->pd);
	if (p)
		np_poller_close(p);
	c->pd = NULL;
}

void sec_rearm(void)
{
	const char *base = "rearm.timerfd_settime";
	struct dl_ctx c = { 0 };
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair: %s", strerror(errno));
	rearm_np(BK_KERNEL, &c, sv[0]);
	rearm_np(BK_USER, &c, sv[0]);

	c.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (c.fd < 0)
		die("timerfd_create: %s", strerror(errno));
	rearm_one("timerfd_settime", "timerfd_settime (relative)", op_tfd_rel,
		  &c, base);
	rearm_one("timerfd_settime_abs", "timerfd_settime (TFD_TIMER_ABSTIME)",
		  op_tfd_abs, &c, "rearm.timerfd_settime_abs");
	close(c.fd);

	c.fd = sv[1];
	rearm_one("so_rcvtimeo", "setsockopt(SO_RCVTIMEO)", op_rcvtimeo, &c,
		  base);
	rearm_one("null_syscall", "a null system call (getppid)", op_null, &c,
		  base);
	close(sv[0]);
	close(sv[1]);
}

/* --- lateness ------------------------------------------------------------- */

struct late_ctx {
	np_desc *pd;
	int epfd, tfd;
};

/* One sample: park until a deadline @d ns ahead fires; *@late = wake - deadline. */
typedef int (*late_fn)(struct late_ctx *c, int64_t d, int64_t *late);

static int late_np(struct late_ctx *c, int64_t d, int64_t *late)
{
	int64_t dl = now_ns() + d;
	int ret;

	ret = np_set_deadline_at(c->pd, dl, NP_READ);
	if (ret < 0)
		return ret;
	ret = np_wait(c->pd, NP_READ);
	*late = now_ns() - dl;
	if (ret != NP_ERR_TIMEOUT)
		return ret < 0 ? ret : -EPROTO;
	return 0;
}

static int late_epoll(struct late_ctx *c, int64_t d, int64_t *late)
{
	struct timespec ts = ts_of(d);
	struct epoll_event ev;
	int64_t dl = now_ns() + d;
	int ret;

	ret = epoll_pwait2(c->epfd, &ev, 1, &ts, NULL);
	*late = now_ns() - dl;
	if (ret != 0)
		return ret < 0 ? -errno : -EPROTO;
	return 0;
}

static int late_tfd(struct late_ctx *c, int64_t d, int64_t *late)
{
	struct itimerspec it = { 0 };
	int64_t dl = now_ns() + d;
	uint64_t n;

	it.it_value = ts_of(dl);
	if (timerfd_settime(c->tfd, TFD_TIMER_ABSTIME, &it, NULL) < 0)
		return -errno;
	if (read(c->tfd, &n, sizeof(n)) != sizeof(n))
		return -errno;
	*late = now_ns() - dl;
	return 0;
}

static void late_one(const char *dname, int64_t d, const char *id,
		     const char *label, late_fn fn, struct late_ctx *c, int err)
{
	char section[32], key[64], base[64];
	int64_t *s = calloc((size_t)cfg.late, sizeof(*s));
	int i, n = cfg.late, early = 0, ret = 0, retries = 0;
	double med, p99;

	if (!s)
		die("out of memory");
	snprintf(section, sizeof(section), "lateness.%s", dname);
	snprintf(key, sizeof(key), "%s.%s", section, id);
	snprintf(base, sizeof(base), "%s.epoll_pwait2", section);
	progress("  %s", key);
	ret = err;
	for (i = 0; i < n / 10 + 1 && ret == 0; i++)	/* warm-up */
		ret = fn(c, d, &s[0]);
	for (i = 0; i < n && ret == 0; i++) {
		ret = fn(c, d, &s[i]);
		/* A stray signal spoils one sample, not the row. */
		if (ret == -EINTR && retries++ < n) {
			ret = 0;
			i--;
		}
	}
	if (ret < 0) {
		rec_na(section, key, label, "ns", "%s", strerror(-ret));
		free(s);
		return;
	}
	for (i = 0; i < n; i++)
		early += s[i] < 0;
	qsort(s, (size_t)n, sizeof(*s), cmp_i64);
	med = (double)s[n / 2];
	p99 = (double)s[(n * 99) / 100];
	rec_value(section, key, label, "ns", med, base);
	rec_cols("p99 %lld  min %lld  max %lld  early %d/%d",
		 (long long)p99, (long long)s[0], (long long)s[n - 1], early, n);
	rec_extra(", \"p99\": %.0f, \"min\": %lld, \"max\": %lld, \"early\": %d, \"samples\": %d",
		  p99, (long long)s[0], (long long)s[n - 1], early, n);
	snprintf(key + strlen(key), sizeof(key) - strlen(key), ".early");
	rec_hidden(key, early);
	free(s);
}

void sec_lateness(void)
{
	static const struct {
		const char *name;
		int64_t d;
	} ds[] = { { "100us", 100000 }, { "1ms", 1000000 } };
	struct late_ctx c = { .epfd = -1, .tfd = -1 }, cu = c;
	np_poller *p = NULL, *pu = NULL;
	int sv[2], ret, ret_u;
	size_t i;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair: %s", strerror(errno));
	ret = bench_poller_open(&p, BK_KERNEL);
	if (ret == 0)
		ret = np_open(p, sv[0], 0, &c.pd);
	ret_u = bench_poller_open(&pu, BK_USER);
	if (ret_u == 0)
		ret_u = np_open(pu, sv[0], 0, &cu.pd);
	c.epfd = epoll_create1(EPOLL_CLOEXEC);
	c.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (c.epfd < 0 || c.tfd < 0)
		die("epoll/timerfd: %s", strerror(errno));

	for (i = 0; i < 2; i++) {
		char dn[16];

		snprintf(dn, sizeof(dn), "%s", ds[i].name);
		late_one(dn, ds[i].d, "npoll", "npoll np_set_deadline_at + np_wait",
			 late_np, &c, ret);
		late_one(dn, ds[i].d, "npoll_user",
			 "npoll np_set_deadline_at + np_wait, user backend",
			 late_np, &cu, ret_u);
		late_one(dn, ds[i].d, "epoll_pwait2", "epoll_pwait2 timeout",
			 late_epoll, &c, 0);
		/* Where epoll's lateness comes from: the task's timer slack. */
		prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
		late_one(dn, ds[i].d, "epoll_pwait2_slack1",
			 "epoll_pwait2 timeout, timer slack 1 ns", late_epoll, &c, 0);
		prctl(PR_SET_TIMERSLACK, 0UL, 0, 0, 0);
		late_one(dn, ds[i].d, "timerfd", "timerfd ABSTIME + read",
			 late_tfd, &c, 0);
	}
	close(c.tfd);
	close(c.epfd);
	if (cu.pd)
		np_close(cu.pd);
	if (pu)
		np_poller_close(pu);
	if (c.pd)
		np_close(c.pd);
	if (p)
		np_poller_close(p);
	close(sv[0]);
	close(sv[1]);
}
