// SPDX-License-Identifier: GPL-2.0
/*
 * The Go-style I/O helpers: np_read, np_write, np_accept, np_connect,
 * np_recvfrom and np_sendto over AF_UNIX, TCP, UDP and pipes.  An
 * expired deadline or closing fails a call even when the file is ready;
 * EAGAIN means wait and retry; wait outcomes map to -ETIMEDOUT,
 * -ECANCELED and -EIO (np_errno); np_write writes everything; calls of
 * one direction on one descriptor take turns
 * (Documentation/userspace-api.rst, "The library").
 */
#include <poll.h>

#include "kselftest_harness.h"
#include "npoll_test_util.h"

/* rfd registered as @rd (read side), wfd registered as @wr (write side). */
FIXTURE(io) {
	np_poller *p;
	np_desc *rd, *wr;
	int rfd, wfd;
	int other[2];	/* the peers of a socket pair's two ends, or -1 */
};

FIXTURE_VARIANT(io) {
	enum npt_kind kind;
};

FIXTURE_VARIANT_ADD(io, unix_stream) { .kind = NPT_UNIX };
FIXTURE_VARIANT_ADD(io, tcp) { .kind = NPT_TCP };
FIXTURE_VARIANT_ADD(io, udp) { .kind = NPT_UDP };
FIXTURE_VARIANT_ADD(io, pipe) { .kind = NPT_PIPE };

/*
 * A file is registered once per poller: a socket pair's sv[0] is both
 * @rd and @wr, with sv[1] as the peer (@other[0]).  A pipe has two
 * files: @rd on the read end, @wr on the write end.
 */
FIXTURE_SETUP(io)
{
	int fds[2];

	self->rfd = self->wfd = self->other[0] = self->other[1] = -1;
	NPT_OPEN_POLLER(self->p);
	ASSERT_EQ(0, npt_pair(variant->kind, fds));
	if (variant->kind == NPT_PIPE) {
		self->rfd = fds[0];
		self->wfd = fds[1];
		ASSERT_EQ(0, np_open(self->p, self->rfd, 1, &self->rd));
		ASSERT_EQ(0, np_open(self->p, self->wfd, 2, &self->wr));
	} else {
		self->rfd = self->wfd = fds[0];
		self->other[0] = fds[1];
		ASSERT_EQ(0, np_open(self->p, self->rfd, 1, &self->rd));
		self->wr = self->rd;
	}
}

FIXTURE_TEARDOWN(io)
{
	if (self->p)
		np_poller_close(self->p);
	if (self->rfd >= 0)
		close(self->rfd);
	if (self->wfd >= 0 && self->wfd != self->rfd)
		close(self->wfd);
	if (self->other[0] >= 0)
		close(self->other[0]);
}

/* Make @rfd readable (one 4-byte message). */
static int feed(FIXTURE_DATA(io) *self)
{
	int fd = self->other[0] >= 0 ? self->other[0] : self->wfd;

	return write(fd, "ping", 4) == 4 ? 0 : -1;
}

TEST_F(io, read_returns_ready_data)
{
	char buf[16];

	ASSERT_EQ(0, feed(self));
	EXPECT_EQ(4, np_read(self->rd, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "ping", 4));
}

/* An expired deadline fails the call before any attempt, data or not. */
TEST_F(io, read_expired_deadline_is_etimedout_even_with_data)
{
	char buf[16];

	ASSERT_EQ(0, feed(self));
	npoll_test_sleep_ns(10 * NPT_MS);
	ASSERT_EQ(0, np_set_deadline(self->rd, -1, NP_READ));
	EXPECT_EQ(-ETIMEDOUT, np_read(self->rd, buf, sizeof(buf)));
	EXPECT_EQ(-ETIMEDOUT, np_recvfrom(self->rd, buf, sizeof(buf), 0,
					  NULL, NULL));
	/* The data is still there for a call without the deadline. */
	ASSERT_EQ(0, np_set_deadline(self->rd, 0, NP_READ));
	EXPECT_EQ(4, np_read(self->rd, buf, sizeof(buf)));
}

