// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzzer of the /dev/netpoll ioctls.
 *
 * Worker processes, a few at a time, each run FZ_THREADS threads that
 * issue random ioctls of every command in uapi/linux/npoll.h (and
 * unknown command numbers with random sizes) with random and
 * adversarial arguments: NULL, kernel, non-canonical, unmapped,
 * misaligned, read-only and page-straddling pointers, pages remapped
 * concurrently; live, stale, foreign and forged handles; non-zero
 * reserved fields and unknown flags; huge counts, deadlines and
 * timeouts.  Every worker uses two pollers of its own and one shared
 * with every other worker (inherited over fork), and pokes its files
 * (writes, reads, replacing the registered fd under the registration,
 * a signalfd whose sighand dies with the worker) so that wake-ups,
 * deadlines and unblocks race the calls.  The parent kills a share of
 * the workers with SIGKILL at random times, mid-call.
 *
 * Checked on every call: the result is success (in range for the
 * command) or an errno the command documents; where the arguments
 * determine the outcome (a bad pointer, a reserved field, a handle
 * closed before, an unknown command) it is exactly that errno.  A
 * watchdog thread interrupts calls that block (SIGUSR1 without
 * SA_RESTART) and fails the run if one does not return.  When a worker
 * ends by itself, its pollers must agree with what it believes: open
 * descriptors, no parked waiter, and (scheduler mode) exactly one event
 * for every NPOLL_PENDING arm, per registration and mode, none lost to
 * faulting polls and none leaking into another poller.  The runner
 * checks the kernel log after the program.
 *
 * NPOLL_FUZZ_CALLS sets the number of ioctls (default 100000; a
 * quarter of that when not root: run-guest-tests runs every program
 * again as an unprivileged user, a pass that shows that no path needs
 * privileges, as the stress tests' eighth does; half of either on the
 * built sanitizer kernels, where a call costs about fifteen times as
 * much and make fuzz runs two million), NPOLL_FUZZ_SEED the seed
 * (default: the clock; printed).
 */
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "npoll_test_util.h"

#define FZ_THREADS	3
#define FZ_WORKERS	2		/* worker processes at a time */
#define FZ_NFILES	16
#define FZ_MAXLIVE	256		/* live handles tracked per poller */
#define FZ_GRAVE	128		/* stale handles kept per poller */
#define FZ_MAXREG	8192		/* registrations per private poller */
#define FZ_VOLATILE	4		/* pages remapped under the calls */
#define FZ_NPOLLERS	3		/* P0, P1 private; 2 shared */
#define FZ_SHARED	2
#define FZ_EVBUF	64		/* events per stable poll buffer */
#define FZ_HANG_NS	(90 * NPT_SEC)	/* one call longer than this: hang */
#define FZ_INTR_NS	(4 * NPT_MS)	/* a call blocked longer: SIGUSR1 */
#define FZ_WORKER_NS	(600 * NPT_SEC)

/* Cookie of a registration: tag, poller id, sequence number. */
#define FZ_TAG		0x6e70ULL
#define FZ_COOKIE(pid, seq) (FZ_TAG << 48 | (uint64_t)(pid) << 40 | (seq))

/*
 * Parts of the ABI that newer headers add: fuzzed when the header in
 * the tree has them.
 */
#if defined(NPOLL_DEADLINE_SEQ64)
#define FZ_DEADLINE_FLAGS \
	(NPOLL_DEADLINE_ABS | NPOLL_DEADLINE_SEQ | NPOLL_DEADLINE_SEQ64)
#elif defined(NPOLL_DEADLINE_SEQ)
#define FZ_DEADLINE_FLAGS	(NPOLL_DEADLINE_ABS | NPOLL_DEADLINE_SEQ)
#else
#define FZ_DEADLINE_FLAGS	NPOLL_DEADLINE_ABS
#endif
#ifdef NPOLL_IOC_IO
#define FZ_IOC_IO		NPOLL_IOC_IO
#else
#define FZ_IOC_IO		0UL
#endif
#ifdef NPOLL_IOC_SET_BUSY_POLL
#define FZ_IOC_BUSY_SET		NPOLL_IOC_SET_BUSY_POLL
#define FZ_IOC_BUSY_GET		NPOLL_IOC_GET_BUSY_POLL
#else
#define FZ_IOC_BUSY_SET		0UL
#define FZ_IOC_BUSY_GET		0UL
#endif
#define FZ_IOBUF		4096

enum fz_cmd {
	C_OPEN, C_CLOSE, C_UNBLOCK, C_RESET, C_WAIT, C_DEADLINE, C_STATS,
	C_IDENTIFY, C_ARM, C_POLL, C_BREAK, C_IO, C_BUSY_SET, C_BUSY_GET,
	C_UNKNOWN, FZ_NCMD
};

static const char *const cmd_name[FZ_NCMD] = {
	"OPEN", "CLOSE", "UNBLOCK", "RESET", "WAIT", "SET_DEADLINE", "STATS",
	"IDENTIFY", "ARM", "POLL", "BREAK", "IO", "SET_BUSY_POLL",
	"GET_BUSY_POLL", "unknown",
};

static const unsigned long cmd_nr[FZ_NCMD] = {
	NPOLL_IOC_OPEN, NPOLL_IOC_CLOSE, NPOLL_IOC_UNBLOCK, NPOLL_IOC_RESET,
	NPOLL_IOC_WAIT, NPOLL_IOC_SET_DEADLINE, NPOLL_IOC_STATS,
	NPOLL_IOC_IDENTIFY, NPOLL_IOC_ARM, NPOLL_IOC_POLL, NPOLL_IOC_BREAK,
	FZ_IOC_IO, FZ_IOC_BUSY_SET, FZ_IOC_BUSY_GET, 0,
};

/* Result columns of the summary: success, then the errnos seen. */
static const int res_errno[] = {
	0, EFAULT, EINVAL, EBADF, ENOTTY, EBUSY, EINTR, EPERM, EEXIST,
	EMFILE, ENOMEM, ETIMEDOUT, ECANCELED, EIO, EOPNOTSUPP, EPIPE,
	ECONNRESET, ENOTCONN,
};
#define FZ_NRES ((int)(sizeof(res_errno) / sizeof(res_errno[0])) + 1)

/* Shared by the parent and every worker (MAP_SHARED). */
struct fz_shared {
	atomic_long calls;
	atomic_long res[FZ_NCMD][FZ_NRES];
	atomic_long undocumented;	/* outside the command's set */
	atomic_long unexpected;		/* not the errno the arguments imply */
	atomic_long invariant;		/* end-of-worker checks that failed */
	atomic_long pending;		/* NPOLL_PENDING arms (checked workers) */
	atomic_long harvested;		/* events polled (checked workers) */
	atomic_long checked;		/* workers that ended and were checked */
	atomic_long pollfree;		/* signalfds left registered in S */
	atomic_int sched;		/* ARM/POLL/BREAK implemented */
	atomic_int nmsg;
	char msg[24][200];
};

static struct fz_shared *sh;

static void fz_fail(atomic_long *counter, const char *fmt, ...)
{
	int i = atomic_fetch_add(&sh->nmsg, 1);
	va_list ap;

	atomic_fetch_add(counter, 1);
	if (i >= (int)(sizeof(sh->msg) / sizeof(sh->msg[0])))
		return;
	va_start(ap, fmt);
	vsnprintf(sh->msg[i], sizeof(sh->msg[i]), fmt, ap);
	va_end(ap);
}

static uint64_t xrnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* True with probability @pct percent. */
#define CHANCE(r, pct) (xrnd(r) % 100 < (pct))

/* --- the worker's world ------------------------------------------------ */

struct fz_live {
	uint64_t handle;
	uint32_t seq;
};

struct fz_poller {
	int fd;
	int id;
	pthread_mutex_t lock;
	struct fz_live live[FZ_MAXLIVE];
	int nlive;
	uint64_t grave[FZ_GRAVE];	/* handles closed successfully */
	unsigned int ngrave;
	/*
	 * Handles closed before their OPEN was noted: another thread may
	 * close a fresh handle it guessed (the same value lives in another
	 * poller) between the OPEN's return and note_open().
	 */
	uint64_t early[16];
	int nearly;
	long opens, closes;		/* successful */
	atomic_uint nreg;		/* cookies issued */
	atomic_long pending;		/* NPOLL_PENDING arms */
	atomic_long harvested;		/* events returned by polls */
	atomic_long blind;		/* events in memory we cannot read */
	/* Per registration and mode: arms pending, events seen (private). */
	atomic_int (*pend)[2];
	atomic_int (*got)[2];
};

enum fz_kind {
	K_EVENTFD, K_PIPE_R, K_PIPE_W, K_UNIX_STREAM, K_UNIX_DGRAM, K_UDP,
	K_TIMERFD, K_SIGNALFD, K_EPOLL, K_MEMFD, K_DEVNULL, K_POLLER,
	K_LISTENER,
};

struct fz_file {
	int fd;
	int peer;		/* the other end for pairs, else -1 */
	enum fz_kind kind;
};

struct fz_thread {
	pthread_t th;
	int idx;
	uint64_t rnd;
	atomic_llong since;	/* CLOCK_MONOTONIC at call entry, 0 outside */
	atomic_int cmd;
	long calls;
	char *rw;		/* [rw page][guard page] for straddling args */
	char *ro;		/* a page made read-only after filling */
	char *io;		/* FZ_IOBUF bytes for NPOLL_IOC_IO */
	long io_bytes;
	_Alignas(64) char buf[512];
	struct npoll_event ev[FZ_EVBUF];
};

