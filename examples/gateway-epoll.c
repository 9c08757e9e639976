// SPDX-License-Identifier: MIT
/*
 * npoll-gateway-epoll: npoll-gateway without npoll, for comparison.
 *
 * The same server (sockperf's protocol, a thread per connection, the
 * same idle and per-message read deadlines, the same shutdown) with
 * each connection's thread waiting in epoll instead of in the npoll
 * device: every thread owns an epoll instance holding its socket
 * (edge-triggered) and a shared shutdown eventfd (level-triggered).
 * A read tries read() first; on EAGAIN it waits in epoll_pwait2() with
 * the time left to the deadline as timeout, which costs no system call
 * to re-arm (no timerfd).  Shutdown writes the eventfd once, which
 * wakes every thread at once.
 *
 * A thread per connection on both sides keeps the comparison to how a
 * thread reads and sleeps: the same threads, context switches, framing
 * and deadline logic around np_read() there and read() + epoll_pwait2()
 * here.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "gateway.h"

#define PROG "npoll-gateway-epoll"

struct conn {
	struct conn *next;
	pthread_t thread;
	int fd;
	int epfd;
	int64_t deadline;	/* read deadline, CLOCK_MONOTONIC ns; 0 none */
	bool finished;		/* under conns_lock */
	struct gw_stats st;
};

static struct gw_opts opt;
static int stop_fd;			/* eventfd, readable once stopping */
static atomic_bool stopping;
static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn *conns;		/* under conns_lock */
static struct gw_stats total;

/*
 * An epoll instance with @fd (@events, edge-triggered) and the shutdown
 * eventfd (level-triggered).
 */
static int ep_create(int fd, uint32_t events)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = stop_fd };
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	int err;

	if (epfd < 0)
		return -errno;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, stop_fd, &ev))
		goto fail;
	ev.events = events | EPOLLET;
	ev.data.fd = fd;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev))
		goto fail;
	return epfd;
fail:
	err = -errno;
	close(epfd);
	return err;
}

/*
 * Sleep until the socket signals, @deadline (0: none) passes
 * (-ETIMEDOUT) or shutdown begins (-ECANCELED).  0 to try again.
 */
static int ep_wait(int epfd, int64_t deadline)
{
	struct epoll_event ev[2];
	struct timespec ts, *tp = NULL;
	int64_t left;
	int i, n;

	if (deadline) {
		left = deadline - gw_now_ns();
		if (left <= 0)
			return -ETIMEDOUT;
		ts.tv_sec = left / 1000000000LL;
		ts.tv_nsec = left % 1000000000LL;
		tp = &ts;
	}
	n = epoll_pwait2(epfd, ev, 2, tp, NULL);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = 0; i < n; i++)
		if (ev[i].data.fd == stop_fd)
			return -ECANCELED;
	return 0;
}

/* read() as a blocking call bounded by the connection's deadline. */
static ssize_t ep_read(struct conn *c, void *buf, size_t len)
{
	ssize_t n;
	int r;

	for (;;) {
		if (atomic_load_explicit(&stopping, memory_order_relaxed))
			return -ECANCELED;
		n = read(c->fd, buf, len);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		r = ep_wait(c->epfd, c->deadline);
		if (r)
			return r;
	}
}

/* Watch @c's socket for @events too (edge-triggered): 0 or -errno. */
static int ep_watch(struct conn *c, uint32_t events)
{
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLRDHUP | EPOLLET | events,
		.data.fd = c->fd,
	};

	return epoll_ctl(c->epfd, EPOLL_CTL_MOD, c->fd, &ev) ? -errno : 0;
}

/*
 * The whole buffer, waiting for room as needed (no write deadline).
 * The socket is watched for EPOLLOUT only while a write waits: else
 * every ACK that frees send space would wake the thread's read waits.
 */
static ssize_t ep_write(struct conn *c, const void *buf, size_t len)
{
	bool watching = false;
	size_t done = 0;
	ssize_t n;
	int r = 0;

	while (done < len) {
		n = write(c->fd, (const char *)buf + done, len - done);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || errno != EAGAIN) {
			r = n ? -errno : -EIO;
			break;
		}
		if (!watching) {
			r = ep_watch(c, EPOLLOUT);
			if (r)
				break;
			watching = true;
			continue;	/* room may have come meanwhile */
		}
		r = ep_wait(c->epfd, 0);
		if (r)
			break;
	}
	if (watching)
		ep_watch(c, 0);
	return done ? (ssize_t)done : r;
}

/*
 * The whole of @p: 0 or -errno.  ep_write() returns a short count when it
 * fails after part of the buffer went out; the next call reports why.
 */
