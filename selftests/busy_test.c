// SPDX-License-Identifier: GPL-2.0
/*
 * Busy polling (np_set_busy_poll(3), NPOLL_IOC_SET_BUSY_POLL): the
 * settings and their checks, no spinning where a socket has no NAPI
 * context, and, over a veth pair with GRO on (veth then receives through
 * NAPI) between this process and a peer in its own network namespace,
 * 198.18.0.0/15 addresses: read waits that spin and find their data
 * while spinning (BusyPollRxPackets counts what the spin received), the
 * socket's own SO_BUSY_POLL honoured, and a spin ended by the deadline,
 * by unblock and by a signal.
 *
 * The peer sends only once this process is spinning (the poller's
 * busy_polls counter is raised when a spin begins), so what the spin
 * finds does not depend on speed.  The veth tests need root, two CPUs,
 * the veth module (scripts/check adds it and ip(8) to the distro
 * guest) and skip, saying why, without them.
 */
#include <limits.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>

#include "kselftest_harness.h"
#include "npoll_test_util.h"
#include "npoll_veth.h"

#define VETH_HERE	"npbusy0"
#define VETH_PEER	"npbusy1"
#define ADDR_HERE	"198.18.0.1"
#define ADDR_PEER	"198.18.0.2"
#define PEER_PORT	5001
#define VETH_KO		NPV_VETH_KO
#define IP		NPV_IP
/* Long enough that only readiness (or what the test provokes) ends a spin. */
#define LONG_SPIN_US	(10 * 1000 * 1000)
#define ROUNDS		20

static struct npoll_stats busy_stats(np_poller *p)
{
	struct npoll_stats st = { 0 };

	if (npt_ioctl(np_poller_fd(p), NPOLL_IOC_STATS, &st))
		st.busy_polls = st.busy_ready = ~0ULL;
	return st;
}

/* --- settings --------------------------------------------------------- */

TEST(settings_round_trip)
{
	struct np_busy_poll bp = { 0 }, want = { .usecs = 50, .budget = 16, .prefer = 1 };
	np_poller *p;

	NPT_OPEN_POLLER(p);
	memset(&bp, 0xff, sizeof(bp));
	ASSERT_EQ(0, np_get_busy_poll(p, &bp));
	EXPECT_EQ(0, bp.usecs);
	EXPECT_EQ(0, bp.budget);
	EXPECT_EQ(0, bp.prefer);
	EXPECT_EQ(0, bp.pad);

	ASSERT_EQ(0, np_set_busy_poll(p, &want));
	ASSERT_EQ(0, np_get_busy_poll(p, &bp));
	EXPECT_EQ(50, bp.usecs);
	EXPECT_EQ(16, bp.budget);
	EXPECT_EQ(1, bp.prefer);

	memset(&want, 0, sizeof(want));
	ASSERT_EQ(0, np_set_busy_poll(p, &want));
	ASSERT_EQ(0, np_get_busy_poll(p, &bp));
	EXPECT_EQ(0, bp.usecs);
	EXPECT_EQ(0, bp.budget);
	EXPECT_EQ(0, bp.prefer);
	np_poller_close(p);
}

/* The module's fdinfo summary shows the settings, and no spin yet. */
TEST(settings_show_in_fdinfo)
{
	struct np_busy_poll want = { .usecs = 50, .budget = 16, .prefer = 1 };
	char path[64], line[512];
	bool seen = false;
	np_poller *p;
	FILE *f;

	NPT_SKIP_USER("no fdinfo of a user-space poller");
	NPT_OPEN_POLLER(p);
	ASSERT_EQ(0, np_set_busy_poll(p, &want));
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", np_poller_fd(p));
	f = fopen(path, "re");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f)) {
		long polls, ready;
		unsigned int us, budget, prefer;

		if (sscanf(line, "descs: %*d waiters: %*d armed: %*d events: %*d "
			   "busy_polls: %ld busy_ready: %ld busy_usecs: %u "
			   "busy_budget: %u busy_prefer: %u",
			   &polls, &ready, &us, &budget, &prefer) != 5)
			continue;
		seen = true;
		EXPECT_EQ(0, polls);
		EXPECT_EQ(0, ready);
		EXPECT_EQ(50, us);
		EXPECT_EQ(16, budget);
		EXPECT_EQ(1, prefer);
	}
	fclose(f);
	EXPECT_TRUE(seen);
	np_poller_close(p);
}

