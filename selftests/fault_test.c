// SPDX-License-Identifier: GPL-2.0
/*
 * The module's failure paths under fault injection (the debug and
 * debug-rt kernels have FAILSLAB, FAIL_PAGE_ALLOC and
 * FAULT_INJECTION_USERCOPY).  For each call of the module, the N-th
 * fault-injection point that the calling thread reaches fails
 * (/proc/thread-self/fail-nth): an allocation or a copy from or to
 * user space, for N = 1, 2, ... until the call no longer reaches an
 * N-th point.  Every call must return success or a documented errno,
 * and afterwards (with injection off) the poller must agree with the
 * call's result and stay usable: a registration, an arm, readiness and
 * a harvest work.  At the end the descriptor cache is back to its count
 * before the test; vm-run's kmemleak scans on the debug guests see any
 * other leak, and its log check any splat.  The number of injected
 * failures survived is printed:
 *   # FAULTS <path> injected=N
 * fail_function also fails the module's own allocation helpers by name
 * (npoll_poller_alloc, npoll_desc_alloc, npoll_hook2_alloc: the module
 * marks them with ALLOW_ERROR_INJECTION).
 * The registration and descriptor sweeps run at each fill level of
 * NPOLL_FAULT_FILL (a comma list; default 0): that many descriptors are
 * registered in the poller first, so that the swept call meets the
 * handle table at another shape (its first node, a full node, a new
 * level).  make check sweeps at 0; make fuzz at 0,1,63,64,65,4095,4096,4097.
 * Root only (the capabilities' knobs are in debugfs); skipped where the
 * kernel has no fault injection.
 */
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "kselftest_harness.h"
#include "npoll_test_util.h"
#include "stress.h"

#define FI_DIR "/sys/kernel/debug"
/* More points than any one call reaches: a sweep that gets here hangs. */
#define FI_MAX_NTH 2000

/*
 * /proc/thread-self/fail-nth of the test's thread, opened once: an open
 * or a read would reach injection points of its own.  Its read reports
 * the count before copying it out, so a read whose own copy consumes
 * the last point still says "not yet".
 */
static int fi_fd = -1;

/*
 * Every capability fails sleeping and order-0 allocations as well (by
 * default they are left alone) and stays quiet (a stack dump per
 * injected failure would read as a splat).
 */
static bool fi_setup(void)
{
	static const char *const caps[] = {
		"failslab", "fail_page_alloc", "fail_usercopy",
	};

	if (geteuid() != 0)
		return false;
	if (fi_fd < 0)
		fi_fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	if (fi_fd < 0)
		return false;
	for (unsigned int i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		char p[128];

		snprintf(p, sizeof(p), FI_DIR "/%s/verbose", caps[i]);
		if (!stress_write_file(p, "0"))
			return false;
	}
	return stress_write_file(FI_DIR "/failslab/ignore-gfp-wait", "N") &&
	       stress_write_file(FI_DIR "/fail_page_alloc/ignore-gfp-wait", "N") &&
	       stress_write_file(FI_DIR "/fail_page_alloc/min-order", "0");
}

/* Arm the N-th point of this thread (0: off). */
static bool fi_nth(unsigned int n)
{
	char s[16];

	snprintf(s, sizeof(s), "%u", n);
	return pwrite(fi_fd, s, strlen(s), 0) == (ssize_t)strlen(s);
}

/* Did the armed point fail?  Reading 0 means it did. */
static bool fi_fired(void)
{
	char s[16] = "";
	ssize_t n = pread(fi_fd, s, sizeof(s) - 1, 0);

	fi_nth(0);
	return n > 0 && atoi(s) == 0;
}

static long descs(int dev)
{
	return npt_raw_stat(dev, false);
}

/* The poller still works: register, arm, make ready, harvest, close. */
static bool poller_usable(int dev)
{
	struct npoll_event ev[4];
	struct npoll_poll_args a = {
		.events = (uintptr_t)ev, .max = 4, .timeout_ns = NPT_SEC,
	};
	uint64_t h, one = 1;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	bool ok;

	if (efd < 0)
		return false;
	ok = !npt_raw_open(dev, efd, 77, &h) &&
	     npt_raw_wait(dev, NPOLL_IOC_ARM, h, NPOLL_MODE_READ, 0) ==
		     NPOLL_PENDING &&
	     write(efd, &one, 8) == 8 &&
	     npt_ioctl(dev, NPOLL_IOC_POLL, &a) == 1 && ev[0].user == 77 &&
	     ev[0].result == NPOLL_OK &&
	     !npt_raw_handle(dev, NPOLL_IOC_CLOSE, h);
	close(efd);
	return ok;
}

