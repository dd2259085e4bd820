/*
 * minikernel: the kernel's exception vectors, for the EL it runs at: EL1, or EL2 with
 * VHE (HCR_EL2.E2H = 1), where the *_EL1 names used here (ELR, SPSR, ESR, FAR) reach
 * the EL2 registers, so that the same code serves both. Only exceptions from the
 * current EL on SP_ELx are expected (the kernel has no EL0): a synchronous one is
 * fatal, an IRQ goes to do_irq (gic.c); the others are reported and fatal.
 */
#include "asm.h"

	.arch armv8.1-a
	.text

#define S_FRAME	288		/* struct pt_regs: x0-x30, sp, elr, spsr, esr, far */

	.macro	kernel_entry
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
	add	x21, sp, #S_FRAME
	stp	x30, x21, [sp, #16 * 15]
	mrs	x21, elr_el1
	mrs	x22, spsr_el1
	stp	x21, x22, [sp, #16 * 16]
	mrs	x21, esr_el1
	mrs	x22, far_el1
	stp	x21, x22, [sp, #16 * 17]
	.endm

	.macro	kernel_exit
	ldp	x21, x22, [sp, #16 * 16]
	msr	elr_el1, x21
	msr	spsr_el1, x22
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
	ldr	x30, [sp, #16 * 15]
	add	sp, sp, #S_FRAME
	eret
	.endm

	.macro	ventry target
	.balign	128
	b	\target
	.endm

	.macro	bad_vector n
bad_\n:
	kernel_entry
	mov	x0, sp
	mov	x1, #\n
	bl	do_bad
	b	cpu_park
	.endm

	.balign	2048
	.global	vectors
vectors:
	ventry	bad_0				// current EL with SP_EL0
	ventry	bad_1
	ventry	bad_2
	ventry	bad_3
	ventry	el_sync				// current EL with SP_ELx
	ventry	el_irq
	ventry	bad_6
	ventry	bad_7
	ventry	bad_8				// lower EL, AArch64
	ventry	bad_9
	ventry	bad_10
	ventry	bad_11
	ventry	bad_12				// lower EL, AArch32
	ventry	bad_13
	ventry	bad_14
	ventry	bad_15

el_sync:
	kernel_entry
	mov	x0, sp
	bl	do_sync				// returns only if it dealt with it
	kernel_exit

el_irq:
	kernel_entry
	mov	x0, sp
	bl	do_irq
	kernel_exit

	bad_vector 0
	bad_vector 1
	bad_vector 2
	bad_vector 3
	bad_vector 6
	bad_vector 7
	bad_vector 8
	bad_vector 9
	bad_vector 10
	bad_vector 11
	bad_vector 12
	bad_vector 13
	bad_vector 14
	bad_vector 15

/*
 * cpu_enable_mmu(ttbr0, tcr, mair, sctlr): stage 1 on for the regime this CPU runs in
 * (EL1&0, or EL2&0 with E2H = 1: the same names reach EL2's registers), over an
 * identity map, so the next instruction is where it was.
 */
	.global	cpu_enable_mmu
cpu_enable_mmu:
	msr	mair_el1, x2
	msr	tcr_el1, x1
	msr	ttbr0_el1, x0
	isb
	tlbi	vmalle1
	dsb	nsh
	isb
	msr	sctlr_el1, x3
	isb
	ic	iallu
	dsb	nsh
	isb
	ret
