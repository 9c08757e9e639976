// SPDX-License-Identifier: GPL-2.0
/*
 * Isolation and resource limits: a descriptor of one poller cannot be
 * reached through another (not even when both hold a descriptor with
 * the same numeric handle, and not from another process with its own
 * poller); descriptors are charged to the registering task's memory
 * cgroup, so a small memory.max makes registration fail with -ENOMEM
 * (or, when the OOM killer may act, ends that task) instead of
 * exhausting the machine.  The per-poller limit (-EMFILE) is tested in
 * lifetime_test.c.
 */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "npoll_test_util.h"

/* Every handle-taking command on @dev with @h; how many did not say EBADF. */
static int not_ebadf(struct __test_metadata *_metadata, int dev, uint64_t h,
		     bool sched)
{
	int n = 0, r;

#define ONE(expr) do {							\
	r = (expr);							\
	if (r != -EBADF) {						\
		TH_LOG("%s: %d", #expr, r);				\
		n++;							\
	}								\
} while (0)
	ONE(npt_raw_wait(dev, NPOLL_IOC_RESET, h, NPOLL_MODE_READ, 0));
	ONE(npt_raw_wait(dev, NPOLL_IOC_WAIT, h, NPOLL_MODE_READ, 0));
	ONE(npt_raw_wait(dev, NPOLL_IOC_WAIT, h, NPOLL_MODE_WRITE,
			 NPOLL_WAIT_CANCELED));
	ONE(npt_raw_deadline(dev, h, -1, NPOLL_MODE_RW, 0));
	ONE(npt_raw_handle(dev, NPOLL_IOC_UNBLOCK, h));
	ONE(npt_raw_handle(dev, NPOLL_IOC_CLOSE, h));
	if (sched)
		ONE(npt_raw_wait(dev, NPOLL_IOC_ARM, h, NPOLL_MODE_READ, 0));
#undef ONE
	return n;
}

static bool have_sched(int dev)
{
	return npt_ioctl(dev, NPOLL_IOC_BREAK, NULL) != -ENOTTY;
}

/* A's descriptors are invisible through B; nothing B does touches them. */
TEST(handles_of_one_poller_are_ebadf_on_another)
{
	int a = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	int b = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	int sv[3][2], i;
	uint64_t h[3];

	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, npt_unix_pair(sv[i]));
		ASSERT_EQ(0, npt_raw_open(a, sv[i][0], i, &h[i]));
	}
	for (i = 0; i < 3; i++)
		EXPECT_EQ(0, not_ebadf(_metadata, b, h[i], have_sched(b)));
	/* A is untouched: not closed, not unblocked, no deadline. */
	EXPECT_EQ(3, npt_raw_stat(a, false));
	EXPECT_EQ(0, npt_raw_stat(b, false));
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(NPOLL_OK, npt_raw_wait(a, NPOLL_IOC_RESET, h[i],
						 NPOLL_MODE_READ, 0));
		EXPECT_EQ(NPOLL_OK, npt_raw_wait(a, NPOLL_IOC_WAIT, h[i],
						 NPOLL_MODE_WRITE, 0));
	}
	/* Registering in B is independent of A (no EEXIST across pollers). */
	EXPECT_EQ(0, npt_raw_open(b, sv[0][0], 9, &h[0]));
	close(a);
	close(b);
	for (i = 0; i < 3; i++) {
		close(sv[i][0]);
		close(sv[i][1]);
	}
}

/*
 * Two fresh pollers hand out the same first handle value: it names a
 * different descriptor in each, and acting through B affects only B's.
 */
