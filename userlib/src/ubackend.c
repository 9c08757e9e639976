// SPDX-License-Identifier: MIT
/*
 * libnpoll, the user-space backend: the semantics of /dev/netpoll
 * rebuilt over epoll, futexes and eventfds, for a system without the
 * module (NPOLL_BACKEND=user, or auto without /dev/netpoll).  It
 * implements the thin layer's operations (struct np_backend, see
 * internal.h), so the layer above does not know which backend runs.
 *
 * As Go's runtime does in user space:
 *
 * - One edge-triggered epoll set per poller.  A descriptor is two epoll
 *   items on two F_DUPFD_CLOEXEC duplicates of the caller's fd, one for
 *   EPOLLIN | EPOLLRDHUP, one for EPOLLOUT.  The duplicates pin the open
 *   file as the module's file reference does (closing the caller's fd
 *   leaves the registration working), and the read item's mask alone
 *   decides Go's error-event rule (exactly EPOLLERR), so a connected UDP
 *   socket's ICMP error is an error event although the socket is
 *   writable.
 * - One poller thread per poller sleeps in epoll_pwait2() on an outer
 *   set holding the descriptors' set and a kick eventfd, bounded by the
 *   earliest deadline of a binary heap (a change that makes an earlier
 *   expiry kicks it); it then takes the inner set's events, turning
 *   them into readiness of the modes, and fires expired deadlines.
 *   Every call that decides from a mode takes the inner set's events
 *   first (ub_catch_up), so no decision overtakes readiness that came
 *   before the call, as none does in the module.  A wake-up costs the
 *   poller thread's return from epoll_pwait2(), its epoll_wait() and a
 *   FUTEX_WAKE of the parked thread: two context switches where the
 *   module needs one.
 * - A parked thread has a word on its own stack, which the waker sets to
 *   1 (readiness, consumed for it) or 2 (anything else: it checks the
 *   errors again, as Go's netpollblock loop does), and sleeps in ppoll()
 *   on an eventfd of its own, which the waker writes next.  Its signals
 *   are blocked from the decision to park until ppoll() puts its own
 *   mask back for the sleep, atomically: a signal that comes in between
 *   is delivered inside ppoll(), so it ends or restarts the wait as in
 *   the module (see ub_sleep()).  A thread that cannot have an eventfd
 *   (no fd left) sleeps on the word with FUTEX_WAIT instead.
 * - Scheduler mode: decided outcomes go to two FIFO lists (read, write)
 *   harvested in turn; an eventfd (np_poller_fd) is readable exactly
 *   while the lists are not empty, and np_poll sleeps in ppoll() on it
 *   and on the break eventfd.
 *
 * Each descriptor is a slot of a table that only grows (slots are
 * reused, never freed before the poller), named by a handle of the
 * slot's index and generation: a late event of the epoll set, a stale
 * handle or a stale queued event finds the generation changed.  Locks:
 * a slot's @lock, then the poller's @tlock (timers) or @evlock (events);
 * @slock (the table) is taken alone.
 *
 * See Documentation/userspace-backend.rst.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/futex.h>
#include <linux/kcmp.h>
#include <linux/magic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "internal.h"

#define UB_CHUNK_SHIFT	10
#define UB_CHUNK	(1U << UB_CHUNK_SHIFT)
#define UB_CHUNKS	1024U			/* 1048576 descriptors */
#define UB_WRITE_ITEM	(1U << 31)		/* epoll data: write item */
#define UB_KICK		UINT64_MAX		/* epoll data: the kick fd */
#define UB_HASH		4096U
#define UB_MAX_RW	0x7ffff000U		/* the kernel's MAX_RW_COUNT */

enum { UB_IDLE, UB_PARKED, UB_ARMED, UB_FIRED };

/*
 * A parked thread, on its stack.  Its waker holds the slot's lock, which
 * the thread takes again before it leaves: the waiter outlives the wake.
 */
struct ub_waiter {
	atomic_uint word;		/* 0, or how it was woken (1, 2) */
	int fd;				/* its thread's eventfd, or -1 */
};

struct ub_desc;

/* One mode of a descriptor. */
struct ub_mode {
	struct ub_desc *d;
	int mode;			/* NP_READ or NP_WRITE */
	int state;			/* UB_* */
	bool ready;			/* readiness pending (Go's pdReady) */
	bool canceled;			/* the parked wait ignores errors */
	struct ub_waiter *waiter;	/* the parked thread, or NULL */
	int64_t when;			/* deadline, absolute; 0 none */
	uint64_t seq;			/* last deadline change applied */
	size_t hidx;			/* position in the heap + 1, 0 none */
	/* The queued event (state UB_FIRED), at most one per mode. */
	struct ub_mode *evnext;
	uint32_t evgen;
	int result;
};

/*
 * The registered files of one inode (device and inode number): a treap
 * ordered by kcmp(KCMP_FILE), which orders open files by their kernel
 * address.  Every socket has an inode of its own, but every eventfd,
 * timerfd, signalfd and epoll file shares the one anonymous inode, so a
 * list would make registering n of them cost n^2 / 2 kcmp calls.
 */
struct ub_group {
	struct ub_group *next;		/* hash chain */
	dev_t dev;
	ino_t ino;
	struct ub_desc *root;
};

/* One slot: a registered file while @open. */
struct ub_desc {
	pthread_mutex_t lock;
	uint32_t idx;
	uint32_t gen;			/* changes at close */
	bool open;
	bool closing;			/* unblocked (or closed) */
	bool everr;			/* Go's error event */
	int rfd, wfd;			/* the duplicates in the epoll set */
	uint64_t user;
	int queued;			/* events queued or being harvested */
	bool forgotten;			/* the library freed its descriptor */
	/* Its place among the files of its inode, under @slock. */
	struct ub_group *grp;		/* NULL: not kept (see ub_files_add) */
	struct ub_desc *tl, *tr, *tp;	/* treap: left, right, parent */
	uint32_t prio;
	struct ub_desc *fnext;		/* free list, under @slock */
	struct ub_mode m[2];
};

struct ub_poller {
	int epfd;
	int kickfd;			/* wakes the poller thread */
	int evfd;			/* readable while events are queued */
	int brkfd;			/* np_break */
	pthread_t thread;
	atomic_bool stop;
	int outfd;			/* {epfd, kickfd}: the thread sleeps here */
	pthread_mutex_t emx;		/* fetching and handling events */

	pthread_mutex_t slock;		/* the table, its hash, its free list */
	struct ub_desc *_Atomic dir[UB_CHUNKS];
	uint32_t nslots;
	struct ub_desc *free;
	struct ub_group *hash[UB_HASH];
	uint32_t seed;			/* treap priorities */

	pthread_mutex_t tlock;		/* the deadline heap */
	struct ub_mode **heap;
	size_t hlen, hcap;
	int64_t bound;			/* expiry the thread waits for */

