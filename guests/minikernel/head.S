/*
 * minikernel: the arm64 Image header and the entry point of every CPU.
 *
 * The boot CPU enters at _text with the MMU off and x0 = the FDT's physical address
 * (or 0), as Linux's Documentation/arm64/booting.rst says; secondary CPUs enter at
 * the same place, released by PSCI CPU_ON or by spin-table. secondary_go (0 in the
 * image) tells them apart: the boot CPU sets it before it starts any secondary.
 *
 * At EL2 every CPU initialises EL2 as Linux's init_el2 does, installs the hyp stub
 * (hyp-stub.S) at VBAR_EL2 and drops to EL1h with DAIF masked; whether the kernel then
 * goes back up to EL2 with VHE is decided later, in C (main.c: vhe_finalise).
 */
#include "asm.h"

	.arch armv8.1-a

	.section .head.text, "ax"
	.global _text
_text:
	b	entry				// code0: to the real entry
	.long	0				// code1
	.quad	0x200000			// text_offset
	.quad	_image_size			// image_size: the whole image with .bss and stacks
	.quad	0xa				// flags: little-endian, 4 KiB pages, anywhere
	.quad	0				// res2
	.quad	0				// res3
	.quad	0				// res4
	.byte	0x41, 0x52, 0x4d, 0x64		// magic "ARM\x64"
	.long	0				// res5

entry:
	mov	x19, x0				// the FDT (boot CPU) or CPU_ON's context id
	mrs	x20, CurrentEL
	ubfx	x20, x20, #2, #2		// the EL this CPU entered at
	adr	x1, _text			// linked for 0x40200000: refuse to run elsewhere
	ldr	x2, =_text
	cmp	x1, x2
	b.ne	wrong_address
	cmp	x20, #2
	b.ne	1f
	bl	init_el2			// comes back at EL1h, DAIF masked
	b	2f
1:	msr	daifset, #0xf
	mov_q	x0, INIT_SCTLR_EL1_MMU_OFF	// EL1: MMU off, little-endian
	msr	sctlr_el1, x0
	isb
2:	msr	spsel, #1
	adr_l	x0, secondary_go
	ldr	w0, [x0]
	cbnz	w0, secondary_entry

	// the boot CPU: clear .bss (MMU off: 16-byte aligned stores), CPU 0's stack
	adr_l	x0, __bss_start
	adr_l	x1, __bss_end
3:	cmp	x0, x1
	b.hs	4f
	stp	xzr, xzr, [x0], #16
	b	3b
4:	adr_l	x0, stacks
	add	x0, x0, #(1 << STACK_SHIFT)
	mov	sp, x0
	msr	tpidr_el1, xzr			// logical CPU 0
	adr_l	x0, vectors
	msr	vbar_el1, x0
	isb
	mov	x0, x19
	mov	x1, x20
	bl	start_kernel
	b	cpu_park

	// a secondary: its logical number is where the boot CPU put its MPIDR. One that
	// is not there yet waits (Linux's secondary_holding_pen): spin-table CPUs that
	// share a release address all leave the firmware's pen at the first release
secondary_pen:
	wfe
secondary_entry:
	mrs	x0, mpidr_el1
	mov_q	x1, MPIDR_HWID_MASK_ASM
	and	x0, x0, x1
	adr_l	x1, cpu_logical_map
	mov	x2, #1