TEST(same_handle_value_in_two_pollers_names_two_descriptors)
{
	int a = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	int b = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	int sa[2], sb[2];
	uint64_t ha, hb;

	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, npt_unix_pair(sa));
	ASSERT_EQ(0, npt_unix_pair(sb));
	ASSERT_EQ(0, npt_raw_open(a, sa[0], 1, &ha));
	ASSERT_EQ(0, npt_raw_open(b, sb[0], 2, &hb));
	if (ha != hb)
		TH_LOG("handles differ (%#llx, %#llx): only EBADF is checked",
		       (unsigned long long)ha, (unsigned long long)hb);
	if (ha == hb) {
		EXPECT_EQ(0, npt_raw_handle(b, NPOLL_IOC_UNBLOCK, hb));
		EXPECT_EQ(NPOLL_ERR_CLOSING, npt_raw_wait(b, NPOLL_IOC_RESET, hb,
							  NPOLL_MODE_READ, 0));
		EXPECT_EQ(NPOLL_OK, npt_raw_wait(a, NPOLL_IOC_RESET, ha,
						 NPOLL_MODE_READ, 0));
		EXPECT_EQ(0, npt_raw_handle(b, NPOLL_IOC_CLOSE, hb));
		EXPECT_EQ(1, npt_raw_stat(a, false));
		EXPECT_EQ(0, npt_raw_stat(b, false));
		/* Now B has nothing under that value. */
		EXPECT_EQ(0, not_ebadf(_metadata, b, ha, have_sched(b)));
		EXPECT_EQ(NPOLL_OK, npt_raw_wait(a, NPOLL_IOC_WAIT, ha,
						 NPOLL_MODE_WRITE, 0));
	} else {
		EXPECT_EQ(0, not_ebadf(_metadata, b, ha, have_sched(b)));
		EXPECT_EQ(0, not_ebadf(_metadata, a, hb, have_sched(a)));
	}
	close(a);
	close(b);
	close(sa[0]);
	close(sa[1]);
	close(sb[0]);
	close(sb[1]);
}

/*
 * Another process (possibly another user: this suite also runs
 * unprivileged) with its own poller cannot reach ours, whatever handle
 * values it tries.
 */
TEST(another_process_cannot_reach_our_descriptors)
{
	int dev = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	int sv[2], status;
	uint64_t h;
	pid_t pid;

	ASSERT_LE(0, dev);
	ASSERT_EQ(0, npt_unix_pair(sv));
	ASSERT_EQ(0, npt_raw_open(dev, sv[0], 1, &h));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int own, bad = 0;
		uint64_t g;

		close(dev);
		own = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
		if (own < 0)
			_exit(100);
		/* Our handle, and its neighbours, name nothing here. */
		for (g = 0; g < 64; g++) {
			uint64_t t = (h & ~0xffffffffULL) + (g << 32) + (h & 0xffffffffULL);

			bad += npt_raw_handle(own, NPOLL_IOC_UNBLOCK, t) != -EBADF;
			bad += npt_raw_handle(own, NPOLL_IOC_CLOSE, t) != -EBADF;
			bad += npt_raw_deadline(own, t, -1, NPOLL_MODE_RW, 0) != -EBADF;
		}
		_exit(bad > 99 ? 99 : bad);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(1, npt_raw_stat(dev, false));
	EXPECT_EQ(NPOLL_OK, npt_raw_wait(dev, NPOLL_IOC_RESET, h, NPOLL_MODE_READ, 0));
	EXPECT_EQ(NPOLL_OK, npt_raw_wait(dev, NPOLL_IOC_WAIT, h, NPOLL_MODE_WRITE, 0));
	close(dev);
	close(sv[0]);
	close(sv[1]);
}

/* --- memory cgroup ------------------------------------------------------- */

#define CGROOT		"/sys/fs/cgroup"
#define MG_FILES	1024		/* eventfds, created outside the cgroup */
#define MG_POLLERS	8		/* each registers every eventfd */
#define MG_LIMIT	(1 << 20)	/* memory.max: well below 8192 descs */

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	n = n < 0 ? -errno : 0;
	close(fd);
	return (int)n;
}

static long read_key(const char *path, const char *key)
{
	char line[128], k[64];
	long v, r = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %ld", k, &v) == 2 && !strcmp(k, key))
			r = v;
	fclose(f);
	return r;
}

struct mg_report {
	long opened;		/* registrations before the first failure */
	int err;		/* that failure, -errno */
	int again_enomem;	/* 64 more tries at the limit: -ENOMEM */
	int again_other;	/* ... and neither 0 nor -ENOMEM */
	int reopened;		/* after closing some: a registration again */
	int closed_all;		/* every CLOSE returned 0 */
	int stage;		/* how far the child got */
};

