// SPDX-License-Identifier: MIT
/*
 * npoll-mn: an M:N example.  A small coroutine scheduler on npoll's
 * scheduler mode (np_arm, np_poll, np_break) serves many connections
 * from one thread, as Go's runtime does with goroutines and netpoll.
 *
 * Each connection is a coroutine written as blocking code: mn_read()
 * and mn_write() try the non-blocking syscall and, on EAGAIN, np_arm()
 * the descriptor and switch to the scheduler.  The scheduler runs every
 * runnable coroutine, then blocks in np_poll() and makes runnable the
 * coroutines whose outcome came back: readiness (NP_OK), their read
 * deadline (NP_ERR_TIMEOUT) or shutdown (NP_ERR_CLOSING).  Each
 * coroutine has its own deadlines (np_set_deadline_at), which fire as
 * events: no timer wheel in user space.  Another thread stops the
 * scheduler with np_break(); it then np_unblock()s every descriptor.
 *
 *   npoll-mn [-a ADDR] [-p PORT] [--idle-timeout MS] [--msg-timeout MS]
 *            [--duration SEC]
 *	a TCP server for the sockperf client (spmsg.h), like
 *	npoll-gateway but with a coroutine per connection on one thread;
 *   npoll-mn --selftest N [--rounds R]
 *	opens N socket pairs and serves them from one scheduler thread
 *	while a second scheduler on the main thread drives the client
 *	ends; some connections go idle, some stall mid-message and some
 *	stay open until the shutdown.  Checks every reply and how every
 *	connection ended; exits non-zero on any mismatch.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <npoll.h>

#include "gateway.h"

#define PROG		"npoll-mn"
#define STACK_SIZE	(32 * 1024)
#define MAX_EVENTS	1024

/* ---- coroutines ------------------------------------------------------ */

/*
 * struct co - a coroutine: its own stack, and a saved stack pointer
 * while it does not run.  @result is what its last wait returned.
 */
struct co {
	struct co *next;		/* in the run queue */
	void *sp;
	void *stack;			/* mapping, guard page included */
	size_t map_len;
	void (*fn)(void *arg);
	void *arg;
	int result;
	bool done;
#ifndef MN_ASM_SWITCH
	ucontext_t uc;			/* what @sp points to */
#endif
};

/*
 * Switching stacks.  co_switch(save, load) saves the running context
 * where *save says and resumes the one *load says: the call "returns"
 * into the other context.
 *
 * On x86-64 it pushes the callee-saved registers, stores the stack
 * pointer in *save, loads *load and pops the registers saved there:
 * nothing else needs saving across a call in the SysV ABI, and a switch
 * costs a dozen instructions.  Elsewhere (or built with
 * -DMN_UCONTEXT) *save and *load point to a ucontext_t and the switch
 * is swapcontext(), which also saves the signal mask: a system call
 * per switch, the same behaviour.
 */
#if defined(__x86_64__) && !defined(MN_UCONTEXT)
#define MN_ASM_SWITCH 1
void co_switch(void **save, void **load);
__asm__(".text\n"
	".p2align 4\n"
	".type co_switch, @function\n"
	"co_switch:\n"
	"	pushq %rbp\n"
	"	pushq %rbx\n"
	"	pushq %r12\n"
	"	pushq %r13\n"
	"	pushq %r14\n"
	"	pushq %r15\n"
	"	movq %rsp, (%rdi)\n"
	"	movq (%rsi), %rsp\n"
	"	popq %r15\n"
	"	popq %r14\n"
	"	popq %r13\n"
	"	popq %r12\n"
	"	popq %rbx\n"
	"	popq %rbp\n"
	"	ret\n"
	".size co_switch, .-co_switch\n");
#else
#include <ucontext.h>

static void co_switch(void **save, void **load)
{
	if (swapcontext(*save, *load)) {
		perror("swapcontext");
		abort();
	}
}
#endif

/*
 * struct mn_fd - a file registered with a scheduler's poller; its
 * address is the np_open() cookie, so an event finds the coroutine
 * waiting in its mode.
 */
struct mn_fd {
	int fd;
	np_desc *pd;
	struct co *waiter[2];		/* NP_READ - 1, NP_WRITE - 1 */
};

