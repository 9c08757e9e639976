// SPDX-License-Identifier: GPL-2.0
/*
 * Unblock and close: np_unblock, np_close with threads parked on the
 * descriptor (and waiting for them, as Go's FD.Close), stale handles,
 * the registration pinning the file, pollers closed with descriptors
 * still registered, and a poller shared across fork()
 * (Documentation/userspace-api.rst, "Closing the registered fd" and
 * "The library").
 */
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "npoll_test_util.h"

NPT_UNIX_FIXTURE(cl);

/*
 * reader, writer: parked ......... NP_ERR_CLOSING (both)
 * main:           np_unblock ---^
 */
TEST_F(cl, unblock_wakes_both_waiters_with_closing)
{
	struct npt_waiter r, w;

	EXPECT_LT(0, npt_fill(self->sv[0]));
	ASSERT_EQ(0, npt_waiter_start(&r, self->pd, NP_READ, NPT_WAIT));
	ASSERT_EQ(0, npt_waiter_start(&w, self->pd, NP_WRITE, NPT_WAIT));
	ASSERT_TRUE(npt_wait_waiters(self->p, 2));
	EXPECT_EQ(0, np_unblock(self->pd));
	EXPECT_TRUE(npt_waiter_join(&r));
	EXPECT_TRUE(npt_waiter_join(&w));
	EXPECT_EQ(NP_ERR_CLOSING, r.result);
	EXPECT_EQ(NP_ERR_CLOSING, w.result);
	EXPECT_EQ(0, npt_waiters(self->p));
	/* Later waits fail at once, even with readiness pending. */
	ASSERT_EQ(1, write(self->sv[1], "x", 1));
	EXPECT_EQ(NP_ERR_CLOSING, np_wait(self->pd, NP_READ));
	EXPECT_EQ(NP_ERR_CLOSING, np_wait(self->pd, NP_WRITE));
}

TEST_F(cl, unblock_is_idempotent)
{
	int i;

	for (i = 0; i < 3; i++) {
		EXPECT_EQ(0, np_unblock(self->pd));
		EXPECT_EQ(NP_ERR_CLOSING, np_wait(self->pd, NP_READ));
		EXPECT_EQ(NP_ERR_CLOSING, np_reset(self->pd, NP_WRITE));
	}
	EXPECT_EQ(1, npt_descs(self->p));
}

/* After unblock, deadlines are moot: setting one is a 0-returning no-op. */
TEST_F(cl, deadline_after_unblock_is_noop)
{
	EXPECT_EQ(0, np_unblock(self->pd));
	EXPECT_EQ(0, np_set_deadline(self->pd, -1, NP_RW));
	EXPECT_EQ(0, np_set_deadline(self->pd, 10 * NPT_MS, NP_READ));
	EXPECT_EQ(0, np_set_deadline_at(self->pd, 1, NP_WRITE));
	EXPECT_EQ(0, np_set_deadline(self->pd, 0, NP_RW));
	/* Closing still outranks everything. */
	EXPECT_EQ(NP_ERR_CLOSING, np_wait(self->pd, NP_READ));
	EXPECT_EQ(NP_ERR_CLOSING, np_wait(self->pd, NP_WRITE));
	npoll_test_sleep_ns(50 * NPT_MS);
	EXPECT_EQ(NP_ERR_CLOSING, np_reset(self->pd, NP_READ));
}

/* An armed deadline does not fire after unblock: no timeout outcome. */
TEST_F(cl, unblock_cancels_armed_deadline)
{
	struct npt_waiter w;

	ASSERT_EQ(0, np_set_deadline(self->pd, 50 * NPT_MS, NP_READ));
	EXPECT_EQ(0, np_unblock(self->pd));
	ASSERT_EQ(0, npt_waiter_start(&w, self->pd, NP_READ, NPT_WAIT_CANCELED));
	ASSERT_TRUE(npt_wait_waiters(self->p, 1));
	npoll_test_sleep_ns(150 * NPT_MS);
	EXPECT_FALSE(atomic_load(&w.done));
	ASSERT_EQ(1, write(self->sv[1], "x", 1));
	EXPECT_TRUE(npt_waiter_join(&w));
	EXPECT_EQ(NP_OK, w.result);
}

