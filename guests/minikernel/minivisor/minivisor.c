/*
 * minivisor: the hypervisor's C side, at EL2. See README.md in this directory.
 *
 * mv_cpu_enter   a CPU enters (through the stub's HVC without VHE, or from the kernel
 *                at EL2 with VHE): the enable barrier, then the root cell is started on
 *                it at EL1: stage 2, the virtual CPU interface, HCR_EL2 traps; a VHE
 *                kernel is demoted (its EL2 context to EL1, its timer remapped)
 * mv_handle_sync traps from the root cell: hypercalls (disable), PSCI (SMC trapped by
 *                TSC, or HVC), SGIs (ICC_SGI1R_EL1), the redistributors' SGI frames
 * mv_handle_irq  physical interrupts, injected through the list registers
 *
 * Built twice: the fixed hypervisor (default) and, with -DMINIVISOR_NAIVE, the naive
 * one with the three races of README.md.
 */
#include "minivisor.h"

struct mv_cpu mv_cpus[NR_CPUS];
struct mv_global mv __aligned(64);

/* EL2's own translation (non-E2H regime, T0SZ = 32, level 1 blocks): GiB 0 devices,
 * GiB 1 RAM. Stage 2 (VMID 1): GiB 0 devices, by 2 MiB blocks but the two blocks
 * holding the redistributors, by 4 KiB pages, without the SGI frames (trapped and
 * emulated); GiB 1 RAM. */
static u64 el2_l1[512] __aligned(4096);
static u64 s2_l1[512] __aligned(4096);
static u64 s2_l2_dev[512] __aligned(4096);
static u64 s2_l3_gicr[2][512] __aligned(4096);
static u64 el2_tcr, vtcr;

#define GIB			(1UL << 30)
#define MIB2			(2UL << 20)
#define GICR_WIN		0x08000000UL	/* the two 2 MiB blocks paged at stage 2 */
#define GICR_STRIDE		0x20000UL
#define SGI_FRAME		0x10000UL
#define GICR_TYPER		0x0008
#define GICR_ISENABLER0		0x0100
#define GICR_ICENABLER0		0x0180
#define GICR_ISPENDR0		0x0200
#define GICR_ICPENDR0		0x0280
#define GICR_ISACTIVER0		0x0300
#define GICR_ICACTIVER0		0x0380
#define GICR_IGROUPR0		0x0080
#define GICR_IPRIORITYR0	0x0400

#define PTE_BLOCK		1UL
#define PTE_TABLE		3UL
#define PTE_PAGE		3UL
#define PTE_ATTR(i)		((u64)(i) << 2)
#define PTE_AP1			(1UL << 6)	/* RES1 in EL2's stage 1 */
#define PTE_SH_INNER		(3UL << 8)
#define PTE_AF			(1UL << 10)
#define PTE_XN			(1UL << 54)
#define S2_MEMATTR(x)		((u64)(x) << 2)
#define S2_AP_RW		(3UL << 6)
#define S2_DEVICE		(S2_MEMATTR(0) | S2_AP_RW | PTE_AF | PTE_XN)
#define S2_NORMAL		(S2_MEMATTR(0xf) | S2_AP_RW | PTE_SH_INNER | PTE_AF)

#define HCR_VM			(1UL << 0)
#define HCR_FMO			(1UL << 3)
#define HCR_IMO			(1UL << 4)
#define HCR_TSC			(1UL << 19)
#define HCR_ROOT_CELL		(HCR_VM | HCR_FMO | HCR_IMO | HCR_TSC | HCR_RW)
#define MV_VMID			1UL
#define MAIR_VALUE		0xff00UL	/* 0: Device-nGnRnE, 1: Normal WB */
#define SCTLR_EL2_MMU_ON	(INIT_SCTLR_EL2_MMU_OFF | SCTLR_M | SCTLR_C | SCTLR_SA | SCTLR_I)
#define CPTR_EL2_NVHE		CPTR_NVHE_EL2_RES1

#define TIMER_ENABLE		1UL
#define TIMER_IMASK		2UL
#define PPI_MAINT		25
#define PPI_HYP_TIMER		26
#define PPI_PHYS_TIMER		30

/* register names below may be macros (encodings): expand them before stringifying */
#undef read_sysreg
#undef write_sysreg
#define __mv_rd(r) ({ u64 __v; asm volatile("mrs %0, " #r : "=r"(__v)); __v; })
#define __mv_wr(v, r) asm volatile("msr " #r ", %x0" : : "rZ"((u64)(v)) : "memory")
#define read_sysreg(r) __mv_rd(r)
#define write_sysreg(v, r) __mv_wr(v, r)

