/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * npoll: Go's runtime network poller in the kernel.
 *
 * ioctl ABI of /dev/netpoll.  Every open() of the device is a poller; a
 * poller holds descriptors, one per registered file, named by 64-bit
 * handles.  A handle carries a generation: a handle of a closed
 * descriptor never names a later one (the ioctl fails with -EBADF).
 *
 * All structures use fixed-width fields with explicit padding, so the
 * same layout serves 32-bit and 64-bit callers.  Every reserved field
 * and every undefined flag bit must be zero, else the ioctl fails with
 * -EINVAL.  Unknown commands fail with -ENOTTY.
 *
 * Extensible by size: a structure grows only by fields appended at its
 * end, and its size is part of the command number, so every layout has
 * its own number.  The driver keeps accepting the older layouts under
 * their numbers (NPOLL_IOC_*_V0), with the appended fields taken as
 * zero; a layout it does not know is -ENOTTY.
 */
#ifndef _UAPI_LINUX_NPOLL_H
#define _UAPI_LINUX_NPOLL_H

#include <linux/errno.h>
#include <linux/types.h>
#include <linux/ioctl.h>

#define NPOLL_IOC_MAGIC 0xB8

/* Modes: which half of the descriptor a call is about. */
#define NPOLL_MODE_READ 1
#define NPOLL_MODE_WRITE 2
#define NPOLL_MODE_RW (NPOLL_MODE_READ | NPOLL_MODE_WRITE)

/*
 * Outcome of a wait, returned as the (non-negative) ioctl result of
 * NPOLL_IOC_WAIT and NPOLL_IOC_RESET.  Values match runtime/netpoll.go.
 */
#define NPOLL_OK 0 /* ready (pollNoError) */
#define NPOLL_ERR_CLOSING 1 /* unblocked or closed (pollErrClosing) */
#define NPOLL_ERR_TIMEOUT 2 /* deadline expired (pollErrTimeout) */
#define NPOLL_ERR_NOT_POLLABLE 3 /* EPOLLERR seen (pollErrNotPollable) */
#define NPOLL_PENDING 4 /* armed: the outcome comes as an event */

/**
 * npoll_outcome_errno() - the errno of a wait's outcome, as NPOLL_IOC_IO
 * @outcome: an NPOLL_OK or NPOLL_ERR_* outcome, or a negative errno
 *
 * The one map from outcome to errno: NPOLL_IOC_IO fails with it, and
 * callers that run their own non-blocking I/O loop around
 * NPOLL_IOC_WAIT or NPOLL_IOC_ARM report the same errors with it.
 *
 * Return: 0 for NPOLL_OK, -ECANCELED for NPOLL_ERR_CLOSING, -ETIMEDOUT
 * for NPOLL_ERR_TIMEOUT, -EIO for NPOLL_ERR_NOT_POLLABLE; a negative
 * @outcome as it is; -EIO for any other value.
 */
static inline int npoll_outcome_errno(int outcome)
{
	switch (outcome) {
	case NPOLL_OK:
		return 0;
	case NPOLL_ERR_CLOSING:
		return -ECANCELED;
	case NPOLL_ERR_TIMEOUT:
		return -ETIMEDOUT;
	case NPOLL_ERR_NOT_POLLABLE:
		return -EIO;
	default:
		return outcome < 0 ? outcome : -EIO;
	}
}

/**
 * struct npoll_open_args - NPOLL_IOC_OPEN: register a file
 * @fd:       in: an open file descriptor of the caller
 * @flags:    in: must be 0
 * @user:     in: opaque cookie, returned in events
 * @handle:   out: the new descriptor's handle
 * @reserved: must be 0
 */
struct npoll_open_args {
	__s32 fd;
	__u32 flags;
	__u64 user;
	__u64 handle;
	__u64 reserved[2];
};

/**
 * struct npoll_handle_args - NPOLL_IOC_CLOSE, NPOLL_IOC_UNBLOCK
 * @handle:   descriptor
 * @flags:    must be 0
 * @reserved: must be 0
 */
