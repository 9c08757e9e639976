// SPDX-License-Identifier: GPL-2.0
/*
 * npoll: Go's runtime network poller in the kernel.
 *
 * Registration of /dev/netpoll, its file operations and the ioctl
 * dispatch.  Each open() of the device is a poller.  Every command copies
 * its argument into a local, validates it (reserved fields and unknown
 * flags must be zero), looks up the descriptor and acts; unknown
 * commands get -ENOTTY.  All arguments are fixed-width and laid out the
 * same for 32-bit callers, so compat_ptr_ioctl() serves them.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/netdevice.h>
#include <linux/module.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>

#include "npoll.h"

#define CREATE_TRACE_POINTS
#include "npoll_trace.h"

unsigned int npoll_max_descs = 1U << 20;
module_param_named(max_descs, npoll_max_descs, uint, 0644);
MODULE_PARM_DESC(max_descs,
		 "Descriptors per poller (default 1048576); -EMFILE beyond");

static const struct file_operations npoll_fops;

/**
 * npoll_is_poller_file() - is @file an open /dev/netpoll?
 * @file: any file
 *
 * Return: true for a poller.
 */
bool npoll_is_poller_file(struct file *file)
{
	return file->f_op == &npoll_fops;
}

static int npoll_open(struct inode *inode, struct file *file)
{
	struct npoll_poller *p;

	p = npoll_poller_alloc();
	if (!p)
		return -ENOMEM;
	file->private_data = p;
	return 0;
}

static int npoll_flush(struct file *file, fl_owner_t id)
{
	npoll_poller_flush(file->private_data, file);
	return 0;
}

static int npoll_release(struct inode *inode, struct file *file)
{
	npoll_poller_free(file->private_data);
	return 0;
}

/* Readable while scheduler-mode events wait (kmod/sched.c, "Nesting"). */
static __poll_t npoll_fop_poll(struct file *file, poll_table *pt)
{
	return npoll_poller_poll_mask(file->private_data, file, pt);
}

static void npoll_show_fdinfo(struct seq_file *m, struct file *file)
{
	npoll_poller_show_fdinfo(m, file->private_data);
}

static bool npoll_mode_is_one(u32 mode)
{
	return mode == NPOLL_MODE_READ || mode == NPOLL_MODE_WRITE;
}

static long npoll_ioctl_open(struct npoll_poller *p,
			     struct npoll_open_args __user *uarg)
{
	struct npoll_open_args a;
	u64 handle;
	int ret;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if (a.flags || a.handle || a.reserved[0] || a.reserved[1])
		return -EINVAL;
	if (a.fd < 0)
		return -EBADF;
	ret = npoll_poller_open_desc(p, a.fd, a.user, &handle);
	if (ret)
		return ret;
	if (put_user(handle, &uarg->handle)) {
		npoll_poller_close_desc(p, handle);
		return -EFAULT;
	}
	return 0;
}

static long npoll_ioctl_handle(struct npoll_poller *p, unsigned int cmd,
			       struct npoll_handle_args __user *uarg)
{
	struct npoll_handle_args a;
	struct npoll_desc *d;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if (a.flags || a.reserved)
		return -EINVAL;
	if (cmd == NPOLL_IOC_CLOSE)
		return npoll_poller_close_desc(p, a.handle);

	d = npoll_desc_get(p, a.handle);
	if (!d)
		return -EBADF;
	npoll_desc_unblock(d);
	npoll_desc_put(d);
	return 0;
}

static long npoll_ioctl_wait(struct npoll_poller *p, unsigned int cmd,
			     struct npoll_wait_args __user *uarg)
{
	struct npoll_wait_args a;
	struct npoll_desc *d;
	u32 allowed;
	long ret;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	allowed = cmd == NPOLL_IOC_WAIT ? NPOLL_WAIT_CANCELED : 0;
	if ((a.flags & ~allowed) || a.reserved || !npoll_mode_is_one(a.mode))
		return -EINVAL;
	d = npoll_desc_get(p, a.handle);
	if (!d)
		return -EBADF;
	if (cmd == NPOLL_IOC_WAIT)
		ret = npoll_desc_wait(d, a.mode, a.flags & NPOLL_WAIT_CANCELED);
	else if (cmd == NPOLL_IOC_ARM)
		ret = npoll_desc_arm(d, a.mode);
	else
		ret = npoll_desc_reset(d, a.mode);
	npoll_desc_put(d);
	return ret;
}