TEST(bad_settings_are_refused)
{
	struct np_busy_poll ok = { .usecs = 7, .budget = 8 }, bp, got;
	np_poller *p;

	NPT_OPEN_POLLER(p);
	ASSERT_EQ(0, np_set_busy_poll(p, &ok));
	bp = ok;
	bp.pad = 1;
	EXPECT_EQ(-EINVAL, np_set_busy_poll(p, &bp));
	bp = ok;
	bp.prefer = 2;
	EXPECT_EQ(-EINVAL, np_set_busy_poll(p, &bp));
	bp = ok;
	bp.usecs = (uint32_t)INT32_MAX + 1;
	EXPECT_EQ(-EINVAL, np_set_busy_poll(p, &bp));
	bp.usecs = INT32_MAX;
	EXPECT_EQ(0, np_set_busy_poll(p, &bp));
	EXPECT_EQ(0, np_set_busy_poll(p, &ok));
	EXPECT_EQ(-EINVAL, np_set_busy_poll(NULL, &ok));
	EXPECT_EQ(-EINVAL, np_set_busy_poll(p, NULL));
	EXPECT_EQ(-EINVAL, np_get_busy_poll(p, NULL));
	EXPECT_EQ(-EINVAL, np_get_busy_poll(NULL, &got));
	/* What was refused changed nothing. */
	ASSERT_EQ(0, np_get_busy_poll(p, &got));
	EXPECT_EQ(7, got.usecs);
	EXPECT_EQ(8, got.budget);
	EXPECT_EQ(0, got.prefer);
	np_poller_close(p);
}

/* The raw ioctls: a bad user pointer, and the kernel's structure. */
TEST(raw_busy_poll_ioctls)
{
	struct np_busy_poll ok = { .usecs = 7, .budget = 8 }, got;
	struct npoll_busy_poll raw = { .usecs = 1 };
	np_poller *p;

	NPT_SKIP_USER("no ioctls on a user-space poller");
	NPT_OPEN_POLLER(p);
	ASSERT_EQ(0, np_set_busy_poll(p, &ok));
	EXPECT_EQ(-EFAULT, npt_ioctl(np_poller_fd(p), NPOLL_IOC_SET_BUSY_POLL,
				     (void *)1));
	EXPECT_EQ(-EFAULT, npt_ioctl(np_poller_fd(p), NPOLL_IOC_GET_BUSY_POLL,
				     (void *)1));
	ASSERT_EQ(0, np_get_busy_poll(p, &got));
	EXPECT_EQ(7, got.usecs);
	EXPECT_EQ(8, got.budget);
	EXPECT_EQ(0, npt_ioctl(np_poller_fd(p), NPOLL_IOC_SET_BUSY_POLL, &raw));
	np_poller_close(p);
}

/* As epoll's EPIOCSPARAMS: a budget above NAPI_POLL_WEIGHT needs CAP_NET_ADMIN. */
TEST(budget_above_64_needs_cap_net_admin)
{
	struct np_busy_poll bp = { .usecs = 10, .budget = 64 };
	np_poller *p;

	NPT_OPEN_POLLER(p);
	EXPECT_EQ(0, np_set_busy_poll(p, &bp));
	bp.budget = 65;
	if (geteuid() == 0) {
		EXPECT_EQ(0, np_set_busy_poll(p, &bp));
	} else {
		EXPECT_EQ(-EPERM, np_set_busy_poll(p, &bp));
	}
	np_poller_close(p);
}

/*
 * Loopback TCP and AF_UNIX deliver without a NAPI context: with busy
 * polling asked for, their read waits park at once, and nothing spins.
 */
TEST(no_napi_context_no_spin)
{
	static const enum npt_kind kinds[] = { NPT_UNIX, NPT_TCP, NPT_UDP };
	struct np_busy_poll bp = { .usecs = LONG_SPIN_US };
	struct npoll_stats st;
	np_poller *p;

	NPT_SKIP_USER("busy_polls and busy_ready are the module's counters");
	NPT_OPEN_POLLER(p);
	ASSERT_EQ(0, np_set_busy_poll(p, &bp));
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		struct npt_delayed dw;
		np_desc *pd;
		char c;
		int fds[2];

		ASSERT_EQ(0, npt_pair(kinds[i], fds));
		ASSERT_EQ(0, np_open(p, fds[0], i, &pd));
		ASSERT_EQ(0, npt_delayed_write(&dw, fds[1], 20 * NPT_MS, "x", 1));
		EXPECT_EQ(1, np_read(pd, &c, 1));
		EXPECT_EQ(1, npt_delayed_join(&dw));
		np_close(pd);
		close(fds[0]);
		close(fds[1]);
	}
	st = busy_stats(p);
	EXPECT_EQ(0, st.busy_polls);
	EXPECT_EQ(0, st.busy_ready);
	np_poller_close(p);
}

