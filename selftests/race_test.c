// SPDX-License-Identifier: GPL-2.0
/*
 * Lifetime and protocol races, each sized by an iteration count:
 *
 *  - opens and closes of files with two wait queues (a FIFO opened
 *    O_RDWR, a pty master) from two threads on one poller: a slot whose
 *    descriptor is still being torn down is never handed to a new one,
 *    so every descriptor keeps both its wait-queue entries;
 *  - a handle is resolvable only once its descriptor is published: a
 *    thread that predicts the handle of a registration that fails
 *    (-EEXIST) never reaches that descriptor;
 *  - a break that lands after a blocking poll harvested its events is
 *    kept for the next poll, never erased.
 *
 * As root each test loads selftests/kmod/npoll_delay_test.ko (stress.h)
 * to hold one thread inside the race's window, so the race is hit in
 * nearly every iteration; without it (the unprivileged run) the same
 * loops race at their natural speed.  No verdict depends on timing: a
 * wait that would block forever is bounded, and running into that bound
 * is the failure.
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "npoll_test_util.h"
#include "stress.h"

/* Patience of a wait that returns at once unless the test fails. */
#define RACE_PATIENCE (10 * NPT_SEC)

/* Each test runs long under TCG: a fixture for its own time limit. */
FIXTURE(race) {};
FIXTURE_SETUP(race) {}
FIXTURE_TEARDOWN(race) {}

/* ---- two wait queues: the hook slot ---------------------------------- */

struct kept {
	int fd;
	bool fifo;
	np_desc *pd;
};

struct slot_worker {
	np_poller *p;
	const char *fifo;
	long iters;
	int id;
	int failed;		/* first failing step, 0 none */
	long fifo_checks;
	pthread_t t;
};

/*
 * A FIFO opened O_RDWR hands its read queue to poll first and its write
 * queue second: writing wakes the first entry, reading from a full pipe
 * the second.  Each edge is made before the wait, so a wait that does
 * not return NP_OK at once lost its entry (it times out instead).
 */
static int fifo_wakes(np_desc *pd, int fd)
{
	char buf[4096] = { 0 };

	if (np_set_deadline(pd, RACE_PATIENCE, NP_RW))
		return 1;
	if (np_reset(pd, NP_READ) != NP_OK || write(fd, "x", 1) != 1)
		return 2;
	if (np_wait(pd, NP_READ) != NP_OK)
		return 3;
	while (write(fd, buf, sizeof(buf)) > 0)
		;
	if (np_reset(pd, NP_WRITE) != NP_OK ||
	    read(fd, buf, sizeof(buf)) != sizeof(buf))
		return 4;
	if (np_wait(pd, NP_WRITE) != NP_OK)
		return 5;
	return 0;
}

static int kept_check_and_close(struct slot_worker *w, struct kept *k)
{
	int r = 0;

	if (k->fifo) {
		r = fifo_wakes(k->pd, k->fd);
		w->fifo_checks++;
	}
	if (np_close(k->pd))
		r = r ? r : 6;
	close(k->fd);
	k->pd = NULL;
	return r;
}

/*
 * Each thread keeps the last two descriptors it opened and checks one
 * only two iterations later, when the close that raced its registration
 * has long finished.
 */
static void *slot_fn(void *arg)
{
	struct slot_worker *w = arg;
	struct kept ring[2] = { { .fd = -1 }, { .fd = -1 } };
	int r;

	stress_delay_name("np-slot");
	stress_pin(w->id);
	for (long i = 0; i < w->iters + 2 && !w->failed; i++) {
		struct kept *k = &ring[i % 2];

		if (k->pd) {
			r = kept_check_and_close(w, k);
			if (r)
				w->failed = r;
		}
		if (i >= w->iters)
			continue;
		k->fifo = (i + w->id) % 2 == 0;
		if (k->fifo)
			k->fd = open(w->fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		else
			k->fd = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK |
					     O_CLOEXEC);
		if (k->fd < 0) {
			w->failed = 10;
			break;
		}
		if (np_open(w->p, k->fd, i, &k->pd)) {
			close(k->fd);
			k->pd = NULL;
			w->failed = 11;
		}
	}
	for (int j = 0; j < 2; j++)
		if (ring[j].pd)
			kept_check_and_close(w, &ring[j]);
	return NULL;
}

