// SPDX-License-Identifier: GPL-2.0
/*
 * No I/O helper touches the registered fd number once np_close has
 * returned: the caller may then close the fd and have the number reused
 * by another file, as with Go's FD.Close, which waits for the
 * operations in flight before the system fd goes.
 *
 * The program interposes read(), recvfrom() and accept4() (its own
 * definitions take the place of libc's in the statically linked
 * library), so a test sees every attempt a helper makes on the watched
 * fd number, can hold a helper inside an attempt, and counts attempts
 * that begin after np_close has returned.
 *
 * Each test runs for a helper of the read direction on three files: a
 * pipe (np_read), a UDP socket (np_recvfrom) and a listening TCP socket
 * (np_accept).  After np_close the test closes the fd, puts a new
 * socket on the same number (dup2) with something to read or accept,
 * and checks that it is still there once the helper has returned.
 */
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "kselftest_harness.h"
#include "npoll_test_util.h"

/* What the interposed calls watch, and what they saw. */
static struct {
	atomic_int fd;		/* the watched number, -1 none */
	atomic_bool hold;	/* hold the first attempt (see hook_enter) */
	atomic_bool hold_long;	/* ... until @released, not np_close */
	atomic_bool released;
	atomic_int entered;	/* attempts seen on the watched number */
	atomic_bool closed;	/* np_close has returned */
	atomic_bool reused;	/* the number names the new socket */
	atomic_int late;	/* attempts begun after np_close returned */
} hook = { .fd = -1 };

/*
 * An attempt on the watched number.  With @hold, the first attempt waits
 * here (up to a bound) for np_close to return, which it must not do
 * while the helper is inside the attempt; if np_close did return, the
 * attempt goes on once the number is reused, as a late attempt would.
 */
static void hook_enter(int fd)
{
	if (fd != atomic_load(&hook.fd))
		return;
	if (atomic_load(&hook.closed))
		atomic_fetch_add(&hook.late, 1);
	if (atomic_fetch_add(&hook.entered, 1) || !atomic_load(&hook.hold))
		return;
	if (atomic_load(&hook.hold_long)) {
		for (int i = 0; i < 20000 && !atomic_load(&hook.released); i++)
			npoll_test_sleep_ns(NPT_MS);
		return;
	}
	for (int i = 0; i < 300 && !atomic_load(&hook.closed); i++)
		npoll_test_sleep_ns(NPT_MS);
	if (!atomic_load(&hook.closed))
		return;
	atomic_fetch_add(&hook.late, 1);
	for (int i = 0; i < 20000 && !atomic_load(&hook.reused); i++)
		npoll_test_sleep_ns(NPT_MS);
}

ssize_t read(int fd, void *buf, size_t len)
{
	hook_enter(fd);
	return syscall(SYS_read, fd, buf, len);
}

ssize_t recvfrom(int fd, void *__restrict buf, size_t len, int flags,
		 __SOCKADDR_ARG addr, socklen_t *__restrict alen)
{
	hook_enter(fd);
	return syscall(SYS_recvfrom, fd, buf, len, flags, addr.__sockaddr__,
		       alen);
}

int accept4(int fd, __SOCKADDR_ARG addr, socklen_t *__restrict alen,
	    int flags)
{
	hook_enter(fd);
	return syscall(SYS_accept4, fd, addr.__sockaddr__, alen, flags);
}

enum kind { PIPE_READ, UDP_RECVFROM, TCP_ACCEPT };

struct helper {
	pthread_t th;
	np_desc *pd;
	enum kind kind;
	atomic_bool done;
	long result;
};

static void *helper_fn(void *arg)
{
	struct helper *h = arg;
	char buf[64];

	switch (h->kind) {
	case PIPE_READ:
		h->result = np_read(h->pd, buf, sizeof(buf));
		break;
	case UDP_RECVFROM:
		h->result = np_recvfrom(h->pd, buf, sizeof(buf), 0, NULL, NULL);
		break;
	case TCP_ACCEPT:
		h->result = np_accept(h->pd, NULL, NULL, SOCK_CLOEXEC);
		break;
	}
	atomic_store(&h->done, true);
	return NULL;
}

struct closer {
	pthread_t th;
	np_desc *pd;
	int result;
};

static void *closer_fn(void *arg)
{
	struct closer *c = arg;

	c->result = np_close(c->pd);
	atomic_store(&hook.closed, true);
	return NULL;
}

FIXTURE(reuse) {
	np_poller *p;
	np_desc *pd;
	int fd;		/* the registered fd, later the new socket's number */
	int other;	/* the pipe's write end, else -1 */
	int peer;	/* a connection to the new socket, else -1 */
	in_port_t port;	/* the new socket's port */
};

FIXTURE_VARIANT(reuse) {
	enum kind kind;
};