/*
 * reader, writer: np_wait parked ..... NP_ERR_CLOSING
 * main:           np_close --------^   (memory freed after both return)
 */
TEST_F(cl, close_wakes_parked_waits_with_closing)
{
	struct npt_waiter r, w;

	EXPECT_LT(0, npt_fill(self->sv[0]));
	ASSERT_EQ(0, npt_waiter_start(&r, self->pd, NP_READ, NPT_WAIT));
	ASSERT_EQ(0, npt_waiter_start(&w, self->pd, NP_WRITE, NPT_WAIT));
	ASSERT_TRUE(npt_wait_waiters(self->p, 2));
	EXPECT_EQ(0, np_close(self->pd));
	self->pd = NULL;
	EXPECT_TRUE(npt_waiter_join(&r));
	EXPECT_TRUE(npt_waiter_join(&w));
	EXPECT_EQ(NP_ERR_CLOSING, r.result);
	EXPECT_EQ(NP_ERR_CLOSING, w.result);
	EXPECT_EQ(0, npt_waiters(self->p));
	EXPECT_EQ(0, npt_descs(self->p));
}

/* I/O helpers blocked on the descriptor fail with -ECANCELED. */
TEST_F(cl, close_fails_blocked_io_with_ecanceled)
{
	static char big[1 << 20];
	struct npt_waiter r, w;

	EXPECT_LT(0, npt_fill(self->sv[0]));
	ASSERT_EQ(0, npt_waiter_start(&r, self->pd, NP_READ, NPT_READ));
	ASSERT_EQ(0, npt_writer_start(&w, self->pd, big, sizeof(big)));
	ASSERT_TRUE(npt_wait_waiters(self->p, 2));
	EXPECT_EQ(0, np_close(self->pd));
	self->pd = NULL;
	EXPECT_TRUE(npt_waiter_join(&r));
	EXPECT_TRUE(npt_waiter_join(&w));
	EXPECT_EQ(-ECANCELED, r.result);
	EXPECT_EQ(-ECANCELED, w.result);
	EXPECT_EQ(0, npt_descs(self->p));
}

/* np_close leaves the fd open and working: it is the caller's. */
TEST_F(cl, fd_stays_open_after_close)
{
	char c = 0;

	EXPECT_EQ(0, np_close(self->pd));
	self->pd = NULL;
	EXPECT_LE(0, fcntl(self->sv[0], F_GETFD));
	EXPECT_EQ(1, write(self->sv[0], "y", 1));
	EXPECT_EQ(1, read(self->sv[1], &c, 1));
	EXPECT_EQ('y', c);
	EXPECT_EQ(0, npt_descs(self->p));
}

/*
 * A closed descriptor's handle never names a later one, even when the
 * new descriptor is for the same file and the old slot is reused.
 */
