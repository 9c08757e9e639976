// SPDX-License-Identifier: GPL-2.0
/*
 * npoll-bench: many threads, each on its own TCP connection.
 *
 * N worker threads (1, 2, 8, 64) each wait on a connection of their own
 * by one ping-pong variant's method: one npoll poller shared by all of
 * them, a poller per thread (module or user-space backend), an epoll set
 * per thread waiting with epoll_pwait2() to a per-read deadline, or a
 * blocking read.  A driver thread reaches them in turn:
 *
 *   round trip   the driver writes a 64-byte message to connection k mod
 *                N and reads the worker's echo (a blocking read, the same
 *                for every variant): ns per message, messages per second;
 *   open loop    the driver writes one message every THREADS_GAP ns of
 *                the clock, to connection k mod N, whatever the workers
 *                do; each worker takes the time its message arrived minus
 *                the time it was due: p50, p99 and p99.9 of that.
 *
 * Under --icount the guest has one vCPU and every instruction costs the
 * same, so the rows count the work a message costs and how it grows
 * with the number of parked threads; a cache line that bounces between
 * the cores of a real machine costs nothing here
 * (Documentation/performance.rst).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>

#include "bench.h"

#define SEC 1000000000LL
#define THREADS_MSG 64
#define THREADS_GAP 100000		/* open loop: one message per 100 us */
#define THREADS_MAX 64

struct th_msg {
	int64_t due;			/* open loop: when it was to be sent */
	int64_t stop;			/* 1: the worker leaves */
	char pad[THREADS_MSG - 16];
};

struct th_run;

struct th_worker {
	struct th_run *run;
	pthread_t t;
	int cfd, sfd;			/* worker side, driver side */
	struct pp_side *side;
	int64_t *lat;			/* open loop: one sample per message */
	int nlat;
	int err;
};

struct th_run {
	int n;
	bool echo;			/* round trip (else open loop) */
	int k;				/* round trip: the next message's */
	struct th_worker w[THREADS_MAX];
};

static void *th_main(void *arg)
{
	struct th_worker *w = arg;
	struct th_msg m;

	for (;;) {
		int ret = pp_side_recv(w->side, (char *)&m);

		if (ret < 0) {
			w->err = ret;
			return NULL;
		}
		if (m.stop)
			return NULL;
		if (!w->run->echo) {
			w->lat[w->nlat++] = now_ns() - m.due;
			continue;
		}
		if (write(w->cfd, &m, sizeof(m)) != sizeof(m)) {
			w->err = -EIO;
			return NULL;
		}
	}
}

static int read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = read(fd, (char *)buf + got, len - got);

		if (r <= 0)
			return r < 0 ? -errno : -EPIPE;
		got += (size_t)r;
	}
	return 0;
}

/* Round trip: @iters messages, each to the next worker and back. */
static int th_round_trips(void *ctx, int iters)
{
	struct th_run *run = ctx;
	struct th_msg m = { 0 };
	int i, ret;

	for (i = 0; i < iters; i++, run->k++) {
		struct th_worker *w = &run->w[run->k % run->n];

		if (write(w->sfd, &m, sizeof(m)) != sizeof(m))
			return -EIO;
		ret = read_full(w->sfd, &m, sizeof(m));
		if (ret < 0)
			return w->err ? w->err : ret;
	}
	return 0;
}

/*
 * Open loop: @iters messages on a fixed schedule.  The driver sleeps to
 * each due time with a timer slack of 1 ns (the default 50 us would be
 * in every sample), then writes.
 */
static int th_open_loop(struct th_run *run, int iters)
{
	int64_t t0 = now_ns() + 1000000;
	int i, ret = 0;

	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

	for (i = 0; i < iters; i++) {
		struct th_worker *w = &run->w[i % run->n];
		struct th_msg m = { .due = t0 + (int64_t)i * THREADS_GAP };
		struct timespec ts = { .tv_sec = m.due / SEC,
				       .tv_nsec = m.due % SEC };

		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
				       NULL) == EINTR)
			;
		if (write(w->sfd, &m, sizeof(m)) != sizeof(m)) {
			ret = -EIO;
			break;
		}
	}
	prctl(PR_SET_TIMERSLACK, 0UL, 0, 0, 0);
	return ret;
}

static void th_stop(struct th_run *run, int started)
{
	struct th_msg m = { .stop = 1 };
	int i;

	for (i = 0; i < started; i++) {
		struct th_worker *w = &run->w[i];

		if (write(w->sfd, &m, sizeof(m)) != sizeof(m))
			shutdown(w->sfd, SHUT_RDWR);
		pthread_join(w->t, NULL);
	}
}

/* Close what th_start opened for the first @n workers. */
static void th_release(struct th_run *run, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		struct th_worker *w = &run->w[i];

		if (w->side)
			pp_side_close(w->side);
		close(w->cfd);
		close(w->sfd);
		free(w->lat);
	}
}

/*
 * Workers for @n connections waiting as @vid, on @shared if not NULL;
 * the open loop's workers have room for their share of @samples.
 */