/*
 *   closer (slot s)                      opener
 *   lock; remove d from slot s; unlock
 *   teardown: ...                        lock; slot s is free? takes it;
 *                                        files its second entry at s
 *   erase the second entry at s
 *
 * The closer must erase its own entry, not the opener's: the slot stays
 * reserved until the teardown has finished.  The probe holds every close
 * at the start of its hook removal, inside that window.
 */
struct slot_result {
	int failed[2];
	long fifo_checks;
	long descs;
	int done;
};

/* The race of the test below, in a child process; results in @res. */
static void slot_race(struct slot_result *res, const char *dir, long iters)
{
	struct slot_worker w[2];
	char fifo[2][64];
	np_poller *p;

	if (np_poller_open(&p))
		_exit(1);
	for (int i = 0; i < 2; i++) {
		snprintf(fifo[i], sizeof(fifo[i]), "%s/f%d", dir, i);
		if (mkfifo(fifo[i], 0600))
			_exit(1);
		w[i] = (struct slot_worker){
			.p = p, .fifo = fifo[i], .iters = iters, .id = i,
		};
	}
	for (int i = 0; i < 2; i++)
		if (pthread_create(&w[i].t, NULL, slot_fn, &w[i]))
			_exit(1);
	for (int i = 0; i < 2; i++) {
		pthread_join(w[i].t, NULL);
		res->failed[i] = w[i].failed;
		res->fifo_checks += w[i].fifo_checks;
		unlink(fifo[i]);
	}
	res->descs = npt_descs(p);
	np_poller_close(p);
	res->done = 1;
	_exit(0);
}

/*
 *   closer (slot s)                      opener
 *   lock; remove d from slot s; unlock
 *   teardown: ...                        lock; slot s is free? takes it;
 *                                        files its second entry at s
 *   erase the second entry at s
 *
 * The closer must erase its own entry, not the opener's: the slot stays
 * reserved until the teardown has finished.  The probe holds every close
 * at the start of its hook removal, inside that window.  Had the closer
 * taken the opener's entry, the opener would miss wake-ups of its
 * second queue, and the closer's own entry would stay behind on its
 * file's queue, pointing at a freed descriptor: closing a pty master
 * then never returns (tty_release() waits for its queues to empty).  So
 * the race runs in a child process that the test waits for, boundedly.
 */
TEST_F_TIMEOUT(race, two_queue_files_open_close_keep_their_hooks, 900)
{
	long iters = stress_iters(1000, 200);
	char dir[] = "/tmp/npoll-race-XXXXXX";
	long base = stress_slab_descs();
	int64_t t0 = npoll_test_now(), end;
	struct slot_result *res;
	bool delayed, exited = false;
	int status;
	pid_t pid;

	if (access(NPOLL_DEV, F_OK))
		SKIP(return, "no " NPOLL_DEV);
	ASSERT_NE(NULL, mkdtemp(dir));
	res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, res);
	delayed = stress_delay_load("entry:npoll_hook_unregister:np-slot:300");
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		slot_race(res, dir, iters);
	for (end = npoll_test_now() + 300 * NPT_SEC; npoll_test_now() < end;) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			exited = true;
			break;
		}
		npoll_test_sleep_ns(10 * NPT_MS);
	}
	if (delayed)
		stress_delay_unload();
	rmdir(dir);
	ASSERT_TRUE(exited)
		TH_LOG("the race did not end: a close hangs on a stale entry");
	ASSERT_EQ(1, res->done);
	EXPECT_EQ(0, res->failed[0] | res->failed[1])
		TH_LOG("a descriptor did not wake (steps %d, %d)",
		       res->failed[0], res->failed[1]);
	EXPECT_EQ(0, res->descs);
	if (base >= 0)
		EXPECT_EQ(base, stress_slab_settle(base));
	TH_LOG("%ld opens a thread, %ld FIFO wake checks, %s", iters,
	       res->fifo_checks, delayed ? "closes delayed" : "no delays");
	stress_report("two_queue_files_open_close", 2 * iters, t0);
	munmap(res, sizeof(*res));
}

