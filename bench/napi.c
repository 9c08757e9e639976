// SPDX-License-Identifier: GPL-2.0
/*
 * npoll-bench: a NAPI path, with and without busy polling.
 *
 * A veth pair with GRO on (veth then receives through NAPI, so sockets
 * get a NAPI id and busy polling has a queue to spin on) joins this
 * process to an echo peer in a network namespace of its own, addresses
 * 198.18.0.1 and .2 (the benchmarking range; nothing leaves the guest).
 * TCP ping-pong of 64 bytes, TCP_NODELAY, as the ping-pong section does,
 * for a blocking read, epoll ET and npoll's np_read, each without busy
 * polling and with it: SO_BUSY_POLL on the socket for read() and
 * np_read (which honours it), net.core.busy_poll for epoll (whose
 * per-instance EPIOCSPARAMS the 6.1 kernel does not have), and
 * np_set_busy_poll() on the poller.  Every row gives the
 * BusyPollRxPackets the round trips added, per round trip, so that a
 * busy row shows the spin received what it waited for.
 *
 * Needs root, veth (built in, or the module at /npoll/extra/veth.ko:
 * scripts/bench adds it and iproute2's ip to the guest); without them
 * the rows are not available, saying why.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <linux/npoll.h>

#include "bench.h"
#include "../selftests/npoll_veth.h"

/*
 * The poller's busy-poll counters: waits that spun, and those whose
 * readiness came while they spun.  Zero without a module poller.
 */
static void busy_counts(np_poller *p, double *polls, double *ready)
{
	struct npoll_stats st = { 0 };

	*polls = *ready = 0;
	if (p && np_poller_fd(p) >= 0 &&
	    ioctl(np_poller_fd(p), NPOLL_IOC_STATS, &st) == 0) {
		*polls = (double)st.busy_polls;
		*ready = (double)st.busy_ready;
	}
}

#define NAPI_HERE	"npbench0"
#define NAPI_PEER	"npbench1"
#define NAPI_ADDR_HERE	"198.18.0.1"
#define NAPI_ADDR_PEER	"198.18.0.2"
#define NAPI_PORT	5002
#define NAPI_MSG	64
#define NAPI_SPIN_US	50		/* SO_BUSY_POLL as gateways set it */
#define BUSY_POLL_SYSCTL "/proc/sys/net/core/busy_poll"

/*
 * With two CPUs or more the reader runs on CPU 0 and the peer on CPU 1,
 * so that the peer can answer while the reader busy-polls; on one CPU
 * it cannot, and a busy row spins out its time.
 */
static void pin_cpu(int cpu)
{
	cpu_set_t set;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* The peer: its namespace, its end of the pair, then echo every connection. */
static void napi_peer(int ctl, int ack)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(NAPI_PORT) };
	char buf[NAPI_MSG], cmd;
	int one = 1, ls, c;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	pin_cpu(1);
	if (unshare(CLONE_NEWNET) || write(ack, "n", 1) != 1)
		_exit(1);
	if (read(ctl, &cmd, 1) != 1 || npv_veth_setup(NAPI_PEER, NAPI_ADDR_PEER))
		_exit(2);
	inet_pton(AF_INET, NAPI_ADDR_PEER, &sin.sin_addr);
	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(ls, (struct sockaddr *)&sin, sizeof(sin)) || listen(ls, 4) ||
	    write(ack, "l", 1) != 1)
		_exit(3);
	while ((c = accept(ls, NULL, NULL)) >= 0) {
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		for (;;) {
			size_t got = 0;
			ssize_t r = 0;

			while (got < sizeof(buf) &&
			       (r = read(c, buf + got, sizeof(buf) - got)) > 0)
				got += (size_t)r;
			if (got < sizeof(buf) || write(c, buf, got) != (ssize_t)got)
				break;
		}
		close(c);
	}
	_exit(0);
}

