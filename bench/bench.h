/* SPDX-License-Identifier: GPL-2.0 */
/*
 * npoll-bench: shared declarations.
 *
 * Every figure is a time read from CLOCK_MONOTONIC around a batch of a
 * fixed number of operations (never a fixed time).  Under
 * `scripts/vm-run --icount` one guest nanosecond is one executed guest
 * instruction, so the figures repeat run to run and compare as ratios.
 */
#ifndef NPOLL_BENCH_H
#define NPOLL_BENCH_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <npoll.h>

/* Iteration counts; --quick divides them. */
struct bench_cfg {
	int batches;		/* batches per measurement; the median is kept */
	int pp_unix;		/* round trips per batch, AF_UNIX */
	int pp_tcp;		/* round trips per batch, TCP */
	int rearm;		/* deadline re-arms per batch */
	int regist;		/* open+close pairs per batch */
	int late;		/* lateness samples per deadline */
	int idle;		/* idle descriptors of the scale section */
	int sched_conns;	/* connections of the scheduler section */
	int sched_cycles;	/* cycles (every connection once) per batch */
	bool quick;
	/*
	 * The xcpu section runs: ping-pong threads pinned to vCPU 0 and 1,
	 * and bench_ops() brackets every batch with bench_mark().
	 */
	bool xcpu;
};
extern struct bench_cfg cfg;

/* Summary of the per-batch figures of one measurement. */
struct bstat {
	double med, min, max;
};

int64_t now_ns(void);
void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
int cmp_double(const void *a, const void *b);
int cmp_i64(const void *a, const void *b);

/*
 * Run @fn(@ctx, iters) once to warm up, then cfg.batches times, and
 * summarize ns per operation.  Returns 0 or the first -errno of @fn.
 */
typedef int (*op_fn)(void *ctx, int iters);
int bench_ops(op_fn fn, void *ctx, int iters, struct bstat *st);

/*
 * The marker instruction that bench/vcpu_insns.so (a QEMU plugin) answers
 * by writing every vCPU's instruction count to the host; a no-op
 * anywhere else.  bench_mark() executes it and returns its number
 * (1, 2, ... in the order executed), the plugin's numbering too.  With
 * cfg.xcpu, bench_ops() leaves the numbers of the markers around each
 * of its last call's batches in bench_marks.
 */
long bench_mark(void);
struct bench_marks {
	int n;			/* batches */
	long begin[64], end[64];
};
extern struct bench_marks bench_marks;

/*
 * Open a poller of one backend: the module's (NPOLL_BACKEND=kernel, so
 * a guest without it reports the rows as not available instead of
 * measuring the other backend under their name) or the user-space one.
 */
enum bench_backend { BK_KERNEL, BK_USER };
int bench_poller_open(np_poller **p, enum bench_backend b);
int scale_user_idle(void);	/* the user backend's idle descriptors */
long read_long(const char *path);	/* a sysctl's or sysfs file's number, -1 if none */
/* Set the sysctl at @path to @v: its value before, or -1. */
long sysctl_swap(const char *path, long v);
extern const char *const bench_backend_suffix[];	/* key: "", "_user" */
extern const char *const bench_backend_label[];	/* label: "", ", user backend" */

/* Results table, JSON, targets (report.c). */
void rec_add(const char *section, const char *key, const char *label,
	     const char *unit, const struct bstat *st, const char *base);
void rec_value(const char *section, const char *key, const char *label,
	       const char *unit, double v, const char *base);
void rec_na(const char *section, const char *key, const char *label,
	    const char *unit, const char *why, ...)
	__attribute__((format(printf, 5, 6)));
/* A number only the targets use (not a table row). */
void rec_hidden(const char *key, double v);
/* Extra JSON members for the last record, e.g. ",\"p99\":12". */
void rec_extra(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Extra table columns for the last record. */
void rec_cols(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
double rec_get(const char *key);	/* NAN when missing or n/a */
void env_set(const char *name, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void report(const char *json_path);

/* Sections. */
void sec_pingpong(void);
void sec_rearm(void);
void sec_lateness(void);
void sec_register(void);
void sec_scale(void);
void sec_sched(void);

/* Ping-pong helpers shared with the scale section (pingpong.c). */
enum pp_transport { PP_UNIX, PP_TCP };
struct pp_variant;
const struct pp_variant *pp_find(const char *id);
/*
 * One ping-pong measurement of variant @id over @t; @ext_p / @ext_ep are
 * an existing poller / epoll instance to use instead of fresh ones
 * (NULL / -1).  Records the result under @key.
 */
void pp_measure(enum pp_transport t, const char *id, np_poller *ext_p,
		int ext_ep, const char *section, const char *key,
		const char *label, const char *base);

/*
 * One waiting side of a connection, as ping-pong variant @id waits:
 * @fd (left open by pp_side_close) read @msg bytes at a time, on
 * @shared or on a poller of its own (NULL).
 */
struct pp_side;
int pp_side_open(const char *id, int fd, size_t msg, np_poller *shared,
		 struct pp_side **out);
int pp_side_recv(struct pp_side *s, char *buf);	/* 0 or -errno */
void pp_side_close(struct pp_side *s);
int pp_tcp_pair(int *cfd, int *sfd);	/* TCP loopback, TCP_NODELAY */

void sec_threads(void);
void sec_napi(void);
void sec_xcpu(void);

#endif /* NPOLL_BENCH_H */