TEST(stale_handle_is_ebadf)
{
	uint64_t old, now;
	int dev, sv[2], i, bad = 0;

	NPT_OPEN_DEV(dev);
	ASSERT_EQ(0, npt_unix_pair(sv));
	ASSERT_EQ(0, npt_raw_open(dev, sv[0], 1, &old));
	for (i = 0; i < 200; i++) {
		ASSERT_EQ(0, npt_raw_handle(dev, NPOLL_IOC_CLOSE, old));
		ASSERT_EQ(0, npt_raw_open(dev, i & 1 ? sv[1] : sv[0], 2, &now));
		if (now == old)
			bad++;
		if (npt_raw_wait(dev, NPOLL_IOC_WAIT, old, NPOLL_MODE_READ, 0) != -EBADF)
			bad++;
		if (npt_raw_wait(dev, NPOLL_IOC_RESET, old, NPOLL_MODE_WRITE, 0) != -EBADF)
			bad++;
		if (npt_raw_deadline(dev, old, -1, NPOLL_MODE_RW, 0) != -EBADF)
			bad++;
		if (npt_raw_handle(dev, NPOLL_IOC_UNBLOCK, old) != -EBADF)
			bad++;
		if (npt_raw_handle(dev, NPOLL_IOC_CLOSE, old) != -EBADF)
			bad++;
		/* The live one was not hit by any of the above. */
		if (npt_raw_wait(dev, NPOLL_IOC_RESET, now, NPOLL_MODE_READ, 0) != NPOLL_OK)
			bad++;
		old = now;
	}
	EXPECT_EQ(0, bad);
	EXPECT_EQ(1, npt_raw_stat(dev, false));
	EXPECT_EQ(0, npt_raw_handle(dev, NPOLL_IOC_CLOSE, old));
	EXPECT_EQ(0, npt_raw_stat(dev, false));
	close(sv[0]);
	close(sv[1]);
	close(dev);
}

/* A handle is only good in the poller that made it. */
TEST(handle_of_another_poller_is_ebadf)
{
	int a, b, sv[2];
	uint64_t h;

	NPT_OPEN_DEV(a);
	b = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, npt_unix_pair(sv));
	ASSERT_EQ(0, npt_raw_open(a, sv[0], 1, &h));
	EXPECT_EQ(-EBADF, npt_raw_wait(b, NPOLL_IOC_WAIT, h, NPOLL_MODE_READ, 0));
	EXPECT_EQ(-EBADF, npt_raw_handle(b, NPOLL_IOC_UNBLOCK, h));
	EXPECT_EQ(-EBADF, npt_raw_handle(b, NPOLL_IOC_CLOSE, h));
	EXPECT_EQ(NPOLL_OK, npt_raw_wait(a, NPOLL_IOC_RESET, h, NPOLL_MODE_READ, 0));
	EXPECT_EQ(0, npt_raw_handle(a, NPOLL_IOC_CLOSE, h));
	close(sv[0]);
	close(sv[1]);
	close(b);
	close(a);
}

/*
 * The registration holds a reference on the file: closing the fd number
 * while registered does not close the TCP connection (no EOF at the
 * peer) and the descriptor keeps working; np_close then drops the last
 * reference and the peer sees EOF.
 */
TEST(user_close_of_registered_fd_pins_file)
{
	np_poller *p;
	np_desc *pd;
	int sv[2];
	char c;

	NPT_OPEN_POLLER(p);
	ASSERT_EQ(0, npt_tcp_pair(sv));
	ASSERT_EQ(0, np_open(p, sv[0], 1, &pd));
	EXPECT_EQ(NP_OK, np_reset(pd, NP_READ));
	ASSERT_EQ(0, close(sv[0]));
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	npoll_test_sleep_ns(100 * NPT_MS);
	EXPECT_EQ(-1, read(sv[1], &c, 1));
	EXPECT_EQ(EAGAIN, errno);
	/* Still hooked: the peer's data is an edge, deadlines still work. */
	ASSERT_EQ(1, write(sv[1], "x", 1));
	ASSERT_EQ(0, np_set_deadline(pd, 10 * NPT_SEC, NP_READ));
	EXPECT_EQ(NP_OK, np_wait(pd, NP_READ));
	ASSERT_EQ(0, np_set_deadline(pd, 30 * NPT_MS, NP_READ));
	EXPECT_EQ(NP_ERR_TIMEOUT, np_wait(pd, NP_READ));
	EXPECT_EQ(1, npt_descs(p));
	EXPECT_EQ(0, np_close(pd));
	EXPECT_TRUE(npt_sees_eof(sv[1]));
	close(sv[1]);
	np_poller_close(p);
}

/*
 * np_poller_close with descriptors still open: their files are released
 * (the peers see EOF once the fds are closed) and the fds stay usable.
 */
