// SPDX-License-Identifier: GPL-2.0
/*
 * npoll-bench: the results table, the SPEC section 7 targets computed
 * from it, and the JSON document.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

struct rec {
	char section[24];
	char key[64];
	char label[80];
	char unit[16];
	char base[64];		/* key of the row this one is compared with */
	double value;		/* NAN: not available */
	double min, max;	/* over the batches; NAN when not batched */
	char cols[160];		/* more table columns */
	char extra[512];	/* more JSON members, each starting with ',' */
	char note[128];		/* why not available */
	bool hidden;		/* a number for the targets only */
};

#define MAX_RECS 256
static struct rec recs[MAX_RECS];
static int nrecs;

#define MAX_ENV 16
static char env_name[MAX_ENV][32], env_val[MAX_ENV][96];
static int nenv;

static const struct {
	const char *section;
	const char *title;
} titles[] = {
	{ "pingpong.unix", "Ping-pong round trip, AF_UNIX stream, 1 byte (ns per round trip)" },
	{ "pingpong.tcp", "Ping-pong round trip, TCP loopback, 64 bytes, TCP_NODELAY (ns per round trip)" },
	{ "rearm", "Re-arming a read deadline that never fires (ns per call)" },
	{ "lateness.100us", "Deadline lateness = wake time - deadline, deadline 100 us (ns)" },
	{ "lateness.1ms", "Deadline lateness = wake time - deadline, deadline 1 ms (ns)" },
	{ "register", "Register + deregister one descriptor (ns per pair)" },
	{ "memory", "Kernel memory per registered descriptor (bytes)" },
	{ "scale", "Wake-up cost with idle descriptors registered (AF_UNIX ping-pong, ns per round trip)" },
	{ "sched", "Scheduler mode: every one of the connections readable once per cycle (ns per event)" },
	{ "threads", "Many threads, each on its own TCP connection: a round trip through thread k mod N (ns per message)" },
	{ "threads_tail", "Many threads, open loop: one message every 100 us to thread k mod N, arrival - due time (ns, p50)" },
	{ "xcpu.unix", "Ping-pong across two vCPUs, AF_UNIX stream, 1 byte (host ns per round trip, not deterministic; instructions: scripts/bench)" },
	{ "xcpu.tcp", "Ping-pong across two vCPUs, TCP loopback, 64 bytes (host ns per round trip, not deterministic; instructions: scripts/bench)" },
	{ "napi", "TCP ping-pong over a NAPI path (veth, GRO on), 64 bytes, with and without busy polling (ns per round trip)" },
};

static struct rec *rec_new(const char *section, const char *key,
			   const char *label, const char *unit,
			   const char *base)
{
	struct rec *r;

	if (nrecs == MAX_RECS)
		die("too many results");
	r = &recs[nrecs++];
	memset(r, 0, sizeof(*r));
	snprintf(r->section, sizeof(r->section), "%s", section);
	snprintf(r->key, sizeof(r->key), "%s", key);
	snprintf(r->label, sizeof(r->label), "%s", label);
	snprintf(r->unit, sizeof(r->unit), "%s", unit);
	snprintf(r->base, sizeof(r->base), "%s", base ? base : "");
	r->value = r->min = r->max = NAN;
	return r;
}

void rec_add(const char *section, const char *key, const char *label,
	     const char *unit, const struct bstat *st, const char *base)
{
	struct rec *r = rec_new(section, key, label, unit, base);

	r->value = st->med;
	r->min = st->min;
	r->max = st->max;
}

void rec_value(const char *section, const char *key, const char *label,
	       const char *unit, double v, const char *base)
{
	rec_new(section, key, label, unit, base)->value = v;
}

void rec_hidden(const char *key, double v)
{
	struct rec *r = rec_new("", key, "", "", NULL);

	r->value = v;
	r->hidden = true;
}

void rec_na(const char *section, const char *key, const char *label,
	    const char *unit, const char *why, ...)
{
	struct rec *r = rec_new(section, key, label, unit, NULL);
	va_list ap;

	va_start(ap, why);
	vsnprintf(r->note, sizeof(r->note), why, ap);
	va_end(ap);
	progress("  %s: not available: %s", key, r->note);
}

void rec_extra(const char *fmt, ...)
{
	struct rec *r = &recs[nrecs - 1];
	size_t n = strlen(r->extra);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->extra + n, sizeof(r->extra) - n, fmt, ap);
	va_end(ap);
}

