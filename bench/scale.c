// SPDX-License-Identifier: GPL-2.0
/*
 * npoll-bench: registration, memory, many descriptors, scheduler mode.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <linux/npoll.h>

#include <liburing.h>

#include "bench.h"

#define SEC 1000000000LL

/* --- register + deregister ----------------------------------------------- */

struct reg_ctx {
	np_poller *p;
	int ep, fd, dev;
};

static int op_np_reg(void *ctx, int iters)
{
	struct reg_ctx *c = ctx;
	np_desc *pd;
	int i, ret;

	for (i = 0; i < iters; i++) {
		ret = np_open(c->p, c->fd, 0, &pd);
		if (ret < 0)
			return ret;
		ret = np_close(pd);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* The same two ioctls without the library, to tell its share. */
static int op_ioc_reg(void *ctx, int iters)
{
	struct reg_ctx *c = ctx;
	int i;

	for (i = 0; i < iters; i++) {
		struct npoll_open_args o = { .fd = c->fd };
		struct npoll_handle_args h = { 0 };

		if (ioctl(c->dev, NPOLL_IOC_OPEN, &o) < 0)
			return -errno;
		h.handle = o.handle;
		if (ioctl(c->dev, NPOLL_IOC_CLOSE, &h) < 0)
			return -errno;
	}
	return 0;
}

static int op_ep_reg(void *ctx, int iters)
{
	struct reg_ctx *c = ctx;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET };
	int i;

	for (i = 0; i < iters; i++) {
		if (epoll_ctl(c->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0 ||
		    epoll_ctl(c->ep, EPOLL_CTL_DEL, c->fd, NULL) < 0)
			return -errno;
	}
	return 0;
}

static void reg_np(enum bench_backend b, struct reg_ctx *c)
{
	char key[48], label[80];
	struct bstat st;
	int ret;

	snprintf(key, sizeof(key), "register.npoll%s", bench_backend_suffix[b]);
	snprintf(label, sizeof(label), "np_open + np_close%s",
		 bench_backend_label[b]);
	progress("  %s", key);
	c->p = NULL;
	ret = bench_poller_open(&c->p, b);
	if (ret == 0)
		ret = bench_ops(op_np_reg, c, cfg.regist, &st);
	if (ret < 0)
		rec_na("register", key, label, "ns", "%s", strerror(-ret));
	else
		rec_add("register", key, label, "ns", &st, "register.epoll");
	if (c->p)
		np_poller_close(c->p);
	c->p = NULL;
}

void sec_register(void)
{
	struct reg_ctx c = { 0 };
	struct bstat st;
	int ret;

	c.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c.ep = epoll_create1(EPOLL_CLOEXEC);
	if (c.fd < 0 || c.ep < 0)
		die("eventfd/epoll: %s", strerror(errno));

	reg_np(BK_KERNEL, &c);
	reg_np(BK_USER, &c);

	progress("  register.npoll_ioctl");
	c.dev = open("/dev/netpoll", O_RDWR | O_CLOEXEC);
	ret = c.dev < 0 ? -errno : bench_ops(op_ioc_reg, &c, cfg.regist, &st);
	if (ret < 0)
		rec_na("register", "register.npoll_ioctl",
		       "NPOLL_IOC_OPEN + _CLOSE, no library", "ns", "%s",
		       strerror(-ret));
	else
		rec_add("register", "register.npoll_ioctl",
			"NPOLL_IOC_OPEN + _CLOSE, no library", "ns", &st,
			"register.epoll");
	if (c.dev >= 0)
		close(c.dev);

	progress("  register.epoll");
	ret = bench_ops(op_ep_reg, &c, cfg.regist, &st);
	if (ret < 0)
		rec_na("register", "register.epoll", "epoll_ctl ADD + DEL", "ns",
		       "%s", strerror(-ret));
	else
		rec_add("register", "register.epoll", "epoll_ctl ADD + DEL", "ns",
			&st, "register.epoll");
	close(c.ep);
	close(c.fd);
}

/* --- kernel memory --------------------------------------------------------- */

/*
 * The kernel's slab and vmalloc use (/proc/meminfo) and the bytes held
 * by each slab cache (/proc/slabinfo: slabs x pages per slab), so that
 * a difference of two snapshots says where the memory went.  Large
 * kmalloc()s count in "Slab" but belong to no cache.
 */
#define MAX_CACHES 512

struct kmem_snap {
	int64_t slab, vmalloc;
	int ncaches;
	char name[MAX_CACHES][32];
	int64_t bytes[MAX_CACHES];
};

static void kmem_snap(struct kmem_snap *s)
{
	long long v, objs, nobjs, osize, per, pages, aslabs, nslabs;
	char line[512];
	FILE *f;

	s->slab = s->vmalloc = 0;
	s->ncaches = 0;
	f = fopen("/proc/meminfo", "r");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "Slab: %lld kB", &v) == 1)
				s->slab = v * 1024;
			else if (sscanf(line, "VmallocUsed: %lld kB", &v) == 1)
				s->vmalloc = v * 1024;
		}
		fclose(f);
	}
	f = fopen("/proc/slabinfo", "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && s->ncaches < MAX_CACHES) {
		char *name = s->name[s->ncaches];

		if (sscanf(line, "%31s %lld %lld %lld %lld %lld : tunables %*d %*d %*d : slabdata %lld %lld",
			   name, &objs, &nobjs, &osize, &per, &pages, &aslabs,
			   &nslabs) != 8)
			continue;
		s->bytes[s->ncaches++] = nslabs * pages * sysconf(_SC_PAGESIZE);
	}
	fclose(f);
}

