// SPDX-License-Identifier: GPL-2.0
/*
 * Lifetime across processes: POLLFREE of a signalfd whose sighand dies
 * with a waiter parked on it; the registered fd closed by the user while
 * waiters are parked; a poller passed over SCM_RIGHTS and used by the
 * receiver; fork (the child shares the very same poller); exec with and
 * without O_CLOEXEC on the poller fd; module unload refused while any
 * poller file exists (open in a process, in flight in an SCM_RIGHTS
 * message, or held by a call whose fd was closed under it).
 *
 * Files released by the module are observed from outside: a registered
 * socket's peer reads EOF only once the last reference (the poller's)
 * is gone.  kmemleak (debug guest) covers the rest at the end of the run.
 */
#include <stdio.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "npoll_test_util.h"

/* --- helpers ------------------------------------------------------------ */

/* Send @fd (or none if < 0) and @data over the AF_UNIX socket @sock. */
static int send_fd(int sock, int fd, const void *data, size_t len)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (fd >= 0) {
		msg.msg_control = cbuf;
		msg.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return sendmsg(sock, &msg, 0) == (ssize_t)len ? 0 : -errno;
}

/* Receive @len bytes and, if one came along, an fd into *@fd (else -1). */
static int recv_fd(int sock, int *fd, void *data, size_t len)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = data, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	ssize_t n;

	*fd = -1;
	n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	if (n != (ssize_t)len)
		return n < 0 ? -errno : -EIO;
	cm = CMSG_FIRSTHDR(&msg);
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(cm), sizeof(int));
	return 0;
}

static int ctl_pair(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) ? -errno : 0;
}

static int put_u64(int fd, uint64_t v)
{
	return write(fd, &v, sizeof(v)) == sizeof(v) ? 0 : -EIO;
}

static uint64_t get_u64(int fd)
{
	uint64_t v = 0;

	return read(fd, &v, sizeof(v)) == sizeof(v) ? v : ~0ULL;
}

/* Blocking wait for the child, then its exit code (or 128 + signal). */
static int reap(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* Poll the raw poller @dev until @n threads are parked in it. */
static bool wait_parked(int dev, long n)
{
	int64_t end = npoll_test_now() + NPT_PATIENCE;

	while (npt_raw_stat(dev, true) != n) {
		if (npoll_test_now() > end)
			return false;
		npoll_test_sleep_ns(NPT_MS);
	}
	return true;
}

/* Non-blocking: 1 the stream @fd is at EOF, 0 it is not (EAGAIN), -errno. */
static int at_eof(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);

	if (n == 0)
		return 1;
	if (n < 0 && errno == EAGAIN)
		return 0;
	return n < 0 ? -errno : 0;
}

/* --- POLLFREE ------------------------------------------------------------ */

/*
 * A signalfd's poll queue is the sighand of the process that polls it,
 * i.e. of the process that registers it with npoll, not of the one that
 * created it.  The child here creates the signalfd *and* registers it in
 * a poller it got from the parent over SCM_RIGHTS, then hands the
 * signalfd and the handle to the parent.  The parent parks a waiter and
 * lets the child exit: the child's sighand is freed, its queue is woken
 * with POLLFREE (carrying EPOLLHUP), so the waiter returns NPOLL_OK and
 * the descriptor must never touch the freed queue again (KASAN).
 */