TEST(poller_close_releases_registered_descs)
{
	int sv[4][2], i;
	np_poller *p;
	np_desc *pd;

	NPT_OPEN_POLLER(p);
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, npt_tcp_pair(sv[i]));
		ASSERT_EQ(0, np_open(p, sv[i][0], i, &pd));
	}
	ASSERT_EQ(0, np_set_deadline(pd, 10 * NPT_SEC, NP_RW));
	EXPECT_EQ(4, npt_descs(p));
	np_poller_close(p);
	for (i = 0; i < 4; i++) {
		EXPECT_LE(0, fcntl(sv[i][0], F_GETFD));
		EXPECT_EQ(1, write(sv[i][0], "z", 1));
		EXPECT_EQ(0, close(sv[i][0]));
		EXPECT_TRUE(npt_sees_eof(sv[i][1]));
		close(sv[i][1]);
	}
}

struct poll_call {
	pthread_t th;
	np_poller *p;
	atomic_int tid;
	atomic_bool done;
	int result;
};

static void *poll_fn(void *arg)
{
	struct poll_call *c = arg;
	struct np_event ev;

	atomic_store(&c->tid, gettid());
	c->result = np_poll(c->p, &ev, 1, -1);
	atomic_store(&c->done, true);
	return NULL;
}

/*
 * True once thread @tid sleeps in np_poll's system call on @p
 * (/proc/.../syscall): ioctl(2), or ppoll(2) in the user backend.
 */
static bool in_poll_call(np_poller *p, int tid)
{
	const char *nr = np_poller_backend(p) == NP_BACKEND_USER ?
		"271 " : "16 ";			/* __NR_ppoll, __NR_ioctl */
	char path[64], buf[32] = "";
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 && !strncmp(buf, nr, strlen(nr));
}

/*
 * poller: np_poll(forever) ....... -EBADF
 * main:   np_poller_close -----^ (returns after the poll did)
 */
TEST(poller_close_wakes_blocked_poll_with_ebadf)
{
	struct poll_call c = { 0 };
	int sv[2];
	np_desc *pd;

	NPT_OPEN_POLLER(c.p);
	ASSERT_EQ(0, npt_unix_pair(sv));
	ASSERT_EQ(0, np_open(c.p, sv[0], 7, &pd));
	ASSERT_EQ(0, pthread_create(&c.th, NULL, poll_fn, &c));
	while (!atomic_load(&c.tid))
		npoll_test_sleep_ns(NPT_MS);
	while (!in_poll_call(c.p, atomic_load(&c.tid)))
		npoll_test_sleep_ns(NPT_MS);
	np_poller_close(c.p);
	for (int i = 0; i < 20000 && !atomic_load(&c.done); i++)
		npoll_test_sleep_ns(NPT_MS);
	ASSERT_TRUE(atomic_load(&c.done));
	pthread_join(c.th, NULL);
	EXPECT_EQ(-EBADF, c.result);
	close(sv[0]);
	close(sv[1]);
}

/*
 * close() of a raw /dev/netpoll fd with descriptors registered (some
 * with deadlines armed) releases every file: no hang, no leak.
 */
TEST(raw_device_close_with_registered_descs)
{
	int dev, sv[8][2], i;
	uint64_t h;

	NPT_OPEN_DEV(dev);
	for (i = 0; i < 8; i++) {
		ASSERT_EQ(0, i & 1 ? npt_tcp_pair(sv[i]) : npt_unix_pair(sv[i]));
		ASSERT_EQ(0, npt_raw_open(dev, sv[i][0], i, &h));
		if (i % 3 == 0)
			ASSERT_EQ(0, npt_raw_deadline(dev, h, 20 * NPT_MS,
						      NPOLL_MODE_RW, 0));
		if (i % 3 == 1)
			ASSERT_EQ(0, npt_raw_handle(dev, NPOLL_IOC_UNBLOCK, h));
	}
	EXPECT_EQ(8, npt_raw_stat(dev, false));
	EXPECT_EQ(0, close(dev));
	/* Let the deadline timers' time pass: they must do nothing. */
	npoll_test_sleep_ns(50 * NPT_MS);
	for (i = 0; i < 8; i++) {
		EXPECT_EQ(0, close(sv[i][0]));
		EXPECT_TRUE(npt_sees_eof(sv[i][1]));
		close(sv[i][1]);
	}
}

