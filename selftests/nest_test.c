// SPDX-License-Identifier: GPL-2.0
/*
 * A poller inside other event loops (Documentation/userspace-api.rst,
 * "Waiting for a poller"): the poller fd is readable while scheduler-mode
 * events wait to be harvested, for poll(), epoll (level and edge
 * triggered) and io_uring's IORING_OP_POLL_ADD; a break does not make it
 * readable; cycles of pollers and epoll sets neither deadlock nor loop;
 * np_poller_fd() gives a library poller's fd.
 */
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "kselftest_harness.h"
#include "npoll_test_util.h"

/* poll() on @fd for @ms: the revents, 0 on timeout, -errno. */
static int poll_in(int fd, int ms)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	int n = poll(&pf, 1, ms);

	return n < 0 ? -errno : n ? pf.revents : 0;
}

static int epoll_add(int ep, int fd, uint32_t events)
{
	struct epoll_event ee = { .events = events, .data.fd = fd };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ee) ? -errno : 0;
}

/* Harvest until @want events have come (or a 10 s wait finds none). */
static int harvest(int dev, struct npoll_event *ev, int want)
{
	int got = 0, n;

	while (got < want) {
		n = npt_raw_poll(dev, ev + got, want - got, 10 * NPT_SEC);
		if (n <= 0)
			return n < 0 ? n : got;
		got += n;
	}
	return got;
}

FIXTURE(nest) {
	int dev;
	int efd[2];
	uint64_t h[2];
};

FIXTURE_SETUP(nest)
{
	self->dev = self->efd[0] = self->efd[1] = -1;
	NPT_OPEN_DEV(self->dev);
	for (int i = 0; i < 2; i++) {
		self->efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ASSERT_LE(0, self->efd[i]);
		ASSERT_EQ(0, npt_raw_open(self->dev, self->efd[i], 10 + i,
					  &self->h[i]));
		ASSERT_EQ(NPOLL_PENDING, npt_raw_wait(self->dev, NPOLL_IOC_ARM,
						      self->h[i],
						      NPOLL_MODE_READ, 0));
	}
}

FIXTURE_TEARDOWN(nest)
{
	if (self->dev >= 0)
		close(self->dev);
	for (int i = 0; i < 2; i++)
		if (self->efd[i] >= 0)
			close(self->efd[i]);
}

static void make_ready(struct __test_metadata *_metadata, int efd)
{
	uint64_t one = 1;

	ASSERT_EQ(8, write(efd, &one, 8));
}

/* poll(): readable exactly while an event waits. */
TEST_F(nest, poll_reports_pending_events)
{
	struct npoll_event ev[2];

	NPT_SETUP_SKIPPED();
	EXPECT_EQ(0, poll_in(self->dev, 0));
	make_ready(_metadata, self->efd[0]);
	EXPECT_EQ(POLLIN, poll_in(self->dev, 10000));
	/* Still readable: nothing harvested yet. */
	EXPECT_EQ(POLLIN, poll_in(self->dev, 0));
	ASSERT_EQ(1, npt_raw_poll(self->dev, ev, 2, 0));
	EXPECT_EQ(10, ev[0].user);
	EXPECT_EQ(0, poll_in(self->dev, 0));
}

/* A thread blocked in poll() is woken by the first event. */
struct blocked_poll {
	int fd;
	int ret;
	atomic_int tid;
	pthread_t t;
};

static void *blocked_poll_fn(void *arg)
{
	struct blocked_poll *b = arg;

	atomic_store(&b->tid, (int)gettid());
	b->ret = poll_in(b->fd, 20000);
	return NULL;
}