/* --- a NAPI path: veth with GRO, the peer in its own namespace ---------- */

static void pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/*
 * The peer: in a new network namespace, its end of the veth pair, a TCP
 * listener, then one byte to the connection for every 's' on @ctl.
 */
static void peer_main(int ctl, int ack)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(PEER_PORT) };
	int one = 1, ls, c;
	char cmd;

	/* The namespace, and with it the veth pair, go when the test does. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	pin_to(1);
	if (unshare(CLONE_NEWNET) || write(ack, "n", 1) != 1)
		_exit(1);
	if (read(ctl, &cmd, 1) != 1)
		_exit(2);
	c = npv_veth_setup(VETH_PEER, ADDR_PEER);
	if (c) {
		fprintf(stderr, "peer: setting up %s: %s\n", VETH_PEER, strerror(-c));
		_exit(2);
	}
	inet_pton(AF_INET, ADDR_PEER, &sin.sin_addr);
	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(ls, (struct sockaddr *)&sin, sizeof(sin)) || listen(ls, 1) ||
	    write(ack, "l", 1) != 1)
		_exit(3);
	c = accept(ls, NULL, NULL);
	if (c < 0)
		_exit(4);
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	while (read(ctl, &cmd, 1) == 1 && cmd == 's')
		if (write(c, "x", 1) != 1)
			_exit(5);
	_exit(0);
}

FIXTURE(napi) {
	pid_t peer;
	int ctl, ack;
	int sock;
	bool link;
	np_poller *p;
	np_desc *pd;
};

FIXTURE_SETUP(napi)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(PEER_PORT) };
	int ctl[2], ack[2], napi_id = 0, c;
	socklen_t len = sizeof(napi_id);
	char cmd[PATH_MAX], b;

	self->peer = -1;
	self->ctl = self->ack = self->sock = -1;
	self->link = false;
	self->p = NULL;
	self->pd = NULL;
	NPT_SKIP_USER("a user-space poller does not spin on NAPI");
	if (geteuid() != 0)
		SKIP(return, "a veth pair and a network namespace need root");
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "the spinning thread and the peer want a CPU each");
	if (access("/sys/module/veth", F_OK) && !access(VETH_KO, R_OK) &&
	    system("insmod " VETH_KO))
		TH_LOG("insmod " VETH_KO " failed");
	if (access("/sys/module/veth", F_OK))
		SKIP(return, "no veth module (scripts/check adds it to the distro guest)");
	if (access(IP, X_OK) || !realpath(IP, cmd) || strstr(cmd, "busybox"))
		SKIP(return, "no iproute2 " IP " (scripts/check adds it to the distro guest)");
	NPT_OPEN_POLLER(self->p);

	ASSERT_EQ(0, pipe2(ctl, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(ack, O_CLOEXEC));
	self->peer = fork();
	ASSERT_LE(0, self->peer);
	if (self->peer == 0) {
		close(ctl[1]);
		close(ack[0]);
		peer_main(ctl[0], ack[1]);
	}
	close(ctl[0]);
	close(ack[1]);
	self->ctl = ctl[1];
	self->ack = ack[0];
	pin_to(0);

	ASSERT_EQ(1, read(self->ack, &b, 1));
	ASSERT_EQ('n', b);
	/* A pair an aborted run left (its namespace may still be going). */
	if (system(IP " link del " VETH_HERE " 2>/dev/null") == 0)
		TH_LOG("removed a stale " VETH_HERE);
	snprintf(cmd, sizeof(cmd), IP " link add " VETH_HERE " type veth peer name "
		 VETH_PEER " netns %d", self->peer);
	ASSERT_EQ(0, system(cmd));
	self->link = true;
	c = npv_veth_setup(VETH_HERE, ADDR_HERE);
	ASSERT_EQ(0, c) TH_LOG("setting up " VETH_HERE ": %s", strerror(-c));
	ASSERT_EQ(1, write(self->ctl, "g", 1));
	ASSERT_EQ(1, read(self->ack, &b, 1));
	ASSERT_EQ('l', b);

	inet_pton(AF_INET, ADDR_PEER, &sin.sin_addr);
	self->sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, self->sock);
	ASSERT_EQ(0, connect(self->sock, (struct sockaddr *)&sin, sizeof(sin)));
	ASSERT_EQ(0, np_open(self->p, self->sock, 1, &self->pd));
	/* A first byte, read without busy polling: the socket learns its NAPI id. */
	ASSERT_EQ(1, write(self->ctl, "s", 1));
	ASSERT_EQ(1, np_read(self->pd, &b, 1));
	ASSERT_EQ(0, getsockopt(self->sock, SOL_SOCKET, SO_INCOMING_NAPI_ID,
				&napi_id, &len));
	ASSERT_NE(0, napi_id) TH_LOG("the peer's packets did not come through NAPI");
	ASSERT_EQ(0, busy_stats(self->p).busy_polls);
}