TEST(pollfree_with_waiter_parked_when_the_registering_process_exits)
{
	int dev = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	int sv[2], sfd, i;
	struct npt_raw_waiter w;
	uint64_t h;
	sigset_t set;
	pid_t pid;
	char c;

	ASSERT_LE(0, dev);
	ASSERT_EQ(0, ctl_pair(sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		uint64_t handle = 0;
		int s, d;

		close(sv[0]);
		close(dev);
		if (recv_fd(sv[1], &d, &c, 1) || d < 0)
			_exit(1);
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigprocmask(SIG_BLOCK, &set, NULL);
		s = signalfd(-1, &set, SFD_CLOEXEC);
		if (s < 0 || npt_raw_open(d, s, 42, &handle))
			_exit(2);
		if (send_fd(sv[1], s, &handle, sizeof(handle)))
			_exit(3);
		/* Live until the parent has parked its waiter. */
		if (read(sv[1], &c, 1) != 1)
			_exit(4);
		_exit(0);
	}
	close(sv[1]);
	ASSERT_EQ(0, send_fd(sv[0], dev, "p", 1));
	ASSERT_EQ(0, recv_fd(sv[0], &sfd, &h, sizeof(h)));
	ASSERT_LE(0, sfd);
	ASSERT_EQ(1, npt_raw_stat(dev, false));

	/* No signal is pending: the waiter parks. */
	ASSERT_EQ(0, npt_raw_waiter_start(&w, dev, h, NPOLL_MODE_READ));
	ASSERT_TRUE(wait_parked(dev, 1));
	ASSERT_EQ(1, write(sv[0], "x", 1));
	ASSERT_EQ(0, reap(pid));
	ASSERT_TRUE(npt_raw_waiter_join(&w)) {
		/* Do not leave the thread behind. */
		npt_raw_handle(dev, NPOLL_IOC_UNBLOCK, h);
		npt_raw_waiter_join(&w);
	}
	EXPECT_EQ(NPOLL_OK, w.result);
	EXPECT_EQ(0, npt_raw_stat(dev, true));

	/* Detached: nothing wakes it any more, a deadline still does. */
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, npt_raw_deadline(dev, h, 20 * NPT_MS,
					      NPOLL_MODE_READ, 0));
		EXPECT_EQ(NPOLL_ERR_TIMEOUT, npt_raw_wait(dev, NPOLL_IOC_WAIT, h,
							  NPOLL_MODE_READ, 0));
	}
	EXPECT_EQ(0, npt_raw_handle(dev, NPOLL_IOC_UNBLOCK, h));
	EXPECT_EQ(0, npt_raw_handle(dev, NPOLL_IOC_CLOSE, h));
	EXPECT_EQ(0, npt_raw_stat(dev, false));

	/* Registered here, the same signalfd hooks this process's sighand. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	ASSERT_EQ(0, sigprocmask(SIG_BLOCK, &set, NULL));
	ASSERT_EQ(0, npt_raw_open(dev, sfd, 43, &h));
	ASSERT_EQ(0, npt_raw_waiter_start(&w, dev, h, NPOLL_MODE_READ));
	ASSERT_TRUE(wait_parked(dev, 1));
	ASSERT_EQ(0, kill(getpid(), SIGUSR1));
	ASSERT_TRUE(npt_raw_waiter_join(&w));
	EXPECT_EQ(NPOLL_OK, w.result);
	{
		struct signalfd_siginfo si;

		EXPECT_EQ((ssize_t)sizeof(si), read(sfd, &si, sizeof(si)));
		EXPECT_EQ(SIGUSR1, (int)si.ssi_signo);
	}
	EXPECT_EQ(0, npt_raw_handle(dev, NPOLL_IOC_CLOSE, h));
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	close(sfd);
	close(sv[0]);
	/* The poller and its (POLLFREE'd) past are released cleanly. */
	EXPECT_EQ(0, close(dev));
}

/*
 * The creator of a signalfd exiting is no event for npoll: the parent
 * registers a signalfd it received from a child that has exited since,
 * and the registration follows the parent's own signals.
 */
TEST(signalfd_from_an_exited_creator_follows_the_registering_process)
{
	int dev = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	struct npt_raw_waiter w;
	int sv[2], sfd;
	sigset_t set;
	uint64_t h;
	pid_t pid;
	char c;

	ASSERT_LE(0, dev);
	ASSERT_EQ(0, ctl_pair(sv));
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int s = signalfd(-1, &set, SFD_CLOEXEC);

		_exit(s < 0 || send_fd(sv[1], s, "s", 1) ? 1 : 0);
	}
	close(sv[1]);
	ASSERT_EQ(0, recv_fd(sv[0], &sfd, &c, 1));
	ASSERT_LE(0, sfd);
	ASSERT_EQ(0, reap(pid));
	ASSERT_EQ(0, sigprocmask(SIG_BLOCK, &set, NULL));
	ASSERT_EQ(0, npt_raw_open(dev, sfd, 1, &h));
	ASSERT_EQ(0, npt_raw_waiter_start(&w, dev, h, NPOLL_MODE_READ));
	ASSERT_TRUE(wait_parked(dev, 1));
	ASSERT_EQ(0, kill(getpid(), SIGUSR2));
	ASSERT_TRUE(npt_raw_waiter_join(&w));
	EXPECT_EQ(NPOLL_OK, w.result);
	{
		struct signalfd_siginfo si;

		EXPECT_EQ((ssize_t)sizeof(si), read(sfd, &si, sizeof(si)));
	}
	EXPECT_EQ(0, npt_raw_handle(dev, NPOLL_IOC_CLOSE, h));
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	close(sfd);
	close(sv[0]);
	close(dev);
}

