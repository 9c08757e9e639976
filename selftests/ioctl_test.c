// SPDX-License-Identifier: GPL-2.0
/*
 * Raw ioctl input validation on a poller fd: reserved fields, unknown
 * flags, bad modes, bad pointers, garbage handles, bad fds, files that
 * cannot be registered, and a randomized loop of calls that must each
 * end in success or a documented errno, leaving the poller sane.
 */
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "npoll_test_util.h"

#define KERNEL_ADDR ((void *)0xffffffff81000000UL)

/* A raw poller with one AF_UNIX socket registered as @h. */
FIXTURE(raw) {
	int dev;
	int sv[2];
	uint64_t h;
};

FIXTURE_SETUP(raw)
{
	self->sv[0] = self->sv[1] = -1;
	NPT_OPEN_DEV(self->dev);
	ASSERT_EQ(0, npt_unix_pair(self->sv));
	ASSERT_EQ(0, npt_raw_open(self->dev, self->sv[0], 5, &self->h));
}

FIXTURE_TEARDOWN(raw)
{
	if (self->dev >= 0)
		close(self->dev);
	if (self->sv[0] >= 0)
		close(self->sv[0]);
	if (self->sv[1] >= 0)
		close(self->sv[1]);
}

TEST_F(raw, reserved_fields_nonzero_is_einval)
{
	struct npoll_open_args o;
	struct npoll_handle_args ha;
	struct npoll_wait_args w;
	struct npoll_deadline_args d;
	static const unsigned long hcmds[] = { NPOLL_IOC_UNBLOCK, NPOLL_IOC_CLOSE };
	static const unsigned long wcmds[] = { NPOLL_IOC_RESET, NPOLL_IOC_WAIT };
	int i, fd2 = self->sv[1];

	for (i = 0; i < 2; i++) {
		o = (struct npoll_open_args){ .fd = fd2 };
		o.reserved[i] = 1;
		EXPECT_EQ(-EINVAL, npt_ioctl(self->dev, NPOLL_IOC_OPEN, &o));
		o.reserved[i] = 1ULL << 63;
		EXPECT_EQ(-EINVAL, npt_ioctl(self->dev, NPOLL_IOC_OPEN, &o));
	}
	EXPECT_EQ(1, npt_raw_stat(self->dev, false));
	for (i = 0; i < 2; i++) {
		ha = (struct npoll_handle_args){ .handle = self->h, .reserved = 1 };
		EXPECT_EQ(-EINVAL, npt_ioctl(self->dev, hcmds[i], &ha));
		w = (struct npoll_wait_args){ .handle = self->h,
					      .mode = NPOLL_MODE_READ,
					      .reserved = 1 };
		EXPECT_EQ(-EINVAL, npt_ioctl(self->dev, wcmds[i], &w));
	}
	d = (struct npoll_deadline_args){ .handle = self->h, .deadline = -1,
					  .mode = NPOLL_MODE_RW, .reserved = 1 };
	EXPECT_EQ(-EINVAL, npt_ioctl(self->dev, NPOLL_IOC_SET_DEADLINE, &d));
	/* None of them did anything: not closed, not unblocked, no deadline. */
	EXPECT_EQ(1, npt_raw_stat(self->dev, false));
	EXPECT_EQ(NPOLL_OK, npt_raw_wait(self->dev, NPOLL_IOC_RESET, self->h,
					 NPOLL_MODE_READ, 0));
	EXPECT_EQ(NPOLL_OK, npt_raw_wait(self->dev, NPOLL_IOC_RESET, self->h,
					 NPOLL_MODE_WRITE, 0));
}

