/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the race stress tests (stress/stress_test.c,
 * stress/stress_sched_test.c, race_test.c): iteration counts, the figure
 * line that scripts/check adds up, the system-wide count of live
 * descriptors and the check that they are all freed again, spinning
 * hand-offs between threads, and delays that widen a race's window.
 *
 * Under TCG a thread that sleeps costs a cross-vCPU wake-up (about a
 * millisecond) to get going again, while two running vCPUs race on
 * shared memory at close to native speed.  Threads of a race therefore
 * meet by spinning on an atomic round counter, never on a futex.
 */
#ifndef NPOLL_STRESS_H
#define NPOLL_STRESS_H

#include <sched.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "kselftest_harness.h"

#define STRESS_SEC	1000000000LL

/*
 * Iterations of a stress loop: @base, or @debug_base on the kernels built
 * with sanitizers (vm-run's NPOLL_KERNEL_KIND "built": debug, debug-rt,
 * kcsan), which run system calls an order of magnitude slower; scaled by
 * NPOLL_STRESS_SCALE (npoll_test_iters()), and an eighth of that when
 * not root: run-guest-tests runs every program again as an unprivileged
 * user, a pass that shows that nothing needs privileges and whose
 * iterations count too.
 */
static inline long stress_iters(long base, long debug_base)
{
	long n;

	if (npoll_test_sanitized())
		base = debug_base;
	n = npoll_test_iters(base);

	if (geteuid() != 0)
		n /= 8;
	return n > 0 ? n : 1;
}

/*
 * Iterations of the stress loop that carries the debug guest's million:
 * @base on a guest whose environment has NPOLL_STRESS_FULL=1 (scripts/
 * check sets it for the debug guest, so that KASAN and lockdep watch a
 * million race iterations), else stress_iters(@base, @debug_base).
 */
static inline long stress_iters_full(long base, long debug_base)
{
	const char *full = getenv("NPOLL_STRESS_FULL");

	if (full && !strcmp(full, "1"))
		return stress_iters(base, base);
	return stress_iters(base, debug_base);
}

/*
 * The figure of one stress test, summed per guest by scripts/check:
 *   # STRESS <name> iterations=N seconds=S iter_per_s=R
 * On stderr, unbuffered like the harness's own log lines, so that it
 * survives the test process's _exit().
 */
static inline void stress_report(const char *name, long iters, int64_t t0)
{
	double s = (double)(npoll_test_now() - t0) / STRESS_SEC;

	fprintf(stderr, "# STRESS %s iterations=%ld seconds=%.2f iter_per_s=%.0f\n",
		name, iters, s, s > 0 ? iters / s : 0.0);
}

/*
 * Descriptors alive system-wide: active_objs of the npoll_desc cache in
 * /proc/slabinfo.  SLUB counts the free objects of per-CPU slabs as
 * active, so the cache's per-CPU slabs are flushed first (its sysfs
 * "shrink" file); the count is then exact.  Both files are root's:
 * -1 when either cannot be used.
 */
static inline long stress_slab_descs(void)
{
	char line[512];
	long active = -1;
	FILE *f;
	int fd;

	fd = open("/sys/kernel/slab/npoll_desc/shrink", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (write(fd, "1", 1) != 1) {
		close(fd);
		return -1;
	}
	close(fd);
	f = fopen("/proc/slabinfo", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "npoll_desc %ld", &active) == 1)
			break;
	fclose(f);
	return active;
}

/*
 * The live count once it is back to @base, or the last count seen
 * after 5 s.  Descriptors are freed synchronously by the close or the
 * release that drops their last reference, but a file reference
 * dropped by an exiting task may take a deferred path: poll briefly.
 */
static inline long stress_slab_settle(long base)
{
	int64_t end = npoll_test_now() + 5 * STRESS_SEC;
	long n;

	while ((n = stress_slab_descs()) != base && npoll_test_now() < end)
		npoll_test_sleep_ns(10000000);
	return n;
}

/*
 * A poller's counters @st (struct np_stats or struct npoll_stats) at
 * rest: nothing parked, armed or queued, and @want descriptors open.
 */
#define STRESS_EXPECT_IDLE(st, want) do {				\
	EXPECT_EQ(0, (st).waiters);					\
	EXPECT_EQ(0, (st).armed);					\
	EXPECT_EQ(0, (st).events);					\
	EXPECT_EQ((long)(want), (long)(st).descs);			\
} while (0)