/* --- the user closes the registered fd --------------------------------- */

/*
 * A registered socket whose fd the program closes while a reader and a
 * writer are parked: the registration holds the file, so the peer sees
 * no EOF, both waiters stay parked and readiness still reaches them;
 * np_close then ends a parked waiter with NP_ERR_CLOSING and releases
 * the file (the peer reads EOF).
 */
TEST(close_of_the_registered_fd_with_waiters_parked)
{
	struct npt_waiter rd, wr;
	np_poller *p;
	np_desc *pd;
	int sv[2];

	NPT_OPEN_POLLER(p);
	ASSERT_EQ(0, npt_unix_pair(sv));
	ASSERT_EQ(0, fcntl(sv[1], F_SETFL, O_NONBLOCK));
	ASSERT_EQ(0, np_open(p, sv[0], 1, &pd));
	npt_fill(sv[0]);
	ASSERT_EQ(NP_OK, np_reset(pd, NP_WRITE));
	ASSERT_EQ(NP_OK, np_reset(pd, NP_READ));
	ASSERT_EQ(0, npt_waiter_start(&rd, pd, NP_READ, NPT_WAIT));
	ASSERT_EQ(0, npt_waiter_start(&wr, pd, NP_WRITE, NPT_WAIT));
	ASSERT_TRUE(npt_wait_waiters(p, 2));

	ASSERT_EQ(0, close(sv[0]));
	npoll_test_sleep_ns(50 * NPT_MS);
	EXPECT_EQ(0, at_eof(sv[1]));
	EXPECT_EQ(2, npt_waiters(p));
	EXPECT_FALSE(atomic_load(&rd.done));
	EXPECT_FALSE(atomic_load(&wr.done));

	/* The file lives on: data and buffer space still wake the waiters. */
	ASSERT_EQ(1, write(sv[1], "x", 1));
	ASSERT_TRUE(npt_waiter_join(&rd));
	EXPECT_EQ(NP_OK, rd.result);
	npt_drain(sv[1]);
	ASSERT_TRUE(npt_waiter_join(&wr));
	EXPECT_EQ(NP_OK, wr.result);

	/* Park again, then np_close: NP_ERR_CLOSING, and the file goes. */
	ASSERT_EQ(0, npt_waiter_start(&rd, pd, NP_READ, NPT_WAIT));
	ASSERT_TRUE(npt_wait_waiters(p, 1));
	EXPECT_EQ(0, at_eof(sv[1]));
	EXPECT_EQ(0, np_close(pd));
	ASSERT_TRUE(npt_waiter_join(&rd));
	EXPECT_EQ(NP_ERR_CLOSING, rd.result);
	EXPECT_EQ(0, npt_descs(p));
	EXPECT_EQ(0, npt_waiters(p));
	EXPECT_TRUE(npt_sees_eof(sv[1]));
	close(sv[1]);
	np_poller_close(p);
}