/*
 * struct sched - one scheduler thread
 * @stop:     set by any thread, with np_break(), to ask for shutdown
 * @on_stop:  run once in the scheduler's context when @stop is seen
 */
struct sched {
	np_poller *poller;
	struct co *head, *tail;		/* run queue */
	struct co *cur;
	void *sp;			/* the scheduler's own context */
#ifndef MN_ASM_SWITCH
	ucontext_t uc;			/* what @sp points to */
#endif
	unsigned long live;		/* coroutines not yet finished */
	atomic_bool stop;
	bool stopped;
	void (*on_stop)(struct sched *s);
	void *priv;
	/* counters */
	unsigned long switches, polls, events, max_batch;
	struct np_event ev[MAX_EVENTS];
};

static __thread struct sched *this_sched;

static void runq_push(struct sched *s, struct co *co)
{
	co->next = NULL;
	if (s->tail)
		s->tail->next = co;
	else
		s->head = co;
	s->tail = co;
}

static struct co *runq_pop(struct sched *s)
{
	struct co *co = s->head;

	if (co) {
		s->head = co->next;
		if (!s->head)
			s->tail = NULL;
	}
	return co;
}

/* First code of every coroutine, entered by co_switch()'s return. */
static void __attribute__((noreturn)) co_entry(void)
{
	struct sched *s = this_sched;
	struct co *co = s->cur;

	co->fn(co->arg);
	co->done = true;
	co_switch(&co->sp, &s->sp);
	__builtin_unreachable();
}

/* A runnable coroutine that will call @fn(@arg) on its own stack. */
static int co_spawn(struct sched *s, void (*fn)(void *), void *arg)
{
	long page = sysconf(_SC_PAGESIZE);
	struct co *co = calloc(1, sizeof(*co));
	uintptr_t *top;

	if (!co)
		return -ENOMEM;
	co->map_len = STACK_SIZE + (size_t)page;
	co->stack = mmap(NULL, co->map_len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (co->stack == MAP_FAILED) {
		free(co);
		return -ENOMEM;
	}
	/* The lowest page stays unmapped: an overflow faults. */
	mprotect(co->stack, (size_t)page, PROT_NONE);
	co->fn = fn;
	co->arg = arg;

#ifdef MN_ASM_SWITCH
	/*
	 * The frame co_switch() pops: six registers, then co_entry as the
	 * return address, above it a zero "caller" address, so that
	 * co_entry starts with the stack aligned as after a call.
	 */
	top = (uintptr_t *)((char *)co->stack + co->map_len);
	*--top = 0;
	*--top = (uintptr_t)co_entry;
	top -= 6;
	memset(top, 0, 6 * sizeof(*top));
	co->sp = top;
#else
	(void)top;
	if (getcontext(&co->uc)) {
		munmap(co->stack, co->map_len);
		free(co);
		return -errno;
	}
	co->uc.uc_stack.ss_sp = (char *)co->stack + page;
	co->uc.uc_stack.ss_size = STACK_SIZE;
	co->uc.uc_link = NULL;	/* co_entry() never returns */
	makecontext(&co->uc, co_entry, 0);
	co->sp = &co->uc;
#endif

	s->live++;
	runq_push(s, co);
	return 0;
}

static void co_free(struct co *co)
{
	munmap(co->stack, co->map_len);
	free(co);
}

/* Switch from the running coroutine back to its scheduler. */
static void co_park(void)
{
	struct sched *s = this_sched;

	co_switch(&s->cur->sp, &s->sp);
}

/*
 * Block the running coroutine until @f is ready in @mode, its deadline
 * expires or it is unblocked: NP_OK, NP_ERR_* or -errno.  np_arm()
 * decides at once when it can; otherwise the outcome comes as an event.
 */
static int mn_wait(struct mn_fd *f, int mode)
{
	struct sched *s = this_sched;
	int r = np_arm(f->pd, mode);

	if (r != NP_PENDING)
		return r;
	f->waiter[mode - 1] = s->cur;
	co_park();
	return s->cur->result;
}

/* read(), blocking the coroutine (not the thread) until data comes. */
static ssize_t mn_read(struct mn_fd *f, void *buf, size_t len)
{
	ssize_t n;
	int r;

	for (;;) {
		n = read(f->fd, buf, len);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		r = np_errno(mn_wait(f, NP_READ));
		if (r)
			return r;
	}
}

/* The whole buffer, blocking the coroutine while the socket is full. */
static ssize_t mn_write(struct mn_fd *f, const void *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;
	int r;

	while (done < len) {
		n = write(f->fd, (const char *)buf + done, len - done);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || errno != EAGAIN)
			return done ? (ssize_t)done : (n ? -errno : -EIO);
		r = np_errno(mn_wait(f, NP_WRITE));
		if (r)
			return done ? (ssize_t)done : r;
	}
	return (ssize_t)done;
}