static ssize_t write_all(struct conn *c, const unsigned char *p, size_t len)
{
	ssize_t w;

	while (len) {
		w = ep_write(c, p, len);
		if (w < 0)
			return w;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* As in npoll-gateway: answer the whole messages at the start of @buf. */
static long serve_buffered(struct conn *c, unsigned char *buf, size_t have)
{
	struct spmsg_hdr h;
	size_t off = 0;
	ssize_t w;
	long len;

	while ((len = spmsg_complete(buf + off, have - off, &h)) > 0) {
		c->st.msgs++;
		if (spmsg_wants_reply(&h)) {
			spmsg_make_reply(buf + off, &h);
			w = write_all(c, buf + off, (size_t)len);
			if (w < 0)
				return w;
			c->st.replies++;
		}
		off += (size_t)len;
	}
	return len < 0 ? -EPROTO : (long)off;
}

static void *session(void *arg)
{
	struct conn *c = arg;
	unsigned char *buf = malloc(SPMSG_BUF_LEN);
	bool in_msg = false;
	size_t have = 0;
	ssize_t n = -ENOMEM;
	long used;

	c->st.conns = 1;
	while (buf) {
		if (have == 0) {
			c->deadline = opt.idle_ns ? gw_now_ns() + opt.idle_ns : 0;
			in_msg = false;
		} else if (!in_msg) {
			c->deadline = opt.msg_ns ? gw_now_ns() + opt.msg_ns : 0;
			in_msg = true;
		}
		n = ep_read(c, buf + have, SPMSG_BUF_LEN - have);
		if (n <= 0)
			break;
		c->st.bytes += (uint64_t)n;
		have += (size_t)n;
		used = serve_buffered(c, buf, have);
		if (used < 0) {
			n = used;
			break;
		}
		if (used > 0) {
			have -= (size_t)used;
			memmove(buf, buf + used, have);
			in_msg = false;
		}
	}
	gw_count_end(&c->st, n, in_msg);
	free(buf);
	close(c->epfd);
	close(c->fd);

	pthread_mutex_lock(&conns_lock);
	c->finished = true;
	pthread_mutex_unlock(&conns_lock);
	return NULL;
}

static void reap(bool all)
{
	struct conn **pp, *c, *done = NULL;

	pthread_mutex_lock(&conns_lock);
	for (pp = &conns; (c = *pp);) {
		if (all || c->finished) {
			*pp = c->next;
			c->next = done;
			done = c;
		} else {
			pp = &c->next;
		}
	}
	pthread_mutex_unlock(&conns_lock);
	while ((c = done)) {
		done = c->next;
		pthread_join(c->thread, NULL);
		gw_stats_add(&total, &c->st);
		free(c);
	}
}

static bool start_session(int fd)
{
	struct conn *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		goto drop;
	c->fd = fd;
	gw_nodelay(fd);
	c->epfd = ep_create(fd, EPOLLIN | EPOLLRDHUP);
	if (c->epfd < 0) {
		fprintf(stderr, PROG ": epoll: %s\n", strerror(-c->epfd));
		goto drop;
	}
	pthread_mutex_lock(&conns_lock);
	r = pthread_create(&c->thread, NULL, session, c);
	if (r) {
		pthread_mutex_unlock(&conns_lock);
		fprintf(stderr, PROG ": pthread_create: %s\n", strerror(r));
		close(c->epfd);
		goto drop;
	}
	c->next = conns;
	conns = c;
	pthread_mutex_unlock(&conns_lock);
	return true;
drop:
	free(c);
	close(fd);
	return false;
}

static void *acceptor(void *arg)
{
	int lfd = (int)(intptr_t)arg;
	int epfd, fd, r;

	epfd = ep_create(lfd, EPOLLIN);
	if (epfd < 0) {
		fprintf(stderr, PROG ": epoll: %s\n", strerror(-epfd));
		return NULL;
	}
	for (;;) {
		if (atomic_load(&stopping))
			break;
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			start_session(fd);
			reap(false);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno != EAGAIN) {
			fprintf(stderr, PROG ": accept: %s\n", strerror(errno));
			usleep(10000);
			continue;
		}
		r = ep_wait(epfd, 0);
		if (r == -ECANCELED)
			break;
	}
	close(epfd);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *why;
	pthread_t acc;
	sigset_t sigs;
	uint64_t one = 1;
	int lfd, r;
	int64_t t0;

	gw_parse(argc, argv, PROG, &opt);
	gw_block_signals(&sigs);
	stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (stop_fd < 0) {
		perror(PROG ": eventfd");
		return 1;
	}
	lfd = gw_listen(&opt, PROG);
	if (lfd < 0 || fcntl(lfd, F_SETFL, O_NONBLOCK))
		return 1;
	r = pthread_create(&acc, NULL, acceptor, (void *)(intptr_t)lfd);
	if (r) {
		fprintf(stderr, PROG ": pthread_create: %s\n", strerror(r));
		return 1;
	}
	printf(PROG ": listening on %s:%d\n", opt.addr, opt.port);
	fflush(stdout);

	why = gw_wait_trigger(&opt, &sigs);

	/* One write to the eventfd wakes every thread at once. */
	t0 = gw_now_ns();
	atomic_store(&stopping, true);
	if (write(stop_fd, &one, sizeof(one)) != sizeof(one))
		perror(PROG ": eventfd write");
	pthread_join(acc, NULL);
	reap(true);

	printf(PROG ": %s: shut down\n", why);
	gw_stats_print(PROG, &total, (gw_now_ns() - t0) / 1e6);
	close(lfd);
	close(stop_fd);
	return total.errors || total.bad_msgs ? 1 : 0;
}
