/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by npoll's selftests.
 */
#ifndef NPOLL_SELFTEST_COMMON_H
#define NPOLL_SELFTEST_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include <linux/npoll.h>

#define NPOLL_DEV "/dev/netpoll"

static inline int64_t npoll_test_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline void npoll_test_sleep_ns(int64_t ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000LL,
			       .tv_nsec = ns % 1000000000LL };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Iteration counts scale with NPOLL_STRESS_SCALE (percent, default 100). */
static inline long npoll_test_iters(long base)
{
	const char *s = getenv("NPOLL_STRESS_SCALE");
	long pct = s ? strtol(s, NULL, 10) : 100;

	if (pct <= 0)
		pct = 100;
	return base * pct / 100 > 0 ? base * pct / 100 : 1;
}

/*
 * A guest kernel built with the sanitizers (vm-run's NPOLL_KERNEL_KIND
 * "built": debug, debug-rt, kcsan), where every system call costs an
 * order of magnitude more.
 */
static inline bool npoll_test_sanitized(void)
{
	const char *kind = getenv("NPOLL_KERNEL_KIND");

	return kind && !strcmp(kind, "built");
}

#endif
