// SPDX-License-Identifier: GPL-2.0
/*
 * npoll: I/O fused with the wait (NPOLL_IOC_IO), Go's FD.Read/FD.Write.
 *
 * One ioctl does what internal/poll.FD does in user space with three or
 * four system calls: the mode's error check and reset, a non-blocking
 * transfer, and on EAGAIN a wait and a retry.  Sockets only: the
 * transfer is sock_recvmsg()/sock_sendmsg() with MSG_DONTWAIT, which is
 * what read(2) and write(2) do on a socket (plus MSG_NOSIGNAL: a send to
 * a closed peer fails with EPIPE instead of raising SIGPIPE).  Other
 * files get -EOPNOTSUPP and the library uses read/write and
 * NPOLL_IOC_WAIT for them.
 */
#include <linux/net.h>
#include <linux/poll.h>
#include <linux/socket.h>
#include <linux/uio.h>
#include <net/sock.h>

#include "compat.h"
#include "npoll.h"

static long npoll_sock_xfer(struct socket *sock, u32 mode, void __user *buf,
			    size_t len)
{
	int dir = mode == NPOLL_MODE_READ ? ITER_DEST : ITER_SOURCE;
	struct msghdr msg = {};
	int ret;

	ret = npoll_import_ubuf(dir, buf, len, &msg.msg_iter);
	if (unlikely(ret))
		return ret;
	if (mode == NPOLL_MODE_READ)
		return sock_recvmsg(sock, &msg, MSG_DONTWAIT);
	msg.msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL;
	return sock_sendmsg(sock, &msg);
}

/**
 * npoll_desc_io() - NPOLL_IOC_IO after the optional deadline change
 * @d: descriptor (the caller holds a reference)
 * @mode: NPOLL_MODE_READ or NPOLL_MODE_WRITE
 * @buf: user buffer
 * @len: its length, at most MAX_RW_COUNT
 *
 * Context: process, sleeps interruptibly.
 * Return: bytes transferred; -ETIMEDOUT, -ECANCELED, -EIO as the wait's
 * outcome; -EOPNOTSUPP not a socket; -ERESTARTSYS a signal arrived
 * before anything was transferred; the socket's -errno.
 */
long npoll_desc_io(struct npoll_desc *d, u32 mode, void __user *buf, size_t len)
{
	struct socket *sock = sock_from_file(d->file);
	long ret;
	int err;

	if (!sock)
		return -EOPNOTSUPP;
	err = npoll_desc_reset(d, mode);
	if (err)
		return npoll_outcome_errno(err);
	/*
	 * A receive that would fail with EAGAIN costs more than asking the
	 * socket's poll method: when nothing is there, wait first.  Data
	 * that arrives after the reset above is readiness the wait sees.
	 */
	if (mode == NPOLL_MODE_READ &&
	    !(vfs_poll(d->file, NULL) & NPOLL_READ_EVENTS))
		goto wait;
	for (;;) {
		ret = npoll_sock_xfer(sock, mode, buf, len);
		if (ret != -EAGAIN)
			return ret;
wait:
		err = npoll_desc_wait(d, mode, false);
		if (err)
			return npoll_outcome_errno(err);
	}
}
