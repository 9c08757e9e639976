// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only module: widens race windows so that the race stress tests
 * hit them by construction instead of by luck.  Each probe busy-waits
 * for a while when the calling task's name matches, either on entry to
 * a kernel or npoll function or on its return:
 *
 *   insmod npoll_delay_test.ko probes=ret:npoll_harvest:np-harvest:500,...
 *
 * Each item is at:function:comm:microseconds, at being "entry" or
 * "ret"; up to NPOLL_DELAY_MAX items.  Only tasks named comm (see
 * prctl(PR_SET_NAME)) are delayed, so the rest of the system runs at
 * its usual speed.  Never installed.
 *
 * A test that must know a task is inside its delay reads the parameter
 * "entered" (delays begun so far); one that must end the delays early
 * writes 1 to "release", and they end at once.  Microseconds are then
 * only the bound of a delay nobody releases.
 */
#include <linux/delay.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#define NPOLL_DELAY_MAX 4

static char *probes;
module_param(probes, charp, 0444);
MODULE_PARM_DESC(probes, "at:function:comm:us[,...]; at is entry or ret");

static atomic_t npoll_delay_entered = ATOMIC_INIT(0);

static int npoll_delay_entered_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%d\n", atomic_read(&npoll_delay_entered));
}

static const struct kernel_param_ops npoll_delay_entered_ops = {
	.get = npoll_delay_entered_get,
};
module_param_cb(entered, &npoll_delay_entered_ops, NULL, 0444);
MODULE_PARM_DESC(entered, "delays begun so far");

static bool release;
module_param(release, bool, 0644);
MODULE_PARM_DESC(release, "1 ends every delay at once, now and later");

struct npoll_delay {
	struct kretprobe rp;
	char comm[TASK_COMM_LEN];
	unsigned int us;
	bool on_return;
	bool registered;
};

static struct npoll_delay npoll_delays[NPOLL_DELAY_MAX];

static void npoll_delay_maybe(struct npoll_delay *nd)
{
	unsigned int us = nd->us;

	if (strncmp(current->comm, nd->comm, TASK_COMM_LEN))
		return;
	atomic_inc(&npoll_delay_entered);
	/* Probe handlers run with preemption off: short steps. */
	while (us && !READ_ONCE(release)) {
		unsigned int step = min(us, 100U);

		udelay(step);
		us -= step;
	}
}

static int npoll_delay_entry(struct kretprobe_instance *ri,
			     struct pt_regs *regs)
{
	struct npoll_delay *nd =
		container_of(get_kretprobe(ri), struct npoll_delay, rp);

	if (!nd->on_return)
		npoll_delay_maybe(nd);
	/* Non-zero: no return probe for this call. */
	return nd->on_return ? 0 : 1;
}

static int npoll_delay_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	npoll_delay_maybe(container_of(get_kretprobe(ri), struct npoll_delay,
				       rp));
	return 0;
}

static void npoll_delay_unregister(void)
{
	int i;

	for (i = 0; i < NPOLL_DELAY_MAX; i++) {
		if (npoll_delays[i].registered)
			unregister_kretprobe(&npoll_delays[i].rp);
		kfree(npoll_delays[i].rp.kp.symbol_name);
		npoll_delays[i].registered = false;
	}
}

/* One item "at:function:comm:us" into @nd. */
static int npoll_delay_parse(struct npoll_delay *nd, char *item)
{
	char *at = strsep(&item, ":");
	char *fn = strsep(&item, ":");
	char *comm = strsep(&item, ":");

	if (!at || !fn || !comm || !item || kstrtouint(item, 10, &nd->us))
		return -EINVAL;
	if (!strcmp(at, "ret"))
		nd->on_return = true;
	else if (strcmp(at, "entry"))
		return -EINVAL;
	strscpy(nd->comm, comm, sizeof(nd->comm));
	nd->rp.kp.symbol_name = kstrdup(fn, GFP_KERNEL);
	if (!nd->rp.kp.symbol_name)
		return -ENOMEM;
	nd->rp.entry_handler = npoll_delay_entry;
	nd->rp.handler = npoll_delay_ret;
	nd->rp.maxactive = 64;
	return 0;
}

static int __init npoll_delay_init(void)
{
	char *list, *cur, *item;
	int i = 0, ret = 0;

	if (!probes)
		return -EINVAL;
	list = kstrdup(probes, GFP_KERNEL);
	if (!list)
		return -ENOMEM;
	cur = list;
	while ((item = strsep(&cur, ",")) && !ret) {
		if (!*item)
			continue;
		if (i == NPOLL_DELAY_MAX) {
			ret = -E2BIG;
			break;
		}
		ret = npoll_delay_parse(&npoll_delays[i], item);
		if (!ret)
			ret = register_kretprobe(&npoll_delays[i].rp);
		if (!ret)
			npoll_delays[i].registered = true;
		i++;
	}
	kfree(list);
	if (ret)
		npoll_delay_unregister();
	return ret;
}

static void __exit npoll_delay_exit(void)
{
	npoll_delay_unregister();
}

module_init(npoll_delay_init);
module_exit(npoll_delay_exit);
MODULE_DESCRIPTION("npoll test-only module: delays chosen tasks at probes");
MODULE_LICENSE("GPL");
