/* SPDX-License-Identifier: GPL-2.0 */
/*
 * npoll: tracepoints, trace system "npoll".
 *
 * Every event names its poller by id (unique system-wide) and its
 * descriptor by handle (unique within the poller) and cookie, never by a
 * kernel pointer; npoll_open ties a handle to the caller's fd.  Events
 * that fire where no waiter runs (readiness, deadlines) name the thread
 * parked on the mode.  Fields and example commands:
 * Documentation/tracing.rst.
 *
 * Disabled events cost a patched-out branch.  Arguments are evaluated
 * only when the event is enabled, and the start time of a wait is read
 * only when npoll_wait_end is enabled (npoll_desc_wait()).
 *
 * Out of tree: CREATE_TRACE_POINTS is defined in main.c alone, and
 * define_trace.h finds this file as "./npoll_trace.h" through Kbuild's
 * -I$(src).
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM npoll

#ifndef _NPOLL_TRACE_HELPERS_H
#define _NPOLL_TRACE_HELPERS_H
#include <linux/rcupdate.h>
#include <linux/sched.h>

#include "npoll.h"
#include "sem.h"

/*
 * The pid of the thread parked on @mode of @d (or about to park or arm
 * on it), 0 if there is none.  A task in the word has not left its wait
 * when the word is read; read inside the RCU section, its task_struct
 * outlives the section even if the thread leaves and exits meanwhile.
 */
static inline pid_t npoll_trace_waiter(const struct npoll_desc *d, u32 mode)
{
	struct task_struct *t;
	unsigned long v;
	pid_t pid = 0;

	rcu_read_lock();
	v = READ_ONCE(*(mode == NPOLL_MODE_READ ? &d->rg : &d->wg));
	t = (struct task_struct *)(v & ~NPOLL_SEM_WAIT_TAG);
	if (v > NPOLL_SEM_LAST)
		pid = task_pid_nr(t);
	rcu_read_unlock();
	return pid;
}

/* The modes whose readiness @mask signals. */
static inline u32 npoll_ready_modes(__poll_t mask)
{
	return (mask & NPOLL_READ_EVENTS ? NPOLL_MODE_READ : 0) |
	       (mask & NPOLL_WRITE_EVENTS ? NPOLL_MODE_WRITE : 0);
}
#endif

#if !defined(_NPOLL_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _NPOLL_TRACE_H

#include <linux/errno.h>
#include <linux/poll.h>
#include <linux/timekeeping.h>
#include <linux/tracepoint.h>

#include "npoll.h"

/*
 * Symbol tables of the printed fields.  Plain numbers, not the EPOLL*
 * macros: the format files expose these expressions to user-space
 * parsers (perf, trace-cmd), which cannot evaluate sparse's casts.
 */
#define npoll_show_mode(mode)                                 \
	__print_flags(mode, "|", { NPOLL_MODE_READ, "read" }, \
		      { NPOLL_MODE_WRITE, "write" })

#define npoll_show_result(result)                                            \
	__print_symbolic(result, { NPOLL_OK, "ok" },                         \
			 { NPOLL_ERR_CLOSING, "closing" },                   \
			 { NPOLL_ERR_TIMEOUT, "timeout" },                   \
			 { NPOLL_ERR_NOT_POLLABLE, "not_pollable" },         \
			 { NPOLL_PENDING, "pending" }, { -EBUSY, "-EBUSY" }, \
			 { -ERESTARTSYS, "-ERESTARTSYS" })

#define npoll_show_mask(mask)                                                  \
	__print_flags(mask, "|", { 0x0001, "IN" }, { 0x0002, "PRI" },          \
		      { 0x0004, "OUT" }, { 0x0008, "ERR" }, { 0x0010, "HUP" }, \
		      { 0x0020, "NVAL" }, { 0x0040, "RDNORM" },                \
		      { 0x0080, "RDBAND" }, { 0x0100, "WRNORM" },              \
		      { 0x0200, "WRBAND" }, { 0x0400, "MSG" },                 \
		      { 0x2000, "RDHUP" }, { 0x4000, "FREE" })

/*
 * The event definitions are a macro language clang-format cannot lay
 * out; they keep the hand layout below.
 */
/* clang-format off */

