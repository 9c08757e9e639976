// SPDX-License-Identifier: GPL-2.0
/*
 * Waits on a descriptor: np_open's errors and O_NONBLOCK, initial
 * readiness, edge semantics, wake-ups of parked waiters, error
 * precedence, np_reset, one waiter per mode, bad modes, signals,
 * np_wait_canceled and the np_stats counters, over AF_UNIX stream, TCP
 * and UDP loopback, pipes and eventfd (Documentation/userspace-api.rst,
 * "Per descriptor and per mode").
 */
#include <poll.h>
#include <stddef.h>
#include <linux/filter.h>
#include <linux/kcmp.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "kselftest_harness.h"
#include "npoll_test_util.h"

/* A readable side @rfd (registered in tests) and a way to feed it, @wfd. */
FIXTURE(rd) {
	np_poller *p;
	int rfd, wfd;
};

FIXTURE_VARIANT(rd) {
	enum npt_kind kind;
};

FIXTURE_VARIANT_ADD(rd, unix_stream) { .kind = NPT_UNIX };
FIXTURE_VARIANT_ADD(rd, tcp) { .kind = NPT_TCP };
FIXTURE_VARIANT_ADD(rd, udp) { .kind = NPT_UDP };
FIXTURE_VARIANT_ADD(rd, pipe) { .kind = NPT_PIPE };
FIXTURE_VARIANT_ADD(rd, eventfd) { .kind = NPT_EVENTFD };

FIXTURE_SETUP(rd)
{
	int fds[2];

	self->rfd = self->wfd = -1;
	NPT_OPEN_POLLER(self->p);
	ASSERT_EQ(0, npt_pair(variant->kind, fds));
	self->rfd = fds[0];
	self->wfd = fds[1];
}

FIXTURE_TEARDOWN(rd)
{
	if (self->p)
		np_poller_close(self->p);
	if (self->rfd >= 0)
		close(self->rfd);
	if (self->wfd >= 0)
		close(self->wfd);
}

/* Make @self->rfd readable: 8 bytes (an eventfd count of 1). */
static int feed(FIXTURE_DATA(rd) *self)
{
	uint64_t one = 1;

	return write(self->wfd, &one, sizeof(one)) == sizeof(one) ? 0 : -1;
}

TEST_F(rd, readable_at_open_first_read_wait_is_ok_at_once)
{
	np_desc *pd;

	ASSERT_EQ(0, feed(self));
	/* Data must be in place before the open on every kind of file. */
	npoll_test_sleep_ns(10 * NPT_MS);
	ASSERT_EQ(0, np_open(self->p, self->rfd, 1, &pd));
	/* A guard deadline turns a wrong block into a failure, not a hang. */
	ASSERT_EQ(0, np_set_deadline(pd, 10 * NPT_SEC, NP_READ));
	EXPECT_EQ(NP_OK, np_wait(pd, NP_READ));
	EXPECT_EQ(0, np_close(pd));
}

TEST_F(rd, idle_read_wait_blocks_until_deadline)
{
	int64_t t0;
	np_desc *pd;

	ASSERT_EQ(0, np_open(self->p, self->rfd, 1, &pd));
	t0 = npoll_test_now();
	ASSERT_EQ(0, np_set_deadline(pd, 50 * NPT_MS, NP_READ));
	EXPECT_EQ(NP_ERR_TIMEOUT, np_wait(pd, NP_READ));
	EXPECT_GE(npoll_test_now() - t0, 50 * NPT_MS);
	EXPECT_EQ(0, np_close(pd));
}

/* Readiness is an edge: the wait that sees it consumes it. */
TEST_F(rd, read_edge_consumed_second_wait_blocks_despite_unread_data)
{
	struct pollfd pfd = { .fd = self->rfd, .events = POLLIN };
	np_desc *pd;

	ASSERT_EQ(0, feed(self));
	npoll_test_sleep_ns(10 * NPT_MS);
	ASSERT_EQ(0, np_open(self->p, self->rfd, 1, &pd));
	ASSERT_EQ(0, np_set_deadline(pd, 10 * NPT_SEC, NP_READ));
	EXPECT_EQ(NP_OK, np_wait(pd, NP_READ));
	ASSERT_EQ(0, np_set_deadline(pd, 50 * NPT_MS, NP_READ));
	EXPECT_EQ(NP_ERR_TIMEOUT, np_wait(pd, NP_READ));
	/* The data is still there: only the edge was consumed. */
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(0, np_close(pd));
}

/*
 * reader: np_wait(READ) ... parked ......... NP_OK
 * writer:                  100 ms, write --^
 */
TEST_F(rd, new_data_wakes_parked_reader)
{
	struct npt_waiter w;
	uint64_t one = 1;
	struct npt_delayed d;
	np_desc *pd;

	ASSERT_EQ(0, np_open(self->p, self->rfd, 1, &pd));
	ASSERT_EQ(0, npt_waiter_start(&w, pd, NP_READ, NPT_WAIT));
	EXPECT_TRUE(npt_wait_waiters(self->p, 1));
	ASSERT_EQ(0, npt_delayed_write(&d, self->wfd, 100 * NPT_MS, &one,
				       sizeof(one)));
	EXPECT_TRUE(npt_waiter_join(&w));
	EXPECT_EQ(NP_OK, w.result);
	EXPECT_EQ(sizeof(one), npt_delayed_join(&d));
	EXPECT_EQ(0, npt_waiters(self->p));
	EXPECT_EQ(0, np_close(pd));
}

