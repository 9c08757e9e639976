/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A NAPI path for tests and the benchmark: one end of a veth pair
 * addressed and brought up with GRO on (veth then receives through its
 * NAPI context), and the BusyPollRxPackets counter that says a busy
 * poll received something.  Used by selftests/busy_test.c and
 * bench/napi.c.
 */
#ifndef NPOLL_VETH_H
#define NPOLL_VETH_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>

/* The veth module where scripts/vm-run's guests get it. */
#define NPV_VETH_KO	"/npoll/extra/veth.ko"
/* iproute2's ip: busybox's, earlier on a guest's PATH, has no veth peers. */
#define NPV_IP		"/usr/sbin/ip"

static inline int npv_if_call(int s, unsigned long req, const char *ifname,
			      struct ifreq *ifr)
{
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", ifname);
	return ioctl(s, req, ifr) ? -errno : 0;
}

static inline int npv_ethtool_set(int s, const char *ifname, __u32 cmd,
				  __u32 val)
{
	struct ethtool_value ev = { .cmd = cmd, .data = val };
	struct ifreq ifr = { 0 };

	ifr.ifr_data = (void *)&ev;
	return npv_if_call(s, SIOCETHTOOL, ifname, &ifr);
}

/*
 * Address @ifname with @addr/24 and bring it up with GRO on and TSO off:
 * veth then hands the peer's packets to this side's NAPI context.
 * 0 or -errno.
 */
static inline int npv_veth_setup(const char *ifname, const char *addr)
{
	struct ifreq ifr = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err;

	if (s < 0)
		return -errno;
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, addr, &sin->sin_addr);
	err = npv_if_call(s, SIOCSIFADDR, ifname, &ifr);
	inet_pton(AF_INET, "255.255.255.0", &sin->sin_addr);
	if (!err)
		err = npv_if_call(s, SIOCSIFNETMASK, ifname, &ifr);
	if (!err)
		err = npv_if_call(s, SIOCGIFFLAGS, ifname, &ifr);
	ifr.ifr_flags |= IFF_UP;
	if (!err)
		err = npv_if_call(s, SIOCSIFFLAGS, ifname, &ifr);
	if (!err)
		err = npv_ethtool_set(s, ifname, ETHTOOL_STSO, 0);
	if (!err)
		err = npv_ethtool_set(s, ifname, ETHTOOL_SGRO, 1);
	close(s);
	return err;
}

/* BusyPollRxPackets of the calling thread's network namespace, or -1. */
static inline long long npv_busy_poll_rx_packets(void)
{
	char names[4096], vals[4096];
	long long v = -1;
	FILE *f = fopen("/proc/net/netstat", "re");

	if (!f)
		return -1;
	while (fgets(names, sizeof(names), f) && fgets(vals, sizeof(vals), f)) {
		char *ns, *vs, *n = strtok_r(names, " \n", &ns);
		char *x = strtok_r(vals, " \n", &vs);

		if (!n || !x || strcmp(n, "TcpExt:"))
			continue;
		while ((n = strtok_r(NULL, " \n", &ns)) && (x = strtok_r(NULL, " \n", &vs)))
			if (!strcmp(n, "BusyPollRxPackets"))
				v = atoll(x);
	}
	fclose(f);
	return v;
}

#endif /* NPOLL_VETH_H */