static bool errno_ok(int r, const int *allowed)
{
	if (r >= 0)
		return true;
	for (; *allowed; allowed++)
		if (r == -*allowed)
			return true;
	return false;
}

FIXTURE(fault) {
	int dev;
	long slab_base;
	long injected;
};

FIXTURE_SETUP(fault)
{
	self->dev = -1;
	if (!fi_setup())
		SKIP(return, "needs root and fault injection (the debug kernels)");
	self->slab_base = stress_slab_descs();
	NPT_OPEN_DEV(self->dev);
}

FIXTURE_TEARDOWN(fault)
{
	fi_nth(0);
	if (self->dev >= 0)
		close(self->dev);
}

/* "# FAULTS <path>[@fill<K>] injected=N": the figure scripts/check adds up. */
static void report(const char *path, long fill, long n)
{
	if (fill)
		fprintf(stderr, "# FAULTS %s@fill%ld injected=%ld\n", path, fill, n);
	else
		fprintf(stderr, "# FAULTS %s injected=%ld\n", path, n);
}

#define FI_MAX_FILLS	16
#define FI_MAX_FILL	100000

/* The fill levels of NPOLL_FAULT_FILL into @lv; their number (at least 1). */
static int fill_levels(long *lv)
{
	const char *s = getenv("NPOLL_FAULT_FILL");
	int n = 0;

	while (s && *s && n < FI_MAX_FILLS) {
		char *end;
		long v = strtol(s, &end, 10);

		if (end == s || v < 0 || v > FI_MAX_FILL)
			break;
		lv[n++] = v;
		if (*end != ',')
			break;
		s = end + 1;
	}
	if (!n)
		lv[n++] = 0;
	return n;
}

/* Descriptors registered before a sweep: @n eventfds. */
struct fill {
	long n;
	int *fd;
	uint64_t *h;
};

static bool fill_open(int dev, struct fill *f, long n)
{
	struct rlimit rl;

	memset(f, 0, sizeof(*f));
	if (!n)
		return true;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 256) {
		rl.rlim_cur = (rlim_t)n + 256;
		if (rl.rlim_max < rl.rlim_cur)
			rl.rlim_max = rl.rlim_cur;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			return false;
	}
	f->fd = calloc((size_t)n, sizeof(*f->fd));
	f->h = calloc((size_t)n, sizeof(*f->h));
	if (!f->fd || !f->h)
		return false;
	for (; f->n < n; f->n++) {
		f->fd[f->n] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (f->fd[f->n] < 0)
			return false;
		if (npt_raw_open(dev, f->fd[f->n], 1000000 + f->n, &f->h[f->n])) {
			close(f->fd[f->n]);
			return false;
		}
	}
	return true;
}

/* Deregister and close what fill_open() made; false if a close failed. */
static bool fill_close(int dev, struct fill *f)
{
	bool ok = true;

	for (long i = 0; i < f->n; i++) {
		ok &= !npt_raw_handle(dev, NPOLL_IOC_CLOSE, f->h[i]);
		close(f->fd[i]);
	}
	free(f->fd);
	free(f->h);
	memset(f, 0, sizeof(*f));
	return ok;
}