	pthread_mutex_t evlock;		/* the event lists */
	struct ub_mode *evhead[2], *evtail[2];
	int turn;

	atomic_ulong descs, waiters, armed, events;
	pthread_mutex_t bplock;
	struct npoll_busy_poll bp;
	unsigned int forks;		/* ub_forks when it was made */
};

/*
 * The fork()s in this process's line so far, counted in each child: a
 * poller made before the last one is an ancestor's.  Its thread did not
 * come along, and its locks may have been held by threads that did not
 * either, so in a child every call on it fails with -EBADF at once,
 * before any lock, where it would hang.
 */
static atomic_uint ub_forks;
static pthread_once_t ub_fork_once = PTHREAD_ONCE_INIT;

static void ub_fork_child(void)
{
	atomic_fetch_add_explicit(&ub_forks, 1, memory_order_relaxed);
}

static void ub_fork_init(void)
{
	pthread_atfork(NULL, NULL, ub_fork_child);
}

static bool ub_forked(const struct ub_poller *u)
{
	return u->forks !=
	       atomic_load_explicit(&ub_forks, memory_order_relaxed);
}

static int64_t ub_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void ub_futex_wait(atomic_uint *w, unsigned int v, int *err)
{
	long r = syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);

	*err = r < 0 ? errno : 0;
}

/*
 * Each thread that parks has an eventfd to sleep on: made at its first
 * park, closed when the thread exits (the key's destructor) and, in the
 * child of a fork(), closed at once, so that no wake-up of the parent's
 * reaches the child or is drained by it.
 */
static pthread_key_t ub_tkey;
static pthread_once_t ub_tonce = PTHREAD_ONCE_INIT;
static int ub_tkey_err;
static __thread int ub_tfd = -1;

static void ub_tfd_destroy(void *v)
{
	close((int)(intptr_t)v - 1);
}

static void ub_tfd_atfork_child(void)
{
	if (ub_tfd < 0)
		return;
	pthread_setspecific(ub_tkey, NULL);
	close(ub_tfd);
	ub_tfd = -1;
}

static void ub_tkey_init(void)
{
	ub_tkey_err = pthread_key_create(&ub_tkey, ub_tfd_destroy);
	if (!ub_tkey_err)
		ub_tkey_err = pthread_atfork(NULL, NULL, ub_tfd_atfork_child);
}

/*
 * A duplicate of @fd (close-on-exec).  A descriptor costs two of them,
 * so a program that registers most of its fds would run out at a third
 * of RLIMIT_NOFILE where the module lets it use them all: at EMFILE the
 * soft limit is raised to the hard one, as Go's runtime does at start,
 * and the dup tried again.
 */
static int ub_dup(int fd)
{
	struct rlimit rl;
	int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	if (d >= 0 || errno != EMFILE)
		return d;
	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= rl.rlim_max) {
		errno = EMFILE;
		return -1;
	}
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		errno = EMFILE;
		return -1;
	}
	return fcntl(fd, F_DUPFD_CLOEXEC, 0);
}

/* The calling thread's eventfd, or -1 when it cannot have one. */
static int ub_thread_fd(void)
{
	int fd;

	if (ub_tfd >= 0)
		return ub_tfd;
	pthread_once(&ub_tonce, ub_tkey_init);
	if (ub_tkey_err)
		return -1;
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return -1;
	if (pthread_setspecific(ub_tkey, (void *)(intptr_t)(fd + 1))) {
		close(fd);
		return -1;
	}
	ub_tfd = fd;
	return fd;
}

/*
 * True if the wait a signal handler interrupted restarts: every signal
 * that could have interrupted it (not blocked in @mask, caught) has a
 * handler with SA_RESTART.  ppoll() fails with EINTR whatever the
 * handler's flags, and tells nothing of which signal came; a process
 * whose handlers differ gets -EINTR from a wait that the module would
 * have restarted (Documentation/userspace-backend.rst, "Signals").
 */
static bool ub_signal_restarts(const sigset_t *mask)
{
	struct sigaction sa;
	bool any = false;

	for (int sig = 1; sig < NSIG; sig++) {
		if (sigismember(mask, sig) == 1 || sigaction(sig, NULL, &sa))
			continue;
		if (sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN)
			continue;
		if (!(sa.sa_flags & SA_RESTART))
			return false;
		any = true;
	}
	return any;
}

/*
 * Sleep until @w's word is set, with the signal mask @mask (the thread's
 * own: the caller blocked every signal before it decided to park, and
 * puts @mask back when it leaves).  Returns 0 when woken, EINTR when a
 * signal's handler ran and the wait does not restart.
 */
static int ub_sleep(struct ub_waiter *w, const sigset_t *mask)
{
	struct pollfd pf = { .fd = w->fd, .events = POLLIN };
	uint64_t v;
	int err = 0;

	while (atomic_load(&w->word) == 0) {
		int n = ppoll(&pf, 1, NULL, mask);

		if (n > 0) {
			/* A wake-up, or one a wake-up before left behind. */
			if (read(w->fd, &v, sizeof(v)) < 0) {
				/* Drained already. */
			}
		} else if (n < 0 && errno == EINTR &&
			   atomic_load(&w->word) == 0 &&
			   !ub_signal_restarts(mask)) {
			err = EINTR;
			break;
		}
	}
	return err;
}

static void ub_kick(struct ub_poller *u)
{
	uint64_t one = 1;

	if (write(u->kickfd, &one, sizeof(one)) < 0) {
		/* The counter is full: the thread is woken anyway. */
	}
}

static struct ub_poller *ub_of(struct np_poller *p)
{
	return p->ub;
}

/* ---- the deadline heap, under @tlock ---- */

static void heap_set(struct ub_poller *u, size_t i, struct ub_mode *m)
{
	u->heap[i] = m;
	m->hidx = i + 1;
}

static void heap_up(struct ub_poller *u, size_t i)
{
	struct ub_mode *m = u->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (u->heap[parent]->when <= m->when)
			break;
		heap_set(u, i, u->heap[parent]);
		i = parent;
	}
	heap_set(u, i, m);
}

static void heap_down(struct ub_poller *u, size_t i)
{
	struct ub_mode *m = u->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= u->hlen)
			break;
		if (c + 1 < u->hlen && u->heap[c + 1]->when < u->heap[c]->when)
			c++;
		if (m->when <= u->heap[c]->when)
			break;
		heap_set(u, i, u->heap[c]);
		i = c;
	}
	heap_set(u, i, m);
}

static void heap_del(struct ub_poller *u, struct ub_mode *m)
{
	size_t i;

	if (!m->hidx)
		return;
	i = m->hidx - 1;
	m->hidx = 0;
	if (i == --u->hlen)
		return;
	u->heap[i] = u->heap[u->hlen];
	u->heap[i]->hidx = i + 1;
	heap_down(u, i);
	heap_up(u, u->heap[i]->hidx - 1);
}

