/*
 * minikernel: the hyp stub, left at VBAR_EL2 when the kernel drops to EL1, with
 * Linux's ABI (arch/arm64/kernel/hyp-stub.S): HVC #0 from EL1 with the function in x0.
 *
 *   HVC_SET_VECTORS   (0)  x1 = the new VBAR_EL2 (how a hypervisor is installed)
 *   HVC_SOFT_RESTART  (1)  x1 = entry, x2..x4 = its x0..x2: jump there at EL2, MMU off
 *   HVC_RESET_VECTORS (2)  VBAR_EL2 = these vectors again
 *   HVC_FINALISE_EL2  (3)  VHE: set HCR_EL2.E2H and TGE, move the EL1 context the
 *                          kernel has set (SP, TPIDR, CPACR, VBAR, TCR, TTBR0/1, MAIR,
 *                          SCTLR) to EL2 and return to the caller at EL2
 *   anything else          x0 = HVC_STUB_ERR (0xbadca11)
 *
 * 0 in x0 on success. The stub has no stack; it clobbers x0, x1 and x9 (hyp_stub_call
 * is an ordinary function for the C code: x9 is caller-saved). Any other exception
 * taken to EL2 prints its ESR_EL2 and ELR_EL2 on the UART and parks the CPU.
 */
#include "asm.h"

	.arch armv8.1-a
	.text

	.macro	ventry target
	.balign	128
	b	\target
	.endm

	.balign	2048
	.global	__hyp_stub_vectors
__hyp_stub_vectors:
	ventry	stub_unexpected			// EL2t: sync, IRQ, FIQ, SError
	ventry	stub_unexpected
	ventry	stub_unexpected
	ventry	stub_unexpected
	ventry	stub_unexpected			// EL2h
	ventry	stub_unexpected
	ventry	stub_unexpected
	ventry	stub_unexpected
	ventry	elx_sync			// lower EL, AArch64: sync
	ventry	stub_unexpected
	ventry	stub_unexpected
	ventry	stub_unexpected
	ventry	stub_unexpected			// lower EL, AArch32
	ventry	stub_unexpected
	ventry	stub_unexpected
	ventry	stub_unexpected

elx_sync:
	mrs	x9, esr_el2
	lsr	x9, x9, #26
	cmp	x9, #0x16			// EC: HVC from AArch64
	b.ne	stub_unexpected
	cmp	x0, #HVC_SET_VECTORS
	b.ne	1f
	msr	vbar_el2, x1
	b	9f
1:	cmp	x0, #HVC_FINALISE_EL2
	b.eq	__finalise_el2
	cmp	x0, #HVC_SOFT_RESTART
	b.ne	2f
	mov_q	x9, INIT_SCTLR_EL2_MMU_OFF	// EL2's MMU off (it is, without VHE)
	msr	sctlr_el2, x9
	isb
	mov	x9, x1
	mov	x0, x2
	mov	x1, x3
	mov	x2, x4
	br	x9				// at EL2, DAIF masked: no return
2:	cmp	x0, #HVC_RESET_VECTORS
	b.ne	stub_error
	adr_l	x9, __hyp_stub_vectors
	msr	vbar_el2, x9
	isb
9:	mov	x0, xzr
	eret
stub_error:
	mov_q	x0, HVC_STUB_ERR
	eret

/*
 * HVC_FINALISE_EL2, as Linux's __finalise_el2 + enter_vhe: only with EL2's MMU off and
 * ID_AA64MMFR1_EL1.VH != 0 (the command line override is the caller's business).
 * With E2H = 1 the *_EL1 names reach the EL2 registers and *_EL12 the EL1 ones.
 */
__finalise_el2:
	mrs	x9, sctlr_el2
	tbnz	x9, #0, stub_error
	mrs	x9, id_aa64mmfr1_el1
	ubfx	x9, x9, #ID_AA64MMFR1_VH_SHIFT, #4
	cbz	x9, stub_error

	mov_q	x9, HCR_HOST_VHE_FLAGS		// engage the VHE magic
	msr	hcr_el2, x9
	isb
	mrs	x9, sp_el1			// the caller's stack and per-CPU pointer
	mov	sp, x9
	mrs	x9, tpidr_el1
	msr	tpidr_el2, x9
	mrs	x9, cpacr_el12			// FP configuration, vectors
	msr	cpacr_el1, x9
	mrs	x9, vbar_el12
	msr	vbar_el1, x9
	mrs	x9, tcr_el12			// the MM state
	msr	tcr_el1, x9
	mrs	x9, ttbr0_el12
	msr	ttbr0_el1, x9
	mrs	x9, ttbr1_el12
	msr	ttbr1_el1, x9
	mrs	x9, mair_el12
	msr	mair_el1, x9
	isb
	mrs	x9, spsr_el1			// return to EL2h rather than EL1h
	and	x9, x9, #~PSR_MODE_MASK
	mov	x0, #PSR_MODE_EL2h
	orr	x9, x9, x0
	msr	spsr_el1, x9

	tlbi	vmalle1				// (the EL2&0 regime now) before its MMU is on
	dsb	nsh
	isb
	mrs	x9, sctlr_el12			// EL2's MMU as EL1 had it
	msr	sctlr_el1, x9
	isb
	mov_q	x9, INIT_SCTLR_EL1_MMU_OFF	// and EL1's off, for good measure
	msr	sctlr_el12, x9
	isb
	mov	x0, xzr
	eret

stub_unexpected:
	adr	x0, msg_unexpected
	bl	early_puts
	mrs	x0, esr_el2
	bl	early_puthex
	adr	x0, msg_elr
	bl	early_puts
	mrs	x0, elr_el2
	bl	early_puthex
	adr	x0, msg_nl
	bl	early_puts
	b	cpu_park

/* u64 hyp_stub_call(fn, a1, a2, a3, a4): HVC #0 to the stub (from EL1 only) */
	.global	hyp_stub_call
hyp_stub_call:
	hvc	#0
	ret

/* hyp_stub_restart_probe: a target for main.c's check of HVC_SOFT_RESTART. It runs at
 * EL2 with the MMU off, x0 = a buffer, x1 = a value: it writes CurrentEL and the value
 * there, then returns to the HVC's caller through ELR_EL2/SPSR_EL2 (the stub left them
 * alone) with x0 = 0. */
	.global	hyp_stub_restart_probe
hyp_stub_restart_probe:
	mrs	x9, CurrentEL
	str	x9, [x0]
	str	x1, [x0, #8]
	dsb	sy
	mov	x0, xzr
	eret

msg_unexpected:
	.asciz	"hyp-stub: unexpected exception at EL2, ESR_EL2="
msg_elr:
	.asciz	" ELR_EL2="
msg_nl:
	.asciz	"\n"
	.balign	4