/*
 * Deferred work (rhashtable resizing, RCU frees of replaced tables)
 * finishes while this thread sleeps; under --icount sleeping is free.
 */
static void settle(void)
{
	usleep(300000);
}

struct slab_info {
	long object_size, slab_size, objs_per_slab, order;
	double footprint;	/* slab pages / objects per slab */
};

static long sys_long(const char *cache, const char *attr)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/kernel/slab/%s/%s", cache, attr);
	return read_long(path);
}

static bool slab_info(const char *cache, struct slab_info *si)
{
	si->object_size = sys_long(cache, "object_size");
	si->slab_size = sys_long(cache, "slab_size");
	si->objs_per_slab = sys_long(cache, "objs_per_slab");
	si->order = sys_long(cache, "order");
	if (si->object_size < 0 || si->objs_per_slab <= 0 || si->order < 0)
		return false;
	si->footprint = (double)(sysconf(_SC_PAGESIZE) << si->order) /
			si->objs_per_slab;
	return true;
}

struct cache_delta {
	const char *name;
	int64_t delta;
};

static int cmp_delta(const void *a, const void *b)
{
	int64_t x = ((const struct cache_delta *)a)->delta;
	int64_t y = ((const struct cache_delta *)b)->delta;

	return (x < y) - (x > y);
}