/* Put @m's deadline (in the future) in the heap: 0 or -ENOMEM. */
static int heap_put(struct ub_poller *u, struct ub_mode *m)
{
	if (!m->hidx) {
		if (u->hlen == u->hcap) {
			size_t cap = u->hcap ? 2 * u->hcap : 64;
			struct ub_mode **h = realloc(u->heap, cap * sizeof(*h));

			if (!h)
				return -ENOMEM;
			u->heap = h;
			u->hcap = cap;
		}
		heap_set(u, u->hlen++, m);
		heap_up(u, u->hlen - 1);
	} else {
		heap_down(u, m->hidx - 1);
		heap_up(u, m->hidx - 1);
	}
	return 0;
}

/* ---- slots ---- */

static struct ub_desc *ub_slot(struct ub_poller *u, uint32_t idx)
{
	struct ub_desc *c;

	if (idx >= UB_CHUNKS * UB_CHUNK)
		return NULL;
	c = atomic_load_explicit(&u->dir[idx >> UB_CHUNK_SHIFT],
				 memory_order_acquire);
	return c ? &c[idx & (UB_CHUNK - 1)] : NULL;
}

static __u64 ub_handle(const struct ub_desc *d)
{
	return (__u64)d->gen << 32 | d->idx;
}

/* The open slot of handle @h, locked; NULL if stale. */
static struct ub_desc *ub_lock(struct ub_poller *u, __u64 h)
{
	struct ub_desc *d = ub_slot(u, (uint32_t)h);

	if (!d)
		return NULL;
	pthread_mutex_lock(&d->lock);
	if (d->open && d->gen == (uint32_t)(h >> 32))
		return d;
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

/* A free slot, under @slock; NULL if the table is full or on ENOMEM. */
static struct ub_desc *slot_alloc(struct ub_poller *u)
{
	struct ub_desc *d = u->free, *c;
	uint32_t idx = u->nslots;

	if (d) {
		u->free = d->fnext;
		return d;
	}
	if (idx >= UB_CHUNKS * UB_CHUNK)
		return NULL;
	c = atomic_load(&u->dir[idx >> UB_CHUNK_SHIFT]);
	if (!c) {
		c = calloc(UB_CHUNK, sizeof(*c));
		if (!c)
			return NULL;
		for (uint32_t i = 0; i < UB_CHUNK; i++) {
			struct ub_desc *s = &c[i];

			pthread_mutex_init(&s->lock, NULL);
			s->idx = idx + i;
			s->gen = 1;
			for (int m = 0; m < 2; m++) {
				s->m[m].d = s;
				s->m[m].mode = m + 1;
			}
		}
		atomic_store_explicit(&u->dir[idx >> UB_CHUNK_SHIFT], c,
				      memory_order_release);
	}
	u->nslots++;
	return &c[idx & (UB_CHUNK - 1)];
}

static void slot_free(struct ub_poller *u, struct ub_desc *d)
{
	pthread_mutex_lock(&u->slock);
	d->fnext = u->free;
	u->free = d;
	pthread_mutex_unlock(&u->slock);
}

static unsigned int hash_of(dev_t dev, ino_t ino)
{
	return (unsigned int)((ino * 0x9e3779b97f4a7c15ULL + dev) >> 52) %
	       UB_HASH;
}

/*
 * kcmp(KCMP_FILE) of two fds of this process: <0, 0 (the same open
 * file), >0; or INT_MIN where kcmp is not available (a kernel without
 * CONFIG_KCMP, or a seccomp filter that refuses it, as container
 * runtimes' default filters do without CAP_SYS_PTRACE).
 */
static int file_cmp(int a, int b)
{
	pid_t pid = getpid();
	long r = syscall(SYS_kcmp, pid, pid, KCMP_FILE, a, b);

	if (r < 0 || r > 2)
		return INT_MIN;
	return r == 0 ? 0 : r == 1 ? -1 : 1;
}

/* Does kcmp() work in this process: 0 not known yet, 1 yes, -1 no. */
static _Atomic int ub_kcmp;

static bool kcmp_works(int fd)
{
	int w = atomic_load_explicit(&ub_kcmp, memory_order_relaxed);

	if (!w) {
		w = file_cmp(fd, fd) == 0 ? 1 : -1;
		atomic_store_explicit(&ub_kcmp, w, memory_order_relaxed);
	}
	return w > 0;
}

static struct ub_group **group_slot(struct ub_poller *u, dev_t dev, ino_t ino)
{
	struct ub_group **gp = &u->hash[hash_of(dev, ino)];

