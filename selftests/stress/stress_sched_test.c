// SPDX-License-Identifier: GPL-2.0
/*
 * Race stress of scheduler mode and of poller release: readiness vs
 * deadline expiry vs deadline changes vs unblock vs close vs harvest,
 * on armed modes (and a parked thread next to an armed mode), then the
 * release of a poller racing readiness, timers and ioctls in flight,
 * by close() and by process exit.
 *
 * Armed modes have no thread behind them, so their races run at the
 * speed of two vCPUs spinning on shared memory: an owner thread and a
 * racer thread meet on atomic counters, never on a futex (a sleeping
 * thread costs a cross-vCPU wake-up, about a millisecond under TCG).
 * A round races on 32 descriptors ("slots") of one poller (one when a
 * thread parks), one after the other, the racer keeping pace; each
 * slot's race is one iteration, with actions and checks of its own:
 *
 *   owner                                racer
 *   pick every slot's actions; go ------> round counter
 *   for each slot:                       for each slot, once the owner
 *     short deadlines (hrtimer)            is at it:
 *     progress counter  --------------->   its actions, shuffled, spins
 *     arms and own actions, shuffled,      between them: readiness,
 *     spins between them                   deadline moved into the past
 *     now and then a harvest (no wait)     or out, unblock, close
 *   wait for the racer <---------------- done
 *   harvest what must have come; end undecided modes with an action
 *   of known outcome; check
 *   restore the even slots  ----------->  restore the odd slots
 *   wait for the racer <---------------- done
 *
 * Checked every iteration, per mode: an arm returns PENDING or an
 * outcome the slot's actions explain; each PENDING arm yields exactly
 * one event, with the registration's cookie and an outcome the actions
 * explain (NP_OK needs readiness, NP_ERR_TIMEOUT a deadline that
 * expired or was moved into the past, never one moved out;
 * NP_ERR_CLOSING unblock or close); a mode that a completed action must
 * have decided delivers its event (no lost wake-up); a poll that began
 * after NPOLL_IOC_CLOSE returned reports only CLOSING for that
 * descriptor; no second event; readiness that lost the race to a
 * deadline is kept for the next arm.  An action that found the handle
 * closed gets -EBADF, nothing else.  At the end of every test: np_stats
 * has no waiter, armed mode or event left, and the descriptor cache is
 * back to its count before the test (as root: the slab counters are
 * root's).
 *
 * The raw ioctls are used throughout: a racer may act on a handle that
 * another thread closed, which libnpoll forbids and the kernel answers
 * with -EBADF.
 */
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "npoll_test_util.h"
#include "stress.h"

#define B(x)		(1U << (x))
#define NMODES		2	/* index 0: read, 1: write */
#define MAX_SLOTS	32

enum kind { K_EVENTFD, K_UNIX, K_TCP };

enum act {
	ACT_READY_R,	/* read readiness: a count, or a byte from the peer */
	ACT_READY_W,	/* write readiness: the eventfd's count taken down */
	ACT_PAST_R,	/* read deadline moved into the past */
	ACT_PAST_W,
	ACT_PAST_RW,
	ACT_EXTEND,	/* both deadlines moved a minute out, or cleared */
	ACT_UNBLOCK,
	ACT_CLOSE,	/* NPOLL_IOC_CLOSE */
	ACT_NR,
	ACT_ARM_R = ACT_NR,	/* the owner's arms, shuffled in with its actions */
	ACT_ARM_W,
	ACT_ALL
};

static const char *const act_name[ACT_ALL] = {
	"ready-r", "ready-w", "past-r", "past-w", "past-rw", "extend",
	"unblock", "close", "arm-r", "arm-w",
};

/* Percent of iterations in which an action races. */
static const unsigned int act_pct[ACT_NR] = {
	[ACT_READY_R] = 45, [ACT_READY_W] = 45, [ACT_PAST_R] = 15,
	[ACT_PAST_W] = 15, [ACT_PAST_RW] = 10, [ACT_EXTEND] = 20,
	[ACT_UNBLOCK] = 10, [ACT_CLOSE] = 10,
};

struct step {
	unsigned char slot, act;
	unsigned int delay;	/* spin units before the action */
	int ret;		/* 0 or -errno (arms: their result) */
};

/* What an iteration knows about a mode. */
struct mstate {
	bool waiter;		/* armed or parked */
	unsigned int allowed;	/* outcomes the slot's actions explain */
	bool def;		/* an action that must decide it ran */
	bool raced_ready;	/* readiness was among the racing actions */
	int made;		/* readiness made (count or bytes) */
	bool consumed;		/* an outcome or arm took the readiness */
	int ret;		/* the arm's (or the parked wait's) result */
	bool pending;		/* the arm returned PENDING: one event owed */
	int event;		/* the event's outcome, -1 none yet */
	int final;		/* action that ended it undecided, -1 none */
};

struct slot {
	int fd;			/* the registered file */
	int peer;		/* K_UNIX, K_TCP: the other end */
	uint64_t h, user;
	atomic_int closed;	/* NPOLL_IOC_CLOSE returned this round */
	bool has[ACT_NR], timer[NMODES];
	bool closing, touched, reopen;
	bool cleared;		/* deadlines cleared by check_kept_readiness() */
	struct mstate m[NMODES];
};

struct race {
	int dev;
	enum kind kind;
	int nslots;
	struct slot slot[MAX_SLOTS];
	bool arm_r;		/* read mode armed; else a thread parks in it */
	bool arm_w;		/* write mode armed too */
	bool ready_src[NMODES];	/* the file kind can make the mode ready */
	bool yield;		/* fewer vCPUs than spinning threads */
	unsigned int delay_max;	/* spin units, about three ioctls */
	int64_t timer_max;	/* ns, about five ioctls */
	int64_t ioctl_ns;	/* calibration */
	uint64_t gen;		/* registrations so far */
	/* The racer's part of the round. */
	int n;
	struct step s[MAX_SLOTS * ACT_NR];
	int64_t extend_to;
	/* The parked thread's (slot 0's read mode when !arm_r). */
	unsigned int park_delay;
	int park_ret;
	atomic_uint seq, rdone, pdone;
	/*
	 * The racer's part of the restore: rseq counts the requests, the
	 * racer answers with rsdone and its failure (rs_err, in slot rs_bad).
	 */
	atomic_uint rseq, rsdone;
	const char *rs_err;
	int rs_bad;
	atomic_uint prog;	/* slots the owner has started, all rounds */
	atomic_int quit;
	pthread_t racer, parker;
	bool racer_up, parker_up;
	long count[NMODES][5];	/* outcomes seen, by NPOLL_* value */
	long nblock;		/* harvests that had to wait */
	int64_t block_ns;	/* and how long they took */
	int64_t phase_ns[4];	/* the owner's time: race, collect, end, restore */
};

static int raw_stats(int dev, struct npoll_stats *st)
{
	return npt_ioctl(dev, NPOLL_IOC_STATS, st);
}