struct npoll_handle_args {
	__u64 handle;
	__u32 flags;
	__u32 reserved;
};

/* NPOLL_IOC_WAIT flag: wait for readiness only, ignore closing and deadlines. */
#define NPOLL_WAIT_CANCELED (1U << 0)

/**
 * struct npoll_wait_args - NPOLL_IOC_WAIT, NPOLL_IOC_RESET, NPOLL_IOC_ARM
 * @handle:   descriptor
 * @mode:     NPOLL_MODE_READ or NPOLL_MODE_WRITE
 * @flags:    NPOLL_WAIT_CANCELED (WAIT only) or 0
 * @reserved: must be 0
 */
struct npoll_wait_args {
	__u64 handle;
	__u32 mode;
	__u32 flags;
	__u64 reserved;
};

/* NPOLL_IOC_SET_DEADLINE flag: @deadline is absolute CLOCK_MONOTONIC ns. */
#define NPOLL_DEADLINE_ABS (1U << 0)
/*
 * NPOLL_IOC_SET_DEADLINE flags: ordered changes.  Each mode remembers the
 * sequence number of the last ordered change applied to it; a change
 * applies to a mode only if its sequence is newer, which lets a caller
 * that defers deadline changes order them (see NPOLL_IOC_IO).
 *
 * NPOLL_DEADLINE_SEQ64: @seq64 is the sequence, newer means greater (64
 * bits: never wraps in practice).  A caller keeps one sequence per mode.
 *
 * NPOLL_DEADLINE_SEQ: the first layout's 32-bit @seq, newer modulo 2^32
 * (a signed difference) than the low half of the mode's last sequence.
 * Kept for old callers; a sequence shared by both modes wraps that
 * window after 2^31 changes of one mode.  Never mix the two on one
 * descriptor.
 */
#define NPOLL_DEADLINE_SEQ (1U << 1)
#define NPOLL_DEADLINE_SEQ64 (1U << 2)

/**
 * struct npoll_deadline_args - NPOLL_IOC_SET_DEADLINE
 * @handle:   descriptor
 * @deadline: relative: > 0 ns from now, < 0 expired, 0 none;
 *            absolute (NPOLL_DEADLINE_ABS): CLOCK_MONOTONIC ns,
 *            0 none, <= now expired
 * @mode:     NPOLL_MODE_READ, NPOLL_MODE_WRITE or NPOLL_MODE_RW
 * @flags:    NPOLL_DEADLINE_ABS, one of NPOLL_DEADLINE_SEQ and
 *            NPOLL_DEADLINE_SEQ64, or 0
 * @seq:      with NPOLL_DEADLINE_SEQ, the change's 32-bit sequence
 *            number; else must be 0
 * @reserved: must be 0
 * @seq64:    with NPOLL_DEADLINE_SEQ64, the change's sequence number;
 *            else must be 0 (appended in layout 1)
 */
struct npoll_deadline_args {
	__u64 handle;
	__s64 deadline;
	__u32 mode;
	__u32 flags;
	__u32 seq;
	__u32 reserved;
	__u64 seq64;
};

#define NPOLL_DEADLINE_ARGS_SIZE_VER0 32 /* without @seq64 */
#define NPOLL_DEADLINE_ARGS_SIZE_VER1 40

/**
 * struct npoll_event - one outcome of an armed wait (NPOLL_IOC_POLL)
 * @user:   the descriptor's cookie (npoll_open_args.user)
 * @mode:   NPOLL_MODE_READ or NPOLL_MODE_WRITE
 * @result: NPOLL_OK or an NPOLL_ERR_* code
 */
struct npoll_event {
	__u64 user;
	__s32 mode;
	__s32 result;
};

/**
 * struct npoll_poll_args - NPOLL_IOC_POLL: harvest events of armed waits
 * @events:     in: user address of an array of struct npoll_event
 * @max:        in: its length, 1 to NPOLL_POLL_MAX
 * @flags:      must be 0
 * @timeout_ns: in: < 0 wait forever, 0 do not wait, > 0 wait at most
 *              this many ns (CLOCK_MONOTONIC, no slack)
 * @reserved:   must be 0
 *
 * The ioctl returns the number of events stored, 0 on timeout and when
 * woken by NPOLL_IOC_BREAK.
 */
