// SPDX-License-Identifier: GPL-2.0
/*
 * vcpu_insns.so: a QEMU TCG plugin that counts the guest instructions
 * each vCPU executes and writes every vCPU's count to a file whenever
 * the guest executes npoll-bench's marker instruction.
 *
 *   qemu-system-x86_64 ... -plugin build/vcpu_insns.so,out=FILE
 *
 * Under instruction counting (-icount) QEMU 7.2 boots one vCPU only,
 * so a round trip between two CPUs has no deterministic clock; this
 * plugin gives it a count instead: the instructions both vCPUs
 * executed between two markers, whatever the host's timing.  A halted
 * vCPU executes nothing, so idle time adds nothing but the idle loop's
 * way in and out.
 *
 * The marker is "nopl 0x4e504c4d(%rax)" (0f 1f 80 4d 4c 50 4e), a
 * no-op that compilers do not emit with that displacement.  Each time
 * any vCPU executes it, the plugin appends one line to FILE:
 *
 *   mark <n> vcpu <i> insns <count of vCPU 0> <count of vCPU 1> ...
 *
 * n counts the markers from 1, in the order they executed; the guest
 * numbers its own markers the same way (bench/xcpu.c).  The counts are
 * of instructions from the start of the guest, taken at the start of
 * each translation block, so a count is exact up to the block the other
 * vCPU is in at that moment.
 *
 * Built against the plugin API header of Debian's own QEMU source
 * (scripts/qemu-plugin-api), never a copy of it.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define MAX_VCPUS	64

static const uint8_t marker[7] = { 0x0f, 0x1f, 0x80, 0x4d, 0x4c, 0x50, 0x4e };

static uint64_t count[MAX_VCPUS];
static int nvcpus = 1;
static uint64_t marks;
static FILE *out;

static void tb_exec(unsigned int vcpu, void *udata)
{
	if (vcpu < MAX_VCPUS)
		__atomic_fetch_add(&count[vcpu], (uint64_t)(uintptr_t)udata,
				   __ATOMIC_RELAXED);
}

static void mark_exec(unsigned int vcpu, void *udata)
{
	uint64_t n = __atomic_add_fetch(&marks, 1, __ATOMIC_SEQ_CST);
	char line[64 + 24 * MAX_VCPUS];
	int len, i;

	(void)udata;
	len = snprintf(line, sizeof(line), "mark %" PRIu64 " vcpu %u insns", n,
		       vcpu);
	for (i = 0; i < nvcpus && i < MAX_VCPUS; i++)
		len += snprintf(line + len, sizeof(line) - (size_t)len,
				" %" PRIu64,
				__atomic_load_n(&count[i], __ATOMIC_RELAXED));
	/* Markers are rare: one lock and one flush each keep the file whole. */
	flockfile(out);
	fprintf(out, "%s\n", line);
	fflush(out);
	funlockfile(out);
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	size_t n = qemu_plugin_tb_n_insns(tb), i;

	(void)id;
	qemu_plugin_register_vcpu_tb_exec_cb(tb, tb_exec, QEMU_PLUGIN_CB_NO_REGS,
					     (void *)(uintptr_t)n);
	for (i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);

		if (qemu_plugin_insn_size(insn) == sizeof(marker) &&
		    !memcmp(qemu_plugin_insn_data(insn), marker, sizeof(marker)))
			qemu_plugin_register_vcpu_insn_exec_cb(insn, mark_exec,
							       QEMU_PLUGIN_CB_NO_REGS,
							       NULL);
	}
}

static void at_exit(qemu_plugin_id_t id, void *udata)
{
	(void)id;
	(void)udata;
	if (out) {
		fprintf(out, "end marks %" PRIu64 "\n", marks);
		fclose(out);
		out = NULL;
	}
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
					   const qemu_info_t *info,
					   int argc, char **argv)
{
	const char *path = NULL;
	int i;

	for (i = 0; i < argc; i++)
		if (!strncmp(argv[i], "out=", 4))
			path = argv[i] + 4;
	if (!path || info->system_emulation == false) {
		fprintf(stderr, "vcpu_insns: usage: -plugin vcpu_insns.so,out=FILE "
			"(system emulation only)\n");
		return -1;
	}
	nvcpus = info->system.max_vcpus;
	if (nvcpus > MAX_VCPUS) {
		fprintf(stderr, "vcpu_insns: at most %d vCPUs\n", MAX_VCPUS);
		return -1;
	}
	out = fopen(path, "w");
	if (!out) {
		perror(path);
		return -1;
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	qemu_plugin_register_atexit_cb(id, at_exit, NULL);
	return 0;
}