static int do_act(struct race *c, struct slot *s, int act, int64_t ext)
{
	uint64_t one = 1;
	int r;

	switch (act) {
	case ACT_READY_R:
		if (c->kind == K_EVENTFD)
			return write(s->fd, &one, 8) == 8 ? 0 : -errno;
		return write(s->peer, "x", 1) == 1 ? 0 : -errno;
	case ACT_READY_W:
		/* EFD_SEMAPHORE: takes one, wakes writers (EPOLLOUT). */
		return read(s->fd, &one, 8) == 8 ? 0 : -errno;
	case ACT_PAST_R:
		return npt_raw_deadline(c->dev, s->h, -1, NPOLL_MODE_READ, 0);
	case ACT_PAST_W:
		/* Absolute and not after now: expired as well. */
		return npt_raw_deadline(c->dev, s->h, 1, NPOLL_MODE_WRITE,
					NPOLL_DEADLINE_ABS);
	case ACT_PAST_RW:
		return npt_raw_deadline(c->dev, s->h, -1, NPOLL_MODE_RW, 0);
	case ACT_EXTEND:
		return npt_raw_deadline(c->dev, s->h, ext, NPOLL_MODE_RW, 0);
	case ACT_UNBLOCK:
		return npt_raw_handle(c->dev, NPOLL_IOC_UNBLOCK, s->h);
	case ACT_CLOSE:
		r = npt_raw_handle(c->dev, NPOLL_IOC_CLOSE, s->h);
		if (!r)
			atomic_store_explicit(&s->closed, 1,
					      memory_order_release);
		return r;
	case ACT_ARM_R:
	case ACT_ARM_W:
		return npt_raw_wait(c->dev, NPOLL_IOC_ARM, s->h,
				    act == ACT_ARM_R ? NPOLL_MODE_READ :
						       NPOLL_MODE_WRITE, 0);
	}
	return -EINVAL;
}

static const char *restore_slots(struct race *c, int first, int step, int *bad);

static void *racer_fn(void *arg)
{
	struct race *c = arg;
	unsigned int seen = 0;

	unsigned int rseen = 0;

	stress_pin(1);
	for (;;) {
		unsigned long spins = 0;

		/* The next round's actions, or the odd slots' restore. */
		while (atomic_load_explicit(&c->seq, memory_order_acquire) == seen &&
		       atomic_load_explicit(&c->rseq, memory_order_acquire) == rseen &&
		       !atomic_load(&c->quit)) {
			if (c->yield || ++spins > 1000000)
				sched_yield();
			else
				stress_relax(16);
		}
		if (atomic_load(&c->quit))
			break;
		if (atomic_load_explicit(&c->rseq, memory_order_acquire) != rseen) {
			rseen = atomic_load(&c->rseq);
			c->rs_err = restore_slots(c, 1, 2, &c->rs_bad);
			atomic_store_explicit(&c->rsdone, rseen, memory_order_release);
			continue;
		}
		seen = atomic_load(&c->seq);
		for (int i = 0; i < c->n; i++) {
			struct step *s = &c->s[i];
			/* Keep pace: act on a slot once the owner is at it. */
			unsigned int at = (seen - 1) * c->nslots + s->slot + 1;

			while ((int)(atomic_load_explicit(&c->prog,
				memory_order_acquire) - at) < 0 &&
			       !atomic_load(&c->quit)) {
				if (c->yield)
					sched_yield();
				stress_relax(16);
			}
			stress_relax(s->delay);
			s->ret = do_act(c, &c->slot[s->slot], s->act,
					c->extend_to);
		}
		atomic_store_explicit(&c->rdone, seen, memory_order_release);
	}
	return NULL;
}

/* A thread that parks in slot 0's read mode each round (NPOLL_IOC_WAIT). */
static void *parker_fn(void *arg)
{
	struct race *c = arg;
	unsigned int seen = 0;

	for (;;) {
		/* Three threads on two vCPUs: this one gives way. */
		seen = stress_wait_change(&c->seq, seen, true, 0);
		if (atomic_load(&c->quit))
			break;
		stress_relax(c->park_delay);
		c->park_ret = npt_raw_wait(c->dev, NPOLL_IOC_WAIT, c->slot[0].h,
					   NPOLL_MODE_READ, 0);
		atomic_store_explicit(&c->pdone, seen, memory_order_release);
	}
	return NULL;
}

/*
 * Delays and deadlines in units of the guest's speed: a cheap ioctl's
 * mean cost (ns) and a spin unit's (ps).
 */
static void calibrate(struct race *c)
{
	struct npoll_stats st;
	int64_t t0 = npoll_test_now(), ioctl_ns, unit_ps;

	for (int i = 0; i < 256; i++)
		raw_stats(c->dev, &st);
	ioctl_ns = (npoll_test_now() - t0) / 256;
	t0 = npoll_test_now();
	stress_relax(2000000);
	unit_ps = (npoll_test_now() - t0) * 1000 / 2000000;
	if (ioctl_ns < 100)
		ioctl_ns = 100;
	if (unit_ps < 1)
		unit_ps = 1;
	c->ioctl_ns = ioctl_ns;
	c->delay_max = (unsigned int)(3 * ioctl_ns * 1000 / unit_ps) + 1;
	c->timer_max = 5 * ioctl_ns;
}

/* Register the slot's file afresh with a new cookie; drop initial readiness. */
static int slot_register(struct race *c, int i)
{
	struct slot *s = &c->slot[i];
	int r;

	s->user = __atomic_add_fetch(&c->gen, 1, __ATOMIC_RELAXED) << 8 | (uint64_t)i;
	r = npt_raw_open(c->dev, s->fd, s->user, &s->h);
	if (r)
		return r;
	r = npt_raw_wait(c->dev, NPOLL_IOC_RESET, s->h, NPOLL_MODE_READ, 0);
	if (r)
		return r;
	return npt_raw_wait(c->dev, NPOLL_IOC_RESET, s->h, NPOLL_MODE_WRITE, 0);
}

/* Read exactly @n bytes (already sent by the peer) from a socket. */
static bool drain_exact(int fd, int n)
{
	int64_t end = npoll_test_now() + NPT_PATIENCE;
	char buf[8];

	while (n > 0) {
		ssize_t k = read(fd, buf, (size_t)n < sizeof(buf) ? (size_t)n :
			sizeof(buf));

		if (k > 0) {
			n -= (int)k;
			continue;
		}
		if (k == 0 || errno != EAGAIN || npoll_test_now() > end)
			return false;
		poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1, 10);
	}
	return true;
}

static void log_slot(struct __test_metadata *_metadata, struct race *c,
		     long round, int si, const struct step *own, int nown)
{
	struct slot *s = &c->slot[si];
	char buf[512];
	int len = 0, i;

	len += snprintf(buf + len, sizeof(buf) - len, "timers r%d w%d; owner:",
			s->timer[0], s->timer[1]);
	for (i = 0; i < nown; i++)
		if (own[i].slot == si)
			len += snprintf(buf + len, sizeof(buf) - len, " %s=%d",
					act_name[own[i].act], own[i].ret);
	len += snprintf(buf + len, sizeof(buf) - len, "; racer:");
	for (i = 0; i < c->n; i++)
		if (c->s[i].slot == si)
			len += snprintf(buf + len, sizeof(buf) - len, " %s=%d",
					act_name[c->s[i].act], c->s[i].ret);
	TH_LOG("round %ld slot %d: %s", round, si, buf);
	for (i = 0; i < NMODES; i++)
		TH_LOG("  mode %d: waiter %d allowed %#x def %d ret %d pending %d event %d final %s",
		       i + 1, s->m[i].waiter, s->m[i].allowed, s->m[i].def,
		       s->m[i].ret, s->m[i].pending, s->m[i].event,
		       s->m[i].final >= 0 ? act_name[s->m[i].final] : "-");
}