/* The same with np_unblock first, and a canceled wait that only close ends. */
TEST(close_of_the_registered_fd_then_unblock_and_close)
{
	struct npt_waiter rd, wr, cw;
	np_poller *p;
	np_desc *pd;
	int sv[2];

	NPT_OPEN_POLLER(p);
	ASSERT_EQ(0, npt_unix_pair(sv));
	ASSERT_EQ(0, fcntl(sv[1], F_SETFL, O_NONBLOCK));
	ASSERT_EQ(0, np_open(p, sv[0], 1, &pd));
	npt_fill(sv[0]);
	ASSERT_EQ(NP_OK, np_reset(pd, NP_WRITE));
	ASSERT_EQ(NP_OK, np_reset(pd, NP_READ));
	ASSERT_EQ(0, npt_waiter_start(&rd, pd, NP_READ, NPT_WAIT));
	ASSERT_EQ(0, npt_waiter_start(&wr, pd, NP_WRITE, NPT_WAIT));
	ASSERT_TRUE(npt_wait_waiters(p, 2));
	ASSERT_EQ(0, close(sv[0]));

	EXPECT_EQ(0, np_unblock(pd));
	ASSERT_TRUE(npt_waiter_join(&rd));
	ASSERT_TRUE(npt_waiter_join(&wr));
	EXPECT_EQ(NP_ERR_CLOSING, rd.result);
	EXPECT_EQ(NP_ERR_CLOSING, wr.result);
	EXPECT_EQ(0, at_eof(sv[1]));
	npt_drain(sv[1]);

	/* A canceled wait ignores unblock; only the close ends it. */
	ASSERT_EQ(0, npt_waiter_start(&cw, pd, NP_READ, NPT_WAIT_CANCELED));
	ASSERT_TRUE(npt_wait_waiters(p, 1));
	EXPECT_EQ(0, np_close(pd));
	ASSERT_TRUE(npt_waiter_join(&cw));
	EXPECT_EQ(NP_ERR_CLOSING, cw.result);
	EXPECT_TRUE(npt_sees_eof(sv[1]));
	close(sv[1]);
	np_poller_close(p);
}

/* --- SCM_RIGHTS ---------------------------------------------------------- */

/*
 * The receiver of a poller fd uses the same poller as the sender: it
 * sees the sender's descriptor and may act on it, registers its own,
 * parks a waiter the sender unblocks, and a registration it leaves
 * behind when it exits stays in the poller (the file pinned) until the
 * sender closes the poller.
 */
TEST(poller_passed_over_scm_rights_and_used_by_the_receiver)
{
	int dev, sv[2], efd, ssv[2], rc;
	uint64_t ha, hb, hc;
	pid_t pid;
	char c;

	ASSERT_EQ(0, ctl_pair(sv));
	/* The receiver exists before the poller: nothing is inherited. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct npt_raw_waiter w;
		uint64_t h = 0, own = 0;
		int d, e, s;

		close(sv[0]);
		if (recv_fd(sv[1], &d, &h, sizeof(h)) || d < 0)
			_exit(1);
		if (np_is_poll_descriptor(d) != 1 || npt_raw_stat(d, false) != 1)
			_exit(2);
		/* The sender's descriptor is reachable: same poller. */
		if (npt_raw_wait(d, NPOLL_IOC_RESET, h, NPOLL_MODE_READ, 0) != NPOLL_OK)
			_exit(3);
		e = eventfd(0, EFD_CLOEXEC);
		if (e < 0 || npt_raw_open(d, e, 2, &own))
			_exit(4);
		if (npt_raw_waiter_start(&w, d, own, NPOLL_MODE_READ))
			_exit(5);
		if (!wait_parked(d, 1) || put_u64(sv[1], own))
			_exit(6);
		/* The sender unblocks our waiter. */
		if (!npt_raw_waiter_join(&w) || w.result != NPOLL_ERR_CLOSING)
			_exit(7);
		if (npt_raw_handle(d, NPOLL_IOC_CLOSE, own))
			_exit(8);
		/* Leave one registration behind: a socket the sender watches. */
		if (recv_fd(sv[1], &s, &c, 1) || s < 0 ||
		    npt_raw_open(d, s, 3, &own) || put_u64(sv[1], own))
			_exit(9);
		_exit(0);
	}
	close(sv[1]);
	dev = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, dev);
	efd = eventfd(1, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, npt_raw_open(dev, efd, 1, &ha));
	ASSERT_EQ(0, send_fd(sv[0], dev, &ha, sizeof(ha)));

	hb = get_u64(sv[0]);
	ASSERT_NE(~0ULL, hb);
	/* The sender sees the receiver's descriptor and parked waiter. */
	EXPECT_EQ(2, npt_raw_stat(dev, false));
	EXPECT_EQ(1, npt_raw_stat(dev, true));
	EXPECT_NE(ha, hb);
	EXPECT_EQ(0, npt_raw_handle(dev, NPOLL_IOC_UNBLOCK, hb));

	ASSERT_EQ(0, npt_unix_pair(ssv));
	ASSERT_EQ(0, send_fd(sv[0], ssv[0], "s", 1));
	close(ssv[0]);
	hc = get_u64(sv[0]);
	ASSERT_NE(~0ULL, hc);
	rc = reap(pid);
	ASSERT_EQ(0, rc) {
		TH_LOG("receiver failed at step %d", rc);
	}
	/* The receiver closed its descriptor and left the other one. */
	EXPECT_EQ(2, npt_raw_stat(dev, false));
	EXPECT_EQ(-EBADF, npt_raw_wait(dev, NPOLL_IOC_RESET, hb, NPOLL_MODE_READ, 0));
	EXPECT_EQ(NPOLL_OK, npt_raw_wait(dev, NPOLL_IOC_RESET, hc, NPOLL_MODE_READ, 0));
	/* Its socket is pinned by the registration alone. */
	EXPECT_EQ(0, at_eof(ssv[1]));
	EXPECT_EQ(0, close(dev));
	EXPECT_TRUE(npt_sees_eof(ssv[1]));
	close(ssv[1]);
	close(efd);
	close(sv[0]);
}