/* True once thread @tid sleeps in poll() (its wchan says so). */
static bool sleeps_in_poll(int tid)
{
	int64_t end = npoll_test_now() + NPT_PATIENCE;
	char path[64], w[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d/wchan", tid);
	while (npoll_test_now() < end) {
		FILE *f = fopen(path, "re");
		bool in = false;

		if (f) {
			in = fgets(w, sizeof(w), f) && strstr(w, "poll");
			fclose(f);
		}
		if (in)
			return true;
		npoll_test_sleep_ns(NPT_MS);
	}
	return false;
}

TEST_F(nest, blocked_poll_wakes_on_the_first_event)
{
	struct blocked_poll b = { .fd = self->dev };
	struct npoll_event ev[2];

	NPT_SETUP_SKIPPED();
	ASSERT_EQ(0, pthread_create(&b.t, NULL, blocked_poll_fn, &b));
	while (!atomic_load(&b.tid))
		npoll_test_sleep_ns(NPT_MS);
	ASSERT_TRUE(sleeps_in_poll(atomic_load(&b.tid)));
	make_ready(_metadata, self->efd[1]);
	ASSERT_EQ(0, pthread_join(b.t, NULL));
	EXPECT_EQ(POLLIN, b.ret);
	ASSERT_EQ(1, npt_raw_poll(self->dev, ev, 2, 0));
	EXPECT_EQ(11, ev[0].user);
}

/* epoll, level-triggered: reported while events wait, not after. */
TEST_F(nest, epoll_level_triggered)
{
	struct epoll_event ee[2];
	struct npoll_event ev[2];
	int ep = epoll_create1(EPOLL_CLOEXEC);

	NPT_SETUP_SKIPPED();
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_add(ep, self->dev, EPOLLIN));
	EXPECT_EQ(0, epoll_wait(ep, ee, 2, 0));
	make_ready(_metadata, self->efd[0]);
	ASSERT_EQ(1, epoll_wait(ep, ee, 2, 10000));
	EXPECT_EQ(EPOLLIN, ee[0].events);
	EXPECT_EQ(self->dev, ee[0].data.fd);
	EXPECT_EQ(1, epoll_wait(ep, ee, 2, 0));
	ASSERT_EQ(1, npt_raw_poll(self->dev, ev, 2, 0));
	EXPECT_EQ(0, epoll_wait(ep, ee, 2, 0));
	close(ep);
}

/*
 * epoll, edge-triggered: an edge for the first event after a harvest
 * took the ready list; a second event before that harvest adds none.
 */
TEST_F(nest, epoll_edge_triggered)
{
	struct epoll_event ee[2];
	struct npoll_event ev[2];
	int ep = epoll_create1(EPOLL_CLOEXEC);
	uint64_t v;

	NPT_SETUP_SKIPPED();
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_add(ep, self->dev, EPOLLIN | EPOLLET));
	make_ready(_metadata, self->efd[0]);
	ASSERT_EQ(1, epoll_wait(ep, ee, 2, 10000));
	EXPECT_EQ(EPOLLIN, ee[0].events);
	make_ready(_metadata, self->efd[1]);
	EXPECT_EQ(0, epoll_wait(ep, ee, 2, 0));
	/* Harvest everything; then a new event is a new edge. */
	ASSERT_EQ(2, npt_raw_poll(self->dev, ev, 2, 0));
	ASSERT_EQ(8, read(self->efd[0], &v, 8));
	ASSERT_EQ(NPOLL_PENDING, npt_raw_wait(self->dev, NPOLL_IOC_ARM, self->h[0],
					      NPOLL_MODE_READ, 0));
	EXPECT_EQ(0, epoll_wait(ep, ee, 2, 0));
	make_ready(_metadata, self->efd[0]);
	ASSERT_EQ(1, epoll_wait(ep, ee, 2, 10000));
	ASSERT_EQ(1, npt_raw_poll(self->dev, ev, 2, 0));
	EXPECT_EQ(10, ev[0].user);
	close(ep);
}