/* After the data was read to EAGAIN, new data is a new edge. */
TEST_F(rd, drained_then_new_data_is_a_new_edge)
{
	np_desc *pd;
	int i;

	ASSERT_EQ(0, np_open(self->p, self->rfd, 1, &pd));
	ASSERT_EQ(0, np_set_deadline(pd, 10 * NPT_SEC, NP_READ));
	for (i = 0; i < 20; i++) {
		ASSERT_EQ(0, feed(self));
		EXPECT_EQ(NP_OK, np_wait(pd, NP_READ));
		EXPECT_LT(0, npt_drain(self->rfd));
	}
	EXPECT_EQ(0, np_close(pd));
}

TEST(open_closed_fd_is_ebadf)
{
	np_poller *p;
	np_desc *pd = NULL;
	int fds[2];

	NPT_OPEN_POLLER(p);
	ASSERT_EQ(0, npt_pipe(fds));
	close(fds[0]);
	EXPECT_EQ(-EBADF, np_open(p, fds[0], 0, &pd));
	EXPECT_EQ(-EBADF, np_open(p, 1000000, 0, &pd));
	EXPECT_EQ(-EBADF, np_open(p, -1, 0, &pd));
	EXPECT_EQ(0, npt_descs(p));
	close(fds[1]);
	np_poller_close(p);
}

/*
 * A file with a poll method that hands over no wait queue (a /proc file
 * without its own poll) could never wake a waiter: it cannot be polled.
 */
TEST(open_file_without_wait_queue_is_eperm)
{
	np_poller *p;
	np_desc *pd;
	int fd;

	NPT_OPEN_POLLER(p);
	fd = open("/proc/version", O_RDONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(-EPERM, np_open(p, fd, 0, &pd));
	EXPECT_EQ(0, npt_descs(p));
	close(fd);
	np_poller_close(p);
}

TEST(open_regular_file_is_eperm)
{
	np_poller *p;
	np_desc *pd;
	int mfd, efd;

	NPT_OPEN_POLLER(p);
	mfd = memfd_create("npoll-regular", MFD_CLOEXEC);
	ASSERT_GE(mfd, 0);
	EXPECT_EQ(-EPERM, np_open(p, mfd, 0, &pd));
	efd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	ASSERT_GE(efd, 0);
	EXPECT_EQ(-EPERM, np_open(p, efd, 0, &pd));
	EXPECT_EQ(0, npt_descs(p));
	close(efd);
	close(mfd);
	np_poller_close(p);
}

/* The file, not the fd number, is what is registered. */
TEST(open_same_file_twice_is_eexist)
{
	np_poller *p, *q;
	np_desc *pd, *pd2, *qd;
	int sv[2], dfd;

	NPT_OPEN_POLLER(p);
	NPT_OPEN_POLLER(q);
	ASSERT_EQ(0, npt_unix_pair(sv));
	ASSERT_EQ(0, np_open(p, sv[0], 1, &pd));
	EXPECT_EQ(-EEXIST, np_open(p, sv[0], 2, &pd2));
	dfd = dup(sv[0]);
	ASSERT_GE(dfd, 0);
	EXPECT_EQ(-EEXIST, np_open(p, dfd, 3, &pd2));
	/* Another poller is another set. */
	EXPECT_EQ(0, np_open(q, sv[0], 4, &qd));
	EXPECT_EQ(1, npt_descs(p));
	/* Once closed, the file may be registered again. */
	EXPECT_EQ(0, np_close(pd));
	EXPECT_EQ(0, np_open(p, dfd, 5, &pd2));
	EXPECT_EQ(0, np_close(pd2));
	EXPECT_EQ(0, np_close(qd));
	close(dfd);
	close(sv[0]);
	close(sv[1]);
	np_poller_close(q);
	np_poller_close(p);
}

/*
 * Files that share one inode (every eventfd has the anonymous inode):
 * among a thousand of them each is told apart, a duplicate of any is
 * refused, and closing some in the middle keeps the others' places.
 */
TEST(same_file_among_a_thousand_eventfds_is_eexist)
{
	enum { N = 1000 };
	static np_desc *pd[N];
	static int efd[N];
	struct rlimit rl;
	np_poller *p;
	np_desc *x;
	int dfd;

	/* The user backend holds two duplicates of each. */
	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &rl));
	if (rl.rlim_max < 4 * N)
		SKIP(return, "hard RLIMIT_NOFILE %lu", (unsigned long)rl.rlim_max);
	rl.rlim_cur = rl.rlim_max;
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl));
	NPT_OPEN_POLLER(p);
	for (int i = 0; i < N; i++) {
		efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ASSERT_LE(0, efd[i]);
		ASSERT_EQ(0, np_open(p, efd[i], i, &pd[i])) TH_LOG("eventfd %d", i);
	}
	for (int i = 0; i < N; i += 7) {
		dfd = dup(efd[i]);
		ASSERT_LE(0, dfd);
		EXPECT_EQ(-EEXIST, np_open(p, dfd, 0, &x)) TH_LOG("eventfd %d", i);
		close(dfd);
	}
	for (int i = 1; i < N; i += 3)
		ASSERT_EQ(0, np_close(pd[i]));
	EXPECT_EQ(N - (N + 1) / 3, npt_descs(p));
	for (int i = 0; i < N; i++) {
		int want = i % 3 == 1 ? 0 : -EEXIST;

		dfd = dup(efd[i]);
		ASSERT_LE(0, dfd);
		ASSERT_EQ(want, np_open(p, dfd, i, &x)) TH_LOG("eventfd %d", i);
		if (want == 0)
			pd[i] = x;
		close(dfd);
	}
	EXPECT_EQ(N, npt_descs(p));
	/* Each registration is its own file's: a write wakes only it. */
	ASSERT_EQ(8, write(efd[N / 2], &(uint64_t){ 1 }, 8));
	EXPECT_EQ(NP_OK, np_wait(pd[N / 2], NP_READ));
	for (int i = 0; i < N; i++) {
		EXPECT_EQ(0, np_close(pd[i]));
		close(efd[i]);
	}
	EXPECT_EQ(0, npt_descs(p));
	np_poller_close(p);
}