/* npoll_open: a file is registered (NPOLL_IOC_OPEN). */
TRACE_EVENT(npoll_open,
	    TP_PROTO(const struct npoll_desc *d, int fd),
	    TP_ARGS(d, fd),
	    TP_STRUCT__entry(__field(u64, poller)
			     __field(u64, handle)
			     __field(u64, user)
			     __field(int, fd)),
	    TP_fast_assign(__entry->poller = d->poller->id;
			   __entry->handle = d->handle;
			   __entry->user = d->user;
			   __entry->fd = fd;),
	    TP_printk("poller=%llu handle=%#llx fd=%d user=%#llx",
		      __entry->poller, __entry->handle, __entry->fd,
		      __entry->user));

DECLARE_EVENT_CLASS(npoll_handle_class,
		    TP_PROTO(const struct npoll_desc *d),
		    TP_ARGS(d),
		    TP_STRUCT__entry(__field(u64, poller)
				     __field(u64, handle)
				     __field(u64, user)),
		    TP_fast_assign(__entry->poller = d->poller->id;
				   __entry->handle = d->handle;
				   __entry->user = d->user;),
		    TP_printk("poller=%llu handle=%#llx user=%#llx",
			      __entry->poller, __entry->handle,
			      __entry->user));

/* npoll_close: a descriptor is closed (NPOLL_IOC_CLOSE, poller release). */
DEFINE_EVENT(npoll_handle_class, npoll_close,
	     TP_PROTO(const struct npoll_desc *d),
	     TP_ARGS(d));

/* npoll_unblock: NPOLL_IOC_UNBLOCK, every call (it is idempotent). */
DEFINE_EVENT(npoll_handle_class, npoll_unblock,
	     TP_PROTO(const struct npoll_desc *d),
	     TP_ARGS(d));

/* npoll_wait_start: NPOLL_IOC_WAIT entered. */
TRACE_EVENT(npoll_wait_start,
	    TP_PROTO(const struct npoll_desc *d, u32 mode, bool canceled),
	    TP_ARGS(d, mode, canceled),
	    TP_STRUCT__entry(__field(u64, poller)
			     __field(u64, handle)
			     __field(u64, user)
			     __field(u32, mode)
			     __field(u32, canceled)),
	    TP_fast_assign(__entry->poller = d->poller->id;
			   __entry->handle = d->handle;
			   __entry->user = d->user;
			   __entry->mode = mode;
			   __entry->canceled = canceled;),
	    TP_printk("poller=%llu handle=%#llx user=%#llx mode=%s canceled=%u",
		      __entry->poller, __entry->handle, __entry->user,
		      npoll_show_mode(__entry->mode), __entry->canceled));

/*
 * npoll_wait_end: NPOLL_IOC_WAIT returns.  @start_ns is the
 * CLOCK_MONOTONIC time the wait began, 0 if this event was disabled
 * then (waited_ns is 0).
 */
TRACE_EVENT(npoll_wait_end,
	    TP_PROTO(const struct npoll_desc *d, u32 mode, int result,
		     u64 start_ns),
	    TP_ARGS(d, mode, result, start_ns),
	    TP_STRUCT__entry(__field(u64, poller)
			     __field(u64, handle)
			     __field(u64, user)
			     __field(u64, waited_ns)
			     __field(u32, mode)
			     __field(int, result)),
	    TP_fast_assign(__entry->poller = d->poller->id;
			   __entry->handle = d->handle;
			   __entry->user = d->user;
			   __entry->waited_ns =
				start_ns ? ktime_get_ns() - start_ns : 0;
			   __entry->mode = mode;
			   __entry->result = result;),
	    TP_printk("poller=%llu handle=%#llx user=%#llx mode=%s result=%s waited_ns=%llu",
		      __entry->poller, __entry->handle, __entry->user,
		      npoll_show_mode(__entry->mode),
		      npoll_show_result(__entry->result),
		      __entry->waited_ns));

/*
 * npoll_ready: the file reported readiness for at least one mode; mode
 * names the modes it signals, rpid and wpid the threads parked on the
 * read and the write mode (0: none).  Hard-irq or softirq context is
 * common.
 */
TRACE_EVENT_CONDITION(npoll_ready,
		      TP_PROTO(const struct npoll_desc *d, __poll_t mask),
		      TP_ARGS(d, mask),
		      TP_CONDITION(mask & (NPOLL_READ_EVENTS |
					   NPOLL_WRITE_EVENTS)),
		      TP_STRUCT__entry(__field(u64, poller)
				       __field(u64, handle)
				       __field(u64, user)
				       __field(u32, mode)
				       __field(u32, mask)
				       __field(pid_t, rpid)
				       __field(pid_t, wpid)),
		      TP_fast_assign(__entry->poller = d->poller->id;
				     __entry->handle = d->handle;
				     __entry->user = d->user;
				     __entry->mode = npoll_ready_modes(mask);
				     __entry->mask = (__force u32)mask;
				     __entry->rpid =
					npoll_trace_waiter(d, NPOLL_MODE_READ);
				     __entry->wpid =
					npoll_trace_waiter(d, NPOLL_MODE_WRITE);),
		      TP_printk("poller=%llu handle=%#llx user=%#llx mode=%s mask=%s rpid=%d wpid=%d",
				__entry->poller, __entry->handle,
				__entry->user,
				npoll_show_mode(__entry->mode),
				npoll_show_mask(__entry->mask),
				__entry->rpid, __entry->wpid));