TEST_F(io, read_after_unblock_is_ecanceled_even_with_data)
{
	char buf[16];

	ASSERT_EQ(0, feed(self));
	npoll_test_sleep_ns(10 * NPT_MS);
	ASSERT_EQ(0, np_unblock(self->rd));
	EXPECT_EQ(-ECANCELED, np_read(self->rd, buf, sizeof(buf)));
	EXPECT_EQ(-ECANCELED, np_recvfrom(self->rd, buf, sizeof(buf), 0,
					  NULL, NULL));
}

TEST_F(io, write_expired_deadline_is_etimedout_even_with_space)
{
	ASSERT_EQ(0, np_set_deadline(self->wr, -1, NP_WRITE));
	EXPECT_EQ(-ETIMEDOUT, np_write(self->wr, "abc", 3));
	if (variant->kind != NPT_PIPE)
		EXPECT_EQ(-ETIMEDOUT, np_sendto(self->wr, "abc", 3, 0, NULL, 0));
	ASSERT_EQ(0, np_set_deadline(self->wr, 0, NP_WRITE));
	EXPECT_EQ(3, np_write(self->wr, "abc", 3));
}

TEST_F(io, write_after_unblock_is_ecanceled)
{
	ASSERT_EQ(0, np_unblock(self->wr));
	EXPECT_EQ(-ECANCELED, np_write(self->wr, "abc", 3));
	if (variant->kind != NPT_PIPE)
		EXPECT_EQ(-ECANCELED, np_sendto(self->wr, "abc", 3, 0, NULL, 0));
}

/* len == 0: 0 at once, no wait (an empty file would block otherwise). */
TEST_F(io, zero_length_read_returns_zero)
{
	char buf[1];

	EXPECT_EQ(0, np_read(self->rd, buf, 0));
	EXPECT_EQ(0, np_read(self->rd, NULL, 0));
	EXPECT_EQ(0, npt_waiters(self->p));
}

/*
 * reader: np_read: EAGAIN, wait .......... retry, 4 bytes
 * feeder:              100 ms, write --^
 */
TEST_F(io, read_waits_on_eagain_and_retries)
{
	struct npt_delayed d;
	struct npt_waiter w;
	int fd = self->other[0] >= 0 ? self->other[0] : self->wfd;

	ASSERT_EQ(0, npt_waiter_start(&w, self->rd, NP_READ, NPT_READ));
	EXPECT_TRUE(npt_wait_waiters(self->p, 1));
	ASSERT_EQ(0, npt_delayed_write(&d, fd, 100 * NPT_MS, "pong", 4));
	EXPECT_TRUE(npt_waiter_join(&w));
	EXPECT_EQ(4, w.result);
	EXPECT_EQ(0, memcmp(w.buf, "pong", 4));
	EXPECT_EQ(4, npt_delayed_join(&d));
}

TEST_F(io, read_deadline_while_waiting_is_etimedout)
{
	int64_t t0 = npoll_test_now();
	char buf[4];

	ASSERT_EQ(0, np_set_deadline(self->rd, 50 * NPT_MS, NP_READ));
	EXPECT_EQ(-ETIMEDOUT, np_read(self->rd, buf, sizeof(buf)));
	EXPECT_GE(npoll_test_now() - t0, 50 * NPT_MS);
}

/* np_close of a descriptor a np_read is blocked on: -ECANCELED. */
TEST_F(io, read_blocked_then_unblock_is_ecanceled)
{
	struct npt_waiter w;

	ASSERT_EQ(0, npt_waiter_start(&w, self->rd, NP_READ, NPT_READ));
	EXPECT_TRUE(npt_wait_waiters(self->p, 1));
	EXPECT_EQ(0, np_unblock(self->rd));
	EXPECT_TRUE(npt_waiter_join(&w));
	EXPECT_EQ(-ECANCELED, w.result);
}

/*
 * Fill the buffer with no reader and a write deadline: np_write returns
 * how much it wrote before the deadline, not the error.
 */
TEST_F(io, write_partial_then_deadline_returns_count)
{
	static char big[16 << 20];
	ssize_t n;

	if (variant->kind == NPT_UDP)
		SKIP(return, "datagrams are not written in parts");
	ASSERT_EQ(0, np_set_deadline(self->wr, 200 * NPT_MS, NP_WRITE));
	n = np_write(self->wr, big, sizeof(big));
	EXPECT_LT(0, n);
	EXPECT_GT((ssize_t)sizeof(big), n);
	/* Nothing more fits: now the error itself comes back. */
	EXPECT_EQ(-ETIMEDOUT, np_write(self->wr, big, 1));
}