/* the VHE aliases, by encoding (this file is built for ARMv8.0) */
#define SCTLR_EL12		s3_5_c1_c0_0
#define CPACR_EL12		s3_5_c1_c0_2
#define TTBR0_EL12		s3_5_c2_c0_0
#define TTBR1_EL12		s3_5_c2_c0_1
#define TCR_EL12		s3_5_c2_c0_2
#define MAIR_EL12		s3_5_c10_c2_0
#define VBAR_EL12		s3_5_c12_c0_0
#define CNTKCTL_EL12		s3_5_c14_c1_0
#define CNTP_CTL_EL02		s3_5_c14_c2_1
#define CNTP_CVAL_EL02		s3_5_c14_c2_2
#define CNTHP_CTL_EL2		s3_4_c14_c2_1
#define CNTHP_CVAL_EL2		s3_4_c14_c2_2
#define ICH_VTR			s3_4_c12_c11_1
#define ICH_ELRSR		s3_4_c12_c11_5
#define ICH_VMCR		s3_4_c12_c11_7
#define ICH_HCR			s3_4_c12_c11_0
#define ICH_AP1R0		s3_4_c12_c9_0

/* PSCI */
#define PSCI_CPU_OFF		0x84000002UL
#define PSCI_CPU_ON_32		0x84000003UL
#define PSCI_CPU_ON_64		0xc4000003UL
#define PSCI_AFFINITY_32	0x84000004UL
#define PSCI_AFFINITY_64	0xc4000004UL
#define PSCI_SUCCESS		0
#define PSCI_NOT_SUPPORTED	(-1L)
#define PSCI_ALREADY_ON		(-4L)
#define AFF_ON			0
#define AFF_OFF			1

#define ENABLE_BARRIER_MS	1000

static inline u32 rd32(u64 a) { return *(volatile u32 *)a; }
static inline void wr32(u64 a, u32 v) { *(volatile u32 *)a = v; }

static u32 this_cpu_id(void)
{
	return (u32)read_sysreg(tpidr_el2);
}

/* --- the tables (built by the kernel, before enable: Jailhouse's loader does it) --- */
void mv_prepare_tables(void)
{
	u64 parange = read_sysreg(id_aa64mmfr0_el1) & 0xf, r;
	u32 i, n;

	if (parange > 5)
		parange = 5;
	memset(el2_l1, 0, sizeof(el2_l1));
	el2_l1[0] = 0 | PTE_BLOCK | PTE_ATTR(0) | PTE_AP1 | PTE_AF | PTE_XN;
	el2_l1[1] = GIB | PTE_BLOCK | PTE_ATTR(1) | PTE_AP1 | PTE_SH_INNER | PTE_AF;
	el2_tcr = 32 | 1UL << 8 | 1UL << 10 | 3UL << 12 | parange << 16 | 1UL << 23 | 1UL << 31;

	memset(s2_l1, 0, sizeof(s2_l1));
	for (i = 0; i < 512; i++)
		s2_l2_dev[i] = (u64)i * MIB2 | PTE_BLOCK | S2_DEVICE;
	for (n = 0; n < 2; n++) {
		for (i = 0; i < 512; i++)
			s2_l3_gicr[n][i] = (GICR_WIN + (u64)n * MIB2 + (u64)i * 4096) | PTE_PAGE |
					   S2_DEVICE;
		s2_l2_dev[GICR_WIN / MIB2 + n] = (u64)s2_l3_gicr[n] | PTE_TABLE;
	}
	/* every redistributor's SGI frame (SGI/PPI enables, pending, active, priorities):
	 * not mapped, trapped and emulated (mv_mmio) */
	for (r = plat.gicr, n = 0; n < 256; n++, r += GICR_STRIDE) {
		u64 typer = *(volatile u64 *)(r + GICR_TYPER), p;

		for (p = r + SGI_FRAME; p < r + GICR_STRIDE; p += 4096)
			if (p >= GICR_WIN && p < GICR_WIN + 2 * MIB2)
				s2_l3_gicr[(p - GICR_WIN) / MIB2][(p % MIB2) / 4096] = 0;
		if (typer & (1UL << 4))
			break;
	}
	s2_l1[0] = (u64)s2_l2_dev | PTE_TABLE;
	s2_l1[1] = GIB | PTE_BLOCK | S2_NORMAL;
	vtcr = 32 | 1UL << 6 | 1UL << 8 | 1UL << 10 | 3UL << 12 | parange << 16 | 1UL << 31;
	dcache_clean_poc(el2_l1, sizeof(el2_l1));
	dcache_clean_poc(s2_l1, sizeof(s2_l1));
	dcache_clean_poc(s2_l2_dev, sizeof(s2_l2_dev));
	dcache_clean_poc(s2_l3_gicr, sizeof(s2_l3_gicr));
	dsb(ish);
}

static void mv_el2_regime(struct mv_regime *r, u64 hcr)
{
	r->hcr = hcr;
	r->tcr = el2_tcr;
	r->ttbr0 = (u64)el2_l1;
	r->ttbr1 = 0;
	r->mair = MAIR_VALUE;
	r->sctlr = SCTLR_EL2_MMU_ON;
	r->vbar = (u64)mv_vectors;
	r->cptr = CPTR_EL2_NVHE;
	r->cnthctl = CNTHCTL_EL1PCTEN | CNTHCTL_EL1PCEN;	/* EL1 has the physical timer */
}

/* --- the list registers --- */
static u64 lr_read(u32 n)
{
	switch (n) {
	case 0: return read_sysreg(s3_4_c12_c12_0);
	case 1: return read_sysreg(s3_4_c12_c12_1);
	case 2: return read_sysreg(s3_4_c12_c12_2);
	default: return read_sysreg(s3_4_c12_c12_3);
	}
}