/* io_uring's poll on the poller completes with the first event. */
TEST_F(nest, io_uring_poll_add)
{
	struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 0 };
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct npoll_event ev[2];
	struct io_uring ring;
	int r;

	NPT_SETUP_SKIPPED();
	r = io_uring_queue_init(4, &ring, 0);
	if (r == -ENOSYS || r == -EPERM)
		SKIP(return, "no io_uring here (%d)", r);
	ASSERT_EQ(0, r);
	sqe = io_uring_get_sqe(&ring);
	ASSERT_NE(NULL, sqe);
	io_uring_prep_poll_add(sqe, self->dev, POLLIN);
	io_uring_sqe_set_data64(sqe, 77);
	ASSERT_EQ(1, io_uring_submit(&ring));
	/* Nothing yet. */
	EXPECT_EQ(-ETIME, io_uring_wait_cqe_timeout(&ring, &cqe, &ts));
	make_ready(_metadata, self->efd[1]);
	ts.tv_sec = 10;
	ASSERT_EQ(0, io_uring_wait_cqe_timeout(&ring, &cqe, &ts));
	EXPECT_EQ(77, cqe->user_data);
	EXPECT_EQ(POLLIN, cqe->res & POLLIN);
	io_uring_cqe_seen(&ring, cqe);
	ASSERT_EQ(1, npt_raw_poll(self->dev, ev, 2, 0));
	EXPECT_EQ(11, ev[0].user);
	/* A poll still pending when the ring goes: cancelled, nothing left. */
	sqe = io_uring_get_sqe(&ring);
	ASSERT_NE(NULL, sqe);
	io_uring_prep_poll_add(sqe, self->dev, POLLIN);
	ASSERT_EQ(1, io_uring_submit(&ring));
	io_uring_queue_exit(&ring);
}

/* A break wakes np_poll only: the poller does not turn readable. */
TEST_F(nest, break_does_not_make_the_poller_readable)
{
	struct npoll_event ev[2];

	NPT_SETUP_SKIPPED();
	ASSERT_EQ(0, npt_ioctl(self->dev, NPOLL_IOC_BREAK, NULL));
	EXPECT_EQ(0, poll_in(self->dev, 0));
	/* The break is still there for a blocking harvest. */
	EXPECT_EQ(0, npt_raw_poll(self->dev, ev, 2, 10 * NPT_SEC));
}

/*
 * An epoll set that waits for the poller, registered with the same
 * poller: the event of an eventfd wakes the epoll set, which makes the
 * set's own descriptor fire.  Both events come once; nothing deadlocks.
 */
TEST_F(nest, epoll_inside_its_own_poller)
{
	struct npoll_event ev[4];
	int ep = epoll_create1(EPOLL_CLOEXEC);
	uint64_t he;
	bool seen[2] = { false, false };

	NPT_SETUP_SKIPPED();
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_add(ep, self->dev, EPOLLIN));
	ASSERT_EQ(0, npt_raw_open(self->dev, ep, 99, &he));
	ASSERT_EQ(NPOLL_PENDING, npt_raw_wait(self->dev, NPOLL_IOC_ARM, he,
					      NPOLL_MODE_READ, 0));
	make_ready(_metadata, self->efd[0]);
	ASSERT_EQ(2, harvest(self->dev, ev, 2));
	for (int i = 0; i < 2; i++) {
		EXPECT_EQ(NPOLL_OK, ev[i].result);
		if (ev[i].user == 10)
			seen[0] = true;
		else if (ev[i].user == 99)
			seen[1] = true;
	}
	EXPECT_TRUE(seen[0]);
	EXPECT_TRUE(seen[1]);
	EXPECT_EQ(0, npt_raw_poll(self->dev, ev, 4, 0));
	ASSERT_EQ(0, npt_raw_handle(self->dev, NPOLL_IOC_CLOSE, he));
	close(ep);
}

/*
 * A cycle through two pollers: P1 in epoll E1, E1 armed in P2, P2 in
 * epoll E2, E2 armed in P1.  One event in P1 goes round once: P1 gets
 * its own and E2's, P2 gets E1's.
 */