/* A slow reader of everything written to @fd, checking the pattern. */
struct slow_reader {
	pthread_t th;
	int fd;
	size_t want;
	size_t got;
	int mismatch;
};

static void *slow_reader_fn(void *arg)
{
	struct slow_reader *s = arg;
	unsigned char buf[32768];
	ssize_t n, i;

	while (s->got < s->want) {
		n = read(s->fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (i = 0; i < n; i++)
			if (buf[i] != (unsigned char)((s->got + i) * 7))
				s->mismatch++;
		s->got += n;
		npoll_test_sleep_ns(200000);
	}
	return NULL;
}

/* np_write returns only when the whole buffer is written. */
TEST_F(io, write_writes_whole_buffer)
{
	static unsigned char big[4 << 20];
	struct slow_reader s = { 0 };
	size_t i;

	if (variant->kind == NPT_UDP)
		SKIP(return, "stream files only");
	for (i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)(i * 7);
	s.fd = self->other[0] >= 0 ? self->other[0] : self->rfd;
	s.want = sizeof(big);
	if (variant->kind == NPT_PIPE) {
		/* The reader thread reads the raw read end: keep it blocking. */
		np_close(self->rd);
		self->rd = NULL;
		fcntl(self->rfd, F_SETFL, 0);
	}
	ASSERT_EQ(0, pthread_create(&s.th, NULL, slow_reader_fn, &s));
	EXPECT_EQ((ssize_t)sizeof(big), np_write(self->wr, big, sizeof(big)));
	pthread_join(s.th, NULL);
	EXPECT_EQ(sizeof(big), s.got);
	EXPECT_EQ(0, s.mismatch);
}

/* EOF of a stream: np_read returns 0. */
TEST_F(io, read_at_eof_returns_zero)
{
	char buf[4];

	if (variant->kind == NPT_UDP)
		SKIP(return, "stream files only");
	if (variant->kind == NPT_PIPE) {
		np_close(self->wr);
		self->wr = NULL;
		close(self->wfd);
		self->wfd = -1;
	} else {
		close(self->other[0]);
		self->other[0] = -1;
	}
	EXPECT_EQ(0, np_read(self->rd, buf, sizeof(buf)));
}

/*
 * Two threads in np_read on one descriptor: one parks in the kernel, the
 * other queues behind it; every byte goes to exactly one of them and
 * neither ever sees -EBUSY.
 */
struct turn_reader {
	pthread_t th;
	np_desc *pd;
	long bytes;
	long busy;
	long other;
};

static void *turn_reader_fn(void *arg)
{
	struct turn_reader *t = arg;
	char c;
	ssize_t n;

	for (;;) {
		n = np_read(t->pd, &c, 1);
		if (n == 1)
			t->bytes++;
		else if (n == -ECANCELED)
			break;
		else if (n == -EBUSY)
			t->busy++;
		else if (n != 0)
			t->other++;
		if (n == 0)
			break;
	}
	return NULL;
}

TEST_F(io, concurrent_reads_take_turns)
{
	struct turn_reader t[2] = { { 0 } };
	int fd = self->other[0] >= 0 ? self->other[0] : self->wfd;
	long n = npoll_test_iters(300), i;

	for (i = 0; i < 2; i++) {
		t[i].pd = self->rd;
		ASSERT_EQ(0, pthread_create(&t[i].th, NULL, turn_reader_fn, &t[i]));
	}
	EXPECT_TRUE(npt_wait_waiters(self->p, 1));
	for (i = 0; i < n; i++) {
		ASSERT_EQ(1, write(fd, "b", 1));
		if (i % 16 == 0)
			npoll_test_sleep_ns(NPT_MS);
	}
	/* Wait until every byte was taken, then end both threads. */
	{
		int64_t end = npoll_test_now() + NPT_PATIENCE;

		while (t[0].bytes + t[1].bytes < n && npoll_test_now() < end)
			npoll_test_sleep_ns(NPT_MS);
	}
	EXPECT_EQ(0, np_unblock(self->rd));
	for (i = 0; i < 2; i++)
		pthread_join(t[i].th, NULL);
	EXPECT_EQ(n, t[0].bytes + t[1].bytes);
	EXPECT_EQ(0, t[0].busy + t[1].busy);
	EXPECT_EQ(0, t[0].other + t[1].other);
	TH_LOG("%ld bytes: %ld + %ld", n, t[0].bytes, t[1].bytes);
}

/* Two np_write threads on one full descriptor take turns too. */
struct turn_writer {
	pthread_t th;
	np_desc *pd;
	ssize_t result;
};

static void *turn_writer_fn(void *arg)
{
	static char buf[256 << 10];
	struct turn_writer *t = arg;

	t->result = np_write(t->pd, buf, sizeof(buf));
	return NULL;
}

TEST_F(io, concurrent_writes_take_turns)
{
	struct turn_writer t[2] = { { 0 } };
	unsigned char buf[65536];
	long total = 0;
	ssize_t n;
	int i, fd;

	if (variant->kind == NPT_UDP)
		SKIP(return, "stream files only");
	fd = self->other[0] >= 0 ? self->other[0] : self->rfd;
	if (variant->kind == NPT_PIPE) {
		np_close(self->rd);
		self->rd = NULL;
	}
	fcntl(fd, F_SETFL, 0);
	for (i = 0; i < 2; i++) {
		t[i].pd = self->wr;
		ASSERT_EQ(0, pthread_create(&t[i].th, NULL, turn_writer_fn, &t[i]));
	}
	while (total < 2 * (256 << 10)) {
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		total += n;
	}
	for (i = 0; i < 2; i++) {
		pthread_join(t[i].th, NULL);
		EXPECT_EQ(256 << 10, t[i].result);
	}
	EXPECT_EQ(2 * (256 << 10), total);
}

/* A listening socket registered for np_accept. */
FIXTURE(tcp) {
	np_poller *p;
	np_desc *ld;
	int lfd;
	in_port_t port;
};

FIXTURE_SETUP(tcp)
{
	self->lfd = -1;
	NPT_OPEN_POLLER(self->p);
	self->lfd = npt_listener(&self->port);
	ASSERT_LE(0, self->lfd);
	ASSERT_EQ(0, np_open(self->p, self->lfd, 9, &self->ld));
}

FIXTURE_TEARDOWN(tcp)
{
	if (self->p)
		np_poller_close(self->p);
	if (self->lfd >= 0)
		close(self->lfd);
}

static int tcp_client(FIXTURE_DATA(tcp) *self)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	npt_loopback(&sin, self->port);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		close(fd);
		return -1;
	}
	return fd;
}

