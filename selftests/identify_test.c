// SPDX-License-Identifier: GPL-2.0
/*
 * np_is_poll_descriptor() recognises a /dev/netpoll fd by its device
 * number and never sends an ioctl to the fd it is asked about: that fd
 * may be anybody's file, and an unknown ioctl may mean something to a
 * foreign driver.  The program interposes ioctl() (its definition takes
 * the place of libc's in the statically linked library) and counts the
 * calls made on the fds under test.
 */
#include <stdarg.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>

#include "kselftest_harness.h"
#include "npoll_test_util.h"

static atomic_int watched = -1;
static atomic_int ioctls;

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd == atomic_load(&watched))
		atomic_fetch_add(&ioctls, 1);
	return syscall(SYS_ioctl, fd, req, arg);
}

/* np_is_poll_descriptor(@fd), counting the ioctls it sends to @fd. */
static int identify(int fd, int *sent)
{
	int r;

	atomic_store(&ioctls, 0);
	atomic_store(&watched, fd);
	r = np_is_poll_descriptor(fd);
	atomic_store(&watched, -1);
	*sent = atomic_load(&ioctls);
	return r;
}

TEST(foreign_fds_are_not_pollers_and_get_no_ioctl)
{
	int sv[2], fds[2], efd, null, sent;

	ASSERT_EQ(0, npt_unix_pair(sv));
	ASSERT_EQ(0, npt_pipe(fds));
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, null);

	EXPECT_EQ(0, identify(sv[0], &sent));
	EXPECT_EQ(0, sent);
	EXPECT_EQ(0, identify(fds[0], &sent));
	EXPECT_EQ(0, sent);
	EXPECT_EQ(0, identify(efd, &sent));
	EXPECT_EQ(0, sent);
	/* A character device, but another one. */
	EXPECT_EQ(0, identify(null, &sent));
	EXPECT_EQ(0, sent);

	close(null);
	close(efd);
	close(fds[0]);
	close(fds[1]);
	close(sv[0]);
	close(sv[1]);
}

TEST(poller_fd_is_a_poller)
{
	int dev, dup_fd, sent;

	NPT_OPEN_DEV(dev);
	dup_fd = dup(dev);
	ASSERT_LE(0, dup_fd);
	EXPECT_EQ(1, identify(dev, &sent));
	EXPECT_EQ(0, sent);
	EXPECT_EQ(1, identify(dup_fd, &sent));
	close(dup_fd);
	close(dev);
}

TEST(bad_fds_are_not_pollers)
{
	int fds[2], sent;

	EXPECT_EQ(0, np_is_poll_descriptor(-1));
	ASSERT_EQ(0, npt_pipe(fds));
	close(fds[0]);
	close(fds[1]);
	EXPECT_EQ(0, identify(fds[0], &sent));
}

TEST_HARNESS_MAIN