/*
 * Where kcmp() is refused (container runtimes' default seccomp filters
 * refuse it without CAP_SYS_PTRACE), files of one inode still register
 * each on its own, and a socket's duplicate is still refused; the user
 * backend then cannot tell an eventfd's duplicate from another eventfd
 * (Documentation/userspace-backend.rst).
 */
TEST(registrations_where_kcmp_is_refused)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_kcmp, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };
	np_desc *pd[3], *x;
	int e[2], sv[2], dfd, ret, pid = getpid();
	np_poller *p;

	ASSERT_EQ(0, prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	ret = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
	if (ret && errno == EINVAL)
		SKIP(return, "no seccomp filters in this kernel (CONFIG_SECCOMP_FILTER)");
	ASSERT_EQ(0, ret);
	ASSERT_EQ(-1, syscall(SYS_kcmp, pid, pid, KCMP_FILE, 0, 0));
	ASSERT_EQ(EPERM, errno);
	NPT_OPEN_POLLER(p);
	for (int i = 0; i < 2; i++) {
		e[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ASSERT_LE(0, e[i]);
		ASSERT_EQ(0, np_open(p, e[i], i, &pd[i]));
	}
	ASSERT_EQ(0, npt_unix_pair(sv));
	ASSERT_EQ(0, np_open(p, sv[0], 2, &pd[2]));
	dfd = dup(sv[0]);
	ASSERT_LE(0, dfd);
	EXPECT_EQ(-EEXIST, np_open(p, dfd, 3, &x));
	close(dfd);
	dfd = dup(e[0]);
	ASSERT_LE(0, dfd);
	if (np_poller_backend(p) == NP_BACKEND_KERNEL) {
		EXPECT_EQ(-EEXIST, np_open(p, dfd, 4, &x));
	} else {
		ASSERT_EQ(0, np_open(p, dfd, 4, &x));
		EXPECT_EQ(0, np_close(x));
	}
	close(dfd);
	/* Both eventfds work, each on its own. */
	ASSERT_EQ(8, write(e[1], &(uint64_t){ 1 }, 8));
	EXPECT_EQ(NP_OK, np_wait(pd[1], NP_READ));
	EXPECT_EQ(0, np_set_deadline(pd[0], 1, NP_READ));
	EXPECT_EQ(NP_ERR_TIMEOUT, np_wait(pd[0], NP_READ));
	for (int i = 0; i < 3; i++)
		EXPECT_EQ(0, np_close(pd[i]));
	np_poller_close(p);
	close(e[0]);
	close(e[1]);
	close(sv[0]);
	close(sv[1]);
}

TEST(open_null_args_is_einval)
{
	np_poller *p;
	np_desc *pd;
	int sv[2];

	NPT_OPEN_POLLER(p);
	ASSERT_EQ(0, npt_unix_pair(sv));
	EXPECT_EQ(-EINVAL, np_open(NULL, sv[0], 0, &pd));
	EXPECT_EQ(-EINVAL, np_open(p, sv[0], 0, NULL));
	EXPECT_EQ(0, npt_descs(p));
	EXPECT_EQ(-EINVAL, np_stats(p, NULL));
	close(sv[0]);
	close(sv[1]);
	np_poller_close(p);
}

TEST(open_sets_o_nonblock)
{
	np_poller *p;
	np_desc *pd;
	int fds[2];

	NPT_OPEN_POLLER(p);
	ASSERT_EQ(0, npt_pipe(fds));
	ASSERT_EQ(0, fcntl(fds[0], F_GETFL) & O_NONBLOCK);
	ASSERT_EQ(0, np_open(p, fds[0], 0, &pd));
	EXPECT_NE(0, fcntl(fds[0], F_GETFL) & O_NONBLOCK);
	/* A read on the empty pipe now fails instead of blocking. */
	EXPECT_EQ(-1, read(fds[0], &pd, 1));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(0, np_close(pd));
	close(fds[0]);
	close(fds[1]);
	np_poller_close(p);
}

TEST(stats_descs_counts_open_descriptors)
{
	np_poller *p;
	np_desc *pd[8];
	int sv[8][2];
	int i;

	NPT_OPEN_POLLER(p);
	EXPECT_EQ(0, npt_descs(p));
	EXPECT_EQ(0, npt_waiters(p));
	for (i = 0; i < 8; i++) {
		ASSERT_EQ(0, npt_unix_pair(sv[i]));
		ASSERT_EQ(0, np_open(p, sv[i][0], i, &pd[i]));
		EXPECT_EQ(i + 1, npt_descs(p));
	}
	for (i = 0; i < 8; i++) {
		EXPECT_EQ(0, np_close(pd[i]));
		EXPECT_EQ(7 - i, npt_descs(p));
		close(sv[i][0]);
		close(sv[i][1]);
	}
	np_poller_close(p);
}

/* Every writable file at open: the first write wait is NP_OK at once. */
TEST(writable_at_open_first_write_wait_is_ok_at_once)
{
	int fds[5][2], i, efd;
	np_poller *p;
	np_desc *pd;

	NPT_OPEN_POLLER(p);
	ASSERT_EQ(0, npt_unix_pair(fds[0]));
	ASSERT_EQ(0, npt_tcp_pair(fds[1]));
	ASSERT_EQ(0, npt_udp_pair(fds[2]));
	ASSERT_EQ(0, npt_pipe(fds[3]));
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_GE(efd, 0);
	fds[4][0] = efd;
	fds[4][1] = -1;
	for (i = 0; i < 5; i++) {
		/* The pipe's write end is fds[3][1]. */
		int fd = i == 3 ? fds[i][1] : fds[i][0];

		ASSERT_EQ(0, np_open(p, fd, i, &pd));
		ASSERT_EQ(0, np_set_deadline(pd, 10 * NPT_SEC, NP_WRITE));
		EXPECT_EQ(NP_OK, np_wait(pd, NP_WRITE)) {
			TH_LOG("file kind %d", i);
		}
		EXPECT_EQ(0, np_close(pd));
	}
	for (i = 0; i < 5; i++) {
		close(fds[i][0]);
		if (fds[i][1] >= 0)
			close(fds[i][1]);
	}
	np_poller_close(p);
}

/*
 * Fill the buffer: the write wait blocks; the peer reading makes space,
 * which wakes the parked writer.  AF_UNIX stream and pipe.
 */
TEST(full_buffer_write_wait_blocks_until_space)
{
	int fds[2][2], i;
	np_poller *p;

	NPT_OPEN_POLLER(p);
	ASSERT_EQ(0, npt_unix_pair(fds[0]));
	ASSERT_EQ(0, npt_pipe(fds[1]));
	for (i = 0; i < 2; i++) {
		int wfd = i == 0 ? fds[i][0] : fds[i][1];
		int rfd = i == 0 ? fds[i][1] : fds[i][0];
		struct npt_waiter w;
		np_desc *pd;

		ASSERT_EQ(0, np_open(p, wfd, i, &pd));
		EXPECT_EQ(NP_OK, np_wait(pd, NP_WRITE));
		EXPECT_LT(0, npt_fill(wfd));
		ASSERT_EQ(0, np_set_deadline(pd, 50 * NPT_MS, NP_WRITE));
		EXPECT_EQ(NP_ERR_TIMEOUT, np_wait(pd, NP_WRITE));
		ASSERT_EQ(0, np_set_deadline(pd, 0, NP_WRITE));
		ASSERT_EQ(0, npt_waiter_start(&w, pd, NP_WRITE, NPT_WAIT));
		EXPECT_TRUE(npt_wait_waiters(p, 1));
		fcntl(rfd, F_SETFL, O_NONBLOCK);
		EXPECT_LT(0, npt_drain(rfd));
		EXPECT_TRUE(npt_waiter_join(&w));
		EXPECT_EQ(NP_OK, w.result);
		EXPECT_EQ(0, np_close(pd));
		close(fds[i][0]);
		close(fds[i][1]);
	}
	np_poller_close(p);
}

/*
 * A UDP socket connected to a closed loopback port gets ICMP port
 * unreachable for what it sends: EPOLLERR.  Read waits then fail with
 * NP_ERR_NOT_POLLABLE (once a readiness edge, if any, is consumed);
 * write waits are not affected.
 */
static int udp_with_error(np_poller *p, int *fdp, np_desc **pdp)
{
	struct sockaddr_in sin;
	int fd, i, r = -1;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	npt_loopback(&sin, npt_closed_port(SOCK_DGRAM));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    np_open(p, fd, 7, pdp)) {
		close(fd);
		return -1;
	}
	np_set_deadline(*pdp, 10 * NPT_SEC, NP_READ);
	if (send(fd, "x", 1, 0) != 1)
		return -1;
	for (i = 0; i < 3; i++) {
		r = np_wait(*pdp, NP_READ);
		if (r != NP_OK)
			break;
	}
	np_set_deadline(*pdp, 0, NP_READ);
	*fdp = fd;
	return r;
}

