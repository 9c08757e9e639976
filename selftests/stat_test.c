// SPDX-License-Identifier: GPL-2.0
/*
 * npoll-stat (tools/, man/man1/npoll-stat.1) against a running
 * npoll-gateway: the gateway's poller, its listener waiting in accept,
 * each idle connection waiting in read with its idle deadline; --watch
 * and the exit statuses.
 */
#include <signal.h>

#include "kselftest_harness.h"
#include "npoll_test_util.h"

#define CLIENTS 3

/* Run npoll-stat with @args (a shell word list); its output and status. */
static int run_stat(const char *stat, const char *args, char *out, size_t len)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "%s %s 2>&1", stat, args);
	return npt_run(cmd, out, len);
}

/* Lines of @s containing @word. */
static int count_lines(const char *s, const char *word)
{
	int n = 0;

	for (const char *l = s; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *e = strchr(l, '\n');
		const char *w = strstr(l, word);

		if (w && (!e || w < e))
			n++;
	}
	return n;
}

/* Descriptor lines whose read mode waits with a deadline of (0, @max] s. */
static int count_read_deadlines(const char *s, double max)
{
	int n = 0;

	for (const char *l = s; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		char st[16], dl[24];
		double v;

		if (sscanf(l, " %*x %*d %*x %15s %23s", st, dl) != 2 ||
		    strcmp(st, "waiting"))
			continue;
		v = strtod(dl, NULL);
		if (dl[strlen(dl) - 1] == 's' && dl[strlen(dl) - 2] != 'm' &&
		    dl[strlen(dl) - 2] != 'u' && v > 0 && v <= max)
			n++;
	}
	return n;
}

FIXTURE(stat) {
	char stat[600];
	pid_t gw;
	int cl[CLIENTS];
};

FIXTURE_SETUP(stat)
{
	char gw[600], lib[600], port[16];
	struct sockaddr_in sin;
	in_port_t p;
	int dev;

	self->gw = -1;
	for (int i = 0; i < CLIENTS; i++)
		self->cl[i] = -1;
	NPT_OPEN_DEV(dev);
	close(dev);
	ASSERT_TRUE(npt_tree_path(self->stat, sizeof(self->stat), "tools/npoll-stat", X_OK))
		TH_LOG("no %s (make tools)", self->stat);
	ASSERT_TRUE(npt_tree_path(gw, sizeof(gw), "examples/npoll-gateway", X_OK))
		TH_LOG("no %s (make examples)", gw);
	ASSERT_TRUE(npt_tree_path(lib, sizeof(lib), "userlib", X_OK));
	p = npt_closed_port(SOCK_STREAM);
	ASSERT_NE(0, p);
	snprintf(port, sizeof(port), "%d", ntohs(p));
	self->gw = fork();
	ASSERT_LE(0, self->gw);
	if (self->gw == 0) {
		setenv("LD_LIBRARY_PATH", lib, 1);
		execl(gw, gw, "-p", port, "--idle-timeout", "60000", (char *)NULL);
		_exit(127);
	}
	/* Connect once it listens; the connections then sit idle. */
	npt_loopback(&sin, p);
	for (int i = 0; i < CLIENTS; i++) {
		int64_t end = npoll_test_now() + NPT_PATIENCE;

		for (;;) {
			self->cl[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			ASSERT_LE(0, self->cl[i]);
			if (!connect(self->cl[i], (struct sockaddr *)&sin, sizeof(sin)))
				break;
			close(self->cl[i]);
			self->cl[i] = -1;
			ASSERT_GT(end, npoll_test_now()) TH_LOG("gateway does not listen");
			ASSERT_EQ(0, waitpid(self->gw, NULL, WNOHANG));
			npoll_test_sleep_ns(20 * NPT_MS);
		}
	}
}

FIXTURE_TEARDOWN(stat)
{
	for (int i = 0; i < CLIENTS; i++)
		if (self->cl[i] >= 0)
			close(self->cl[i]);
	if (self->gw > 0) {
		kill(self->gw, SIGTERM);
		waitpid(self->gw, NULL, 0);
	}
}

/*
 * The gateway's poller: the listener and every connection parked in
 * their waits, the connections with their idle deadline left.
 */
TEST_F(stat, lists_the_gateways_waiting_descriptors)
{
	char args[64], out[8192];
	int64_t end = npoll_test_now() + NPT_PATIENCE;
	int rc, waiting;

	snprintf(args, sizeof(args), "-p %d", self->gw);
	/* The threads park on their own time: ask until all are there. */
	do {
		rc = run_stat(self->stat, args, out, sizeof(out));
		waiting = count_lines(out, " waiting ");
		if (waiting == CLIENTS + 1)
			break;
		npoll_test_sleep_ns(20 * NPT_MS);
	} while (npoll_test_now() < end);
	ASSERT_EQ(0, rc) TH_LOG("%s", out);
	EXPECT_EQ(CLIENTS + 1, waiting) TH_LOG("%s", out);
	EXPECT_EQ(1, count_lines(out, " poller ")) TH_LOG("%s", out);
	EXPECT_EQ(1, count_lines(out, "npoll-gateway")) TH_LOG("%s", out);
	EXPECT_EQ(1, count_lines(out, "waiters 4 ")) TH_LOG("%s", out);
	/* The idle deadline of each connection: seconds left, at most 60. */
	EXPECT_EQ(CLIENTS, count_read_deadlines(out, 60)) TH_LOG("%s", out);
	/* All processes: the gateway is among them. */
	rc = run_stat(self->stat, "", out, sizeof(out));
	EXPECT_EQ(0, rc);
	EXPECT_LE(1, count_lines(out, "npoll-gateway")) TH_LOG("%s", out);
}

/* --watch -n N redraws N times and ends. */
TEST_F(stat, watch_redraws)
{
	char args[64], out[16384];

	snprintf(args, sizeof(args), "-p %d -w 0.05 -n 3", self->gw);
	EXPECT_EQ(0, run_stat(self->stat, args, out, sizeof(out)));
	EXPECT_EQ(3, count_lines(out, "npoll-stat, every")) TH_LOG("%s", out);
	EXPECT_EQ(3, count_lines(out, " poller ")) TH_LOG("%s", out);
}

/* A process that is gone: 1; a bad option or argument: 2. */
TEST_F(stat, exit_statuses)
{
	char out[4096], args[64];
	pid_t dead = fork();

	ASSERT_LE(0, dead);
	if (dead == 0)
		_exit(0);
	ASSERT_EQ(dead, waitpid(dead, NULL, 0));
	snprintf(args, sizeof(args), "-p %d", dead);
	EXPECT_EQ(1, run_stat(self->stat, args, out, sizeof(out))) TH_LOG("%s", out);
	EXPECT_EQ(2, run_stat(self->stat, "--bogus", out, sizeof(out)));
	EXPECT_EQ(2, run_stat(self->stat, "-p x", out, sizeof(out)));
	EXPECT_EQ(2, run_stat(self->stat, "-w 0", out, sizeof(out)));
	EXPECT_EQ(0, run_stat(self->stat, "--help", out, sizeof(out)));
}

TEST_HARNESS_MAIN