FIXTURE(memcg) {
	char dir[96];
	bool made;
};

FIXTURE_SETUP(memcg)
{
	char ctl[256] = "";
	int fd;

	self->made = false;
	if (geteuid() != 0)
		SKIP(return, "needs root to create a memory cgroup");
	fd = open(CGROOT "/cgroup.controllers", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, ctl, sizeof(ctl) - 1) < 0 || !strstr(ctl, "memory")) {
		if (fd >= 0)
			close(fd);
		SKIP(return, "no cgroup v2 memory controller at " CGROOT);
	}
	close(fd);
	/* The root's children get the memory controller. */
	write_str(CGROOT "/cgroup.subtree_control", "+memory");
	snprintf(self->dir, sizeof(self->dir), CGROOT "/npoll-test-%d", getpid());
	ASSERT_EQ(0, mkdir(self->dir, 0755));
	self->made = true;
}

FIXTURE_TEARDOWN(memcg)
{
	int i;

	if (!self->made)
		return;
	/* Offlining the last charges may take a moment. */
	for (i = 0; i < 100 && rmdir(self->dir) && errno == EBUSY; i++)
		npoll_test_sleep_ns(20 * NPT_MS);
}

/*
 * The child: pre-create every file and poller outside the cgroup (so
 * that only npoll's descriptors are charged inside it), join the
 * cgroup, register until a registration fails.
 */
static void memcg_child(const char *dir, int out, bool unkillable)
{
	static uint64_t h[MG_POLLERS][MG_FILES];
	struct mg_report rep = { .err = 0 };
	struct rlimit rl = { MG_FILES + 256, MG_FILES + 256 };
	int efd[MG_FILES], dev[MG_POLLERS], i, j, r = 0;
	char path[160], pid[32];

	memset(h, 0, sizeof(h));	/* fault the table in before joining */
	if (setrlimit(RLIMIT_NOFILE, &rl))
		_exit(2);
	for (i = 0; i < MG_FILES; i++)
		if ((efd[i] = eventfd(0, EFD_CLOEXEC)) < 0)
			_exit(3);
	for (i = 0; i < MG_POLLERS; i++)
		if ((dev[i] = open(NPOLL_DEV, O_RDWR | O_CLOEXEC)) < 0)
			_exit(4);
	if (unkillable && write_str("/proc/self/oom_score_adj", "-1000"))
		_exit(5);
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(pid, sizeof(pid), "%d", getpid());
	rep.stage = 1;
	if (write_str(path, pid))
		_exit(6);
	rep.stage = 2;
	for (i = 0; i < MG_POLLERS && !r; i++) {
		for (j = 0; j < MG_FILES; j++) {
			r = npt_raw_open(dev[i], efd[j], j, &h[i][j]);
			if (r)
				break;
			rep.opened++;
		}
	}
	rep.err = r;
	if (r) {
		i--;
		rep.stage = 3;
		/*
		 * More tries at the limit: they fail with -ENOMEM (one may
		 * fit in what a failed one gave back), nothing else.
		 */
		for (int k = 0, n = i * MG_FILES + j + 1;
		     k < 64 && n < MG_POLLERS * MG_FILES; k++, n++) {
			int pi = n / MG_FILES, fi = n % MG_FILES;
			int e = npt_raw_open(dev[pi], efd[fi], fi, &h[pi][fi]);

			if (e == -ENOMEM)
				rep.again_enomem++;
			else if (e)
				rep.again_other++;
		}
		/* Make room: close 256 of poller 0, then register one again. */
		rep.closed_all = 1;
		for (j = 0; j < 256; j++)
			if (npt_raw_handle(dev[0], NPOLL_IOC_CLOSE, h[0][j]))
				rep.closed_all = 0;
		rep.reopened = npt_raw_open(dev[0], efd[0], 0, &h[0][0]);
	}
	/* Leave the cgroup before anything else allocates. */
	write_str(CGROOT "/cgroup.procs", pid);
	rep.stage = 4;
	if (write(out, &rep, sizeof(rep)) != sizeof(rep))
		_exit(7);
	_exit(0);
}