static void lr_write(u32 n, u64 v)
{
	switch (n) {
	case 0: write_sysreg(v, s3_4_c12_c12_0); break;
	case 1: write_sysreg(v, s3_4_c12_c12_1); break;
	case 2: write_sysreg(v, s3_4_c12_c12_2); break;
	default: write_sysreg(v, s3_4_c12_c12_3); break;
	}
}

static u32 nr_lrs(void)
{
	u32 n = (u32)(read_sysreg(ICH_VTR) & 0x1f) + 1;

	return n > 4 ? 4 : n;
}

#define LR_STATE_SHIFT	62
#define LR_PENDING	(1UL << 62)
#define LR_ACTIVE	(1UL << 63)
#define LR_HW		(1UL << 61)
#define LR_GROUP1	(1UL << 60)
#define LR_PRIO(p)	((u64)(p) << 48)
#define LR_PINTID(i)	((u64)(i) << 32)

#define LR_EOI		(1UL << 41)	/* HW = 0: maintenance interrupt at its EOI */

static u64 make_lr(u32 vintid, u32 pintid, bool hw, bool eoi)
{
	return (u64)vintid | LR_PENDING | LR_GROUP1 | LR_PRIO(0xa0) |
	       (hw ? LR_HW | LR_PINTID(pintid) : 0) | (!hw && eoi ? LR_EOI : 0);
}

/*
 * One virtual interrupt into a list register. Two physical interrupts may stand for one
 * virtual INTID (after a demotion, the kernel's "26" is the EL1 timer's 30, and a
 * physical 26 forwarded as such): never two list registers with the same vINTID.
 *  - the vINTID is pending (not yet taken): coalesced; a HW one takes the LR over (the
 *    physical interrupt it replaces is deactivated)
 *  - it is active (the kernel handles it): a software one becomes active+pending; a HW
 *    one is held active at the GIC (it cannot fire again) and deactivated at the EOI of
 *    the virtual one (its LR has the EOI maintenance bit: mv_maintenance)
 */
static void mv_inject(struct mv_cpu *c, u32 vintid, u32 pintid, bool hw, bool eoi)
{
	u32 n = nr_lrs(), i;
	u64 elrsr = read_sysreg(ICH_ELRSR);

	for (i = 0; i < n; i++) {
		u64 lr = lr_read(i);

		if (!(lr >> LR_STATE_SHIFT) || (u32)lr != vintid)
			continue;
		if (!(lr & LR_ACTIVE)) {
			if (hw) {
				if ((lr & LR_HW) && ((lr >> 32) & 0x3ff) != pintid)
					write_sysreg((lr >> 32) & 0x3ff, icc_dir_el1);
				lr_write(i, make_lr(vintid, pintid, true, false));
			}
		} else if (!hw) {
			if (!(lr & LR_HW))
				lr_write(i, lr | LR_PENDING);
		} else if (!(lr & LR_HW) && !c->deferred) {
			c->deferred = pintid;		/* deactivated at the EOI */
		} else {
			write_sysreg(pintid, icc_dir_el1);
			c->lr_dropped++;
		}
		isb();
		return;
	}
	for (i = 0; i < n; i++)
		if (elrsr & (1UL << i))
			break;
	if (i == n) {
		c->lr_dropped++;
		if (hw)
			write_sysreg(pintid, icc_dir_el1);
		return;
	}
	lr_write(i, make_lr(vintid, pintid, hw, eoi));
	isb();
}

/* the maintenance interrupt: a software virtual interrupt with the EOI bit ended */
static void mv_maintenance(struct mv_cpu *c)
{
	u64 eisr = read_sysreg(s3_4_c12_c11_3);	/* ICH_EISR_EL2 */
	u32 i;

	for (i = 0; i < nr_lrs(); i++)
		if (eisr & (1UL << i))
			lr_write(i, 0);
	if (c->deferred) {
		write_sysreg(c->deferred, icc_dir_el1);	/* still asserted: fires again */
		c->deferred = 0;
	}
	isb();
}

/* the list registers emptied: a HW interrupt's physical one deactivated (a level source
 * that is still asserted fires again), a software one (an SGI) pended again on the
 * redistributor when `repend`, so that it reaches the kernel without the hypervisor */
static void mv_flush_lrs(struct mv_cpu *c, bool repend)
{
	u32 n = nr_lrs(), i;

	for (i = 0; i < n; i++) {
		u64 lr = lr_read(i);

		if (lr >> LR_STATE_SHIFT) {
			if (lr & LR_HW)
				write_sysreg((lr >> 32) & 0x3ff, icc_dir_el1);
			else if (repend && (lr & LR_PENDING) && (u32)lr < 32)
				wr32(c->rdist + SGI_FRAME + GICR_ISPENDR0, 1U << (u32)lr);
		}
		lr_write(i, 0);
	}
	write_sysreg(0, ICH_AP1R0);
	if (c->deferred) {
		write_sysreg(c->deferred, icc_dir_el1);
		c->deferred = 0;
	}
	isb();
}

