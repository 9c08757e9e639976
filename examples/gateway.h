/* SPDX-License-Identifier: MIT */
/*
 * What the two gateway examples (npoll-gateway on libnpoll, and
 * npoll-gateway-epoll on plain epoll) share, so that they differ only
 * in how a connection's thread waits: the command line, the listening
 * socket, the counters and the way shutdown is triggered.
 */
#ifndef GATEWAY_H
#define GATEWAY_H

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "spmsg.h"

struct gw_opts {
	const char *addr;	/* listening address */
	int port;
	/* Read deadlines, 0 for none: */
	int64_t idle_ns;	/* no new message for this long: close */
	int64_t msg_ns;		/* rest of a message due after its 1st byte */
	int duration;		/* seconds until shutdown; 0: until a signal */
};

/* Per connection, summed over all of them at shutdown. */
struct gw_stats {
	uint64_t conns;
	uint64_t msgs;		/* client messages received */
	uint64_t replies;	/* messages answered */
	uint64_t bytes;		/* bytes received */
	uint64_t eof;		/* closed by the peer */
	uint64_t resets;	/* reset by the peer (ECONNRESET, EPIPE) */
	uint64_t idle_timeouts;
	uint64_t msg_timeouts;
	uint64_t canceled;	/* ended by the shutdown */
	uint64_t bad_msgs;	/* invalid header: connection dropped */
	uint64_t errors;	/* any other I/O error */
};

static inline void gw_stats_add(struct gw_stats *to, const struct gw_stats *s)
{
	to->conns += s->conns;
	to->msgs += s->msgs;
	to->replies += s->replies;
	to->bytes += s->bytes;
	to->eof += s->eof;
	to->resets += s->resets;
	to->idle_timeouts += s->idle_timeouts;
	to->msg_timeouts += s->msg_timeouts;
	to->canceled += s->canceled;
	to->bad_msgs += s->bad_msgs;
	to->errors += s->errors;
}

static inline void gw_stats_print(const char *prog, const struct gw_stats *s,
				  double shutdown_ms)
{
	printf("%s: %" PRIu64 " connections, %" PRIu64 " messages, %" PRIu64
	       " replies, %" PRIu64 " bytes in\n",
	       prog, s->conns, s->msgs, s->replies, s->bytes);
	printf("%s: ended by peer %" PRIu64 ", reset %" PRIu64
	       ", idle timeout %" PRIu64 ", message timeout %" PRIu64
	       ", shutdown %" PRIu64 ", bad message %" PRIu64
	       ", error %" PRIu64 "\n",
	       prog, s->eof, s->resets, s->idle_timeouts, s->msg_timeouts,
	       s->canceled, s->bad_msgs, s->errors);
	printf("%s: shutdown took %.3f ms\n", prog, shutdown_ms);
	fflush(stdout);
}

/*
 * How a connection ended, for the counters: @err is 0 (end of stream)
 * or the -errno of its last call; @in_msg tells which deadline expired.
 */
static inline void gw_count_end(struct gw_stats *st, long err, bool in_msg)
{
	switch (err) {
	case 0:
		st->eof++;
		break;
	case -ECONNRESET:
	case -EPIPE:
		st->resets++;
		break;
	case -ETIMEDOUT:
		if (in_msg)
			st->msg_timeouts++;
		else
			st->idle_timeouts++;
		break;
	case -ECANCELED:
		st->canceled++;
		break;
	case -EPROTO:
		st->bad_msgs++;
		break;
	default:
		st->errors++;
	}
}

static inline int64_t gw_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline void gw_usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-a ADDR] [-p PORT] [--idle-timeout MS]\n"
		"       %*s [--msg-timeout MS] [--duration SEC]\n"
		"Answers sockperf clients (TCP) until SIGINT or SIGTERM, or\n"
		"for SEC seconds.  Defaults: 127.0.0.1:11111, idle timeout\n"
		"10000 ms, message timeout 1000 ms; a timeout of 0 is none.\n",
		prog, (int)strlen(prog), "");
	exit(2);
}

static inline long gw_number(const char *prog, const char *s, long min,
			     long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "%s: %s: not a number from %ld to %ld\n",
			prog, s, min, max);
		exit(2);
	}
	return v;
}

static inline void gw_parse(int argc, char **argv, const char *prog,
			    struct gw_opts *o)
{
	static const struct option lopts[] = {
		{ "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "idle-timeout", required_argument, NULL, 'i' },
		{ "msg-timeout", required_argument, NULL, 'm' },
		{ "duration", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct gw_opts){
		.addr = "127.0.0.1",
		.port = 11111,
		.idle_ns = 10000 * 1000000LL,
		.msg_ns = 1000 * 1000000LL,
	};
	while ((c = getopt_long(argc, argv, "a:p:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			o->addr = optarg;
			break;
		case 'p':
			o->port = (int)gw_number(prog, optarg, 1, 65535);
			break;
		case 'i':
			o->idle_ns = gw_number(prog, optarg, 0, 86400000) *
				     1000000LL;
			break;
		case 'm':
			o->msg_ns = gw_number(prog, optarg, 0, 86400000) *
				    1000000LL;
			break;
		case 'd':
			o->duration = (int)gw_number(prog, optarg, 1, 86400);
			break;
		default:
			gw_usage(prog);
		}
	}
	if (optind != argc)
		gw_usage(prog);
}

/* A listening TCP socket on @o's address, or -1 after a message. */
static inline int gw_listen(const struct gw_opts *o, const char *prog)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)o->port),
	};
	int fd, one = 1;

	if (inet_pton(AF_INET, o->addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "%s: bad IPv4 address %s\n", prog, o->addr);
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(fd, 1024)) {
		fprintf(stderr, "%s: listen on %s:%d: %s\n", prog, o->addr,
			o->port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Small replies go out at once: no Nagle delay on the answer. */
static inline void gw_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/*
 * Block SIGINT and SIGTERM in every thread (call before creating any),
 * so that the main thread takes them with gw_wait_trigger().  SIGPIPE
 * is ignored: a write to a vanished peer fails with EPIPE instead.
 */
static inline void gw_block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Wait for SIGINT/SIGTERM, or @o->duration seconds if set. */
static inline const char *gw_wait_trigger(const struct gw_opts *o,
					  const sigset_t *set)
{
	struct timespec ts = { .tv_sec = o->duration };
	int sig;

	for (;;) {
		sig = o->duration ? sigtimedwait(set, NULL, &ts) :
				    sigwaitinfo(set, NULL);
		if (sig == SIGINT)
			return "SIGINT";
		if (sig == SIGTERM)
			return "SIGTERM";
		if (sig < 0 && errno == EAGAIN)
			return "end of --duration";
		/* EINTR: another signal's handler ran; wait on. */
	}
}

#endif /* GATEWAY_H */