static void memcg_run(struct __test_metadata *_metadata, const char *dir,
		      bool unkillable, struct mg_report *rep, int *status)
{
	char path[160], lim[32];
	int pfd[2];
	pid_t pid;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/memory.max", dir);
	snprintf(lim, sizeof(lim), "%d", MG_LIMIT);
	ASSERT_EQ(0, write_str(path, lim));
	/* Anonymous memory of the child cannot be swapped out either. */
	snprintf(path, sizeof(path), "%s/memory.swap.max", dir);
	write_str(path, "0");
	ASSERT_EQ(0, pipe2(pfd, O_CLOEXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(pfd[0]);
		memcg_child(dir, pfd[1], unkillable);
	}
	close(pfd[1]);
	memset(rep, 0, sizeof(*rep));
	n = read(pfd[0], rep, sizeof(*rep));
	close(pfd[0]);
	ASSERT_EQ(pid, waitpid(pid, status, 0));
	if (n != sizeof(*rep))
		rep->stage = -1;
	snprintf(path, sizeof(path), "%s/memory.events", dir);
	TH_LOG("%ld registrations under memory.max %d KiB; failure %d, then "
	       "%d of 64 ENOMEM, %d other; after closing 256: %d; memory.events "
	       "max %ld oom %ld oom_kill %ld; child status %#x", rep->opened,
	       MG_LIMIT >> 10, rep->err, rep->again_enomem, rep->again_other,
	       rep->reopened, read_key(path, "max"),
	       read_key(path, "oom"), read_key(path, "oom_kill"), *status);
}

/*
 * With the OOM killer unable to pick the child (oom_score_adj -1000),
 * the charge of a new descriptor fails and the registration returns
 * -ENOMEM: not -EMFILE, not a kill, and the guest goes on.  Closing
 * descriptors uncharges them: a registration succeeds again.
 */
TEST_F_TIMEOUT(memcg, registration_fails_with_enomem_at_the_limit, 600)
{
	struct mg_report rep;
	char path[160];
	int status;

	NPT_RETURN_IF_SKIPPED();
	memcg_run(_metadata, self->dir, true, &rep, &status);
	ASSERT_TRUE(WIFEXITED(status)) {
		TH_LOG("child killed by signal %d", WTERMSIG(status));
	}
	ASSERT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(4, rep.stage);
	/* Descriptors are charged: the limit is reached well before all. */
	EXPECT_GT(rep.opened, 0);
	EXPECT_LT(rep.opened, (long)MG_FILES * MG_POLLERS);
	EXPECT_EQ(-ENOMEM, rep.err);
	EXPECT_LT(32, rep.again_enomem);
	EXPECT_EQ(0, rep.again_other);
	EXPECT_EQ(1, rep.closed_all);
	EXPECT_EQ(0, rep.reopened);
	snprintf(path, sizeof(path), "%s/memory.events", self->dir);
	EXPECT_LT(0, read_key(path, "max"));
}

/*
 * With the OOM killer free to act, the memory cgroup's OOM killer ends
 * the registering process (or the charge fails with -ENOMEM); either
 * way the machine is not exhausted and the process's pollers are
 * released with everything in them (the run's kmemleak scan and module
 * unload check that).
 */
TEST_F_TIMEOUT(memcg, oom_killer_ends_only_the_registering_process, 600)
{
	struct mg_report rep;
	int status, dev;

	NPT_RETURN_IF_SKIPPED();
	memcg_run(_metadata, self->dir, false, &rep, &status);
	if (WIFSIGNALED(status)) {
		EXPECT_EQ(SIGKILL, WTERMSIG(status));
	} else {
		EXPECT_EQ(0, WEXITSTATUS(status));
		EXPECT_EQ(-ENOMEM, rep.err);
	}
	/* The module is fine: a new poller works. */
	dev = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, dev);
	EXPECT_EQ(0, npt_raw_stat(dev, false));
	close(dev);
}

TEST_HARNESS_MAIN