TEST(udp_icmp_error_is_not_pollable_for_read_only)
{
	np_poller *p;
	np_desc *pd;
	int fd;

	NPT_OPEN_POLLER(p);
	ASSERT_EQ(NP_ERR_NOT_POLLABLE, udp_with_error(p, &fd, &pd));
	/* It sticks: every later read wait and reset report it. */
	EXPECT_EQ(NP_ERR_NOT_POLLABLE, np_wait(pd, NP_READ));
	EXPECT_EQ(NP_ERR_NOT_POLLABLE, np_reset(pd, NP_READ));
	/* Write mode: the socket was writable at open, no error code. */
	EXPECT_EQ(NP_OK, np_wait(pd, NP_WRITE));
	EXPECT_EQ(NP_OK, np_reset(pd, NP_WRITE));
	EXPECT_EQ(0, np_close(pd));
	close(fd);
	np_poller_close(p);
}

/*
 * A non-blocking TCP connect to a closed loopback port: the reset wakes
 * the socket with its state change and then with EPOLLERR alone, but
 * the socket reports hang-up and EOF with the error: no error event, as
 * in Go.  Both waits see readiness; the connect's result is the
 * socket's error.
 */
TEST(tcp_refused_connect_is_readiness_not_error_event)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(int);
	np_poller *p;
	np_desc *pd;
	int fd, r, err = 0;

	NPT_OPEN_POLLER(p);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_GE(fd, 0);
	/* Registered before the connect, so the error comes after open. */
	ASSERT_EQ(0, np_open(p, fd, 1, &pd));
	EXPECT_EQ(NP_OK, np_reset(pd, NP_READ));
	EXPECT_EQ(NP_OK, np_reset(pd, NP_WRITE));
	npt_loopback(&sin, npt_closed_port(SOCK_STREAM));
	r = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
	EXPECT_TRUE(r == 0 || errno == EINPROGRESS || errno == ECONNREFUSED);
	ASSERT_EQ(0, np_set_deadline(pd, 10 * NPT_SEC, NP_RW));
	EXPECT_EQ(NP_OK, np_wait(pd, NP_WRITE));
	EXPECT_EQ(NP_OK, np_wait(pd, NP_READ));
	EXPECT_EQ(0, getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len));
	if (r)
		EXPECT_EQ(ECONNREFUSED, err);
	EXPECT_EQ(0, np_close(pd));
	close(fd);
	np_poller_close(p);
}