/* Record the kernel memory @n descriptors took since @before. */
static void rec_mem(const char *key, const char *label,
		    const struct kmem_snap *before, int n, const char *base)
{
	static struct kmem_snap after;
	static struct cache_delta d[MAX_CACHES];
	int64_t total, caches = 0;
	char cols[160] = "";
	int i, j, nd = 0;

	settle();
	kmem_snap(&after);
	total = after.slab + after.vmalloc - before->slab - before->vmalloc;
	for (i = 0; i < after.ncaches; i++) {
		int64_t old = 0;

		for (j = 0; j < before->ncaches; j++)
			if (!strcmp(before->name[j], after.name[i]))
				old = before->bytes[j];
		if (after.bytes[i] == old)
			continue;
		d[nd].name = after.name[i];
		d[nd++].delta = after.bytes[i] - old;
		caches += after.bytes[i] - old;
	}
	qsort(d, (size_t)nd, sizeof(d[0]), cmp_delta);
	rec_value("memory", key, label, "B", (double)total / n, base);
	rec_extra(", \"slab_per_desc\": %.1f, \"vmalloc_per_desc\": %.1f, \"descriptors\": %d, \"by_cache\": {",
		  (double)(after.slab - before->slab) / n,
		  (double)(after.vmalloc - before->vmalloc) / n, n);
	for (i = 0; i < nd && i < 4 && d[i].delta * 2 >= n; i++) {
		snprintf(cols + strlen(cols), sizeof(cols) - strlen(cols),
			 "%s %.0f, ", d[i].name, (double)d[i].delta / n);
		rec_extra("%s\"%s\": %.1f", i ? ", " : "", d[i].name,
			  (double)d[i].delta / n);
	}
	rec_extra("}, \"outside_caches\": %.1f", (double)(total - caches) / n);
	rec_cols("%sother %.0f (per descriptor, %d descriptors)", cols,
		 (double)(total - caches) / n, n);
}

static void rec_slabs(void)
{
	static const char *const ep[] = { "eventpoll_epi", "eventpoll_pwq", "ep_head" };
	struct slab_info si;
	char cols[96] = "";
	double sum = 0;
	size_t i;

	if (slab_info("npoll_desc", &si)) {
		rec_value("memory", "memory.npoll.slab",
			  "npoll_desc slab footprint", "B", si.footprint,
			  "memory.epoll.slab");
		rec_cols("object_size %ld, slab_size %ld, %ld per %ld KiB slab",
			 si.object_size, si.slab_size, si.objs_per_slab,
			 (sysconf(_SC_PAGESIZE) << si.order) / 1024);
		rec_extra(", \"object_size\": %ld, \"slab_size\": %ld",
			  si.object_size, si.slab_size);
	} else {
		rec_na("memory", "memory.npoll.slab", "npoll_desc slab footprint",
		       "B", "no /sys/kernel/slab/npoll_desc");
	}
	for (i = 0; i < 3; i++) {
		if (!slab_info(ep[i], &si)) {
			rec_na("memory", "memory.epoll.slab",
			       "epoll slab footprint (epi+pwq+ep_head)", "B",
			       "no /sys/kernel/slab/%s", ep[i]);
			return;
		}
		sum += si.footprint;
		snprintf(cols + strlen(cols), sizeof(cols) - strlen(cols),
			 "%s%s %ld", i ? ", " : "", ep[i], si.object_size);
	}
	rec_value("memory", "memory.epoll.slab",
		  "epoll slab footprint (epi+pwq+ep_head)", "B", sum,
		  "memory.epoll.slab");
	rec_cols("object sizes: %s", cols);
}

/* --- wake-ups with many idle descriptors --------------------------------- */

/*
 * The np_read+deadline ping-pong on a poller of backend @b alone, then
 * next to the @n idle eventfds @efd, then with a deadline armed on each.
 * The module's run also records the kernel memory the @n took.
 */