/* --- fork ---------------------------------------------------------------- */

/*
 * fork() shares the poller: it is one open file, as an epoll fd is.
 * Parent and child see the same descriptors and waiters; either can
 * close or unblock the other's descriptors.
 */
TEST(fork_child_shares_the_poller)
{
	int dev = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	int pfd[2], qfd[2], sv[2], efd, rc;
	uint64_t ha, hb;
	pid_t pid;

	ASSERT_LE(0, dev);
	ASSERT_EQ(0, pipe2(pfd, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(qfd, O_CLOEXEC));
	ASSERT_EQ(0, npt_unix_pair(sv));
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, npt_raw_open(dev, sv[0], 1, &ha));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct npt_raw_waiter w;
		uint64_t h = 0;

		if (npt_raw_stat(dev, false) != 1 ||
		    npt_raw_wait(dev, NPOLL_IOC_RESET, ha, NPOLL_MODE_READ, 0) != NPOLL_OK)
			_exit(1);
		if (npt_raw_open(dev, efd, 2, &h) || put_u64(pfd[1], h))
			_exit(2);
		/* Park on the parent's descriptor; the parent unblocks it. */
		if (npt_raw_waiter_start(&w, dev, ha, NPOLL_MODE_READ))
			_exit(3);
		if (!npt_raw_waiter_join(&w) || w.result != NPOLL_ERR_CLOSING)
			_exit(4);
		/* Close the parent's descriptor, then wait to be told to go. */
		if (npt_raw_handle(dev, NPOLL_IOC_CLOSE, ha))
			_exit(5);
		if (put_u64(pfd[1], 0) || get_u64(qfd[0]) != 1)
			_exit(6);
		_exit(0);
	}
	hb = get_u64(pfd[0]);
	ASSERT_NE(~0ULL, hb);
	EXPECT_EQ(2, npt_raw_stat(dev, false));
	EXPECT_EQ(NPOLL_OK, npt_raw_wait(dev, NPOLL_IOC_RESET, hb, NPOLL_MODE_READ, 0));
	ASSERT_TRUE(wait_parked(dev, 1));
	EXPECT_EQ(0, npt_raw_handle(dev, NPOLL_IOC_UNBLOCK, ha));
	ASSERT_EQ(0, get_u64(pfd[0]));
	/* The child's close is the parent's: stale here too. */
	EXPECT_EQ(-EBADF, npt_raw_wait(dev, NPOLL_IOC_RESET, ha, NPOLL_MODE_READ, 0));
	EXPECT_EQ(1, npt_raw_stat(dev, false));
	/* sv[0] is still open in both processes: released, but no EOF. */
	EXPECT_EQ(0, at_eof(sv[1]));
	ASSERT_EQ(0, put_u64(qfd[1], 1));
	rc = reap(pid);
	EXPECT_EQ(0, rc);
	/* The child's exit does not release the shared poller. */
	EXPECT_EQ(1, npt_raw_stat(dev, false));
	EXPECT_EQ(0, npt_raw_handle(dev, NPOLL_IOC_CLOSE, hb));
	close(dev);
	close(sv[0]);
	EXPECT_TRUE(npt_sees_eof(sv[1]));
	close(sv[1]);
	close(efd);
	close(pfd[0]);
	close(pfd[1]);
	close(qfd[0]);
	close(qfd[1]);
}

