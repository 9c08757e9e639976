/* SPDX-License-Identifier: GPL-2.0 */
/*
 * npoll: tracepoints, trace system "npoll".
 *
 * Every event names its descriptor by handle (never by a kernel
 * pointer); npoll_open ties a handle to the caller's fd and cookie.
 * Handles are unique within a poller: the task and pid of each trace
 * line tell pollers of different processes apart.  Fields and example
 * commands: Documentation/tracing.rst.
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
#include "npoll.h"

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
	    TP_STRUCT__entry(__field(u64, handle)
			     __field(u64, user)
			     __field(int, fd)),
	    TP_fast_assign(__entry->handle = d->handle;
			   __entry->user = d->user;
			   __entry->fd = fd;),
	    TP_printk("handle=%#llx fd=%d user=%#llx",
		      __entry->handle, __entry->fd, __entry->user));

DECLARE_EVENT_CLASS(npoll_handle_class,
		    TP_PROTO(const struct npoll_desc *d),
		    TP_ARGS(d),
		    TP_STRUCT__entry(__field(u64, handle)),
		    TP_fast_assign(__entry->handle = d->handle;),
		    TP_printk("handle=%#llx", __entry->handle));

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
	    TP_STRUCT__entry(__field(u64, handle)
			     __field(u32, mode)
			     __field(u32, canceled)),
	    TP_fast_assign(__entry->handle = d->handle;
			   __entry->mode = mode;
			   __entry->canceled = canceled;),
	    TP_printk("handle=%#llx mode=%s canceled=%u",
		      __entry->handle, npoll_show_mode(__entry->mode),
		      __entry->canceled));

/*
 * npoll_wait_end: NPOLL_IOC_WAIT returns.  @start_ns is the
 * CLOCK_MONOTONIC time the wait began, 0 if this event was disabled
 * then (waited_ns is 0).
 */
TRACE_EVENT(npoll_wait_end,
	    TP_PROTO(const struct npoll_desc *d, u32 mode, int result,
		     u64 start_ns),
	    TP_ARGS(d, mode, result, start_ns),
	    TP_STRUCT__entry(__field(u64, handle)
			     __field(u64, waited_ns)
			     __field(u32, mode)
			     __field(int, result)),
	    TP_fast_assign(__entry->handle = d->handle;
			   __entry->waited_ns =
				start_ns ? ktime_get_ns() - start_ns : 0;
			   __entry->mode = mode;
			   __entry->result = result;),
	    TP_printk("handle=%#llx mode=%s result=%s waited_ns=%llu",
		      __entry->handle, npoll_show_mode(__entry->mode),
		      npoll_show_result(__entry->result),
		      __entry->waited_ns));

/*
 * npoll_ready: the file reported readiness for at least one mode; mode
 * names the modes it signals.  Hard-irq or softirq context is common.
 */
TRACE_EVENT_CONDITION(npoll_ready,
		      TP_PROTO(const struct npoll_desc *d, __poll_t mask),
		      TP_ARGS(d, mask),
		      TP_CONDITION(mask & (NPOLL_READ_EVENTS |
					   NPOLL_WRITE_EVENTS)),
		      TP_STRUCT__entry(__field(u64, handle)
				       __field(u32, mode)
				       __field(u32, mask)),
		      TP_fast_assign(__entry->handle = d->handle;
				     __entry->mode = npoll_ready_modes(mask);
				     __entry->mask = (__force u32)mask;),
		      TP_printk("handle=%#llx mode=%s mask=%s",
				__entry->handle,
				npoll_show_mode(__entry->mode),
				npoll_show_mask(__entry->mask)));

/*
 * npoll_deadline: the deadline timer found a mode's deadline due;
 * lateness_ns is how long after the deadline the callback ran.
 */
TRACE_EVENT(npoll_deadline,
	    TP_PROTO(const struct npoll_desc *d, u32 mode, s64 lateness_ns),
	    TP_ARGS(d, mode, lateness_ns),
	    TP_STRUCT__entry(__field(u64, handle)
			     __field(s64, lateness_ns)
			     __field(u32, mode)),
	    TP_fast_assign(__entry->handle = d->handle;
			   __entry->lateness_ns = lateness_ns;
			   __entry->mode = mode;),
	    TP_printk("handle=%#llx mode=%s lateness_ns=%lld",
		      __entry->handle, npoll_show_mode(__entry->mode),
		      __entry->lateness_ns));

/* npoll_arm: NPOLL_IOC_ARM decided now (result) or armed (pending). */
TRACE_EVENT(npoll_arm,
	    TP_PROTO(const struct npoll_desc *d, u32 mode, int result),
	    TP_ARGS(d, mode, result),
	    TP_STRUCT__entry(__field(u64, handle)
			     __field(u32, mode)
			     __field(int, result)),
	    TP_fast_assign(__entry->handle = d->handle;
			   __entry->mode = mode;
			   __entry->result = result;),
	    TP_printk("handle=%#llx mode=%s result=%s",
		      __entry->handle, npoll_show_mode(__entry->mode),
		      npoll_show_result(__entry->result)));

/* npoll_harvest: NPOLL_IOC_POLL delivered one event. */
TRACE_EVENT(npoll_harvest,
	    TP_PROTO(const struct npoll_desc *d, u32 mode, int result),
	    TP_ARGS(d, mode, result),
	    TP_STRUCT__entry(__field(u64, handle)
			     __field(u64, user)
			     __field(u32, mode)
			     __field(int, result)),
	    TP_fast_assign(__entry->handle = d->handle;
			   __entry->user = d->user;
			   __entry->mode = mode;
			   __entry->result = result;),
	    TP_printk("handle=%#llx user=%#llx mode=%s result=%s",
		      __entry->handle, __entry->user,
		      npoll_show_mode(__entry->mode),
		      npoll_show_result(__entry->result)));

/* clang-format on */

#endif /* _NPOLL_TRACE_H */

/* Outside the guard: define_trace.h reads this file again. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE npoll_trace
#include <trace/define_trace.h>