static void scale_np(enum bench_backend b, const int *efd, np_desc **pds,
		     int n)
{
	static struct kmem_snap before;
	const char *lsfx = bench_backend_label[b];
	const char *vid = b == BK_USER ? "np_read_dl_user" : "np_read_dl";
	const char *mlabel = b == BK_USER ?
		"npoll descriptor, user backend, kernel only" :
		"npoll descriptor, kernel slab+vmalloc";
	char label[96], k1[48], kidle[48], kdl[48], kmem[48];
	np_poller *p;
	int i, ret;

	snprintf(kmem, sizeof(kmem), "memory.npoll%s.total", bench_backend_suffix[b]);
	snprintf(k1, sizeof(k1), "scale.npoll%s.1", bench_backend_suffix[b]);
	snprintf(kidle, sizeof(kidle), "scale.npoll%s.idle", bench_backend_suffix[b]);
	snprintf(kdl, sizeof(kdl), "scale.npoll%s.idle_dl", bench_backend_suffix[b]);
	progress("  %s", k1);
	snprintf(label, sizeof(label), "npoll np_read+deadline, 1 descriptor%s",
		 lsfx);
	pp_measure(PP_UNIX, vid, NULL, -1, "scale", k1, label, NULL);
	progress("  registering %d idle descriptors", n);
	ret = bench_poller_open(&p, b);
	if (ret < 0) {
		snprintf(label, sizeof(label), "npoll np_read+deadline, idle%s",
			 lsfx);
		rec_na("scale", kidle, label, "ns", "%s", strerror(-ret));
		rec_na("memory", kmem, mlabel, "B", "%s", strerror(-ret));
		return;
	}
	settle();
	kmem_snap(&before);
	for (i = 0; i < n; i++) {
		ret = np_open(p, efd[i], (uint64_t)i, &pds[i]);
		if (ret < 0)
			die("np_open #%d%s: %s", i, lsfx, strerror(-ret));
	}
	rec_mem(kmem, mlabel, &before, n, "memory.epoll.total");
	progress("  %s", kidle);
	snprintf(label, sizeof(label), "npoll np_read+deadline, +%d idle%s", n,
		 lsfx);
	pp_measure(PP_UNIX, vid, p, -1, "scale", kidle, label, k1);
	progress("  arming %d idle deadlines", n);
	for (i = 0; i < n; i++) {
		ret = np_set_deadline(pds[i], 3600 * SEC + i * 1000LL, NP_READ);
		if (ret < 0)
			die("np_set_deadline #%d%s: %s", i, lsfx, strerror(-ret));
	}
	progress("  %s", kdl);
	snprintf(label, sizeof(label),
		 "npoll np_read+deadline, +%d idle, deadlines%s", n, lsfx);
	pp_measure(PP_UNIX, vid, p, -1, "scale", kdl, label, k1);
	progress("  closing %d descriptors", n);
	np_poller_close(p);
}

void sec_scale(void)
{
	static struct kmem_snap before;
	int n = cfg.idle, i, ep;
	char label[80];
	np_desc **pds;
	int *efd;

	progress("  creating %d eventfds", n);
	efd = calloc((size_t)n, sizeof(*efd));
	pds = calloc((size_t)n, sizeof(*pds));
	if (!efd || !pds)
		die("out of memory");
	for (i = 0; i < n; i++) {
		efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (efd[i] < 0)
			die("eventfd #%d: %s", i, strerror(errno));
	}

	/* npoll: 1, then n idle, then n idle with deadlines armed. */
	scale_np(BK_KERNEL, efd, pds, n);
	scale_np(BK_USER, efd, pds, scale_user_idle());

	/* epoll: the same with edge-triggered epoll. */
	progress("  scale.epoll.1");
	pp_measure(PP_UNIX, "epoll_et", NULL, -1, "scale", "scale.epoll.1",
		   "epoll ET, 1 descriptor", NULL);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1: %s", strerror(errno));
	progress("  adding %d idle descriptors to epoll", n);
	settle();
	kmem_snap(&before);
	for (i = 0; i < n; i++) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLET,
					  .data.u64 = (uint64_t)i + 16 };

		if (epoll_ctl(ep, EPOLL_CTL_ADD, efd[i], &ev) < 0)
			die("epoll_ctl #%d: %s", i, strerror(errno));
	}
	rec_mem("memory.epoll.total", "epoll_ctl ADD, kernel slab+vmalloc",
		&before, n, "memory.epoll.total");
	rec_slabs();
	progress("  scale.epoll.idle");
	snprintf(label, sizeof(label), "epoll ET, +%d idle", n);
	pp_measure(PP_UNIX, "epoll_et", NULL, ep, "scale", "scale.epoll.idle",
		   label, "scale.epoll.1");
	close(ep);

	progress("  closing %d eventfds", n);
	for (i = 0; i < n; i++)
		close(efd[i]);
	free(efd);
	free(pds);
}