TEST_F(tcp, accept_honors_flags)
{
	struct sockaddr_in peer;
	socklen_t plen = sizeof(peer);
	int c1, c2, a1, a2;

	c1 = tcp_client(self);
	ASSERT_LE(0, c1);
	c2 = tcp_client(self);
	ASSERT_LE(0, c2);
	a1 = np_accept(self->ld, (struct sockaddr *)&peer, &plen,
		       SOCK_CLOEXEC | SOCK_NONBLOCK);
	ASSERT_LE(0, a1);
	EXPECT_EQ(FD_CLOEXEC, fcntl(a1, F_GETFD) & FD_CLOEXEC);
	EXPECT_NE(0, fcntl(a1, F_GETFL) & O_NONBLOCK);
	EXPECT_EQ(sizeof(peer), plen);
	EXPECT_EQ(htonl(INADDR_LOOPBACK), peer.sin_addr.s_addr);
	a2 = np_accept(self->ld, NULL, NULL, 0);
	ASSERT_LE(0, a2);
	EXPECT_EQ(0, fcntl(a2, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(0, fcntl(a2, F_GETFL) & O_NONBLOCK);
	close(a2);
	close(a1);
	close(c2);
	close(c1);
}

struct connector {
	pthread_t th;
	FIXTURE_DATA(tcp) *self;
	int fd;
};

static void *connector_fn(void *arg)
{
	struct connector *c = arg;

	npoll_test_sleep_ns(100 * NPT_MS);
	c->fd = tcp_client(c->self);
	return NULL;
}

/* With no connection queued, np_accept waits for one. */
TEST_F(tcp, accept_waits_for_connection)
{
	struct connector c = { .self = self, .fd = -1 };
	int a;

	ASSERT_EQ(0, pthread_create(&c.th, NULL, connector_fn, &c));
	a = np_accept(self->ld, NULL, NULL, SOCK_CLOEXEC);
	pthread_join(c.th, NULL);
	EXPECT_LE(0, a);
	EXPECT_LE(0, c.fd);
	close(a);
	close(c.fd);
}

TEST_F(tcp, accept_expired_deadline_is_etimedout_even_with_pending)
{
	int c = tcp_client(self);

	ASSERT_LE(0, c);
	ASSERT_EQ(0, np_set_deadline(self->ld, -1, NP_READ));
	EXPECT_EQ(-ETIMEDOUT, np_accept(self->ld, NULL, NULL, 0));
	ASSERT_EQ(0, np_set_deadline(self->ld, 50 * NPT_MS, NP_READ));
	ASSERT_EQ(0, np_unblock(self->ld));
	EXPECT_EQ(-ECANCELED, np_accept(self->ld, NULL, NULL, 0));
	close(c);
}

TEST_F(tcp, connect_to_listener_returns_zero)
{
	struct sockaddr_in sin, peer;
	socklen_t plen = sizeof(peer);
	np_desc *cd;
	int fd, a;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, np_open(self->p, fd, 3, &cd));
	npt_loopback(&sin, self->port);
	EXPECT_EQ(0, np_connect(cd, (struct sockaddr *)&sin, sizeof(sin)));
	EXPECT_EQ(0, getpeername(fd, (struct sockaddr *)&peer, &plen));
	EXPECT_EQ(self->port, peer.sin_port);
	a = np_accept(self->ld, NULL, NULL, SOCK_CLOEXEC);
	EXPECT_LE(0, a);
	/* The connected socket works through the helpers. */
	EXPECT_EQ(3, np_write(cd, "abc", 3));
	close(a);
	EXPECT_EQ(0, np_close(cd));
	close(fd);
}

/* As Go: EISCONN from connect() means an earlier connect completed. */
TEST_F(tcp, connect_of_connected_socket_returns_zero)
{
	struct sockaddr_in sin;
	np_desc *cd;
	int fd, a;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, np_open(self->p, fd, 3, &cd));
	npt_loopback(&sin, self->port);
	EXPECT_EQ(0, np_connect(cd, (struct sockaddr *)&sin, sizeof(sin)));
	/*
	 * The first connect() after an asynchronous completion reports it
	 * (0); every later one says EISCONN.
	 */
	EXPECT_EQ(0, connect(fd, (struct sockaddr *)&sin, sizeof(sin)));
	ASSERT_EQ(-1, connect(fd, (struct sockaddr *)&sin, sizeof(sin)));
	ASSERT_EQ(EISCONN, errno);
	EXPECT_EQ(0, np_connect(cd, (struct sockaddr *)&sin, sizeof(sin)));
	a = np_accept(self->ld, NULL, NULL, SOCK_CLOEXEC);
	EXPECT_LE(0, a);
	close(a);
	EXPECT_EQ(0, np_close(cd));
	close(fd);
}