/* Check a harvest; NULL, or what is wrong (its slot in *@bad). */
static const char *take_events(struct race *c, const struct npoll_event *ev,
			       int n, unsigned int closed, int *bad)
{
	for (int k = 0; k < n; k++) {
		int si = (int)(ev[k].user & 255), i = ev[k].mode - 1;
		struct mstate *m;

		*bad = 0;
		if (si >= c->nslots || ev[k].user != c->slot[si].user)
			return "event with another registration's cookie";
		*bad = si;
		m = c->slot[si].m;
		if (i < 0 || i >= NMODES)
			return "event with a bad mode";
		if (!m[i].pending)
			return "event for a mode whose arm did not return PENDING";
		if (m[i].event >= 0)
			return "second event for one arm";
		if (ev[k].result < 0 || ev[k].result > NPOLL_ERR_TIMEOUT)
			return "event with a bad outcome";
		m[i].event = ev[k].result;
		if (!(m[i].allowed & B(ev[k].result)))
			return "event outcome not explained by the slot's actions";
		if ((closed & B(si)) && ev[k].result != NPOLL_ERR_CLOSING)
			return "outcome other than CLOSING after close returned";
	}
	return NULL;
}

/* Harvest once; NULL, or what is wrong. */
static const char *harvest(struct race *c, int64_t to, int *bad)
{
	struct npoll_event ev[2 * MAX_SLOTS];
	unsigned int closed = 0;
	int n;

	for (int i = 0; i < c->nslots; i++)
		if (atomic_load_explicit(&c->slot[i].closed, memory_order_acquire))
			closed |= B(i);
	n = npt_raw_poll(c->dev, ev, 2 * MAX_SLOTS, to);
	if (n < 0) {
		*bad = 0;
		return "NPOLL_IOC_POLL failed";
	}
	return take_events(c, ev, n, closed, bad);
}

static bool owed(const struct race *c, const struct mstate *m, int i,
		 bool want_def)
{
	if (i == 0 && !c->arm_r)
		return false;
	return m[i].pending && m[i].event < 0 && (!want_def || m[i].def);
}

static bool parked_done(struct race *c, unsigned int seq)
{
	return atomic_load_explicit(&c->pdone, memory_order_acquire) == seq;
}

/*
 * Harvest until every owed event (of modes with a deciding action, or
 * all with !@want_def) is in and the parked thread, if it must, has
 * returned.  NULL, or what is wrong.
 */
static const char *collect(struct race *c, unsigned int seq, bool want_def,
			   int *bad)
{
	int64_t end = npoll_test_now() + NPT_PATIENCE, t0;
	const char *err;

	for (;;) {
		int more = -1;

		for (int si = 0; si < c->nslots && more < 0; si++)
			for (int i = 0; i < NMODES; i++)
				if (owed(c, c->slot[si].m, i, want_def))
					more = si;
		if (more < 0) {
			if (c->arm_r || parked_done(c, seq) ||
			    (want_def && !c->slot[0].m[0].def))
				return NULL;
			/* Only the parked thread is awaited. */
			*bad = 0;
			if (npoll_test_now() > end)
				return "parked thread not woken (lost wake-up)";
			sched_yield();
			continue;
		}
		t0 = npoll_test_now();
		err = harvest(c, 20 * NPT_MS, bad);
		c->nblock++;
		c->block_ns += npoll_test_now() - t0;
		if (err)
			return err;
		if (npoll_test_now() > end) {
			*bad = more;
			return "no event for a decided armed mode (lost wake-up)";
		}
	}
}

static void shuffle(struct step *v, int n, uint64_t *rng)
{
	for (int i = n - 1; i > 0; i--) {
		int j = (int)(stress_rnd(rng) % (uint64_t)(i + 1));
		struct step t = v[i];

		v[i] = v[j];
		v[j] = t;
	}
}

/*
 * Choose slot @si's actions; the racer's are appended to c->s, the
 * owner's (with its arms) to @own, each in a random order.
 */
static void plan_slot(struct race *c, int si, uint64_t *rng,
		      struct step *own, int *nown)
{
	struct slot *s = &c->slot[si];
	int i, r0 = c->n, o0 = *nown;

	memset(s->has, 0, sizeof(s->has));
	memset(s->m, 0, sizeof(s->m));
	s->timer[0] = s->timer[1] = false;
	s->reopen = false;
	atomic_store_explicit(&s->closed, 0, memory_order_relaxed);
	for (i = 0; i < NMODES; i++) {
		s->m[i].event = -1;
		s->m[i].final = -1;
	}
	s->m[0].waiter = true;
	s->m[1].waiter = c->arm_w;

	for (int a = 0; a < ACT_NR; a++) {
		struct step st = { .slot = (unsigned char)si, .act = (unsigned char)a,
				   .ret = 1 };

		if ((a == ACT_READY_R && !c->ready_src[0]) ||
		    (a == ACT_READY_W && !c->ready_src[1]))
			continue;
		if (stress_rnd(rng) % 100 >= act_pct[a])
			continue;
		s->has[a] = true;
		st.delay = stress_rnd(rng) % 3 ? stress_rnd(rng) % c->delay_max : 0;
		if (stress_rnd(rng) & 1)
			c->s[c->n++] = st;
		else
			own[(*nown)++] = st;
	}
	for (i = 0; i < NMODES; i++) {
		struct step st = { .slot = (unsigned char)si,
				   .act = (unsigned char)(ACT_ARM_R + i), .ret = 1 };

		if (!s->m[i].waiter || (i == 0 && !c->arm_r))
			continue;
		st.delay = stress_rnd(rng) % 2 ? stress_rnd(rng) % c->delay_max : 0;
		own[(*nown)++] = st;
	}
	shuffle(c->s + r0, c->n - r0, rng);
	shuffle(own + o0, *nown - o0, rng);

	/* What may decide each mode, and how. */
	s->closing = s->has[ACT_UNBLOCK] || s->has[ACT_CLOSE];
	for (i = 0; i < NMODES; i++) {
		struct mstate *m = &s->m[i];
		bool past = s->has[i ? ACT_PAST_W : ACT_PAST_R] ||
			    s->has[ACT_PAST_RW];
		bool ready = s->has[i ? ACT_READY_W : ACT_READY_R];

		if (!m->waiter)
			continue;
		s->timer[i] = stress_rnd(rng) % 100 < 20;
		m->raced_ready = ready;
		m->made = ready;
		m->allowed = (ready ? B(NPOLL_OK) : 0) |
			     (s->timer[i] || past ? B(NPOLL_ERR_TIMEOUT) : 0) |
			     (s->closing ? B(NPOLL_ERR_CLOSING) : 0);
		/* A deadline moved out may undo an expiry: then it may not decide. */
		m->def = ready || s->closing ||
			 ((s->timer[i] || past) && !s->has[ACT_EXTEND]);
	}
	s->touched = s->timer[0] || s->timer[1] || s->has[ACT_PAST_R] ||
		     s->has[ACT_PAST_W] || s->has[ACT_PAST_RW] ||
		     s->has[ACT_EXTEND];
}

/*
 * End slot @si's modes that nothing decided (no deciding action, or an
 * expiry undone by a deadline moved out) with an action of known
 * outcome.  Returns non-zero if the action failed.
 */