/* Registration of files with one and with two wait queues. */
TEST_F_TIMEOUT(fault, open_registers_or_fails_cleanly, 3600)
{
	static const int allowed[] = { ENOMEM, EFAULT, 0 };
	const char *fifo = "/tmp/npoll-fault-fifo";
	long lv[FI_MAX_FILLS];
	int nl = fill_levels(lv);

	NPT_RETURN_IF_SKIPPED();

	unlink(fifo);
	ASSERT_EQ(0, mkfifo(fifo, 0600));
	for (int l = 0; l < nl; l++) {
		struct fill fill;
		long n = 0;

		ASSERT_TRUE(fill_open(self->dev, &fill, lv[l]));
		for (int kind = 0; kind < 2; kind++) {
			/* An eventfd: one queue; a FIFO opened O_RDWR: two. */
			int fd = kind ? open(fifo, O_RDWR | O_CLOEXEC | O_NONBLOCK) :
					eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			unsigned int nth;

			ASSERT_LE(0, fd);
			for (nth = 1; nth < FI_MAX_NTH; nth++) {
				long before = descs(self->dev);
				uint64_t h = 0;
				bool fired;
				int r;

				ASSERT_TRUE(fi_nth(nth));
				r = npt_raw_open(self->dev, fd, nth, &h);
				fired = fi_fired();
				ASSERT_TRUE(errno_ok(r, allowed)) {
					TH_LOG("fill %ld, kind %d, point %u: open returned %d",
					       lv[l], kind, nth, r);
				}
				EXPECT_EQ(before + (r == 0), descs(self->dev));
				if (r == 0)
					ASSERT_EQ(0, npt_raw_handle(self->dev,
								    NPOLL_IOC_CLOSE, h));
				ASSERT_TRUE(poller_usable(self->dev)) {
					TH_LOG("fill %ld, kind %d, point %u: poller unusable after %d",
					       lv[l], kind, nth, r);
				}
				if (!fired)
					break;
				n++;
			}
			ASSERT_LT(nth, FI_MAX_NTH);
			close(fd);
		}
		report("open", lv[l], n);
		EXPECT_EQ(lv[l], descs(self->dev));
		ASSERT_TRUE(fill_close(self->dev, &fill));
		EXPECT_EQ(0, descs(self->dev));
	}
	unlink(fifo);
	close(self->dev);
	self->dev = -1;
	stress_expect_slab_base(_metadata, self->slab_base);
}

/* A new poller: the device's open. */
TEST_F_TIMEOUT(fault, device_open_succeeds_or_fails_cleanly, 600)
{
	unsigned int nth;
	long n = 0;

	NPT_RETURN_IF_SKIPPED();

	for (nth = 1; nth < FI_MAX_NTH; nth++) {
		int fd, e;
		bool fired;

		ASSERT_TRUE(fi_nth(nth));
		fd = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
		e = errno;
		fired = fi_fired();
		if (fd < 0) {
			ASSERT_TRUE(e == ENOMEM || e == EFAULT) {
				TH_LOG("point %u: open failed with %d", nth, e);
			}
		} else {
			EXPECT_TRUE(poller_usable(fd));
			close(fd);
		}
		if (!fired)
			break;
		n++;
	}
	ASSERT_LT(nth, FI_MAX_NTH);
	report("device_open", 0, n);
}

/*
 * The calls on a registered descriptor: deadline, arm and harvest (its
 * copy to user space), wait with an expired deadline, I/O on a socket,
 * stats, unblock and close.
 */