TEST_F(nest, cycle_of_two_pollers_and_two_epoll_sets)
{
	struct npoll_event ev[4];
	int p2 = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	int e1 = epoll_create1(EPOLL_CLOEXEC), e2 = epoll_create1(EPOLL_CLOEXEC);
	uint64_t h1, h2;
	int n;

	NPT_SETUP_SKIPPED();
	ASSERT_LE(0, p2);
	ASSERT_LE(0, e1);
	ASSERT_LE(0, e2);
	ASSERT_EQ(0, epoll_add(e1, self->dev, EPOLLIN));
	ASSERT_EQ(0, epoll_add(e2, p2, EPOLLIN));
	ASSERT_EQ(0, npt_raw_open(p2, e1, 21, &h1));
	ASSERT_EQ(0, npt_raw_open(self->dev, e2, 22, &h2));
	ASSERT_EQ(NPOLL_PENDING, npt_raw_wait(p2, NPOLL_IOC_ARM, h1,
					      NPOLL_MODE_READ, 0));
	ASSERT_EQ(NPOLL_PENDING, npt_raw_wait(self->dev, NPOLL_IOC_ARM, h2,
					      NPOLL_MODE_READ, 0));
	make_ready(_metadata, self->efd[0]);
	ASSERT_EQ(1, harvest(p2, ev, 1));
	EXPECT_EQ(21, ev[0].user);
	ASSERT_EQ(2, harvest(self->dev, ev, 2));
	EXPECT_EQ(10 + 22, ev[0].user + ev[1].user);
	n = npt_raw_poll(self->dev, ev, 4, 0);
	EXPECT_EQ(0, n);
	EXPECT_EQ(0, npt_raw_poll(p2, ev, 4, 0));
	close(p2);
	close(e1);
	close(e2);
}

/*
 * Pollers closed while epoll sets wait for them, with events in flight:
 * the release waits for a pending wake-up; the sets forget the poller.
 */
TEST(pollers_closed_under_epoll_with_events_in_flight)
{
	long rounds = npoll_test_iters(npoll_test_sanitized() ? 100 : 400);
	int ep;
	struct epoll_event ee[2];
	uint64_t one = 1;

	NPT_SKIP_USER("the test drives the module's ioctls");
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	for (long r = 0; r < rounds; r++) {
		int dev = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
		int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		uint64_t h;

		if (dev < 0 && errno == ENOENT)
			SKIP(return, "no " NPOLL_DEV);
		ASSERT_LE(0, dev);
		ASSERT_LE(0, efd);
		ASSERT_EQ(0, epoll_add(ep, dev, EPOLLIN | (r & 1 ? EPOLLET : 0)));
		ASSERT_EQ(0, npt_raw_open(dev, efd, r, &h));
		ASSERT_EQ(NPOLL_PENDING, npt_raw_wait(dev, NPOLL_IOC_ARM, h,
						      NPOLL_MODE_READ, 0));
		ASSERT_EQ(8, write(efd, &one, 8));
		if (r & 2)
			ASSERT_LE(0, epoll_wait(ep, ee, 2, 0));
		close(dev);
		close(efd);
	}
	EXPECT_EQ(0, epoll_wait(ep, ee, 2, 0));
	close(ep);
}

/* The library's poller fd is the one epoll sees readable. */
TEST(np_poller_fd_nests_a_library_poller)
{
	struct epoll_event ee[2];
	struct np_event ev[2];
	np_poller *p;
	np_desc *pd;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int efd = eventfd(0, EFD_CLOEXEC);
	uint64_t one = 1;

	ASSERT_LE(0, ep);
	ASSERT_LE(0, efd);
	EXPECT_EQ(-EINVAL, np_poller_fd(NULL));
	NPT_OPEN_POLLER(p);
	ASSERT_LE(0, np_poller_fd(p));
	/* The user backend's is an eventfd, no poller of the module. */
	EXPECT_EQ(np_poller_backend(p) == NP_BACKEND_KERNEL,
		  np_is_poll_descriptor(np_poller_fd(p)));
	ASSERT_EQ(0, epoll_add(ep, np_poller_fd(p), EPOLLIN));
	ASSERT_EQ(0, np_open(p, efd, 5, &pd));
	ASSERT_EQ(NP_PENDING, np_arm(pd, NP_READ));
	EXPECT_EQ(0, epoll_wait(ep, ee, 2, 0));
	ASSERT_EQ(8, write(efd, &one, 8));
	ASSERT_EQ(1, epoll_wait(ep, ee, 2, 10000));
	EXPECT_EQ(np_poller_fd(p), ee[0].data.fd);
	ASSERT_EQ(1, np_poll(p, ev, 2, 0));
	EXPECT_EQ(5, ev[0].user);
	EXPECT_EQ(NP_OK, ev[0].result);
	EXPECT_EQ(0, epoll_wait(ep, ee, 2, 0));
	np_poller_close(p);
	close(ep);
	close(efd);
}

TEST_HARNESS_MAIN