FIXTURE_TEARDOWN(napi)
{
	int st;

	if (self->pd)
		np_close(self->pd);
	if (self->p)
		np_poller_close(self->p);
	if (self->sock >= 0)
		close(self->sock);
	/* The pair first: the peer's end goes with its namespace. */
	if (self->link && system(IP " link del " VETH_HERE " 2>/dev/null"))
		TH_LOG(IP " link del " VETH_HERE " failed");
	if (self->ctl >= 0) {
		if (write(self->ctl, "q", 1) != 1)
			TH_LOG("peer gone");
		close(self->ctl);
	}
	if (self->ack >= 0)
		close(self->ack);
	if (self->peer > 0)
		waitpid(self->peer, &st, 0);
}

/* Wait until the poller's busy_polls reaches @n. */
static bool spin_began(np_poller *p, unsigned long long n)
{
	int64_t end = npoll_test_now() + NPT_PATIENCE;

	while (busy_stats(p).busy_polls < n) {
		if (npoll_test_now() > end)
			return false;
		npoll_test_sleep_ns(NPT_MS / 2);
	}
	return true;
}

struct sender {
	pthread_t th;
	np_poller *p;
	int ctl;
	int rounds;
	unsigned long long base;
	atomic_int sent;
};

/* For each round: once the reader spins, have the peer send a byte. */
static void *sender_fn(void *arg)
{
	struct sender *s = arg;

	pin_to(1);
	for (int i = 1; i <= s->rounds; i++) {
		if (!spin_began(s->p, s->base + i) || write(s->ctl, "s", 1) != 1)
			break;
		atomic_store(&s->sent, i);
	}
	return NULL;
}

/*
 * Every read waits in a spin that the data ends: ROUNDS spins, each one
 * finding readiness without parking, the packets received by the spin
 * itself (BusyPollRxPackets).
 */
TEST_F(napi, read_spins_and_finds_the_data)
{
	struct np_busy_poll bp = { .usecs = LONG_SPIN_US };
	struct sender s = { .p = self->p, .ctl = self->ctl, .rounds = ROUNDS };
	struct npoll_stats st;
	long long rx0, rx1;
	char c;

	NPT_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, np_set_busy_poll(self->p, &bp));
	rx0 = npv_busy_poll_rx_packets();
	ASSERT_LE(0, rx0);
	atomic_init(&s.sent, 0);
	ASSERT_EQ(0, pthread_create(&s.th, NULL, sender_fn, &s));
	for (int i = 0; i < ROUNDS; i++) {
		/* Bounded: a wait that never spins is never sent to. */
		ASSERT_EQ(0, np_set_deadline(self->pd, NPT_PATIENCE, NP_READ));
		ASSERT_EQ(1, np_read(self->pd, &c, 1)) TH_LOG("round %d", i);
	}
	pthread_join(s.th, NULL);
	rx1 = npv_busy_poll_rx_packets();
	st = busy_stats(self->p);
	TH_LOG("%d rounds: busy_polls %llu busy_ready %llu BusyPollRxPackets +%lld",
	       ROUNDS, (unsigned long long)st.busy_polls,
	       (unsigned long long)st.busy_ready, rx1 - rx0);
	EXPECT_EQ(ROUNDS, atomic_load(&s.sent));
	EXPECT_EQ(ROUNDS, st.busy_polls);
	EXPECT_EQ(ROUNDS, st.busy_ready);
	EXPECT_EQ(0, npt_waiters(self->p));
	EXPECT_LE(1, rx1 - rx0);
}

