// SPDX-License-Identifier: GPL-2.0
/*
 * Signals and the I/O helpers: one rule for every helper on every kind
 * of file, the rule of np_wait.  A signal whose handler lacks
 * SA_RESTART ends a helper's wait with -EINTR; with SA_RESTART the wait
 * goes on and the helper completes once the file is ready.
 *
 * Each test parks a helper (np_stats counts it), signals its thread,
 * waits until the handler has run (so the wait has already been ended
 * or restarted), then makes the file ready and looks at the result: a
 * helper that retried after the signal would return the data instead
 * of -EINTR.
 */
#include "kselftest_harness.h"
#include "npoll_test_util.h"
#include "stress.h"

enum helper { READ, RECVFROM, ACCEPT, WRITE };

static atomic_int handled;

static void on_usr1(int sig)
{
	atomic_fetch_add(&handled, 1);
}

struct call {
	pthread_t th;
	np_desc *pd;
	enum helper helper;
	long result;
};

static void *call_fn(void *arg)
{
	struct call *c = arg;
	char buf[16];

	switch (c->helper) {
	case READ:
		c->result = np_read(c->pd, buf, sizeof(buf));
		break;
	case RECVFROM:
		c->result = np_recvfrom(c->pd, buf, sizeof(buf), 0, NULL, NULL);
		break;
	case ACCEPT:
		c->result = np_accept(c->pd, NULL, NULL, SOCK_CLOEXEC);
		if (c->result >= 0)
			close((int)c->result);
		break;
	case WRITE:
		c->result = np_write(c->pd, "x", 1);
		break;
	}
	return NULL;
}

FIXTURE(sig) {
	np_poller *p;
	np_desc *pd;
	int fd;		/* registered */
	int other;	/* the other end, -1 for the listener */
	in_port_t port;	/* the listener's */
};

FIXTURE_VARIANT(sig) {
	enum helper helper;
	int file;	/* 0 unix stream, 1 pipe, 2 udp, 3 tcp listener */
};

FIXTURE_VARIANT_ADD(sig, unix_read) { .helper = READ, .file = 0 };
FIXTURE_VARIANT_ADD(sig, pipe_read) { .helper = READ, .file = 1 };
FIXTURE_VARIANT_ADD(sig, udp_recvfrom) { .helper = RECVFROM, .file = 2 };
FIXTURE_VARIANT_ADD(sig, tcp_accept) { .helper = ACCEPT, .file = 3 };
FIXTURE_VARIANT_ADD(sig, unix_write) { .helper = WRITE, .file = 0 };
FIXTURE_VARIANT_ADD(sig, pipe_write) { .helper = WRITE, .file = 1 };

FIXTURE_SETUP(sig)
{
	int fds[2];

	self->fd = self->other = -1;
	NPT_OPEN_POLLER(self->p);
	switch (variant->file) {
	case 0:
		ASSERT_EQ(0, npt_unix_pair(fds));
		break;
	case 1:
		ASSERT_EQ(0, npt_pipe(fds));
		if (variant->helper == WRITE) {	/* register the write end */
			int t = fds[0];

			fds[0] = fds[1];
			fds[1] = t;
		}
		break;
	case 2:
		ASSERT_EQ(0, npt_udp_pair(fds));
		break;
	default:
		fds[0] = npt_listener(&self->port);
		fds[1] = -1;
		ASSERT_LE(0, fds[0]);
		break;
	}
	self->fd = fds[0];
	self->other = fds[1];
	ASSERT_EQ(0, np_open(self->p, self->fd, 1, &self->pd));
	if (self->other >= 0)
		fcntl(self->other, F_SETFL, O_NONBLOCK);
	if (variant->helper == WRITE)
		ASSERT_LT(0, npt_fill(self->fd));
}

FIXTURE_TEARDOWN(sig)
{
	if (self->pd)
		np_close(self->pd);
	if (self->p)
		np_poller_close(self->p);
	if (self->fd >= 0)
		close(self->fd);
	if (self->other >= 0)
		close(self->other);
}

/* Make the parked helper's file ready: data, a connection or space. */
static int make_ready(struct _test_data_sig *self, enum helper helper)
{
	struct sockaddr_in sin;
	int c;

	switch (helper) {
	case ACCEPT:
		npt_loopback(&sin, self->port);
		c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&sin, sizeof(sin)))
			return -1;
		return c;	/* closed by the caller after the join */
	case WRITE:
		return npt_drain(self->other) > 0 ? -2 : -1;
	default:
		return write(self->other, "y", 1) == 1 ? -2 : -1;
	}
}

/* Park the helper, signal it, make its file ready; its result. */
static long signal_parked(struct __test_metadata *_metadata,
			  struct _test_data_sig *self, enum helper helper,
			  int sa_flags)
{
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = sa_flags };
	struct call c = { .pd = self->pd, .helper = helper };
	int ready;

	sigemptyset(&sa.sa_mask);
	EXPECT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	atomic_store(&handled, 0);
	EXPECT_EQ(0, pthread_create(&c.th, NULL, call_fn, &c));
	EXPECT_TRUE(npt_wait_waiters(self->p, 1));
	EXPECT_EQ(0, pthread_kill(c.th, SIGUSR1));
	while (!atomic_load(&handled))
		npoll_test_sleep_ns(NPT_MS);
	ready = make_ready(self, helper);
	EXPECT_NE(-1, ready);
	pthread_join(c.th, NULL);
	if (ready >= 0)
		close(ready);
	return c.result;
}