TEST_F_TIMEOUT(fault, descriptor_calls_fail_cleanly, 3600)
{
	static const int allowed[] = { ENOMEM, EFAULT, 0 };
	enum { C_DEADLINE, C_ARM_POLL, C_WAIT, C_IO, C_STATS, C_UNBLOCK,
	       C_CLOSE, C_NR };
	static const char *const name[C_NR] = {
		"deadline", "arm_poll", "wait", "io", "stats", "unblock", "close",
	};
	long total = 0, lv[FI_MAX_FILLS];
	int nl = fill_levels(lv);
	struct fill fill;

	NPT_RETURN_IF_SKIPPED();

	for (int lc = 0; lc < nl * C_NR; lc++) {
		int l = lc / C_NR, c = lc % C_NR;
		unsigned int nth;
		long n = 0;

		if (c == 0)
			ASSERT_TRUE(fill_open(self->dev, &fill, lv[l]));

		for (nth = 1; nth < FI_MAX_NTH; nth++) {
			struct npoll_event ev[2] = { 0 };
			struct npoll_poll_args pa = {
				.events = (uintptr_t)ev, .max = 2,
			};
			struct npoll_stats st;
			char buf[8];
			struct npoll_io_args io = {
				.mode = NPOLL_MODE_READ, .buf = (uintptr_t)buf,
				.len = sizeof(buf),
			};
			int sv[2], r = 0, r2 = 0;
			uint64_t h;
			bool fired;

			ASSERT_EQ(0, npt_unix_pair(sv));
			ASSERT_EQ(0, fcntl(sv[0], F_SETFL, O_NONBLOCK));
			ASSERT_EQ(0, npt_raw_open(self->dev, sv[0], 5, &h));
			io.handle = h;
			if (c == C_ARM_POLL) {
				ASSERT_EQ(NPOLL_PENDING,
					  npt_raw_wait(self->dev, NPOLL_IOC_ARM,
						       h, NPOLL_MODE_READ, 0));
				ASSERT_EQ(1, write(sv[1], "x", 1));
			}
			if (c == C_IO)
				ASSERT_EQ(1, write(sv[1], "x", 1));
			if (c == C_WAIT)
				ASSERT_EQ(0, npt_raw_deadline(self->dev, h, -1,
							      NPOLL_MODE_READ, 0));
			ASSERT_TRUE(fi_nth(nth));
			switch (c) {
			case C_DEADLINE:
				r = npt_raw_deadline(self->dev, h, NPT_SEC,
						     NPOLL_MODE_RW, 0);
				break;
			case C_ARM_POLL:
				r = npt_ioctl(self->dev, NPOLL_IOC_POLL, &pa);
				break;
			case C_WAIT:
				r = npt_raw_wait(self->dev, NPOLL_IOC_WAIT, h,
						 NPOLL_MODE_READ, 0);
				break;
			case C_IO:
				r = npt_ioctl(self->dev, NPOLL_IOC_IO, &io);
				break;
			case C_STATS:
				r = npt_ioctl(self->dev, NPOLL_IOC_STATS, &st);
				break;
			case C_UNBLOCK:
				r = npt_raw_handle(self->dev, NPOLL_IOC_UNBLOCK, h);
				break;
			case C_CLOSE:
				r = npt_raw_handle(self->dev, NPOLL_IOC_CLOSE, h);
				break;
			}
			fired = fi_fired();
			ASSERT_TRUE(errno_ok(r, allowed)) {
				TH_LOG("%s, point %u: returned %d", name[c], nth, r);
			}
			/* What the call's result says, with injection off. */
			switch (c) {
			case C_ARM_POLL:
				/* A failed copy keeps the event queued. */
				if (r != 1) {
					pa.timeout_ns = NPT_SEC;
					ASSERT_EQ(1, npt_ioctl(self->dev,
							NPOLL_IOC_POLL, &pa));
				}
				EXPECT_EQ(5u, ev[0].user);
				EXPECT_EQ(NPOLL_OK, ev[0].result);
				break;
			case C_WAIT:
				if (r >= 0)
					EXPECT_EQ(NPOLL_ERR_TIMEOUT, r);
				break;
			case C_IO:
				if (r < 0) {
					/* A failed receive leaves the byte. */
					r2 = (int)recv(sv[0], buf, 1,
						       MSG_DONTWAIT | MSG_PEEK);
					EXPECT_EQ(1, r2) {
						TH_LOG("io, point %u: %d, the byte lost",
						       nth, r);
					}
				} else {
					EXPECT_EQ(1, r);
				}
				break;
			}
			if (c != C_CLOSE || r != 0)
				EXPECT_EQ(0, npt_raw_handle(self->dev,
							    NPOLL_IOC_CLOSE, h));
			EXPECT_EQ(lv[l], descs(self->dev));
			ASSERT_TRUE(poller_usable(self->dev)) {
				TH_LOG("fill %ld, %s, point %u: poller unusable after %d",
				       lv[l], name[c], nth, r);
			}
			close(sv[0]);
			close(sv[1]);
			if (!fired)
				break;
			n++;
		}
		ASSERT_LT(nth, FI_MAX_NTH);
		report(name[c], lv[l], n);
		total += n;
		if (c == C_NR - 1) {
			ASSERT_TRUE(fill_close(self->dev, &fill));
			EXPECT_EQ(0, descs(self->dev));
		}
	}
	TH_LOG("%ld injected failures survived", total);
	close(self->dev);
	self->dev = -1;
	stress_expect_slab_base(_metadata, self->slab_base);
}

/* --- fail_function on the module's allocation helpers -------------------- */

#define FF_DIR FI_DIR "/fail_function"

