/* SPDX-License-Identifier: GPL-2.0 */
/*
 * npoll: the per-mode binary semaphore of a descriptor (Go's rg/wg).
 *
 * One word per mode holds one of:
 *
 *   NPOLL_SEM_NIL    nothing pending, nobody waiting
 *   NPOLL_SEM_READY  readiness is pending; the next wait consumes it
 *   NPOLL_SEM_WAIT   a thread is about to park (it has not committed yet)
 *   task pointer     that thread is parked (or about to sleep) on the mode
 *
 * Transitions (every arrow is one cmpxchg/xchg on the word):
 *
 *            ready                    prepare              commit
 *   NIL  ---------------> READY   NIL --------> WAIT  WAIT --------> task
 *   WAIT|task --ready---> READY (+ wake task)
 *   WAIT|task --unblock-> NIL   (+ wake task)      (deadline, close)
 *   READY --consume-----> NIL                      (wait, reset)
 *   any  ---finish------> NIL                      (the waiter, leaving)
 *
 * Only the waiter moves NIL->WAIT->task and takes the word back with
 * finish; wakers only ever replace WAIT/task, so a task pointer read by
 * a waker belongs to a thread that has not yet left its wait.  See
 * Documentation/design.rst for the interleavings.
 *
 * The helpers here are pure functions of the word so that KUnit can
 * drive every transition (kmod/npoll_kunit.c).
 */
#ifndef _NPOLL_SEM_H
#define _NPOLL_SEM_H

#include <linux/atomic.h>
#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/npoll.h>

#define NPOLL_SEM_NIL	0UL
#define NPOLL_SEM_READY	1UL
#define NPOLL_SEM_WAIT	2UL

/* Bits of the error summary (Go's pollInfo), see npoll_info_err(). */
#define NPOLL_INFO_CLOSING	0x1U
#define NPOLL_INFO_RD_EXPIRED	0x2U
#define NPOLL_INFO_WD_EXPIRED	0x4U
#define NPOLL_INFO_EVENT_ERR	0x8U
/* Closed: off the file's queues; ends even canceled waits. */
#define NPOLL_INFO_DETACHED	0x10U

/**
 * npoll_info_err() - the error that applies to a mode (netpollcheckerr)
 * @info: error summary bits
 * @mode: NPOLL_MODE_READ or NPOLL_MODE_WRITE
 *
 * Precedence: closing, then an expired deadline of @mode, then (read
 * only) an error event reported by the file.
 *
 * Return: NPOLL_OK or an NPOLL_ERR_* code.
 */
static inline int npoll_info_err(unsigned int info, unsigned int mode)
{
	if (info & NPOLL_INFO_CLOSING)
		return NPOLL_ERR_CLOSING;
	if (mode == NPOLL_MODE_READ && (info & NPOLL_INFO_RD_EXPIRED))
		return NPOLL_ERR_TIMEOUT;
	if (mode == NPOLL_MODE_WRITE && (info & NPOLL_INFO_WD_EXPIRED))
		return NPOLL_ERR_TIMEOUT;
	if (mode == NPOLL_MODE_READ && (info & NPOLL_INFO_EVENT_ERR))
		return NPOLL_ERR_NOT_POLLABLE;
	return NPOLL_OK;
}

/* A waiter's word value above NPOLL_SEM_WAIT is its task_struct. */
static inline bool npoll_sem_is_task(unsigned long v)
{
	return v > NPOLL_SEM_WAIT;
}

/**
 * npoll_sem_ready() - signal readiness (netpollunblock with ioready)
 * @sem: the mode's word
 *
 * Context: any, including hard interrupt.  Full barrier when it changes
 * the word.
 * Return: the parked task to wake, or NULL.
 */
static inline unsigned long npoll_sem_ready(unsigned long *sem)
{
	unsigned long old = READ_ONCE(*sem);

	do {
		if (old == NPOLL_SEM_READY)
			return NPOLL_SEM_NIL;
	} while (!try_cmpxchg(sem, &old, NPOLL_SEM_READY));
	return npoll_sem_is_task(old) ? old : NPOLL_SEM_NIL;
}

/**
 * npoll_sem_unblock() - end a wait without readiness (deadline, close)
 * @sem: the mode's word
 *
 * Pending readiness stays pending; only a waiter is removed.
 *
 * Context: any.  Full barrier when it changes the word.
 * Return: the parked task to wake, or NULL.
 */
static inline unsigned long npoll_sem_unblock(unsigned long *sem)
{
	unsigned long old = READ_ONCE(*sem);

	do {
		if (old == NPOLL_SEM_READY || old == NPOLL_SEM_NIL)
			return NPOLL_SEM_NIL;
	} while (!try_cmpxchg(sem, &old, NPOLL_SEM_NIL));
	return npoll_sem_is_task(old) ? old : NPOLL_SEM_NIL;
}

/**
 * npoll_sem_prepare() - consume readiness or announce a waiter
 * @sem: the mode's word
 *
 * Context: the waiting thread.  A successful NIL->WAIT is a full
 * barrier: it orders the store of WAIT before the waiter's load of the
 * error summary (pairs with smp_mb__after_atomic() in npoll_publish()).
 * Return: 1 readiness was consumed (READY->NIL), 0 the word is now WAIT
 * and the caller must finish it, -EBUSY another thread waits.
 */
static inline int npoll_sem_prepare(unsigned long *sem)
{
	unsigned long old = READ_ONCE(*sem);

	for (;;) {
		if (old == NPOLL_SEM_READY) {
			if (try_cmpxchg(sem, &old, NPOLL_SEM_NIL))
				return 1;
		} else if (old == NPOLL_SEM_NIL) {
			if (try_cmpxchg(sem, &old, NPOLL_SEM_WAIT))
				return 0;
		} else {
			return -EBUSY;
		}
	}
}

/**
 * npoll_sem_commit() - the waiter commits to park (WAIT->task)
 * @sem: the mode's word
 * @task: the waiter, as a word value
 *
 * Return: true if committed; false if readiness or unblock replaced WAIT
 * first (then the waiter must not sleep).
 */
static inline bool npoll_sem_commit(unsigned long *sem, unsigned long task)
{
	unsigned long old = NPOLL_SEM_WAIT;

	return try_cmpxchg(sem, &old, task);
}

/**
 * npoll_sem_finish() - the waiter leaves (any->NIL)
 * @sem: the mode's word
 *
 * Return: true if readiness was pending (and is now consumed).
 */
static inline bool npoll_sem_finish(unsigned long *sem)
{
	return xchg(sem, NPOLL_SEM_NIL) == NPOLL_SEM_READY;
}

/**
 * npoll_sem_consume() - drop pending readiness, leave a waiter alone
 * @sem: the mode's word
 */
static inline void npoll_sem_consume(unsigned long *sem)
{
	unsigned long old = NPOLL_SEM_READY;

	try_cmpxchg(sem, &old, NPOLL_SEM_NIL);
}

#endif /* _NPOLL_SEM_H */