TEST_F(raw, unknown_flags_is_einval)
{
	static const uint32_t bad[] = { 2, 4, 0x100, 0x80000000, 0xffffffff };
	struct npoll_open_args o;
	struct npoll_handle_args ha;
	struct npoll_wait_args w;
	struct npoll_deadline_args d;
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = (struct npoll_open_args){ .fd = self->sv[1], .flags = bad[i] };
		EXPECT_EQ(-EINVAL, npt_ioctl(self->dev, NPOLL_IOC_OPEN, &o));
		ha = (struct npoll_handle_args){ .handle = self->h, .flags = bad[i] };
		EXPECT_EQ(-EINVAL, npt_ioctl(self->dev, NPOLL_IOC_UNBLOCK, &ha));
		EXPECT_EQ(-EINVAL, npt_ioctl(self->dev, NPOLL_IOC_CLOSE, &ha));
		w = (struct npoll_wait_args){ .handle = self->h,
					      .mode = NPOLL_MODE_READ,
					      .flags = bad[i] };
		EXPECT_EQ(-EINVAL, npt_ioctl(self->dev, NPOLL_IOC_WAIT, &w));
		EXPECT_EQ(-EINVAL, npt_ioctl(self->dev, NPOLL_IOC_RESET, &w));
		/* Bits 1 and 2 are the SEQ flags there: add an undefined one. */
		d = (struct npoll_deadline_args){ .handle = self->h,
						  .deadline = -1,
						  .mode = NPOLL_MODE_RW,
						  .flags = bad[i] | 8 };
		EXPECT_EQ(-EINVAL, npt_ioctl(self->dev, NPOLL_IOC_SET_DEADLINE, &d));
	}
	/* Flag 1 of open/close/unblock is not defined either. */
	o = (struct npoll_open_args){ .fd = self->sv[1], .flags = 1 };
	EXPECT_EQ(-EINVAL, npt_ioctl(self->dev, NPOLL_IOC_OPEN, &o));
	ha = (struct npoll_handle_args){ .handle = self->h, .flags = 1 };
	EXPECT_EQ(-EINVAL, npt_ioctl(self->dev, NPOLL_IOC_CLOSE, &ha));
	EXPECT_EQ(-EINVAL, npt_ioctl(self->dev, NPOLL_IOC_UNBLOCK, &ha));
	/* NPOLL_WAIT_CANCELED is for WAIT, not RESET. */
	EXPECT_EQ(-EINVAL, npt_raw_wait(self->dev, NPOLL_IOC_RESET, self->h,
					NPOLL_MODE_READ, NPOLL_WAIT_CANCELED));
	EXPECT_EQ(1, npt_raw_stat(self->dev, false));
	EXPECT_EQ(NPOLL_OK, npt_raw_wait(self->dev, NPOLL_IOC_RESET, self->h,
					 NPOLL_MODE_WRITE, 0));
}

TEST_F(raw, bad_modes_is_einval)
{
	static const uint32_t bad[] = { 0, 3, 4, 8, 0x80000001, 0xffffffff };
	static const uint32_t bad_dl[] = { 0, 4, 7, 0x80000001, 0xffffffff };
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, npt_raw_wait(self->dev, NPOLL_IOC_WAIT,
						self->h, bad[i], 0));
		EXPECT_EQ(-EINVAL, npt_raw_wait(self->dev, NPOLL_IOC_WAIT,
						self->h, bad[i],
						NPOLL_WAIT_CANCELED));
		EXPECT_EQ(-EINVAL, npt_raw_wait(self->dev, NPOLL_IOC_RESET,
						self->h, bad[i], 0));
	}
	for (i = 0; i < sizeof(bad_dl) / sizeof(bad_dl[0]); i++)
		EXPECT_EQ(-EINVAL, npt_raw_deadline(self->dev, self->h, -1,
						    bad_dl[i], 0));
	EXPECT_EQ(0, npt_raw_deadline(self->dev, self->h, 0, NPOLL_MODE_RW, 0));
	EXPECT_EQ(0, npt_raw_stat(self->dev, true));
}

TEST_F(raw, bad_pointers_is_efault)
{
	static const unsigned long cmds[] = {
		NPOLL_IOC_OPEN, NPOLL_IOC_CLOSE, NPOLL_IOC_UNBLOCK,
		NPOLL_IOC_RESET, NPOLL_IOC_WAIT, NPOLL_IOC_SET_DEADLINE,
		NPOLL_IOC_STATS, NPOLL_IOC_IDENTIFY,
	};
	void *ptrs[] = { NULL, (void *)1, KERNEL_ADDR, (void *)-1L };
	unsigned int i, j;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		for (j = 0; j < sizeof(ptrs) / sizeof(ptrs[0]); j++) {
			EXPECT_EQ(-EFAULT, npt_ioctl(self->dev, cmds[i], ptrs[j])) {
				TH_LOG("cmd %#lx ptr %p", cmds[i], ptrs[j]);
			}
		}
	}
	EXPECT_EQ(1, npt_raw_stat(self->dev, false));
}

