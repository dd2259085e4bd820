/*
 * minivisor: EL2 entry and exit.
 *
 *   mv_init_vectors  installed through the hyp stub (HVC_SET_VECTORS) by a kernel at EL1;
 *                    its only expected exception is the HVC MV_HC_ENTER (x1 = cpu) that
 *                    follows: it takes this CPU's hypervisor stack (SP_EL2 is unknown
 *                    under the stub), installs mv_vectors and enters like any trap
 *   mv_vectors       the hypervisor's vectors (non-E2H EL2 regime, MMU on): a trap or a
 *                    physical IRQ from the root cell saves the vCPU's registers in a
 *                    struct pt_regs on this CPU's stack and calls C
 *   mv_enter_vhe     called by a VHE kernel at EL2: builds the same frame from its live
 *                    registers (as if it had trapped at the return address) and enters;
 *                    it returns at EL1, demoted
 *   mv_switch_regime EL2's MMU off, HCR_EL2 and the EL2 translation of the other regime
 *                    (E2H on or off), MMU as given
 */
#include "../asm.h"

	.arch armv8.1-a
	.text

#define S_FRAME		288
#define MV_STACK_SHIFT	13

	.macro	mv_save
	sub	sp, sp, #S_FRAME
	stp	x0, x1, [sp, #16 * 0]
	stp	x2, x3, [sp, #16 * 1]
	stp	x4, x5, [sp, #16 * 2]
	stp	x6, x7, [sp, #16 * 3]
	stp	x8, x9, [sp, #16 * 4]
	stp	x10, x11, [sp, #16 * 5]
	stp	x12, x13, [sp, #16 * 6]
	stp	x14, x15, [sp, #16 * 7]
	stp	x16, x17, [sp, #16 * 8]
	stp	x18, x19, [sp, #16 * 9]
	stp	x20, x21, [sp, #16 * 10]
	stp	x22, x23, [sp, #16 * 11]
	stp	x24, x25, [sp, #16 * 12]
	stp	x26, x27, [sp, #16 * 13]
	stp	x28, x29, [sp, #16 * 14]
	mrs	x21, sp_el1
	stp	x30, x21, [sp, #16 * 15]
	mrs	x21, elr_el2
	mrs	x22, spsr_el2
	stp	x21, x22, [sp, #16 * 16]
	mrs	x21, esr_el2
	mrs	x22, far_el2
	stp	x21, x22, [sp, #16 * 17]
	mov	x0, sp
	.endm

	.macro	ventry target
	.balign	128
	b	\target
	.endm

	.balign	2048
	.global	mv_init_vectors
mv_init_vectors:
	ventry	mv_bad_init
	ventry	mv_bad_init
	ventry	mv_bad_init
	ventry	mv_bad_init
	ventry	mv_bad_init
	ventry	mv_bad_init
	ventry	mv_bad_init
	ventry	mv_bad_init
	ventry	mv_first_entry			// lower EL, AArch64: sync (the HVC)
	ventry	mv_bad_init
	ventry	mv_bad_init
	ventry	mv_bad_init
	ventry	mv_bad_init
	ventry	mv_bad_init
	ventry	mv_bad_init
	ventry	mv_bad_init

	.balign	2048
	.global	mv_vectors
mv_vectors:
	ventry	mv_bad_0			// EL2t
	ventry	mv_bad_1
	ventry	mv_bad_2
	ventry	mv_bad_3
	ventry	mv_bad_4			// EL2h: the hypervisor runs with DAIF masked
	ventry	mv_bad_5
	ventry	mv_bad_6
	ventry	mv_bad_7
	ventry	mv_lower_sync			// lower EL, AArch64
	ventry	mv_lower_irq
	ventry	mv_bad_10
	ventry	mv_bad_11
	ventry	mv_bad_12			// lower EL, AArch32
	ventry	mv_bad_13
	ventry	mv_bad_14
	ventry	mv_bad_15

mv_first_entry:
	adr_l	x9, mv_stacks			// SP_EL2 = the top of this CPU's stack
	add	x9, x9, x1, lsl #MV_STACK_SHIFT
	add	x9, x9, #(1 << MV_STACK_SHIFT)
	mov	sp, x9
	adr_l	x9, mv_vectors
	msr	vbar_el2, x9
	isb
	mv_save
	mov	x2, #0				// not VHE
	bl	mv_cpu_enter
	b	mv_exit_guest

mv_lower_sync:
	mv_save
	bl	mv_handle_sync
	cmp	x0, #2				// MV_EXIT_PROMOTE
	b.eq	mv_exit_promote
	b	mv_exit_guest

mv_lower_irq:
	mv_save
	bl	mv_handle_irq
	b	mv_exit_guest

/* back to the vCPU at EL1 (or to the kernel at EL1 over the stub after a disable: the
 * frame is then read with EL2's MMU off, aligned) */
	.global	mv_exit_guest
mv_exit_guest:
	ldp	x21, x22, [sp, #16 * 16]
	msr	elr_el2, x21
	msr	spsr_el2, x22
	ldp	x30, x21, [sp, #16 * 15]
	msr	sp_el1, x21
	ldp	x0, x1, [sp, #16 * 0]
	ldp	x2, x3, [sp, #16 * 1]
	ldp	x4, x5, [sp, #16 * 2]
	ldp	x6, x7, [sp, #16 * 3]
	ldp	x8, x9, [sp, #16 * 4]
	ldp	x10, x11, [sp, #16 * 5]
	ldp	x12, x13, [sp, #16 * 6]
	ldp	x14, x15, [sp, #16 * 7]
	ldp	x16, x17, [sp, #16 * 8]
	ldp	x18, x19, [sp, #16 * 9]
	ldp	x20, x21, [sp, #16 * 10]
	ldp	x22, x23, [sp, #16 * 11]
	ldp	x24, x25, [sp, #16 * 12]
	ldp	x26, x27, [sp, #16 * 13]
	ldp	x28, x29, [sp, #16 * 14]
	add	sp, sp, #S_FRAME
	eret

/* back to the kernel at EL2h with VHE (the C code has switched the regime): its SP is
 * the frame's, its PSTATE the frame's with the mode EL2h */
mv_exit_promote:
	mov	x1, sp
	ldp	x21, x22, [x1, #16 * 16]
	msr	elr_el2, x21
	bic	x22, x22, #PSR_MODE_MASK
	mov	x23, #PSR_MODE_EL2h
	orr	x22, x22, x23
	msr	spsr_el2, x22
	ldp	x2, x3, [x1, #16 * 1]
	ldp	x4, x5, [x1, #16 * 2]
	ldp	x6, x7, [x1, #16 * 3]
	ldp	x8, x9, [x1, #16 * 4]
	ldp	x10, x11, [x1, #16 * 5]
	ldp	x12, x13, [x1, #16 * 6]
	ldp	x14, x15, [x1, #16 * 7]
	ldp	x16, x17, [x1, #16 * 8]
	ldp	x18, x19, [x1, #16 * 9]
	ldp	x20, x21, [x1, #16 * 10]
	ldp	x22, x23, [x1, #16 * 11]
	ldp	x24, x25, [x1, #16 * 12]
	ldp	x26, x27, [x1, #16 * 13]
	ldp	x28, x29, [x1, #16 * 14]
	ldp	x30, x0, [x1, #16 * 15]
	mov	sp, x0
	ldp	x0, x1, [x1, #16 * 0]
	eret

/*
 * void mv_enter_vhe(u64 cpu): the kernel at EL2 (E2H, TGE), IRQs masked. A frame on
 * this CPU's hypervisor stack with the live registers, ELR = 1f, SPSR = EL1h with the
 * caller's DAIF, SP_EL1 = the caller's SP; mv_cpu_enter demotes; the exit returns at 1f
 * at EL1 with x0 = 0 and every other register as it was.
 */
	.global	mv_enter_vhe
mv_enter_vhe:
	adr_l	x9, mv_stacks
	add	x9, x9, x0, lsl #MV_STACK_SHIFT
	add	x9, x9, #(1 << MV_STACK_SHIFT)
	sub	x9, x9, #S_FRAME
	stp	x0, x1, [x9, #16 * 0]
	stp	x2, x3, [x9, #16 * 1]
	stp	x4, x5, [x9, #16 * 2]
	stp	x6, x7, [x9, #16 * 3]
	stp	x8, x9, [x9, #16 * 4]
	stp	x10, x11, [x9, #16 * 5]
	stp	x12, x13, [x9, #16 * 6]
	stp	x14, x15, [x9, #16 * 7]
	stp	x16, x17, [x9, #16 * 8]
	stp	x18, x19, [x9, #16 * 9]
	stp	x20, x21, [x9, #16 * 10]
	stp	x22, x23, [x9, #16 * 11]
	stp	x24, x25, [x9, #16 * 12]
	stp	x26, x27, [x9, #16 * 13]
	stp	x28, x29, [x9, #16 * 14]
	mov	x10, sp
	stp	x30, x10, [x9, #16 * 15]
	adr	x10, 1f
	mrs	x11, daif
	mov	x12, #PSR_MODE_EL1h
	orr	x11, x11, x12
	stp	x10, x11, [x9, #16 * 16]
	stp	xzr, xzr, [x9, #16 * 17]
	mov	sp, x9
	mov	x1, x0
	mov	x0, sp
	mov	x2, #1				// VHE: demote
	bl	mv_cpu_enter
	b	mv_exit_guest
1:	ret					// at EL1 now

/* u64 mv_hvc(fn, a1): a hypercall from the root cell */
	.global	mv_hvc
mv_hvc:
	hvc	#0
	ret

/* s64 mv_smc(fn, a1, a2, a3): the firmware (PSCI), from EL2 */
	.global	mv_smc
mv_smc:
	smc	#0
	ret

/*
 * void mv_switch_regime(const struct mv_regime *r): EL2's MMU off, then HCR_EL2 (E2H
 * may change: the layouts of TCR/CPTR/CNTHCTL_EL2 change with it), the translation,
 * VBAR, CPTR and CNTHCTL of the new regime, TLBs of EL2 dropped, SCTLR_EL2 (MMU on, or
 * off). The code and the structure are identity-mapped in both regimes. Clobbers x1-x3.
 *   struct mv_regime { hcr 0, tcr 8, ttbr0 16, ttbr1 24, mair 32, sctlr 40, vbar 48,
 *                      cptr 56, cnthctl 64 }
 */
	.global	mv_switch_regime
mv_switch_regime:
	mrs	x1, sctlr_el2
	bic	x1, x1, #1
	msr	sctlr_el2, x1
	isb
	ldr	x1, [x0, #0]
	msr	hcr_el2, x1
	isb
	ldp	x2, x3, [x0, #8]
	msr	tcr_el2, x2
	msr	ttbr0_el2, x3
	tbz	x1, #34, 1f			// TTBR1_EL2: only in the E2H regime
	ldr	x2, [x0, #24]
	msr	ttbr1_el2, x2
1:	ldp	x2, x3, [x0, #32]
	msr	mair_el2, x2
	ldp	x2, x3, [x0, #48]
	msr	vbar_el2, x2
	msr	cptr_el2, x3
	ldr	x2, [x0, #64]
	msr	cnthctl_el2, x2
	isb
	tlbi	alle2
	dsb	nsh
	isb
	ldr	x2, [x0, #40]
	msr	sctlr_el2, x2
	isb
	ic	iallu
	dsb	nsh
	isb
	ret

/* unexpected exceptions at EL2: report (minivisor.c) and park */
	.macro	bad_vector n
mv_bad_\n:
	mv_save
	mov	x1, #\n
	bl	mv_bad_exception
	b	cpu_park
	.endm

mv_bad_init:
	adr	x0, msg_bad_init
	bl	early_puts
	mrs	x0, esr_el2
	bl	early_puthex
	b	cpu_park

	bad_vector 0
	bad_vector 1
	bad_vector 2
	bad_vector 3
	bad_vector 4
	bad_vector 5
	bad_vector 6
	bad_vector 7
	bad_vector 10
	bad_vector 11
	bad_vector 12
	bad_vector 13
	bad_vector 14
	bad_vector 15

	.section .rodata
msg_bad_init:
	.asciz	"minivisor: unexpected exception before entry, ESR_EL2="

	.section .stacks, "aw", %nobits
	.balign	16
	.global	mv_stacks
mv_stacks:
	.skip	NR_CPUS_ASM << MV_STACK_SHIFT