/* --- the enable barrier --- */
#ifndef MINIVISOR_NAIVE
static bool cpu_is_off_in_firmware(u32 cpu)
{
	return mv_smc(PSCI_AFFINITY_64, cpu_logical_map[cpu], 0, 0) == AFF_OFF;
}
#endif

/* CPUs the barrier still waits for. Naive: the count the kernel gave. Fixed: a CPU of
 * the target set that is off in the firmware (it went through CPU_OFF on its way down
 * while the others entered) will never come: it is not waited for. */
static u32 barrier_target(void)
{
	u32 t = READ_ONCE(mv.target);
#ifndef MINIVISOR_NAIVE
	u32 i;

	for (i = 0; i < NR_CPUS; i++)
		if ((mv.target_mask & (1UL << i)) && READ_ONCE(mv_cpus[i].state) == MV_CPU_OUT &&
		    cpu_is_off_in_firmware(i)) {
			mv.target_mask &= ~(1UL << i);
			t--;
			WRITE_ONCE(mv.target, t);
			printk("minivisor: CPU%u went offline during enable: not waited for", i);
		}
#endif
	return t;
}

static void enable_barrier(u32 cpu)
{
	u64 deadline = counter_read() + ns_to_ticks(ENABLE_BARRIER_MS * 1000000UL);
	u64 next_check = 0;

	atomic_add_return(&mv.entered, 1);
	dsb(ish);
	sev();
	while (load_acquire_u32(&mv.entered) < READ_ONCE(mv.target)) {
		u64 now = counter_read();

		if (now >= next_check) {	/* at most every ms: PSCI calls are not free */
			if (cpu == 0)
				barrier_target();
			next_check = now + ns_to_ticks(1000000UL);
		}
		if (now > deadline && !READ_ONCE(mv.enable_failed)) {
			WRITE_ONCE(mv.enable_failed, 1);
			printk("minivisor: enable barrier: %u of %u CPUs after %u ms: hung",
			       load_acquire_u32(&mv.entered), READ_ONCE(mv.target),
			       ENABLE_BARRIER_MS);
			event("enable_hung", "entered=%u target=%u", load_acquire_u32(&mv.entered),
			      READ_ONCE(mv.target));
			panic("minivisor: enable hung: a CPU never reached the barrier");
		}
	}
}

/* --- activation --- */
static void gic_virt_on(struct mv_cpu *c)
{
	u64 pmr = read_sysreg(icc_pmr_el1) & 0xff, bpr1 = read_sysreg(icc_bpr1_el1) & 7;
	u64 grp1 = read_sysreg(icc_igrpen1_el1) & 1;

	c->icc_ctlr = read_sysreg(icc_ctlr_el1);
	mv_flush_lrs(c, false);
	write_sysreg(pmr << 24 | bpr1 << 18 | grp1 << 1, ICH_VMCR);
	write_sysreg(c->icc_ctlr | 2, icc_ctlr_el1);	/* EOImode = 1: drop, then deactivate */
	write_sysreg(1, ICH_HCR);			/* En */
	isb();
	wr32(c->rdist + SGI_FRAME + GICR_ISENABLER0, 1U << PPI_MAINT);
}

static void stage2_on(void)
{
	write_sysreg(vtcr, vtcr_el2);
	write_sysreg((u64)s2_l1 | MV_VMID << 48, vttbr_el2);
	isb();
	asm volatile("tlbi vmalls12e1\n dsb nsh\n isb" : : : "memory");
}

void __attribute__((noinline)) mv_demote_window(void)
{
	asm volatile("" : : : "memory");
}

/* the kernel at EL2 with VHE, from here on at EL1 as the root cell: its EL2&0 context
 * to the EL1 registers (E2H = 1: the *_EL12 names reach them), its timer from the EL2
 * physical timer (PPI 26) to the EL1 physical timer (PPI 30), injected as 26 */
static void mv_demote(struct mv_cpu *c, u32 cpu, struct pt_regs *frame)
{
	struct mv_regime r;
	u64 ctl, cval;

	write_sysreg(read_sysreg(sctlr_el2), SCTLR_EL12);
	write_sysreg(read_sysreg(tcr_el2), TCR_EL12);
	write_sysreg(read_sysreg(ttbr0_el2), TTBR0_EL12);
	write_sysreg(read_sysreg(s3_4_c2_c0_1), TTBR1_EL12);	/* TTBR1_EL2 */
	write_sysreg(read_sysreg(mair_el2), MAIR_EL12);
	write_sysreg(read_sysreg(vbar_el2), VBAR_EL12);
	write_sysreg(read_sysreg(cptr_el2), CPACR_EL12);	/* E2H: CPACR's layout */
	write_sysreg(read_sysreg(tpidr_el2), tpidr_el1);
	write_sysreg(read_sysreg(cnthctl_el2) & 0x3ff, CNTKCTL_EL12);	/* EL0 bits, evtstrm */
	isb();

	/* the timer: CNTHP_* -> CNTP_* */
	ctl = read_sysreg(CNTHP_CTL_EL2);
	cval = read_sysreg(CNTHP_CVAL_EL2);
	mv_demote_window();
#ifdef MINIVISOR_NAIVE
	/* naive: a pending PPI 26 "is the tick already on its way to the kernel, whose
	 * handler re-arms the timer": moving it armed would tick twice */
	if (rd32(c->rdist + SGI_FRAME + GICR_ISPENDR0) & (1U << PPI_HYP_TIMER))
		ctl &= ~TIMER_ENABLE;
#endif
	write_sysreg(cval, CNTP_CVAL_EL02);
	write_sysreg(ctl & (TIMER_ENABLE | TIMER_IMASK), CNTP_CTL_EL02);
	write_sysreg(0, CNTHP_CTL_EL2);
	isb();
	wr32(c->rdist + SGI_FRAME + GICR_ISENABLER0, 1U << PPI_PHYS_TIMER);

	stage2_on();
	mv_el2_regime(&r, HCR_ROOT_CELL);
	mv_switch_regime(&r);			/* E2H and TGE off: EL2 is the hypervisor's */
	write_sysreg(cpu, tpidr_el2);
	c->demoted = 1;
	gic_virt_on(c);
	printk("CPU%u: minivisor: the kernel's EL2 context moved to EL1, EL2 is the "
	       "hypervisor's (E2H=0, TGE=0)", cpu);
	printk("CPU%u: minivisor: timer remapped: EL1 physical timer (PPI 30) injected as "
	       "PPI 26", cpu);
	event("timer_remapped", "from=30 to=26");
	(void)frame;
}