FIXTURE_VARIANT_ADD(reuse, pipe_read) { .kind = PIPE_READ };
FIXTURE_VARIANT_ADD(reuse, udp_recvfrom) { .kind = UDP_RECVFROM };
FIXTURE_VARIANT_ADD(reuse, tcp_accept) { .kind = TCP_ACCEPT };

FIXTURE_SETUP(reuse)
{
	in_port_t port;
	int fds[2];

	self->other = self->peer = -1;
	NPT_OPEN_POLLER(self->p);
	switch (variant->kind) {
	case PIPE_READ:
		ASSERT_EQ(0, npt_pipe(fds));
		self->fd = fds[0];
		self->other = fds[1];
		break;
	case UDP_RECVFROM:
		self->fd = npt_bound(SOCK_DGRAM, &port);
		break;
	case TCP_ACCEPT:
		self->fd = npt_listener(&port);
		break;
	}
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, np_open(self->p, self->fd, 1, &self->pd));
	atomic_store(&hook.fd, self->fd);
}

FIXTURE_TEARDOWN(reuse)
{
	atomic_store(&hook.fd, -1);
	if (self->pd)
		np_close(self->pd);
	np_poller_close(self->p);
	close(self->fd);
	if (self->other >= 0)
		close(self->other);
	if (self->peer >= 0)
		close(self->peer);
}

/*
 * Put a new socket on @self->fd's number with one thing waiting on it:
 * a datagram (pipe and UDP cases) or a connection (TCP case).
 */
static int reuse_number(struct _test_data_reuse *self, enum kind kind)
{
	struct sockaddr_in sin;
	int s;

	close(self->fd);
	if (self->other >= 0)
		close(self->other);
	self->other = -1;
	s = kind == TCP_ACCEPT ? npt_listener(&self->port) :
				 npt_bound(SOCK_DGRAM, &self->port);
	if (s < 0)
		return -1;
	if (s != self->fd) {	/* the lowest free number is usually ours */
		if (dup2(s, self->fd) != self->fd)
			return -1;
		close(s);
	}
	npt_loopback(&sin, self->port);
	self->peer = socket(AF_INET, kind == TCP_ACCEPT ? SOCK_STREAM :
							  SOCK_DGRAM, 0);
	if (self->peer < 0)
		return -1;
	if (kind == TCP_ACCEPT)
		return connect(self->peer, (struct sockaddr *)&sin,
			       sizeof(sin));
	return sendto(self->peer, "new", 3, 0, (struct sockaddr *)&sin,
		      sizeof(sin)) == 3 ? 0 : -1;
}

/* True if what reuse_number() left on the new socket is still there. */
static bool reuse_untouched(int fd, enum kind kind)
{
	char buf[8];
	int c;

	if (kind != TCP_ACCEPT)
		return recv(fd, buf, sizeof(buf), MSG_DONTWAIT) == 3;
	c = syscall(SYS_accept4, fd, NULL, NULL, SOCK_NONBLOCK);
	if (c < 0)
		return false;
	close(c);
	return true;
}

/*
 * helper                         test
 * parked in the wait
 *                                np_close(pd) returns
 *                                close(fd); dup2(new socket, fd)
 *                                send to the new socket
 * returns -ECANCELED, never
 * having touched the new socket
 */
TEST_F(reuse, helper_parked_at_close_never_touches_reused_number)
{
	struct helper h = { .pd = self->pd, .kind = variant->kind };

	ASSERT_EQ(0, pthread_create(&h.th, NULL, helper_fn, &h));
	ASSERT_TRUE(npt_wait_waiters(self->p, 1));
	EXPECT_EQ(0, np_close(self->pd));
	self->pd = NULL;
	atomic_store(&hook.closed, true);
	EXPECT_EQ(0, reuse_number(self, variant->kind));
	atomic_store(&hook.reused, true);
	pthread_join(h.th, NULL);
	EXPECT_EQ(-ECANCELED, h.result);
	EXPECT_EQ(0, atomic_load(&hook.late));
	EXPECT_TRUE(reuse_untouched(self->fd, variant->kind));
}

/*
 * helper                         closer            test
 * np_reset passed, inside the
 * attempt on fd (held here)
 *                                np_close(pd) ...
 * attempt ends (EAGAIN), wait
 * fails: -ECANCELED
 *                                ... returns
 *                                                  close(fd), dup2(new)
 *
 * np_close must not return while the helper is inside the attempt,
 * else the attempt lands on the new socket.
 */