/* --- scheduler mode -------------------------------------------------------- */

#define HARVEST_BATCH 128

struct sched_ctx {
	int n;
	int (*sv)[2];		/* [0] harvested side, [1] driver side */
	np_poller *p;
	np_desc **pd;
	int ep;
};

/* Read @fd until EAGAIN, as an edge-triggered consumer must. */
static int drain(int fd)
{
	char buf[64];

	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));

		if (r > 0)
			continue;
		if (r < 0 && errno == EAGAIN)
			return 0;
		return r < 0 ? -errno : -EPIPE;
	}
}

static int drive(struct sched_ctx *c)
{
	int i;

	for (i = 0; i < c->n; i++)
		if (write(c->sv[i][1], "x", 1) != 1)
			return -EIO;
	return 0;
}

static int op_np_cycle(void *ctx, int iters)
{
	struct sched_ctx *c = ctx;
	struct np_event ev[HARVEST_BATCH];
	int it, got, k, n, ret;

	for (it = 0; it < iters; it++) {
		ret = drive(c);
		if (ret)
			return ret;
		for (got = 0; got < c->n; got += n) {
			n = np_poll(c->p, ev, HARVEST_BATCH, SEC);
			if (n <= 0)
				return n < 0 ? n : -ETIMEDOUT;
			for (k = 0; k < n; k++) {
				np_desc *pd = c->pd[ev[k].user];

				if (ev[k].result != NP_OK)
					return -EIO;
				do {
					ret = drain(np_desc_fd(pd));
					if (ret)
						return ret;
					ret = np_arm(pd, NP_READ);
				} while (ret == NP_OK);
				if (ret != NP_PENDING)
					return ret < 0 ? ret : -EIO;
			}
		}
	}
	return 0;
}

static int op_ep_cycle(void *ctx, int iters)
{
	struct sched_ctx *c = ctx;
	struct epoll_event ev[HARVEST_BATCH];
	int it, got, k, n, ret;

	for (it = 0; it < iters; it++) {
		ret = drive(c);
		if (ret)
			return ret;
		for (got = 0; got < c->n; got += n) {
			n = epoll_wait(c->ep, ev, HARVEST_BATCH, 1000);
			if (n <= 0)
				return n < 0 ? -errno : -ETIMEDOUT;
			for (k = 0; k < n; k++) {
				ret = drain(c->sv[ev[k].data.u32][0]);
				if (ret)
					return ret;
			}
		}
	}
	return 0;
}

static int sched_pairs(struct sched_ctx *c)
{
	int i;

	for (i = 0; i < c->n; i++)
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, c->sv[i]) < 0)
			return -errno;
	return 0;
}

static void sched_close(struct sched_ctx *c)
{
	int i;

	for (i = 0; i < c->n; i++) {
		close(c->sv[i][0]);
		close(c->sv[i][1]);
	}
}

static void rec_sched(const char *key, const char *label, int ret,
		      struct bstat *st, int n)
{
	if (ret < 0) {
		rec_na("sched", key, label, "ns/ev", "%s", strerror(-ret));
		return;
	}
	st->med /= n;
	st->min /= n;
	st->max /= n;
	rec_add("sched", key, label, "ns/ev", st, "sched.epoll");
	rec_cols("%.0f events/s", 1e9 / st->med);
	rec_extra(", \"events_per_s\": %.0f", 1e9 / st->med);
}

