/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for npoll's behaviour selftests: waiter threads that record
 * the outcome of one call on a descriptor (or of a raw ioctl), connected
 * pairs of every file type the tests use (npt_pair), raw ioctls, polling
 * of np_stats for parked threads, and the fixtures' common setup.
 *
 * Waiter threads never use the harness macros (those must run in the
 * test's own thread); they record what they saw and the test checks it
 * after joining them.
 */
#ifndef NPOLL_TEST_UTIL_H
#define NPOLL_TEST_UTIL_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/un.h>

#include <npoll.h>

#include "common.h"

#define NPT_MS		1000000LL
#define NPT_SEC		1000000000LL
/* How long a thing that must happen may take on a slow emulated guest. */
#define NPT_PATIENCE	(20 * NPT_SEC)

/* What a waiter thread calls. */
enum npt_call {
	NPT_WAIT,		/* np_wait(pd, mode) */
	NPT_WAIT_CANCELED,	/* np_wait_canceled(pd, mode) */
	NPT_READ,		/* np_read(pd, buf, sizeof(buf)) */
	NPT_WRITE,		/* np_write(pd, wbuf, wlen) */
};

struct npt_waiter {
	pthread_t th;
	np_desc *pd;
	int mode;
	enum npt_call call;
	const void *wbuf;
	size_t wlen;
	atomic_int started;
	atomic_int done;
	long result;		/* the call's return value */
	int64_t woke_ns;	/* CLOCK_MONOTONIC when the call returned */
	char buf[256];
};

static void *npt_waiter_fn(void *arg)
{
	struct npt_waiter *w = arg;
	long r = -1;

	atomic_store(&w->started, 1);
	switch (w->call) {
	case NPT_WAIT:
		r = np_wait(w->pd, w->mode);
		break;
	case NPT_WAIT_CANCELED:
		r = np_wait_canceled(w->pd, w->mode);
		break;
	case NPT_READ:
		r = np_read(w->pd, w->buf, sizeof(w->buf));
		break;
	case NPT_WRITE:
		r = np_write(w->pd, w->wbuf, w->wlen);
		break;
	}
	w->woke_ns = npoll_test_now();
	w->result = r;
	atomic_store(&w->done, 1);
	return NULL;
}

/* Start a thread making @call on @pd; 0 or -errno. */
static inline int npt_waiter_start(struct npt_waiter *w, np_desc *pd,
				   int mode, enum npt_call call)
{
	memset(w, 0, sizeof(*w));
	w->pd = pd;
	w->mode = mode;
	w->call = call;
	atomic_init(&w->started, 0);
	atomic_init(&w->done, 0);
	return -pthread_create(&w->th, NULL, npt_waiter_fn, w);
}

/* Start a thread running np_write(pd, buf, len). */
static inline int npt_writer_start(struct npt_waiter *w, np_desc *pd,
				   const void *buf, size_t len)
{
	memset(w, 0, sizeof(*w));
	w->pd = pd;
	w->mode = NP_WRITE;
	w->call = NPT_WRITE;
	w->wbuf = buf;
	w->wlen = len;
	atomic_init(&w->started, 0);
	atomic_init(&w->done, 0);
	return -pthread_create(&w->th, NULL, npt_waiter_fn, w);
}

/* True once the waiter's call has returned, polling for up to @ns. */
static inline bool npt_waiter_done_within(struct npt_waiter *w, int64_t ns)
{
	int64_t end = npoll_test_now() + ns;

	while (!atomic_load(&w->done)) {
		if (npoll_test_now() > end)
			return false;
		npoll_test_sleep_ns(200000);
	}
	return true;
}

/*
 * Join a waiter.  If it has not returned within NPT_PATIENCE, @pd is
 * unblocked so that the thread does not outlive the test; false then.
 */
static inline bool npt_waiter_join(struct npt_waiter *w)
{
	bool ok = npt_waiter_done_within(w, NPT_PATIENCE);

	if (!ok)
		np_unblock(w->pd);
	pthread_join(w->th, NULL);
	return ok;
}

/* np_stats waiters of @p, or -1 on failure. */
static inline long npt_waiters(np_poller *p)
{
	struct np_stats st;

	if (np_stats(p, &st))
		return -1;
	return (long)st.waiters;
}

static inline long npt_descs(np_poller *p)
{
	struct np_stats st;

	if (np_stats(p, &st))
		return -1;
	return (long)st.descs;
}

/* Poll np_stats until @n threads are parked in @p; false on timeout. */
static inline bool npt_wait_waiters(np_poller *p, long n)
{
	int64_t end = npoll_test_now() + NPT_PATIENCE;

	while (npt_waiters(p) != n) {
		if (npoll_test_now() > end)
			return false;
		npoll_test_sleep_ns(200000);
	}
	return true;
}

/* An AF_UNIX stream pair; 0 or -errno. */
static inline int npt_unix_pair(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) ? -errno : 0;
}