TEST_F(reuse, close_waits_for_helper_inside_attempt)
{
	struct helper h = { .pd = self->pd, .kind = variant->kind };
	struct closer c = { .pd = self->pd };

	atomic_store(&hook.hold, true);
	ASSERT_EQ(0, pthread_create(&h.th, NULL, helper_fn, &h));
	while (!atomic_load(&hook.entered))
		sched_yield();
	ASSERT_EQ(0, pthread_create(&c.th, NULL, closer_fn, &c));
	pthread_join(c.th, NULL);
	self->pd = NULL;
	EXPECT_EQ(0, c.result);
	EXPECT_EQ(0, reuse_number(self, variant->kind));
	atomic_store(&hook.reused, true);
	pthread_join(h.th, NULL);
	EXPECT_EQ(-ECANCELED, h.result);
	EXPECT_EQ(0, atomic_load(&hook.late));
	EXPECT_TRUE(reuse_untouched(self->fd, variant->kind));
}

struct poller_closer {
	pthread_t th;
	np_poller *p;
	atomic_bool done;
};

static void *poller_closer_fn(void *arg)
{
	struct poller_closer *c = arg;

	np_poller_close(c->p);
	atomic_store(&c->done, true);
	return NULL;
}

/*
 * helper              closer               test
 * inside an attempt
 *                     np_poller_close:
 *                     descs closed, waits
 *                     for the helper ...
 *                                          np_open(p) -> -EBADF
 *                                          np_poll(p) -> -EBADF
 * released: returns
 *                     ... returns
 */
TEST(poller_close_in_progress_refuses_np_open_and_np_poll)
{
	struct helper h = { .kind = PIPE_READ };
	struct poller_closer c = { 0 };
	struct np_event ev;
	int fds[2], sv[2];
	np_desc *pd2 = NULL;

	NPT_OPEN_POLLER(c.p);
	ASSERT_EQ(0, npt_pipe(fds));
	ASSERT_EQ(0, npt_unix_pair(sv));
	ASSERT_EQ(0, np_open(c.p, fds[0], 1, &h.pd));
	atomic_store(&hook.fd, fds[0]);
	atomic_store(&hook.hold, true);
	atomic_store(&hook.hold_long, true);
	ASSERT_EQ(0, pthread_create(&h.th, NULL, helper_fn, &h));
	while (!atomic_load(&hook.entered))
		sched_yield();
	ASSERT_EQ(0, pthread_create(&c.th, NULL, poller_closer_fn, &c));
	while (npt_descs(c.p) != 0 && !atomic_load(&c.done))
		npoll_test_sleep_ns(NPT_MS);
	/* np_poller_close waits for the held helper, so @c.p is alive. */
	EXPECT_FALSE(atomic_load(&c.done));
	EXPECT_EQ(-EBADF, np_open(c.p, sv[0], 2, &pd2));
	EXPECT_EQ(-EBADF, np_poll(c.p, &ev, 1, 0));
	EXPECT_EQ(NULL, pd2);
	atomic_store(&hook.released, true);
	pthread_join(h.th, NULL);
	pthread_join(c.th, NULL);
	EXPECT_EQ(-ECANCELED, h.result);
	atomic_store(&hook.fd, -1);
	close(fds[0]);
	close(fds[1]);
	close(sv[0]);
	close(sv[1]);
}

/*
 * Registering a program's fds does not run it out of fds: with the soft
 * RLIMIT_NOFILE lowered to 128, 48 socket pairs (96 fds) all register.
 * The module takes no fd for a descriptor; the user-space backend takes
 * two, and raises the soft limit to the hard one when they run out.
 */
TEST(registering_most_fds_under_a_low_limit_succeeds)
{
	struct rlimit rl, low;
	enum { PAIRS = 48 };
	np_desc *pd[PAIRS] = { 0 };
	int sv[PAIRS][2];
	np_poller *p;

	NPT_OPEN_POLLER(p);
	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &rl));
	if (rl.rlim_max < 1024)
		SKIP(goto out, "hard RLIMIT_NOFILE %lu", (unsigned long)rl.rlim_max);
	low = rl;
	low.rlim_cur = 128;
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &low));
	for (int i = 0; i < PAIRS; i++) {
		ASSERT_EQ(0, npt_unix_pair(sv[i])) TH_LOG("pair %d", i);
	}
	for (int i = 0; i < PAIRS; i++) {
		ASSERT_EQ(0, np_open(p, sv[i][0], (uint64_t)i, &pd[i]))
			TH_LOG("np_open %d", i);
	}
	/* Each one works: data on the last pair is read through it. */
	ASSERT_EQ(1, write(sv[PAIRS - 1][1], "z", 1));
	{
		char b;

		ASSERT_EQ(1, np_read(pd[PAIRS - 1], &b, 1));
		EXPECT_EQ('z', b);
	}
	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &low));
	if (np_poller_backend(p) == NP_BACKEND_USER) {
		EXPECT_EQ(rl.rlim_max, low.rlim_cur);
	} else {
		EXPECT_EQ(128, (long)low.rlim_cur);
	}
	for (int i = 0; i < PAIRS; i++) {
		EXPECT_EQ(0, np_close(pd[i]));
		close(sv[i][0]);
		close(sv[i][1]);
	}
out:
	np_poller_close(p);
}

TEST_HARNESS_MAIN
