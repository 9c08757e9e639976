/* SPDX-License-Identifier: GPL-2.0 */
/*
 * npoll: the per-mode binary semaphore of a descriptor (Go's rg/wg).
 *
 * One word per mode holds one of:
 *
 *   NPOLL_SEM_NIL    nothing pending, nobody waiting
 *   NPOLL_SEM_READY  readiness is pending; the next wait consumes it
 *   WAIT(task)       that thread is about to park or arm (not committed)
 *   NPOLL_SEM_ARMED  scheduler mode: the outcome goes to the ready list
 *   FIRED(r[, R])    scheduler mode: outcome r is on the ready list and
 *                    not harvested yet; R: readiness came since
 *   task pointer     that thread is parked (or about to sleep) on the mode
 *
 * Transitions (every arrow is one cmpxchg/xchg on the word):
 *
 *            ready                    prepare              commit
 *   NIL  ---------------> READY   NIL --------> WAIT  WAIT --------> task|ARMED
 *   WAIT|task --ready---> READY (+ wake task)
 *   WAIT|task --unblock-> NIL   (+ wake task)      (deadline, close)
 *   ARMED --ready-------> FIRED(OK)      (+ queue the event)
 *   ARMED --unblock-----> FIRED(r)       (+ queue the event; r: why)
 *   FIRED(r) --ready----> FIRED(r, R)
 *   FIRED(r[, R]) --close-------> FIRED(NPOLL_ERR_CLOSING[, R])
 *   FIRED(r[, R]) --harvest-----> NIL [READY]
 *   READY --consume-----> NIL, FIRED(r, R) --consume--> FIRED(r)
 *   READY|WAIT(self)|self --finish--> NIL       (the waiter, leaving;
 *                                                anything else is newer
 *                                                than its wait: left alone)
 *
 * Only the waiter moves NIL->WAIT->task and takes the word back with
 * finish; wakers only ever replace WAIT/task, so a task pointer read by
 * a waker belongs to a thread that has not yet left its wait.  An armed
 * mode has no thread: the waker that takes ARMED queues the event, and
 * only the harvester takes the word out of FIRED, so there is one event
 * per arm and a mode cannot be armed again before it is harvested.  See
 * Documentation/design.rst for the interleavings.
 *
 * The helpers here are pure functions of the word so that KUnit can
 * drive every transition (kmod/npoll_kunit.c).
 */
#ifndef _NPOLL_SEM_H
#define _NPOLL_SEM_H

#include <linux/atomic.h>
#include <linux/compiler.h>
#include <linux/bug.h>
#include <linux/errno.h>
#include <linux/npoll.h>

#define NPOLL_SEM_NIL 0UL
#define NPOLL_SEM_READY 1UL
/* WAIT(t): NPOLL_SEM_WAIT_TAG | t, a task (aligned) about to park or arm. */
#define NPOLL_SEM_WAIT_TAG 1UL
#define NPOLL_SEM_ARMED 3UL
/* FIRED(r, R): NPOLL_SEM_FIRED | r << 1 | R; values 8 to 15. */
#define NPOLL_SEM_FIRED 8UL
#define NPOLL_SEM_FIRED_READY 1UL
#define NPOLL_SEM_LAST 15UL

/* Bits of the error summary (Go's pollInfo), see npoll_info_err(). */
#define NPOLL_INFO_CLOSING 0x1U
#define NPOLL_INFO_RD_EXPIRED 0x2U
#define NPOLL_INFO_WD_EXPIRED 0x4U
#define NPOLL_INFO_EVENT_ERR 0x8U
/* Closed: off the file's queues; ends even canceled waits. */
#define NPOLL_INFO_DETACHED 0x10U
/* Has a second wait-queue entry, kept in the poller's hooks2. */
#define NPOLL_INFO_HOOK2 0x20U
/* The file is an AF_UNIX socket (counted in the poller's nunix). */
#define NPOLL_INFO_UNIX 0x40U

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

/*
 * Above NPOLL_SEM_LAST a word names a task: a parked waiter (its
 * task_struct, which is at least 16-byte aligned) or, with the low bit
 * set, WAIT(task): that task announced itself and has not committed yet.
 * The owner is in the word so that a waiter leaving after a waker took
 * it out can tell its own state from a newer waiter's.
 */
static inline bool npoll_sem_is_task(unsigned long v)
{
	return v > NPOLL_SEM_LAST && !(v & NPOLL_SEM_WAIT_TAG);
}

static inline bool npoll_sem_is_wait(unsigned long v)
{
	return v > NPOLL_SEM_LAST && (v & NPOLL_SEM_WAIT_TAG);
}