struct napi_run {
	int fd;
	struct pp_side *side;
	char buf[NAPI_MSG];
};

static int napi_batch(void *ctx, int iters)
{
	struct napi_run *r = ctx;
	int i, ret;

	for (i = 0; i < iters; i++) {
		if (write(r->fd, r->buf, NAPI_MSG) != NAPI_MSG)
			return -EIO;
		ret = pp_side_recv(r->side, r->buf);
		if (ret < 0)
			return ret;
	}
	return 0;
}

enum napi_busy { NB_NONE, NB_SOCKET, NB_SYSCTL, NB_POLLER };

static void napi_measure(const char *id, const char *label, const char *vid,
			 enum napi_busy busy)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(NAPI_PORT) };
	struct napi_run r = { .fd = -1 };
	char key[64];
	np_poller *p = NULL;
	struct bstat st;
	long long rx0, rx1;
	double polls0, ready0, polls1, ready1;
	long busy_was = -1;
	int one = 1, us = NAPI_SPIN_US, ret = 0;

	snprintf(key, sizeof(key), "napi.%s", id);
	progress("  %s", key);
	inet_pton(AF_INET, NAPI_ADDR_PEER, &sin.sin_addr);
	r.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (r.fd < 0 || connect(r.fd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    setsockopt(r.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		ret = -errno;
	if (!ret && busy == NB_SOCKET &&
	    setsockopt(r.fd, SOL_SOCKET, SO_BUSY_POLL, &us, sizeof(us)))
		ret = -errno;
	if (!ret && !strncmp(vid, "np_", 3)) {
		ret = bench_poller_open(&p, BK_KERNEL);
		if (!ret && busy == NB_POLLER)
			ret = np_set_busy_poll(p, &(struct np_busy_poll){
						       .usecs = NAPI_SPIN_US });
	}
	if (!ret)
		ret = pp_side_open(vid, r.fd, NAPI_MSG, p, &r.side);
	if (!ret && busy == NB_SYSCTL)
		busy_was = sysctl_swap(BUSY_POLL_SYSCTL, NAPI_SPIN_US);
	rx0 = npv_busy_poll_rx_packets();
	busy_counts(p, &polls0, &ready0);
	if (!ret)
		ret = bench_ops(napi_batch, &r, cfg.pp_tcp, &st);
	busy_counts(p, &polls1, &ready1);
	rx1 = npv_busy_poll_rx_packets();
	if (busy_was >= 0)
		sysctl_swap(BUSY_POLL_SYSCTL, busy_was);
	if (ret < 0) {
		rec_na("napi", key, label, "ns", "%s", strerror(-ret));
	} else {
		double n = (double)cfg.pp_tcp * cfg.batches + cfg.pp_tcp / 5 + 1;

		rec_add("napi", key, label, "ns", &st, "napi.blocking_read");
		if (p)
			rec_cols("min %.0f max %.0f, BusyPollRxPackets/rt %.2f, npoll spins/rt %.2f (%.2f ready)",
				 st.min, st.max, rx0 < 0 ? NAN : (double)(rx1 - rx0) / n,
				 (polls1 - polls0) / n, (ready1 - ready0) / n);
		else
			rec_cols("min %.0f max %.0f, BusyPollRxPackets/rt %.2f", st.min,
				 st.max, rx0 < 0 ? NAN : (double)(rx1 - rx0) / n);
		rec_extra(", \"busy_poll_rx_per_rt\": %.3f",
			  rx0 < 0 ? NAN : (double)(rx1 - rx0) / n);
		if (p)
			rec_extra(", \"npoll_spins_per_rt\": %.3f, \"npoll_spins_ready_per_rt\": %.3f",
				  (polls1 - polls0) / n, (ready1 - ready0) / n);
		snprintf(key + strlen(key), sizeof(key) - strlen(key), ".busy_rx");
		rec_hidden(key, rx0 < 0 ? NAN : (double)(rx1 - rx0));
	}
	if (r.side)
		pp_side_close(r.side);
	if (p)
		np_poller_close(p);
	if (r.fd >= 0)
		close(r.fd);
}

static const struct {
	const char *id, *label, *vid;
	enum napi_busy busy;
} napi_rows[] = {
	{ "blocking_read", "blocking read", "blocking_read", NB_NONE },
	{ "blocking_read_busy", "blocking read, SO_BUSY_POLL 50 us",
	  "blocking_read", NB_SOCKET },
	{ "epoll_et", "epoll ET + read", "epoll_et", NB_NONE },
	{ "epoll_et_busy", "epoll ET + read, net.core.busy_poll 50 us",
	  "epoll_et", NB_SYSCTL },
	{ "np_read", "npoll np_read", "np_read", NB_NONE },
	{ "np_read_busy", "npoll np_read, SO_BUSY_POLL 50 us", "np_read",
	  NB_SOCKET },
	{ "np_read_busy_poller", "npoll np_read, np_set_busy_poll 50 us",
	  "np_read", NB_POLLER },
};

static void napi_na(const char *why)
{
	char key[64];
	size_t i;

	for (i = 0; i < sizeof(napi_rows) / sizeof(napi_rows[0]); i++) {
		snprintf(key, sizeof(key), "napi.%s", napi_rows[i].id);
		rec_na("napi", key, napi_rows[i].label, "ns", "%s", why);
	}
}

void sec_napi(void)
{
	int ctl[2], ack[2], status;
	char cmd[256], b;
	cpu_set_t cpus;
	size_t i;
	pid_t peer;

	if (geteuid() != 0) {
		napi_na("a veth pair and a network namespace need root");
		return;
	}
	/* veth may be built in; where it is a module, scripts/bench adds it. */
	if (access("/sys/module/veth", F_OK) && !access(NPV_VETH_KO, R_OK) &&
	    system("insmod " NPV_VETH_KO))
		progress("  insmod " NPV_VETH_KO " failed");
	if (access(NPV_IP, X_OK)) {
		napi_na("no iproute2 " NPV_IP);
		return;
	}
	if (pipe2(ctl, O_CLOEXEC) || pipe2(ack, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	peer = fork();
	if (peer < 0)
		die("fork: %s", strerror(errno));
	if (peer == 0) {
		close(ctl[1]);
		close(ack[0]);
		napi_peer(ctl[0], ack[1]);
	}
	close(ctl[0]);
	close(ack[1]);
	if (read(ack[0], &b, 1) != 1 || b != 'n') {
		napi_na("the peer's namespace could not be made");
		goto out;
	}
	snprintf(cmd, sizeof(cmd), NPV_IP " link add " NAPI_HERE " type veth peer name "
		 NAPI_PEER " netns %d", (int)peer);
	if (system(cmd) || npv_veth_setup(NAPI_HERE, NAPI_ADDR_HERE) ||
	    write(ctl[1], "g", 1) != 1 || read(ack[0], &b, 1) != 1 || b != 'l') {
		napi_na("no veth pair (no veth module, or ip link add failed)");
		goto out;
	}
	sched_getaffinity(0, sizeof(cpus), &cpus);
	pin_cpu(0);
	for (i = 0; i < sizeof(napi_rows) / sizeof(napi_rows[0]); i++)
		napi_measure(napi_rows[i].id, napi_rows[i].label, napi_rows[i].vid,
			     napi_rows[i].busy);
	sched_setaffinity(0, sizeof(cpus), &cpus);
out:
	kill(peer, SIGKILL);
	waitpid(peer, &status, 0);
	close(ctl[1]);
	close(ack[0]);
	/* The pair goes with the peer's namespace; this end, if it stayed. */
	if (system(NPV_IP " link del " NAPI_HERE " 2>/dev/null") == 0)
		progress("  removed " NAPI_HERE);
}