static int end_undecided(struct race *c, int si, unsigned int seq,
			 uint64_t *rng)
{
	struct slot *s = &c->slot[si];
	struct mstate *m = s->m;

	for (int i = 0; i < NMODES; i++) {
		bool parked_open = si == 0 && i == 0 && !c->arm_r &&
				   !parked_done(c, seq);
		unsigned int pick = stress_rnd(rng) % 10;

		if ((!owed(c, m, i, false) && !parked_open) || m[i].final >= 0)
			continue;
		if (c->ready_src[i] && pick < 7) {
			m[i].final = i ? ACT_READY_W : ACT_READY_R;
			m[i].made++;
		} else if (pick < 9) {
			m[i].final = i ? ACT_PAST_W : ACT_PAST_R;
			s->touched = true;
		} else {
			m[i].final = ACT_UNBLOCK;
			s->reopen = true;
		}
		/*
		 * Armed: nothing else can decide it any more, so the
		 * outcome is exact.  Parked: the thread may have been woken
		 * already (by an expiry later undone) and not returned yet.
		 */
		if (!parked_open)
			m[i].allowed = 0;
		if (m[i].final == ACT_UNBLOCK) {
			/* It ends every mode still open, the parked one too. */
			for (int j = 0; j < NMODES; j++) {
				if (si == 0 && j == 0 && !c->arm_r &&
				    !parked_done(c, seq))
					m[j].allowed |= B(NPOLL_ERR_CLOSING);
				if (!owed(c, m, j, false))
					continue;
				/*
				 * Ended before, by an expiry: the harvest
				 * checks a timeout again as Go's woken
				 * waiter does, closing first.
				 */
				if (j < i && m[j].final >= 0) {
					if (m[j].allowed & B(NPOLL_ERR_TIMEOUT))
						m[j].allowed |= B(NPOLL_ERR_CLOSING);
					continue;
				}
				if (j > i)
					m[j].allowed = 0;
				m[j].final = ACT_UNBLOCK;
				m[j].allowed |= B(NPOLL_ERR_CLOSING);
			}
		} else {
			m[i].allowed |= B(m[i].final == ACT_READY_R ||
					  m[i].final == ACT_READY_W ?
					  NPOLL_OK : NPOLL_ERR_TIMEOUT);
		}
		m[i].def = true;
		if (do_act(c, s, m[i].final, 0))
			return 1;
	}
	return 0;
}

/*
 * Readiness that lost to a deadline stays pending: with the deadlines
 * cleared, the next arm takes it at once.  Returns the failing mode's
 * number, or 0.
 */
static int check_kept_readiness(struct race *c, struct slot *s, bool *cleared)
{
	for (int i = 0; i < NMODES; i++) {
		struct mstate *m = &s->m[i];
		int o = m->pending ? m->event : m->ret;

		if (!m->waiter || !m->raced_ready || o == NPOLL_OK ||
		    c->kind == K_TCP)
			continue;
		if (!*cleared) {
			if (npt_raw_deadline(c->dev, s->h, 0, NPOLL_MODE_RW, 0))
				return i + 1;
			*cleared = true;
		}
		if (npt_raw_wait(c->dev, NPOLL_IOC_ARM, s->h, i + 1, 0) != NPOLL_OK)
			return i + 1;
		m->consumed = true;
	}
	return 0;
}

/*
 * Back to an idle, registered descriptor: count 1 (or nothing to read),
 * no deadline, no pending readiness.  Readiness is dropped only where
 * this round left some by its account (made and not taken): a stale
 * edge the kernel kept against that account makes the next arm of the
 * mode return at once, which the next round reports.  @cleared: the
 * deadlines are cleared already.  NULL, or what failed.
 *
 * The owner restores the even slots and the racer the odd ones at the
 * same time (restore_half()): each slot's file, handle and state are
 * its own, and the cookie counter is atomic.
 */
static const char *restore_slot(struct race *c, int si)
{
	struct slot *s = &c->slot[si];
	bool pending[NMODES];

	for (int i = 0; i < NMODES; i++)
		pending[i] = s->m[i].made > s->m[i].consumed;
	if (s->reopen && !atomic_load(&s->closed) &&
	    npt_raw_handle(c->dev, NPOLL_IOC_CLOSE, s->h))
		return "NPOLL_IOC_CLOSE of a slot to re-register failed";
	if (c->kind == K_EVENTFD) {
		uint64_t v = 1;
		int cnt = 1 + s->m[0].made - s->m[1].made;

		if (cnt == 0) {
			if (write(s->fd, &v, 8) != 8)
				return "restoring the eventfd's count failed";
			pending[0] = true;
		}
		for (; cnt > 1; cnt--) {
			if (read(s->fd, &v, 8) != 8)
				return "restoring the eventfd's count failed";
			pending[1] = true;
		}
	} else if (!drain_exact(s->fd, s->m[0].made)) {
		return "draining the bytes the round sent failed";
	}
	if (s->reopen)
		return slot_register(c, si) ? "re-registering a slot failed" : NULL;
	if (s->touched && !s->cleared &&
	    npt_raw_deadline(c->dev, s->h, 0, NPOLL_MODE_RW, 0))
		return "clearing a slot's deadlines failed";
	for (int i = 0; i < NMODES; i++)
		if (pending[i] && npt_raw_wait(c->dev, NPOLL_IOC_RESET, s->h,
					       i + 1, 0) != NPOLL_OK)
			return "NPOLL_IOC_RESET of a slot failed";
	return NULL;
}

/* Restore the slots @first, @first + @step, ...; the first failing in *@bad. */
static const char *restore_slots(struct race *c, int first, int step, int *bad)
{
	for (int i = first; i < c->nslots; i += step) {
		const char *err = restore_slot(c, i);

		if (err) {
			*bad = i;
			return err;
		}
	}
	return NULL;
}