/*
 * @usize: the caller's layout, NPOLL_DEADLINE_ARGS_SIZE_VER0 or _VER1; the
 * fields the first layout lacks read as zero.
 */
static long npoll_ioctl_set_deadline(struct npoll_poller *p,
				     struct npoll_deadline_args __user *uarg,
				     size_t usize)
{
	struct npoll_deadline_args a = {};
	u32 allowed = NPOLL_DEADLINE_ABS | NPOLL_DEADLINE_SEQ;
	struct npoll_desc *d;
	long ret;

	if (copy_from_user(&a, uarg, usize))
		return -EFAULT;
	if (usize >= NPOLL_DEADLINE_ARGS_SIZE_VER1)
		allowed |= NPOLL_DEADLINE_SEQ64;
	if ((a.flags & ~allowed) || a.reserved ||
	    (a.seq && !(a.flags & NPOLL_DEADLINE_SEQ)) ||
	    (a.seq64 && !(a.flags & NPOLL_DEADLINE_SEQ64)) ||
	    ((a.flags & NPOLL_DEADLINE_SEQ) &&
	     (a.flags & NPOLL_DEADLINE_SEQ64)) ||
	    !a.mode || (a.mode & ~NPOLL_MODE_RW))
		return -EINVAL;
	d = npoll_desc_get(p, a.handle);
	if (!d)
		return -EBADF;
	ret = npoll_desc_set_deadline(d, a.deadline, a.mode, a.flags,
				      a.flags & NPOLL_DEADLINE_SEQ64 ? a.seq64 :
								       a.seq);
	npoll_desc_put(d);
	return ret;
}

/* @usize: NPOLL_IO_ARGS_SIZE_VER0 or _VER1, as for SET_DEADLINE. */
static long npoll_ioctl_io(struct npoll_poller *p,
			   struct npoll_io_args __user *uarg, size_t usize)
{
	struct npoll_io_args a = {};
	u32 allowed = NPOLL_IO_DEADLINE;
	bool wide;
	struct npoll_desc *d;
	long ret;

	if (copy_from_user(&a, uarg, usize))
		return -EFAULT;
	if (usize >= NPOLL_IO_ARGS_SIZE_VER1)
		allowed |= NPOLL_IO_SEQ64;
	wide = a.flags & NPOLL_IO_SEQ64;
	if ((a.flags & ~allowed) || a.reserved ||
	    (!(a.flags & NPOLL_IO_DEADLINE) && (a.deadline || wide)) ||
	    (a.seq && (wide || !(a.flags & NPOLL_IO_DEADLINE))) ||
	    (a.seq64 && !wide) || !npoll_mode_is_one(a.mode))
		return -EINVAL;
	d = npoll_desc_get(p, a.handle);
	if (!d)
		return -EBADF;
	if (a.flags & NPOLL_IO_DEADLINE)
		npoll_desc_set_deadline(d, a.deadline, a.mode,
					NPOLL_DEADLINE_ABS |
						(wide ? NPOLL_DEADLINE_SEQ64 :
							NPOLL_DEADLINE_SEQ),
					wide ? a.seq64 : a.seq);
	/* As read(2) and write(2): a shorter transfer, not an error. */
	ret = npoll_desc_io(d, a.mode, u64_to_user_ptr(a.buf),
			    min_t(u64, a.len, MAX_RW_COUNT));
	npoll_desc_put(d);
	return ret;
}

static long npoll_ioctl_poll(struct npoll_poller *p,
			     struct npoll_poll_args __user *uarg)
{
	struct npoll_poll_args a;
	struct npoll_event __user *events;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if (a.flags || a.reserved || !a.max || a.max > NPOLL_POLL_MAX)
		return -EINVAL;
	events = u64_to_user_ptr(a.events);
	if (!access_ok(events, (size_t)a.max * sizeof(*events)))
		return -EFAULT;
	return npoll_poller_poll(p, events, a.max, a.timeout_ns);
}

static long npoll_ioctl_stats(struct npoll_poller *p,
			      struct npoll_stats __user *uarg)
{
	struct npoll_stats st = { .descs = atomic_read(&p->ndescs) };
	struct npoll_counts c;

	npoll_counts_sum(p, &c);
	st.waiters = c.waiters;
	st.armed = c.armed;
	st.events = c.events;
	st.busy_polls = c.busy_polls;
	st.busy_ready = c.busy_ready;
	return copy_to_user(uarg, &st, sizeof(st)) ? -EFAULT : 0;
}