/* The number left of fail_function's "times", or -1. */
static long ff_times_left(void)
{
	char buf[32] = "";
	int fd = open(FF_DIR "/times", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atol(buf) : -1;
}

/* Make @fn fail (return NULL) once, for this thread only. */
static bool ff_arm(const char *fn)
{
	char path[160];

	snprintf(path, sizeof(path), FF_DIR "/%s/retval", fn);
	return stress_write_file(FF_DIR "/inject", fn) &&
	       stress_write_file(path, "0") &&
	       stress_write_file(FF_DIR "/probability", "100") &&
	       stress_write_file(FF_DIR "/interval", "1") &&
	       stress_write_file(FF_DIR "/verbose", "0") &&
	       stress_write_file(FF_DIR "/task-filter", "Y") &&
	       stress_write_file("/proc/thread-self/make-it-fail", "1") &&
	       stress_write_file(FF_DIR "/times", "1");
}

static void ff_disarm(void)
{
	stress_write_file("/proc/thread-self/make-it-fail", "0");
	/* An empty line removes every function from the list. */
	stress_write_file(FF_DIR "/inject", "\n");
}

/*
 * Register @fd with @fn failing once: the registration must fail with
 * ENOMEM (the injection used up), leave no descriptor and the poller
 * usable.  1 if it failed as it must.
 */
static int ff_open_fails(struct __test_metadata *_metadata, int dev, int fd,
			 const char *fn)
{
	uint64_t h = 0;
	int r;

	if (!ff_arm(fn)) {
		ff_disarm();
		EXPECT_TRUE(false) TH_LOG("cannot make %s fail", fn);
		return 0;
	}
	r = npt_raw_open(dev, fd, 1, &h);
	EXPECT_EQ(0, ff_times_left()) TH_LOG("%s", fn);
	ff_disarm();
	EXPECT_EQ(-ENOMEM, r) TH_LOG("%s", fn);
	EXPECT_EQ(0, descs(dev)) TH_LOG("%s", fn);
	EXPECT_TRUE(poller_usable(dev)) TH_LOG("%s", fn);
	return r == -ENOMEM;
}

/*
 * The module's own allocation helpers (ALLOW_ERROR_INJECTION), failed
 * through fail_function by name: a poller that cannot be allocated
 * fails open(2) with ENOMEM; a descriptor, or the second wait-queue
 * entry of a file with two queues (a FIFO opened O_RDWR), fails the
 * registration with ENOMEM and leaves nothing behind.  Each failure
 * must have been injected (fail_function's "times" used up).
 */
TEST_F(fault, fail_function_on_the_allocation_helpers)
{
	const char *fifo = "/tmp/npoll-fault-ff-fifo";
	struct utsname uts;
	uint64_t h = 0;
	long n = 0;
	int fd, r;

	NPT_RETURN_IF_SKIPPED();
	if (access(FF_DIR "/inject", W_OK))
		SKIP(return, "no fail_function (CONFIG_FAIL_FUNCTION)");
	/*
	 * fail_function decides in its kprobe handler, preemption off, and
	 * draws its probability with get_random_u32_below(), whose per-CPU
	 * lock sleeps on PREEMPT_RT: the kernel splats whatever function
	 * it fails (6.12-rt), so the test cannot run there.
	 */
	if (uname(&uts) == 0 && strstr(uts.version, "PREEMPT_RT"))
		SKIP(return, "fail_function sleeps in atomic context on PREEMPT_RT (a kernel limitation)");

	ASSERT_TRUE(ff_arm("npoll_poller_alloc"));
	fd = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	r = fd < 0 ? -errno : 0;
	EXPECT_EQ(0, ff_times_left());
	ff_disarm();
	EXPECT_EQ(-ENOMEM, r);
	if (fd >= 0)
		close(fd);
	n += r == -ENOMEM;

	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, fd);
	n += ff_open_fails(_metadata, self->dev, fd, "npoll_desc_alloc");
	close(fd);

	unlink(fifo);
	ASSERT_EQ(0, mkfifo(fifo, 0600));
	fd = open(fifo, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	ASSERT_LE(0, fd);
	n += ff_open_fails(_metadata, self->dev, fd, "npoll_hook2_alloc");
	/* Without the injection the same FIFO registers. */
	ASSERT_EQ(0, npt_raw_open(self->dev, fd, 3, &h));
	EXPECT_EQ(0, npt_raw_handle(self->dev, NPOLL_IOC_CLOSE, h));
	close(fd);
	unlink(fifo);

	report("fail_function", 0, n);
	EXPECT_EQ(3, n);
	close(self->dev);
	self->dev = -1;
	stress_expect_slab_base(_metadata, self->slab_base);
}

TEST_HARNESS_MAIN