/* One round over every slot; fails the test on the first inconsistency. */
static void race_round(struct __test_metadata *_metadata, struct race *c,
		       uint64_t *rng, long round)
{
	struct step own[MAX_SLOTS * ACT_ALL];
	int first[MAX_SLOTS + 1];
	const char *err;
	int nown = 0, i, r, bad = 0;
	unsigned int seq;
	int64_t tp;

#define ROUND_FAIL(si, msg) do {					\
	log_slot(_metadata, c, round, (si), own, nown);			\
	TH_LOG("round %ld slot %d: %s", round, (si), (msg));		\
	ASSERT_TRUE(false);						\
} while (0)

	c->n = 0;
	for (i = 0; i < c->nslots; i++) {
		first[i] = nown;
		plan_slot(c, i, rng, own, &nown);
	}
	first[c->nslots] = nown;
	c->extend_to = stress_rnd(rng) & 1 ? 60 * NPT_SEC : 0;
	c->park_delay = stress_rnd(rng) % 2 ? stress_rnd(rng) % c->delay_max : 0;

	/* Go: slot by slot, the racer following. */
	tp = npoll_test_now();
	seq = atomic_load(&c->seq) + 1;
	atomic_store_explicit(&c->seq, seq, memory_order_release);
	for (int si = 0; si < c->nslots; si++) {
		struct slot *s = &c->slot[si];

		/* Short deadlines, fired by the descriptor's hrtimer. */
		if (s->timer[0] && s->timer[1] && stress_rnd(rng) & 1) {
			ASSERT_EQ(0, npt_raw_deadline(c->dev, s->h,
					1 + stress_rnd(rng) % c->timer_max,
					NPOLL_MODE_RW, 0));
		} else {
			for (int j = 0; j < NMODES; j++)
				if (s->timer[j])
					ASSERT_EQ(0, npt_raw_deadline(c->dev, s->h,
						1 + stress_rnd(rng) % c->timer_max,
						j + 1, 0));
		}
		atomic_store_explicit(&c->prog, (seq - 1) * c->nslots + si + 1,
				      memory_order_release);
		for (i = first[si]; i < first[si + 1]; i++) {
			int mi = own[i].act - ACT_ARM_R;

			stress_relax(own[i].delay);
			own[i].ret = r = do_act(c, s, own[i].act, c->extend_to);
			if (own[i].act < ACT_ARM_R)
				continue;
			/* An arm: PENDING, or an outcome the actions explain. */
			s->m[mi].ret = r;
			if (r == NPOLL_PENDING)
				s->m[mi].pending = true;
			else if (r == -EBADF && s->has[ACT_CLOSE])
				;	/* closed first */
			else if (r < 0 || r > NPOLL_ERR_TIMEOUT ||
				 !(s->m[mi].allowed & B(r)))
				ROUND_FAIL(si, "arm result not explained by the slot's actions");
		}
		/* Harvest now and then while the racer acts. */
		if ((si & 7) == 7) {
			err = harvest(c, 0, &bad);
			if (err)
				ROUND_FAIL(bad, err);
		}
	}
	err = harvest(c, 0, &bad);
	if (err)
		ROUND_FAIL(bad, err);

	if (stress_wait_change(&c->rdone, seq - 1, c->yield,
			       npoll_test_now() + NPT_PATIENCE) != seq)
		ROUND_FAIL(0, "racer did not finish its actions (hung)");
	for (i = 0; i < c->n + nown; i++) {
		struct step *st = i < nown ? &own[i] : &c->s[i - nown];
		bool io = st->act == ACT_READY_R || st->act == ACT_READY_W;

		if (st->ret == 0 || st->act >= ACT_ARM_R)
			continue;
		if (io || st->act == ACT_CLOSE || st->ret != -EBADF ||
		    !c->slot[st->slot].has[ACT_CLOSE])
			ROUND_FAIL(st->slot, "an action failed");
	}

	c->phase_ns[0] += npoll_test_now() - tp;
	tp = npoll_test_now();
	/* Completed actions that decide a mode: their outcome must come. */
	err = collect(c, seq, true, &bad);
	if (!err)
		err = harvest(c, 0, &bad);
	if (err)
		ROUND_FAIL(bad, err);
	c->phase_ns[1] += npoll_test_now() - tp;
	tp = npoll_test_now();
	for (i = 0; i < c->nslots; i++)
		if (end_undecided(c, i, seq, rng))
			ROUND_FAIL(i, "ending an undecided mode failed");
	err = collect(c, seq, false, &bad);
	if (err)
		ROUND_FAIL(bad, err);
	{
		struct npoll_event ev[2 * MAX_SLOTS];

		r = npt_raw_poll(c->dev, ev, 2 * MAX_SLOTS, 0);
		if (r > 0)
			take_events(c, ev, r, 0, &bad);
		if (r != 0)
			ROUND_FAIL(bad, "an event beyond one per arm");
	}

	/* The parked thread's outcome. */
	if (!c->arm_r) {
		struct slot *s = &c->slot[0];

		r = c->park_ret;
		s->m[0].ret = r;
		if (!(r == -EBADF && s->has[ACT_CLOSE]) &&
		    (r < 0 || r > NPOLL_ERR_TIMEOUT || !(s->m[0].allowed & B(r))))
			ROUND_FAIL(0, "parked wait's outcome not explained by the slot's actions");
	}

	c->phase_ns[2] += npoll_test_now() - tp;
	tp = npoll_test_now();
	for (i = 0; i < c->nslots; i++) {
		struct slot *s = &c->slot[i];

		s->cleared = false;
		for (int j = 0; j < NMODES; j++) {
			int o = s->m[j].pending ? s->m[j].event : s->m[j].ret;

			if (s->m[j].waiter && o >= 0 && o <= NPOLL_PENDING)
				c->count[j][o]++;
			if (s->m[j].waiter && o == NPOLL_OK)
				s->m[j].consumed = true;
		}
		s->reopen |= s->closing;
		if (!s->reopen) {
			r = check_kept_readiness(c, s, &s->cleared);
			if (r)
				ROUND_FAIL(i, r == 1 ? "read readiness lost after a timeout outcome" :
					   "write readiness lost after a timeout outcome");
		}
	}
	/* Restore: the racer takes the odd slots while the owner does the even. */
	if (c->nslots > 1) {
		unsigned int rs = atomic_load(&c->rseq) + 1;

		atomic_store_explicit(&c->rseq, rs, memory_order_release);
		err = restore_slots(c, 0, 2, &bad);
		if (err)
			ROUND_FAIL(bad, err);
		if (stress_wait_change(&c->rsdone, rs - 1, c->yield,
				       npoll_test_now() + NPT_PATIENCE) != rs)
			ROUND_FAIL(0, "racer did not finish its restore (hung)");
		if (c->rs_err)
			ROUND_FAIL(c->rs_bad, c->rs_err);
	} else {
		err = restore_slots(c, 0, 1, &bad);
		if (err)
			ROUND_FAIL(bad, err);
	}
	c->phase_ns[3] += npoll_test_now() - tp;
#undef ROUND_FAIL
}

static void expect_idle(struct __test_metadata *_metadata, int dev, long descs)
{
	struct npoll_stats st;

	ASSERT_EQ(0, raw_stats(dev, &st));
	STRESS_EXPECT_IDLE(st, descs);
}

FIXTURE(srace) {
	struct race c;
	long slab_base;
};

FIXTURE_VARIANT(srace) {
	const char *name;	/* the test's, for its figure line */
	enum kind kind;
	int nslots;
	bool park;		/* slot 0's read mode: a parked thread */
	bool arm_w;
	long iters, debug_iters;	/* rounds */
	bool full;		/* iters with NPOLL_STRESS_FULL=1 (stress_iters_full()) */
};

/* Both modes armed on eventfds: each can be made ready. */
FIXTURE_VARIANT_ADD(srace, eventfd) {
	.name = "srace.eventfd.outcomes_match_actions",
	.kind = K_EVENTFD, .nslots = 32,
	.arm_w = true, .iters = 30000, .debug_iters = 1000, .full = true,
};

/* AF_UNIX stream: readiness from the peer's write; write mode full. */
FIXTURE_VARIANT_ADD(srace, unix_stream) {
	.name = "srace.unix_stream.outcomes_match_actions",
	.kind = K_UNIX, .nslots = 32,
	.arm_w = true, .iters = 1500, .debug_iters = 150,
};

/* TCP loopback: the wake-up comes from the receive softirq. */
FIXTURE_VARIANT_ADD(srace, tcp) {
	.name = "srace.tcp.outcomes_match_actions",
	.kind = K_TCP, .nslots = 32,
	.arm_w = false, .iters = 500, .debug_iters = 25,
};