/*
 * NPOLL_IOC_SET_BUSY_POLL: checked as epoll checks EPIOCSPARAMS.  The
 * three settings are read one by one by waits already in progress.
 */
static long npoll_ioctl_set_busy_poll(struct npoll_poller *p,
				      struct npoll_busy_poll __user *uarg)
{
	struct npoll_busy_poll bp;

	if (!IS_ENABLED(CONFIG_NET_RX_BUSY_POLL))
		return -EOPNOTSUPP;
	if (copy_from_user(&bp, uarg, sizeof(bp)))
		return -EFAULT;
	if (bp.pad || bp.prefer > 1 || bp.usecs > S32_MAX)
		return -EINVAL;
	if (bp.budget > NAPI_POLL_WEIGHT && !capable(CAP_NET_ADMIN))
		return -EPERM;
	WRITE_ONCE(p->busy_usecs, bp.usecs);
	WRITE_ONCE(p->busy_budget, bp.budget);
	WRITE_ONCE(p->busy_prefer, bp.prefer);
	return 0;
}

static long npoll_ioctl_get_busy_poll(struct npoll_poller *p,
				      struct npoll_busy_poll __user *uarg)
{
	struct npoll_busy_poll bp = {
		.usecs = READ_ONCE(p->busy_usecs),
		.budget = READ_ONCE(p->busy_budget),
		.prefer = READ_ONCE(p->busy_prefer),
	};

	if (!IS_ENABLED(CONFIG_NET_RX_BUSY_POLL))
		return -EOPNOTSUPP;
	return copy_to_user(uarg, &bp, sizeof(bp)) ? -EFAULT : 0;
}

static long npoll_ioctl_identify(struct npoll_identify __user *uarg)
{
	struct npoll_identify id = { .magic = NPOLL_IDENTITY };

	return copy_to_user(uarg, &id, sizeof(id)) ? -EFAULT : 0;
}

static long npoll_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct npoll_poller *p = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case NPOLL_IOC_OPEN:
		return npoll_ioctl_open(p, uarg);
	case NPOLL_IOC_CLOSE:
	case NPOLL_IOC_UNBLOCK:
		return npoll_ioctl_handle(p, cmd, uarg);
	case NPOLL_IOC_RESET:
	case NPOLL_IOC_WAIT:
	case NPOLL_IOC_ARM:
		return npoll_ioctl_wait(p, cmd, uarg);
	case NPOLL_IOC_POLL:
		return npoll_ioctl_poll(p, uarg);
	case NPOLL_IOC_BREAK:
		npoll_poller_break(p);
		return 0;
	case NPOLL_IOC_IO_V0:
	case NPOLL_IOC_IO:
		return npoll_ioctl_io(p, uarg, _IOC_SIZE(cmd));
	case NPOLL_IOC_SET_DEADLINE_V0:
	case NPOLL_IOC_SET_DEADLINE:
		return npoll_ioctl_set_deadline(p, uarg, _IOC_SIZE(cmd));
	case NPOLL_IOC_STATS:
		return npoll_ioctl_stats(p, uarg);
	case NPOLL_IOC_IDENTIFY:
		return npoll_ioctl_identify(uarg);
	case NPOLL_IOC_SET_BUSY_POLL:
		return npoll_ioctl_set_busy_poll(p, uarg);
	case NPOLL_IOC_GET_BUSY_POLL:
		return npoll_ioctl_get_busy_poll(p, uarg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations npoll_fops = {
	.owner = THIS_MODULE,
	.open = npoll_open,
	.flush = npoll_flush,
	.release = npoll_release,
	.poll = npoll_fop_poll,
	.show_fdinfo = npoll_show_fdinfo,
	.unlocked_ioctl = npoll_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice npoll_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "netpoll",
	.fops = &npoll_fops,
	.mode = 0666,
};

static int __init npoll_init(void)
{
	int ret;

	ret = npoll_desc_cache_init();
	if (ret)
		return ret;
	ret = misc_register(&npoll_misc);
	if (ret)
		goto out_destroy_cache;
	return 0;

out_destroy_cache:
	npoll_desc_cache_exit();
	return ret;
}

static void __exit npoll_exit(void)
{
	misc_deregister(&npoll_misc);
	npoll_desc_cache_exit();
}

module_init(npoll_init);
module_exit(npoll_exit);
MODULE_DESCRIPTION("npoll: Go's runtime network poller for C programs");
MODULE_LICENSE("GPL");
MODULE_VERSION(NPOLL_VERSION);