void rec_cols(const char *fmt, ...)
{
	struct rec *r = &recs[nrecs - 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->cols, sizeof(r->cols), fmt, ap);
	va_end(ap);
}

static const struct rec *rec_find(const char *key)
{
	int i;

	for (i = 0; i < nrecs; i++)
		if (!strcmp(recs[i].key, key))
			return &recs[i];
	return NULL;
}

double rec_get(const char *key)
{
	const struct rec *r = rec_find(key);

	return r ? r->value : NAN;
}

void env_set(const char *name, const char *fmt, ...)
{
	va_list ap;

	if (nenv == MAX_ENV)
		return;
	snprintf(env_name[nenv], sizeof(env_name[0]), "%s", name);
	va_start(ap, fmt);
	vsnprintf(env_val[nenv], sizeof(env_val[0]), fmt, ap);
	va_end(ap);
	nenv++;
}

/* --- targets ---------------------------------------------------------- */

enum op { LE, LT, EQ };
enum verdict { PASS, FAIL, NA };

struct target {
	char name[96];
	char spec[96];		/* the SPEC 7 row it checks */
	bool in_spec;		/* a row of SPEC section 7 (else a comparison) */
	double value, limit;
	enum op op;
	enum verdict verdict;
};

#define MAX_TARGETS 48
static struct target targets[MAX_TARGETS];
static int ntargets;
static bool spec_rows;		/* target() is adding SPEC section 7's rows */

static const char *const op_str[] = { "<=", "<", "==" };
static const char *const verdict_str[] = { "PASS", "FAIL", "N/A" };

static void target(const char *spec, const char *name, double value,
		   enum op op, double limit)
{
	struct target *t;

	if (ntargets == MAX_TARGETS)
		die("too many targets");
	t = &targets[ntargets++];
	snprintf(t->name, sizeof(t->name), "%s", name);
	snprintf(t->spec, sizeof(t->spec), "%s", spec);
	t->in_spec = spec_rows;
	t->value = value;
	t->limit = limit;
	t->op = op;
	if (isnan(value))
		t->verdict = NA;
	else if (op == LE)
		t->verdict = value <= limit ? PASS : FAIL;
	else if (op == LT)
		t->verdict = value < limit ? PASS : FAIL;
	else
		t->verdict = value == limit ? PASS : FAIL;
}

static double ratio(const char *num, const char *den)
{
	return rec_get(num) / rec_get(den);
}

/*
 * The target "@label (@name)": the row @sec.@k.@num over @sec.@k.@den,
 * for one transport or one deadline length @k of the section @sec.
 */
static void ratio_target(const char *spec, const char *sec, const char *k,
			 const char *name, const char *label, const char *num,
			 const char *den, enum op op, double limit)
{
	char n[96], a[64], b[64];

	snprintf(a, sizeof(a), "%s.%s.%s", sec, k, num);
	snprintf(b, sizeof(b), "%s.%s.%s", sec, k, den);
	snprintf(n, sizeof(n), "%s (%s)", label, name);
	target(spec, n, ratio(a, b), op, limit);
}

/* The smallest of @n rows, NAN if any is missing. */
static double best_of(const char *const *keys, size_t n)
{
	double best = INFINITY;
	size_t i;

	for (i = 0; i < n; i++) {
		double v = rec_get(keys[i]);

		if (isnan(v))
			return NAN;
		best = fmin(best, v);
	}
	return best;
}

/*
 * The rows of SPEC section 7's performance table, in its order, then
 * (spec_rows false) comparisons with the simple peers kept from its
 * earlier targets.
 */