/* The WAIT word of @self (a task as a word value). */
static inline unsigned long npoll_sem_wait_of(unsigned long self)
{
	return self | NPOLL_SEM_WAIT_TAG;
}

static inline bool npoll_sem_is_fired(unsigned long v)
{
	return (v & ~7UL) == NPOLL_SEM_FIRED;
}

/* The word of an event with outcome @result (NPOLL_OK..NPOLL_ERR_*). */
static inline unsigned long npoll_sem_fired(int result)
{
	return NPOLL_SEM_FIRED | ((unsigned long)result & 3) << 1;
}

/* The outcome an event word carries. */
static inline int npoll_sem_fired_result(unsigned long v)
{
	return (v >> 1) & 3;
}

/* Does the word name a waiter: one about to park or arm, parked, armed? */
static inline bool npoll_sem_has_waiter(unsigned long v)
{
	return v > NPOLL_SEM_LAST || v == NPOLL_SEM_ARMED;
}

/* What a waker took out of a word: a task to wake or an armed waiter. */
static inline unsigned long npoll_sem_taken(unsigned long old)
{
	if (npoll_sem_is_task(old) || old == NPOLL_SEM_ARMED)
		return old;
	return NPOLL_SEM_NIL;
}

/**
 * npoll_sem_ready() - signal readiness (netpollunblock with ioready)
 * @sem: the mode's word
 *
 * An armed mode gets the event NPOLL_OK; readiness after that, until
 * the event is harvested, is remembered in the event word.
 *
 * Context: any, including hard interrupt.  Full barrier when it changes
 * the word.
 * Return: the parked task to wake, NPOLL_SEM_ARMED if the caller must
 * queue the mode's event, or NPOLL_SEM_NIL.
 */
static inline unsigned long npoll_sem_ready(unsigned long *sem)
{
	unsigned long old = READ_ONCE(*sem), new;

	do {
		if (old == NPOLL_SEM_READY)
			return NPOLL_SEM_NIL;
		if (npoll_sem_is_fired(old)) {
			if (old & NPOLL_SEM_FIRED_READY)
				return NPOLL_SEM_NIL;
			new = old | NPOLL_SEM_FIRED_READY;
		} else if (old == NPOLL_SEM_ARMED) {
			new = npoll_sem_fired(NPOLL_OK);
		} else {
			new = NPOLL_SEM_READY;
		}
	} while (!try_cmpxchg(sem, &old, new));
	return npoll_sem_taken(old);
}

/**
 * npoll_sem_unblock() - end a wait without readiness (deadline, close)
 * @sem: the mode's word
 * @result: the outcome for an armed mode (NPOLL_ERR_TIMEOUT or
 *          NPOLL_ERR_CLOSING)
 *
 * Pending readiness stays pending; only a waiter is removed.  An event
 * already decided keeps its outcome.
 *
 * Context: any.  Full barrier when it changes the word.
 * Return: the parked task to wake, NPOLL_SEM_ARMED if the caller must
 * queue the mode's event, or NPOLL_SEM_NIL.
 */
static inline unsigned long npoll_sem_unblock(unsigned long *sem, int result)
{
	unsigned long old = READ_ONCE(*sem), new;

	do {
		if (old == NPOLL_SEM_READY || old == NPOLL_SEM_NIL ||
		    npoll_sem_is_fired(old))
			return NPOLL_SEM_NIL;
		new = old == NPOLL_SEM_ARMED ? npoll_sem_fired(result) :
					       NPOLL_SEM_NIL;
	} while (!try_cmpxchg(sem, &old, new));
	return npoll_sem_taken(old);
}

/**
 * npoll_sem_prepare() - consume readiness or announce a waiter
 * @sem: the mode's word
 * @self: the waiting thread as a word value (its task_struct)
 *
 * Context: the waiting thread.  A successful NIL->WAIT is a full
 * barrier: it orders the store of WAIT before the waiter's load of the
 * error summary (pairs with smp_mb__after_atomic() in npoll_publish()).
 * Return: 1 readiness was consumed (READY->NIL), 0 the word is now
 * WAIT(@self) and the caller must finish it, -EBUSY another thread waits, or the
 * mode is armed, or its event is not harvested yet.
 */
static inline int npoll_sem_prepare(unsigned long *sem, unsigned long self)
{
	unsigned long old = READ_ONCE(*sem);

	for (;;) {
		if (old == NPOLL_SEM_READY) {
			if (try_cmpxchg(sem, &old, NPOLL_SEM_NIL))
				return 1;
		} else if (old == NPOLL_SEM_NIL) {
			if (try_cmpxchg(sem, &old, npoll_sem_wait_of(self)))
				return 0;
		} else {
			return -EBUSY;
		}
	}
}

