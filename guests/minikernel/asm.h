/* minikernel: constants shared by the C and the assembly sources. */
#ifndef MINIKERNEL_ASM_H
#define MINIKERNEL_ASM_H

#ifdef __ASSEMBLY__
#define UL(x) x
#else
#define UL(x) x##UL
#endif

/* the hyp stub's ABI, as Linux's (arch/arm64/include/asm/virt.h): x0 = function */
#define HVC_SET_VECTORS		0	/* x1 = the new VBAR_EL2 */
#define HVC_SOFT_RESTART	1	/* x1 = entry, x2..x4 = its x0..x2; at EL2, MMU off */
#define HVC_RESET_VECTORS	2	/* VBAR_EL2 = the stub's vectors */
#define HVC_FINALISE_EL2	3	/* VHE: return to the caller at EL2 with E2H = 1 */
#define HVC_STUB_ERR		UL(0xbadca11)

#define BOOT_CPU_MODE_EL1	1
#define BOOT_CPU_MODE_EL2	2

/* HCR_EL2 */
#define HCR_RW			(UL(1) << 31)
#define HCR_TGE			(UL(1) << 27)
#define HCR_E2H			(UL(1) << 34)
#define HCR_HOST_NVHE_FLAGS	(HCR_RW)
#define HCR_HOST_VHE_FLAGS	(HCR_RW | HCR_TGE | HCR_E2H)

/* SCTLR_ELx. MMU off: the RES1 bits (EL2's non-E2H layout), little-endian */
#define INIT_SCTLR_EL2_MMU_OFF	UL(0x30c50830)
/* EL1: EOS, TSCXT, EIS, nTLSMD, LSMAOE (RES1 without their features), as Linux */
#define INIT_SCTLR_EL1_MMU_OFF	UL(0x30500800)
#define SCTLR_M			(UL(1) << 0)
#define SCTLR_C			(UL(1) << 2)
#define SCTLR_SA		(UL(1) << 3)
#define SCTLR_I			(UL(1) << 12)
#define SCTLR_SPAN		(UL(1) << 23)
#define INIT_SCTLR_EL1_MMU_ON	(INIT_SCTLR_EL1_MMU_OFF | SCTLR_M | SCTLR_C | SCTLR_SA | \
				 SCTLR_I | SCTLR_SPAN)

/* EL2 initialisation (Linux's init_el2_state, the parts this kernel needs) */
#define CPTR_NVHE_EL2_RES1	UL(0x33ff)	/* RES1 bits and TZ: no FP/SIMD traps */
#define CNTHCTL_EL1PCTEN	(UL(1) << 0)	/* E2H = 0: EL1 reads the physical counter */
#define CNTHCTL_EL1PCEN		(UL(1) << 1)	/* E2H = 0: EL1 uses the physical timer */
#define ICC_SRE_EL2_SRE		(UL(1) << 0)
#define ICC_SRE_EL2_ENABLE	(UL(1) << 3)

/* PSTATE / SPSR */
#define PSR_MODE_EL1h		UL(0x5)
#define PSR_MODE_EL2h		UL(0x9)
#define PSR_MODE_MASK		UL(0xf)
#define PSR_DAIF		UL(0x3c0)

/* ID register fields */
#define ID_AA64MMFR1_VH_SHIFT	8
#define ID_AA64PFR0_GIC_SHIFT	24
#define ID_AA64DFR0_PMUVER_SHIFT 8

#define MPIDR_HWID_MASK_ASM	0xff00ffffff
#define STACK_SHIFT		14	/* 16 KiB a CPU */
#define NR_CPUS_ASM		16

/* PL011 for the few lines printed before there is a stack (head.S, hyp-stub.S) */
#define UART_BASE		0x09000000
#define UARTFR_OFF		0x18
#define UARTFR_TXFF		0x20

#ifdef __ASSEMBLY__
	.macro mov_q reg, val
	movz \reg, #((\val) & 0xffff)
	movk \reg, #(((\val) >> 16) & 0xffff), lsl #16
	movk \reg, #(((\val) >> 32) & 0xffff), lsl #32
	movk \reg, #(((\val) >> 48) & 0xffff), lsl #48
	.endm

	/* x = address of sym (PC-relative, +-4 GiB) */
	.macro adr_l reg, sym
	adrp \reg, \sym
	add \reg, \reg, :lo12:\sym
	.endm
#endif

#endif