/*
 * As Go: EALREADY from connect() means an earlier connect is still
 * under way; wait for it as for EINPROGRESS.  A listener with backlog
 * 0 holds one connection; the SYN of a second is dropped until the
 * first is accepted, and its retransmission then completes it.
 */
TEST_F(tcp, connect_while_connect_in_progress_waits_for_it)
{
	struct sockaddr_in sin, peer;
	socklen_t plen = sizeof(peer);
	in_port_t port;
	int l, first, fd, a;
	np_desc *cd;

	l = npt_bound(SOCK_STREAM, &port);
	ASSERT_LE(0, l);
	ASSERT_EQ(0, listen(l, 0));
	npt_loopback(&sin, port);
	first = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, first);
	ASSERT_EQ(0, connect(first, (struct sockaddr *)&sin, sizeof(sin)));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, np_open(self->p, fd, 3, &cd));
	ASSERT_EQ(-1, connect(fd, (struct sockaddr *)&sin, sizeof(sin)));
	ASSERT_EQ(EINPROGRESS, errno);
	ASSERT_EQ(-1, connect(fd, (struct sockaddr *)&sin, sizeof(sin)));
	ASSERT_EQ(EALREADY, errno);
	a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	ASSERT_LE(0, a);
	EXPECT_EQ(0, np_connect(cd, (struct sockaddr *)&sin, sizeof(sin)));
	EXPECT_EQ(0, getpeername(fd, (struct sockaddr *)&peer, &plen));
	close(a);
	EXPECT_EQ(0, np_close(cd));
	close(fd);
	close(first);
	close(l);
}