static int th_start(struct th_run *run, int n, const char *vid,
		    np_poller *shared, bool echo, int samples)
{
	int i, ret = 0;

	memset(run, 0, sizeof(*run));
	run->n = n;
	run->echo = echo;
	for (i = 0; i < n; i++) {
		struct th_worker *w = &run->w[i];

		w->run = run;
		ret = pp_tcp_pair(&w->cfd, &w->sfd);
		if (ret < 0)
			die("TCP loopback connection: %s", strerror(-ret));
		if (!echo) {
			w->lat = calloc((size_t)samples / n + 1, sizeof(*w->lat));
			if (!w->lat)
				die("out of memory");
		}
		ret = pp_side_open(vid, w->cfd, THREADS_MSG, shared, &w->side);
		if (ret == 0)
			ret = -pthread_create(&w->t, NULL, th_main, w);
		if (ret < 0) {
			th_stop(run, i);
			th_release(run, i + 1);
			return ret;
		}
	}
	return 0;
}

static const struct {
	const char *id, *label, *vid;
	enum { SH_NONE, SH_KERNEL, SH_USER } shared;
} th_variants[] = {
	{ "blocking_read", "blocking read", "blocking_read", SH_NONE },
	{ "epoll_per_thread", "epoll ET + epoll_pwait2 deadline, a set per thread",
	  "epoll_et_pwait2", SH_NONE },
	{ "np_per_thread", "np_read + deadline, a poller per thread", "np_read_dl",
	  SH_NONE },
	{ "np_shared", "np_read + deadline, one poller shared", "np_read_dl",
	  SH_KERNEL },
	{ "np_per_thread_user", "np_read + deadline, a poller per thread, user backend",
	  "np_read_dl_user", SH_NONE },
	{ "np_shared_user", "np_read + deadline, one poller shared, user backend",
	  "np_read_dl_user", SH_USER },
};

static void th_measure(int n, size_t v, int rts, int samples)
{
	char key[64], tkey[64], base[64], tbase[64], label[96];
	np_poller *shared = NULL;
	struct th_run *run = calloc(1, sizeof(*run));
	struct bstat st;
	int ret = 0;

	if (!run)
		die("out of memory");
	snprintf(key, sizeof(key), "threads.%d.%s", n, th_variants[v].id);
	snprintf(tkey, sizeof(tkey), "threads_tail.%d.%s", n, th_variants[v].id);
	snprintf(base, sizeof(base), "threads.%d.blocking_read", n);
	snprintf(tbase, sizeof(tbase), "threads_tail.%d.blocking_read", n);
	snprintf(label, sizeof(label), "%2d threads: %s", n, th_variants[v].label);
	progress("  %s", key);
	if (th_variants[v].shared != SH_NONE)
		ret = bench_poller_open(&shared, th_variants[v].shared == SH_USER ?
					BK_USER : BK_KERNEL);
	if (ret == 0)
		ret = th_start(run, n, th_variants[v].vid, shared, true, 0);
	if (ret == 0) {
		ret = bench_ops(th_round_trips, run, rts, &st);
		th_stop(run, n);
		th_release(run, n);
	}
	if (ret < 0) {
		rec_na("threads", key, label, "ns", "%s", strerror(-ret));
	} else {
		rec_add("threads", key, label, "ns", &st, base);
		rec_cols("min %.0f max %.0f, %.0f messages/s", st.min, st.max,
			 1e9 / st.med);
		rec_extra(", \"threads\": %d, \"messages_per_s\": %.0f", n,
			  1e9 / st.med);
	}

	progress("  %s", tkey);
	if (ret == 0)
		ret = th_start(run, n, th_variants[v].vid, shared, false, samples);
	if (ret == 0) {
		int64_t *all = calloc((size_t)samples, sizeof(*all));
		int i, j, k = 0;

		if (!all)
			die("out of memory");
		ret = th_open_loop(run, samples);
		/* The workers have their messages once the stops are read. */
		th_stop(run, run->n);
		for (i = 0; i < n; i++) {
			ret = ret ? ret : run->w[i].err;
			for (j = 0; j < run->w[i].nlat && k < samples; j++)
				all[k++] = run->w[i].lat[j];
		}
		th_release(run, n);
		if (ret == 0 && k != samples)
			ret = -EPROTO;
		if (ret < 0) {
			rec_na("threads_tail", tkey, label, "ns", "%s", strerror(-ret));
		} else {
			qsort(all, (size_t)k, sizeof(*all), cmp_i64);
			rec_value("threads_tail", tkey, label, "ns",
				  (double)all[k / 2], tbase);
			rec_cols("p99 %lld  p99.9 %lld  max %lld, %d messages",
				 (long long)all[(k * 99) / 100],
				 (long long)all[(k * 999) / 1000],
				 (long long)all[k - 1], k);
			rec_extra(", \"threads\": %d, \"p99\": %lld, \"p999\": %lld, \"max\": %lld, \"samples\": %d",
				  n, (long long)all[(k * 99) / 100],
				  (long long)all[(k * 999) / 1000],
				  (long long)all[k - 1], k);
		}
		free(all);
	} else {
		rec_na("threads_tail", tkey, label, "ns", "%s", strerror(-ret));
	}
	if (shared)
		np_poller_close(shared);
	free(run);
}

void sec_threads(void)
{
	static const int ns[] = { 1, 2, 8, 64 };
	int rts = cfg.quick ? 200 : 1000, samples = cfg.quick ? 200 : 2000;
	size_t i, v;

	for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		if (cfg.quick && ns[i] != 1 && ns[i] != 64)
			continue;
		for (v = 0; v < sizeof(th_variants) / sizeof(th_variants[0]); v++)
			th_measure(ns[i], v, rts, samples);
	}
}
