// SPDX-License-Identifier: GPL-2.0
/*
 * The device itself: node, open/close as pollers, unknown commands and
 * the module's lifetime (unload refused while a poller is open).
 */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include "kselftest_harness.h"
#include "common.h"

TEST(device_node_is_world_rw_char_device)
{
	struct stat st;

	ASSERT_EQ(0, stat(NPOLL_DEV, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0666, st.st_mode & 07777);
}

TEST(each_open_is_a_poller)
{
	int fds[64];
	int i;

	for (i = 0; i < 64; i++) {
		fds[i] = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
		ASSERT_GE(fds[i], 0);
	}
	for (i = 0; i < 64; i++)
		EXPECT_EQ(0, close(fds[i]));
}

TEST(unknown_command_is_enotty)
{
	int fd = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	unsigned long garbage[16] = { 0 };

	ASSERT_GE(fd, 0);
	EXPECT_EQ(-1, ioctl(fd, _IO(NPOLL_IOC_MAGIC, 0xff)));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(fd, _IOWR('T', 0x01, unsigned long[16]), garbage));
	EXPECT_EQ(ENOTTY, errno);
	/* Right number, wrong size: a different command. */
	EXPECT_EQ(-1, ioctl(fd, _IOC(_IOC_READ, NPOLL_IOC_MAGIC, 0x08, 8), garbage));
	EXPECT_EQ(ENOTTY, errno);
	close(fd);
}

TEST(identify_names_the_abi)
{
	int fd = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	struct npoll_identify id = { .magic = 1, .reserved = 1 };

	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, ioctl(fd, NPOLL_IOC_IDENTIFY, &id));
	EXPECT_EQ(NPOLL_IDENTITY, id.magic);
	EXPECT_EQ(0, id.reserved);
	EXPECT_EQ(-1, ioctl(fd, NPOLL_IOC_IDENTIFY, (void *)16));
	EXPECT_EQ(EFAULT, errno);
	close(fd);
}

static void wait_for_node(int present)
{
	int i;

	for (i = 0; i < 500; i++) {
		if ((access(NPOLL_DEV, F_OK) == 0) == present)
			return;
		usleep(10000);
	}
}

/*
 * The module owner reference of an open poller makes delete_module()
 * fail; once the last poller is closed the module unloads, and it can be
 * loaded again.  Defined last so that it runs last: it reloads the module.
 */
TEST(unload_refused_while_poller_open)
{
	const char *dir = getenv("NPOLL_KMOD_DIR");
	char path[512];
	int fd, mfd;

	if (geteuid() != 0 || !dir)
		SKIP(return, "needs root in the test guest (NPOLL_KMOD_DIR)");
	snprintf(path, sizeof(path), "%s/npoll.ko", dir);
	mfd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_GE(mfd, 0);

	fd = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(-1, syscall(SYS_delete_module, "npoll", O_NONBLOCK));
	EXPECT_EQ(EWOULDBLOCK, errno);
	EXPECT_EQ(0, close(fd));

	ASSERT_EQ(0, syscall(SYS_delete_module, "npoll", O_NONBLOCK));
	wait_for_node(0);
	EXPECT_NE(0, access(NPOLL_DEV, F_OK));
	ASSERT_EQ(0, syscall(SYS_finit_module, mfd, "", 0));
	close(mfd);
	wait_for_node(1);
	fd = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	EXPECT_GE(fd, 0);
	close(fd);
}

TEST_HARNESS_MAIN
