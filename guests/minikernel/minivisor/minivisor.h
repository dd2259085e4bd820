/*
 * minivisor: a Jailhouse-like hypervisor that the minikernel loads and enables on every
 * online CPU (the kernel becomes its root cell). See README.md in this directory.
 * What the kernel (hv.c) and the hypervisor (minivisor.c, entry.S) share.
 */
#ifndef MINIVISOR_H
#define MINIVISOR_H

#include "../kernel.h"

/* hypercalls from the root cell: HVC #0, x0 = the function (Jailhouse's are 0..n) */
#define MV_HC_ENTER		UL(0x4a480000)	/* through the stub's vectors: x1 = cpu */
#define MV_HC_DISABLE		UL(0x4a480001)
#define MV_HC_GET_INFO		UL(0x4a480002)	/* x0 <- 1: the hypervisor is here */

#define MV_STACK_SIZE		8192

/* the per-CPU state of the hypervisor */
enum mv_cpu_state {
	MV_CPU_OUT = 0,		/* not in the hypervisor */
	MV_CPU_RUNNING,		/* a root-cell vCPU */
	MV_CPU_PARKED,		/* CPU_OFF: removed from the cell, waiting in the hypervisor */
	MV_CPU_ON_REQUEST,	/* CPU_ON of a parked vCPU: entry and context below */
};

struct mv_cpu {
	u32 state;		/* enum mv_cpu_state */
	u32 demoted;		/* the kernel ran at EL2 with VHE: it runs at EL1 now */
	u64 mpidr;
	u64 rdist;		/* its redistributor (RD_base) */
	u64 entry, context;	/* CPU_ON of a parked vCPU */
	u64 lr_dropped;		/* physical interrupts not injected (dropped) */
	u32 deferred;		/* a physical INTID held active until a virtual EOI */
	/* EL2 as the hyp stub had it (restored at disable) */
	u64 stub_vbar, stub_hcr, stub_cnthctl, stub_cptr, stub_vttbr, stub_vtcr;
	u64 stub_ich_hcr, icc_ctlr;
} __aligned(64);

extern struct mv_cpu mv_cpus[NR_CPUS];

/* the enable/disable rendezvous (hv.c sets target/mask before the CPUs enter) */
struct mv_global {
	u32 active;		/* the hypervisor runs (set at the end of enable) */
	u32 target;		/* CPUs expected at the enable barrier */
	u64 target_mask;	/* which ones (logical numbers) */
	u32 entered;		/* CPUs at the enable barrier */
	u32 enable_failed;
	u32 disabling;		/* a disable is in progress */
	u32 left;		/* CPUs at the disable barrier */
	u32 disable_target;
	u32 vhe;		/* the root cell is a VHE kernel (demoted) */
};
extern struct mv_global mv;

/* kernel side (hv.c) */
void hv_parse_option(const char *opt, size_t len);
bool hv_mode(void);
void hv_run_scenario(void) __noreturn;
void hv_idle_loop(void) __noreturn;
void hv_handle_ipi(u32 sgi);
void hv_tick(struct cpu_data *cd);
bool hv_ticks_stopped(void);
bool hv_race_cpu_on(void);
bool hv_secondary_is_vcpu(u64 boot_el);	/* started by the hypervisor (re-add) */
void hv_secondary_vcpu_online(u32 cpu);
void hv_secondary_join(u32 cpu);	/* a CPU that came up while the hypervisor runs */
void hv_secondary_check(u32 cpu);	/* ... and is not in it: cpu_escaped */
extern u32 hv_root_cell_active;	/* read by CPUs with their MMU off */

/* the hypervisor's C entry points (minivisor.c), called from entry.S at EL2 */
struct pt_regs;
void mv_cpu_enter(struct pt_regs *frame, u64 cpu, u64 vhe);
u64 mv_handle_sync(struct pt_regs *frame);
void mv_handle_irq(struct pt_regs *frame);
void mv_bad_exception(struct pt_regs *frame, u64 kind);
void mv_prepare_tables(void);	/* called by the kernel (hv.c) before enable */

/* entry.S */
extern char mv_init_vectors[], mv_vectors[];
void mv_enter_vhe(u64 cpu);		/* from the kernel at EL2 with VHE: returns at EL1 */
u64 mv_hvc(u64 fn, u64 a1);
struct mv_regime {
	u64 hcr, tcr, ttbr0, ttbr1, mair, sctlr, vbar, cptr, cnthctl;
};
void mv_switch_regime(const struct mv_regime *r);	/* EL2 MMU off, new regime, MMU on */
s64 mv_smc(u64 fn, u64 a1, u64 a2, u64 a3);

/* the points where [[inject]] forces the races (global symbols, noinline) */
void mv_demote_window(void);
void hv_enable_ipis_sent(void);
void hv_enable_done(void);
void hv_cpu_off_window(void);

/* the return codes of mv_handle_sync: how entry.S leaves EL2 */
#define MV_EXIT_GUEST		0
#define MV_EXIT_PROMOTE		2	/* back to the kernel at EL2 with VHE */

#endif