static inline void npt_loopback(struct sockaddr_in *sin, in_port_t port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin->sin_port = port;
}

/* A socket of @type bound to 127.0.0.1 on an ephemeral port; its port in *@port. */
static inline int npt_bound(int type, in_port_t *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int one = 1;
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	npt_loopback(&sin, 0);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    getsockname(fd, (struct sockaddr *)&sin, &len)) {
		close(fd);
		return -errno;
	}
	*port = sin.sin_port;
	return fd;
}

/* A TCP listener on 127.0.0.1; its port in *@port. */
static inline int npt_listener(in_port_t *port)
{
	int fd = npt_bound(SOCK_STREAM, port);

	if (fd >= 0 && listen(fd, 64)) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* A loopback port of @type with nobody bound to it (network order). */
static inline in_port_t npt_closed_port(int type)
{
	in_port_t port = 0;
	int fd = npt_bound(type, &port);

	if (fd >= 0)
		close(fd);
	return port;
}

/* A connected TCP loopback pair (blocking); 0 or -errno. */
static inline int npt_tcp_pair(int sv[2])
{
	struct sockaddr_in sin;
	in_port_t port = 0;
	int one = 1;
	int l = npt_listener(&port);

	if (l < 0)
		return l;
	sv[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	npt_loopback(&sin, port);
	if (sv[0] < 0 || connect(sv[0], (struct sockaddr *)&sin, sizeof(sin)))
		goto fail;
	sv[1] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (sv[1] < 0)
		goto fail;
	setsockopt(sv[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(sv[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	close(l);
	return 0;
fail:
	if (sv[0] >= 0)
		close(sv[0]);
	close(l);
	return -1;
}

/* Two UDP loopback sockets connected to each other; 0 or -errno. */
static inline int npt_udp_pair(int sv[2])
{
	struct sockaddr_in sin;
	in_port_t p0 = 0, p1 = 0;

	sv[0] = npt_bound(SOCK_DGRAM, &p0);
	if (sv[0] < 0)
		return sv[0];
	sv[1] = npt_bound(SOCK_DGRAM, &p1);
	if (sv[1] < 0) {
		close(sv[0]);
		return sv[1];
	}
	npt_loopback(&sin, p1);
	if (connect(sv[0], (struct sockaddr *)&sin, sizeof(sin)))
		goto fail;
	npt_loopback(&sin, p0);
	if (connect(sv[1], (struct sockaddr *)&sin, sizeof(sin)))
		goto fail;
	return 0;
fail:
	close(sv[0]);
	close(sv[1]);
	return -1;
}

static inline int npt_pipe(int fds[2])
{
	return pipe2(fds, O_CLOEXEC) ? -errno : 0;
}

/* The kinds of file the fixtures run over, for npt_pair(). */
enum npt_kind { NPT_UNIX, NPT_TCP, NPT_UDP, NPT_PIPE, NPT_EVENTFD };

/*
 * A connected pair of @kind: @fds[0] the end a test registers (a pipe's
 * read end) and @fds[1] the one that feeds it (a pipe's write end; for
 * an eventfd, a dup of the same file).  0 or -errno.
 */
static inline int npt_pair(enum npt_kind kind, int fds[2])
{
	switch (kind) {
	case NPT_UNIX:
		return npt_unix_pair(fds);
	case NPT_TCP:
		return npt_tcp_pair(fds);
	case NPT_UDP:
		return npt_udp_pair(fds);
	case NPT_PIPE:
		return npt_pipe(fds);
	case NPT_EVENTFD:
		fds[0] = eventfd(0, EFD_CLOEXEC);
		if (fds[0] < 0)
			return -errno;
		fds[1] = dup(fds[0]);
		if (fds[1] < 0) {
			close(fds[0]);
			return -errno;
		}
		return 0;
	}
	return -EINVAL;
}

/* Fill the write side of a non-blocking @fd until EAGAIN; bytes written. */
static inline long npt_fill(int fd)
{
	static char junk[65536];
	long total = 0;
	ssize_t n;

	for (;;) {
		n = write(fd, junk, sizeof(junk));
		if (n > 0) {
			total += n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		/* Shrink to top the buffer up byte by byte. */
		n = write(fd, junk, 1);
		if (n == 1) {
			total++;
			continue;
		}
		return total;
	}
}

/*
 * Shrink @fd's send buffer to the kernel's minimum, so that npt_fill()
 * fills it with a few kilobytes instead of some 200: loops that fill a
 * socket every round spend their time on the race, not on copies.
 */
static inline int npt_small_sndbuf(int fd)
{
	int one = 1;

	return setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &one, sizeof(one)) ? -errno : 0;
}

/* Read a non-blocking @fd until EAGAIN or EOF; bytes read. */
static inline long npt_drain(int fd)
{
	char buf[65536];
	long total = 0;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += n;
	return total;
}

/* A thread that writes @len bytes of @buf to @fd after @delay_ns. */
struct npt_delayed {
	pthread_t th;
	int fd;
	int64_t delay_ns;
	const void *buf;
	size_t len;
	ssize_t result;
};

static void *npt_delayed_fn(void *arg)
{
	struct npt_delayed *d = arg;

	npoll_test_sleep_ns(d->delay_ns);
	d->result = write(d->fd, d->buf, d->len);
	return NULL;
}

static inline int npt_delayed_write(struct npt_delayed *d, int fd,
				    int64_t delay_ns, const void *buf,
				    size_t len)
{
	memset(d, 0, sizeof(*d));
	d->fd = fd;
	d->delay_ns = delay_ns;
	d->buf = buf;
	d->len = len;
	return -pthread_create(&d->th, NULL, npt_delayed_fn, d);
}

static inline ssize_t npt_delayed_join(struct npt_delayed *d)
{
	pthread_join(d->th, NULL);
	return d->result;
}

/* Raw ioctls on a poller fd: the ioctl's result, or -errno. */
static inline int npt_ioctl(int dev, unsigned long cmd, void *arg)
{
	int r = ioctl(dev, cmd, arg);

	return r < 0 ? -errno : r;
}

static inline int npt_raw_open(int dev, int fd, uint64_t user, uint64_t *h)
{
	struct npoll_open_args a = { .fd = fd, .user = user };
	int r = npt_ioctl(dev, NPOLL_IOC_OPEN, &a);

	if (r == 0)
		*h = a.handle;
	return r;
}

static inline int npt_raw_handle(int dev, unsigned long cmd, uint64_t h)
{
	struct npoll_handle_args a = { .handle = h };

	return npt_ioctl(dev, cmd, &a);
}

static inline int npt_raw_wait(int dev, unsigned long cmd, uint64_t h,
			       uint32_t mode, uint32_t flags)
{
	struct npoll_wait_args a = { .handle = h, .mode = mode, .flags = flags };

	return npt_ioctl(dev, cmd, &a);
}

/* NPOLL_IOC_POLL: up to @max events into @ev, @to ns (< 0 forever). */
static inline int npt_raw_poll(int dev, struct npoll_event *ev, int max,
			       int64_t to)
{
	struct npoll_poll_args a = {
		.events = (uintptr_t)ev, .max = (uint32_t)max, .timeout_ns = to,
	};

	return npt_ioctl(dev, NPOLL_IOC_POLL, &a);
}

static inline int npt_raw_deadline(int dev, uint64_t h, int64_t d,
				   uint32_t mode, uint32_t flags)
{
	struct npoll_deadline_args a = {
		.handle = h, .deadline = d, .mode = mode, .flags = flags,
	};

	return npt_ioctl(dev, NPOLL_IOC_SET_DEADLINE, &a);
}

static inline long npt_raw_stat(int dev, bool waiters)
{
	struct npoll_stats st;

	if (npt_ioctl(dev, NPOLL_IOC_STATS, &st))
		return -1;
	return (long)(waiters ? st.waiters : st.descs);
}

/*
 * A thread parked in a raw NPOLL_IOC_WAIT on handle @h of the poller fd
 * @dev; @result is the ioctl's once @done is set.
 */
struct npt_raw_waiter {
	pthread_t th;
	int dev;
	uint64_t h;
	uint32_t mode;
	atomic_int done;
	int result;
};

static void *npt_raw_waiter_fn(void *arg)
{
	struct npt_raw_waiter *w = arg;

	w->result = npt_raw_wait(w->dev, NPOLL_IOC_WAIT, w->h, w->mode, 0);
	atomic_store(&w->done, 1);
	return NULL;
}

static inline int npt_raw_waiter_start(struct npt_raw_waiter *w, int dev,
				       uint64_t h, uint32_t mode)
{
	memset(w, 0, sizeof(*w));
	w->dev = dev;
	w->h = h;
	w->mode = mode;
	atomic_init(&w->done, 0);
	return -pthread_create(&w->th, NULL, npt_raw_waiter_fn, w);
}

/* True once the waiter returned (within NPT_PATIENCE); joins it then. */
static inline bool npt_raw_waiter_join(struct npt_raw_waiter *w)
{
	int64_t end = npoll_test_now() + NPT_PATIENCE;

	while (!atomic_load(&w->done)) {
		if (npoll_test_now() > end)
			return false;
		npoll_test_sleep_ns(NPT_MS);
	}
	pthread_join(w->th, NULL);
	return true;
}

/* True once the peer @fd of a stream reads EOF, polling for a while. */
static inline bool npt_sees_eof(int fd)
{
	int64_t end = npoll_test_now() + NPT_PATIENCE;
	char c;
	ssize_t n;

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	for (;;) {
		n = read(fd, &c, 1);
		if (n == 0)
			return true;
		if (npoll_test_now() > end)
			return false;
		npoll_test_sleep_ns(NPT_MS);
	}
}

/*
 * @rel in the tree this test program was built in (ROOT/selftests/x or
 * ROOT/selftests/dir/x), into @out; true if it exists with access @mode.
 */
static inline bool npt_tree_path(char *out, size_t len, const char *rel,
				 int mode)
{
	char exe[512], *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n < 0)
		return false;
	exe[n] = 0;
	/* Cut the path after its last "/selftests/". */
	slash = strstr(exe, "/selftests/");
	while (slash && strstr(slash + 1, "/selftests/"))
		slash = strstr(slash + 1, "/selftests/");
	if (!slash)
		return false;
	*slash = 0;
	if ((size_t)snprintf(out, len, "%s/%s", exe, rel) >= len)
		return false;
	return access(out, mode) == 0;
}

/*
 * Run the shell command @cmd; its standard output (add 2>&1 for the
 * errors too) into @out, NUL-terminated and cut at @len - 1.  Its exit
 * status, or -1 if it did not exit.
 */
static inline int npt_run(const char *cmd, char *out, size_t len)
{
	size_t n = 0;
	FILE *f;
	int st;

	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (n + 1 < len && fgets(out + n, (int)(len - n), f))
		n += strlen(out + n);
	out[n] = 0;
	/* Read what does not fit, so the command never blocks on a pipe. */
	while (fgetc(f) != EOF)
		;
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* True if @name is an executable in one of $PATH's directories. */
static inline bool npt_on_path(const char *name)
{
	const char *path = getenv("PATH");
	char dir[512], file[1024];

	while (path && *path) {
		size_t n = strcspn(path, ":");

		snprintf(dir, sizeof(dir), "%.*s", (int)n, path);
		snprintf(file, sizeof(file), "%s/%s", n ? dir : ".", name);
		if (access(file, X_OK) == 0)
			return true;
		path += n + (path[n] == ':');
	}
	return false;
}

/*
 * The poller id of the poller open as @fd in this process (its fdinfo
 * "poller:" line, unique system-wide), or -1.
 */
static inline long long npt_poller_id(int fd)
{
	char path[64], line[256];
	long long id = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "poller:\t%lld", &id) == 1)
			break;
	fclose(f);
	return id;
}

/*
 * Open a poller into @p in a test; skip the test without the device.
 * Needs the harness header included first.
 */
#define NPT_OPEN_POLLER(p) do {						\
	int __npt_r = np_poller_open(&(p));				\
	if (__npt_r == -ENOENT)						\
		SKIP(return, "no " NPOLL_DEV);				\
	ASSERT_EQ(0, __npt_r);						\
} while (0)


/*
 * True if np_poller_open gives a user-space poller here (NPOLL_BACKEND,
 * or auto without the module): for the tests of what only the module
 * does, which then skip (NPT_SKIP_USER), and for resources the user
 * backend needs more of.
 */
static inline bool npt_user_backend(void)
{
	np_poller *p;
	bool user = false;

	if (np_poller_open(&p) == 0) {
		user = np_poller_backend(p) == NP_BACKEND_USER;
		np_poller_close(p);
	}
	return user;
}

#define NPT_SKIP_USER(why) do {						\
	if (npt_user_backend())						\
		SKIP(return, "user-space backend: " why);		\
} while (0)

/*
 * First in the body of a fixture's test whose setup may skip: the 6.1
 * harness runs the body after a SKIP() in FIXTURE_SETUP, so the body
 * ends here and the test is reported skipped.
 */
#define NPT_SETUP_SKIPPED() do {					\
	if (_metadata->skip)						\
		return;							\
} while (0)

/*
 * Open /dev/netpoll raw into @dev (an int lvalue) in a test; skip the
 * test without the device, and in a run of the user-space backend
 * (NPOLL_BACKEND=user), which such a test would not exercise.  Needs
 * the harness header included first.
 */
#define NPT_OPEN_DEV(dev) do {						\
	NPT_SKIP_USER("the test drives the module's ioctls");		\
	(dev) = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);			\
	if ((dev) < 0 && errno == ENOENT)				\
		SKIP(return, "no " NPOLL_DEV);				\
	ASSERT_LE(0, (dev));						\
} while (0)