/* netpollcheckerr order: closing > expired deadline > error event. */
TEST(error_precedence_closing_over_timeout_over_error_event)
{
	np_poller *p;
	np_desc *pd;
	int fd;

	NPT_OPEN_POLLER(p);
	ASSERT_EQ(NP_ERR_NOT_POLLABLE, udp_with_error(p, &fd, &pd));
	ASSERT_EQ(0, np_set_deadline(pd, -1, NP_READ));
	EXPECT_EQ(NP_ERR_TIMEOUT, np_wait(pd, NP_READ));
	EXPECT_EQ(NP_ERR_TIMEOUT, np_reset(pd, NP_READ));
	/* Cleared deadline: the error event shows again. */
	ASSERT_EQ(0, np_set_deadline(pd, 0, NP_READ));
	EXPECT_EQ(NP_ERR_NOT_POLLABLE, np_wait(pd, NP_READ));
	ASSERT_EQ(0, np_set_deadline(pd, -1, NP_RW));
	EXPECT_EQ(0, np_unblock(pd));
	EXPECT_EQ(NP_ERR_CLOSING, np_wait(pd, NP_READ));
	EXPECT_EQ(NP_ERR_CLOSING, np_reset(pd, NP_READ));
	EXPECT_EQ(NP_ERR_CLOSING, np_wait(pd, NP_WRITE));
	EXPECT_EQ(NP_ERR_CLOSING, np_reset(pd, NP_WRITE));
	EXPECT_EQ(0, np_close(pd));
	close(fd);
	np_poller_close(p);
}

/* Timeout outranks readiness that is pending. */
TEST(expired_deadline_outranks_pending_readiness)
{
	np_poller *p;
	np_desc *pd;
	int sv[2];

	NPT_OPEN_POLLER(p);
	ASSERT_EQ(0, npt_unix_pair(sv));
	ASSERT_EQ(1, write(sv[1], "x", 1));
	ASSERT_EQ(0, np_open(p, sv[0], 1, &pd));
	ASSERT_EQ(0, np_set_deadline(pd, -1, NP_READ));
	EXPECT_EQ(NP_ERR_TIMEOUT, np_wait(pd, NP_READ));
	/* Readiness was not consumed by the failed wait. */
	ASSERT_EQ(0, np_set_deadline(pd, 10 * NPT_SEC, NP_READ));
	EXPECT_EQ(NP_OK, np_wait(pd, NP_READ));
	EXPECT_EQ(0, np_close(pd));
	close(sv[0]);
	close(sv[1]);
	np_poller_close(p);
}

TEST(reset_clears_pending_readiness)
{
	np_poller *p;
	np_desc *pd;
	int sv[2];

	NPT_OPEN_POLLER(p);
	ASSERT_EQ(0, npt_tcp_pair(sv));
	ASSERT_EQ(1, write(sv[1], "x", 1));
	npoll_test_sleep_ns(10 * NPT_MS);
	ASSERT_EQ(0, np_open(p, sv[0], 1, &pd));
	EXPECT_EQ(NP_OK, np_reset(pd, NP_READ));
	ASSERT_EQ(0, np_set_deadline(pd, 50 * NPT_MS, NP_READ));
	EXPECT_EQ(NP_ERR_TIMEOUT, np_wait(pd, NP_READ));
	/* Write readiness was another mode: still pending. */
	EXPECT_EQ(NP_OK, np_wait(pd, NP_WRITE));
	EXPECT_EQ(0, np_close(pd));
	close(sv[0]);
	close(sv[1]);
	np_poller_close(p);
}

