// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only module: emits one WARN when loaded, so that the harness can
 * check that scripts/vm-run fails a run whose kernel log shows a splat.
 */
#include <linux/module.h>
#include <linux/bug.h>

static int __init npoll_splat_test_init(void)
{
	WARN(1, "npoll_splat_test: deliberate warning\n");
	return 0;
}

static void __exit npoll_splat_test_exit(void)
{
}

module_init(npoll_splat_test_init);
module_exit(npoll_splat_test_exit);
MODULE_DESCRIPTION("npoll harness self-test: provokes a WARN");
MODULE_LICENSE("GPL");