/* An argument that straddles the end of a mapping: EFAULT, no partial effect. */
TEST_F(raw, argument_across_unmapped_page_is_efault)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct npoll_open_args *o;

	ASSERT_NE(MAP_FAILED, m);
	ASSERT_EQ(0, munmap(m + pg, pg));
	o = (struct npoll_open_args *)(m + pg - 8);
	memset(o, 0, 8);
	o->fd = self->sv[1];
	EXPECT_EQ(-EFAULT, npt_ioctl(self->dev, NPOLL_IOC_OPEN, o));
	EXPECT_EQ(-EFAULT, npt_ioctl(self->dev, NPOLL_IOC_STATS, m + pg - 8));
	EXPECT_EQ(1, npt_raw_stat(self->dev, false));
	munmap(m, pg);
}

TEST_F(raw, garbage_handles_is_ebadf)
{
	uint64_t hs[64];
	unsigned int i, n = 0;

	hs[n++] = 0;
	hs[n++] = 1;
	hs[n++] = ~0ULL;
	hs[n++] = 1ULL << 63;
	hs[n++] = self->h + 1;
	hs[n++] = self->h - 1;
	hs[n++] = self->h ^ (1ULL << 40);
	hs[n++] = self->h ^ (1ULL << 63);
	hs[n++] = (uint64_t)(uintptr_t)&hs;
	srand(42);
	while (n < 64)
		hs[n++] = ((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 11) ^
			  (uint64_t)rand();
	for (i = 0; i < n; i++) {
		if (hs[i] == self->h)
			continue;
		EXPECT_EQ(-EBADF, npt_raw_wait(self->dev, NPOLL_IOC_WAIT, hs[i],
					       NPOLL_MODE_READ, 0)) {
			TH_LOG("handle %#llx", (unsigned long long)hs[i]);
		}
		EXPECT_EQ(-EBADF, npt_raw_wait(self->dev, NPOLL_IOC_RESET, hs[i],
					       NPOLL_MODE_WRITE, 0));
		EXPECT_EQ(-EBADF, npt_raw_deadline(self->dev, hs[i], -1,
						   NPOLL_MODE_RW, 0));
		EXPECT_EQ(-EBADF, npt_raw_handle(self->dev, NPOLL_IOC_UNBLOCK, hs[i]));
		EXPECT_EQ(-EBADF, npt_raw_handle(self->dev, NPOLL_IOC_CLOSE, hs[i]));
	}
	/* The real descriptor was never touched. */
	EXPECT_EQ(1, npt_raw_stat(self->dev, false));
	EXPECT_EQ(NPOLL_OK, npt_raw_wait(self->dev, NPOLL_IOC_RESET, self->h,
					 NPOLL_MODE_READ, 0));
}

TEST_F(raw, bad_fd_is_ebadf)
{
	static const int fds[] = { -1, -2, INT32_MIN, 1 << 20, INT32_MAX };
	uint64_t h;
	unsigned int i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		EXPECT_EQ(-EBADF, npt_raw_open(self->dev, fds[i], 0, &h));
	EXPECT_EQ(1, npt_raw_stat(self->dev, false));
}

TEST_F(raw, registering_a_poller_is_einval)
{
	int other = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	uint64_t h;

	ASSERT_LE(0, other);
	EXPECT_EQ(-EINVAL, npt_raw_open(self->dev, self->dev, 0, &h));
	EXPECT_EQ(-EINVAL, npt_raw_open(self->dev, other, 0, &h));
	EXPECT_EQ(-EINVAL, npt_raw_open(other, self->dev, 0, &h));
	EXPECT_EQ(1, npt_raw_stat(self->dev, false));
	EXPECT_EQ(0, npt_raw_stat(other, false));
	close(other);
}

TEST_F(raw, regular_file_is_eperm)
{
	int fd = memfd_create("npoll-ioctl", MFD_CLOEXEC);
	uint64_t h;

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EPERM, npt_raw_open(self->dev, fd, 0, &h));
	close(fd);
	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EPERM, npt_raw_open(self->dev, fd, 0, &h));
	close(fd);
	EXPECT_EQ(1, npt_raw_stat(self->dev, false));
}

