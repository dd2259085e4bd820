/*
 * minikernel: the GICv3, as Linux's irq-gic-v3 sets it up: the boot CPU initialises
 * the distributor (affinity routing, Group 1, every SPI Group 1 and disabled); each
 * CPU wakes its redistributor, puts its SGIs and PPIs in Group 1 with one priority,
 * enables its SGIs, and turns on its CPU interface through the system registers.
 */
#include "kernel.h"

#define GICD_CTLR		0x0000
#define GICD_TYPER		0x0004
#define GICD_IGROUPR		0x0080
#define GICD_ICENABLER		0x0180
#define GICD_IPRIORITYR		0x0400
#define GICD_CTLR_RWP		(1U << 31)
#define GICD_CTLR_ARE		(1U << 4)
#define GICD_CTLR_ENABLE_G1	(1U << 1)	/* one Security state (DS = 1), as QEMU virt */

#define GICR_TYPER		0x0008
#define GICR_WAKER		0x0014
#define GICR_TYPER_LAST		(1UL << 4)
#define WAKER_PROCESSOR_SLEEP	(1U << 1)
#define WAKER_CHILDREN_ASLEEP	(1U << 2)
#define GICR_STRIDE		0x20000
#define SGI_BASE		0x10000
#define GICR_IGROUPR0		0x0080
#define GICR_ISENABLER0		0x0100
#define GICR_ICENABLER0		0x0180
#define GICR_ICACTIVER0		0x0380
#define GICR_IPRIORITYR0	0x0400

#define DEFAULT_PRIO		0xa0
#define PRIO_X4			0xa0a0a0a0U
#define PMR_UNMASK		0xf0

u32 gic_nr_irqs;

/* as Linux's __raw_readl/__raw_writel: one plain LDR/STR, never a writeback form, so
 * that a hypervisor trapping the access at stage 2 gets its syndrome (ESR.ISV = 1) */
static inline u32 rd32(u64 a)
{
	u32 v;

	asm volatile("ldr %w0, [%1]" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline void wr32(u64 a, u32 v)
{
	asm volatile("str %w0, [%1]" : : "rZ"(v), "r"(a) : "memory");
}

static void dist_wait_rwp(void)
{
	u64 deadline = counter_read() + ns_to_ticks(1000000000UL);

	while (rd32(plat.gicd + GICD_CTLR) & GICD_CTLR_RWP)
		if (counter_read() > deadline) {
			printk("GICv3: RWP timeout");
			return;
		}
}

void gic_dist_init(void)
{
	u64 d = plat.gicd;
	u32 i;

	wr32(d + GICD_CTLR, 0);
	dist_wait_rwp();
	gic_nr_irqs = ((rd32(d + GICD_TYPER) & 0x1f) + 1) * 32;
	if (gic_nr_irqs > 1020)
		gic_nr_irqs = 1020;
	for (i = 32; i < gic_nr_irqs; i += 32) {
		wr32(d + GICD_IGROUPR + i / 8, 0xffffffff);
		wr32(d + GICD_ICENABLER + i / 8, 0xffffffff);
	}
	for (i = 32; i < gic_nr_irqs; i += 4)
		wr32(d + GICD_IPRIORITYR + i, PRIO_X4);
	dist_wait_rwp();
	wr32(d + GICD_CTLR, GICD_CTLR_ARE | GICD_CTLR_ENABLE_G1);
	dist_wait_rwp();
	printk("GICv3: distributor at 0x%08lx, %u interrupts, redistributors from 0x%08lx",
	       d, gic_nr_irqs, plat.gicr);
}

static u64 find_rdist(u64 mpidr)
{
	u64 aff = (mpidr & 0xffffff) | (mpidr >> 32 & 0xff) << 24;	/* Aff3.Aff2.Aff1.Aff0 */
	u64 r = plat.gicr;
	u32 n;

	for (n = 0; n < 256; n++, r += GICR_STRIDE) {
		u64 typer = *(volatile u64 *)(r + GICR_TYPER);

		if (typer >> 32 == aff)
			return r;
		if (typer & GICR_TYPER_LAST)
			break;
	}
	return 0;
}

void gic_cpu_init(u32 cpu)
{
	struct cpu_data *cd = &cpu_data[cpu];
	u64 rd = find_rdist(cd->mpidr), sgi;
	u64 deadline;
	u32 i;

	if (!rd)
		panic("CPU%u: no redistributor for MPIDR 0x%lx", cpu, cd->mpidr);
	cd->rdist = rd;
	sgi = rd + SGI_BASE;
	wr32(rd + GICR_WAKER, rd32(rd + GICR_WAKER) & ~WAKER_PROCESSOR_SLEEP);
	deadline = counter_read() + ns_to_ticks(1000000000UL);
	while (rd32(rd + GICR_WAKER) & WAKER_CHILDREN_ASLEEP)
		if (counter_read() > deadline) {
			printk("CPU%u: GICv3: redistributor failed to wake up", cpu);
			break;
		}
	wr32(sgi + GICR_IGROUPR0, 0xffffffff);		/* SGIs and PPIs: Group 1 */
	wr32(sgi + GICR_ICACTIVER0, 0xffffffff);
	wr32(sgi + GICR_ICENABLER0, 0xffff0000);	/* PPIs off, until asked for */
	wr32(sgi + GICR_ISENABLER0, 0x0000ffff);	/* SGIs on */
	for (i = 0; i < 32; i += 4)
		wr32(sgi + GICR_IPRIORITYR0 + i, PRIO_X4);

	/* the CPU interface: system registers, priority mask, EOImode 0, Group 1 on */
	write_sysreg(read_sysreg(icc_sre_el1) | 1, icc_sre_el1);
	isb();
	if (!(read_sysreg(icc_sre_el1) & 1))
		panic("CPU%u: GICv3 system register interface not enabled", cpu);
	write_sysreg(PMR_UNMASK, icc_pmr_el1);
	write_sysreg(0, icc_bpr1_el1);
	write_sysreg(0, icc_ctlr_el1);
	write_sysreg(1, icc_igrpen1_el1);
	isb();
	printk("CPU%u: GICv3: redistributor at 0x%08lx, CPU interface on (ICC_SRE_EL1.SRE=1)",
	       cpu, rd);
}

void gic_enable_ppi(u32 intid)
{
	u64 sgi = this_cpu()->rdist + SGI_BASE;

	wr32(sgi + GICR_ISENABLER0, 1U << intid);
}

/* SGI `sgi` to logical CPU `cpu` (Aff0 < 16: the target list, RS = 0) */
void gic_send_sgi(u32 cpu, u32 sgi)
{
	u64 mpidr = cpu_data[cpu].mpidr;
	u64 v = (1UL << (mpidr & 0xf)) | ((mpidr >> 8) & 0xff) << 16 |
		(u64)(sgi & 0xf) << 24 | ((mpidr >> 16) & 0xff) << 32 |
		((mpidr >> 32) & 0xff) << 48;

	dsb(ishst);
	write_sysreg(v, icc_sgi1r_el1);
	isb();
}

u32 gic_ack(void)
{
	u32 intid = (u32)read_sysreg(icc_iar1_el1);

	dsb(sy);
	return intid;
}

void gic_eoi(u32 intid)
{
	write_sysreg(intid, icc_eoir1_el1);
	isb();
}