/* Without a setting of the poller, the socket's SO_BUSY_POLL applies. */
TEST_F(napi, socket_busy_poll_setting_applies)
{
	struct sender s = { .p = self->p, .ctl = self->ctl, .rounds = 3 };
	int us = LONG_SPIN_US, zero = 0;
	struct npoll_stats st;
	char c;

	NPT_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, setsockopt(self->sock, SOL_SOCKET, SO_BUSY_POLL, &us, sizeof(us)));
	atomic_init(&s.sent, 0);
	ASSERT_EQ(0, pthread_create(&s.th, NULL, sender_fn, &s));
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(0, np_set_deadline(self->pd, NPT_PATIENCE, NP_READ));
		ASSERT_EQ(1, np_read(self->pd, &c, 1));
	}
	pthread_join(s.th, NULL);
	st = busy_stats(self->p);
	EXPECT_EQ(3, st.busy_polls);
	EXPECT_EQ(3, st.busy_ready);

	/* Off again: a read parks at once. */
	ASSERT_EQ(0, setsockopt(self->sock, SOL_SOCKET, SO_BUSY_POLL, &zero, sizeof(zero)));
	ASSERT_EQ(0, np_set_deadline(self->pd, 20 * NPT_MS, NP_READ));
	EXPECT_EQ(-ETIMEDOUT, np_read(self->pd, &c, 1));
	EXPECT_EQ(3, busy_stats(self->p).busy_polls);
}

/* The deadline ends a spin that would last LONG_SPIN_US: a timeout, never early. */
TEST_F(napi, deadline_ends_the_spin)
{
	struct np_busy_poll bp = { .usecs = LONG_SPIN_US };
	int64_t t0, took;
	struct npoll_stats st;
	char c;

	NPT_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, np_set_busy_poll(self->p, &bp));
	ASSERT_EQ(0, np_set_deadline(self->pd, 50 * NPT_MS, NP_READ));
	t0 = npoll_test_now();
	EXPECT_EQ(-ETIMEDOUT, np_read(self->pd, &c, 1));
	took = npoll_test_now() - t0;
	st = busy_stats(self->p);
	EXPECT_LE(1, st.busy_polls);
	EXPECT_EQ(0, st.busy_ready);
	EXPECT_LE(50 * NPT_MS, took);
	/* Half the spin: only the deadline can have ended it so soon. */
	EXPECT_GT((int64_t)LONG_SPIN_US * 1000 / 2, took) TH_LOG("took %lld ns", (long long)took);
}

struct spinner {
	pthread_t th;
	np_desc *pd;
	ssize_t result;
};

static void *spinner_fn(void *arg)
{
	struct spinner *r = arg;
	char c;

	r->result = np_read(r->pd, &c, 1);
	return NULL;
}

static void on_usr1(int sig)
{
	(void)sig;
}

/* Unblock, then a signal, end a spin in progress. */
TEST_F(napi, unblock_and_signal_end_the_spin)
{
	struct np_busy_poll bp = { .usecs = LONG_SPIN_US };
	struct sigaction sa = { .sa_handler = on_usr1 };	/* no SA_RESTART */
	struct spinner r = { .pd = self->pd };
	struct npoll_stats st;

	NPT_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ASSERT_EQ(0, np_set_busy_poll(self->p, &bp));

	ASSERT_EQ(0, pthread_create(&r.th, NULL, spinner_fn, &r));
	ASSERT_TRUE(spin_began(self->p, 1));
	ASSERT_EQ(0, pthread_kill(r.th, SIGUSR1));
	pthread_join(r.th, NULL);
	EXPECT_EQ(-EINTR, r.result);

	ASSERT_EQ(0, pthread_create(&r.th, NULL, spinner_fn, &r));
	ASSERT_TRUE(spin_began(self->p, 2));
	ASSERT_EQ(0, np_unblock(self->pd));
	pthread_join(r.th, NULL);
	EXPECT_EQ(-ECANCELED, r.result);
	st = busy_stats(self->p);
	EXPECT_EQ(2, st.busy_polls);
	EXPECT_EQ(0, st.busy_ready);
}

TEST_HARNESS_MAIN