/* --- exec ---------------------------------------------------------------- */

/*
 * The exec'd image of this program checks, before the harness starts,
 * what it inherited: NPOLL_EXEC_CHECK="want fd handle sync" where want
 * is 1 if fd must be the poller (with @handle registered; then it
 * unblocks @handle, reports on @sync, waits for a byte on @sync and
 * closes the poller) or 0 if fd must not be a poller any more.
 */
static int exec_check(const char *spec)
{
	int want, fd, sync;
	unsigned long long h;
	char c = 0;

	if (sscanf(spec, "%d %d %llu %d", &want, &fd, &h, &sync) != 4)
		return 10;
	if (!want) {
		/* Gone; if the number was reused, not by a poller. */
		if (fcntl(fd, F_GETFD) >= 0 && np_is_poll_descriptor(fd))
			return 11;
		return write(sync, "g", 1) == 1 ? 0 : 12;
	}
	if (fcntl(fd, F_GETFD) < 0 || np_is_poll_descriptor(fd) != 1)
		return 13;
	if (npt_raw_stat(fd, false) < 1)
		return 14;
	if (npt_raw_wait(fd, NPOLL_IOC_RESET, h, NPOLL_MODE_READ, 0) < 0 ||
	    npt_raw_handle(fd, NPOLL_IOC_UNBLOCK, h))
		return 15;
	if (write(sync, "k", 1) != 1 || read(sync, &c, 1) != 1)
		return 16;
	return close(fd) ? 17 : 0;
}

__attribute__((constructor)) static void exec_check_hook(void)
{
	const char *spec = getenv("NPOLL_EXEC_CHECK");

	if (spec)
		_exit(exec_check(spec));
}

/* fork, then exec this program with NPOLL_EXEC_CHECK set. */
static pid_t spawn_check(int want, int fd, uint64_t h, int sync)
{
	char spec[96];
	pid_t pid;

	snprintf(spec, sizeof(spec), "%d %d %llu %d", want, fd,
		 (unsigned long long)h, sync);
	pid = fork();
	if (pid == 0) {
		char *argv[] = { "process_test", NULL };

		setenv("NPOLL_EXEC_CHECK", spec, 1);
		execv("/proc/self/exe", argv);
		_exit(99);
	}
	return pid;
}

/*
 * Without O_CLOEXEC the poller survives exec: the new image uses it
 * (same poller: it unblocks the parent's descriptor).  Here the exec'd
 * process is not the last holder; the next test makes it the only one.
 */
TEST(exec_without_cloexec_keeps_the_poller)
{
	int dev = open(NPOLL_DEV, O_RDWR);	/* no O_CLOEXEC */
	int sync[2], sv[2];
	uint64_t h;
	pid_t pid;
	char c;

	ASSERT_LE(0, dev);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sync));
	fcntl(sync[0], F_SETFD, FD_CLOEXEC);
	ASSERT_EQ(0, npt_unix_pair(sv));
	ASSERT_EQ(0, npt_raw_open(dev, sv[0], 1, &h));
	pid = spawn_check(1, dev, h, sync[1]);
	ASSERT_LE(0, pid);
	close(sync[1]);
	/* From now on the registration holds the socket (and the child until exec). */
	close(sv[0]);
	ASSERT_EQ(1, read(sync[0], &c, 1));
	EXPECT_EQ('k', c);
	/* Unblocked by the exec'd image: it is our poller. */
	EXPECT_EQ(NPOLL_ERR_CLOSING, npt_raw_wait(dev, NPOLL_IOC_WAIT, h,
						  NPOLL_MODE_READ, 0));
	ASSERT_EQ(1, write(sync[0], "c", 1));
	EXPECT_EQ(0, reap(pid));
	/* Its close of its copy leaves ours. */
	EXPECT_EQ(1, npt_raw_stat(dev, false));
	close(dev);
	EXPECT_TRUE(npt_sees_eof(sv[1]));
	close(sv[1]);
	close(sync[0]);
}