5:	ldr	x3, [x1, x2, lsl #3]
	cmp	x3, x0
	b.eq	6f
	add	x2, x2, #1
	cmp	x2, #NR_CPUS_ASM
	b.lo	5b
	b	secondary_pen			// not (yet) a CPU this kernel started
6:	adr_l	x0, stacks
	add	x3, x2, #1
	add	x0, x0, x3, lsl #STACK_SHIFT
	mov	sp, x0
	msr	tpidr_el1, x2
	adr_l	x0, vectors
	msr	vbar_el1, x0
	isb
	mov	x0, x2
	mov	x1, x20
	bl	secondary_start_kernel
	b	cpu_park

/*
 * init_el2: EL2 as Linux's init_el2 leaves it for an nVHE kernel (HCR_EL2 = RW, EL1
 * with the physical counter and timer, the GICv3 system registers open to EL1, no
 * stage 2, no traps), the hyp stub at VBAR_EL2, then ERET to the caller at EL1h with
 * DAIF masked. Clobbers x0, x1.
 */
init_el2:
	mov_q	x0, INIT_SCTLR_EL2_MMU_OFF
	msr	sctlr_el2, x0
	isb
	mov_q	x0, HCR_HOST_NVHE_FLAGS
	msr	hcr_el2, x0
	isb
	mrs	x0, cnthctl_el2			// EL1 has the physical counter and timer
	orr	x0, x0, #(CNTHCTL_EL1PCTEN | CNTHCTL_EL1PCEN)
	msr	cnthctl_el2, x0
	msr	cntvoff_el2, xzr
	mrs	x0, id_aa64pfr0_el1		// GICv3 system registers: EL1 may use them
	ubfx	x0, x0, #ID_AA64PFR0_GIC_SHIFT, #4
	cbz	x0, 1f
	mrs	x0, icc_sre_el2
	orr	x0, x0, #ICC_SRE_EL2_SRE
	orr	x0, x0, #ICC_SRE_EL2_ENABLE
	msr	icc_sre_el2, x0
	isb
	mrs	x0, icc_sre_el2
	tbz	x0, #0, 1f
	msr	ich_hcr_el2, xzr
1:	mrs	x1, id_aa64dfr0_el1		// MDCR_EL2: no debug traps, EL1 has the PMU
	sbfx	x0, x1, #ID_AA64DFR0_PMUVER_SHIFT, #4
	cmp	x0, #1
	b.lt	2f
	mrs	x0, pmcr_el0
	ubfx	x0, x0, #11, #5			// HPMN = PMCR_EL0.N
	b	3f
2:	mov	x0, xzr
3:	msr	mdcr_el2, x0
	msr	vttbr_el2, xzr			// no stage 2
	msr	hstr_el2, xzr
	mov_q	x0, CPTR_NVHE_EL2_RES1
	msr	cptr_el2, x0
	mrs	x0, midr_el1			// EL1 reads the real MIDR and MPIDR
	msr	vpidr_el2, x0
	mrs	x0, mpidr_el1
	msr	vmpidr_el2, x0
	adr_l	x0, __hyp_stub_vectors
	msr	vbar_el2, x0
	mov_q	x0, INIT_SCTLR_EL1_MMU_OFF
	msr	sctlr_el1, x0
	mov_q	x0, (PSR_DAIF | PSR_MODE_EL1h)
	msr	spsr_el2, x0
	msr	elr_el2, lr
	isb
	eret

wrong_address:
	adr	x0, msg_wrong
	bl	early_puts
	b	cpu_park

	.global cpu_park
cpu_park:					// interrupts masked, forever
	msr	daifset, #0xf
1:	wfe
	b	1b

/* early_puts: the NUL-terminated string at x0 on the PL011, no lock, no stack.
 * Clobbers x0-x3. */
	.global early_puts
early_puts:
	mov	x1, #UART_BASE
1:	ldrb	w2, [x0], #1
	cbz	w2, 3f
2:	ldr	w3, [x1, #UARTFR_OFF]
	tbnz	w3, #5, 2b			// TXFF
	str	w2, [x1]
	b	1b
3:	ret

/* early_puthex: x0 as 0x + 16 hex digits. Clobbers x0-x4. */
	.global early_puthex
early_puthex:
	mov	x1, #UART_BASE
	mov	x4, #60
	mov	w2, #'0'
	str	w2, [x1]
	mov	w2, #'x'
	str	w2, [x1]
1:	lsr	x2, x0, x4
	and	x2, x2, #0xf
	cmp	x2, #10
	add	x3, x2, #'0'
	add	x2, x2, #('a' - 10)
	csel	x2, x3, x2, lo
2:	ldr	w3, [x1, #UARTFR_OFF]
	tbnz	w3, #5, 2b
	str	w2, [x1]
	subs	x4, x4, #4
	b.pl	1b
	ret

	.ltorg

	.section .rodata
msg_wrong:
	.asciz	"minikernel: not loaded at its link address 0x40200000: parked\n"

	.section .stacks, "aw", %nobits
	.balign	16
	.global stacks
stacks:
	.skip	NR_CPUS_ASM << STACK_SHIFT