void mv_cpu_enter(struct pt_regs *frame, u64 cpu_arg, u64 vhe)
{
	u32 cpu = (u32)cpu_arg;
	struct mv_cpu *c = &mv_cpus[cpu];
	bool late = load_acquire_u32(&mv.active);
	struct mv_regime r;

	c->mpidr = read_sysreg(mpidr_el1) & MPIDR_HWID_MASK;
	c->rdist = cpu_data[cpu].rdist;
	c->lr_dropped = 0;
	/* EL2 as it was (the stub's, or the VHE kernel's), restored at disable */
	c->stub_vbar = vhe ? read_sysreg(vbar_el2) : (u64)__hyp_stub_vectors;
	c->stub_hcr = read_sysreg(hcr_el2);
	c->stub_cnthctl = read_sysreg(cnthctl_el2);
	c->stub_cptr = read_sysreg(cptr_el2);
	c->stub_vttbr = read_sysreg(vttbr_el2);
	c->stub_vtcr = read_sysreg(vtcr_el2);
	c->stub_ich_hcr = read_sysreg(ICH_HCR);
	if (!vhe) {
		/* over the stub: this CPU's EL2 translation */
		mv_el2_regime(&r, c->stub_hcr);
		r.cnthctl = c->stub_cnthctl;
		mv_switch_regime(&r);
	}
	write_sysreg(cpu, tpidr_el2);
	/* (the kernel said hv_entered / demote_start: nothing is printed before the timer
	 * has moved, console output is slow and IRQs are masked meanwhile) */
	/* a VHE kernel is demoted at once (its timer moves while it has IRQs masked: the
	 * shorter that window, the better), then waits at the barrier in the hypervisor */
	if (vhe)
		mv_demote(c, cpu, frame);
	if (!vhe)
		printk("CPU%u: minivisor: entered at EL2%s", cpu,
		       late ? " (late: the hypervisor runs)" : "");
	if (!late)
		enable_barrier(cpu);
	if (!vhe) {
		stage2_on();
		gic_virt_on(c);
		write_sysreg(HCR_ROOT_CELL, hcr_el2);
		isb();
	}
	store_release_u32(&c->state, MV_CPU_RUNNING);
	if (vhe)
		event("demote_end", "el=1");
	frame->regs[0] = 0;
}

