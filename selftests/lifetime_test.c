// SPDX-License-Identifier: GPL-2.0
/*
 * Lifetime edges: POLLFREE of a registered signalfd whose wait queue
 * dies with its process, and the per-poller descriptor limit.
 */
#include <signal.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "npoll_test_util.h"

/*
 * A signalfd's wait queue belongs to the sighand of the process that
 * polls it.  The child registers a signalfd in a poller shared with the
 * parent, so the hook sits on the child's sighand; reaping the child
 * frees that sighand and wakes the queue with POLLFREE.  The descriptor
 * must survive: readable (POLLFREE carries EPOLLHUP), closable, and
 * never touching the freed queue (KASAN on the debug guest).
 */
static int register_signalfd_in_child(int dev, uint64_t *h, pid_t *pid)
{
	int pfd[2];
	ssize_t n;

	if (pipe(pfd))
		return -errno;
	*pid = fork();
	if (*pid < 0)
		return -errno;
	if (*pid == 0) {
		sigset_t set;
		uint64_t handle = 0;
		int sfd;

		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigprocmask(SIG_BLOCK, &set, NULL);
		sfd = signalfd(-1, &set, SFD_CLOEXEC);
		if (sfd < 0 || npt_raw_open(dev, sfd, 7, &handle))
			handle = 0;
		if (write(pfd[1], &handle, sizeof(handle)) != sizeof(handle))
			_exit(2);
		_exit(0);
	}
	close(pfd[1]);
	n = read(pfd[0], h, sizeof(*h));
	close(pfd[0]);
	return n == sizeof(*h) && *h ? 0 : -EIO;
}

TEST(pollfree_signalfd_of_reaped_process)
{
	int dev = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	int status, i;
	uint64_t h;
	pid_t pid;

	ASSERT_GE(dev, 0);
	for (i = 0; i < 20; i++) {
		ASSERT_EQ(0, register_signalfd_in_child(dev, &h, &pid));
		/* Reaping frees the child's sighand: POLLFREE. */
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_EQ(0, WEXITSTATUS(status));
		EXPECT_EQ(1, npt_raw_stat(dev, false));
		EXPECT_EQ(NPOLL_OK, npt_raw_wait(dev, NPOLL_IOC_WAIT, h,
						 NPOLL_MODE_READ, 0));
		EXPECT_EQ(0, npt_raw_handle(dev, NPOLL_IOC_CLOSE, h));
		EXPECT_EQ(0, npt_raw_stat(dev, false));
	}
	close(dev);
}

/* The same, but the poller itself is released with the hook detached. */
TEST(pollfree_then_poller_release)
{
	int dev = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	int status;
	uint64_t h;
	pid_t pid;

	ASSERT_GE(dev, 0);
	ASSERT_EQ(0, register_signalfd_in_child(dev, &h, &pid));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, close(dev));
}

/* Poller release unhooks from a sighand that is still alive. */
TEST(close_signalfd_hook_of_live_process)
{
	int dev = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	int pfd[2], status;
	uint64_t h = 0;
	pid_t pid;
	char c;

	ASSERT_GE(dev, 0);
	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		sigset_t set;
		int sfd;

		close(pfd[1]);
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigprocmask(SIG_BLOCK, &set, NULL);
		sfd = signalfd(-1, &set, SFD_CLOEXEC);
		if (sfd < 0 || npt_raw_open(dev, sfd, 7, &h))
			_exit(1);
		/* Raise the signal, then hold the sighand until told. */
		kill(getpid(), SIGUSR1);
		if (read(pfd[0], &c, 1) != 1)
			_exit(3);
		_exit(0);
	}
	close(pfd[0]);
	/* The child's registration shows up in the shared poller. */
	for (int i = 0; i < 2000 && npt_raw_stat(dev, false) != 1; i++)
		usleep(10000);
	ASSERT_EQ(1, npt_raw_stat(dev, false));
	EXPECT_EQ(0, npt_raw_stat(dev, true));
	/* Release the poller with the hook still on the live sighand. */
	EXPECT_EQ(0, close(dev));
	EXPECT_EQ(1, write(pfd[1], "x", 1));
	close(pfd[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

#define MAX_DESCS_PARAM "/sys/module/npoll/parameters/max_descs"

static int read_param(unsigned long *v)
{
	FILE *f = fopen(MAX_DESCS_PARAM, "r");
	int ok;

	if (!f)
		return -errno;
	ok = fscanf(f, "%lu", v) == 1;
	fclose(f);
	return ok ? 0 : -EIO;
}

static int write_param(unsigned long v)
{
	FILE *f = fopen(MAX_DESCS_PARAM, "w");
	int ok;

	if (!f)
		return -errno;
	ok = fprintf(f, "%lu\n", v) > 0;
	return fclose(f) == 0 && ok ? 0 : -EIO;
}

FIXTURE(limit) {
	unsigned long saved;
	np_poller *p;
	int efd[6];
	np_desc *pd[6];
};

FIXTURE_SETUP(limit)
{
	int i;

	if (geteuid() != 0 || read_param(&self->saved))
		SKIP(return, "needs root and " MAX_DESCS_PARAM);
	ASSERT_EQ(0, np_poller_open(&self->p));
	for (i = 0; i < 6; i++) {
		self->efd[i] = eventfd(0, EFD_CLOEXEC);
		ASSERT_GE(self->efd[i], 0);
		self->pd[i] = NULL;
	}
	ASSERT_EQ(0, write_param(4));
}

FIXTURE_TEARDOWN(limit)
{
	int i;

	if (!self->p)
		return;
	write_param(self->saved);
	np_poller_close(self->p);
	for (i = 0; i < 6; i++)
		close(self->efd[i]);
}

TEST_F(limit, per_poller_limit_is_emfile)
{
	np_poller *other;
	np_desc *opd;
	int i;

	NPT_RETURN_IF_SKIPPED();
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, np_open(self->p, self->efd[i], i, &self->pd[i]));
	EXPECT_EQ(-EMFILE, np_open(self->p, self->efd[4], 4, &self->pd[4]));
	/* The limit is per poller: another poller still has room. */
	ASSERT_EQ(0, np_poller_open(&other));
	EXPECT_EQ(0, np_open(other, self->efd[5], 5, &opd));
	np_poller_close(other);
	/* Closing one makes room again. */
	EXPECT_EQ(0, np_close(self->pd[0]));
	EXPECT_EQ(0, np_open(self->p, self->efd[4], 4, &self->pd[4]));
	EXPECT_EQ(-EMFILE, np_open(self->p, self->efd[0], 0, &self->pd[0]));
}

TEST_HARNESS_MAIN
