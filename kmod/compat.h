/* SPDX-License-Identifier: GPL-2.0 */
/*
 * npoll: the kernel APIs that differ between the releases npoll builds
 * for, in one place.
 *
 * Supported: Debian 12's 6.1 and 6.12 kernels (and their PREEMPT_RT
 * flavour), so every release from 6.1 to 6.12.  Each entry names the
 * release that changed the interface and gives npoll one name for it;
 * the logic files call only that name and never test a version
 * themselves.  Which side applies is decided by kmod/Kbuild from the
 * kernel's own headers (NPOLL_HAVE_*), not from the release number, so
 * a distribution kernel with a backport builds the way its API is.
 * Documentation/design.rst ("Porting") lists the changes known to come
 * after 6.12, so that the next port is one more entry here.
 */
#ifndef NPOLL_COMPAT_H
#define NPOLL_COMPAT_H

#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/uaccess.h>
#include <linux/uio.h>

/*
 * A user buffer as a single-segment ITER_UBUF iov_iter.  import_ubuf()
 * appeared in 6.4 and replaced import_single_range(), which 6.12 no
 * longer has (and which on 6.1 builds an ITER_IOVEC pointing at a
 * caller's struct iovec).  6.1 has ITER_UBUF and iov_iter_ubuf() (from
 * 6.0, what its read(2) uses): the fallback does what import_ubuf()
 * does.  @dir is ITER_DEST (receive into @buf) or ITER_SOURCE (send
 * from it), names both releases have.  @len is clamped to MAX_RW_COUNT.
 */
#ifdef NPOLL_HAVE_IMPORT_UBUF
static inline int npoll_import_ubuf(int dir, void __user *buf, size_t len,
				    struct iov_iter *iter)
{
	return import_ubuf(dir, buf, len, iter);
}
#else
static inline int npoll_import_ubuf(int dir, void __user *buf, size_t len,
				    struct iov_iter *iter)
{
	if (len > MAX_RW_COUNT)
		len = MAX_RW_COUNT;
	if (unlikely(!access_ok(buf, len)))
		return -EFAULT;
	iov_iter_ubuf(iter, dir, buf, len);
	return 0;
}
#endif

/*
 * hrtimer set-up.  6.13 adds hrtimer_setup(timer, function, clock, mode)
 * and later releases remove hrtimer_init() and the separate assignment
 * of ->function; until then the two steps below are the only way.
 */
#ifdef NPOLL_HAVE_HRTIMER_SETUP
static inline void
npoll_hrtimer_setup(struct hrtimer *timer,
		    enum hrtimer_restart (*fn)(struct hrtimer *),
		    clockid_t clock, enum hrtimer_mode mode)
{
	hrtimer_setup(timer, fn, clock, mode);
}
#else
static inline void
npoll_hrtimer_setup(struct hrtimer *timer,
		    enum hrtimer_restart (*fn)(struct hrtimer *),
		    clockid_t clock, enum hrtimer_mode mode)
{
	hrtimer_init(timer, clock, mode);
	timer->function = fn;
}
#endif

#endif /* NPOLL_COMPAT_H */
