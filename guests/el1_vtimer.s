// el1_vtimer: the EL1 virtual timer's interrupt (PPI 27) taken at EL1 through the GIC,
// on a CPU that starts at EL1 without EL2 (smpsim: topologies/el1-vtimer.toml; QEMU:
// -M virt,gic-version=3 without virtualization=on). The GIC is set up by the guest
// (gic.inc), the timer fires 1 ms after it is programmed, the CPU waits in WFI and
// takes the IRQ at VBAR_EL1 + 0x280, acknowledges it (ICC_IAR1_EL1 = 27), stops the
// timer's output (IMASK) and ends it (ICC_EOIR1_EL1). One line per value, through
// semihosting; only values the architecture (or QEMU virt's fixed configuration)
// settles are printed, never counter values. main returns 3: boot.s exits with it,
// so the run's exit status shows the guest's code arrived.

    .include "print.inc"
    .include "gic.inc"

    .equ PPI_VTIMER, 27
    .equ PRIORITY, 0x80
    .equ TICKS, 62500               // 1 ms at QEMU virt's 62.5 MHz
    .equ CTL_ENABLE, 1
    .equ CTL_IMASK, 2
    .equ EXIT_CODE, 3

    .text
    .global main
main:                               // x0 = this CPU's number (0)
    stp x29, x30, [sp, #-32]!
    stp x19, x20, [sp, #16]
    mov x19, x0
    mrs x0, currentel
    SHOW "CurrentEL"
    mrs x0, cntfrq_el0
    SHOW_DEC "CNTFRQ_EL0"
    adr x0, vectors
    msr vbar_el1, x0
    isb

    bl gic_dist_init
    mov x0, #GICD_BASE
    ldr w0, [x0, #GICD_CTLR]
    SHOW "GICD_CTLR after ARE | EnableGrp1"
    mov x0, x19
    bl gic_redist_wake
    ldr w0, [x0, #GICR_WAKER]
    SHOW "GICR_WAKER after the wake-up handshake"
    mov x0, x19
    mov x1, #PPI_VTIMER
    mov x2, #PRIORITY
    bl gic_ppi_enable
    mov x20, x4                     // gic_ppi_enable left x4 = the SGI_base frame
    ldr w0, [x20, #0x080]
    SHOW "GICR_IGROUPR0 with PPI 27 in Group 1"
    ldrb w0, [x20, #(0x400 + PPI_VTIMER)]
    SHOW "GICR_IPRIORITYR of PPI 27"
    bl gic_cpu_init
    mrs x0, icc_sre_el1
    SHOW "ICC_SRE_EL1"

    // the timer: CNTV_TVAL_EL0 sets CNTV_CVAL_EL0 = count + TICKS, then enable
    msr cntv_ctl_el0, xzr
    ldr x0, =TICKS
    msr cntv_tval_el0, x0
    mov x0, #CTL_ENABLE
    msr cntv_ctl_el0, x0
    isb
    adr x0, irqs
    bl wait_irq

    // what the handler saw
    adr x1, seen
    ldr x0, [x1]
    SHOW "ISR_EL1 on entry to the handler"
    adr x1, seen
    ldr x0, [x1, #8]
    SHOW_DEC "ICC_IAR1_EL1"
    adr x1, seen
    ldr x0, [x1, #16]
    SHOW "CNTV_CTL_EL0 in the handler"
    adr x1, seen
    ldr x0, [x1, #24]
    SHOW "SPSR_EL1 in the handler, M and DAIF"
    adr x1, seen
    ldr x0, [x1, #32]
    SHOW "ICC_RPR_EL1 after the acknowledge"
    adr x1, seen
    ldr x0, [x1, #40]
    SHOW "CNTV_CTL_EL0 with IMASK"
    adr x1, seen
    ldr x0, [x1, #48]
    SHOW "ICC_RPR_EL1 after the EOI"
    adr x1, seen
    ldr x0, [x1, #56]
    SHOW_DEC "ICC_HPPIR1_EL1 after the EOI"
    adr x0, irqs
    ldr w0, [x0]
    SHOW_DEC "IRQs taken"

    msr cntv_ctl_el0, xzr
    SAY "el1_vtimer: done, exit "
    mov x0, #EXIT_CODE
    bl out_dec
    bl out_nl
    mov x0, #EXIT_CODE              // boot.s: SYS_EXIT with it
    ldp x19, x20, [sp, #16]
    ldp x29, x30, [sp], #32
    ret

// the IRQ handler: record, acknowledge, silence the timer, end the interrupt
irq_handler:
    adr x1, seen
    mrs x0, isr_el1
    str x0, [x1]
    mrs x2, icc_iar1_el1
    str x2, [x1, #8]
    mrs x0, cntv_ctl_el0
    str x0, [x1, #16]
    mrs x0, spsr_el1
    and x0, x0, #0x3ff
    str x0, [x1, #24]
    mrs x0, icc_rpr_el1
    str x0, [x1, #32]
    cmp x2, #INTID_SPURIOUS
    b.eq 1f                         // nothing to end
    mov x0, #(CTL_ENABLE | CTL_IMASK)
    msr cntv_ctl_el0, x0            // the timer's output drops: PPI 27 is no longer pending
    isb
    mrs x0, cntv_ctl_el0
    str x0, [x1, #40]
    msr icc_eoir1_el1, x2
    isb
    mrs x0, icc_rpr_el1
    str x0, [x1, #48]
    mrs x0, icc_hppir1_el1
    str x0, [x1, #56]
1:  adr x1, irqs
    ldr w0, [x1]
    add w0, w0, #1
    str w0, [x1]
    ret

    .ltorg

    EL1_VECTORS vectors, irq_handler

    .data
    .balign 8
seen:   .skip 64
irqs:   .word 0