TEST_F(tcp, connect_to_closed_port_is_econnrefused)
{
	struct sockaddr_in sin;
	np_desc *cd;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, np_open(self->p, fd, 3, &cd));
	npt_loopback(&sin, npt_closed_port(SOCK_STREAM));
	EXPECT_EQ(-ECONNREFUSED,
		  np_connect(cd, (struct sockaddr *)&sin, sizeof(sin)));
	EXPECT_EQ(0, np_close(cd));
	close(fd);
}

TEST_F(tcp, connect_expired_write_deadline_is_etimedout)
{
	struct sockaddr_in sin;
	np_desc *cd;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, np_open(self->p, fd, 3, &cd));
	ASSERT_EQ(0, np_set_deadline(cd, -1, NP_WRITE));
	npt_loopback(&sin, self->port);
	EXPECT_EQ(-ETIMEDOUT,
		  np_connect(cd, (struct sockaddr *)&sin, sizeof(sin)));
	/* No attempt was made: the socket is not connected. */
	EXPECT_EQ(-1, getpeername(fd, (struct sockaddr *)&sin,
				  &(socklen_t){ sizeof(sin) }));
	EXPECT_EQ(0, np_close(cd));
	close(fd);
}

/* Unconnected UDP: np_sendto to an address, np_recvfrom reports it. */
TEST(udp_sendto_recvfrom_with_addresses)
{
	struct sockaddr_in to, from;
	socklen_t flen = sizeof(from);
	in_port_t pa = 0, pb = 0;
	np_desc *da, *db;
	np_poller *p;
	char buf[16];
	int a, b;

	NPT_OPEN_POLLER(p);
	a = npt_bound(SOCK_DGRAM, &pa);
	b = npt_bound(SOCK_DGRAM, &pb);
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, np_open(p, a, 1, &da));
	ASSERT_EQ(0, np_open(p, b, 2, &db));
	npt_loopback(&to, pb);
	EXPECT_EQ(5, np_sendto(da, "hello", 5, 0, (struct sockaddr *)&to,
			       sizeof(to)));
	memset(&from, 0, sizeof(from));
	EXPECT_EQ(5, np_recvfrom(db, buf, sizeof(buf), 0,
				 (struct sockaddr *)&from, &flen));
	EXPECT_EQ(0, memcmp(buf, "hello", 5));
	EXPECT_EQ(pa, from.sin_port);
	/* Nothing more: the next receive waits and times out. */
	ASSERT_EQ(0, np_set_deadline(db, 30 * NPT_MS, NP_READ));
	EXPECT_EQ(-ETIMEDOUT, np_recvfrom(db, buf, sizeof(buf), 0, NULL, NULL));
	EXPECT_EQ(0, np_close(da));
	EXPECT_EQ(0, np_close(db));
	close(a);
	close(b);
	np_poller_close(p);
}