/*
 * In a test body: a poller @p and an AF_UNIX stream pair @sv, sv[0]
 * registered as @pd with cookie 1; skips without the device.
 */
#define NPT_OPEN_UNIX(p, sv, pd) do {					\
	NPT_OPEN_POLLER(p);						\
	ASSERT_EQ(0, npt_unix_pair(sv));				\
	ASSERT_EQ(0, np_open((p), (sv)[0], 1, &(pd)));			\
} while (0)

/*
 * NPT_UNIX_FIXTURE(name): a poller and an AF_UNIX stream pair, sv[0]
 * registered as @pd with its initial write readiness dropped, so that
 * every wait may block.
 */
#define NPT_UNIX_FIXTURE(name)						\
FIXTURE(name) {								\
	np_poller *p;							\
	np_desc *pd;							\
	int sv[2];							\
};									\
FIXTURE_SETUP(name)							\
{									\
	self->sv[0] = self->sv[1] = -1;					\
	NPT_OPEN_UNIX(self->p, self->sv, self->pd);			\
	ASSERT_EQ(NP_OK, np_reset(self->pd, NP_WRITE));			\
}									\
FIXTURE_TEARDOWN(name)							\
{									\
	if (self->pd)							\
		np_close(self->pd);					\
	if (self->p)							\
		np_poller_close(self->p);				\
	if (self->sv[0] >= 0)						\
		close(self->sv[0]);					\
	if (self->sv[1] >= 0)						\
		close(self->sv[1]);					\
}

/*
 * The 6.1 kselftest harness runs a fixture test's body even when its
 * FIXTURE_SETUP called SKIP() (setup failures stop it, skips do not).
 * A body whose setup may skip starts with this, so that the skip stands
 * and the body does not run without its fixture.
 */
#define NPT_RETURN_IF_SKIPPED() do {					\
	if (_metadata->skip)						\
		return;							\
} while (0)

#endif /* NPOLL_TEST_UTIL_H */