TEST_F(raw, same_file_twice_is_eexist)
{
	int dfd = dup(self->sv[0]);
	uint64_t h;

	ASSERT_LE(0, dfd);
	EXPECT_EQ(-EEXIST, npt_raw_open(self->dev, self->sv[0], 0, &h));
	EXPECT_EQ(-EEXIST, npt_raw_open(self->dev, dfd, 0, &h));
	close(dfd);
	EXPECT_EQ(1, npt_raw_stat(self->dev, false));
}

/* Output-only structures: whatever the caller put in them is ignored. */
TEST_F(raw, stats_and_identify_overwrite_output)
{
	struct npoll_stats st;
	struct npoll_identify id;

	memset(&st, 0xa5, sizeof(st));
	ASSERT_EQ(0, npt_ioctl(self->dev, NPOLL_IOC_STATS, &st));
	EXPECT_EQ(1, st.descs);
	EXPECT_EQ(0, st.waiters);
	EXPECT_EQ(0, st.armed);
	EXPECT_EQ(0, st.events);
	EXPECT_EQ(0, st.busy_polls);
	EXPECT_EQ(0, st.busy_ready);
	EXPECT_EQ(0, st.reserved[0] | st.reserved[1]);
	memset(&id, 0xa5, sizeof(id));
	ASSERT_EQ(0, npt_ioctl(self->dev, NPOLL_IOC_IDENTIFY, &id));
	EXPECT_EQ(NPOLL_IDENTITY, id.magic);
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static bool documented_errno(int r)
{
	switch (r) {
	case -EINVAL: case -EFAULT: case -EBADF: case -ENOTTY:
	case -EPERM: case -EEXIST: case -EBUSY: case -EMFILE:
	case -ENOMEM:
		return true;
	}
	return false;
}

/*
 * Random commands in the 0xB8 magic with random argument bytes.  A
 * valid handle is planted in half of the non-wait calls (a planted WAIT
 * could block for good); each call must succeed or fail with a
 * documented errno, and the poller must be sane afterwards.
 */
TEST_F(raw, random_calls_return_documented_results)
{
	static const unsigned long cmds[] = {
		NPOLL_IOC_OPEN, NPOLL_IOC_CLOSE, NPOLL_IOC_UNBLOCK,
		NPOLL_IOC_RESET, NPOLL_IOC_WAIT, NPOLL_IOC_SET_DEADLINE,
		NPOLL_IOC_STATS, NPOLL_IOC_IDENTIFY,
	};
	long iters = npoll_test_iters(20000), i, undocumented = 0, ok = 0;
	int sv[4][2], j, r;
	uint64_t h[4], buf[16];
	unsigned long cmd;
	void *arg;

	for (j = 0; j < 4; j++) {
		ASSERT_EQ(0, npt_unix_pair(sv[j]));
		ASSERT_EQ(0, npt_raw_open(self->dev, sv[j][0], j, &h[j]));
	}
	for (i = 0; i < iters; i++) {
		uint64_t x = rnd();

		if (x & 1) {
			cmd = cmds[(x >> 1) % 8];
		} else {
			cmd = _IOC((x >> 1) & 3, NPOLL_IOC_MAGIC, (x >> 3) & 0x1f,
				   (x >> 8) % 72);
		}
		for (j = 0; j < 16; j++)
			buf[j] = rnd();
		/* Small values are likelier to pass checks: zero some words. */
		for (j = 0; j < 16; j++)
			if (rnd() & 1)
				buf[j] = rnd() & 1 ? 0 : rnd() & 7;
		if (cmd == NPOLL_IOC_OPEN) {
			/*
			 * Only our own files or no file: a random small fd
			 * could be the console, which would become
			 * O_NONBLOCK.
			 */
			struct npoll_open_args *o = (void *)buf;

			if (x & 0x100)
				o->fd = (x >> 9) & 1 ? sv[(x >> 10) & 3][1]
						     : self->dev;
			else
				o->fd = (x >> 9) & 1 ? -1 : (int)(rnd() | 0x40000000);
		}
		if (cmd != NPOLL_IOC_WAIT && cmd != NPOLL_IOC_OPEN && (x & 0x200))
			buf[0] = h[(x >> 12) & 3];
		if (cmd == NPOLL_IOC_WAIT || _IOC_NR(cmd) == _IOC_NR(NPOLL_IOC_WAIT)) {
			/* Never a live handle: a random wait must not block. */
			for (j = 0; j < 4; j++)
				if (buf[0] == h[j])
					buf[0] ^= 1ULL << 62;
		}
		switch ((x >> 20) & 15) {
		case 0:
			arg = NULL;
			break;
		case 1:
			arg = KERNEL_ADDR;
			break;
		default:
			arg = buf;
		}
		r = npt_ioctl(self->dev, cmd, arg);
		if (r >= 0 && r <= NPOLL_PENDING)
			ok++;
		else if (!documented_errno(r)) {
			undocumented++;
			if (undocumented < 5)
				TH_LOG("cmd %#lx returned %d", cmd, r);
		}
	}
	TH_LOG("%ld random calls, %ld succeeded", iters, ok);
	EXPECT_EQ(0, undocumented);
	EXPECT_EQ(0, npt_raw_stat(self->dev, true));
	r = (int)npt_raw_stat(self->dev, false);
	EXPECT_LE(0, r);
	EXPECT_GE(9, r);
	/* The poller still works: a fresh registration and a wait. */
	{
		int fds[2];
		uint64_t nh = 0;

		ASSERT_EQ(0, npt_pipe(fds));
		EXPECT_EQ(0, npt_raw_open(self->dev, fds[1], 9, &nh));
		EXPECT_EQ(NPOLL_OK, npt_raw_wait(self->dev, NPOLL_IOC_WAIT, nh,
						 NPOLL_MODE_WRITE, 0));
		close(fds[0]);
		close(fds[1]);
	}
	/* Closing the poller releases every file it still held. */
	close(self->dev);
	self->dev = -1;
	for (j = 0; j < 4; j++) {
		close(sv[j][0]);
		EXPECT_TRUE(npt_sees_eof(sv[j][1]));
		close(sv[j][1]);
	}
}

/* An ordered change of @mode's deadline to absolute @when. */
static int seq_deadline(int dev, unsigned long cmd, uint64_t h, uint32_t mode,
			int64_t when, uint32_t flags, uint64_t seq)
{
	struct npoll_deadline_args a = {
		.handle = h, .deadline = when, .mode = mode,
		.flags = NPOLL_DEADLINE_ABS | flags,
	};

	if (flags & NPOLL_DEADLINE_SEQ64)
		a.seq64 = seq;
	else
		a.seq = (uint32_t)seq;
	return npt_ioctl(dev, cmd, &a);
}

/*
 * One sequence per mode, 64 bits wide: 2^31 read changes (here one, with
 * the sequence a counter shared by both modes would have reached) do
 * not make the next write change look older than the write's last one.
 * The first layout's 32-bit window dropped that change, and the write
 * that should have timed out blocked.
 */
TEST_F(raw, seq64_write_change_applies_after_2e31_read_changes)
{
	const uint64_t half = 1ULL << 31;

	NPT_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, seq_deadline(self->dev, NPOLL_IOC_SET_DEADLINE, self->h,
				  NPOLL_MODE_WRITE, 0, NPOLL_DEADLINE_SEQ64, 1));
	ASSERT_EQ(0, seq_deadline(self->dev, NPOLL_IOC_SET_DEADLINE, self->h,
				  NPOLL_MODE_READ, 0, NPOLL_DEADLINE_SEQ64,
				  half + 2));
	/* Expired (absolute 1 is in the past). */
	ASSERT_EQ(0, seq_deadline(self->dev, NPOLL_IOC_SET_DEADLINE, self->h,
				  NPOLL_MODE_WRITE, 1, NPOLL_DEADLINE_SEQ64,
				  half + 3));
	EXPECT_EQ(NPOLL_ERR_TIMEOUT, npt_raw_wait(self->dev, NPOLL_IOC_RESET,
						  self->h, NPOLL_MODE_WRITE, 0));
	EXPECT_EQ(NPOLL_OK, npt_raw_wait(self->dev, NPOLL_IOC_RESET, self->h,
					 NPOLL_MODE_READ, 0));
	/* Across 2^32 too; an older change is still ignored. */
	ASSERT_EQ(0, seq_deadline(self->dev, NPOLL_IOC_SET_DEADLINE, self->h,
				  NPOLL_MODE_WRITE, 0, NPOLL_DEADLINE_SEQ64,
				  (1ULL << 32) + 1));
	EXPECT_EQ(NPOLL_OK, npt_raw_wait(self->dev, NPOLL_IOC_RESET, self->h,
					 NPOLL_MODE_WRITE, 0));
	ASSERT_EQ(0, seq_deadline(self->dev, NPOLL_IOC_SET_DEADLINE, self->h,
				  NPOLL_MODE_WRITE, 1, NPOLL_DEADLINE_SEQ64,
				  half + 4));
	EXPECT_EQ(NPOLL_OK, npt_raw_wait(self->dev, NPOLL_IOC_RESET, self->h,
					 NPOLL_MODE_WRITE, 0));
}