TEST(reset_returns_applying_error)
{
	np_poller *p;
	np_desc *pd;
	int sv[2];

	NPT_OPEN_UNIX(p, sv, pd);
	EXPECT_EQ(NP_OK, np_reset(pd, NP_READ));
	ASSERT_EQ(0, np_set_deadline(pd, -1, NP_WRITE));
	EXPECT_EQ(NP_ERR_TIMEOUT, np_reset(pd, NP_WRITE));
	EXPECT_EQ(NP_OK, np_reset(pd, NP_READ));
	EXPECT_EQ(0, np_unblock(pd));
	EXPECT_EQ(NP_ERR_CLOSING, np_reset(pd, NP_READ));
	EXPECT_EQ(NP_ERR_CLOSING, np_reset(pd, NP_WRITE));
	EXPECT_EQ(0, np_close(pd));
	close(sv[0]);
	close(sv[1]);
	np_poller_close(p);
}

TEST(bad_mode_is_einval)
{
	static const int bad[] = { 0, NP_RW, 4, 8, -1, 0x101 };
	np_poller *p;
	np_desc *pd;
	unsigned int i;
	int sv[2];

	NPT_OPEN_UNIX(p, sv, pd);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, np_wait(pd, bad[i]));
		EXPECT_EQ(-EINVAL, np_wait_canceled(pd, bad[i]));
		EXPECT_EQ(-EINVAL, np_reset(pd, bad[i]));
	}
	/* NP_RW is valid for deadlines only. */
	EXPECT_EQ(-EINVAL, np_set_deadline(pd, NPT_SEC, 0));
	EXPECT_EQ(-EINVAL, np_set_deadline(pd, NPT_SEC, 4));
	EXPECT_EQ(0, np_set_deadline(pd, NPT_SEC, NP_RW));
	EXPECT_EQ(0, npt_waiters(p));
	EXPECT_EQ(0, np_close(pd));
	close(sv[0]);
	close(sv[1]);
	np_poller_close(p);
}

/* Go throws "double wait"; npoll answers -EBUSY at once. */
TEST(second_waiter_same_mode_is_ebusy)
{
	struct npt_waiter w;
	np_poller *p;
	np_desc *pd;
	int sv[2];

	NPT_OPEN_UNIX(p, sv, pd);
	ASSERT_EQ(0, npt_waiter_start(&w, pd, NP_READ, NPT_WAIT));
	ASSERT_TRUE(npt_wait_waiters(p, 1));
	EXPECT_EQ(-EBUSY, np_wait(pd, NP_READ));
	EXPECT_EQ(-EBUSY, np_wait(pd, NP_READ));
	/* The first waiter is not disturbed. */
	EXPECT_FALSE(atomic_load(&w.done));
	EXPECT_EQ(1, npt_waiters(p));
	ASSERT_EQ(1, write(sv[1], "x", 1));
	EXPECT_TRUE(npt_waiter_join(&w));
	EXPECT_EQ(NP_OK, w.result);
	EXPECT_EQ(0, npt_waiters(p));
	EXPECT_EQ(0, np_close(pd));
	close(sv[0]);
	close(sv[1]);
	np_poller_close(p);
}

/*
 * reader: parked on READ ........ NP_OK
 * writer: parked on WRITE ...................... NP_OK
 * main:          write to peer --^   drain peer --^
 */
TEST(reader_and_writer_wait_independently)
{
	struct npt_waiter r, w;
	np_poller *p;
	np_desc *pd;
	int sv[2];

	NPT_OPEN_UNIX(p, sv, pd);
	EXPECT_EQ(NP_OK, np_wait(pd, NP_WRITE));
	EXPECT_LT(0, npt_fill(sv[0]));
	ASSERT_EQ(0, npt_waiter_start(&r, pd, NP_READ, NPT_WAIT));
	ASSERT_EQ(0, npt_waiter_start(&w, pd, NP_WRITE, NPT_WAIT));
	EXPECT_TRUE(npt_wait_waiters(p, 2));
	ASSERT_EQ(1, write(sv[1], "x", 1));
	EXPECT_TRUE(npt_waiter_join(&r));
	EXPECT_EQ(NP_OK, r.result);
	npoll_test_sleep_ns(150 * NPT_MS);
	EXPECT_FALSE(atomic_load(&w.done));
	EXPECT_EQ(1, npt_waiters(p));
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	EXPECT_LT(0, npt_drain(sv[1]));
	EXPECT_TRUE(npt_waiter_join(&w));
	EXPECT_EQ(NP_OK, w.result);
	EXPECT_EQ(0, npt_waiters(p));
	EXPECT_EQ(0, np_close(pd));
	close(sv[0]);
	close(sv[1]);
	np_poller_close(p);
}

static atomic_int sig_count;

static void count_signal(int sig)
{
	atomic_fetch_add(&sig_count, 1);
}

static void set_handler(int restart)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = count_signal;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
}

static void clear_handler(void)
{
	signal(SIGUSR1, SIG_DFL);
}