/* --- leaving: disable --- */
static u64 mv_leave(struct pt_regs *frame)
{
	u32 cpu = this_cpu_id(), i, running = 0;
	struct mv_cpu *c = &mv_cpus[cpu];
	u64 deadline = counter_read() + ns_to_ticks(ENABLE_BARRIER_MS * 1000000UL);
	struct mv_regime r;

	printk("CPU%u received SHUTDOWN request", cpu);
	atomic_add_return(&mv.left, 1);
	dsb(ish);
	sev();
	while (load_acquire_u32(&mv.left) < READ_ONCE(mv.disable_target) &&
	       counter_read() < deadline)
		;
	for (i = 0; i < NR_CPUS; i++)
		running += READ_ONCE(mv_cpus[i].state) == MV_CPU_RUNNING;
	(void)running;

	/* the virtual interface off, what it held back to the physical one */
	write_sysreg(0, ICH_HCR);
	isb();
	mv_flush_lrs(c, true);
	wr32(c->rdist + SGI_FRAME + GICR_ICENABLER0, 1U << PPI_MAINT);
	{
		u64 vmcr = read_sysreg(ICH_VMCR);

		write_sysreg(vmcr >> 24 & 0xff, icc_pmr_el1);
		write_sysreg(vmcr >> 18 & 7, icc_bpr1_el1);
		write_sysreg(vmcr >> 1 & 1, icc_igrpen1_el1);
	}
	write_sysreg(c->icc_ctlr & ~2UL, icc_ctlr_el1);	/* EOImode = 0 */
	store_release_u32(&c->state, MV_CPU_OUT);
	frame->regs[0] = 0;

	if (c->demoted) {
		/* back to EL2 with VHE: the EL1 context to EL2, the timer to CNTHP (PPI 26) */
		u64 cval = read_sysreg(cntp_cval_el0), ctl = read_sysreg(cntp_ctl_el0);

		r.hcr = HCR_HOST_VHE_FLAGS;
		r.tcr = read_sysreg(tcr_el1);
		r.ttbr0 = read_sysreg(ttbr0_el1);
		r.ttbr1 = read_sysreg(ttbr1_el1);
		r.mair = read_sysreg(mair_el1);
		r.sctlr = read_sysreg(sctlr_el1);
		r.vbar = read_sysreg(vbar_el1);
		r.cptr = read_sysreg(cpacr_el1);
		/* CNTHCTL_EL2 (E2H layout) as it was, with the event stream the kernel has now */
		r.cnthctl = (c->stub_cnthctl & ~0x3ffUL) | (read_sysreg(cntkctl_el1) & 0x3ff);
		write_sysreg(0, cntp_ctl_el0);
		wr32(c->rdist + SGI_FRAME + GICR_ICENABLER0, 1U << PPI_PHYS_TIMER);
		write_sysreg(c->stub_vttbr, vttbr_el2);
		write_sysreg(c->stub_vtcr, vtcr_el2);
		write_sysreg(c->stub_ich_hcr, ICH_HCR);
		printk("CPU%u: minivisor: leaving: the kernel back to EL2 with VHE", cpu);
		event("hv_left", "el=2");
		mv_switch_regime(&r);		/* E2H and TGE on: the kernel's EL2&0 */
		write_sysreg(read_sysreg(tpidr_el1), tpidr_el2);
		write_sysreg(cval, CNTHP_CVAL_EL2);
		write_sysreg(ctl & (TIMER_ENABLE | TIMER_IMASK), CNTHP_CTL_EL2);
		isb();
		c->demoted = 0;
		event("promote_end", "el=2 ppi=26");
		return MV_EXIT_PROMOTE;
	}
	write_sysreg(c->stub_hcr, hcr_el2);
	isb();
	write_sysreg(c->stub_vttbr, vttbr_el2);
	write_sysreg(c->stub_vtcr, vtcr_el2);
	write_sysreg(c->stub_ich_hcr, ICH_HCR);
	printk("CPU%u: minivisor: leaving: the kernel stays at EL1, the hyp stub back at EL2",
	       cpu);
	event("hv_left", "el=1");
	r.hcr = c->stub_hcr;
	r.tcr = 0;
	r.ttbr0 = 0;
	r.ttbr1 = 0;
	r.mair = 0;
	r.sctlr = INIT_SCTLR_EL2_MMU_OFF;
	r.vbar = c->stub_vbar;
	r.cptr = c->stub_cptr;
	r.cnthctl = c->stub_cnthctl;
	mv_switch_regime(&r);			/* EL2's MMU off, as the stub wants it */
	return MV_EXIT_GUEST;
}

/* --- PSCI from the root cell --- */
static struct mv_cpu *mv_cpu_by_mpidr(u64 mpidr, u32 *cpu)
{
	u32 i;

	for (i = 0; i < NR_CPUS; i++)
		if (mv_cpus[i].state != MV_CPU_OUT && mv_cpus[i].mpidr == (mpidr & MPIDR_HWID_MASK)) {
			*cpu = i;
			return &mv_cpus[i];
		}
	return NULL;
}

/* the hypervisor is disabled while this CPU is parked: it leaves EL2 as the stub had it
 * and goes off in the firmware, where a later CPU_ON finds it */
static void __noreturn mv_park_exit(struct mv_cpu *c, u32 cpu)
{
	struct mv_regime r;

	printk("CPU%u: minivisor: disabled while the vCPU is parked: PSCI CPU_OFF to the "
	       "firmware", cpu);
	event("hv_left", "el=2 parked=1");
	write_sysreg(0, ICH_HCR);
	wr32(c->rdist + SGI_FRAME + GICR_ICENABLER0, 1U << PPI_MAINT | 1U << PPI_PHYS_TIMER);
	write_sysreg(c->icc_ctlr & ~2UL, icc_ctlr_el1);
	write_sysreg(0, vttbr_el2);
	c->demoted = 0;
	store_release_u32(&c->state, MV_CPU_OUT);
	r.hcr = HCR_HOST_NVHE_FLAGS;
	r.tcr = 0;
	r.ttbr0 = 0;
	r.ttbr1 = 0;
	r.mair = 0;
	r.sctlr = INIT_SCTLR_EL2_MMU_OFF;
	r.vbar = (u64)__hyp_stub_vectors;
	r.cptr = CPTR_EL2_NVHE;
	r.cnthctl = CNTHCTL_EL1PCTEN | CNTHCTL_EL1PCEN;
	mv_switch_regime(&r);
	mv_smc(PSCI_CPU_OFF, 0, 0, 0);
	cpu_park();
}