/* The first layout keeps its number and its 32-bit ordered changes. */
TEST_F(raw, first_deadline_layout_still_orders_changes)
{
	NPT_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, seq_deadline(self->dev, NPOLL_IOC_SET_DEADLINE_V0,
				  self->h, NPOLL_MODE_WRITE, 1,
				  NPOLL_DEADLINE_SEQ, 7));
	EXPECT_EQ(NPOLL_ERR_TIMEOUT, npt_raw_wait(self->dev, NPOLL_IOC_RESET,
						  self->h, NPOLL_MODE_WRITE, 0));
	/* Older: ignored, the deadline stays expired. */
	ASSERT_EQ(0, seq_deadline(self->dev, NPOLL_IOC_SET_DEADLINE_V0,
				  self->h, NPOLL_MODE_WRITE, 0,
				  NPOLL_DEADLINE_SEQ, 6));
	EXPECT_EQ(NPOLL_ERR_TIMEOUT, npt_raw_wait(self->dev, NPOLL_IOC_RESET,
						  self->h, NPOLL_MODE_WRITE, 0));
	ASSERT_EQ(0, seq_deadline(self->dev, NPOLL_IOC_SET_DEADLINE_V0,
				  self->h, NPOLL_MODE_WRITE, 0,
				  NPOLL_DEADLINE_SEQ, 8));
	EXPECT_EQ(NPOLL_OK, npt_raw_wait(self->dev, NPOLL_IOC_RESET, self->h,
					 NPOLL_MODE_WRITE, 0));
}