/* A handler with SA_RESTART runs; the wait goes on until readiness. */
TEST(sa_restart_signal_does_not_end_wait)
{
	struct npt_waiter w;
	np_poller *p;
	np_desc *pd;
	int sv[2];

	NPT_OPEN_POLLER(p);
	set_handler(1);
	atomic_store(&sig_count, 0);
	ASSERT_EQ(0, npt_udp_pair(sv));
	ASSERT_EQ(0, np_open(p, sv[0], 1, &pd));
	ASSERT_EQ(0, npt_waiter_start(&w, pd, NP_READ, NPT_WAIT));
	ASSERT_TRUE(npt_wait_waiters(p, 1));
	EXPECT_EQ(0, pthread_kill(w.th, SIGUSR1));
	npoll_test_sleep_ns(150 * NPT_MS);
	EXPECT_EQ(1, atomic_load(&sig_count));
	EXPECT_FALSE(atomic_load(&w.done));
	EXPECT_TRUE(npt_wait_waiters(p, 1));
	ASSERT_EQ(1, send(sv[1], "x", 1, 0));
	EXPECT_TRUE(npt_waiter_join(&w));
	EXPECT_EQ(NP_OK, w.result);
	clear_handler();
	EXPECT_EQ(0, np_close(pd));
	close(sv[0]);
	close(sv[1]);
	np_poller_close(p);
}

/* A restarted wait keeps the absolute deadline: it is not pushed back. */
TEST(sa_restart_signal_keeps_deadline)
{
	struct npt_waiter w;
	int64_t deadline;
	np_poller *p;
	np_desc *pd;
	int sv[2], i;

	NPT_OPEN_POLLER(p);
	set_handler(1);
	atomic_store(&sig_count, 0);
	ASSERT_EQ(0, npt_unix_pair(sv));
	ASSERT_EQ(0, np_open(p, sv[0], 1, &pd));
	deadline = npoll_test_now() + 400 * NPT_MS;
	ASSERT_EQ(0, np_set_deadline_at(pd, deadline, NP_READ));
	ASSERT_EQ(0, npt_waiter_start(&w, pd, NP_READ, NPT_WAIT));
	ASSERT_TRUE(npt_wait_waiters(p, 1));
	for (i = 0; i < 5 && !atomic_load(&w.done); i++) {
		pthread_kill(w.th, SIGUSR1);
		npoll_test_sleep_ns(20 * NPT_MS);
	}
	EXPECT_TRUE(npt_waiter_join(&w));
	EXPECT_EQ(NP_ERR_TIMEOUT, w.result);
	EXPECT_GE(w.woke_ns, deadline);
	EXPECT_LE(1, atomic_load(&sig_count));
	clear_handler();
	EXPECT_EQ(0, np_close(pd));
	close(sv[0]);
	close(sv[1]);
	np_poller_close(p);
}

/* Without SA_RESTART the wait returns -EINTR; the descriptor is intact. */
TEST(signal_without_sa_restart_is_eintr)
{
	struct npt_waiter w;
	np_poller *p;
	np_desc *pd;
	int fds[2];

	NPT_OPEN_POLLER(p);
	set_handler(0);
	atomic_store(&sig_count, 0);
	ASSERT_EQ(0, npt_pipe(fds));
	ASSERT_EQ(0, np_open(p, fds[0], 1, &pd));
	ASSERT_EQ(0, npt_waiter_start(&w, pd, NP_READ, NPT_WAIT));
	ASSERT_TRUE(npt_wait_waiters(p, 1));
	EXPECT_EQ(0, pthread_kill(w.th, SIGUSR1));
	EXPECT_TRUE(npt_waiter_join(&w));
	EXPECT_EQ(-EINTR, w.result);
	EXPECT_EQ(1, atomic_load(&sig_count));
	EXPECT_EQ(0, npt_waiters(p));
	/* The slot is free again: a new wait works. */
	ASSERT_EQ(0, npt_waiter_start(&w, pd, NP_READ, NPT_WAIT));
	ASSERT_TRUE(npt_wait_waiters(p, 1));
	ASSERT_EQ(1, write(fds[1], "x", 1));
	EXPECT_TRUE(npt_waiter_join(&w));
	EXPECT_EQ(NP_OK, w.result);
	clear_handler();
	EXPECT_EQ(0, np_close(pd));
	close(fds[0]);
	close(fds[1]);
	np_poller_close(p);
}

/*
 * np_wait_canceled: an expired deadline and np_unblock do not end it;
 * readiness does.
 */
TEST(wait_canceled_ignores_deadline_and_unblock)
{
	struct npt_waiter w;
	uint64_t one = 1;
	np_poller *p;
	np_desc *pd;
	int efd;

	NPT_OPEN_POLLER(p);
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_GE(efd, 0);
	ASSERT_EQ(0, np_open(p, efd, 1, &pd));
	ASSERT_EQ(0, np_set_deadline(pd, -1, NP_READ));
	ASSERT_EQ(0, npt_waiter_start(&w, pd, NP_READ, NPT_WAIT_CANCELED));
	ASSERT_TRUE(npt_wait_waiters(p, 1));
	npoll_test_sleep_ns(100 * NPT_MS);
	EXPECT_FALSE(atomic_load(&w.done));
	EXPECT_EQ(0, np_unblock(pd));
	npoll_test_sleep_ns(150 * NPT_MS);
	EXPECT_FALSE(atomic_load(&w.done));
	EXPECT_EQ(1, npt_waiters(p));
	ASSERT_EQ(sizeof(one), write(efd, &one, sizeof(one)));
	EXPECT_TRUE(npt_waiter_join(&w));
	EXPECT_EQ(NP_OK, w.result);
	EXPECT_EQ(0, npt_waiters(p));
	/* A plain wait reports the closing the canceled one ignored. */
	EXPECT_EQ(NP_ERR_CLOSING, np_wait(pd, NP_READ));
	EXPECT_EQ(0, np_close(pd));
	close(efd);
	np_poller_close(p);
}

