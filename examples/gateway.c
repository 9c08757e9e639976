// SPDX-License-Identifier: MIT
/*
 * npoll-gateway: a thread-per-connection TCP server in the style of an
 * order gateway, written as plain blocking code on libnpoll.
 *
 * Each connection has its own thread that reads with np_read() and
 * answers with np_write(), as if the socket were blocking, under two
 * Go-style read deadlines:
 *
 *   - an idle timeout: while no message is in progress, the read
 *     deadline is --idle-timeout from the end of the last message;
 *   - a per-message deadline: once the first byte of a message is in,
 *     the rest must come within --msg-timeout.
 *
 * An expired deadline ends the blocked np_read() with -ETIMEDOUT and the
 * connection is closed.  Shutdown (SIGINT, SIGTERM or the end of
 * --duration) np_unblock()s the listener and every connection at once:
 * each blocked np_accept(), np_read() and np_write() returns -ECANCELED
 * at once, every thread winds down on its own and is joined, and the
 * counters are printed.
 *
 * The wire protocol is the one of the sockperf client (see spmsg.h), so
 * that "sockperf ping-pong --tcp" and "sockperf under-load --tcp"
 * measure it.  npoll-gateway-epoll is the same server on epoll.
 */
#include <pthread.h>

#include <npoll.h>

#include "gateway.h"

#define PROG "npoll-gateway"

/*
 * struct conn - one client connection and its thread
 * @closed:   set under conns_lock just before the thread closes @pd, so
 *            that the shutdown sweep never unblocks a freed descriptor
 * @finished: set under conns_lock when the thread is about to return;
 *            the acceptor then joins it and folds @st into the total
 */
struct conn {
	struct conn *next;
	pthread_t thread;
	int fd;
	np_desc *pd;
	int64_t armed;		/* the read deadline set last, relative */
	bool closed;
	bool finished;
	struct gw_stats st;
};

static struct gw_opts opt;
static np_poller *poller;
static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn *conns;		/* under conns_lock */
static bool stopping;			/* under conns_lock */
static struct gw_stats total;		/* of joined connections */

/*
 * The whole of @p: 0 or -errno.  np_write() returns a short count when it
 * fails after part of the buffer went out; the next call reports why.
 */
static ssize_t write_all(struct conn *c, const unsigned char *p, size_t len)
{
	ssize_t w;

	while (len) {
		w = np_write(c->pd, p, len);
		if (w < 0)
			return w;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/*
 * Answer every whole message at the start of @buf (@have bytes): returns
 * the bytes consumed, or a negative value when the connection must end
 * (-EPROTO: invalid header; else np_write()'s error).
 */
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

/* Go's SetReadDeadline(now + @d); 0 clears it, and costs nothing twice. */
static void read_deadline(struct conn *c, int64_t d)
{
	if (d || c->armed)
		np_set_deadline(c->pd, d, NP_READ);
	c->armed = d;
}

static void *session(void *arg)
{
	struct conn *c = arg;
	unsigned char *buf = malloc(SPMSG_BUF_LEN);
	bool in_msg = false;	/* the message deadline is armed */
	size_t have = 0;
	ssize_t n = -ENOMEM;
	long used;

	c->st.conns = 1;
	while (buf) {
		if (have == 0) {
			/* Between messages: the idle timeout. */
			read_deadline(c, opt.idle_ns);
			in_msg = false;
		} else if (!in_msg) {
			/* A message has begun: the rest is due soon. */
			read_deadline(c, opt.msg_ns);
			in_msg = true;
		}
		n = np_read(c->pd, buf + have, SPMSG_BUF_LEN - have);
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

	pthread_mutex_lock(&conns_lock);
	c->closed = true;
	pthread_mutex_unlock(&conns_lock);
	np_close(c->pd);
	close(c->fd);

	pthread_mutex_lock(&conns_lock);
	c->finished = true;
	pthread_mutex_unlock(&conns_lock);
	return NULL;
}

/* Join the threads of connections that ended; with @all, every one. */
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

/* Start a thread for the accepted socket @fd; false if it was dropped. */
static bool start_session(int fd)
{
	struct conn *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		goto drop;
	c->fd = fd;
	gw_nodelay(fd);
	r = np_open(poller, fd, 0, &c->pd);
	if (r) {
		fprintf(stderr, PROG ": np_open: %s\n", strerror(-r));
		goto drop;
	}
	pthread_mutex_lock(&conns_lock);
	if (stopping) {
		pthread_mutex_unlock(&conns_lock);
		np_close(c->pd);
		goto drop;
	}
	r = pthread_create(&c->thread, NULL, session, c);
	if (r) {
		pthread_mutex_unlock(&conns_lock);
		fprintf(stderr, PROG ": pthread_create: %s\n", strerror(r));
		np_close(c->pd);
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
	np_desc *lpd = arg;
	int fd;

	for (;;) {
		fd = np_accept(lpd, NULL, NULL, SOCK_CLOEXEC);
		if (fd == -ECANCELED)
			break;
		if (fd < 0) {
			/* EMFILE and the like: back off, then go on. */
			fprintf(stderr, PROG ": accept: %s\n", strerror(-fd));
			usleep(10000);
			continue;
		}
		start_session(fd);
		reap(false);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t acc;
	np_desc *lpd;
	const char *why;
	struct conn *c;
	sigset_t sigs;
	int lfd, r;
	int64_t t0;

	gw_parse(argc, argv, PROG, &opt);
	gw_block_signals(&sigs);
	r = np_poller_open(&poller);
	if (r) {
		fprintf(stderr, PROG ": np_poller_open: %s (is npoll.ko loaded?)\n",
			strerror(-r));
		return 1;
	}
	lfd = gw_listen(&opt, PROG);
	if (lfd < 0)
		return 1;
	r = np_open(poller, lfd, 0, &lpd);
	if (r) {
		fprintf(stderr, PROG ": np_open: %s\n", strerror(-r));
		return 1;
	}
	r = pthread_create(&acc, NULL, acceptor, lpd);
	if (r) {
		fprintf(stderr, PROG ": pthread_create: %s\n", strerror(r));
		return 1;
	}
	printf(PROG ": listening on %s:%d\n", opt.addr, opt.port);
	fflush(stdout);

	why = gw_wait_trigger(&opt, &sigs);

	/*
	 * Graceful shutdown: no new connection is started, then every
	 * blocked call on the listener and on each connection returns
	 * -ECANCELED at once.  A thread that already closed its descriptor
	 * (closed) is left alone.
	 */
	t0 = gw_now_ns();
	pthread_mutex_lock(&conns_lock);
	stopping = true;
	np_unblock(lpd);
	for (c = conns; c; c = c->next)
		if (!c->closed)
			np_unblock(c->pd);
	pthread_mutex_unlock(&conns_lock);
	pthread_join(acc, NULL);
	reap(true);

	printf(PROG ": %s: shut down\n", why);
	gw_stats_print(PROG, &total, (gw_now_ns() - t0) / 1e6);
	np_close(lpd);
	close(lfd);
	np_poller_close(poller);
	return total.errors || total.bad_msgs ? 1 : 0;
}