TEST_F(sig, signal_without_restart_ends_helper_with_eintr)
{
	NPT_RETURN_IF_SKIPPED();
	EXPECT_EQ(-EINTR, signal_parked(_metadata, self, variant->helper, 0));
}

TEST_F(sig, signal_with_restart_keeps_helper_waiting)
{
	long r;

	NPT_RETURN_IF_SKIPPED();
	r = signal_parked(_metadata, self, variant->helper, SA_RESTART);
	if (variant->helper == ACCEPT) {
		EXPECT_LE(0, r);
	} else {
		EXPECT_EQ(1, r);
	}
}

/*
 * A signal that comes while the helper is on its way to sleep: a waiter
 * that decides to sleep, then takes the signal, then sleeps, misses it.
 * The main thread runs at SCHED_FIFO on the reader's CPU: each round
 * the reader calls np_read() on an empty socket after a random delay,
 * and the main thread, waking after a random sleep, preempts it
 * wherever it is.  Once np_stats counts the reader as parked (it may be
 * between that count and its sleep) the main thread signals it, with a
 * handler without SA_RESTART: the signal is delivered when the reader
 * runs again, in the middle of its park or in its sleep, and the read
 * must return -EINTR.  A reader still parked after NPT_PATIENCE is given
 * a byte and returns it: the lost signal, which fails the test.
 */
struct sigrace {
	np_desc *pd;
	atomic_uint round;	/* the main thread starts round n */
	atomic_uint done;	/* the reader finished round n */
	atomic_bool stop;	/* no more rounds */
	long result;
	long rounds;
};

static void *sigrace_reader(void *arg)
{
	struct sigrace *r = arg;
	uint64_t seed = 0xfeed;
	char buf[4];

	stress_pin(0);
	for (unsigned int i = 1; i <= (unsigned int)r->rounds; i++) {
		while (atomic_load(&r->round) != i)
			if (atomic_load(&r->stop))
				return NULL;
		stress_relax((unsigned int)(stress_rnd(&seed) % 4096));
		r->result = np_read(r->pd, buf, sizeof(buf));
		atomic_store(&r->done, i);
	}
	return NULL;
}

FIXTURE(race) {
	int unused;
};

FIXTURE_SETUP(race)
{
}

FIXTURE_TEARDOWN(race)
{
}

/* Sized by rounds: a round costs a few cross-thread wake-ups under TCG. */
TEST_F_TIMEOUT(race, signal_that_races_the_park_still_ends_the_wait, 600)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct sigrace r = { .rounds = stress_iters(2000, 200) };
	int64_t shown;
	struct sched_param sp = { .sched_priority = 1 };
	long eintr = 0, lost = 0, other = 0;
	uint64_t seed = 0x5eed;
	int64_t t0, end;
	pthread_t th;
	np_poller *p;
	int sv[2], e;

	NPT_OPEN_UNIX(p, sv, r.pd);
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	stress_pin(0);
	e = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
	if (e)
		SKIP(goto out, "SCHED_FIFO: %s", strerror(e));
	/* The reader at the normal policy, the main thread above it. */
	sp.sched_priority = 0;
	ASSERT_EQ(0, pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp));
	ASSERT_EQ(0, pthread_create(&th, NULL, sigrace_reader, &r));
	sp.sched_priority = 1;
	ASSERT_EQ(0, pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp));
	t0 = shown = npoll_test_now();
	for (unsigned int i = 1; i <= (unsigned int)r.rounds; i++) {
		if (npoll_test_now() - shown > 10 * NPT_SEC) {
			TH_LOG("round %u of %ld", i, r.rounds);
			shown = npoll_test_now();
		}
		atomic_store(&handled, 0);
		atomic_store(&r.round, i);
		end = npoll_test_now() + NPT_PATIENCE;
		do {
			npoll_test_sleep_ns((int64_t)(stress_rnd(&seed) % 40000));
		} while (npt_waiters(p) != 1 && npoll_test_now() < end);
		ASSERT_EQ(1, npt_waiters(p)) TH_LOG("round %u: the reader never parked", i);
		ASSERT_EQ(0, pthread_kill(th, SIGUSR1));
		while (atomic_load(&r.done) != i && npoll_test_now() < end)
			npoll_test_sleep_ns(20000);
		if (atomic_load(&r.done) != i) {
			ASSERT_EQ(1, write(sv[1], "y", 1));
			while (atomic_load(&r.done) != i)
				npoll_test_sleep_ns(NPT_MS);
		}
		if (r.result == -EINTR)
			eintr++;
		else if (r.result == 1)
			lost++;
		else
			other++;
		ASSERT_EQ(1, atomic_load(&handled));
		if (lost || other) {
			TH_LOG("round %u: np_read() returned %ld", i, r.result);
			break;
		}
	}
	atomic_store(&r.stop, true);
	sp.sched_priority = 0;
	pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp);
	pthread_join(th, NULL);
	stress_report("sig.signal_that_races_the_park", r.rounds, t0);
	TH_LOG("%ld rounds: %ld -EINTR, %ld lost signals, %ld other", r.rounds,
	       eintr, lost, other);
	EXPECT_EQ(0, lost);
	EXPECT_EQ(0, other);
	EXPECT_EQ(r.rounds, eintr);
out:
	np_close(r.pd);
	np_poller_close(p);
	close(sv[0]);
	close(sv[1]);
}

TEST_HARNESS_MAIN