static void compute_targets(void)
{
	static const struct {
		const char *t, *name;
	} tr[] = { { "unix", "AF_UNIX" }, { "tcp", "TCP" } };
	static const struct {
		const char *d, *name;
	} dl[] = { { "100us", "100 us" }, { "1ms", "1 ms" } };
	const char *s;
	char n[96], a[64], k[3][64];
	size_t i;

	spec_rows = true;
	s = "ping-pong with a per-read deadline, np_read";
	for (i = 0; i < 2; i++) {
		const char *keys[3] = { k[0], k[1], k[2] };

		snprintf(k[0], sizeof(k[0]), "pingpong.%s.rcvtimeo", tr[i].t);
		snprintf(k[1], sizeof(k[1]), "pingpong.%s.epoll_et_pwait2", tr[i].t);
		snprintf(k[2], sizeof(k[2]), "pingpong.%s.uring_expert", tr[i].t);
		snprintf(a, sizeof(a), "pingpong.%s.np_read_dl", tr[i].t);
		snprintf(n, sizeof(n), "np_read+deadline / best expert peer with a deadline (%s)",
			 tr[i].name);
		target(s, n, rec_get(a) / best_of(keys, 3), LE, 1.0);
	}
	s = "the same without a deadline";
	for (i = 0; i < 2; i++)
		ratio_target(s, "pingpong", tr[i].t, tr[i].name, "np_read / blocking read",
			     "np_read", "blocking_read", LE, 1.03);
	s = "NAPI path with busy polling on";
	/*
	 * Only where both spins received what they waited for: on one vCPU
	 * the peer cannot answer while the reader spins, so each busy row
	 * spins out its time and the ratio would compare two timeouts.
	 */
	target(s, "np_read / blocking read, both with SO_BUSY_POLL (NAPI path)",
	       rec_get("napi.np_read_busy.busy_rx") > 0 &&
	       rec_get("napi.blocking_read_busy.busy_rx") > 0 ?
	       ratio("napi.np_read_busy", "napi.blocking_read_busy") : NAN, LE, 1.0);

	s = "re-arming a read deadline that never fires";
	target(s, "np_set_deadline / a null system call (no syscall)",
	       ratio("rearm.np_set_deadline", "rearm.null_syscall"), LT, 1.0);
	target(s, "np_set_deadline / timerfd_settime",
	       ratio("rearm.np_set_deadline", "rearm.timerfd_settime"), LE, 0.2);
	target(s, "np_set_deadline_at / timerfd_settime ABSTIME",
	       ratio("rearm.np_set_deadline_at", "rearm.timerfd_settime_abs"), LE, 0.2);

	s = "deadline lateness";
	for (i = 0; i < 2; i++) {
		snprintf(a, sizeof(a), "lateness.%s.npoll.early", dl[i].d);
		snprintf(n, sizeof(n), "npoll deadline wake-ups before the deadline (%s)", dl[i].name);
		target(s, n, rec_get(a), EQ, 0);
		ratio_target(s, "lateness", dl[i].d, dl[i].name,
			     "npoll lateness median / timerfd's", "npoll", "timerfd", LE, 1.0);
	}

	s = "kernel memory per descriptor";
	target(s, "npoll bytes per descriptor / epoll's epitem+pwq+head",
	       ratio("memory.npoll.total", "memory.epoll.slab"), LE, 1.0);

	s = "cost of a wake with 1 000 000 idle descriptors open";
	snprintf(n, sizeof(n), "wake with %d idle / with 1 (npoll)", cfg.idle);
	target(s, n, cfg.idle >= 1000000 ?
	       ratio("scale.npoll.idle", "scale.npoll.1") : NAN, LE, 1.02);

	s = "open + close of a descriptor";
	target(s, "np_open+np_close / epoll_ctl ADD+DEL",
	       ratio("register.npoll", "register.epoll"), LE, 1.0);

	s = "64 threads, one connection each";
	target(s, "64 threads: one shared poller / a poller per thread",
	       ratio("threads.64.np_shared", "threads.64.np_per_thread"), LE, 1.05);

	spec_rows = false;
	s = "the simple peers";
	for (i = 0; i < 2; i++) {
		const char *t = tr[i].t, *tn = tr[i].name;

		ratio_target(s, "pingpong", t, tn, "np_read+deadline / blocking read",
			     "np_read_dl", "blocking_read", LE, 1.05);
		ratio_target(s, "pingpong", t, tn, "np_read+deadline / epoll ET+timerfd",
			     "np_read_dl", "epoll_et_timerfd", LT, 1.0);
		ratio_target(s, "pingpong", t, tn,
			     "np_read+deadline / io_uring recv+link timeout",
			     "np_read_dl", "uring_recv_lt", LT, 1.0);
		ratio_target(s, "pingpong", t, tn,
			     "np_read, deadline set once / read, SO_RCVTIMEO set once",
			     "np_read_dl_once", "rcvtimeo", LE, 1.0);
	}
	for (i = 0; i < 2; i++)
		ratio_target(s, "lateness", dl[i].d, dl[i].name,
			     "npoll lateness median / epoll_pwait2", "npoll",
			     "epoll_pwait2", LE, 0.1);
}

/* --- output ------------------------------------------------------------ */