/*
 * The exec'd process as the poller's only holder.  Without O_CLOEXEC
 * the registration survives exec (the peer sees no EOF) until the new
 * image closes the poller; with O_CLOEXEC exec itself releases the
 * poller and the file registered in it (the peer sees EOF).
 */
static void exec_sole_holder(struct __test_metadata *_metadata, bool cloexec)
{
	int sync[2], sv[2], gate[2];
	uint64_t h = 0;
	pid_t pid;
	char c;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sync));
	fcntl(sync[0], F_SETFD, FD_CLOEXEC);
	ASSERT_EQ(0, npt_unix_pair(sv));
	ASSERT_EQ(0, pipe2(gate, O_CLOEXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int d = open(NPOLL_DEV, O_RDWR | (cloexec ? O_CLOEXEC : 0));
		char spec[96];
		char *argv[] = { "process_test", NULL };

		/* sv[0] is O_CLOEXEC: after exec only the poller holds it. */
		if (d < 0 || npt_raw_open(d, sv[0], 1, &h))
			_exit(1);
		close(sv[1]);
		if (read(gate[0], &c, 1) != 1)
			_exit(2);
		snprintf(spec, sizeof(spec), "%d %d %llu %d", !cloexec, d,
			 (unsigned long long)h, sync[1]);
		setenv("NPOLL_EXEC_CHECK", spec, 1);
		execv("/proc/self/exe", argv);
		_exit(99);
	}
	close(sync[1]);
	close(sv[0]);
	close(gate[0]);
	/* Before exec the child holds the socket twice: no EOF. */
	npoll_test_sleep_ns(20 * NPT_MS);
	EXPECT_EQ(0, at_eof(sv[1]));
	ASSERT_EQ(1, write(gate[1], "e", 1));
	ASSERT_EQ(1, read(sync[0], &c, 1));
	if (cloexec) {
		EXPECT_EQ('g', c);
		EXPECT_TRUE(npt_sees_eof(sv[1]));
	} else {
		EXPECT_EQ('k', c);
		/* The new image holds the poller, the poller the socket. */
		npoll_test_sleep_ns(20 * NPT_MS);
		EXPECT_EQ(0, at_eof(sv[1]));
		ASSERT_EQ(1, write(sync[0], "c", 1));
		EXPECT_TRUE(npt_sees_eof(sv[1]));
	}
	EXPECT_EQ(0, reap(pid));
	close(sv[1]);
	close(sync[0]);
	close(gate[1]);
}

TEST(exec_without_cloexec_sole_holder_keeps_the_registration)
{
	exec_sole_holder(_metadata, false);
}

TEST(exec_with_cloexec_releases_the_poller_and_its_files)
{
	exec_sole_holder(_metadata, true);
}

/* --- module unload --------------------------------------------------------- */