struct npoll_poll_args {
	__u64 events;
	__u32 max;
	__u32 flags;
	__s64 timeout_ns;
	__u64 reserved;
};

/* NPOLL_IOC_IO flag: first apply @deadline (absolute) with @seq. */
#define NPOLL_IO_DEADLINE (1U << 0)
/* NPOLL_IOC_IO flag, with NPOLL_IO_DEADLINE: the sequence is @seq64. */
#define NPOLL_IO_SEQ64 (1U << 1)

/**
 * struct npoll_io_args - NPOLL_IOC_IO: Go's FD.Read / FD.Write in one call
 * @handle:   descriptor, registered on a socket
 * @mode:     NPOLL_MODE_READ: receive into @buf; NPOLL_MODE_WRITE: send
 *            from @buf
 * @flags:    NPOLL_IO_DEADLINE, NPOLL_IO_DEADLINE | NPOLL_IO_SEQ64, or 0
 * @buf:      user address of the buffer
 * @len:      its length
 * @deadline: with NPOLL_IO_DEADLINE: the mode's new deadline, absolute
 *            CLOCK_MONOTONIC ns (0 none, <= now expired), applied as
 *            NPOLL_IOC_SET_DEADLINE with NPOLL_DEADLINE_SEQ (or, with
 *            NPOLL_IO_SEQ64, NPOLL_DEADLINE_SEQ64) would; else 0
 * @seq:      with NPOLL_IO_DEADLINE alone: the change's 32-bit sequence
 *            number; else 0
 * @reserved: must be 0
 * @seq64:    with NPOLL_IO_SEQ64: the change's sequence number; else 0
 *            (appended in layout 1)
 *
 * Returns the mode's error at once if one applies (even when data is
 * ready); else drops pending readiness and transfers once without
 * blocking; on EAGAIN waits for readiness and retries.  The ioctl
 * returns the number of bytes transferred (a send may be partial; it
 * never raises SIGPIPE), or fails with ETIMEDOUT (deadline), ECANCELED
 * (unblock or close), EIO (error event, read only), EOPNOTSUPP (not a
 * socket: use read/write with NPOLL_IOC_WAIT), or the socket's error.
 */
struct npoll_io_args {
	__u64 handle;
	__u32 mode;
	__u32 flags;
	__u64 buf;
	__u64 len;
	__s64 deadline;
	__u32 seq;
	__u32 reserved;
	__u64 seq64;
};

#define NPOLL_IO_ARGS_SIZE_VER0 48 /* without @seq64 */
#define NPOLL_IO_ARGS_SIZE_VER1 56

/* Most events one NPOLL_IOC_POLL returns. */
#define NPOLL_POLL_MAX (1U << 20)

/**
 * struct npoll_stats - NPOLL_IOC_STATS
 * @descs:    descriptors open in this poller
 * @waiters:  threads parked in waits on this poller (Go's netpollWaiters)
 * @armed:    armed waits whose outcome is not decided yet
 * @events:   decided outcomes not yet harvested by NPOLL_IOC_POLL
 * @busy_polls: waits that busy-polled their socket's NAPI context before
 *            parking (struct npoll_busy_poll), since the poller opened
 * @busy_ready: those of them whose readiness came while they spun (they
 *            did not park)
 * @reserved: zero; later fields will take their place
 */
struct npoll_stats {
	__u64 descs;
	__u64 waiters;
	__u64 armed;
	__u64 events;
	__u64 busy_polls;
	__u64 busy_ready;
	__u64 reserved[2];
};