/**
 * npoll_sem_commit() - commit to park or arm (WAIT(self) -> self|ARMED)
 * @sem: the mode's word
 * @self: the waiter as a word value
 * @to: @self to park, or NPOLL_SEM_ARMED
 *
 * Return: true if committed; false if readiness or unblock replaced WAIT
 * first (then the waiter must not sleep).
 */
static inline bool npoll_sem_commit(unsigned long *sem, unsigned long self,
				    unsigned long to)
{
	unsigned long old = npoll_sem_wait_of(self);

	return try_cmpxchg(sem, &old, to);
}

/**
 * npoll_sem_finish() - the waiter leaves
 * @sem: the mode's word
 * @self: the waiter as a word value
 *
 * Takes back the waiter's own WAIT or task, and consumes readiness.  A
 * newer waiter's or arm's state, or an event, which may be there once a
 * waker took this waiter out, is left alone.
 *
 * Return: true if readiness was pending (and is now consumed).
 */
static inline bool npoll_sem_finish(unsigned long *sem, unsigned long self)
{
	unsigned long old = READ_ONCE(*sem);

	for (;;) {
		if (old != NPOLL_SEM_READY && old != self &&
		    old != npoll_sem_wait_of(self))
			return false;
		if (try_cmpxchg(sem, &old, NPOLL_SEM_NIL))
			return old == NPOLL_SEM_READY;
	}
}

/**
 * npoll_sem_consume() - drop pending readiness, leave a waiter alone
 * @sem: the mode's word
 */
static inline void npoll_sem_consume(unsigned long *sem)
{
	unsigned long old = READ_ONCE(*sem), new;

	do {
		if (old == NPOLL_SEM_READY)
			new = NPOLL_SEM_NIL;
		else if (npoll_sem_is_fired(old) &&
			 (old & NPOLL_SEM_FIRED_READY))
			new = old & ~NPOLL_SEM_FIRED_READY;
		else
			return;
	} while (!try_cmpxchg(sem, &old, new));
}

/**
 * npoll_sem_close_event() - turn an unharvested event into CLOSING
 * @sem: the mode's word
 *
 * Context: the descriptor is closed; no waker can fire the mode again.
 */
static inline void npoll_sem_close_event(unsigned long *sem)
{
	unsigned long old = READ_ONCE(*sem), new;

	do {
		if (!npoll_sem_is_fired(old) ||
		    npoll_sem_fired_result(old) == NPOLL_ERR_CLOSING)
			return;
		new = npoll_sem_fired(NPOLL_ERR_CLOSING) |
		      (old & NPOLL_SEM_FIRED_READY);
	} while (!try_cmpxchg(sem, &old, new));
}

/**
 * npoll_sem_rearm() - a timeout found stale at its harvest
 * @sem: the mode's word, FIRED(NPOLL_ERR_TIMEOUT[, R])
 *
 * The deadline that decided the event has since been moved: as Go's
 * woken waiter re-checks and parks again, the mode goes back to ARMED,
 * unless readiness came meanwhile, which becomes the outcome.
 *
 * Context: the harvester that dequeued the mode's event (no other path
 * moves the word out of FIRED; readiness may set R concurrently).
 * Return: true the word is ARMED again; false it is FIRED(NPOLL_OK),
 * readiness consumed.
 */
static inline bool npoll_sem_rearm(unsigned long *sem)
{
	unsigned long old = READ_ONCE(*sem), new;

	do {
		new = (old & NPOLL_SEM_FIRED_READY) ?
			      npoll_sem_fired(NPOLL_OK) :
			      NPOLL_SEM_ARMED;
	} while (!try_cmpxchg(sem, &old, new));
	return new == NPOLL_SEM_ARMED;
}

/**
 * npoll_sem_harvest() - the event is delivered: FIRED -> NIL or READY
 * @sem: the mode's word, FIRED
 *
 * Context: the harvester that dequeued the mode's event.
 * Return: the outcome the event carried at the transition.
 */
static inline int npoll_sem_harvest(unsigned long *sem)
{
	unsigned long old = READ_ONCE(*sem), new;

	do {
		if (WARN_ON_ONCE(!npoll_sem_is_fired(old)))
			return NPOLL_ERR_CLOSING;
		new = (old & NPOLL_SEM_FIRED_READY) ? NPOLL_SEM_READY :
						      NPOLL_SEM_NIL;
	} while (!try_cmpxchg(sem, &old, new));
	return npoll_sem_fired_result(old);
}

#endif /* _NPOLL_SEM_H */