static long module_refcnt(void)
{
	FILE *f = fopen("/sys/module/npoll/refcnt", "r");
	long v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* delete_module(2) of npoll: 0 or -errno. */
static int try_unload(void)
{
	return syscall(SYS_delete_module, "npoll", O_NONBLOCK) ? -errno : 0;
}

FIXTURE(unload) {
	long base;
};

FIXTURE_SETUP(unload)
{
	if (geteuid() != 0)
		SKIP(return, "needs CAP_SYS_MODULE (root) for delete_module(2)");
	self->base = module_refcnt();
	if (self->base < 0)
		SKIP(return, "no /sys/module/npoll/refcnt (module built in?)");
}

FIXTURE_TEARDOWN(unload)
{
}

/*
 * delete_module(2) fails with EWOULDBLOCK ("in use") while any poller
 * file exists: each holds a module reference.  A successful unload here
 * would pull the module from under the test: the suite would fail.
 */
TEST_F(unload, refused_while_a_poller_is_open_in_this_process)
{
	int dev;
	int sv[2];
	uint64_t h;

	NPT_RETURN_IF_SKIPPED();
	dev = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, dev);
	ASSERT_EQ(0, npt_unix_pair(sv));
	ASSERT_EQ(0, npt_raw_open(dev, sv[0], 1, &h));
	EXPECT_EQ(self->base + 1, module_refcnt());
	EXPECT_EQ(-EWOULDBLOCK, try_unload());
	/* Still loaded and working. */
	EXPECT_EQ(NPOLL_OK, npt_raw_wait(dev, NPOLL_IOC_WAIT, h, NPOLL_MODE_WRITE, 0));
	close(dev);
	EXPECT_EQ(self->base, module_refcnt());
	close(sv[0]);
	close(sv[1]);
}

TEST_F(unload, refused_while_only_another_process_holds_a_poller)
{
	int gate[2], dev;
	pid_t pid;
	char c;

	NPT_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, pipe2(gate, O_CLOEXEC));
	dev = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, dev);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(gate[1]);
		_exit(read(gate[0], &c, 1) == 1 ? 0 : 1);
	}
	close(gate[0]);
	close(dev);
	/* Only the child's inherited copy is left. */
	EXPECT_EQ(self->base + 1, module_refcnt());
	EXPECT_EQ(-EWOULDBLOCK, try_unload());
	ASSERT_EQ(1, write(gate[1], "x", 1));
	EXPECT_EQ(0, reap(pid));
	EXPECT_EQ(self->base, module_refcnt());
	close(gate[1]);
}

/* The only reference in an SCM_RIGHTS message nobody has received yet. */
TEST_F(unload, refused_while_a_poller_is_in_flight_over_scm_rights)
{
	int sv[2], dev, got;
	uint64_t h;
	char c;

	NPT_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, ctl_pair(sv));
	dev = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, dev);
	ASSERT_EQ(0, send_fd(sv[0], dev, "m", 1));
	close(dev);
	EXPECT_EQ(self->base + 1, module_refcnt());
	EXPECT_EQ(-EWOULDBLOCK, try_unload());
	ASSERT_EQ(0, recv_fd(sv[1], &got, &c, 1));
	ASSERT_LE(0, got);
	EXPECT_EQ(1, np_is_poll_descriptor(got));
	ASSERT_EQ(0, npt_raw_open(got, sv[0], 1, &h));
	EXPECT_EQ(0, npt_raw_handle(got, NPOLL_IOC_CLOSE, h));
	close(got);
	EXPECT_EQ(self->base, module_refcnt());
	close(sv[0]);
	close(sv[1]);
}

/* A call in flight on a poller whose fd was closed under it. */
TEST_F(unload, refused_while_a_call_runs_on_a_closed_poller_fd)
{
	int dev;
	struct npt_raw_waiter w;
	int sv[2];
	uint64_t h;

	NPT_RETURN_IF_SKIPPED();
	dev = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, dev);
	ASSERT_EQ(0, npt_unix_pair(sv));
	ASSERT_EQ(0, npt_raw_open(dev, sv[0], 1, &h));
	ASSERT_EQ(0, npt_raw_waiter_start(&w, dev, h, NPOLL_MODE_READ));
	ASSERT_TRUE(wait_parked(dev, 1));
	ASSERT_EQ(0, close(dev));
	EXPECT_EQ(-EWOULDBLOCK, try_unload());
	/* Readiness still reaches the parked call. */
	ASSERT_EQ(1, write(sv[1], "x", 1));
	ASSERT_TRUE(npt_raw_waiter_join(&w));
	EXPECT_EQ(NPOLL_OK, w.result);
	/* The poller went with the call's reference. */
	EXPECT_EQ(self->base, module_refcnt());
	close(sv[0]);
	close(sv[1]);
}

TEST_HARNESS_MAIN