struct fz_worker {
	int num;
	long budget;
	atomic_long issued;
	atomic_int stop;
	long pagesz;
	struct fz_poller pl[FZ_NPOLLERS];
	pthread_mutex_t files_lock;
	struct fz_file files[FZ_NFILES];
	char *vol;		/* FZ_VOLATILE pages, remapped at random */
	char *none;		/* a reserved PROT_NONE page */
	char *big;		/* NPOLL_POLL_MAX events, lazily backed */
	struct fz_thread t[FZ_THREADS];
};

static struct fz_worker *W;
static int saved_fd[FZ_NPOLLERS];	/* outside W: detects corruption */

static const uintptr_t kernel_ptrs[] = {
	0xffff888000000000UL,	/* direct map */
	0xffffffff81000000UL,	/* kernel text */
	0xffffc90000000000UL,	/* vmalloc */
	0xffffea0000000000UL,	/* vmemmap */
	0xffffffffff600000UL,	/* vsyscall page */
	0xfffffffffffff000UL,
	0xffffffffffffffffUL,
	0x0000800000000000UL,	/* first non-canonical address */
	0x8000000000000000UL,
	0x0000000000001000UL,	/* below mmap_min_addr */
};
#define NKPTR (sizeof(kernel_ptrs) / sizeof(kernel_ptrs[0]))

/* --- files ---------------------------------------------------------------- */

static int make_file(enum fz_kind kind, int *peer)
{
	int sv[2], fd = -1;
	sigset_t set;
	in_port_t port;

	*peer = -1;
	switch (kind) {
	case K_EVENTFD:
		return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	case K_PIPE_R:
	case K_PIPE_W:
		if (pipe2(sv, O_NONBLOCK | O_CLOEXEC))
			return -1;
		*peer = kind == K_PIPE_R ? sv[1] : sv[0];
		return kind == K_PIPE_R ? sv[0] : sv[1];
	case K_UNIX_STREAM:
	case K_UNIX_DGRAM:
		if (socketpair(AF_UNIX, (kind == K_UNIX_STREAM ? SOCK_STREAM :
					 SOCK_DGRAM) | SOCK_NONBLOCK |
			       SOCK_CLOEXEC, 0, sv))
			return -1;
		*peer = sv[1];
		return sv[0];
	case K_UDP:
		if (npt_udp_pair(sv))
			return -1;
		fcntl(sv[0], F_SETFL, O_NONBLOCK);
		fcntl(sv[1], F_SETFL, O_NONBLOCK);
		*peer = sv[1];
		return sv[0];
	case K_TIMERFD:
		return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	case K_SIGNALFD:
		sigemptyset(&set);
		sigaddset(&set, SIGUSR2);
		return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	case K_EPOLL:
		return epoll_create1(EPOLL_CLOEXEC);
	case K_MEMFD:
		return memfd_create("npoll-fuzz", MFD_CLOEXEC);
	case K_DEVNULL:
		return open("/dev/null", O_RDWR | O_CLOEXEC);
	case K_POLLER:
		return open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	case K_LISTENER:
		fd = npt_listener(&port);
		if (fd >= 0)
			fcntl(fd, F_SETFL, O_NONBLOCK);
		return fd;
	}
	return -1;
}

static const enum fz_kind file_kinds[FZ_NFILES] = {
	K_EVENTFD, K_EVENTFD, K_PIPE_R, K_PIPE_W, K_UNIX_STREAM,
	K_UNIX_STREAM, K_UNIX_DGRAM, K_UDP, K_TIMERFD, K_SIGNALFD, K_EPOLL,
	K_MEMFD, K_DEVNULL, K_POLLER, K_LISTENER, K_EVENTFD,
};

/*
 * Replace file @i by a fresh one under the same fd number: a
 * registration of the old file keeps it pinned (the user closed the fd
 * it registered).
 */
static void replace_file(struct fz_worker *w, int i)
{
	struct fz_file *f = &w->files[i];
	int peer, fd;

	pthread_mutex_lock(&w->files_lock);
	fd = make_file(f->kind, &peer);
	if (fd >= 0) {
		dup3(fd, f->fd, O_CLOEXEC);
		close(fd);
		if (f->peer >= 0 && peer >= 0) {
			dup3(peer, f->peer, O_CLOEXEC);
			close(peer);
		} else if (peer >= 0) {
			close(peer);
		}
	}
	pthread_mutex_unlock(&w->files_lock);
}

/* Make something happen on a file: readiness edges, hang-ups, timers. */
static void poke(struct fz_worker *w, struct fz_thread *t)
{
	struct fz_file *f = &w->files[xrnd(&t->rnd) % FZ_NFILES];
	uint64_t one = 1, junk[64] = { 0 };
	struct itimerspec its = { .it_value = { 0, 1000 } };
	ssize_t n;

	switch (f->kind) {
	case K_EVENTFD:
		if (CHANCE(&t->rnd, 50))
			n = write(f->fd, &one, sizeof(one));
		else
			n = read(f->fd, junk, sizeof(uint64_t));
		break;
	case K_PIPE_R:
	case K_PIPE_W:
	case K_UNIX_STREAM:
	case K_UNIX_DGRAM:
	case K_UDP:
		if (CHANCE(&t->rnd, 50))
			n = write(CHANCE(&t->rnd, 50) && f->peer >= 0 ? f->peer : f->fd,
				  junk, 1 + xrnd(&t->rnd) % sizeof(junk));
		else
			n = read(CHANCE(&t->rnd, 50) && f->peer >= 0 ? f->peer : f->fd,
				 junk, sizeof(junk));
		break;
	case K_TIMERFD:
		n = timerfd_settime(f->fd, 0, &its, NULL);
		break;
	case K_SIGNALFD:
		if (CHANCE(&t->rnd, 50))
			n = kill(getpid(), SIGUSR2);
		else
			n = read(f->fd, junk, sizeof(junk));
		break;
	default:
		n = 0;
		break;
	}
	(void)n;
	if (CHANCE(&t->rnd, 3))
		replace_file(w, (int)(xrnd(&t->rnd) % FZ_NFILES));
}