/* A thread parked in the read mode next to the armed write mode. */
FIXTURE_VARIANT_ADD(srace, parked_and_armed) {
	.name = "srace.parked_and_armed.outcomes_match_actions",
	.kind = K_EVENTFD, .nslots = 1,
	.park = true, .arm_w = true, .iters = 500, .debug_iters = 150,
};

FIXTURE_SETUP(srace)
{
	struct race *c = &self->c;

	memset(c, 0, sizeof(*c));
	c->dev = -1;
	for (int i = 0; i < MAX_SLOTS; i++)
		c->slot[i].fd = c->slot[i].peer = -1;
	self->slab_base = stress_slab_descs();
	NPT_OPEN_DEV(c->dev);
	c->kind = variant->kind;
	c->nslots = variant->nslots;
	c->arm_r = !variant->park;
	c->arm_w = variant->arm_w;
	c->ready_src[0] = true;
	c->ready_src[1] = variant->kind == K_EVENTFD;
	c->yield = sysconf(_SC_NPROCESSORS_ONLN) < 2;
	for (int i = 0; i < c->nslots; i++) {
		struct slot *s = &c->slot[i];
		int sv[2];

		if (variant->kind == K_EVENTFD) {
			s->fd = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE);
			ASSERT_LE(0, s->fd);
		} else {
			ASSERT_EQ(0, variant->kind == K_UNIX ? npt_unix_pair(sv) :
							       npt_tcp_pair(sv));
			s->fd = sv[0];
			s->peer = sv[1];
			ASSERT_EQ(0, fcntl(s->fd, F_SETFL, O_NONBLOCK));
			/* An armed write mode must not become ready: fill it up. */
			if (c->arm_w)
				ASSERT_LT(0, npt_fill(s->fd));
		}
		ASSERT_EQ(0, slot_register(c, i));
	}
	stress_pin(0);
	calibrate(c);
	ASSERT_EQ(0, pthread_create(&c->racer, NULL, racer_fn, c));
	c->racer_up = true;
	if (variant->park) {
		ASSERT_EQ(0, pthread_create(&c->parker, NULL, parker_fn, c));
		c->parker_up = true;
	}
}

FIXTURE_TEARDOWN(srace)
{
	struct race *c = &self->c;

	/* After a failure a thread may still be parked: close wakes it. */
	for (int i = 0; i < c->nslots && c->dev >= 0; i++)
		if (c->slot[i].h)
			npt_raw_handle(c->dev, NPOLL_IOC_CLOSE, c->slot[i].h);
	atomic_store(&c->quit, 1);
	atomic_fetch_add(&c->seq, 1);
	if (c->racer_up)
		pthread_join(c->racer, NULL);
	if (c->parker_up)
		pthread_join(c->parker, NULL);
	if (c->dev >= 0)
		close(c->dev);
	for (int i = 0; i < MAX_SLOTS; i++) {
		if (c->slot[i].fd >= 0)
			close(c->slot[i].fd);
		if (c->slot[i].peer >= 0)
			close(c->slot[i].peer);
	}
}

TEST_F_TIMEOUT(srace, outcomes_match_actions, 1200)
{
	struct race *c = &self->c;
	long rounds = variant->full ?
		stress_iters_full(variant->iters, variant->debug_iters) :
		stress_iters(variant->iters, variant->debug_iters);
	uint64_t rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)variant->kind ^
		       ((uint64_t)variant->park << 8);
	int64_t t0;
	long i;

	NPT_RETURN_IF_SKIPPED();
	t0 = npoll_test_now();
	for (i = 0; i < rounds; i++) {
		race_round(_metadata, c, &rng, i);
		if ((i & 63) == 63)
			expect_idle(_metadata, c->dev, c->nslots);
	}
	stress_report(variant->name, rounds * c->nslots, t0);
	TH_LOG("%ld rounds of %d; ioctl %lld ns, delays up to %u spins; %ld harvests waited, %lld ms in all",
	       rounds, c->nslots, (long long)c->ioctl_ns, c->delay_max,
	       c->nblock, (long long)(c->block_ns / NPT_MS));
	TH_LOG("owner's time: race %lld ms, collect %lld ms, end %lld ms, restore %lld ms",
	       (long long)(c->phase_ns[0] / NPT_MS), (long long)(c->phase_ns[1] / NPT_MS),
	       (long long)(c->phase_ns[2] / NPT_MS), (long long)(c->phase_ns[3] / NPT_MS));
	for (i = 0; i < NMODES; i++)
		TH_LOG("mode %ld: ok %ld closing %ld timeout %ld (registrations %lu)",
		       i + 1, c->count[i][NPOLL_OK], c->count[i][NPOLL_ERR_CLOSING],
		       c->count[i][NPOLL_ERR_TIMEOUT], (unsigned long)c->gen);
	expect_idle(_metadata, c->dev, c->nslots);
	for (i = 0; i < c->nslots; i++) {
		ASSERT_EQ(0, npt_raw_handle(c->dev, NPOLL_IOC_CLOSE, c->slot[i].h));
		c->slot[i].h = 0;
	}
	expect_idle(_metadata, c->dev, 0);
	stress_expect_slab_base(_metadata, self->slab_base);
}

/*
 * Poller release racing readiness, deadline timers and ioctls in
 * flight.  Each round registers an eventfd and a pipe's read end with
 * a new poller, arms their modes (some events already queued, some
 * short deadlines running), then:
 *
 *   owner                          racer
 *   publish, [spin], close(dev) -- eventfd and pipe readiness, POLL (no
 *   (the release runs here, or     wait, or 200 us), ARM, deadlines,
 *   when the racer's ioctl in      UNBLOCK, CLOSE on the same fd number
 *   flight drops the file)         -EBADF once it is closed
 *   wait for the racer
 *   close the pipe's read end: the pipe has no reader left, so the
 *   release has dropped the registration's file reference (EPIPE).
 *
 * The racer's results: each ioctl succeeds with a valid outcome, finds
 * the mode busy, or finds the fd closed; events carry the round's
 * cookies.
 */
enum rel_act {
	REL_EFD_WRITE, REL_EFD_READ, REL_PIPE_WRITE, REL_POLL, REL_POLL_WAIT,
	REL_ARM, REL_DEADLINE, REL_UNBLOCK, REL_CLOSE_DESC, REL_NR
};

static const char *const rel_name[REL_NR] = {
	"efd-write", "efd-read", "pipe-write", "poll", "poll-wait", "arm",
	"deadline", "unblock", "close-desc",
};

struct rel {
	int dev;		/* the poller: owner's fd, used by both */
	int efd, pw;
	uint64_t he, hp, user;
	int n;
	struct step s[REL_NR];
	uint64_t arg[REL_NR];
	atomic_uint seq, rdone;
	atomic_int quit;
	int bad_act, bad_ret;	/* the racer's first unexpected result */
	unsigned int delay_max;
	pthread_t racer;
	bool racer_up;
};