/* np_stats waiters counts each parked thread, over several descriptors. */
TEST(stats_waiters_counts_parked_threads)
{
	struct npt_waiter w[4];
	np_poller *p;
	np_desc *pd[4];
	int sv[4][2], i;

	NPT_OPEN_POLLER(p);
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, npt_unix_pair(sv[i]));
		ASSERT_EQ(0, np_open(p, sv[i][0], i, &pd[i]));
		ASSERT_EQ(0, npt_waiter_start(&w[i], pd[i], NP_READ, NPT_WAIT));
		EXPECT_TRUE(npt_wait_waiters(p, i + 1));
	}
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(1, write(sv[i][1], "x", 1));
		EXPECT_TRUE(npt_waiter_join(&w[i]));
		EXPECT_EQ(NP_OK, w[i].result);
		EXPECT_EQ(3 - i, npt_waiters(p));
	}
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(0, np_close(pd[i]));
		close(sv[i][0]);
		close(sv[i][1]);
	}
	EXPECT_EQ(0, npt_descs(p));
	np_poller_close(p);
}

struct cancel_reader {
	np_desc *pd;
	atomic_int returned;
	long result;
};

static void *cancel_reader_fn(void *arg)
{
	struct cancel_reader *c = arg;
	char b;

	c->result = np_read(c->pd, &b, 1);
	atomic_store(&c->returned, 1);
	pthread_testcancel();
	return NULL;
}

/*
 * A wait is no cancellation point (the module's ioctl is none): a thread
 * cancelled while parked stays parked, still counted, until its file is
 * ready, and is cancelled at the next cancellation point after it.
 */
TEST(cancelled_parked_reader_finishes_its_wait_first)
{
	struct cancel_reader c = { 0 };
	np_poller *p;
	void *ret;
	int sv[2];

	NPT_OPEN_UNIX(p, sv, c.pd);
	{
		pthread_t th;

		ASSERT_EQ(0, pthread_create(&th, NULL, cancel_reader_fn, &c));
		ASSERT_TRUE(npt_wait_waiters(p, 1));
		ASSERT_EQ(0, pthread_cancel(th));
		npoll_test_sleep_ns(50 * NPT_MS);
		EXPECT_EQ(0, atomic_load(&c.returned));
		EXPECT_EQ(1, npt_waiters(p));
		ASSERT_EQ(1, write(sv[1], "c", 1));
		ASSERT_EQ(0, pthread_join(th, &ret));
		EXPECT_EQ(PTHREAD_CANCELED, ret);
		EXPECT_EQ(1, atomic_load(&c.returned));
		EXPECT_EQ(1, c.result);
	}
	EXPECT_EQ(0, npt_waiters(p));
	/* The poller is whole: a new wait on the descriptor works. */
	EXPECT_EQ(0, np_set_deadline(c.pd, 20 * NPT_MS, NP_READ));
	EXPECT_EQ(NP_ERR_TIMEOUT, np_wait(c.pd, NP_READ));
	EXPECT_EQ(0, np_close(c.pd));
	np_poller_close(p);
	close(sv[0]);
	close(sv[1]);
}

/*
 * A user-space poller does not cross a fork(): its thread stays in the
 * parent.  In the child every call on the parent's poller fails at once
 * (none hangs waiting for readiness nobody delivers), np_poller_close
 * frees the child's copy, and the parent's poller is unharmed.  (The
 * module's poller is one open file, shared by the child: process_test.)
 */
TEST(user_poller_in_a_forked_child_fails_at_once)
{
	np_poller *p;
	np_desc *pd;
	int sv[2], st;
	pid_t pid;

	NPT_OPEN_UNIX(p, sv, pd);
	if (np_poller_backend(p) != NP_BACKEND_USER) {
		np_close(pd);
		np_poller_close(p);
		SKIP(return, "the module's poller is shared with a child");
	}
	ASSERT_EQ(1, write(sv[1], "f", 1));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char b;
		int bad = 0;

		alarm(20);
		bad |= np_wait(pd, NP_READ) == NP_OK;
		bad |= (np_read(pd, &b, 1) >= 0) << 1;
		np_poller_close(p);
		_exit(bad);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st)) TH_LOG("status %#x", st);
	EXPECT_EQ(0, WEXITSTATUS(st));
	/* The parent's poller still works. */
	EXPECT_EQ(NP_OK, np_wait(pd, NP_READ));
	EXPECT_EQ(0, np_close(pd));
	np_poller_close(p);
	close(sv[0]);
	close(sv[1]);
}

TEST_HARNESS_MAIN