static void fmt_num(char *buf, size_t len, double v)
{
	if (isnan(v))
		snprintf(buf, len, "n/a");
	else if (v != 0 && fabs(v) < 10)
		snprintf(buf, len, "%.2f", v);
	else
		snprintf(buf, len, "%.0f", v);
}

static void print_row(const struct rec *r)
{
	char v[32], rb[32] = "";
	double base = r->base[0] ? rec_get(r->base) : NAN;

	if (isnan(r->value)) {
		printf("  %-60s %10s  %s\n", r->label, "n/a", r->note);
		return;
	}
	fmt_num(v, sizeof(v), r->value);
	if (!isnan(base) && base != 0)
		snprintf(rb, sizeof(rb), "x%.2f", r->value / base);
	if (r->cols[0])
		printf("  %-60s %10s %-5s %6s  %s\n", r->label, v, r->unit, rb,
		       r->cols);
	else if (rb[0])
		printf("  %-60s %10s %-5s %s\n", r->label, v, r->unit, rb);
	else
		printf("  %-60s %10s %s\n", r->label, v, r->unit);
}

/* Sections in the order of titles[], rows in the order measured. */
static void print_table(void)
{
	size_t t;
	int i;

	for (t = 0; t < sizeof(titles) / sizeof(titles[0]); t++) {
		bool head = false;

		for (i = 0; i < nrecs; i++) {
			if (recs[i].hidden ||
			    strcmp(recs[i].section, titles[t].section))
				continue;
			if (!head)
				printf("\n%s\n", titles[t].title);
			head = true;
			print_row(&recs[i]);
		}
	}
}

/*
 * The backend comparison: every row measured on both backends, keyed
 * "<module key with _user after its variant>", e.g. pingpong.unix.np_read
 * and pingpong.unix.np_read_user, scale.npoll.idle and
 * scale.npoll_user.idle.  Returns the module's row of user row @u.
 */
static const struct rec *module_twin(const struct rec *u)
{
	char key[sizeof(u->key)];
	const char *m = strstr(u->key, "_user");

	if (u->hidden || !m || (m[5] != '.' && m[5] != 0))
		return NULL;
	snprintf(key, sizeof(key), "%.*s%s", (int)(m - u->key), u->key, m + 5);
	return rec_find(key);
}

static void print_backends(void)
{
	char mv[32], uv[32], rb[32];
	bool head = false;
	int i;

	for (i = 0; i < nrecs; i++) {
		const struct rec *u = &recs[i], *m = module_twin(u);

		if (!m)
			continue;
		if (!head)
			printf("\nWhat the module buys: rows measured on both backends (ratio module / user)\n"
			       "  %-15s %-60s %10s %10s %6s\n", "section", "row",
			       "module", "user", "ratio");
		head = true;
		fmt_num(mv, sizeof(mv), m->value);
		fmt_num(uv, sizeof(uv), u->value);
		if (isnan(m->value) || isnan(u->value) || u->value == 0)
			snprintf(rb, sizeof(rb), "n/a");
		else
			snprintf(rb, sizeof(rb), "x%.2f", m->value / u->value);
		printf("  %-15s %-60s %10s %10s %6s  %s\n", m->section, m->label,
		       mv, uv, rb, m->unit);
	}
}

static void print_target(const struct target *t, const char *word)
{
	char v[32];

	if (isnan(t->value))
		snprintf(v, sizeof(v), "n/a");
	else if (t->op == EQ || t->value >= 100)
		snprintf(v, sizeof(v), "%.0f", t->value);
	else
		snprintf(v, sizeof(v), "%.3f", t->value);
	printf("%s %s = %s (%s %g) %s\n", word, t->name, v, op_str[t->op],
	       t->limit, verdict_str[t->verdict]);
}

