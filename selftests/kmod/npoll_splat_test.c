// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only module for the harness: provokes on load what
 * scripts/vm-run must turn into a failed run.
 *   mode=warn (default)  one WARN
 *   mode=leak            one unreferenced allocation (kmemleak, debug guest)
 */
#include <linux/module.h>
#include <linux/bug.h>
#include <linux/slab.h>
#include <linux/string.h>

static char *mode = "warn";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "warn or leak");

static int __init npoll_splat_test_init(void)
{
	if (!strcmp(mode, "leak")) {
		void *p = kmalloc(256, GFP_KERNEL);

		/* Keep the compiler from dropping the allocation. */
		pr_info("npoll_splat_test: leaking %p on purpose\n", p);
		return 0;
	}
	WARN(1, "npoll_splat_test: deliberate warning\n");
	return 0;
}

static void __exit npoll_splat_test_exit(void)
{
}

module_init(npoll_splat_test_init);
module_exit(npoll_splat_test_exit);
MODULE_DESCRIPTION("npoll harness self-test: provokes a splat");
MODULE_LICENSE("GPL");