/* Remap, protect or clear a page of the volatile region. */
static void flip_page(struct fz_worker *w, struct fz_thread *t)
{
	char *pg = w->vol + (xrnd(&t->rnd) % FZ_VOLATILE) * w->pagesz;

	switch (xrnd(&t->rnd) % 4) {
	case 0:	/* unmapped: a fresh PROT_NONE mapping in its place */
		mmap(pg, w->pagesz, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		break;
	case 1:	/* a fresh zero page */
		mmap(pg, w->pagesz, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		break;
	case 2:
		mprotect(pg, w->pagesz, PROT_READ);
		break;
	case 3:
		mprotect(pg, w->pagesz, PROT_READ | PROT_WRITE);
		madvise(pg, w->pagesz, MADV_DONTNEED);
		break;
	}
}

/* --- handles ---------------------------------------------------------------- */

enum hkind { H_LIVE, H_STALE, H_FOREIGN, H_FORGED, H_NONE };

static uint64_t pick_live(struct fz_poller *p, uint64_t *r, bool *found)
{
	uint64_t h = 0;

	pthread_mutex_lock(&p->lock);
	*found = p->nlive > 0;
	if (p->nlive)
		h = p->live[xrnd(r) % p->nlive].handle;
	pthread_mutex_unlock(&p->lock);
	return h;
}

static uint64_t pick_handle(struct fz_worker *w, struct fz_poller *p,
			    uint64_t *r, enum hkind *kind)
{
	unsigned int x = xrnd(r) % 100;
	uint64_t h = 0;
	bool found;

	if (x < 55) {
		*kind = H_LIVE;
		h = pick_live(p, r, &found);
		if (found)
			return h;
	} else if (x < 70) {
		*kind = H_STALE;
		pthread_mutex_lock(&p->lock);
		found = p->ngrave > 0;
		if (found)
			h = p->grave[xrnd(r) % (p->ngrave < FZ_GRAVE ?
						p->ngrave : FZ_GRAVE)];
		pthread_mutex_unlock(&p->lock);
		if (found)
			return h;
	} else if (x < 80) {
		*kind = H_FOREIGN;
		h = pick_live(&w->pl[(p->id + 1 + xrnd(r) % 2) % FZ_NPOLLERS],
			      r, &found);
		if (found)
			return h;
	}
	*kind = H_FORGED;
	h = pick_live(p, r, &found);
	switch (xrnd(r) % 10) {
	case 0: return h + 1;
	case 1: return h - 1;
	case 2: return h ^ (1ULL << (32 + xrnd(r) % 32));
	case 3: return h ^ (1ULL << (xrnd(r) % 32));
	case 4: return h & 0xffffffffULL;		/* generation 0 */
	case 5: return h & ~0xffffffffULL;		/* index 0 */
	case 6: return ~0ULL;
	case 7: return 0;
	case 8: return (uint64_t)(uintptr_t)w;		/* a user address */
	default: return xrnd(r);
	}
}

static void note_open(struct fz_poller *p, uint64_t h, uint32_t seq)
{
	int i;

	pthread_mutex_lock(&p->lock);
	p->opens++;
	for (i = 0; i < p->nearly; i++) {
		if (p->early[i] == h) {
			p->early[i] = p->early[--p->nearly];
			pthread_mutex_unlock(&p->lock);
			return;
		}
	}
	if (p->nlive < FZ_MAXLIVE)
		p->live[p->nlive++] = (struct fz_live){ h, seq };
	else
		fz_fail(&sh->invariant, "poller %d: more than %d live handles",
			p->id, FZ_MAXLIVE);
	pthread_mutex_unlock(&p->lock);
}

static void note_close(struct fz_poller *p, uint64_t h)
{
	bool found = false;
	int i;

	pthread_mutex_lock(&p->lock);
	p->closes++;
	for (i = 0; i < p->nlive; i++) {
		if (p->live[i].handle == h) {
			p->live[i] = p->live[--p->nlive];
			found = true;
			break;
		}
	}
	if (found) {
		/* The usual case. */
	} else if (p->nearly < (int)(sizeof(p->early) / sizeof(p->early[0]))) {
		p->early[p->nearly++] = h;
	} else {
		fz_fail(&sh->invariant, "poller %d: too many handles closed "
			"before their OPEN returned", p->id);
	}
	p->grave[p->ngrave++ % FZ_GRAVE] = h;
	pthread_mutex_unlock(&p->lock);
}

/* --- one call ------------------------------------------------------------- */

enum pkind {
	A_GOOD, A_MISALIGNED, A_NULL, A_KERNEL, A_NONE, A_RO, A_STRADDLE,
	A_VOLATILE,
};

/* Where the argument goes; A_GOOD and A_MISALIGNED are the thread's. */
static enum pkind pick_pkind(uint64_t *r, enum fz_cmd c)
{
	unsigned int x = xrnd(r) % 100;

	if (x < 68)
		return A_GOOD;
	if (x < 74)
		return A_MISALIGNED;
	if (x < 78)
		return A_NULL;
	if (x < 83)
		return A_KERNEL;
	if (x < 86)
		return A_NONE;
	if (x < 91)
		return A_RO;
	if (x < 95)
		return A_STRADDLE;
	/* OPEN's handle must come back readable: never volatile. */
	return c == C_OPEN ? A_GOOD : A_VOLATILE;
}

/* Random reserved/flag word: mostly zero. */
static uint64_t maybe_junk(uint64_t *r, unsigned int pct)
{
	if (!CHANCE(r, pct))
		return 0;
	switch (xrnd(r) % 4) {
	case 0: return 1;
	case 1: return 1ULL << (xrnd(r) % 64);
	case 2: return ~0ULL;
	default: return xrnd(r) | 1;
	}
}

static uint32_t pick_mode(uint64_t *r, bool rw_ok, bool *bad)
{
	static const uint32_t badm[] = { 0, 4, 8, 0x80000001, 0xffffffff, 7 };
	uint32_t m;

	if (CHANCE(r, 90)) {
		m = 1 + xrnd(r) % (rw_ok ? 3 : 2);
		*bad = false;
		return m;
	}
	m = badm[xrnd(r) % (sizeof(badm) / sizeof(badm[0]))];
	*bad = !(m >= 1 && m <= (rw_ok ? 3u : 2u));
	return m;
}

static int64_t pick_deadline(uint64_t *r, bool *abs)
{
	int64_t now = npoll_test_now();

	*abs = CHANCE(r, 30);
	switch (xrnd(r) % 10) {
	case 0: return 0;
	case 1: return *abs ? now - 1 : -1;
	case 2: return *abs ? INT64_MAX : INT64_MAX;
	case 3: return INT64_MIN;
	case 4: return *abs ? 1 : 1;
	case 5: return *abs ? now + 100 * NPT_SEC : 100 * NPT_SEC;
	default:	/* soon: timers really fire */
		return (*abs ? now : 0) + 1000 + (int64_t)(xrnd(r) % (3 * NPT_MS));
	}
}

static int64_t pick_timeout(uint64_t *r)
{
	switch (xrnd(r) % 12) {
	case 0: return -1;		/* forever: BREAK or SIGUSR1 ends it */
	case 1: return INT64_MIN;
	case 2: return INT64_MAX;
	case 3: case 4: case 5: return 0;
	default: return 1000 + (int64_t)(xrnd(r) % (2 * NPT_MS));
	}
}

/* An fd for OPEN: our files, or numbers that are not open. */
static int pick_fd(struct fz_worker *w, uint64_t *r, bool *bad)
{
	static const int badfd[] = { -1, -2, INT32_MIN, 1 << 20, INT32_MAX, 999 };

	*bad = false;
	if (CHANCE(r, 92))
		return w->files[xrnd(r) % FZ_NFILES].fd;
	*bad = true;
	return badfd[xrnd(r) % (sizeof(badfd) / sizeof(badfd[0]))];
}

/* The errnos a command may return (besides success). */
static bool documented(enum fz_cmd c, int e, bool sched)
{
	if (e == EFAULT && c != C_UNKNOWN && c != C_BREAK)
		return true;
	switch (c) {
	case C_OPEN:
		return e == EINVAL || e == EBADF || e == EPERM || e == EEXIST ||
		       e == EMFILE || e == ENOMEM;
	case C_CLOSE:
	case C_UNBLOCK:
	case C_RESET:
	case C_DEADLINE:
		return e == EINVAL || e == EBADF;
	case C_WAIT:
		return e == EINVAL || e == EBADF || e == EBUSY || e == EINTR;
	case C_STATS:
	case C_IDENTIFY:
		return false;
	case C_ARM:
		return sched ? e == EINVAL || e == EBADF || e == EBUSY :
			       e == ENOTTY;
	case C_POLL:
		return sched ? e == EINVAL || e == EINTR : e == ENOTTY;
	case C_BREAK:
		return !sched && e == ENOTTY;
	case C_IO:
		/*
		 * The wait's outcomes, a double wait, a signal, not a
		 * socket, or the socket's own error.
		 */
		return e == EINVAL || e == EBADF || e == ETIMEDOUT ||
		       e == ECANCELED || e == EIO || e == EOPNOTSUPP ||
		       e == EINTR || e == EBUSY || e == ECONNRESET ||
		       e == EPIPE || e == ENOTCONN || e == EMSGSIZE ||
		       e == ECONNREFUSED || e == EDESTADDRREQ ||
		       e == ENOBUFS || e == ENOMEM;
	case C_BUSY_SET:
		return e == EINVAL || e == EPERM || e == EOPNOTSUPP;
	case C_BUSY_GET:
		return e == EOPNOTSUPP;
	case C_UNKNOWN:
		return e == ENOTTY;
	default:
		return false;
	}
}

static void tally(enum fz_cmd c, long r)
{
	int i;

	for (i = 0; i < FZ_NRES - 1; i++) {
		if ((r >= 0 && i == 0) || (r < 0 && -r == res_errno[i])) {
			atomic_fetch_add(&sh->res[c][i], 1);
			return;
		}
	}
	atomic_fetch_add(&sh->res[c][FZ_NRES - 1], 1);
}

/* Read events from our own stable buffer and account for them. */
static void take_events(struct fz_poller *p, const struct npoll_event *ev,
			int n)
{
	int i;

	for (i = 0; i < n; i++) {
		uint64_t u = ev[i].user;
		uint32_t seq = u & 0xffffffffffULL;
		int pid = (int)(u >> 40 & 0xff);

		if (u >> 48 != FZ_TAG || pid != p->id ||
		    (ev[i].mode != NPOLL_MODE_READ &&
		     ev[i].mode != NPOLL_MODE_WRITE) ||
		    ev[i].result < NPOLL_OK ||
		    ev[i].result > NPOLL_ERR_NOT_POLLABLE) {
			fz_fail(&sh->invariant,
				"poller %d: bad event user %#llx mode %d result %d",
				p->id, (unsigned long long)u, ev[i].mode,
				ev[i].result);
			continue;
		}
		if (p->got && seq < FZ_MAXREG)
			atomic_fetch_add(&p->got[seq][ev[i].mode - 1], 1);
	}
}

struct fz_call {
	enum fz_cmd c;
	unsigned long nr;
	struct fz_poller *p;
	enum pkind pk;
	enum hkind hk;
	bool malformed;		/* a reserved field, flag or mode is bad */
	bool eperm;		/* SET_BUSY_POLL: a budget only root may set */
	bool badfd;
	uint64_t handle;	/* the handle in the arguments */
	uint32_t seq;		/* OPEN: the cookie's sequence number */
	uint32_t mode;
	long max;		/* POLL: max events; IO: len */
	bool stable_events;	/* POLL: events land in t->ev */
};

/* Fill the argument structure of @k into @a (at least 64 bytes). */
static size_t build_args(struct fz_worker *w, struct fz_thread *t,
			 struct fz_call *k, void *a)
{
	uint64_t *r = &t->rnd;
	bool bad = false, abs;

	memset(a, 0, 64);
	switch (k->c) {
	case C_OPEN: {
		struct npoll_open_args *o = a;

		o->fd = pick_fd(w, r, &k->badfd);
		o->flags = (uint32_t)maybe_junk(r, 4);
		o->handle = maybe_junk(r, 3);
		o->reserved[0] = maybe_junk(r, 3);
		o->reserved[1] = maybe_junk(r, 3);
		k->seq = atomic_fetch_add(&k->p->nreg, 1);
		o->user = FZ_COOKIE(k->p->id, k->seq);
		k->malformed = o->flags || o->handle || o->reserved[0] ||
			       o->reserved[1];
		return sizeof(*o);
	}
	case C_CLOSE:
	case C_UNBLOCK: {
		struct npoll_handle_args *h = a;

		h->handle = k->handle = pick_handle(w, k->p, r, &k->hk);
		h->flags = (uint32_t)maybe_junk(r, 5);
		h->reserved = (uint32_t)maybe_junk(r, 5);
		k->malformed = h->flags || h->reserved;
		return sizeof(*h);
	}
	case C_RESET:
	case C_WAIT:
	case C_ARM: {
		struct npoll_wait_args *wa = a;

		wa->handle = k->handle = pick_handle(w, k->p, r, &k->hk);
		wa->mode = k->mode = pick_mode(r, false, &bad);
		wa->flags = k->c == C_WAIT && CHANCE(r, 15) ?
			    NPOLL_WAIT_CANCELED : (uint32_t)maybe_junk(r, 4);
		wa->reserved = maybe_junk(r, 4);
		k->malformed = bad || wa->reserved ||
			       (wa->flags & ~(k->c == C_WAIT ?
					      NPOLL_WAIT_CANCELED : 0));
		return sizeof(*wa);
	}
	case C_DEADLINE: {
		struct npoll_deadline_args *d = a;

		d->handle = k->handle = pick_handle(w, k->p, r, &k->hk);
		d->deadline = pick_deadline(r, &abs);
		d->mode = pick_mode(r, true, &bad);
		d->flags = abs ? NPOLL_DEADLINE_ABS : (uint32_t)maybe_junk(r, 4);
		d->reserved = maybe_junk(r, 4);
		k->malformed = bad || d->reserved ||
			       (d->flags & ~FZ_DEADLINE_FLAGS);
#ifdef NPOLL_DEADLINE_SEQ
		/* Ordered changes: a sequence number, only with the flag. */
		if (CHANCE(r, 20))
			d->flags |= NPOLL_DEADLINE_SEQ;
		d->seq = (d->flags & NPOLL_DEADLINE_SEQ) || CHANCE(r, 3) ?
			 (uint32_t)xrnd(r) : 0;
		if (d->seq && !(d->flags & NPOLL_DEADLINE_SEQ))
			k->malformed = true;
#endif
#ifdef NPOLL_DEADLINE_SEQ64
		/* 64-bit ordered changes: one of the two SEQ flags at most. */
		if (CHANCE(r, 20) && !(d->flags & NPOLL_DEADLINE_SEQ))
			d->flags |= NPOLL_DEADLINE_SEQ64;
		d->seq64 = (d->flags & NPOLL_DEADLINE_SEQ64) || CHANCE(r, 3) ?
			   xrnd(r) : 0;
		if ((d->seq64 && !(d->flags & NPOLL_DEADLINE_SEQ64)) ||
		    ((d->flags & NPOLL_DEADLINE_SEQ) &&
		     (d->flags & NPOLL_DEADLINE_SEQ64)))
			k->malformed = true;
#endif
		return sizeof(*d);
	}
	case C_STATS:
	case C_IDENTIFY:
		/* Output only: whatever is there must be ignored. */
		memset(a, xrnd(r) & 1 ? 0xa5 : 0, 64);
		return k->c == C_STATS ? sizeof(struct npoll_stats) :
					 sizeof(struct npoll_identify);
	case C_POLL: {
		struct npoll_poll_args *pa = a;
		unsigned int x = xrnd(r) % 100;

		k->stable_events = false;
		if (x < 70) {
			pa->events = (uintptr_t)t->ev;
			pa->max = 1 + xrnd(r) % FZ_EVBUF;
			k->stable_events = true;
		} else if (x < 76) {
			/* The most events one poll takes, into room for them. */
			pa->events = (uintptr_t)w->big;
			pa->max = NPOLL_POLL_MAX;
		} else if (x < 82) {
			pa->events = (uintptr_t)t->ev;
			pa->max = xrnd(r) & 1 ? 0 : NPOLL_POLL_MAX + 1 +
				  (uint32_t)(xrnd(r) % 0x7fffffff);
		} else if (x < 88 && k->p->id != 1) {
			pa->events = (uintptr_t)(w->vol +
				xrnd(r) % (FZ_VOLATILE * w->pagesz - 16));
			pa->max = 1 + xrnd(r) % 8;
		} else if (x < 94) {
			pa->events = kernel_ptrs[xrnd(r) % NKPTR];
			pa->max = 1 + xrnd(r) % 4;
		} else {
			/* Read-only or PROT_NONE: the events stay queued. */
			pa->events = (uintptr_t)(xrnd(r) & 1 ? t->ro : w->none);
			pa->max = 1 + xrnd(r) % 4;
		}
		k->max = pa->max;
		pa->timeout_ns = pick_timeout(r);
		pa->flags = (uint32_t)maybe_junk(r, 4);
		pa->reserved = maybe_junk(r, 4);
		k->malformed = pa->flags || pa->reserved || pa->max == 0 ||
			       pa->max > NPOLL_POLL_MAX;
		return sizeof(*pa);
	}
#ifdef NPOLL_IOC_IO
	case C_IO: {
		struct npoll_io_args *io = a;
		unsigned int x = xrnd(r) % 100;

		io->handle = k->handle = pick_handle(w, k->p, r, &k->hk);
		io->mode = k->mode = pick_mode(r, false, &bad);
		io->flags = CHANCE(r, 30) ? NPOLL_IO_DEADLINE :
					    (uint32_t)maybe_junk(r, 4);
		if (io->flags & NPOLL_IO_DEADLINE || CHANCE(r, 3)) {
			io->deadline = pick_deadline(r, &abs);
			if (!abs && io->deadline > 0)
				io->deadline += npoll_test_now();
			io->seq = (uint32_t)xrnd(r);
		}
#ifdef NPOLL_IO_SEQ64
		/* 64-bit ordered changes instead of the 32-bit one. */
		io->seq64 = 0;
		if ((io->flags & NPOLL_IO_DEADLINE) && CHANCE(r, 2)) {
			io->flags |= NPOLL_IO_SEQ64;
			io->seq64 = xrnd(r);
			io->seq = CHANCE(r, 3) ? io->seq : 0;
		}
#endif
		io->reserved = (uint32_t)maybe_junk(r, 4);
		/* Where the bytes go or come from. */
		if (x < 70) {
			io->buf = (uintptr_t)t->io;
			io->len = xrnd(r) % (FZ_IOBUF + 1);
		} else if (x < 76) {
			io->buf = (uintptr_t)w->big;	/* huge: capped by the kernel */
			io->len = xrnd(r) & 1 ? ~0ULL : 1ULL << (20 + xrnd(r) % 40);
		} else if (x < 82) {
			io->buf = (uintptr_t)(w->vol +
				xrnd(r) % (FZ_VOLATILE * w->pagesz));
			io->len = 1 + xrnd(r) % 512;
		} else if (x < 88) {
			io->buf = kernel_ptrs[xrnd(r) % NKPTR];
			io->len = 1 + xrnd(r) % 64;
		} else if (x < 94) {
			io->buf = (uintptr_t)t->ro;	/* a read lands nowhere */
			io->len = 1 + xrnd(r) % 64;
		} else {
			io->buf = 0;
			io->len = xrnd(r) % 2;
		}
		k->max = io->len > (uint64_t)LONG_MAX ? LONG_MAX : (long)io->len;
#ifdef NPOLL_IO_SEQ64
		k->malformed = bad || io->reserved ||
			       (io->flags & ~(NPOLL_IO_DEADLINE | NPOLL_IO_SEQ64)) ||
			       (!(io->flags & NPOLL_IO_DEADLINE) &&
				(io->deadline || io->seq ||
				 (io->flags & NPOLL_IO_SEQ64))) ||
			       ((io->flags & NPOLL_IO_SEQ64) && io->seq) ||
			       (io->seq64 && !(io->flags & NPOLL_IO_SEQ64));
#else
		k->malformed = bad || io->reserved ||
			       (io->flags & ~NPOLL_IO_DEADLINE) ||
			       (!(io->flags & NPOLL_IO_DEADLINE) &&
				(io->deadline || io->seq));
#endif
		return sizeof(*io);
	}
#endif
#ifdef NPOLL_IOC_SET_BUSY_POLL
	case C_BUSY_SET: {
		struct npoll_busy_poll *bp = a;

		/* Short spins: no fuzzed socket has a NAPI context anyway. */
		bp->usecs = CHANCE(r, 10) ? (uint32_t)xrnd(r) : xrnd(r) % 100;
		bp->budget = CHANCE(r, 20) ? (uint16_t)xrnd(r) : xrnd(r) % 65;
		bp->prefer = CHANCE(r, 10) ? (uint8_t)xrnd(r) : xrnd(r) % 2;
		bp->pad = CHANCE(r, 5) ? (uint8_t)xrnd(r) : 0;
		k->malformed = bp->pad || bp->prefer > 1 || bp->usecs > INT32_MAX;
		k->eperm = !k->malformed && bp->budget > 64 && geteuid() != 0;
		return sizeof(*bp);
	}
	case C_BUSY_GET:
		/* Output only, as STATS. */
		memset(a, xrnd(r) & 1 ? 0xa5 : 0, 64);
		return sizeof(struct npoll_busy_poll);
#endif
	case C_BREAK:
	case C_UNKNOWN:
	default:
		/* Random bytes for whatever an unknown command might read. */
		for (int i = 0; i < 8; i++)
			((uint64_t *)a)[i] = xrnd(r);
		return 64;
	}
}

/* A command number the driver does not know: random sizes and directions. */
static unsigned long unknown_nr(uint64_t *r)
{
	unsigned long nr;

	do {
		switch (xrnd(r) % 4) {
		case 0:	/* a known number with another size or direction */
			nr = _IOC(xrnd(r) % 4, NPOLL_IOC_MAGIC,
				  1 + xrnd(r) % 0xb, xrnd(r) % (1 << 14));
			break;
		case 1:	/* unused numbers of our magic */
			nr = _IOC(xrnd(r) % 4, NPOLL_IOC_MAGIC,
				  0x0f + xrnd(r) % (256 - 0x0f), xrnd(r) % 128);
			break;
		case 2:
			nr = _IOC(xrnd(r) % 4, NPOLL_IOC_MAGIC, 0,
				  xrnd(r) % (1 << 14));
			break;
		default: {
			/* Other magics, avoiding those the VFS handles itself. */
			unsigned int m = xrnd(r) % 256;

			if (m == 0 || m == 'T' || m == 'X' || m == 'f' ||
			    m == 0x94 || m == 0x15 || m == NPOLL_IOC_MAGIC)
				m = 'q';
			nr = _IOC(xrnd(r) % 4, m, xrnd(r) % 256,
				  xrnd(r) % (1 << 14));
		}
		}
	} while (nr == NPOLL_IOC_OPEN || nr == NPOLL_IOC_CLOSE ||
		 nr == NPOLL_IOC_UNBLOCK || nr == NPOLL_IOC_RESET ||
		 nr == NPOLL_IOC_WAIT || nr == NPOLL_IOC_SET_DEADLINE ||
		 nr == NPOLL_IOC_STATS || nr == NPOLL_IOC_IDENTIFY ||
		 nr == NPOLL_IOC_ARM || nr == NPOLL_IOC_POLL ||
		 nr == NPOLL_IOC_BREAK || (FZ_IOC_IO && nr == FZ_IOC_IO) ||
		 (FZ_IOC_BUSY_SET && (nr == FZ_IOC_BUSY_SET || nr == FZ_IOC_BUSY_GET))
#ifdef NPOLL_IOC_SET_DEADLINE_V0
		 || nr == NPOLL_IOC_SET_DEADLINE_V0 || nr == NPOLL_IOC_IO_V0
#endif
		 );
	return nr;
}

/* Commands left out (NPOLL_FUZZ_SKIP=IO,POLL,...), to narrow a failure down. */
static bool cmd_skipped[FZ_NCMD];

static enum fz_cmd pick_cmd(uint64_t *r)
{
	static const unsigned char weight[FZ_NCMD] = {
		[C_OPEN] = 13, [C_CLOSE] = 7, [C_UNBLOCK] = 4, [C_RESET] = 8,
		[C_WAIT] = 9, [C_DEADLINE] = 11, [C_STATS] = 4,
		[C_IDENTIFY] = 2, [C_ARM] = 14, [C_POLL] = 11, [C_BREAK] = 3,
		[C_IO] = FZ_IOC_IO ? 8 : 0, [C_BUSY_SET] = FZ_IOC_BUSY_SET ? 2 : 0,
		[C_BUSY_GET] = FZ_IOC_BUSY_SET ? 1 : 0, [C_UNKNOWN] = 6,
	};
	unsigned int total = 0, x, c;

	for (c = 0; c < FZ_NCMD; c++)
		total += cmd_skipped[c] ? 0 : weight[c];
	x = xrnd(r) % total;

	for (c = 0; c < FZ_NCMD; c++) {
		if (cmd_skipped[c])
			continue;
		if (x < weight[c])
			return c;
		x -= weight[c];
	}
	return C_STATS;
}

/*
 * Check @ret of call @k: in the command's documented set and, where the
 * arguments decide, exactly the errno they imply.
 */
static void check_result(struct fz_call *k, long ret, bool sched)
{
	bool has_arg = k->c != C_BREAK && k->c != C_UNKNOWN;
	bool sched_cmd = k->c == C_ARM || k->c == C_POLL || k->c == C_BREAK;
	long want = 1;	/* 1: no exact expectation */

	tally(k->c, ret);
	if (ret >= 0) {
		long max = k->c == C_WAIT || k->c == C_RESET ?
				   NPOLL_ERR_NOT_POLLABLE :
			   k->c == C_ARM ? NPOLL_PENDING :
			   k->c == C_POLL || k->c == C_IO ? (long)k->max : 0;
		if (k->c == C_UNKNOWN || (sched_cmd && !sched) || ret > max)
			fz_fail(&sh->undocumented, "%s (%#lx) returned %ld",
				cmd_name[k->c], k->nr, ret);
	} else if (!documented(k->c, (int)-ret, sched)) {
		fz_fail(&sh->undocumented, "%s (%#lx) failed with %ld",
			cmd_name[k->c], k->nr, ret);
	}

	if (k->c == C_UNKNOWN || (sched_cmd && !sched))
		want = -ENOTTY;
	else if (k->c == C_BREAK)
		want = 0;
	else if (has_arg && (k->pk == A_NULL || k->pk == A_KERNEL ||
			     k->pk == A_NONE || k->pk == A_STRADDLE))
		want = -EFAULT;
	else if (k->pk == A_VOLATILE)
		want = 1;
	else if (k->pk == A_RO && (k->c == C_STATS || k->c == C_IDENTIFY ||
				   k->c == C_BUSY_GET))
		want = -EFAULT;
	else if (k->c == C_STATS || k->c == C_IDENTIFY || k->c == C_BUSY_GET)
		want = 0;
	else if (k->malformed)
		want = -EINVAL;
	else if (k->eperm)
		want = -EPERM;
	else if (k->c == C_BUSY_SET)
		want = 0;
	else if (k->c == C_OPEN && k->badfd)
		want = -EBADF;
	else if (k->hk == H_STALE && k->c != C_OPEN && k->c != C_POLL)
		want = -EBADF;
	/* OPEN cannot succeed when the handle cannot be stored. */
	if (k->c == C_OPEN && k->pk == A_RO && ret >= 0)
		want = -EFAULT;
	if (want <= 0 && ret != want)
		fz_fail(&sh->unexpected, "%s (%#lx) arg kind %d handle kind %d "
			"malformed %d: %ld, expected %ld", cmd_name[k->c], k->nr,
			k->pk, k->hk, k->malformed, ret, want);
}

/* Consume a SIGPIPE pending for this thread: true if there was one. */
static bool take_sigpipe(void)
{
	struct timespec zero = { 0, 0 };
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	return sigtimedwait(&set, NULL, &zero) == SIGPIPE;
}

static long do_ioctl(struct fz_thread *t, int fd, enum fz_cmd c,
		     unsigned long nr, void *arg)
{
	long r;

	atomic_store(&t->cmd, c);
	atomic_store(&t->since, npoll_test_now());
	r = ioctl(fd, nr, arg);
	if (r < 0)
		r = -errno;
	atomic_store(&t->since, 0);
	atomic_fetch_add(&sh->calls, 1);
	t->calls++;
	return r;
}

static void one_call(struct fz_worker *w, struct fz_thread *t)
{
	uint64_t *r = &t->rnd;
	struct fz_call k = { 0 };
	unsigned int pidx = xrnd(r) % 100;
	bool sched = atomic_load(&sh->sched);
	char *arg;
	size_t len;
	long ret;

	k.c = pick_cmd(r);
	k.nr = k.c == C_UNKNOWN ? unknown_nr(r) : cmd_nr[k.c];
	k.p = &w->pl[pidx < 55 ? 0 : pidx < 80 ? 1 : FZ_SHARED];
	k.hk = H_NONE;
	k.pk = pick_pkind(r, k.c);
	if (k.c == C_POLL && k.pk == A_VOLATILE && k.p->id == 1)
		k.pk = A_GOOD;

	/* Build in the thread's buffer, then move where the kind says. */
	len = build_args(w, t, &k, t->buf + 64);
	switch (k.pk) {
	case A_GOOD:
		arg = t->buf + 64;
		break;
	case A_MISALIGNED:
		arg = t->buf + 1 + xrnd(r) % 7;
		memmove(arg, t->buf + 64, len);
		break;
	case A_NULL:
		arg = NULL;
		break;
	case A_KERNEL:
		arg = (char *)kernel_ptrs[xrnd(r) % NKPTR];
		break;
	case A_NONE:
		arg = w->none + xrnd(r) % 64;
		break;
	case A_RO:
		mprotect(t->ro, w->pagesz, PROT_READ | PROT_WRITE);
		memcpy(t->ro, t->buf + 64, len);
		mprotect(t->ro, w->pagesz, PROT_READ);
		arg = t->ro;
		break;
	case A_STRADDLE: {
		size_t keep = 1 + xrnd(r) % (len - 1);

		arg = t->rw + w->pagesz - keep;
		memcpy(arg, t->buf + 64, keep);
		break;
	}
	case A_VOLATILE:
	default:
		arg = w->vol + xrnd(r) % (FZ_VOLATILE * w->pagesz - 8);
		break;
	}

	if (k.c == C_IO)
		take_sigpipe();
	ret = do_ioctl(t, k.p->fd, k.c, k.nr, arg);
	check_result(&k, ret, sched);
	if (k.c == C_IO && take_sigpipe())
		fz_fail(&sh->unexpected, "IO (%ld) raised SIGPIPE", ret);

	if (k.c == C_OPEN && ret == 0) {
		/* OPEN's pointer kinds that succeed are all readable by us. */
		struct npoll_open_args *o = (void *)arg;

		note_open(k.p, o->handle, k.seq);
	} else if (k.c == C_CLOSE && ret == 0) {
		note_close(k.p, k.handle);
	} else if (k.c == C_ARM && ret == NPOLL_PENDING) {
		struct fz_live *l = NULL;
		int i;

		atomic_fetch_add(&k.p->pending, 1);
		if (k.p->pend) {
			/* The registration's cookie sequence, if still listed. */
			pthread_mutex_lock(&k.p->lock);
			for (i = 0; i < k.p->nlive; i++)
				if (k.p->live[i].handle == k.handle)
					l = &k.p->live[i];
			if (l && l->seq < FZ_MAXREG)
				atomic_fetch_add(&k.p->pend[l->seq][k.mode - 1], 1);
			pthread_mutex_unlock(&k.p->lock);
			/* Closed meanwhile: its event cannot be attributed. */
			if (!l)
				atomic_fetch_add(&k.p->blind, 1);
		}
	} else if (k.c == C_POLL && ret > 0) {
		atomic_fetch_add(&k.p->harvested, ret);
		if (k.stable_events && (k.pk == A_GOOD || k.pk == A_MISALIGNED ||
					k.pk == A_RO))
			take_events(k.p, t->ev, (int)ret);
		else if (k.p->got)
			/* Events we cannot attribute: totals only. */
			atomic_fetch_add(&k.p->blind, ret);
	}
}

static void *fuzz_thread(void *arg)
{
	struct fz_thread *t = arg;
	unsigned int x;

	while (!atomic_load(&W->stop)) {
		if (atomic_fetch_add(&W->issued, 1) >= W->budget)
			break;
		x = xrnd(&t->rnd) % 100;
		if (x < 8)
			poke(W, t);
		else if (x < 9)
			flip_page(W, t);
		else
			one_call(W, t);
	}
	return NULL;
}

static void on_usr1(int sig)
{
	(void)sig;
}

/*
 * Interrupt calls that block, so that a wait nobody wakes ends with
 * EINTR; a call that still has not returned after FZ_HANG_NS is a hang.
 */
static void *watchdog(void *arg)
{
	struct fz_worker *w = arg;
	int i;

	while (atomic_load(&w->stop) < 2) {
		int64_t now = npoll_test_now();

		for (i = 0; i < FZ_NPOLLERS; i++) {
			if (w->pl[i].fd != saved_fd[i]) {
				fz_fail(&sh->invariant, "worker %d: poller %d fd "
					"%d became %d; threads in %s %s %s",
					w->num, i, saved_fd[i], w->pl[i].fd,
					cmd_name[atomic_load(&w->t[0].cmd)],
					cmd_name[atomic_load(&w->t[1].cmd)],
					cmd_name[atomic_load(&w->t[2].cmd)]);
				_exit(3);
			}
		}

		for (i = 0; i < FZ_THREADS; i++) {
			int64_t s = atomic_load(&w->t[i].since);

			if (!s || now - s < FZ_INTR_NS)
				continue;
			if (now - s > FZ_HANG_NS) {
				fz_fail(&sh->invariant,
					"worker %d thread %d: %s did not return "
					"in %lld s", w->num, i,
					cmd_name[atomic_load(&w->t[i].cmd)],
					(long long)(FZ_HANG_NS / NPT_SEC));
				_exit(3);
			}
			pthread_kill(w->t[i].th, SIGUSR1);
		}
		npoll_test_sleep_ns(2 * NPT_MS);
	}
	return NULL;
}

static int poller_stats(int fd, struct npoll_stats *st)
{
	memset(st, 0, sizeof(*st));
	return ioctl(fd, NPOLL_IOC_STATS, st) ? -errno : 0;
}

/* End of a worker that was not killed: its beliefs must match the kernel. */
static void worker_check(struct fz_worker *w, uint64_t *r)
{
	bool sched = atomic_load(&sh->sched);
	struct npoll_event ev[FZ_EVBUF];
	struct npoll_stats st;
	int i, j, n;

	for (i = 0; i < FZ_SHARED; i++) {
		struct fz_poller *p = &w->pl[i];
		long believed = p->opens - p->closes;

		int e = poller_stats(p->fd, &st);

		if (e) {
			fz_fail(&sh->invariant, "worker %d poller %d (fd %d, F_GETFD "
				"%d, identify %d): STATS failed with %d", w->num, i,
				p->fd, fcntl(p->fd, F_GETFD),
				np_is_poll_descriptor(p->fd), e);
			continue;
		}
		if ((long)st.descs != believed || p->nlive != believed)
			fz_fail(&sh->invariant,
				"worker %d poller %d: %llu descs, %ld believed "
				"open (%d listed)", w->num, i,
				(unsigned long long)st.descs, believed, p->nlive);
		if (st.waiters)
			fz_fail(&sh->invariant, "worker %d poller %d: %llu "
				"waiters when quiescent", w->num, i,
				(unsigned long long)st.waiters);
		if (!sched)
			continue;
		/* Half the time leave the rest to the poller's release. */
		if (i == 0 && CHANCE(r, 50))
			continue;
		for (j = 0; j < p->nlive; j++) {
			int ret = npt_raw_handle(p->fd, NPOLL_IOC_CLOSE,
						 p->live[j].handle);

			if (ret)
				fz_fail(&sh->invariant, "worker %d poller %d: "
					"CLOSE of a live handle: %d", w->num, i,
					ret);
		}
		/* Every armed mode is decided now: harvest what is left. */
		for (j = 0; j < 100000; j++) {
			struct npoll_poll_args pa = {
				.events = (uintptr_t)ev, .max = FZ_EVBUF,
				.timeout_ns = 0,
			};

			n = ioctl(p->fd, NPOLL_IOC_POLL, &pa);
			if (n <= 0)
				break;
			atomic_fetch_add(&p->harvested, n);
			take_events(p, ev, n);
		}
		if (n < 0)
			fz_fail(&sh->invariant, "worker %d poller %d: final POLL "
				"failed with %d", w->num, i, -errno);
		poller_stats(p->fd, &st);
		if (st.descs || st.armed || st.events || st.waiters)
			fz_fail(&sh->invariant, "worker %d poller %d: after "
				"closing all: descs %llu armed %llu events %llu "
				"waiters %llu", w->num, i,
				(unsigned long long)st.descs,
				(unsigned long long)st.armed,
				(unsigned long long)st.events,
				(unsigned long long)st.waiters);
		if (atomic_load(&p->harvested) != atomic_load(&p->pending))
			fz_fail(&sh->invariant, "worker %d poller %d: %ld arms "
				"pending but %ld events", w->num, i,
				atomic_load(&p->pending),
				atomic_load(&p->harvested));
		atomic_fetch_add(&sh->pending, atomic_load(&p->pending));
		atomic_fetch_add(&sh->harvested, atomic_load(&p->harvested));
		/* Per registration and mode, when every event was attributed. */
		if (!p->got || atomic_load(&p->blind))
			continue;
		for (j = 0; j < FZ_MAXREG; j++) {
			for (n = 0; n < 2; n++) {
				int a = atomic_load(&p->pend[j][n]);
				int g = atomic_load(&p->got[j][n]);

				if (a != g)
					fz_fail(&sh->invariant, "worker %d poller "
						"%d registration %d mode %d: %d "
						"pending arms, %d events", w->num,
						i, j, n + 1, a, g);
			}
		}
	}
	atomic_fetch_add(&sh->checked, 1);
}

/*
 * @n pages followed by a PROT_NONE guard page: an argument placed near
 * the end of a region faults instead of reaching the next mapping.
 */
static void *map_pages(long n, int prot)
{
	char *m = mmap(NULL, (n + 1) * W->pagesz, prot,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED) {
		perror("mmap");
		_exit(2);
	}
	if (mprotect(m + n * W->pagesz, W->pagesz, PROT_NONE))
		_exit(2);
	return m;
}

/* A worker process: never returns. */
static void worker(int num, int shared_fd, uint64_t seed, long budget)
{
	struct sigaction sa = { .sa_handler = on_usr1 };	/* no SA_RESTART */
	pthread_t wd;
	sigset_t set;
	uint64_t r = seed;
	int i, peer;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sigaction(SIGUSR1, &sa, NULL);
	/*
	 * SIGUSR2 feeds the signalfd.  SIGPIPE stays pending: pokes write
	 * to pipes and sockets whose other end was replaced, and
	 * NPOLL_IOC_IO must never raise it.
	 */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &set, NULL);

	W = mmap(NULL, sizeof(*W), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (W == MAP_FAILED)
		_exit(2);
	W->num = num;
	W->budget = budget;
	W->pagesz = sysconf(_SC_PAGESIZE);
	pthread_mutex_init(&W->files_lock, NULL);
	for (i = 0; i < FZ_NPOLLERS; i++) {
		struct fz_poller *p = &W->pl[i];

		p->id = i;
		pthread_mutex_init(&p->lock, NULL);
		p->fd = i == FZ_SHARED ? shared_fd :
			open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
		if (p->fd < 0)
			_exit(2);
		if (i == 1) {
			p->pend = calloc(FZ_MAXREG, sizeof(*p->pend));
			p->got = calloc(FZ_MAXREG, sizeof(*p->got));
			if (!p->pend || !p->got)
				_exit(2);
		}
	}
	for (i = 0; i < FZ_NFILES; i++) {
		W->files[i].kind = file_kinds[i];
		W->files[i].fd = make_file(file_kinds[i], &peer);
		W->files[i].peer = peer;
		if (W->files[i].fd < 0)
			_exit(2);
	}
	/* The signalfd's queue is this process's sighand: POLLFREE at exit. */
	if (CHANCE(&r, 50)) {
		uint64_t h;

		if (!npt_raw_open(shared_fd, W->files[9].fd,
				  FZ_COOKIE(FZ_SHARED, 0xffffff), &h))
			atomic_fetch_add(&sh->pollfree, 1);
	}
	W->vol = map_pages(FZ_VOLATILE, PROT_READ | PROT_WRITE);
	W->none = map_pages(1, PROT_NONE);
	W->big = mmap(NULL, (size_t)NPOLL_POLL_MAX * sizeof(struct npoll_event),
		      PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (W->big == MAP_FAILED)
		_exit(2);
	for (i = 0; i < FZ_THREADS; i++) {
		struct fz_thread *t = &W->t[i];

		t->idx = i;
		t->rnd = xrnd(&r) | 1;
		t->rw = map_pages(1, PROT_READ | PROT_WRITE);
		t->io = map_pages(FZ_IOBUF / W->pagesz + 1, PROT_READ | PROT_WRITE);
		t->ro = map_pages(1, PROT_READ);
	}
	for (i = 0; i < FZ_NPOLLERS; i++)
		saved_fd[i] = W->pl[i].fd;
	for (i = 0; i < FZ_THREADS; i++)
		if (pthread_create(&W->t[i].th, NULL, fuzz_thread, &W->t[i]))
			_exit(2);
	if (pthread_create(&wd, NULL, watchdog, W))
		_exit(2);
	for (i = 0; i < FZ_THREADS; i++)
		pthread_join(W->t[i].th, NULL);
	atomic_store(&W->stop, 2);
	pthread_join(wd, NULL);
	worker_check(W, &r);
	_exit(0);
}

/* --- the test --------------------------------------------------------------- */

static long env_long(const char *name, long def)
{
	const char *s = getenv(name);

	return s && *s ? strtol(s, NULL, 0) : def;
}

/* Does this module have scheduler mode?  1, 0 (ENOTTY), or -errno. */
static int probe_sched(int dev)
{
	int r = npt_ioctl(dev, NPOLL_IOC_BREAK, NULL);

	if (r == -ENOTTY)
		return 0;
	return r == 0 ? 1 : r;
}

struct fz_child {
	pid_t pid;
	int64_t start, kill_at;
	bool killed;
};

FIXTURE(fuzz) {
	int unused;
};

FIXTURE_SETUP(fuzz)
{
}

FIXTURE_TEARDOWN(fuzz)
{
}

/*
 * The harness's alarm ends a run that hangs despite the watchdogs; long
 * enough for make fuzz on a slow, shared host.
 */
TEST_F_TIMEOUT(fuzz, random_ioctls_from_racing_threads_and_killed_processes, 14000)
{
	long target = env_long("NPOLL_FUZZ_CALLS",
			       (geteuid() == 0 ? 100000 : 25000) /
			       (npoll_test_sanitized() ? 2 : 1));
	uint64_t seed = (uint64_t)env_long("NPOLL_FUZZ_SEED",
					   (long)(npoll_test_now() & 0x7fffffff));
	uint64_t r = seed * 0x9e3779b97f4a7c15ULL | 1;
	struct fz_child ch[FZ_WORKERS] = { 0 };
	long workers = 0, killed = 0;
	int64_t t0, el;
	double rate = 0;
	int dev, shared, i, j, status, round = 0;
	struct npoll_stats st;
	char line[256];

	dev = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	if (dev < 0 && errno == ENOENT)
		SKIP(return, "no " NPOLL_DEV);
	if (getenv("NPOLL_FUZZ_SKIP")) {
		char list[256], *tok, *save;

		snprintf(list, sizeof(list), ",%s,", getenv("NPOLL_FUZZ_SKIP"));
		for (tok = strtok_r(list, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save))
			for (i = 0; i < FZ_NCMD; i++)
				if (!strcmp(tok, cmd_name[i]))
					cmd_skipped[i] = true;
		TH_LOG("left out: %s (NPOLL_FUZZ_SKIP)", getenv("NPOLL_FUZZ_SKIP"));
	}
	ASSERT_LE(0, dev);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, sh);
	i = probe_sched(dev);
	ASSERT_LE(0, i) {
		TH_LOG("NPOLL_IOC_BREAK failed with %d", i);
	}
	atomic_store(&sh->sched, i);
	TH_LOG("seed %llu (NPOLL_FUZZ_SEED), %ld calls (NPOLL_FUZZ_CALLS), "
	       "scheduler mode %s", (unsigned long long)seed, target,
	       i ? "present: ARM/POLL/BREAK fuzzed" :
		   "absent: ARM/POLL/BREAK must fail with ENOTTY");

	shared = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, shared);
	t0 = npoll_test_now();
	while (atomic_load(&sh->calls) < target) {
		long left = target - atomic_load(&sh->calls);

		/* A fresh shared poller now and then: release with many descs. */
		if (++round % 8 == 0) {
			close(shared);
			shared = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
			ASSERT_LE(0, shared);
		}
		for (i = 0; i < FZ_WORKERS; i++) {
			long budget = 1000 + (long)(xrnd(&r) % 4000);
			uint64_t s = xrnd(&r);

			if (budget > left / FZ_WORKERS + 1)
				budget = left / FZ_WORKERS + 1;
			ch[i].pid = fork();
			ASSERT_LE(0, ch[i].pid);
			if (ch[i].pid == 0) {
				close(dev);
				worker((int)workers + i, shared, s, budget);
			}
			ch[i].start = npoll_test_now();
			ch[i].killed = false;
			ch[i].kill_at = 0;
			/* About a third die by SIGKILL somewhere in their run. */
			if (rate > 0 && CHANCE(&r, 35))
				ch[i].kill_at = ch[i].start + (int64_t)
					((double)(xrnd(&r) % 1000) / 1000.0 *
					 budget * FZ_WORKERS / rate * NPT_SEC);
		}
		workers += FZ_WORKERS;
		for (i = 0; i < FZ_WORKERS; i++) {
			while (ch[i].pid > 0) {
				int64_t now = npoll_test_now();
				pid_t p = waitpid(ch[i].pid, &status, WNOHANG);

				if (p == ch[i].pid) {
					if (!ch[i].killed &&
					    (!WIFEXITED(status) || WEXITSTATUS(status)))
						fz_fail(&sh->invariant,
							"worker %ld ended with status %#x",
							workers - FZ_WORKERS + i, status);
					ch[i].pid = 0;
					break;
				}
				for (j = 0; j < FZ_WORKERS; j++) {
					if (ch[j].pid <= 0 || ch[j].killed)
						continue;
					if (ch[j].kill_at && now >= ch[j].kill_at) {
						kill(ch[j].pid, SIGKILL);
						ch[j].killed = true;
						killed++;
					} else if (now - ch[j].start > FZ_WORKER_NS) {
						fz_fail(&sh->invariant,
							"worker pid %d still running "
							"after %lld s", ch[j].pid,
							(long long)(FZ_WORKER_NS / NPT_SEC));
						kill(ch[j].pid, SIGKILL);
						ch[j].killed = true;
					}
				}
				npoll_test_sleep_ns(NPT_MS);
			}
		}
		el = npoll_test_now() - t0;
		if (el > 0)
			rate = (double)atomic_load(&sh->calls) * NPT_SEC / el;
		/* Stop early on a failure: the messages say what happened. */
		if (atomic_load(&sh->invariant) > 0 ||
		    atomic_load(&sh->unexpected) > 20 ||
		    atomic_load(&sh->undocumented) > 20)
			break;
	}
	el = npoll_test_now() - t0;

	/* Every worker is gone: nobody can be parked in the shared poller. */
	ASSERT_EQ(0, poller_stats(shared, &st));
	EXPECT_EQ(0, st.waiters);
	TH_LOG("shared poller at the end: descs %llu armed %llu events %llu",
	       (unsigned long long)st.descs, (unsigned long long)st.armed,
	       (unsigned long long)st.events);
	EXPECT_EQ(0, close(shared));

	TH_LOG("%ld calls in %.1f s: %.0f calls/s; %ld workers, %ld killed "
	       "by SIGKILL, %ld checked at exit; %ld signalfds left to POLLFREE",
	       atomic_load(&sh->calls), (double)el / NPT_SEC,
	       (double)atomic_load(&sh->calls) * NPT_SEC / (el ? el : 1),
	       workers, killed, atomic_load(&sh->checked),
	       atomic_load(&sh->pollfree));
	printf("# NPOLL-FUZZ kernel=%s calls=%ld seconds=%.1f calls_per_s=%.0f "
	       "workers=%ld killed=%ld\n", getenv("NPOLL_KERNEL") ?: "?",
	       atomic_load(&sh->calls), (double)el / NPT_SEC,
	       (double)atomic_load(&sh->calls) * NPT_SEC / (el ? el : 1),
	       workers, killed);
	if (atomic_load(&sh->sched))
		TH_LOG("scheduler mode: %ld arms pending, %ld events harvested "
		       "in checked workers", atomic_load(&sh->pending),
		       atomic_load(&sh->harvested));
	for (i = 0; i < FZ_NCMD; i++) {
		int n = snprintf(line, sizeof(line), "%-12s", cmd_name[i]);

		for (j = 0; j < FZ_NRES; j++) {
			long v = atomic_load(&sh->res[i][j]);

			if (!v)
				continue;
			if (j == 0)
				n += snprintf(line + n, sizeof(line) - n, " ok %ld", v);
			else if (j < FZ_NRES - 1)
				n += snprintf(line + n, sizeof(line) - n, " %s %ld",
					      strerrorname_np(res_errno[j]) ?: "?", v);
			else
				n += snprintf(line + n, sizeof(line) - n, " other %ld", v);
			if (n >= (int)sizeof(line))
				break;
		}
		TH_LOG("%s", line);
	}
	for (i = 0; i < atomic_load(&sh->nmsg) &&
		    i < (int)(sizeof(sh->msg) / sizeof(sh->msg[0])); i++)
		TH_LOG("FAIL: %s", sh->msg[i]);
	EXPECT_EQ(0, atomic_load(&sh->undocumented));
	EXPECT_EQ(0, atomic_load(&sh->unexpected));
	EXPECT_EQ(0, atomic_load(&sh->invariant));
	EXPECT_LE(target, atomic_load(&sh->calls));

	/* The module still works after all that. */
	{
		int fds[2];
		uint64_t h = 0;

		ASSERT_EQ(0, npt_pipe(fds));
		EXPECT_EQ(0, npt_raw_open(dev, fds[1], 1, &h));
		EXPECT_EQ(NPOLL_OK, npt_raw_wait(dev, NPOLL_IOC_WAIT, h,
						 NPOLL_MODE_WRITE, 0));
		EXPECT_EQ(0, npt_raw_handle(dev, NPOLL_IOC_CLOSE, h));
		EXPECT_EQ(0, npt_raw_stat(dev, false));
		close(fds[0]);
		close(fds[1]);
	}
	close(dev);
	munmap(sh, sizeof(*sh));
}

/*
 * One mode, three callers: a thread waiting on it that deadlines keep
 * ending, a thread arming it (EBUSY while the other waits), a thread
 * moving the deadline into the past and back.  A waiter that leaves
 * must not take away what a newer waiter or arm has put in the mode's
 * word since: every NPOLL_PENDING arm yields exactly one event, and the
 * poller's counters return to zero once the descriptor is closed.
 */
struct race1 {
	int dev;
	uint64_t h;
	long iters;
	atomic_int stop;
	atomic_long pending, waits, events;
};

static void *race1_waiter(void *arg)
{
	struct race1 *x = arg;

	while (!atomic_load(&x->stop)) {
		npt_raw_wait(x->dev, NPOLL_IOC_WAIT, x->h, NPOLL_MODE_READ, 0);
		atomic_fetch_add(&x->waits, 1);
	}
	return NULL;
}

static void *race1_armer(void *arg)
{
	struct race1 *x = arg;

	while (!atomic_load(&x->stop))
		if (npt_raw_wait(x->dev, NPOLL_IOC_ARM, x->h, NPOLL_MODE_READ,
				 0) == NPOLL_PENDING)
			atomic_fetch_add(&x->pending, 1);
	return NULL;
}

static void *race1_harvester(void *arg)
{
	struct race1 *x = arg;
	struct npoll_event ev[16];

	while (!atomic_load(&x->stop)) {
		struct npoll_poll_args pa = {
			.events = (uintptr_t)ev, .max = 16, .timeout_ns = NPT_MS,
		};
		int n = ioctl(x->dev, NPOLL_IOC_POLL, &pa);

		if (n > 0)
			atomic_fetch_add(&x->events, n);
	}
	return NULL;
}

TEST_F_TIMEOUT(fuzz, leaving_waiter_vs_new_waiter_and_arm_on_one_mode, 600)
{
	struct race1 x = { 0 };
	pthread_t th[3];
	struct npoll_stats st;
	struct npoll_event ev[16];
	int efd, i, n;

	x.dev = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, x.dev);
	if (probe_sched(x.dev) != 1)
		SKIP(return, "no scheduler mode in this module");
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, npt_raw_open(x.dev, efd, 7, &x.h));
	x.iters = npoll_test_iters(20000);
	ASSERT_EQ(0, pthread_create(&th[0], NULL, race1_waiter, &x));
	ASSERT_EQ(0, pthread_create(&th[1], NULL, race1_armer, &x));
	ASSERT_EQ(0, pthread_create(&th[2], NULL, race1_harvester, &x));
	for (i = 0; i < x.iters; i++) {
		ASSERT_EQ(0, npt_raw_deadline(x.dev, x.h, -1, NPOLL_MODE_READ, 0));
		ASSERT_EQ(0, npt_raw_deadline(x.dev, x.h, 0, NPOLL_MODE_READ, 0));
	}
	/* Unblock ends the waits and makes every arm fail from now on. */
	ASSERT_EQ(0, npt_raw_handle(x.dev, NPOLL_IOC_UNBLOCK, x.h));
	atomic_store(&x.stop, 1);
	for (i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	ASSERT_EQ(0, npt_raw_handle(x.dev, NPOLL_IOC_CLOSE, x.h));
	do {
		struct npoll_poll_args pa = {
			.events = (uintptr_t)ev, .max = 16, .timeout_ns = 0,
		};

		n = ioctl(x.dev, NPOLL_IOC_POLL, &pa);
		if (n > 0)
			atomic_fetch_add(&x.events, n);
	} while (n > 0);
	ASSERT_EQ(0, ioctl(x.dev, NPOLL_IOC_STATS, &st));
	TH_LOG("%ld deadline flips: %ld waits, %ld arms pending, %ld events; "
	       "after close: armed %llu events %llu", x.iters,
	       atomic_load(&x.waits), atomic_load(&x.pending),
	       atomic_load(&x.events), (unsigned long long)st.armed,
	       (unsigned long long)st.events);
	EXPECT_EQ(atomic_load(&x.pending), atomic_load(&x.events));
	EXPECT_EQ(0, st.armed);
	EXPECT_EQ(0, st.events);
	EXPECT_EQ(0, st.descs);
	close(efd);
	close(x.dev);
}