/* ---- unpublished descriptors ----------------------------------------- */

struct predictor {
	int dev;
	_Atomic uint64_t handle;
	atomic_uint round;
	atomic_uint entering;
	atomic_uint done;
	atomic_int quit;
	long resolved;
	int last;
	pthread_t t;
};

/*
 * Each round, one NPOLL_IOC_IO with a deadline on the handle that the
 * registrar's failing registration would get: it must fail with -EBADF.
 * Had it resolved, it would park with the timer armed on a descriptor
 * that nobody tears down.
 */
static void *predict_fn(void *arg)
{
	struct predictor *pr = arg;
	unsigned int r = 0;
	char buf[1];

	stress_delay_name("np-predict");
	stress_pin(1);
	for (;;) {
		struct npoll_io_args a = {
			.mode = NPOLL_MODE_READ,
			.flags = NPOLL_IO_DEADLINE,
			.buf = (uintptr_t)buf,
			.len = sizeof(buf),
			.seq = 1,
		};
		int ret;

		r = stress_wait_change(&pr->round, r, false, 0);
		if (atomic_load(&pr->quit))
			break;
		a.handle = atomic_load(&pr->handle);
		a.deadline = npoll_test_now() + 20 * NPT_MS;
		atomic_store(&pr->entering, r);
		ret = npt_ioctl(pr->dev, NPOLL_IOC_IO, &a);
		if (ret != -EBADF) {
			pr->resolved++;
			pr->last = ret;
		}
		atomic_store(&pr->done, r);
	}
	return NULL;
}

/*
 *   registrar                              predictor
 *   open O at slot 1 (generation g)
 *                                          lookup (g+1, 1): loads O
 *   close O: O is freed
 *   open F again: the same object, slot 1,
 *   generation g+1 ... -EEXIST
 *                                          takes a reference, compares
 *                                          the handle
 *
 * The predictor must find no descriptor: the handle of a registration
 * gets its generation only when nothing can fail any more.  The probes
 * hold the predictor after its load and the registrar inside its
 * registration, so the interleaving above is the common one.
 */
TEST_F_TIMEOUT(race, predicted_handle_of_failed_registration_never_resolves, 900)
{
	long rounds = stress_iters(200, 50);
	long base = stress_slab_descs();
	int64_t t0 = npoll_test_now();
	struct predictor pr = { 0 };
	uint64_t hf, ho, h;
	int sf[2], so[2];
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	bool delayed;

	NPT_OPEN_DEV(pr.dev);
	ASSERT_EQ(0, npt_unix_pair(sf));
	ASSERT_EQ(0, npt_unix_pair(so));
	ASSERT_EQ(0, npt_raw_open(pr.dev, sf[0], 0, &hf));
	delayed = stress_delay_load("ret:xa_load:np-predict:300,"
				    "entry:unix_poll:np-register:2000");
	stress_delay_name("np-register");
	stress_pin(0);
	ASSERT_EQ(0, pthread_create(&pr.t, NULL, predict_fn, &pr));
	for (unsigned int r = 1; r <= rounds; r++) {
		int64_t spin = 20000 + stress_rnd(&seed) % 130000, end;

		ASSERT_EQ(0, npt_raw_open(pr.dev, so[0], r, &ho));
		atomic_store(&pr.handle,
			     ((ho >> 32) + 1) << 32 | (uint32_t)ho);
		atomic_store(&pr.round, r);
		stress_wait_change(&pr.entering, r - 1, false, 0);
		/* Into the predictor's lookup, past its load of the slot. */
		for (end = npoll_test_now() + spin; npoll_test_now() < end;)
			stress_relax(64);
		ASSERT_EQ(0, npt_raw_handle(pr.dev, NPOLL_IOC_CLOSE, ho));
		EXPECT_EQ(-EEXIST, npt_raw_open(pr.dev, sf[0], r, &h));
		ASSERT_EQ(r, stress_wait_change(&pr.done, r - 1, false,
						npoll_test_now() +
							RACE_PATIENCE));
	}
	atomic_store(&pr.quit, 1);
	atomic_store(&pr.round, rounds + 1);
	ASSERT_EQ(0, pthread_join(pr.t, NULL));
	if (delayed)
		stress_delay_unload();
	EXPECT_EQ(0, pr.resolved)
		TH_LOG("%ld lookups resolved an unpublished handle (last %d)",
		       pr.resolved, pr.last);
	EXPECT_EQ(1, npt_raw_stat(pr.dev, false));
	close(pr.dev);
	close(sf[0]);
	close(sf[1]);
	close(so[0]);
	close(so[1]);
	if (base >= 0)
		EXPECT_EQ(base, stress_slab_settle(base));
	TH_LOG("%ld rounds, %s", rounds,
	       delayed ? "lookups and registrations delayed" : "no delays");
	stress_report("predicted_handle_of_failed_registration", rounds, t0);
}