	while (*gp && ((*gp)->dev != dev || (*gp)->ino != ino))
		gp = &(*gp)->next;
	return gp;
}

/* Put @x where its parent is, one level up.  Under @slock. */
static void treap_rotate_up(struct ub_desc *x)
{
	struct ub_desc *p = x->tp, *g = p->tp;

	if (x == p->tl) {
		p->tl = x->tr;
		if (x->tr)
			x->tr->tp = p;
		x->tr = p;
	} else {
		p->tr = x->tl;
		if (x->tl)
			x->tl->tp = p;
		x->tl = p;
	}
	p->tp = x;
	x->tp = g;
	if (!g)
		x->grp->root = x;
	else if (g->tl == p)
		g->tl = x;
	else
		g->tr = x;
}

/*
 * Is the open file of @fd (of inode @st) registered?  0 if not,
 * -EEXIST if so, -EBADF if @fd was closed meanwhile.  Under @slock.
 */
static int ub_files_find(struct ub_poller *u, int fd, const struct stat *st)
{
	struct ub_group *g = *group_slot(u, st->st_dev, st->st_ino);
	struct ub_desc *t;

	if (!g)
		return 0;
	for (t = g->root; t && kcmp_works(fd);) {
		int c = file_cmp(fd, t->rfd);

		if (c == 0)
			return -EEXIST;
		if (c == INT_MIN) {
			if (fcntl(fd, F_GETFD) < 0)	/* closed meanwhile */
				return -errno;
			/* Refused since (a seccomp filter installed later). */
			atomic_store_explicit(&ub_kcmp, -1, memory_order_relaxed);
			break;
		}
		t = c < 0 ? t->tl : t->tr;
	}
	/* Without kcmp only sockets are kept: one open file per inode. */
	return t && S_ISSOCK(st->st_mode) ? -EEXIST : 0;
}

/*
 * Keep @d (its duplicate @d->rfd open) among the files of inode @st:
 * 0 or -ENOMEM.  Without kcmp a file of a shared inode is not kept, so
 * a second registration of it is not refused (userspace-backend.rst).
 * Under @slock.
 */
static int ub_files_add(struct ub_poller *u, struct ub_desc *d,
			const struct stat *st)
{
	struct ub_group **gp, *g;
	struct ub_desc *t;

	d->grp = NULL;
	d->tl = d->tr = d->tp = NULL;
	if (!kcmp_works(d->rfd) && !S_ISSOCK(st->st_mode))
		return 0;
	gp = group_slot(u, st->st_dev, st->st_ino);
	g = *gp;
	if (!g) {
		g = calloc(1, sizeof(*g));
		if (!g)
			return -ENOMEM;
		g->dev = st->st_dev;
		g->ino = st->st_ino;
		*gp = g;
	}
	/* xorshift32: priorities that keep the treap's depth logarithmic. */
	u->seed ^= u->seed << 13;
	u->seed ^= u->seed >> 17;
	u->seed ^= u->seed << 5;
	d->prio = u->seed;
	d->grp = g;
	if (!g->root) {
		g->root = d;
		return 0;
	}
	for (t = g->root;;) {
		struct ub_desc **next = file_cmp(d->rfd, t->rfd) < 0 ? &t->tl : &t->tr;

		if (!*next) {
			*next = d;
			d->tp = t;
			break;
		}
		t = *next;
	}
	while (d->tp && d->prio > d->tp->prio)
		treap_rotate_up(d);
	return 0;
}

/* Forget @d's file (ub_files_add), by its links alone.  Under @slock. */
static void ub_files_del(struct ub_poller *u, struct ub_desc *d)
{
	struct ub_group *g = d->grp, **gp;

	if (!g)
		return;
	/* Down to a leaf, the child of higher priority going up. */
	while (d->tl || d->tr) {
		struct ub_desc *c = !d->tr ? d->tl : !d->tl ? d->tr :
				    d->tl->prio > d->tr->prio ? d->tl : d->tr;

		treap_rotate_up(c);
	}
	if (!d->tp)
		g->root = NULL;
	else if (d->tp->tl == d)
		d->tp->tl = NULL;
	else
		d->tp->tr = NULL;
	d->grp = NULL;
	d->tp = NULL;
	if (g->root)
		return;
	gp = group_slot(u, g->dev, g->ino);
	*gp = g->next;
	free(g);
}

/* ---- outcomes ---- */

/* netpollcheckerr: the error that applies to @m, else -1. */
static int ub_checkerr(struct ub_mode *m)
{
	struct ub_desc *d = m->d;

	if (d->closing)
		return NP_ERR_CLOSING;
	if (m->when && m->when <= ub_now())
		return NP_ERR_TIMEOUT;
	if (m->mode == NP_READ && d->everr)
		return NP_ERR_NOT_POLLABLE;
	return -1;
}

/* Wake @m's parked thread.  Under the slot's lock. */
static void ub_wake(struct ub_mode *m, unsigned int how)
{
	struct ub_waiter *w = m->waiter;
	uint64_t one = 1;

	m->waiter = NULL;
	atomic_store(&w->word, how);
	if (w->fd < 0) {
		syscall(SYS_futex, &w->word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	} else if (write(w->fd, &one, sizeof(one)) < 0) {
		/* The counter is full: the thread is woken anyway. */
	}
}

static void ub_evfd_signal(struct ub_poller *u)
{
	uint64_t one = 1;

	if (write(u->evfd, &one, sizeof(one)) < 0) {
		/* Already readable. */
	}
}

static void ub_evfd_drain(struct ub_poller *u)
{
	uint64_t v;

	if (read(u->evfd, &v, sizeof(v)) < 0) {
		/* Already not readable. */
	}
}

/* Decide an armed mode: queue its event.  Under the slot's lock. */
static void ub_fire(struct ub_poller *u, struct ub_mode *m, int result)
{
	int i = m->mode - 1;

	m->state = UB_FIRED;
	m->result = result;
	m->evgen = m->d->gen;
	m->evnext = NULL;
	m->d->queued++;
	atomic_fetch_sub(&u->armed, 1);
	atomic_fetch_add(&u->events, 1);
	pthread_mutex_lock(&u->evlock);
	if (!u->evhead[0] && !u->evhead[1])
		ub_evfd_signal(u);
	if (u->evtail[i])
		u->evtail[i]->evnext = m;
	else
		u->evhead[i] = m;
	u->evtail[i] = m;
	pthread_mutex_unlock(&u->evlock);
}

/* Readiness of @m.  Under the slot's lock. */
static void ub_ready(struct ub_poller *u, struct ub_mode *m)
{
	if (m->state == UB_PARKED && m->waiter) {
		ub_wake(m, 1);
	} else if (m->state == UB_ARMED) {
		ub_fire(u, m, NP_OK);
	} else {
		m->ready = true;
	}
}

/* An error may apply now (unblock, deadline): tell the mode's waiter. */
static void ub_poke(struct ub_poller *u, struct ub_mode *m, int result)
{
	if (m->state == UB_PARKED && m->waiter && !m->canceled)
		ub_wake(m, 2);
	else if (m->state == UB_ARMED)
		ub_fire(u, m, result);
}

/* ---- the poller thread ---- */

static void ub_event(struct ub_poller *u, uint64_t data, uint32_t ev)
{
	uint32_t lo = (uint32_t)data;
	bool wr = lo & UB_WRITE_ITEM;
	struct ub_desc *d = ub_lock(u, (data & ~(uint64_t)UB_WRITE_ITEM));

	if (!d)
		return;
	if (!wr) {
		d->everr = ev == EPOLLERR;
		if (ev & (EPOLLIN | EPOLLRDNORM | EPOLLRDHUP | EPOLLHUP |
			  EPOLLERR))
			ub_ready(u, &d->m[0]);
	} else if (ev & (EPOLLOUT | EPOLLWRNORM | EPOLLHUP | EPOLLERR)) {
		ub_ready(u, &d->m[1]);
	}
	pthread_mutex_unlock(&d->lock);
}

/* Fire the deadlines that have expired; the next expiry, or INT64_MAX. */
static int64_t ub_timers(struct ub_poller *u)
{
	struct { struct ub_desc *d; uint32_t gen; int mode; } x[64];
	int64_t now, next;
	size_t n;

	for (;;) {
		now = ub_now();
		n = 0;
		pthread_mutex_lock(&u->tlock);
		while (u->hlen && u->heap[0]->when <= now && n < 64) {
			struct ub_mode *m = u->heap[0];

			x[n].d = m->d;
			x[n].gen = m->d->gen;
			x[n].mode = m->mode;
			n++;
			heap_del(u, m);
		}
		next = u->hlen ? u->heap[0]->when : INT64_MAX;
		u->bound = next;
		pthread_mutex_unlock(&u->tlock);
		for (size_t i = 0; i < n; i++) {
			struct ub_desc *d = x[i].d;
			struct ub_mode *m = &d->m[x[i].mode - 1];

			pthread_mutex_lock(&d->lock);
			/* A changed deadline or a closed slot: nothing. */
			if (d->open && d->gen == x[i].gen && m->when &&
			    m->when <= now && !m->hidx)
				ub_poke(u, m, NP_ERR_TIMEOUT);
			pthread_mutex_unlock(&d->lock);
		}
		if (n < 64)
			return next;
	}
}

/*
 * Take every event the set holds and turn it into readiness, under
 * @emx: fetching and handling are one step, so a thread that has taken
 * @emx and found the set empty knows that every edge before its call
 * has been recorded in the modes.
 */
static void ub_drain_set(struct ub_poller *u)
{
	struct epoll_event evs[128];
	int n;

	pthread_mutex_lock(&u->emx);
	do {
		n = epoll_wait(u->epfd, evs, 128, 0);
		for (int i = 0; i < n; i++)
			ub_event(u, evs[i].data.u64, evs[i].events);
	} while (n == 128);
	pthread_mutex_unlock(&u->emx);
}

/*
 * The poller thread sleeps in epoll_pwait2() on an outer set holding
 * the descriptors' set (readable while it has events, which stay in it)
 * and the kick eventfd, bounded by the earliest deadline; it then
 * handles the events and fires the expired deadlines, readiness first.
 */
static void *ub_thread(void *arg)
{
	struct ub_poller *u = arg;
	struct epoll_event evs[2];
	struct timespec ts, *tsp;
	int64_t next, left;
	uint64_t v;
	int n;

	/* Wake at the expiry itself, not up to 50 us later. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	next = ub_timers(u);
	while (!atomic_load(&u->stop)) {
		tsp = NULL;
		if (next != INT64_MAX) {
			left = next - ub_now();
			if (left < 0)
				left = 0;
			ts.tv_sec = left / 1000000000;
			ts.tv_nsec = left % 1000000000;
			tsp = &ts;
		}
		n = epoll_pwait2(u->outfd, evs, 2, tsp, NULL);
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u64 == UB_KICK &&
			    read(u->kickfd, &v, sizeof(v)) < 0) {
				/* Raced with another read. */
			}
		}
		ub_drain_set(u);
		next = ub_timers(u);
	}
	return NULL;
}