static int mn_fd_open(struct sched *s, struct mn_fd *f, int fd)
{
	f->fd = fd;
	f->waiter[0] = f->waiter[1] = NULL;
	return np_open(s->poller, fd, (uint64_t)(uintptr_t)f, &f->pd);
}

/*
 * np_close() only when no mode of @f is armed (every coroutine that
 * waits on @f has returned from mn_wait): an event could otherwise come
 * back for memory the caller frees.
 */
static void mn_fd_close(struct mn_fd *f)
{
	np_close(f->pd);
	f->pd = NULL;
}

/* Ask @s, from any thread, to shut down. */
static void sched_request_stop(struct sched *s)
{
	atomic_store(&s->stop, true);
	np_break(s->poller);
}

static int sched_init(struct sched *s)
{
	memset(s, 0, sizeof(*s));
#ifndef MN_ASM_SWITCH
	s->sp = &s->uc;
#endif
	return np_poller_open(&s->poller);
}

/* Run coroutines until every one has finished; 0 or -errno of np_poll. */
static int sched_run(struct sched *s)
{
	struct mn_fd *f;
	struct co *co;
	int i, n;

	this_sched = s;
	while (s->live) {
		while ((co = runq_pop(s))) {
			s->cur = co;
			s->switches++;
			co_switch(&s->sp, &co->sp);
			s->cur = NULL;
			if (co->done) {
				co_free(co);
				s->live--;
			}
		}
		if (atomic_load(&s->stop) && !s->stopped) {
			s->stopped = true;
			if (s->on_stop)
				s->on_stop(s);
			continue;
		}
		if (!s->live)
			break;
		n = np_poll(s->poller, s->ev, MAX_EVENTS, -1);
		s->polls++;
		if (n == -EINTR)
			continue;
		if (n < 0)
			return n;
		s->events += (unsigned long)n;
		if ((unsigned long)n > s->max_batch)
			s->max_batch = (unsigned long)n;
		for (i = 0; i < n; i++) {
			f = (struct mn_fd *)(uintptr_t)s->ev[i].user;
			co = f->waiter[s->ev[i].mode - 1];
			f->waiter[s->ev[i].mode - 1] = NULL;
			if (!co)
				continue;
			co->result = s->ev[i].result;
			runq_push(s, co);
		}
	}
	return 0;
}

/* ---- the connection coroutine (the server side) ---------------------- */

/*
 * struct conn - a served connection.  @deadline and @woke record the
 * read deadline that ended it, if one did, and when it was seen: the
 * self-test checks that no deadline fired early.
 */
struct conn {
	struct mn_fd f;
	struct conn *prev, *next;	/* open connections of the server */
	struct server *srv;
	int64_t first_ns;		/* to wait for the first message */
	int64_t idle_ns, msg_ns;
	int64_t deadline, woke;
	long end;			/* 0 end of stream, else -errno */
	struct gw_stats st;
	bool owned;			/* freed by the server when it ends */
};

struct server {
	struct sched s;
	struct conn *open;		/* connections not yet closed */
	struct mn_fd listener;
	bool listening;
	int64_t idle_ns, msg_ns;
	struct gw_stats total;		/* of ended connections */
	unsigned long accepted;
};

static void conn_link(struct server *srv, struct conn *c)
{
	c->srv = srv;
	c->prev = NULL;
	c->next = srv->open;
	if (srv->open)
		srv->open->prev = c;
	srv->open = c;
}

static void conn_unlink(struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		c->srv->open = c->next;
	if (c->next)
		c->next->prev = c->prev;
}

/*
 * The whole of @p: 0 or -errno.  mn_write() returns a short count when it
 * fails after part of the buffer went out; the next call reports why.
 */