/*
 * The descriptor cache back at @base (a stress_slab_descs() count taken
 * before the test); a logged note when not root, who cannot count.
 */
static inline void stress_expect_slab_base(struct __test_metadata *_metadata,
					   long base)
{
	if (geteuid() != 0) {
		TH_LOG("descriptor slab count not checked: /proc/slabinfo is root's");
		return;
	}
	if (npt_user_backend()) {
		TH_LOG("descriptor slab count not checked: the user-space backend has no kernel descriptors");
		return;
	}
	ASSERT_LE(0, base);
	EXPECT_EQ(base, stress_slab_settle(base));
}

/*
 * Burn @n loop iterations.  No PAUSE: under TCG it ends the vCPU's
 * translated block and makes the vCPU thread take QEMU's global lock,
 * which a spinning thread would then fight over with the other vCPU.
 */
static inline void stress_relax(unsigned int n)
{
	while (n--)
		__asm__ __volatile__("" ::: "memory");
}

/*
 * Spin until *@v differs from @old; returns the new value, or @old if
 * @deadline_ns (CLOCK_MONOTONIC, 0: none) passed.  Yields the vCPU
 * after a while (or at once with @yield), for guests with fewer vCPUs
 * than spinning threads.
 */
static inline unsigned int stress_wait_change(atomic_uint *v, unsigned int old,
					      bool yield, int64_t deadline_ns)
{
	unsigned long spins = 0, checks = 0;
	unsigned int x;

	while ((x = atomic_load_explicit(v, memory_order_acquire)) == old) {
		if (yield || ++spins > 1000000)
			sched_yield();
		else
			stress_relax(16);
		if (deadline_ns && (++checks & 255) == 0 &&
		    npoll_test_now() > deadline_ns)
			return old;
	}
	return x;
}

/*
 * Pin the calling thread to CPU @cpu modulo the CPUs online, so that
 * two spinning threads never share a vCPU (a shared vCPU turns every
 * hand-off into a wait for the scheduler tick).
 */
static inline void stress_pin(int cpu)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;

	if (n < 2)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu % n, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* xorshift64: cheap, seeded, repeatable. */
static inline uint64_t stress_rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * Widen race windows: load selftests/kmod/npoll_delay_test.ko, which
 * delays tasks of a given name (stress_delay_name()) at the probes
 * given as "entry|ret:function:comm:microseconds,...".  Root only;
 * false when it cannot be loaded, and the test then races without it,
 * relying on its iteration count.  Whether delayed or not, a test's
 * verdict never depends on timing.
 */
static inline bool stress_delay_load(const char *probes)
{
	const char *dir = getenv("NPOLL_KMOD_DIR");
	char path[512], args[512];
	int fd, r;

	if (geteuid() != 0 || !dir)
		return false;
	snprintf(path, sizeof(path), "%s/npoll_delay_test.ko", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	/* Left behind by a test that crashed. */
	syscall(SYS_delete_module, "npoll_delay_test", O_NONBLOCK);
	snprintf(args, sizeof(args), "probes=%s", probes);
	r = syscall(SYS_finit_module, fd, args, 0);
	close(fd);
	return r == 0;
}

static inline void stress_delay_unload(void)
{
	syscall(SYS_delete_module, "npoll_delay_test", O_NONBLOCK);
}

/* A parameter of the loaded delay module, or -1. */
static inline int stress_delay_param(const char *name)
{
	char path[128], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path),
		 "/sys/module/npoll_delay_test/parameters/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return buf[0] == 'Y' ? 1 : buf[0] == 'N' ? 0 : atoi(buf);
}

/* Write @s to a sysfs, debugfs or procfs file; false if it cannot. */
static inline bool stress_write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = write(fd, s, strlen(s)) == (ssize_t)strlen(s);
	close(fd);
	return ok;
}

/* End every delay of the loaded module now; false if it cannot. */
static inline bool stress_delay_release(void)
{
	return stress_write_file("/sys/module/npoll_delay_test/parameters/release",
				 "1");
}

/* Name the calling thread for the probes of stress_delay_load(). */
static inline void stress_delay_name(const char *comm)
{
	prctl(PR_SET_NAME, comm, 0, 0, 0);
}

#endif /* NPOLL_STRESS_H */