/*
 * Readiness travels through the epoll set, so it may not be in the
 * modes yet when a call decides (the module's hook records it inside
 * the file's wake-up).  A call that decides anything from the modes
 * first takes what the set holds (ub_drain_set): one epoll_wait() that
 * returns at once, and the outcome is the module's.
 */
static void ub_catch_up(struct ub_poller *u)
{
	ub_drain_set(u);
}

/* ---- the operations ---- */

static int ub_open(struct np_poller *p, int fd, uint64_t user, __u64 *h)
{
	struct ub_poller *u = ub_of(p);
	struct epoll_event ev;
	struct ub_desc *d;
	struct statfs sfs;
	struct stat st;
	int fl, ret;

	if (ub_forked(u))
		return -EBADF;
	if (fstat(fd, &st) < 0 || fstatfs(fd, &sfs) < 0)
		return -errno;
	if (np_is_poll_descriptor(fd))
		return -EINVAL;
	/*
	 * epoll takes /proc files, whose poll hands over no wait queue;
	 * the module refuses them.
	 */
	if (sfs.f_type == PROC_SUPER_MAGIC)
		return -EPERM;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	pthread_mutex_lock(&u->slock);
	ret = ub_files_find(u, fd, &st);
	if (ret) {
		pthread_mutex_unlock(&u->slock);
		return ret;
	}
	d = slot_alloc(u);
	if (!d) {
		pthread_mutex_unlock(&u->slock);
		return -ENOMEM;
	}
	d->rfd = ub_dup(fd);
	d->wfd = d->rfd < 0 ? -1 : ub_dup(fd);
	ret = d->wfd < 0 ? -errno : ub_files_add(u, d, &st);
	if (ret) {
		if (d->rfd >= 0)
			close(d->rfd);
		if (d->wfd >= 0)
			close(d->wfd);
		d->fnext = u->free;
		u->free = d;
		pthread_mutex_unlock(&u->slock);
		return ret;
	}
	pthread_mutex_unlock(&u->slock);

	pthread_mutex_lock(&d->lock);
	d->open = true;
	d->closing = false;
	d->everr = false;
	d->user = user;
	d->queued = 0;
	d->forgotten = false;
	for (int m = 0; m < 2; m++) {
		struct ub_mode *md = &d->m[m];

		md->state = UB_IDLE;
		md->ready = false;
		md->canceled = false;
		md->waiter = NULL;
		md->when = 0;
		md->seq = 0;
		md->hidx = 0;
	}
	pthread_mutex_unlock(&d->lock);

	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
	ev.data.u64 = ub_handle(d);
	ret = epoll_ctl(u->epfd, EPOLL_CTL_ADD, d->rfd, &ev) < 0 ? -errno : 0;
	if (!ret) {
		ev.events = EPOLLOUT | EPOLLET;
		ev.data.u64 = ub_handle(d) | UB_WRITE_ITEM;
		if (epoll_ctl(u->epfd, EPOLL_CTL_ADD, d->wfd, &ev) < 0)
			ret = -errno;
	}
	if (ret) {
		if (ret == -ENOSPC)
			ret = -ENOMEM;
		pthread_mutex_lock(&d->lock);
		d->open = false;
		d->gen++;
		pthread_mutex_unlock(&d->lock);
		/* The file stays open through @fd: take its items out. */
		epoll_ctl(u->epfd, EPOLL_CTL_DEL, d->rfd, NULL);
		epoll_ctl(u->epfd, EPOLL_CTL_DEL, d->wfd, NULL);
		pthread_mutex_lock(&u->slock);
		ub_files_del(u, d);
		pthread_mutex_unlock(&u->slock);
		close(d->rfd);
		close(d->wfd);
		slot_free(u, d);
		return ret;
	}
	if (!(fl & O_NONBLOCK))
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	atomic_fetch_add(&u->descs, 1);
	/* The initial readiness, as NPOLL_IOC_OPEN computes it. */
	ub_catch_up(u);
	*h = ub_handle(d);
	return 0;
}