/* Deadline timers firing after np_close do nothing (no use-after-free). */
TEST(close_with_armed_deadline_timer)
{
	np_poller *p;
	np_desc *pd;
	int sv[2], i;

	NPT_OPEN_POLLER(p);
	ASSERT_EQ(0, npt_unix_pair(sv));
	for (i = 0; i < 100; i++) {
		ASSERT_EQ(0, np_open(p, sv[0], i, &pd));
		ASSERT_EQ(0, np_set_deadline(pd, 100000 + i * 10000, NP_READ));
		ASSERT_EQ(0, np_set_deadline(pd, 150000, NP_WRITE));
		EXPECT_EQ(0, np_close(pd));
	}
	npoll_test_sleep_ns(50 * NPT_MS);
	EXPECT_EQ(0, npt_descs(p));
	close(sv[0]);
	close(sv[1]);
	np_poller_close(p);
}

/*
 * A forked child shares the poller: it parks in a raw wait on a handle
 * the parent made, the parent sees it in the poller's stats and wakes
 * it with data; a descriptor the child opens shows in the parent.
 */
TEST(fork_shares_poller)
{
	int dev, sv[2], sv2[2], status;
	uint64_t h;
	pid_t pid;

	NPT_OPEN_DEV(dev);
	ASSERT_EQ(0, npt_unix_pair(sv));
	ASSERT_EQ(0, npt_unix_pair(sv2));
	ASSERT_EQ(0, npt_raw_open(dev, sv[0], 1, &h));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		uint64_t h2;
		int r;

		r = npt_raw_wait(dev, NPOLL_IOC_WAIT, h, NPOLL_MODE_READ, 0);
		if (r != NPOLL_OK)
			_exit(10 + (r < 0 ? 0 : r));
		if (npt_raw_open(dev, sv2[0], 2, &h2))
			_exit(20);
		/* Parked again until the parent unblocks the first handle. */
		r = npt_raw_wait(dev, NPOLL_IOC_WAIT, h, NPOLL_MODE_READ, 0);
		_exit(r == NPOLL_ERR_CLOSING ? 0 : 30);
	}
	EXPECT_TRUE(({
		int64_t end = npoll_test_now() + NPT_PATIENCE;

		while (npt_raw_stat(dev, true) != 1 && npoll_test_now() < end)
			npoll_test_sleep_ns(NPT_MS);
		npt_raw_stat(dev, true) == 1;
	}));
	ASSERT_EQ(1, write(sv[1], "x", 1));
	EXPECT_TRUE(({
		int64_t end = npoll_test_now() + NPT_PATIENCE;

		while (npt_raw_stat(dev, false) != 2 && npoll_test_now() < end)
			npoll_test_sleep_ns(NPT_MS);
		npt_raw_stat(dev, false) == 2;
	}));
	/* Also waits for the child's second wait to be parked. */
	EXPECT_TRUE(({
		int64_t end = npoll_test_now() + NPT_PATIENCE;

		while (npt_raw_stat(dev, true) != 1 && npoll_test_now() < end)
			npoll_test_sleep_ns(NPT_MS);
		npt_raw_stat(dev, true) == 1;
	}));
	EXPECT_EQ(0, npt_raw_handle(dev, NPOLL_IOC_UNBLOCK, h));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* The child's exit did not take the shared poller with it. */
	EXPECT_EQ(2, npt_raw_stat(dev, false));
	EXPECT_EQ(0, npt_raw_stat(dev, true));
	EXPECT_EQ(0, close(dev));
	close(sv[0]);
	close(sv[1]);
	close(sv2[0]);
	close(sv2[1]);
}

TEST_HARNESS_MAIN