TEST_F(raw, deadline_seq64_misuse_is_einval)
{
	struct npoll_deadline_args d = {
		.handle = self->h, .mode = NPOLL_MODE_READ,
	};

	NPT_RETURN_IF_SKIPPED();
	/* The first layout has no seq64 field, hence no SEQ64 flag. */
	d.flags = NPOLL_DEADLINE_SEQ64;
	EXPECT_EQ(-EINVAL, npt_ioctl(self->dev, NPOLL_IOC_SET_DEADLINE_V0, &d));
	d.flags = NPOLL_DEADLINE_SEQ | NPOLL_DEADLINE_SEQ64;
	d.seq64 = 1;
	EXPECT_EQ(-EINVAL, npt_ioctl(self->dev, NPOLL_IOC_SET_DEADLINE, &d));
	d.flags = 0;
	EXPECT_EQ(-EINVAL, npt_ioctl(self->dev, NPOLL_IOC_SET_DEADLINE, &d));
	d.flags = NPOLL_DEADLINE_SEQ64;
	d.seq = 1;
	EXPECT_EQ(-EINVAL, npt_ioctl(self->dev, NPOLL_IOC_SET_DEADLINE, &d));
	/* A layout the driver does not know. */
	d.seq = 0;
	EXPECT_EQ(-ENOTTY, npt_ioctl(self->dev,
				     _IOC(_IOC_WRITE, NPOLL_IOC_MAGIC, 0x06, 36),
				     &d));
	EXPECT_EQ(0, npt_ioctl(self->dev, NPOLL_IOC_SET_DEADLINE, &d));
}

TEST_HARNESS_MAIN