static int ub_close(struct np_poller *p, __u64 h)
{
	struct ub_poller *u = ub_of(p);
	struct ub_desc *d;

	if (ub_forked(u))
		return -EBADF;
	d = ub_lock(u, h);
	if (!d)
		return -EBADF;
	d->closing = true;
	d->open = false;
	d->gen++;
	pthread_mutex_lock(&u->tlock);
	for (int i = 0; i < 2; i++)
		heap_del(u, &d->m[i]);
	pthread_mutex_unlock(&u->tlock);
	for (int i = 0; i < 2; i++) {
		struct ub_mode *m = &d->m[i];

		if (m->state == UB_PARKED) {
			/* The waiter sees the generation changed. */
			if (m->waiter)
				ub_wake(m, 2);
			m->state = UB_IDLE;
			atomic_fetch_sub(&u->waiters, 1);
		} else if (m->state == UB_ARMED) {
			ub_fire(u, m, NP_ERR_CLOSING);
		} else if (m->state == UB_FIRED) {
			pthread_mutex_lock(&u->evlock);
			m->result = NP_ERR_CLOSING;
			pthread_mutex_unlock(&u->evlock);
		}
	}
	pthread_mutex_unlock(&d->lock);
	epoll_ctl(u->epfd, EPOLL_CTL_DEL, d->rfd, NULL);
	epoll_ctl(u->epfd, EPOLL_CTL_DEL, d->wfd, NULL);
	atomic_fetch_sub(&u->descs, 1);
	pthread_mutex_lock(&u->slock);
	ub_files_del(u, d);
	pthread_mutex_unlock(&u->slock);
	return 0;
}

/*
 * The library freed the descriptor of (closed) handle @h: no call uses
 * the duplicates any more, so the file is released now.  The slot goes
 * back to the table once its queued events are harvested.
 */
static void ub_forget(struct np_poller *p, __u64 h)
{
	struct ub_poller *u = ub_of(p);
	struct ub_desc *d = ub_slot(u, (uint32_t)h);
	bool release;

	if (!d)
		return;
	close(d->rfd);
	close(d->wfd);
	if (ub_forked(u))
		return;
	pthread_mutex_lock(&d->lock);
	d->forgotten = true;
	release = d->queued == 0;
	pthread_mutex_unlock(&d->lock);
	if (release)
		slot_free(u, d);
}

static int ub_unblock(struct np_poller *p, __u64 h)
{
	struct ub_poller *u = ub_of(p);
	struct ub_desc *d;

	if (ub_forked(u))
		return -EBADF;
	ub_catch_up(u);
	d = ub_lock(u, h);
	if (!d)
		return -EBADF;
	if (!d->closing) {
		d->closing = true;
		for (int i = 0; i < 2; i++)
			ub_poke(u, &d->m[i], NP_ERR_CLOSING);
	}
	pthread_mutex_unlock(&d->lock);
	return 0;
}

/*
 * A parked wait of @m (locked, its slot's generation @gen): sleep on a
 * word of our own until a waker sets it, then decide again.
 */
static int ub_park(struct ub_poller *u, struct ub_desc *d, struct ub_mode *m,
		   uint32_t gen)
{
	struct ub_waiter w = { .fd = ub_thread_fd() };
	sigset_t all, mask;
	unsigned int how;
	int err, r, cancel;

	/*
	 * ppoll() is a cancellation point, and a thread cancelled in it
	 * would leave its waiter (on its stack) named in the mode: the park
	 * is not one, as the module's ioctl is not.
	 */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	/*
	 * From here on, before the wait is even counted, a signal waits for
	 * ub_sleep()'s ppoll().
	 */
	if (w.fd >= 0) {
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &mask);
	}
	m->state = UB_PARKED;
	atomic_fetch_add(&u->waiters, 1);
	for (;;) {
		atomic_init(&w.word, 0);
		m->waiter = &w;
		pthread_mutex_unlock(&d->lock);
		err = 0;
		if (w.fd >= 0)
			err = ub_sleep(&w, &mask);
		else
			while (atomic_load(&w.word) == 0 && err != EINTR)
				ub_futex_wait(&w.word, 0, &err);
		pthread_mutex_lock(&d->lock);
		how = atomic_load(&w.word);
		if (d->gen != gen) {
			/* Closed: np_close took the mode back. */
			r = NP_ERR_CLOSING;
			break;
		}
		if (how == 0) {
			m->waiter = NULL;
			r = -EINTR;
			goto out_leave;
		}
		if (how == 1) {
			r = NP_OK;
			goto out_leave;
		}
		/* Woken by a possible error: Go's netpollcheckerr again. */
		r = m->canceled ? -1 : ub_checkerr(m);
		if (r >= 0)
			goto out_leave;
		if (m->ready) {
			m->ready = false;
			r = NP_OK;
			goto out_leave;
		}
	}
	pthread_mutex_unlock(&d->lock);
	goto out;

out_leave:
	m->state = UB_IDLE;
	m->canceled = false;
	atomic_fetch_sub(&u->waiters, 1);
	pthread_mutex_unlock(&d->lock);
out:
	if (w.fd >= 0)
		pthread_sigmask(SIG_SETMASK, &mask, NULL);
	pthread_setcancelstate(cancel, NULL);
	return r;
}

static int ub_mode_call(struct np_poller *p, unsigned long cmd, __u64 h,
			int mode, uint32_t flags)
{
	struct ub_poller *u = ub_of(p);
	struct ub_desc *d;
	struct ub_mode *m;
	bool canceled = flags & NPOLL_WAIT_CANCELED;
	int r;

	if (ub_forked(u))
		return -EBADF;
	if (mode != NP_READ && mode != NP_WRITE)
		return -EINVAL;
	if (cmd == NPOLL_IOC_WAIT ? (flags & ~NPOLL_WAIT_CANCELED) : flags)
		return -EINVAL;
	ub_catch_up(u);
	d = ub_lock(u, h);
	if (!d)
		return -EBADF;
	m = &d->m[mode - 1];
	r = canceled ? -1 : ub_checkerr(m);
	if (r >= 0)
		goto out;
	if (cmd == NPOLL_IOC_RESET) {
		m->ready = false;
		r = NP_OK;
		goto out;
	}
	if (m->state != UB_IDLE) {
		r = -EBUSY;
		goto out;
	}
	if (m->ready) {
		m->ready = false;
		r = NP_OK;
		goto out;
	}
	if (cmd == NPOLL_IOC_ARM) {
		m->state = UB_ARMED;
		atomic_fetch_add(&u->armed, 1);
		r = NP_PENDING;
		goto out;
	}
	m->canceled = canceled;
	return ub_park(u, d, m, d->gen);
out:
	pthread_mutex_unlock(&d->lock);
	return r;
}

/* Apply a deadline change of one mode of locked @d. */
static int ub_deadline_locked(struct ub_poller *u, struct ub_desc *d,
			      int mode, int64_t when, uint64_t seq)
{
	struct ub_mode *m = &d->m[mode - 1];
	int ret = 0;

	if (d->closing || seq <= m->seq)
		return 0;
	m->seq = seq;
	m->when = when;
	pthread_mutex_lock(&u->tlock);
	if (when && when > ub_now()) {
		ret = heap_put(u, m);
		if (!ret && when < u->bound) {
			u->bound = when;
			ub_kick(u);
		}
	} else {
		heap_del(u, m);
	}
	pthread_mutex_unlock(&u->tlock);
	if (when && when <= ub_now())
		ub_poke(u, m, NP_ERR_TIMEOUT);
	return ret;
}

