// SPDX-License-Identifier: GPL-2.0
/*
 * npa_wbinvd: a lab guest's module that executes WBINVD a given number of
 * times when loaded, between two CPUID markers, so that the test host can
 * count what its KVM did for exactly those (tools/lab/wbinvd-guest.sh).
 * Not part of npa: the lab guest runs it, nothing else does.
 */
#include <linux/module.h>
#include <asm/processor.h>
#include <asm/special_insns.h>

/* CPUID leaves the host's kvm_cpuid trace event shows; no CPU has them. */
#define NPA_WBINVD_LEAF_BEGIN	0x4e504100
#define NPA_WBINVD_LEAF_END	0x4e504101

static unsigned int count = 1000;
module_param(count, uint, 0444);
MODULE_PARM_DESC(count, "WBINVDs to execute when loaded");

static int __init npa_wbinvd_init(void)
{
	unsigned int i;

	cpuid_eax(NPA_WBINVD_LEAF_BEGIN);
	for (i = 0; i < count; i++) {
		wbinvd();
		cond_resched();
	}
	cpuid_eax(NPA_WBINVD_LEAF_END);
	pr_info("%u WBINVDs executed\n", count);
	return 0;
}

module_init(npa_wbinvd_init);
MODULE_DESCRIPTION("npa lab: WBINVD in a loop, between two CPUID markers");
MODULE_LICENSE("GPL");