static ssize_t write_all(struct conn *c, const unsigned char *p, size_t len)
{
	ssize_t w;

	while (len) {
		w = mn_write(&c->f, p, len);
		if (w < 0)
			return w;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Answer the whole messages at the start of @buf, as npoll-gateway. */
static long serve_buffered(struct conn *c, unsigned char *buf, size_t have)
{
	struct spmsg_hdr h;
	size_t off = 0;
	ssize_t w;
	long len;

	while ((len = spmsg_complete(buf + off, have - off, &h)) > 0) {
		c->st.msgs++;
		if (spmsg_wants_reply(&h)) {
			spmsg_make_reply(buf + off, &h);
			w = write_all(c, buf + off, (size_t)len);
			if (w < 0)
				return w;
			c->st.replies++;
		}
		off += (size_t)len;
	}
	return len < 0 ? -EPROTO : (long)off;
}

/* Set the read deadline @d ns from now (0: none), remembering it. */
static void conn_deadline(struct conn *c, int64_t d)
{
	if (!d && !c->deadline)
		return;
	c->deadline = d ? gw_now_ns() + d : 0;
	np_set_deadline_at(c->f.pd, c->deadline, NP_READ);
}

/*
 * The body of every connection: as npoll-gateway's thread, with the
 * idle timeout between messages and the per-message deadline once a
 * message has begun.  The buffer starts small and grows to the longest
 * message seen.
 */
static void conn_main(void *arg)
{
	struct conn *c = arg;
	size_t have = 0, cap = 512;
	unsigned char *buf = malloc(cap), *nb;
	bool in_msg = false;
	ssize_t n = -ENOMEM;
	struct spmsg_hdr h;
	long used;

	c->st.conns = 1;
	while (buf) {
		if (have == 0) {
			conn_deadline(c, c->st.msgs ? c->idle_ns : c->first_ns);
			in_msg = false;
		} else if (!in_msg) {
			conn_deadline(c, c->msg_ns);
			in_msg = true;
		}
		if (have == cap) {
			/* The header says how long the message is. */
			if (spmsg_complete(buf, have, &h) < 0 ||
			    cap >= SPMSG_BUF_LEN) {
				n = -EPROTO;
				break;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				n = -ENOMEM;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		n = mn_read(&c->f, buf + have, cap - have);
		if (n <= 0)
			break;
		c->st.bytes += (uint64_t)n;
		have += (size_t)n;
		used = serve_buffered(c, buf, have);
		if (used < 0) {
			n = used;
			break;
		}
		if (used > 0) {
			have -= (size_t)used;
			memmove(buf, buf + used, have);
			in_msg = false;
		}
	}
	c->end = n;
	if (n == -ETIMEDOUT)
		c->woke = gw_now_ns();
	gw_count_end(&c->st, n, in_msg);
	free(buf);

	conn_unlink(c);
	mn_fd_close(&c->f);
	close(c->f.fd);
	gw_stats_add(&c->srv->total, &c->st);
	if (c->owned)
		free(c);
}

/* Shutdown, in the scheduler: every blocked call returns -ECANCELED. */
static void server_on_stop(struct sched *s)
{
	struct server *srv = s->priv;
	struct conn *c;

	if (srv->listening)
		np_unblock(srv->listener.pd);
	for (c = srv->open; c; c = c->next)
		np_unblock(c->f.pd);
}

static int server_init(struct server *srv, int64_t idle_ns, int64_t msg_ns)
{
	int r = sched_init(&srv->s);

	srv->open = NULL;
	srv->listening = false;
	memset(&srv->total, 0, sizeof(srv->total));
	srv->accepted = 0;
	srv->s.on_stop = server_on_stop;
	srv->s.priv = srv;
	srv->idle_ns = idle_ns;
	srv->msg_ns = msg_ns;
	return r;
}

/* Serve @fd (any connected stream socket) in a new coroutine. */
static int server_add(struct server *srv, struct conn *c, int fd)
{
	int r;

	c->idle_ns = c->idle_ns ? c->idle_ns : srv->idle_ns;
	c->first_ns = c->first_ns ? c->first_ns : c->idle_ns;
	c->msg_ns = c->msg_ns ? c->msg_ns : srv->msg_ns;
	r = mn_fd_open(&srv->s, &c->f, fd);
	if (r)
		return r;
	r = co_spawn(&srv->s, conn_main, c);
	if (r) {
		mn_fd_close(&c->f);
		return r;
	}
	conn_link(srv, c);
	return 0;
}

/* ---- TCP server mode ------------------------------------------------- */

static void accept_main(void *arg)
{
	struct server *srv = arg;
	struct conn *c;
	int fd, r;

	for (;;) {
		fd = accept4(srv->listener.fd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN) {
				fprintf(stderr, PROG ": accept: %s\n",
					strerror(errno));
				break;
			}
			r = mn_wait(&srv->listener, NP_READ);
			if (r == NP_OK)
				continue;
			break;		/* NP_ERR_CLOSING: shutdown */
		}
		gw_nodelay(fd);
		c = calloc(1, sizeof(*c));
		if (!c || server_add(srv, c, fd)) {
			free(c);
			close(fd);
			continue;
		}
		c->owned = true;
		srv->accepted++;
	}
	srv->listening = false;
	mn_fd_close(&srv->listener);
}

struct trigger {
	struct gw_opts *o;
	sigset_t *sigs;
	struct sched *s;
	const char *why;
	int64_t t0;
};

/* The thread that turns a signal or --duration into np_break(). */
static void *trigger_main(void *arg)
{
	struct trigger *t = arg;

	t->why = gw_wait_trigger(t->o, t->sigs);
	t->t0 = gw_now_ns();
	sched_request_stop(t->s);
	return NULL;
}

static int run_server(struct gw_opts *o)
{
	static struct server srv;
	struct trigger t;
	pthread_t th;
	sigset_t sigs;
	int lfd, r;

	gw_block_signals(&sigs);
	r = server_init(&srv, o->idle_ns, o->msg_ns);
	if (r) {
		fprintf(stderr, PROG ": np_poller_open: %s (is npoll.ko loaded?)\n",
			strerror(-r));
		return 1;
	}
	lfd = gw_listen(o, PROG);
	if (lfd < 0)
		return 1;
	r = mn_fd_open(&srv.s, &srv.listener, lfd);
	if (!r)
		r = co_spawn(&srv.s, accept_main, &srv);
	if (r) {
		fprintf(stderr, PROG ": %s\n", strerror(-r));
		return 1;
	}
	srv.listening = true;
	t = (struct trigger){ .o = o, .sigs = &sigs, .s = &srv.s };
	r = pthread_create(&th, NULL, trigger_main, &t);
	if (r) {
		fprintf(stderr, PROG ": pthread_create: %s\n", strerror(r));
		return 1;
	}
	printf(PROG ": listening on %s:%d (one thread)\n", o->addr, o->port);
	fflush(stdout);

	r = sched_run(&srv.s);
	if (r) {
		fprintf(stderr, PROG ": np_poll: %s\n", strerror(-r));
		pthread_cancel(th);
	}
	pthread_join(th, NULL);
	close(lfd);
	printf(PROG ": %s: shut down\n", t.why);
	srv.total.conns = srv.accepted;
	gw_stats_print(PROG, &srv.total, (gw_now_ns() - t.t0) / 1e6);
	printf(PROG ": %lu switches, %lu polls, %lu events (at most %lu per poll)\n",
	       srv.s.switches, srv.s.polls, srv.s.events, srv.s.max_batch);
	np_poller_close(srv.s.poller);
	return r || srv.total.errors || srv.total.bad_msgs ? 1 : 0;
}

/* ---- self-test ------------------------------------------------------- */

/*
 * The client end of connection @id.  Its group decides how the
 * connection ends:
 *   IDLE:  one message, then silence: the server's idle timeout
 *   STALL: one message, then part of one: the message deadline
 *   KEEP:  every round, then open and silent: ended by the shutdown
 *   CLOSE: every round, then shutdown(SHUT_WR): end of stream
 */
enum group { G_IDLE, G_KEEP, G_STALL, G_CLOSE };

struct client {
	struct mn_fd f;
	unsigned int id;
	enum group g;
	bool ok;
	char why[80];
};

struct selftest {
	struct server srv;
	struct sched cs;		/* the client ends' scheduler */
	unsigned int n, rounds;
	struct conn *conns;
	struct client *clients;
	int64_t short_ns;		/* deadline of the groups that time out */
};

static struct selftest st;

#define MSG_LEN 64

static enum group group_of(unsigned int id)
{
	switch (id % 10) {
	case 0:
		return G_IDLE;
	case 1:
		return G_KEEP;
	case 2:
		return G_STALL;
	default:
		return G_CLOSE;
	}
}

static void make_msg(unsigned char *m, unsigned int id, unsigned int round)
{
	struct spmsg_hdr h = {
		.seq = (uint64_t)id << 16 | round,
		.flags = SPMSG_CLIENT | SPMSG_PONG,
		.len = MSG_LEN,
	};
	int i;

	spmsg_build(m, &h);
	for (i = SPMSG_HDR_LEN; i < MSG_LEN; i++)
		m[i] = (unsigned char)(id * 31 + round * 7 + i);
}

static bool fail(struct client *cl, const char *what, long err)
{
	snprintf(cl->why, sizeof(cl->why), "%s%s%s", what,
		 err ? ": " : "", err ? strerror((int)-err) : "");
	cl->ok = false;
	return false;
}

/* Read exactly @len bytes; false on end of stream or error. */
static bool read_full(struct client *cl, unsigned char *p, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = mn_read(&cl->f, p + got, len - got);
		if (n <= 0)
			return fail(cl, n ? "read reply" : "early end of stream",
				    n);
		got += (size_t)n;
	}
	return true;
}

/* One message of round @r and its checked answer. */
static bool exchange(struct client *cl, unsigned int r)
{
	unsigned char m[MSG_LEN], want[MSG_LEN], got[MSG_LEN];
	struct spmsg_hdr h;
	ssize_t w;

	make_msg(m, cl->id, r);
	memcpy(want, m, sizeof(m));
	spmsg_parse(want, &h);
	spmsg_make_reply(want, &h);
	w = mn_write(&cl->f, m, sizeof(m));
	if (w != MSG_LEN)
		return fail(cl, "write", w < 0 ? w : -EIO);
	if (!read_full(cl, got, sizeof(got)))
		return false;
	if (memcmp(got, want, sizeof(got)))
		return fail(cl, "reply differs from the message", 0);
	return true;
}

/* Wait for the server to close: read() must return 0, nothing else. */
static bool expect_eof(struct client *cl)
{
	unsigned char b;
	ssize_t n = mn_read(&cl->f, &b, 1);

	if (n == 0)
		return true;
	return fail(cl, n > 0 ? "data instead of end of stream" :
			"waiting for end of stream", n > 0 ? 0 : n);
}

static void client_main(void *arg)
{
	struct client *cl = arg;
	unsigned char m[MSG_LEN];
	unsigned int r, rounds = st.rounds;

	cl->ok = true;
	/* A generous deadline: a client that hangs is a failure. */
	np_set_deadline(cl->f.pd, 120 * 1000000000LL, NP_READ);
	if (cl->g == G_IDLE || cl->g == G_STALL)
		rounds = 1;
	for (r = 0; r < rounds; r++)
		if (!exchange(cl, r))
			goto out;
	switch (cl->g) {
	case G_IDLE:
		expect_eof(cl);
		break;
	case G_STALL:
		make_msg(m, cl->id, rounds);
		if (mn_write(&cl->f, m, 20) != 20)
			fail(cl, "write part of a message", 0);
		else
			expect_eof(cl);
		break;
	case G_CLOSE:
		shutdown(cl->f.fd, SHUT_WR);
		expect_eof(cl);
		break;
	case G_KEEP:
		/* The end comes with the shutdown, checked by main. */
		break;
	}
out:
	mn_fd_close(&cl->f);
}

static void *server_thread(void *arg)
{
	struct server *srv = arg;

	return (void *)(intptr_t)sched_run(&srv->s);
}

static bool raise_nofile(rlim_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return false;
	if (rl.rlim_cur >= want)
		return true;
	if (rl.rlim_max < want)
		rl.rlim_max = want;	/* root only */
	rl.rlim_cur = want;
	return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

static int run_selftest(unsigned int n, unsigned int rounds)
{
	unsigned int i, bad = 0, early = 0, cnt[4] = { 0 }, ends[4] = { 0 };
	uint64_t want_msgs = 0;
	struct np_stats ss, cs;
	pthread_t th;
	int64_t t0, t1, t2;
	intptr_t srv_rc;
	int sv[2], r;
	char b;

	st.n = n;
	st.rounds = rounds;
	st.short_ns = 300 * 1000000LL;
	if (!raise_nofile(2 * (rlim_t)n + 64)) {
		fprintf(stderr, PROG ": cannot raise RLIMIT_NOFILE to %u: %s\n",
			2 * n + 64, strerror(errno));
		return 1;
	}
	st.conns = calloc(n, sizeof(*st.conns));
	st.clients = calloc(n, sizeof(*st.clients));
	if (!st.conns || !st.clients)
		return 1;
	r = server_init(&st.srv, 300 * 1000000000LL, 300 * 1000000000LL);
	if (!r)
		r = sched_init(&st.cs);
	if (r) {
		fprintf(stderr, PROG ": np_poller_open: %s (is npoll.ko loaded?)\n",
			strerror(-r));
		return 1;
	}

	t0 = gw_now_ns();
	for (i = 0; i < n; i++) {
		struct client *cl = &st.clients[i];
		struct conn *c = &st.conns[i];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
			fprintf(stderr, PROG ": socketpair %u: %s\n", i,
				strerror(errno));
			return 1;
		}
		cl->id = i;
		cl->g = group_of(i);
		cnt[cl->g]++;
		if (cl->g == G_IDLE) {
			/* Short only once its message is answered. */
			c->first_ns = st.srv.idle_ns;
			c->idle_ns = st.short_ns;
		}
		if (cl->g == G_STALL)
			c->msg_ns = st.short_ns;
		r = server_add(&st.srv, c, sv[0]);
		if (!r)
			r = mn_fd_open(&st.cs, &cl->f, sv[1]);
		if (!r)
			r = co_spawn(&st.cs, client_main, cl);
		if (r) {
			fprintf(stderr, PROG ": connection %u: %s\n", i,
				strerror(-r));
			return 1;
		}
		want_msgs += cl->g == G_IDLE || cl->g == G_STALL ? 1 : rounds;
	}
	printf(PROG ": selftest: %u connections on one server thread, %u rounds\n",
	       n, rounds);
	printf(PROG ": %u go idle, %u stall mid-message, %u close, %u stay open until shutdown\n",
	       cnt[G_IDLE], cnt[G_STALL], cnt[G_CLOSE], cnt[G_KEEP]);
	fflush(stdout);

	r = pthread_create(&th, NULL, server_thread, &st.srv);
	if (r) {
		fprintf(stderr, PROG ": pthread_create: %s\n", strerror(r));
		return 1;
	}
	t1 = gw_now_ns();
	r = sched_run(&st.cs);
	if (r) {
		fprintf(stderr, PROG ": client np_poll: %s\n", strerror(-r));
		bad++;
	}
	t2 = gw_now_ns();
	/* Only the KEEP connections are left: stop the server thread. */
	sched_request_stop(&st.srv.s);
	pthread_join(th, (void **)&srv_rc);
	if (srv_rc) {
		fprintf(stderr, PROG ": server np_poll: %s\n",
			strerror((int)-srv_rc));
		bad++;
	}

	for (i = 0; i < n; i++) {
		struct client *cl = &st.clients[i];
		struct conn *c = &st.conns[i];
		long want_end = 0;

		if (cl->ok && cl->g == G_KEEP &&
		    read(cl->f.fd, &b, 1) != 0)
			fail(cl, "no end of stream after the shutdown", 0);
		close(cl->f.fd);
		switch (cl->g) {
		case G_IDLE:
		case G_STALL:
			want_end = -ETIMEDOUT;
			break;
		case G_KEEP:
			want_end = -ECANCELED;
			break;
		case G_CLOSE:
			want_end = 0;
			break;
		}
		if (cl->ok && c->end != want_end) {
			snprintf(cl->why, sizeof(cl->why),
				 "server side ended with %s, not %s",
				 c->end ? strerror((int)-c->end) : "end of stream",
				 want_end ? strerror((int)-want_end) :
					    "end of stream");
			cl->ok = false;
		}
		if (c->end == -ETIMEDOUT && c->woke < c->deadline)
			early++;
		if (cl->ok)
			ends[cl->g]++;
		else if (bad++ < 10)
			printf(PROG ": connection %u: %s\n", i, cl->why);
	}
	np_stats(st.srv.s.poller, &ss);
	np_stats(st.cs.poller, &cs);

	printf(PROG ": server: %" PRIu64 " messages, %" PRIu64 " replies; "
	       "ended by peer %" PRIu64 ", idle timeout %" PRIu64
	       ", message timeout %" PRIu64 ", shutdown %" PRIu64
	       ", error %" PRIu64 "\n",
	       st.srv.total.msgs, st.srv.total.replies, st.srv.total.eof,
	       st.srv.total.idle_timeouts, st.srv.total.msg_timeouts,
	       st.srv.total.canceled,
	       st.srv.total.errors + st.srv.total.bad_msgs +
	       st.srv.total.resets);
	printf(PROG ": server thread: %lu switches, %lu polls, %lu events (at most %lu per poll)\n",
	       st.srv.s.switches, st.srv.s.polls, st.srv.s.events,
	       st.srv.s.max_batch);
	printf(PROG ": client thread: %lu polls, %lu events\n",
	       st.cs.polls, st.cs.events);
	printf(PROG ": setup %.0f ms, exchange %.0f ms, shutdown %.1f ms\n",
	       (t1 - t0) / 1e6, (t2 - t1) / 1e6,
	       (gw_now_ns() - t2) / 1e6);

	if (st.srv.total.msgs != want_msgs ||
	    st.srv.total.replies != want_msgs) {
		printf(PROG ": expected %" PRIu64 " messages and replies\n",
		       want_msgs);
		bad++;
	}
	if (st.srv.total.idle_timeouts != cnt[G_IDLE] ||
	    st.srv.total.msg_timeouts != cnt[G_STALL] ||
	    st.srv.total.canceled != cnt[G_KEEP] ||
	    st.srv.total.eof != cnt[G_CLOSE]) {
		printf(PROG ": connections did not end as planned\n");
		bad++;
	}
	if (early) {
		printf(PROG ": %u deadlines fired early\n", early);
		bad++;
	}
	if (ss.descs || ss.armed || ss.events || cs.descs || cs.armed ||
	    cs.events) {
		printf(PROG ": descriptors left: server %" PRIu64 "/%" PRIu64
		       "/%" PRIu64 ", client %" PRIu64 "/%" PRIu64 "/%" PRIu64
		       " (open/armed/events)\n", ss.descs, ss.armed,
		       ss.events, cs.descs, cs.armed, cs.events);
		bad++;
	}
	np_poller_close(st.srv.s.poller);
	np_poller_close(st.cs.poller);
	printf(PROG ": selftest %s\n", bad ? "FAILED" : "passed");
	return bad ? 1 : 0;
}

/* ---- command line ---------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
		"usage: " PROG " [-a ADDR] [-p PORT] [--idle-timeout MS]\n"
		"               [--msg-timeout MS] [--duration SEC]\n"
		"       " PROG " --selftest N [--rounds R]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "idle-timeout", required_argument, NULL, 'i' },
		{ "msg-timeout", required_argument, NULL, 'm' },
		{ "duration", required_argument, NULL, 'd' },
		{ "selftest", required_argument, NULL, 's' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct gw_opts o = {
		.addr = "127.0.0.1",
		.port = 11111,
		.idle_ns = 10000 * 1000000LL,
		.msg_ns = 1000 * 1000000LL,
	};
	unsigned int n = 0, rounds = 2;
	int c;

	while ((c = getopt_long(argc, argv, "a:p:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			o.addr = optarg;
			break;
		case 'p':
			o.port = (int)gw_number(PROG, optarg, 1, 65535);
			break;
		case 'i':
			o.idle_ns = gw_number(PROG, optarg, 0, 86400000) *
				    1000000LL;
			break;
		case 'm':
			o.msg_ns = gw_number(PROG, optarg, 0, 86400000) *
				   1000000LL;
			break;
		case 'd':
			o.duration = (int)gw_number(PROG, optarg, 1, 86400);
			break;
		case 's':
			n = (unsigned int)gw_number(PROG, optarg, 1, 1000000);
			break;
		case 'r':
			rounds = (unsigned int)gw_number(PROG, optarg, 1, 1000);
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	return n ? run_selftest(n, rounds) : run_server(&o);
}