/* 0 if @ret is a result the action may give, else 1. */
static int rel_check(struct rel *c, int act, int ret, struct npoll_event *ev)
{
	switch (act) {
	case REL_EFD_WRITE:
	case REL_PIPE_WRITE:
		return ret != 0;
	case REL_EFD_READ:
		return ret != 0 && ret != -EAGAIN;
	case REL_POLL:
	case REL_POLL_WAIT:
		if (ret == -EBADF)
			return 0;
		if (ret < 0 || ret > 4)
			return 1;
		for (int k = 0; k < ret; k++)
			if ((ev[k].user != c->user && ev[k].user != c->user + 1) ||
			    ev[k].result < 0 || ev[k].result > NPOLL_ERR_TIMEOUT ||
			    ev[k].mode < 1 || ev[k].mode > 2)
				return 1;
		return 0;
	case REL_ARM:
		return !(ret == -EBADF || ret == -EBUSY ||
			 (ret >= 0 && ret <= NPOLL_PENDING));
	default:
		return ret != 0 && ret != -EBADF;
	}
}

static int rel_do(struct rel *c, int act, uint64_t arg, struct npoll_event *ev)
{
	uint64_t v = 1;

	switch (act) {
	case REL_EFD_WRITE:
		return write(c->efd, &v, 8) == 8 ? 0 : -errno;
	case REL_EFD_READ:
		return read(c->efd, &v, 8) == 8 ? 0 : -errno;
	case REL_PIPE_WRITE:
		return write(c->pw, "x", 1) == 1 ? 0 : -errno;
	case REL_POLL:
		return npt_raw_poll(c->dev, ev, 4, 0);
	case REL_POLL_WAIT:
		return npt_raw_poll(c->dev, ev, 4, 200000);
	case REL_ARM:
		return npt_raw_wait(c->dev, NPOLL_IOC_ARM, c->he, 1 + (arg & 1), 0);
	case REL_DEADLINE:
		return npt_raw_deadline(c->dev, arg & 1 ? c->hp : c->he,
					arg & 2 ? -1 : 1 + (int64_t)(arg >> 8) % 100000,
					NPOLL_MODE_RW, 0);
	case REL_UNBLOCK:
		return npt_raw_handle(c->dev, NPOLL_IOC_UNBLOCK,
				      arg & 1 ? c->hp : c->he);
	case REL_CLOSE_DESC:
		return npt_raw_handle(c->dev, NPOLL_IOC_CLOSE,
				      arg & 1 ? c->hp : c->he);
	}
	return -EINVAL;
}

static void *rel_racer_fn(void *arg)
{
	struct rel *c = arg;
	struct npoll_event ev[4];
	unsigned int seen = 0;

	stress_pin(1);
	for (;;) {
		seen = stress_wait_change(&c->seq, seen, false, 0);
		if (atomic_load(&c->quit))
			break;
		for (int i = 0; i < c->n; i++) {
			int r;

			stress_relax(c->s[i].delay);
			r = rel_do(c, c->s[i].act, c->arg[i], ev);
			if (rel_check(c, c->s[i].act, r, ev) && !c->bad_ret) {
				c->bad_act = c->s[i].act;
				c->bad_ret = r ? r : -1000;
			}
		}
		atomic_store_explicit(&c->rdone, seen, memory_order_release);
	}
	return NULL;
}

/* Write to a pipe whose readers are all gone: EPIPE (bounded retry). */
static bool pipe_has_no_reader(int pw)
{
	int64_t end = npoll_test_now() + 5 * NPT_SEC;

	while (write(pw, "x", 1) == 1) {
		if (npoll_test_now() > end)
			return false;
		npoll_test_sleep_ns(NPT_MS);
	}
	return errno == EPIPE;
}

FIXTURE(rel) {
	struct rel c;
	long slab_base;
};

FIXTURE_SETUP(rel)
{
	struct rel *c = &self->c;
	int dev;

	memset(c, 0, sizeof(*c));
	c->dev = c->pw = -1;
	self->slab_base = stress_slab_descs();
	NPT_OPEN_DEV(dev);
	stress_pin(0);
	/* Calibrate the spins against the cost of an ioctl. */
	{
		struct race r = { .dev = dev };

		calibrate(&r);
		c->delay_max = 4 * r.delay_max;
	}
	close(dev);
	signal(SIGPIPE, SIG_IGN);
	c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, c->efd);
	ASSERT_EQ(0, pthread_create(&c->racer, NULL, rel_racer_fn, c));
	c->racer_up = true;
}

FIXTURE_TEARDOWN(rel)
{
	struct rel *c = &self->c;

	atomic_store(&c->quit, 1);
	atomic_fetch_add(&c->seq, 1);
	if (c->racer_up)
		pthread_join(c->racer, NULL);
	if (c->efd > 0)
		close(c->efd);
}

TEST_F_TIMEOUT(rel, poller_release_races_readiness_timers_and_ioctls, 1200)
{
	struct rel *c = &self->c;
	long iters = stress_iters(2000, 150), i;
	uint64_t rng = 0x51ea5eULL;
	int64_t t0;

	NPT_RETURN_IF_SKIPPED();
	t0 = npoll_test_now();
	for (i = 0; i < iters; i++) {
		unsigned int seq;
		uint64_t v;
		int p[2];

		c->dev = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, c->dev);
		ASSERT_EQ(0, pipe2(p, O_CLOEXEC | O_NONBLOCK));
		c->pw = p[1];
		c->user += 2;
		ASSERT_EQ(8, write(c->efd, &(uint64_t){ 1 }, 8));
		ASSERT_EQ(0, npt_raw_open(c->dev, c->efd, c->user, &c->he));
		ASSERT_EQ(0, npt_raw_open(c->dev, p[0], c->user + 1, &c->hp));
		ASSERT_EQ(NPOLL_OK, npt_raw_wait(c->dev, NPOLL_IOC_RESET, c->he,
						 NPOLL_MODE_READ, 0));
		ASSERT_EQ(NPOLL_OK, npt_raw_wait(c->dev, NPOLL_IOC_RESET, c->he,
						 NPOLL_MODE_WRITE, 0));
		ASSERT_EQ(NPOLL_PENDING, npt_raw_wait(c->dev, NPOLL_IOC_ARM, c->he,
						      NPOLL_MODE_READ, 0));
		ASSERT_EQ(NPOLL_PENDING, npt_raw_wait(c->dev, NPOLL_IOC_ARM, c->he,
						      NPOLL_MODE_WRITE, 0));
		ASSERT_EQ(NPOLL_PENDING, npt_raw_wait(c->dev, NPOLL_IOC_ARM, c->hp,
						      NPOLL_MODE_READ, 0));
		v = stress_rnd(&rng);
		/* Deadlines running, and events queued, when it goes. */
		if (v & 1)
			ASSERT_EQ(0, npt_raw_deadline(c->dev, c->hp,
						      1 + (v >> 8) % 50000,
						      NPOLL_MODE_RW, 0));
		if (v & 2)
			ASSERT_EQ(0, npt_raw_deadline(c->dev, c->he,
						      1 + (v >> 24) % 50000,
						      NPOLL_MODE_WRITE, 0));
		if (v & 4)
			ASSERT_EQ(8, write(c->efd, &(uint64_t){ 1 }, 8));
		if (v & 8)
			ASSERT_EQ(1, write(p[1], "x", 1));

		c->n = 0;
		for (int a = 0; a < REL_NR; a++) {
			if (stress_rnd(&rng) % 100 >= 50)
				continue;
			c->s[c->n].act = a;
			c->s[c->n].delay = stress_rnd(&rng) % c->delay_max;
			c->arg[c->n] = stress_rnd(&rng);
			c->n++;
		}
		for (int k = c->n - 1; k > 0; k--) {
			int j = stress_rnd(&rng) % (k + 1);
			struct step t = c->s[k];
			uint64_t ta = c->arg[k];

			c->s[k] = c->s[j];
			c->arg[k] = c->arg[j];
			c->s[j] = t;
			c->arg[j] = ta;
		}
		seq = atomic_load(&c->seq) + 1;
		atomic_store_explicit(&c->seq, seq, memory_order_release);
		stress_relax(stress_rnd(&rng) % c->delay_max);
		ASSERT_EQ(0, close(c->dev));
		if (stress_wait_change(&c->rdone, seq - 1, false,
				       npoll_test_now() + NPT_PATIENCE) != seq) {
			TH_LOG("round %ld: racer hung", i);
			ASSERT_TRUE(false);
		}
		if (c->bad_ret) {
			TH_LOG("round %ld: racer's %s returned %d", i,
			       rel_name[c->bad_act], c->bad_ret);
			ASSERT_TRUE(false);
		}
		ASSERT_EQ(0, close(p[0]));
		if (!pipe_has_no_reader(p[1])) {
			TH_LOG("round %ld: released poller kept the pipe open", i);
			ASSERT_TRUE(false);
		}
		close(p[1]);
		c->dev = -1;
		/* Back to count 0. */
		if (read(c->efd, &v, 8) < 0)
			ASSERT_EQ(EAGAIN, errno);
	}
	stress_report("rel.poller_release_races_readiness_timers_and_ioctls",
		      iters, t0);
	stress_expect_slab_base(_metadata, self->slab_base);
}