static void print_targets(void)
{
	int i, n[3] = { 0 };

	printf("\nSPEC section 7 performance targets\n");
	for (i = 0; i < ntargets; i++) {
		if (!targets[i].in_spec)
			continue;
		print_target(&targets[i], "target");
		n[targets[i].verdict]++;
	}
	printf("targets: %d passed, %d failed, %d not available\n",
	       n[PASS], n[FAIL], n[NA]);
	printf("\nAgainst the simple peers (earlier limits, not in SPEC section 7)\n");
	for (i = 0; i < ntargets; i++)
		if (!targets[i].in_spec)
			print_target(&targets[i], "compare");
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void json_num(FILE *f, double v)
{
	if (isnan(v) || isinf(v))
		fputs("null", f);
	else
		fprintf(f, "%.10g", v);
}

static void write_json(FILE *f)
{
	int i, k, n[3] = { 0 };

	fprintf(f, "{\n  \"tool\": \"npoll-bench\",\n  \"format\": 1,\n  \"env\": {");
	for (i = 0; i < nenv; i++) {
		fprintf(f, "%s\n    ", i ? "," : "");
		json_str(f, env_name[i]);
		fputs(": ", f);
		json_str(f, env_val[i]);
	}
	fprintf(f, "\n  },\n  \"results\": [");
	for (i = 0; i < nrecs; i++) {
		const struct rec *r = &recs[i];
		double base = r->base[0] ? rec_get(r->base) : NAN;

		fprintf(f, "%s\n    {\"key\": ", i ? "," : "");
		json_str(f, r->key);
		if (!r->hidden) {
			fputs(", \"section\": ", f);
			json_str(f, r->section);
			fputs(", \"label\": ", f);
			json_str(f, r->label);
			fputs(", \"unit\": ", f);
			json_str(f, r->unit);
		}
		fputs(", \"value\": ", f);
		json_num(f, r->value);
		if (!isnan(r->min)) {
			fputs(", \"min\": ", f);
			json_num(f, r->min);
			fputs(", \"max\": ", f);
			json_num(f, r->max);
		}
		if (r->base[0]) {
			fputs(", \"baseline\": ", f);
			json_str(f, r->base);
			fputs(", \"ratio\": ", f);
			json_num(f, r->value / base);
		}
		if (r->note[0]) {
			fputs(", \"available\": false, \"note\": ", f);
			json_str(f, r->note);
		}
		fprintf(f, "%s}", r->extra);
	}
	fprintf(f, "\n  ],\n  \"backends\": [");
	for (i = 0, k = 0; i < nrecs; i++) {
		const struct rec *u = &recs[i], *m = module_twin(u);

		if (!m)
			continue;
		fprintf(f, "%s\n    {\"module\": ", k++ ? "," : "");
		json_str(f, m->key);
		fputs(", \"user\": ", f);
		json_str(f, u->key);
		fputs(", \"module_value\": ", f);
		json_num(f, m->value);
		fputs(", \"user_value\": ", f);
		json_num(f, u->value);
		fputs(", \"ratio\": ", f);
		json_num(f, m->value / u->value);
		fputs(", \"unit\": ", f);
		json_str(f, m->unit);
		fputs("}", f);
	}
	fprintf(f, "\n  ],\n  \"targets\": [");
	for (i = 0; i < ntargets; i++) {
		const struct target *t = &targets[i];

		fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
		json_str(f, t->name);
		fputs(", \"spec\": ", f);
		json_str(f, t->spec);
		fputs(", \"value\": ", f);
		json_num(f, t->value);
		fprintf(f, ", \"op\": \"%s\", \"limit\": ", op_str[t->op]);
		json_num(f, t->limit);
		fprintf(f, ", \"in_spec\": %s, \"result\": \"%s\"}",
			t->in_spec ? "true" : "false", verdict_str[t->verdict]);
		if (t->in_spec)
			n[t->verdict]++;
	}
	fprintf(f, "\n  ],\n  \"summary\": {\"pass\": %d, \"fail\": %d, \"na\": %d}\n}\n",
		n[PASS], n[FAIL], n[NA]);
}

/* Only the xcpu section ran: its targets are scripts/bench's. */
static bool xcpu_only(void)
{
	int i;

	for (i = 0; i < nrecs; i++)
		if (strncmp(recs[i].section, "xcpu.", 5))
			return false;
	return nrecs > 0;
}

void report(const char *json_path)
{
	FILE *f;

	compute_targets();
	print_table();
	/* An xcpu run's ns are host time: scripts/bench compares its counts. */
	if (!xcpu_only()) {
		print_backends();
		print_targets();
	}
	if (!json_path)
		return;
	if (!strcmp(json_path, "-")) {
		printf("--- npoll-bench json begin ---\n");
		write_json(stdout);
		printf("--- npoll-bench json end ---\n");
		fflush(stdout);
		return;
	}
	f = fopen(json_path, "w");
	if (!f)
		die("cannot write %s", json_path);
	write_json(f);
	if (fclose(f))
		die("cannot write %s", json_path);
}