/*
 * npoll_deadline: the deadline timer found a mode's deadline due;
 * lateness_ns is how long after the deadline the callback ran, pid the
 * thread parked on the mode (0: none, or the mode is armed).
 */
TRACE_EVENT(npoll_deadline,
	    TP_PROTO(const struct npoll_desc *d, u32 mode, s64 lateness_ns),
	    TP_ARGS(d, mode, lateness_ns),
	    TP_STRUCT__entry(__field(u64, poller)
			     __field(u64, handle)
			     __field(u64, user)
			     __field(s64, lateness_ns)
			     __field(u32, mode)
			     __field(pid_t, pid)),
	    TP_fast_assign(__entry->poller = d->poller->id;
			   __entry->handle = d->handle;
			   __entry->user = d->user;
			   __entry->lateness_ns = lateness_ns;
			   __entry->mode = mode;
			   __entry->pid = npoll_trace_waiter(d, mode);),
	    TP_printk("poller=%llu handle=%#llx user=%#llx mode=%s lateness_ns=%lld pid=%d",
		      __entry->poller, __entry->handle, __entry->user,
		      npoll_show_mode(__entry->mode), __entry->lateness_ns,
		      __entry->pid));

/*
 * npoll_set_deadline: a deadline reached the kernel (NPOLL_IOC_SET_DEADLINE,
 * or the deadline an NPOLL_IOC_IO hands over) and was applied to mode
 * (read, write or both); deadline is as stored: 0 none, -1 expired, else
 * the CLOCK_MONOTONIC ns it expires at.
 */
TRACE_EVENT(npoll_set_deadline,
	    TP_PROTO(const struct npoll_desc *d, u32 mode, s64 deadline),
	    TP_ARGS(d, mode, deadline),
	    TP_STRUCT__entry(__field(u64, poller)
			     __field(u64, handle)
			     __field(u64, user)
			     __field(s64, deadline)
			     __field(u32, mode)),
	    TP_fast_assign(__entry->poller = d->poller->id;
			   __entry->handle = d->handle;
			   __entry->user = d->user;
			   __entry->deadline = deadline;
			   __entry->mode = mode;),
	    TP_printk("poller=%llu handle=%#llx user=%#llx mode=%s deadline=%lld",
		      __entry->poller, __entry->handle, __entry->user,
		      npoll_show_mode(__entry->mode), __entry->deadline));

/* A scheduler-mode step of one mode and its outcome. */
DECLARE_EVENT_CLASS(npoll_mode_result_class,
		    TP_PROTO(const struct npoll_desc *d, u32 mode, int result),
		    TP_ARGS(d, mode, result),
		    TP_STRUCT__entry(__field(u64, poller)
				     __field(u64, handle)
				     __field(u64, user)
				     __field(u32, mode)
				     __field(int, result)),
		    TP_fast_assign(__entry->poller = d->poller->id;
				   __entry->handle = d->handle;
				   __entry->user = d->user;
				   __entry->mode = mode;
				   __entry->result = result;),
		    TP_printk("poller=%llu handle=%#llx user=%#llx mode=%s result=%s",
			      __entry->poller, __entry->handle, __entry->user,
			      npoll_show_mode(__entry->mode),
			      npoll_show_result(__entry->result)));

/* npoll_arm: NPOLL_IOC_ARM decided now (result) or armed (pending). */
DEFINE_EVENT(npoll_mode_result_class, npoll_arm,
	     TP_PROTO(const struct npoll_desc *d, u32 mode, int result),
	     TP_ARGS(d, mode, result));

/* npoll_harvest: NPOLL_IOC_POLL delivered one event. */
DEFINE_EVENT(npoll_mode_result_class, npoll_harvest,
	     TP_PROTO(const struct npoll_desc *d, u32 mode, int result),
	     TP_ARGS(d, mode, result));

/* clang-format on */

#endif /* _NPOLL_TRACE_H */

/* Outside the guard: define_trace.h reads this file again. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE npoll_trace
#include <trace/define_trace.h>