static int ub_set_deadline(struct np_poller *p, __u64 h, int mode,
			   int64_t when, uint64_t seq)
{
	struct ub_poller *u = ub_of(p);
	struct ub_desc *d;
	int ret = 0;

	if (ub_forked(u))
		return -EBADF;
	if (mode <= 0 || (mode & ~NP_RW))
		return -EINVAL;
	/* An expiry must not overtake readiness that came before it. */
	if (when && when <= ub_now())
		ub_catch_up(u);
	d = ub_lock(u, h);
	if (!d)
		return -EBADF;
	for (int m = NP_READ; m <= NP_WRITE && !ret; m++)
		if (mode & m)
			ret = ub_deadline_locked(u, d, m, when, seq);
	pthread_mutex_unlock(&d->lock);
	return ret;
}

/*
 * NPOLL_IOC_IO in user space: the deadline change, the mode's error,
 * then non-blocking recv()/send() and a wait on EAGAIN.
 */
static ssize_t ub_io(struct np_poller *p, __u64 h, int mode, const void *buf,
		     size_t len, const struct np_dl_change *dl)
{
	struct ub_poller *u = ub_of(p);
	struct ub_desc *d;
	ssize_t n;
	int r, fd;

	if (ub_forked(u))
		return -EBADF;
	d = ub_lock(u, h);
	if (!d)
		return -EBADF;
	if (dl->set)
		ub_deadline_locked(u, d, mode, dl->when, dl->seq);
	fd = d->rfd;
	pthread_mutex_unlock(&d->lock);
	if (len > UB_MAX_RW)
		len = UB_MAX_RW;
	r = ub_mode_call(p, NPOLL_IOC_RESET, h, mode, 0);
	for (;;) {
		if (r)
			return r < 0 ? r : np_errno(r);
		if (mode == NP_READ)
			n = recv(fd, (void *)buf, len, MSG_DONTWAIT);
		else
			n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n >= 0)
			return n;
		if (errno == ENOTSOCK)
			return -EOPNOTSUPP;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		r = ub_mode_call(p, NPOLL_IOC_WAIT, h, mode, 0);
	}
}

/*
 * The number of queued events a harvest may take into @ev, at most
 * @max: @ev is checked to be writable first, so that a fault costs no
 * event (the module's -EFAULT).  Under @evlock.
 */
static int ub_room(struct np_event *ev, int max, int queued)
{
	static const struct np_event zero[64];
	struct iovec local[16], remote;
	int n = queued < max ? queued : max;
	int cnt = n < 16 * 64 ? n : 16 * 64, done = 0;

	if (n <= 0)
		return 0;
	while (done < cnt) {
		int k = 0, bytes = 0;

		while (k < 16 && done + bytes / (int)sizeof(*ev) < cnt) {
			int e = cnt - done - bytes / (int)sizeof(*ev);

			e = e < 64 ? e : 64;
			local[k].iov_base = (void *)zero;
			local[k].iov_len = (size_t)e * sizeof(*ev);
			bytes += e * (int)sizeof(*ev);
			k++;
		}
		remote.iov_base = ev + done;
		remote.iov_len = (size_t)bytes;
		if (process_vm_writev(getpid(), local, (unsigned long)k,
				      &remote, 1, 0) != bytes) {
			if (errno == EFAULT)
				return -EFAULT;
			return cnt;	/* cannot check: trust the caller */
		}
		done += bytes / (int)sizeof(*ev);
	}
	return cnt;
}

/* Take up to @max events, the modes in turn; their count or -EFAULT. */
static int ub_harvest(struct ub_poller *u, struct np_event *ev, int max)
{
	struct ub_mode *batch[64];
	int room, n = 0, got = 0;

	/* Readiness before the call decides a re-checked timeout. */
	ub_catch_up(u);
	pthread_mutex_lock(&u->evlock);
	/* At most a batch: the array is written no further than that. */
	room = ub_room(ev, max < 64 ? max : 64, (int)atomic_load(&u->events));
	if (room < 0) {
		pthread_mutex_unlock(&u->evlock);
		return room;
	}
	while (n < room && (u->evhead[0] || u->evhead[1])) {
		int i = u->turn;
		struct ub_mode *m;

		if (!u->evhead[i])
			i ^= 1;
		m = u->evhead[i];
		u->evhead[i] = m->evnext;
		if (!u->evhead[i])
			u->evtail[i] = NULL;
		batch[n++] = m;
		u->turn = i ^ 1;
	}
	if (!u->evhead[0] && !u->evhead[1])
		ub_evfd_drain(u);
	pthread_mutex_unlock(&u->evlock);

	for (int i = 0; i < n; i++) {
		struct ub_mode *m = batch[i];
		struct ub_desc *d = m->d;
		bool release = false;
		int r;

		pthread_mutex_lock(&d->lock);
		r = m->result;
		if (d->gen != m->evgen) {
			/* Closed since: delivered as closing. */
			r = NP_ERR_CLOSING;
			release = --d->queued == 0 && d->forgotten;
		} else {
			d->queued--;
			if (r == NP_ERR_TIMEOUT && d->closing) {
				r = NP_ERR_CLOSING;
			} else if (r == NP_ERR_TIMEOUT &&
				   !(m->when && m->when <= ub_now())) {
				/* Deadline moved: no timeout. */
				if (m->ready) {
					m->ready = false;
					r = NP_OK;
				} else {
					r = -1;
				}
			}
			m->state = r < 0 ? UB_ARMED : UB_IDLE;
			if (r < 0)
				atomic_fetch_add(&u->armed, 1);
		}
		pthread_mutex_unlock(&d->lock);
		atomic_fetch_sub(&u->events, 1);
		if (release)
			slot_free(u, d);
		if (r < 0)
			continue;
		ev[got].user = d->user;
		ev[got].mode = m->mode;
		ev[got].result = r;
		got++;
	}
	return got;
}

static bool ub_take_break(struct ub_poller *u)
{
	uint64_t v;

	return read(u->brkfd, &v, sizeof(v)) == sizeof(v);
}