static void sched_np(enum bench_backend b, struct sched_ctx *c)
{
	char key[48], label[128];
	struct bstat st;
	int i, ret;

	snprintf(key, sizeof(key), "sched.npoll%s", bench_backend_suffix[b]);
	progress("  %s", key);
	snprintf(label, sizeof(label), "npoll np_poll(%d) + np_arm, %d conns%s",
		 HARVEST_BATCH, c->n, bench_backend_label[b]);
	ret = sched_pairs(c);
	if (ret < 0)
		die("socketpair: %s", strerror(-ret));
	c->p = NULL;
	ret = bench_poller_open(&c->p, b);
	for (i = 0; i < c->n && ret >= 0; i++) {
		ret = np_open(c->p, c->sv[i][0], (uint64_t)i, &c->pd[i]);
		if (ret >= 0)
			ret = np_arm(c->pd[i], NP_READ);
		if (ret >= 0 && ret != NP_PENDING)
			ret = -EPROTO;
	}
	if (ret == -ENOTTY)
		rec_na("sched", key, label, "ns/ev",
		       "the module has no scheduler mode (np_arm: -ENOTTY)");
	else if (ret < 0)
		rec_na("sched", key, label, "ns/ev", "setup: %s",
		       strerror(-ret));
	else
		rec_sched(key, label,
			  bench_ops(op_np_cycle, c, cfg.sched_cycles, &st),
			  &st, c->n);
	if (c->p)
		np_poller_close(c->p);
	c->p = NULL;
	sched_close(c);
}

/*
 * io_uring as its experts harvest many connections: one multishot
 * receive per connection (IORING_RECV_MULTISHOT), its data in buffers
 * the kernel picks from a provided-buffer ring, on a ring with
 * SINGLE_ISSUER|DEFER_TASKRUN and a registered ring fd; a cycle reaps
 * one completion per connection, batches of up to HARVEST_BATCH, and
 * gives each buffer back at once.  A receive that ends (no
 * IORING_CQE_F_MORE) is submitted again.
 */
#define URING_BUFS 2048			/* power of two, > connections */
#define URING_BUF_LEN 64

struct uring_sched {
	struct io_uring ring;
	struct io_uring_buf_ring *br;
	char *bufs;
	int n, (*sv)[2];
};

static void uring_recv_sqe(struct uring_sched *u, int i)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe) {
		io_uring_submit(&u->ring);
		sqe = io_uring_get_sqe(&u->ring);
	}
	io_uring_prep_recv_multishot(sqe, u->sv[i][0], NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = 0;
	io_uring_sqe_set_data64(sqe, (uint64_t)i);
}

static int op_uring_cycle(void *ctx, int iters)
{
	struct uring_sched *u = ctx;
	struct io_uring_cqe *cqe[HARVEST_BATCH];
	int it, got, k, n, i;

	for (it = 0; it < iters; it++) {
		for (i = 0; i < u->n; i++)
			if (write(u->sv[i][1], "x", 1) != 1)
				return -EIO;
		for (got = 0; got < u->n;) {
			int ret = io_uring_submit_and_wait(&u->ring, 1);

			if (ret < 0)
				return ret;
			n = (int)io_uring_peek_batch_cqe(&u->ring, cqe, HARVEST_BATCH);
			for (k = 0; k < n; k++) {
				int res = cqe[k]->res;
				unsigned int fl = cqe[k]->flags;

				i = (int)io_uring_cqe_get_data64(cqe[k]);
				if (fl & IORING_CQE_F_BUFFER) {
					unsigned int bid = fl >> IORING_CQE_BUFFER_SHIFT;

					io_uring_buf_ring_add(u->br,
							      u->bufs + bid * URING_BUF_LEN,
							      URING_BUF_LEN, bid,
							      io_uring_buf_ring_mask(URING_BUFS),
							      0);
					io_uring_buf_ring_advance(u->br, 1);
				}
				if (res > 0)
					got++;
				else if (res != -ENOBUFS)
					return res < 0 ? res : -EPIPE;
				if (!(fl & IORING_CQE_F_MORE))
					uring_recv_sqe(u, i);
			}
			io_uring_cq_advance(&u->ring, (unsigned int)n);
		}
	}
	return 0;
}