/* A file that reported EPOLLERR: the read helpers fail with -EIO. */
TEST(error_event_maps_to_eio)
{
	struct sockaddr_in sin;
	np_poller *p;
	np_desc *pd;
	char buf[4];
	ssize_t r = 0;
	int fd, i;

	NPT_OPEN_POLLER(p);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, fd);
	npt_loopback(&sin, npt_closed_port(SOCK_DGRAM));
	ASSERT_EQ(0, connect(fd, (struct sockaddr *)&sin, sizeof(sin)));
	ASSERT_EQ(0, np_open(p, fd, 1, &pd));
	ASSERT_EQ(1, send(fd, "x", 1, 0));
	ASSERT_EQ(0, np_set_deadline(pd, 10 * NPT_SEC, NP_READ));
	/*
	 * The first call may still see the socket's own error from the
	 * syscall (the ICMP error); once the event is recorded, -EIO.
	 */
	for (i = 0; i < 3; i++) {
		r = np_read(pd, buf, sizeof(buf));
		if (r == -EIO)
			break;
	}
	EXPECT_EQ(-EIO, r);
	EXPECT_EQ(-EIO, np_recvfrom(pd, buf, sizeof(buf), 0, NULL, NULL));
	EXPECT_EQ(0, np_close(pd));
	close(fd);
	np_poller_close(p);
}

/*
 * A TCP reset wakes the reader twice: the state change (EOF, hang-up)
 * and then EPOLLERR alone.  The file reports more than the error, so no
 * error event stands: the reader gets the socket's own results, the
 * reset and then end of file (as Go's Read does), not -EIO.
 */
TEST(tcp_reset_reads_econnreset_then_eof)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	np_poller *p;
	np_desc *pd;
	char buf[4];
	int sv[2];

	NPT_OPEN_POLLER(p);
	ASSERT_EQ(0, npt_tcp_pair(sv));
	ASSERT_EQ(0, np_open(p, sv[0], 1, &pd));
	ASSERT_EQ(0, np_set_deadline(pd, NPT_PATIENCE, NP_READ));
	ASSERT_EQ(0, setsockopt(sv[1], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	ASSERT_EQ(0, close(sv[1]));
	/* The reset has arrived once the socket reports its error. */
	ASSERT_EQ(1, poll(&(struct pollfd){ .fd = sv[0], .events = POLLIN }, 1,
			  20000));
	EXPECT_EQ(-ECONNRESET, np_read(pd, buf, sizeof(buf)));
	EXPECT_EQ(0, np_read(pd, buf, sizeof(buf)));
	EXPECT_EQ(0, np_read(pd, buf, sizeof(buf)));
	EXPECT_EQ(0, np_close(pd));
	close(sv[0]);
	np_poller_close(p);
}

/*
 * An ICMP error on a connected UDP socket is an error event (EPOLLERR
 * alone) until the next report: a datagram that arrives later clears
 * it, and reads get the socket's own results again - its pending error
 * at most once, then the datagram.
 */
TEST(udp_icmp_error_then_datagram_is_read)
{
	struct sockaddr_in sin, self_addr;
	socklen_t alen = sizeof(self_addr);
	in_port_t port = npt_closed_port(SOCK_DGRAM);
	np_poller *p;
	np_desc *pd;
	char buf[4];
	ssize_t r;
	int fd, peer, i;

	NPT_OPEN_POLLER(p);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, fd);
	npt_loopback(&sin, port);
	ASSERT_EQ(0, connect(fd, (struct sockaddr *)&sin, sizeof(sin)));
	ASSERT_EQ(0, getsockname(fd, (struct sockaddr *)&self_addr, &alen));
	ASSERT_EQ(0, np_open(p, fd, 1, &pd));
	ASSERT_EQ(0, np_set_deadline(pd, NPT_PATIENCE, NP_READ));
	ASSERT_EQ(1, send(fd, "x", 1, 0));
	/* The error event is recorded: the file reported EPOLLERR alone. */
	for (i = 0; i < 3; i++)
		if (np_wait(pd, NP_READ) == NP_ERR_NOT_POLLABLE)
			break;
	ASSERT_LT(i, 3);
	/* The closed port opens and answers. */
	peer = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, peer);
	ASSERT_EQ(0, bind(peer, (struct sockaddr *)&sin, sizeof(sin)));
	ASSERT_EQ(1, sendto(peer, "y", 1, 0, (struct sockaddr *)&self_addr,
			    alen));
	r = np_read(pd, buf, sizeof(buf));
	if (r == -ECONNREFUSED)
		r = np_read(pd, buf, sizeof(buf));
	EXPECT_EQ(1, r);
	EXPECT_EQ('y', buf[0]);
	EXPECT_EQ(0, np_close(pd));
	close(peer);
	close(fd);
	np_poller_close(p);
}

TEST_HARNESS_MAIN