static int ub_poll(struct np_poller *p, struct np_event *ev, int max,
		   int64_t timeout_ns)
{
	struct ub_poller *u = ub_of(p);
	int64_t end = 0, left;
	struct pollfd pf[2] = {
		{ .fd = u->evfd, .events = POLLIN },
		{ .fd = u->brkfd, .events = POLLIN },
	};
	struct timespec ts;
	sigset_t all, mask;
	bool brk, masked = false;
	int n;

	if (ub_forked(u))
		return -EBADF;
	if (timeout_ns > 0)
		end = ub_now() + (timeout_ns > INT64_MAX / 2 ? INT64_MAX / 2 :
							     timeout_ns);
	for (;;) {
		brk = timeout_ns != 0 && ub_take_break(u);
		n = ub_harvest(u, ev, max);
		if (n != 0 || brk || timeout_ns == 0)
			break;
		if (!masked) {
			/*
			 * It will sleep: signals wait for ppoll() from here
			 * on (see ub_sleep()), and the lists are looked at
			 * once more.
			 */
			sigfillset(&all);
			pthread_sigmask(SIG_BLOCK, &all, &mask);
			masked = true;
			continue;
		}
		left = -1;
		if (timeout_ns > 0) {
			left = end - ub_now();
			if (left <= 0) {
				n = 0;
				break;
			}
			ts.tv_sec = left / 1000000000;
			ts.tv_nsec = left % 1000000000;
		}
		if (ppoll(pf, 2, left < 0 ? NULL : &ts, &mask) < 0 &&
		    errno == EINTR) {
			n = -EINTR;
			break;
		}
	}
	if (masked)
		pthread_sigmask(SIG_SETMASK, &mask, NULL);
	return n;
}

static int ub_break(struct np_poller *p)
{
	struct ub_poller *u = ub_of(p);
	uint64_t one = 1;

	if (ub_forked(u))
		return -EBADF;
	if (write(u->brkfd, &one, sizeof(one)) < 0) {
		/* A break is already pending. */
	}
	return 0;
}

static int ub_stats(struct np_poller *p, struct npoll_stats *st)
{
	struct ub_poller *u = ub_of(p);

	if (ub_forked(u))
		return -EBADF;
	/*
	 * Count the readiness that happened before the call, as the
	 * module's counters do.
	 */
	ub_catch_up(u);
	st->descs = atomic_load(&u->descs);
	st->waiters = atomic_load(&u->waiters);
	st->armed = atomic_load(&u->armed);
	st->events = atomic_load(&u->events);
	return 0;
}

static bool ub_net_admin(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data) < 0)
		return false;
	return data[CAP_NET_ADMIN / 32].effective &
	       (1U << (CAP_NET_ADMIN % 32));
}

/* Kept and returned, with the module's checks; nothing spins. */
static int ub_busy_poll(struct np_poller *p, bool set,
			struct npoll_busy_poll *bp)
{
	struct ub_poller *u = ub_of(p);

	if (ub_forked(u))
		return -EBADF;
	if (set) {
		if (bp->pad || bp->prefer > 1 || bp->usecs > INT_MAX)
			return -EINVAL;
		if (bp->budget > 64 && !ub_net_admin())
			return -EPERM;
	}
	pthread_mutex_lock(&u->bplock);
	if (set)
		u->bp = *bp;
	else
		*bp = u->bp;
	pthread_mutex_unlock(&u->bplock);
	return 0;
}

static void ub_release(struct np_poller *p)
{
	struct ub_poller *u = ub_of(p);
	bool forked = ub_forked(u);

	/* A child has no thread to stop, and leaves its locks alone. */
	if (!forked) {
		atomic_store(&u->stop, true);
		ub_kick(u);
		pthread_join(u->thread, NULL);
	}
	close(u->outfd);
	close(u->epfd);
	close(u->kickfd);
	close(u->evfd);
	close(u->brkfd);
	for (uint32_t c = 0; c < UB_CHUNKS; c++) {
		struct ub_desc *s = atomic_load(&u->dir[c]);

		if (!s)
			continue;
		for (uint32_t i = 0; i < UB_CHUNK && !forked; i++)
			pthread_mutex_destroy(&s[i].lock);
		free(s);
	}
	free(u->heap);
	for (uint32_t b = 0; b < UB_HASH; b++) {
		while (u->hash[b]) {
			struct ub_group *g = u->hash[b];

			u->hash[b] = g->next;
			free(g);
		}
	}
	if (!forked) {
		pthread_mutex_destroy(&u->slock);
		pthread_mutex_destroy(&u->tlock);
		pthread_mutex_destroy(&u->evlock);
		pthread_mutex_destroy(&u->bplock);
		pthread_mutex_destroy(&u->emx);
	}
	free(u);
	p->ub = NULL;
}

const struct np_backend np__user_backend = {
	.kind = NP_BACKEND_USER,
	.open = ub_open,
	.close = ub_close,
	.unblock = ub_unblock,
	.mode = ub_mode_call,
	.set_deadline = ub_set_deadline,
	.io = ub_io,
	.poll = ub_poll,
	.brk = ub_break,
	.stats = ub_stats,
	.busy_poll = ub_busy_poll,
	.forget = ub_forget,
	.release = ub_release,
};

/* Set up @p's user-space poller: 0 or -errno; @p->fd is its event fd. */
int np__ub_init(struct np_poller *p)
{
	struct ub_poller *u = calloc(1, sizeof(*u));
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = UB_KICK };
	sigset_t all, old;
	int ret;

	if (!u)
		return -ENOMEM;
	pthread_once(&ub_fork_once, ub_fork_init);
	u->forks = atomic_load_explicit(&ub_forks, memory_order_relaxed);
	pthread_mutex_init(&u->slock, NULL);
	pthread_mutex_init(&u->tlock, NULL);
	pthread_mutex_init(&u->evlock, NULL);
	pthread_mutex_init(&u->bplock, NULL);
	pthread_mutex_init(&u->emx, NULL);
	u->bound = INT64_MAX;
	u->seed = 0x9e3779b9;
	u->outfd = epoll_create1(EPOLL_CLOEXEC);
	u->epfd = epoll_create1(EPOLL_CLOEXEC);
	u->kickfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	u->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	u->brkfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ret = -errno;
	if (u->outfd < 0 || u->epfd < 0 || u->kickfd < 0 || u->evfd < 0 ||
	    u->brkfd < 0)
		goto fail;
	if (epoll_ctl(u->outfd, EPOLL_CTL_ADD, u->kickfd, &ev) < 0) {
		ret = -errno;
		goto fail;
	}
	ev.data.u64 = 0;
	if (epoll_ctl(u->outfd, EPOLL_CTL_ADD, u->epfd, &ev) < 0) {
		ret = -errno;
		goto fail;
	}
	/* Signals are the program's threads' business, not ours. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&u->thread, NULL, ub_thread, u);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		goto fail;
	p->ub = u;
	p->fd = u->evfd;
	return 0;
fail:
	if (u->outfd >= 0)
		close(u->outfd);
	if (u->epfd >= 0)
		close(u->epfd);
	if (u->kickfd >= 0)
		close(u->kickfd);
	if (u->evfd >= 0)
		close(u->evfd);
	if (u->brkfd >= 0)
		close(u->brkfd);
	pthread_mutex_destroy(&u->slock);
	pthread_mutex_destroy(&u->tlock);
	pthread_mutex_destroy(&u->evlock);
	pthread_mutex_destroy(&u->bplock);
	pthread_mutex_destroy(&u->emx);
	free(u);
	return ret ? ret : -ENOMEM;
}