/*
 * The same with two threads waiting on one mode: when a deadline wakes
 * the parked one, the other may park before the first has left.  The
 * leaving waiter must not take the newcomer out of the word, or the
 * newcomer's wake-ups are lost: at the end every waiter must return
 * once the deadline is expired for good.
 */
struct race2 {
	int dev;
	uint64_t h;
	atomic_int stop;
	atomic_int done[2];
	atomic_long waits[2];
};

static struct race2 *race2_x;

static void *race2_waiter(void *arg)
{
	int me = (int)(intptr_t)arg;
	struct race2 *x = race2_x;

	while (!atomic_load(&x->stop)) {
		npt_raw_wait(x->dev, NPOLL_IOC_WAIT, x->h, NPOLL_MODE_READ, 0);
		atomic_fetch_add(&x->waits[me], 1);
	}
	atomic_store(&x->done[me], 1);
	return NULL;
}

TEST_F_TIMEOUT(fuzz, leaving_waiter_vs_new_waiter_on_one_mode, 600)
{
	struct sigaction sa = { .sa_handler = on_usr1 };	/* no SA_RESTART */
	struct race2 x = { 0 };
	pthread_t th[2];
	long iters = npoll_test_iters(20000), i;
	int efd, stuck = 0;
	int64_t end;

	sigaction(SIGUSR1, &sa, NULL);
	x.dev = open(NPOLL_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, x.dev);
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, npt_raw_open(x.dev, efd, 7, &x.h));
	race2_x = &x;
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, race2_waiter,
					    (void *)(intptr_t)i));
	for (i = 0; i < iters; i++) {
		ASSERT_EQ(0, npt_raw_deadline(x.dev, x.h, -1, NPOLL_MODE_READ, 0));
		ASSERT_EQ(0, npt_raw_deadline(x.dev, x.h, 0, NPOLL_MODE_READ, 0));
	}
	/* Expired for good: every wait, parked or new, ends at once. */
	atomic_store(&x.stop, 1);
	ASSERT_EQ(0, npt_raw_deadline(x.dev, x.h, -1, NPOLL_MODE_READ, 0));
	end = npoll_test_now() + NPT_PATIENCE;
	while ((!atomic_load(&x.done[0]) || !atomic_load(&x.done[1])) &&
	       npoll_test_now() < end)
		npoll_test_sleep_ns(NPT_MS);
	for (i = 0; i < 2; i++) {
		if (atomic_load(&x.done[i]))
			continue;
		stuck++;
		/* Parked with nothing left to wake it: only a signal does. */
		while (!atomic_load(&x.done[i])) {
			pthread_kill(th[i], SIGUSR1);
			npoll_test_sleep_ns(10 * NPT_MS);
		}
	}
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	TH_LOG("%ld deadline flips: %ld + %ld waits; %d waiter(s) lost their "
	       "wake-up", iters, atomic_load(&x.waits[0]),
	       atomic_load(&x.waits[1]), stuck);
	EXPECT_EQ(0, stuck);
	EXPECT_EQ(0, npt_raw_stat(x.dev, true));
	EXPECT_EQ(0, npt_raw_handle(x.dev, NPOLL_IOC_CLOSE, x.h));
	close(efd);
	close(x.dev);
}

TEST_HARNESS_MAIN