/* CPU_OFF: the vCPU leaves the root cell; the physical CPU waits here for its CPU_ON */
static void mv_park(struct mv_cpu *c, u32 cpu, struct pt_regs *frame)
{
	write_sysreg(0, cntp_ctl_el0);
	write_sysreg(0, cntv_ctl_el0);
	mv_flush_lrs(c, false);
	printk("CPU%u: minivisor: PSCI CPU_OFF: vCPU removed from the root cell, parked", cpu);
	event("vcpu_removed", "el=1");
	store_release_u32(&c->state, MV_CPU_PARKED);
	dsb(ish);
	sev();
	while (load_acquire_u32(&c->state) != MV_CPU_ON_REQUEST) {
		if (load_acquire_u32(&mv.disabling))
			mv_park_exit(c, cpu);
		wfe();
	}
	/* CPU_ON: the vCPU starts at its entry at EL1, MMU off, with its context id */
	write_sysreg(INIT_SCTLR_EL1_MMU_OFF, sctlr_el1);
	write_sysreg(0, ICH_VMCR);
	write_sysreg(0, ICH_AP1R0);
	isb();
	memset(frame, 0, sizeof(*frame));
	frame->regs[0] = c->context;
	frame->elr = c->entry;
	frame->spsr = PSR_DAIF | PSR_MODE_EL1h;
	store_release_u32(&c->state, MV_CPU_RUNNING);
	printk("CPU%u: minivisor: PSCI CPU_ON: vCPU re-added to the root cell at 0x%lx (EL1%s)",
	       cpu, c->entry, c->demoted ? ", VHE illusion: timer on PPI 26" : "");
	event("vcpu_added", "entry=0x%lx el=1", c->entry);
}

static void mv_psci(struct pt_regs *frame)
{
	u64 fn = frame->regs[0] & 0xffffffffUL;
	u32 cpu = this_cpu_id(), t;
	struct mv_cpu *target;

	switch (fn) {
	case PSCI_CPU_OFF:
		mv_park(&mv_cpus[cpu], cpu, frame);
		return;
	case PSCI_CPU_ON_32:
	case PSCI_CPU_ON_64:
		target = mv_cpu_by_mpidr(frame->regs[1], &t);
		if (!target)
			break;			/* not a cell CPU: the firmware's business */
		if (load_acquire_u32(&target->state) != MV_CPU_PARKED) {
			frame->regs[0] = (u64)PSCI_ALREADY_ON;
			return;
		}
		target->entry = frame->regs[2];
		target->context = frame->regs[3];
		store_release_u32(&target->state, MV_CPU_ON_REQUEST);
		dsb(ish);
		sev();
		frame->regs[0] = PSCI_SUCCESS;
		return;
	case PSCI_AFFINITY_32:
	case PSCI_AFFINITY_64:
		target = mv_cpu_by_mpidr(frame->regs[1], &t);
		if (!target)
			break;
		frame->regs[0] = load_acquire_u32(&target->state) == MV_CPU_RUNNING ? AFF_ON :
				 AFF_OFF;
		return;
	}
	frame->regs[0] = (u64)mv_smc(frame->regs[0], frame->regs[1], frame->regs[2],
				     frame->regs[3]);
}

/* --- MMIO: the redistributors' SGI frames --- */
static u64 remap_bits(u64 off, u64 v, bool demoted)
{
	if (off == GICR_ICENABLER0 || off == GICR_ICACTIVER0 || off == GICR_ICPENDR0)
		v &= ~(1UL << PPI_MAINT);	/* the hypervisor's maintenance interrupt */
	if (!demoted)
		return v;
	switch (off) {
	case GICR_IGROUPR0:
	case GICR_ISENABLER0:
	case GICR_ICENABLER0:
	case GICR_ISPENDR0:
	case GICR_ICPENDR0:
	case GICR_ISACTIVER0:
	case GICR_ICACTIVER0:
		/* what the kernel does to "PPI 26" it does to the EL1 timer's 30 too */
		if (v & (1UL << PPI_HYP_TIMER))
			v |= 1UL << PPI_PHYS_TIMER;
		else
			v &= ~(1UL << PPI_PHYS_TIMER);
		break;
	}
	return v;
}

static void mv_mmio(struct pt_regs *frame, u64 esr)
{
	u64 ipa = (read_sysreg(hpfar_el2) >> 4) << 12 | (read_sysreg(far_el2) & 0xfff);
	u32 srt = (esr >> 16) & 0x1f, sas = (esr >> 22) & 3;
	bool wnr = (esr >> 6) & 1;
	u64 off = ipa & 0xffff, v;

	if (!(esr & (1UL << 24)))
		panic("minivisor: CPU%u: MMIO at 0x%lx without syndrome (ESR 0x%lx ELR 0x%lx)",
		      this_cpu_id(), ipa, esr, frame->elr);
	if (wnr) {
		v = srt == 31 ? 0 : frame->regs[srt];
		if (sas == 2)
			v = remap_bits(off, v, mv_cpus[this_cpu_id()].demoted);
		switch (sas) {
		case 0: *(volatile u8 *)ipa = (u8)v; break;
		case 1: *(volatile u16 *)ipa = (u16)v; break;
		case 2: *(volatile u32 *)ipa = (u32)v; break;
		default: *(volatile u64 *)ipa = v; break;
		}
		if (mv_cpus[this_cpu_id()].demoted && sas == 2 && off == GICR_IPRIORITYR0 + 24) {
			/* PPI 26's priority byte: also 30's */
			u32 w = rd32((ipa & ~0xffffUL) + GICR_IPRIORITYR0 + 28);
			w = (w & ~0xff0000U) | ((u32)(v >> 16) & 0xff) << 16;
			wr32((ipa & ~0xffffUL) + GICR_IPRIORITYR0 + 28, w);
		}
	} else {
		switch (sas) {
		case 0: v = *(volatile u8 *)ipa; break;
		case 1: v = *(volatile u16 *)ipa; break;
		case 2: v = *(volatile u32 *)ipa; break;
		default: v = *(volatile u64 *)ipa; break;
		}
		if (srt != 31)
			frame->regs[srt] = v;
	}
	frame->elr += 4;
}