static void sched_uring(struct sched_ctx *c)
{
	struct io_uring_params prm = {
		.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
			 IORING_SETUP_CQSIZE,
		.cq_entries = 4 * URING_BUFS,
	};
	struct io_uring_buf_reg reg = { .ring_entries = URING_BUFS, .bgid = 0 };
	size_t brlen = URING_BUFS * sizeof(struct io_uring_buf);
	struct uring_sched u = { .n = c->n, .sv = c->sv };
	const char *key = "sched.uring_multishot";
	char label[96];
	struct bstat st;
	int i, ret;

	progress("  %s", key);
	snprintf(label, sizeof(label),
		 "expert: io_uring multishot recv, buffer ring, %d conns", c->n);
	ret = sched_pairs(c);
	if (ret < 0)
		die("socketpair: %s", strerror(-ret));
	u.bufs = malloc((size_t)URING_BUFS * URING_BUF_LEN);
	u.br = mmap(NULL, brlen, PROT_READ | PROT_WRITE,
		    MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (!u.bufs || u.br == MAP_FAILED)
		die("out of memory");
	ret = io_uring_queue_init_params(256, &u.ring, &prm);
	if (ret == 0) {
		ret = io_uring_register_ring_fd(&u.ring);
		if (ret >= 0) {
			reg.ring_addr = (unsigned long)u.br;
			ret = io_uring_register_buf_ring(&u.ring, &reg, 0);
		}
		if (ret >= 0) {
			io_uring_buf_ring_init(u.br);
			for (i = 0; i < URING_BUFS; i++)
				io_uring_buf_ring_add(u.br, u.bufs + i * URING_BUF_LEN,
						      URING_BUF_LEN, (unsigned short)i,
						      io_uring_buf_ring_mask(URING_BUFS), i);
			io_uring_buf_ring_advance(u.br, URING_BUFS);
			for (i = 0; i < c->n; i++)
				uring_recv_sqe(&u, i);
			ret = io_uring_submit(&u.ring);
		}
		if (ret < 0)
			rec_na("sched", key, label, "ns/ev", "setup: %s",
			       strerror(-ret));
		else
			rec_sched(key, label,
				  bench_ops(op_uring_cycle, &u, cfg.sched_cycles, &st),
				  &st, c->n);
		io_uring_queue_exit(&u.ring);
	} else {
		rec_na("sched", key, label, "ns/ev", "io_uring_queue_init: %s",
		       strerror(-ret));
	}
	munmap(u.br, brlen);
	free(u.bufs);
	sched_close(c);
}

void sec_sched(void)
{
	struct sched_ctx c = { .n = cfg.sched_conns, .ep = -1 };
	char label[96];
	struct bstat st;
	int i, ret;

	c.sv = calloc((size_t)c.n, sizeof(*c.sv));
	c.pd = calloc((size_t)c.n, sizeof(*c.pd));
	if (!c.sv || !c.pd)
		die("out of memory");

	sched_np(BK_KERNEL, &c);
	sched_np(BK_USER, &c);

	progress("  sched.epoll");
	snprintf(label, sizeof(label), "epoll_wait(%d), ET, %d conns",
		 HARVEST_BATCH, c.n);
	ret = sched_pairs(&c);
	if (ret < 0)
		die("socketpair: %s", strerror(-ret));
	c.ep = epoll_create1(EPOLL_CLOEXEC);
	if (c.ep < 0)
		die("epoll_create1: %s", strerror(errno));
	for (i = 0; i < c.n; i++) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLET,
					  .data.u32 = (uint32_t)i };

		if (fcntl(c.sv[i][0], F_SETFL, O_NONBLOCK) < 0 ||
		    epoll_ctl(c.ep, EPOLL_CTL_ADD, c.sv[i][0], &ev) < 0)
			die("epoll setup: %s", strerror(errno));
	}
	rec_sched("sched.epoll", label,
		  bench_ops(op_ep_cycle, &c, cfg.sched_cycles, &st), &st, c.n);
	close(c.ep);
	sched_close(&c);

	sched_uring(&c);
	free(c.sv);
	free(c.pd);
}