/* ---- breaks ---------------------------------------------------------- */

struct harvester {
	np_poller *p;
	atomic_uint zero;
	atomic_uint events;
	atomic_int quit;
	int err;
	pthread_t t;
};

static void *harvest_fn(void *arg)
{
	struct harvester *h = arg;
	struct np_event ev[4];
	int n;

	stress_delay_name("np-harvest");
	while (!atomic_load(&h->quit)) {
		n = np_poll(h->p, ev, 4, -1);
		if (n == -EINTR)
			continue;
		if (n < 0) {
			h->err = n;
			break;
		}
		if (n == 0)
			atomic_fetch_add(&h->zero, 1);
		else
			atomic_fetch_add(&h->events, n);
	}
	return NULL;
}

static long stat_events(np_poller *p)
{
	struct np_stats st;

	return np_stats(p, &st) ? -1 : (long)st.events;
}

/*
 *   harvester (np_poll, blocking)          breaker
 *   look for events: one, delivered
 *                                          sees it delivered; np_break()
 *   return 1
 *   np_poll: the break is pending: 0
 *
 * Each round arms a descriptor, makes it ready and breaks as soon as the
 * event is delivered, i.e. after the harvest looked for events: the
 * break must end the next poll (a poll returning 0), however close to
 * the harvest it landed.  A lost break leaves the harvester blocked.
 * The probe holds the harvester just after its harvest.
 */
TEST_F_TIMEOUT(race, break_after_harvest_ends_the_next_poll, 900)
{
	long rounds = stress_iters(200, 50);
	int64_t t0 = npoll_test_now(), end;
	struct harvester h = { 0 };
	bool delayed, lost = false;
	np_desc *pd;
	int sv[2];
	char c;

	NPT_OPEN_POLLER(h.p);
	ASSERT_EQ(0, npt_unix_pair(sv));
	ASSERT_EQ(0, np_open(h.p, sv[0], 1, &pd));
	delayed = stress_delay_load("ret:npoll_harvest:np-harvest:500");
	ASSERT_EQ(0, pthread_create(&h.t, NULL, harvest_fn, &h));
	for (unsigned int r = 0; r < rounds && !lost; r++) {
		while (read(sv[0], &c, 1) == 1)
			;
		ASSERT_EQ(NP_PENDING, np_arm(pd, NP_READ));
		ASSERT_EQ(1, write(sv[1], "x", 1));
		end = npoll_test_now() + RACE_PATIENCE;
		while (stat_events(h.p) != 0 && npoll_test_now() < end)
			;
		ASSERT_EQ(0, stat_events(h.p));
		ASSERT_EQ(0, np_break(h.p));
		if (stress_wait_change(&h.zero, r, false,
				       npoll_test_now() + RACE_PATIENCE) == r)
			lost = true;
		EXPECT_EQ(r + 1, atomic_load(&h.events));
	}
	EXPECT_FALSE(lost) TH_LOG("a break was lost: the harvester blocks");
	atomic_store(&h.quit, 1);
	ASSERT_EQ(0, np_break(h.p));
	ASSERT_EQ(0, pthread_join(h.t, NULL));
	if (delayed)
		stress_delay_unload();
	EXPECT_EQ(0, h.err);
	np_close(pd);
	np_poller_close(h.p);
	close(sv[0]);
	close(sv[1]);
	TH_LOG("%u breaks, %s", atomic_load(&h.zero),
	       delayed ? "harvests delayed" : "no delays");
	stress_report("break_after_harvest", rounds, t0);
}

TEST_HARNESS_MAIN