/**
 * struct npoll_busy_poll - NPOLL_IOC_SET_BUSY_POLL, NPOLL_IOC_GET_BUSY_POLL
 * @usecs:  how long a read wait on a socket busy-polls the socket's NAPI
 *          context before it parks, in microseconds (at most INT_MAX);
 *          0: the socket's own setting (SO_BUSY_POLL, whose default is
 *          net.core.busy_read), as a blocking recv() uses it
 * @budget: packets per NAPI poll while spinning; 0: the socket's
 *          (SO_BUSY_POLL_BUDGET), or 8.  Above 64 needs CAP_NET_ADMIN
 * @prefer: 1: prefer busy polling over the NAPI softirq, as
 *          SO_PREFER_BUSY_POLL does (with the device's
 *          napi_defer_hard_irqs); 0: the socket's setting
 * @pad:    zero
 *
 * The per-poller counterpart of epoll's EPIOCSPARAMS.  A spin ends on
 * readiness, the mode's deadline, unblock or close, a signal, or after
 * @usecs; it yields when the scheduler asks (need_resched()).
 */
struct npoll_busy_poll {
	__u32 usecs;
	__u16 budget;
	__u8 prefer;
	__u8 pad;
};

/* The value NPOLL_IOC_IDENTIFY stores: "npoll\0\0\1" (ABI version 1). */
#define NPOLL_IDENTITY 0x6e706f6c6c000001ULL

/**
 * struct npoll_identify - NPOLL_IOC_IDENTIFY
 * @magic:    out: NPOLL_IDENTITY
 * @reserved: out: zero
 */
struct npoll_identify {
	__u64 magic;
	__u64 reserved;
};

#define NPOLL_IOC_OPEN _IOWR(NPOLL_IOC_MAGIC, 0x01, struct npoll_open_args)
#define NPOLL_IOC_CLOSE _IOW(NPOLL_IOC_MAGIC, 0x02, struct npoll_handle_args)
#define NPOLL_IOC_UNBLOCK _IOW(NPOLL_IOC_MAGIC, 0x03, struct npoll_handle_args)
#define NPOLL_IOC_RESET _IOW(NPOLL_IOC_MAGIC, 0x04, struct npoll_wait_args)
#define NPOLL_IOC_WAIT _IOW(NPOLL_IOC_MAGIC, 0x05, struct npoll_wait_args)
#define NPOLL_IOC_SET_DEADLINE \
	_IOW(NPOLL_IOC_MAGIC, 0x06, struct npoll_deadline_args)
#define NPOLL_IOC_STATS _IOR(NPOLL_IOC_MAGIC, 0x07, struct npoll_stats)
#define NPOLL_IOC_IDENTIFY _IOR(NPOLL_IOC_MAGIC, 0x08, struct npoll_identify)
/* Arm a mode (struct npoll_wait_args, flags 0): NPOLL_OK, an error or NPOLL_PENDING. */
#define NPOLL_IOC_ARM _IOW(NPOLL_IOC_MAGIC, 0x09, struct npoll_wait_args)
#define NPOLL_IOC_POLL _IOW(NPOLL_IOC_MAGIC, 0x0a, struct npoll_poll_args)
/* Wake a blocked NPOLL_IOC_POLL, or make the next blocking one return at once. */
#define NPOLL_IOC_BREAK _IO(NPOLL_IOC_MAGIC, 0x0b)
#define NPOLL_IOC_IO _IOW(NPOLL_IOC_MAGIC, 0x0c, struct npoll_io_args)
#define NPOLL_IOC_SET_BUSY_POLL \
	_IOW(NPOLL_IOC_MAGIC, 0x0d, struct npoll_busy_poll)
#define NPOLL_IOC_GET_BUSY_POLL \
	_IOR(NPOLL_IOC_MAGIC, 0x0e, struct npoll_busy_poll)
/* The first layouts, still accepted (their appended fields read as 0). */
#define NPOLL_IOC_SET_DEADLINE_V0 \
	_IOC(_IOC_WRITE, NPOLL_IOC_MAGIC, 0x06, NPOLL_DEADLINE_ARGS_SIZE_VER0)
#define NPOLL_IOC_IO_V0 \
	_IOC(_IOC_WRITE, NPOLL_IOC_MAGIC, 0x0c, NPOLL_IO_ARGS_SIZE_VER0)

#endif /* _UAPI_LINUX_NPOLL_H */