#define ISS_SYSREG_MASK		0x3ffc1eUL	/* Op0 Op2 Op1 CRn CRm, not Rt */
#define ISS_ICC_SGI1R_WRITE	(3UL << 20 | 5UL << 17 | 0UL << 14 | 12UL << 10 | 11UL << 1)

u64 mv_handle_sync(struct pt_regs *frame)
{
	u64 esr = frame->esr, ec = esr >> 26;
	u32 cpu = this_cpu_id();

	switch (ec) {
	case 0x16:		/* HVC */
		switch (frame->regs[0]) {
		case MV_HC_DISABLE:
			return mv_leave(frame);
		case MV_HC_GET_INFO:
			frame->regs[0] = 1;
			return MV_EXIT_GUEST;
		case HVC_SET_VECTORS:
		case HVC_SOFT_RESTART:
		case HVC_RESET_VECTORS:
		case HVC_FINALISE_EL2:
			frame->regs[0] = HVC_STUB_ERR;	/* the stub is not there */
			return MV_EXIT_GUEST;
		}
		if ((frame->regs[0] & 0xbfffffe0UL) == 0x84000000UL) {
			mv_psci(frame);
			return MV_EXIT_GUEST;
		}
		frame->regs[0] = (u64)PSCI_NOT_SUPPORTED;
		return MV_EXIT_GUEST;
	case 0x17:		/* SMC, trapped by HCR_EL2.TSC: ELR is the SMC itself */
		frame->elr += 4;
		mv_psci(frame);
		return MV_EXIT_GUEST;
	case 0x18:		/* MSR/MRS trapped */
		if ((esr & ISS_SYSREG_MASK) == ISS_ICC_SGI1R_WRITE && !(esr & 1)) {
			u32 rt = (esr >> 5) & 0x1f;

			write_sysreg(rt == 31 ? 0 : frame->regs[rt], icc_sgi1r_el1);
			isb();
		} else {
			printk("CPU%u: minivisor: unexpected system register trap, ESR 0x%lx ELR "
			       "0x%lx", cpu, esr, frame->elr);
		}
		frame->elr += 4;
		return MV_EXIT_GUEST;
	case 0x24:		/* data abort at stage 2 */
		mv_mmio(frame, esr);
		return MV_EXIT_GUEST;
	}
	printk("CPU%u: minivisor: unhandled trap from the root cell: ESR 0x%lx ELR 0x%lx FAR "
	       "0x%lx", cpu, esr, frame->elr, frame->far);
	panic("minivisor: unhandled trap");
}

void mv_handle_irq(struct pt_regs *frame)
{
	u32 cpu = this_cpu_id();
	struct mv_cpu *c = &mv_cpus[cpu];
	u32 intid = (u32)read_sysreg(icc_iar1_el1);

	(void)frame;
	if (intid >= 1020)
		return;
	write_sysreg(intid, icc_eoir1_el1);		/* EOImode 1: the priority drop */
	isb();
	if (intid < 16) {
		write_sysreg(intid, icc_dir_el1);
		mv_inject(c, intid, intid, false, false);
	} else if (intid == PPI_MAINT) {
		write_sysreg(intid, icc_dir_el1);
		mv_maintenance(c);
	} else if (intid == PPI_PHYS_TIMER) {
		mv_inject(c, c->demoted ? PPI_HYP_TIMER : PPI_PHYS_TIMER, intid, true, false);
	} else if (intid == PPI_HYP_TIMER && c->demoted) {
		/* a physical 26 after the demotion: pending when the timer moved (or pended
		 * by software). Its source, CNTHP, is off now: deactivated here */
		write_sysreg(intid, icc_dir_el1);
#ifdef MINIVISOR_NAIVE
		/* naive: the root cell's timer is the remapped 30; a physical 26 is nobody's */
		c->lr_dropped++;
#else
		/* fixed: the kernel's own 26, delivered (it checks its timer's ISTATUS) */
		mv_inject(c, PPI_HYP_TIMER, 0, false, true);
#endif
	} else {
		mv_inject(c, intid, intid, true, false);
	}
}

void mv_bad_exception(struct pt_regs *frame, u64 kind)
{
	printk("CPU%u: minivisor: unexpected exception at EL2 (vector %lu): ESR 0x%lx ELR 0x%lx "
	       "FAR 0x%lx", this_cpu_id(), kind, frame->esr, frame->elr, frame->far);
	panic("minivisor: fatal exception");
}
