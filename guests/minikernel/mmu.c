/*
 * minikernel: the kernel's page tables: one identity map, 4 KiB granule, 2 MiB
 * blocks, a 4 GiB VA space (T0SZ = 32, walks start at level 1). The first GiB (the
 * virt platform's devices: GIC, PL011, ...) is Device-nGnRnE and never executable; RAM
 * is Normal write-back, inner shareable. The same tables and TCR serve the EL1&0 regime
 * and, with VHE, the EL2&0 one (E2H gives TCR_EL2 the EL1 layout).
 */
#include "kernel.h"

#define PTE_VALID	(1UL << 0)
#define PTE_TABLE	(1UL << 1)
#define PTE_ATTRINDX(i)	((u64)(i) << 2)
#define PTE_SH_INNER	(3UL << 8)
#define PTE_AF		(1UL << 10)
#define PTE_PXN		(1UL << 53)
#define PTE_UXN		(1UL << 54)
#define MT_DEVICE_nGnRnE 0
#define MT_NORMAL	1
#define MAIR_VALUE	(0x00UL << (8 * MT_DEVICE_nGnRnE) | 0xffUL << (8 * MT_NORMAL))
#define BLOCK_SIZE	(2UL << 20)
#define GIB		(1UL << 30)

#define TCR_T0SZ(x)	((u64)(x) << 0)
#define TCR_IRGN0_WBWA	(1UL << 8)
#define TCR_ORGN0_WBWA	(1UL << 10)
#define TCR_SH0_INNER	(3UL << 12)
#define TCR_TG0_4K	(0UL << 14)
#define TCR_T1SZ(x)	((u64)(x) << 16)
#define TCR_EPD1	(1UL << 23)
#define TCR_IPS_SHIFT	32

static u64 l1[512] __aligned(4096);
static u64 l2[4][512] __aligned(4096);

void mmu_build_idmap(void)
{
	u64 ram_end = plat.ram_base + plat.ram_size;
	u64 parange = read_sysreg(id_aa64mmfr0_el1) & 0xf;
	u32 i, j;

	if (parange > 5)
		parange = 5;		/* 48 bits is all a 4 KiB granule needs here */
	for (i = 0; i < 4; i++) {
		bool used = false;

		for (j = 0; j < 512; j++) {
			u64 pa = (u64)i * GIB + (u64)j * BLOCK_SIZE;
			u64 d = 0;

			if (pa >= (plat.ram_base & ~(BLOCK_SIZE - 1)) && pa < ram_end)
				d = pa | PTE_VALID | PTE_ATTRINDX(MT_NORMAL) | PTE_SH_INNER |
				    PTE_AF | PTE_UXN;
			else if (i == 0)
				d = pa | PTE_VALID | PTE_ATTRINDX(MT_DEVICE_nGnRnE) | PTE_AF |
				    PTE_PXN | PTE_UXN;
			l2[i][j] = d;
			used |= d != 0;
		}
		l1[i] = used ? ((u64)l2[i] | PTE_VALID | PTE_TABLE) : 0;
	}
	boot_shared.ttbr0 = (u64)l1;
	boot_shared.mair = MAIR_VALUE;
	boot_shared.tcr = TCR_T0SZ(32) | TCR_IRGN0_WBWA | TCR_ORGN0_WBWA | TCR_SH0_INNER |
			  TCR_TG0_4K | TCR_T1SZ(32) | TCR_EPD1 | parange << TCR_IPS_SHIFT;
	boot_shared.sctlr_mmu_on = INIT_SCTLR_EL1_MMU_ON;
	dsb(ishst);
}

void mmu_enable(void)
{
	cpu_enable_mmu(boot_shared.ttbr0, boot_shared.tcr, boot_shared.mair,
		       boot_shared.sctlr_mmu_on);
}
