/* minikernel: PSCI 1.1 calls through the conduit the FDT (or the default) names. */
#include "kernel.h"

#define PSCI_VERSION		0x84000000UL
#define PSCI_CPU_ON_64		0xc4000003UL
#define PSCI_SYSTEM_OFF		0x84000008UL
#define PSCI_SYSTEM_RESET	0x84000009UL

s64 psci_call(u64 fn, u64 a1, u64 a2, u64 a3)
{
	register u64 x0 asm("x0") = fn;
	register u64 x1 asm("x1") = a1;
	register u64 x2 asm("x2") = a2;
	register u64 x3 asm("x3") = a3;

	if (plat.psci_hvc)
		asm volatile("hvc #0"
			     : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)
			     :
			     : "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13",
			       "x14", "x15", "x16", "x17", "memory");
	else
		asm volatile("smc #0"
			     : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)
			     :
			     : "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13",
			       "x14", "x15", "x16", "x17", "memory");
	return (s64)x0;
}

u32 psci_version(void)
{
	return (u32)psci_call(PSCI_VERSION, 0, 0, 0);
}

s64 psci_cpu_on(u64 mpidr, u64 entry, u64 context)
{
	return (s32)psci_call(PSCI_CPU_ON_64, mpidr, entry, context);
}

void psci_system_off(void)
{
	psci_call(PSCI_SYSTEM_OFF, 0, 0, 0);
	printk("reboot: PSCI SYSTEM_OFF returned: parked");
	cpu_park();
}

void psci_system_reset(void)
{
	psci_call(PSCI_SYSTEM_RESET, 0, 0, 0);
	printk("reboot: PSCI SYSTEM_RESET returned: parked");
	cpu_park();
}
