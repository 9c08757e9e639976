// SPDX-License-Identifier: MIT
/*
 * npoll-demo: Go's deadlines and cancellation for a blocking C read.
 *
 * Over a socket pair it shows, step by step:
 *   1. a read that waits for data and gets it;
 *   2. a read with a 50 ms deadline that expires (-ETIMEDOUT);
 *   3. a deadline moved into the past while a reader is parked;
 *   4. np_close() from another thread ending a blocked read (-ECANCELED).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include <npoll.h>

static np_desc *reader;
static int peer;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void *send_later(void *arg)
{
	usleep(20000);
	if (write(peer, "hello", 5) != 5)
		perror("write");
	return arg;
}

static void *expire_later(void *arg)
{
	usleep(20000);
	np_set_deadline(reader, -1, NP_READ);
	return arg;
}

static void *close_later(void *arg)
{
	usleep(20000);
	np_close(reader);
	return arg;
}

static void show(const char *what, ssize_t r, double t0)
{
	printf("  %-44s -> %-22s (%.1f ms)\n", what,
	       r >= 0 ? "ok" : strerror((int)-r), now_ms() - t0);
}

int main(void)
{
	np_poller *p;
	pthread_t th;
	char buf[64];
	int sv[2], r;
	double t0;

	r = np_poller_open(&p);
	if (r) {
		fprintf(stderr, "np_poller_open: %s (is npoll.ko loaded?)\n",
			strerror(-r));
		return 1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
		perror("socketpair");
		return 1;
	}
	peer = sv[1];
	r = np_open(p, sv[0], 42, &reader);
	if (r) {
		fprintf(stderr, "np_open: %s\n", strerror(-r));
		return 1;
	}
	printf("npoll demo: one AF_UNIX socket, blocking-style reads\n");

	t0 = now_ms();
	pthread_create(&th, NULL, send_later, NULL);
	r = np_read(reader, buf, sizeof(buf));
	pthread_join(th, NULL);
	show("1. read, data arrives after 20 ms", r, t0);

	t0 = now_ms();
	np_set_deadline(reader, 50 * 1000000LL, NP_READ);
	r = np_read(reader, buf, sizeof(buf));
	show("2. read with a 50 ms deadline, no data", r, t0);

	t0 = now_ms();
	np_set_deadline(reader, 10 * 1000000000LL, NP_READ);
	pthread_create(&th, NULL, expire_later, NULL);
	r = np_read(reader, buf, sizeof(buf));
	pthread_join(th, NULL);
	show("3. 10 s deadline moved to the past at 20 ms", r, t0);

	t0 = now_ms();
	np_set_deadline(reader, 0, NP_READ);
	pthread_create(&th, NULL, close_later, NULL);
	r = np_read(reader, buf, sizeof(buf));
	pthread_join(th, NULL);
	show("4. np_close() from another thread at 20 ms", r, t0);

	np_poller_close(p);
	close(sv[0]);
	close(sv[1]);
	return 0;
}