/*
 * Poller release at process exit: a child registers an eventfd and a
 * pipe's read end, arms them (an event queued, deadlines running) and
 * then exits, or is killed while it loops on ARM and POLL, parks in a
 * WAIT or blocks in a POLL, while the parent's racer makes both files
 * ready.  After waitpid() the pipe has no reader: the child's poller
 * released its registrations.
 */
enum { EXIT_SELF, EXIT_LOOPING, EXIT_PARKED, EXIT_POLLING, EXIT_NR };

static void __attribute__((noreturn)) exit_child(int efd, int pr, int syncw,
						  int how, uint64_t v)
{
	struct npoll_event ev[4];
	uint64_t he, hp;
	int dev = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);

	if (dev < 0 || npt_raw_open(dev, efd, 1, &he) ||
	    npt_raw_open(dev, pr, 2, &hp))
		_exit(2);
	npt_raw_wait(dev, NPOLL_IOC_RESET, he, NPOLL_MODE_READ, 0);
	npt_raw_wait(dev, NPOLL_IOC_RESET, he, NPOLL_MODE_WRITE, 0);
	if (npt_raw_wait(dev, NPOLL_IOC_ARM, he, NPOLL_MODE_READ, 0) != NPOLL_PENDING ||
	    npt_raw_wait(dev, NPOLL_IOC_ARM, he, NPOLL_MODE_WRITE, 0) != NPOLL_PENDING)
		_exit(3);
	if (how != EXIT_PARKED &&
	    npt_raw_wait(dev, NPOLL_IOC_ARM, hp, NPOLL_MODE_READ, 0) != NPOLL_PENDING)
		_exit(4);
	if (v & 1)
		npt_raw_deadline(dev, hp, 1 + (v >> 8) % 100000, NPOLL_MODE_RW, 0);
	if (v & 2) {
		uint64_t one = 1;

		if (write(efd, &one, 8) != 8)
			_exit(5);
	}
	if (write(syncw, "r", 1) != 1)
		_exit(6);
	switch (how) {
	case EXIT_SELF:
		_exit(0);
	case EXIT_LOOPING:
		for (;;) {
			npt_raw_wait(dev, NPOLL_IOC_ARM, he, NPOLL_MODE_READ, 0);
			npt_raw_poll(dev, ev, 4, 0);
		}
	case EXIT_PARKED:
		for (;;)
			npt_raw_wait(dev, NPOLL_IOC_WAIT, hp, NPOLL_MODE_READ, 0);
	default:
		for (;;)
			npt_raw_poll(dev, ev, 4, -1);
	}
}

TEST_F_TIMEOUT(rel, poller_release_at_exit_races_readiness, 1200)
{
	struct rel *c = &self->c;
	long iters = stress_iters(150, 20), i, how_count[EXIT_NR] = { 0 };
	uint64_t rng = 0xe817ULL;
	int64_t t0;

	NPT_RETURN_IF_SKIPPED();
	t0 = npoll_test_now();
	for (i = 0; i < iters; i++) {
		uint64_t v = stress_rnd(&rng);
		int how = (int)(v % EXIT_NR), p[2], sy[2], st;
		unsigned int seq;
		pid_t pid;
		char ch;

		ASSERT_EQ(0, pipe2(p, O_CLOEXEC | O_NONBLOCK));
		ASSERT_EQ(0, pipe2(sy, O_CLOEXEC));
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			close(p[1]);
			close(sy[0]);
			exit_child(c->efd, p[0], sy[1], how, v >> 4);
		}
		close(p[0]);
		close(sy[1]);
		c->pw = p[1];
		/* The racer touches only the files, never the child's poller. */
		c->n = 0;
		for (int k = 0; k < 6; k++) {
			c->s[c->n].act = k % 3;	/* efd write, efd read, pipe write */
			c->s[c->n].delay = stress_rnd(&rng) % c->delay_max;
			c->n++;
		}
		ASSERT_EQ(1, read(sy[0], &ch, 1));
		seq = atomic_load(&c->seq) + 1;
		atomic_store_explicit(&c->seq, seq, memory_order_release);
		stress_relax(stress_rnd(&rng) % c->delay_max);
		if (how != EXIT_SELF)
			ASSERT_EQ(0, kill(pid, SIGKILL));
		ASSERT_EQ(pid, waitpid(pid, &st, 0));
		if (how == EXIT_SELF) {
			EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		} else {
			EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		}
		if (stress_wait_change(&c->rdone, seq - 1, false,
				       npoll_test_now() + NPT_PATIENCE) != seq) {
			TH_LOG("round %ld: racer hung", i);
			ASSERT_TRUE(false);
		}
		/* The racer's pipe writes may find the reader gone: fine. */
		if (c->bad_ret && !(c->bad_act == REL_PIPE_WRITE &&
				    c->bad_ret == -EPIPE)) {
			TH_LOG("round %ld: racer's %s returned %d", i,
			       rel_name[c->bad_act], c->bad_ret);
			ASSERT_TRUE(false);
		}
		c->bad_ret = 0;
		if (!pipe_has_no_reader(p[1])) {
			TH_LOG("round %ld: exited child's poller kept the pipe open (%d)",
			       i, how);
			ASSERT_TRUE(false);
		}
		close(p[1]);
		close(sy[0]);
		how_count[how]++;
		{
			uint64_t x;

			if (read(c->efd, &x, 8) < 0)
				ASSERT_EQ(EAGAIN, errno);
		}
	}
	stress_report("rel.poller_release_at_exit_races_readiness", iters, t0);
	TH_LOG("exited %ld, killed looping %ld, parked %ld, polling %ld",
	       how_count[EXIT_SELF], how_count[EXIT_LOOPING],
	       how_count[EXIT_PARKED], how_count[EXIT_POLLING]);
	stress_expect_slab_base(_metadata, self->slab_base);
}

TEST_HARNESS_MAIN
