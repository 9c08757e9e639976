/* SPDX-License-Identifier: GPL-2.0 */
/*
 * npoll: deadline arithmetic.
 *
 * A deadline is stored as: 0 none, -1 expired, > 0 the CLOCK_MONOTONIC
 * time (ns) at which it expires.  Pure functions, driven by KUnit.
 */
#ifndef _NPOLL_DEADLINE_H
#define _NPOLL_DEADLINE_H

#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/types.h>

#define NPOLL_DL_NONE 0
#define NPOLL_DL_EXPIRED (-1)

/**
 * npoll_deadline_rel() - a relative deadline as stored
 * @now: current CLOCK_MONOTONIC time, ns (> 0)
 * @d: > 0 ns from @now, < 0 already expired, 0 none
 *
 * Saturates at KTIME_MAX instead of wrapping into the past.
 * Return: the stored form.
 */
static inline s64 npoll_deadline_rel(s64 now, s64 d)
{
	if (d == 0)
		return NPOLL_DL_NONE;
	if (d < 0)
		return NPOLL_DL_EXPIRED;
	if (d > KTIME_MAX - now)
		return KTIME_MAX;
	return now + d;
}

/**
 * npoll_deadline_abs() - an absolute deadline as stored
 * @now: current CLOCK_MONOTONIC time, ns (> 0)
 * @t: CLOCK_MONOTONIC ns; 0 none, <= @now expired
 *
 * Return: the stored form.
 */
static inline s64 npoll_deadline_abs(s64 now, s64 t)
{
	if (t == 0)
		return NPOLL_DL_NONE;
	if (t <= now)
		return NPOLL_DL_EXPIRED;
	return t;
}

/**
 * npoll_deadline_next() - when the descriptor's timer must fire
 * @rd: stored read deadline
 * @wd: stored write deadline
 *
 * Return: the earliest pending (positive) deadline, 0 if none.  Equal
 * deadlines share the one timer.
 */
static inline s64 npoll_deadline_next(s64 rd, s64 wd)
{
	if (rd > 0 && (wd <= 0 || rd <= wd))
		return rd;
	return wd > 0 ? wd : 0;
}

/**
 * npoll_deadline_seq_newer() - does an ordered change follow the last one?
 * @last: sequence of the last ordered change applied to the mode
 * @seq: sequence of the change
 * @wide: @seq is a 64-bit sequence (NPOLL_DEADLINE_SEQ64), else the
 *        first ABI layout's 32-bit one (NPOLL_DEADLINE_SEQ)
 *
 * A 64-bit sequence is newer when it is greater: it never wraps in
 * practice.  A 32-bit one is compared modulo 2^32 with the low half of
 * @last, as the first layout defined it.
 *
 * Return: true if the change applies.
 */
static inline bool npoll_deadline_seq_newer(u64 last, u64 seq, bool wide)
{
	if (wide)
		return seq > last;
	return (s32)(lower_32_bits(seq) - lower_32_bits(last)) > 0;
}

#endif /* _NPOLL_DEADLINE_H */
