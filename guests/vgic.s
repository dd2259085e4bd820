// vgic: the GICv3 virtual CPU interface on one CPU. A tiny hypervisor at EL2 (HCR_EL2
// with E2H = 0, RW, IMO and FMO: EL1's ICC_* accesses reach the ICV_* registers, and
// virtual IRQs are taken at EL1) puts interrupts in the list registers and runs a tiny
// guest at EL1 that takes them: a purely virtual interrupt (HW = 0); one backed by a
// physical SGI the hypervisor acknowledged (HW = 1: the guest's EOI deactivates the
// physical interrupt); the maintenance interrupt (PPI 25) for an LR with its EOI bit
// and for underflow; the virtual priority mask. Each check prints one line through
// semihosting, so that the output is the same on smpsim (topologies/vgic.toml, run
// with --run-dir: the multi-process machine has the GIC) and on QEMU (-M
// virt,virtualization=on,gic-version=3 -cpu max); tests/test_guest_vgic.py writes the
// expected lines from the GICv3 register encodings. Exits through semihosting with 0
// (1 after an unexpected exception, which it reports).
//
// The EL1 guest runs with PSTATE.I clear and waits a bounded number of iterations,
// each with an ISB (a context synchronization event: a virtual IRQ that is pending and
// not masked is taken by then), for its handler to have run, then masks IRQs, reads
// what its virtual CPU interface says and goes back to EL2 with HVC. Its handler
// acknowledges (ICC_IAR1_EL1, which is ICV_IAR1_EL1 here) and ends (ICC_EOIR1_EL1,
// ICH_VMCR_EL2.VEOIM = 0: priority drop and deactivation) the interrupt.
//
// At EL2 PSTATE.I stays set but for the one check that takes the maintenance interrupt
// as an IRQ; the physical CPU interface has ICC_CTLR_EL1.EOImode = 1 (ICC_EOIR1_EL1
// drops the priority only, ICC_DIR_EL1 deactivates). While EL1 runs, no physical
// interrupt is pending and enabled (with IMO = 1 one would be taken to EL2 whatever
// EL1's PSTATE.I is: the EL2 vector table treats that as an error).

    .include "print.inc"
    .include "gic.inc"

    .equ HCR_VALUE, (1 << 31) | (1 << 4) | (1 << 3)   // RW, IMO, FMO; E2H = TGE = 0
    .equ SCTLR_EL1_INIT, 0x30d00800  // MMU and caches off, the RES1 bits
    .equ SPSR_EL1H_IRQ_ON, 0x345    // EL1 on SP_EL1, D, A, F masked, I clear
    .equ EC_HVC64, 0x16
    .equ ESR_EC_SHIFT, 26

    // the physical interrupts the hypervisor uses
    .equ SGI_HW, 5                  // the physical interrupt behind the HW = 1 LR
    .equ PPI_MAINT, 25              // the GICv3 maintenance interrupt
    .equ PHYS_PRIO, 0x80
    .equ GICR_SGI_BASE, GICR_BASE + GICR_SGI   // CPU 0's SGI_base frame
    .equ GICR_IGROUPR0, 0x080
    .equ GICR_ISENABLER0, 0x100
    .equ GICR_ISPENDR0, 0x200
    .equ GICR_ISACTIVER0, 0x300
    .equ GICR_IPRIORITYR, 0x400
    .equ ICC_CTLR_EOIMODE, 1 << 1
    .equ SGI1R_SGI_HW_TO_CPU0, (SGI_HW << 24) | 1      // INTID [27:24], TargetList bit 0

    // ICH_HCR_EL2, ICH_VMCR_EL2
    .equ ICH_HCR_EN, 1 << 0
    .equ ICH_HCR_UIE, 1 << 1
    .equ VMCR_VENG1, 1 << 1
    .equ VMCR_VPMR_SHIFT, 24

    // ICH_LR<n>_EL2: State [63:62], HW [61], Group [60], Priority [55:48], pINTID
    // [44:32] (HW = 1), EOI [41] (HW = 0), vINTID [31:0]
    .equ LR_PENDING, 1 << 62
    .equ LR_HW, 1 << 61
    .equ LR_GROUP1, 1 << 60
    .equ LR_EOI, 1 << 41
    .equ LR_PRIO_SHIFT, 48
    .equ LR_PINTID_SHIFT, 32

    // the virtual interrupts
    .equ VINTID_SW, 100             // HW = 0
    .equ VINTID_HW, 48              // HW = 1, pINTID SGI_HW
    .equ VINTID_EOI, 101            // HW = 0 with the EOI bit
    .equ VINTID_U, 102              // the one valid LR of the underflow check
    .equ VINTID_U2, 104             // a second one
    .equ VINTID_MASK, 103           // the priority mask checks
    .equ VPRIO, 0xa0

    .equ LR_PENDING_G1, LR_PENDING | LR_GROUP1   // Pending, Group 1
    .equ LR_VPRIO, VPRIO << LR_PRIO_SHIFT
    .equ LR_SW, LR_PENDING_G1 | LR_VPRIO | VINTID_SW
    .equ LR_HW_SGI, LR_PENDING_G1 | LR_VPRIO | LR_HW | (SGI_HW << LR_PINTID_SHIFT) | VINTID_HW
    .equ LR_WITH_EOI, LR_PENDING_G1 | LR_VPRIO | LR_EOI | VINTID_EOI
    .equ LR_U, LR_PENDING_G1 | LR_VPRIO | VINTID_U
    .equ LR_U2, LR_PENDING_G1 | LR_VPRIO | VINTID_U2
    .equ LR_MASK_F8, LR_PENDING_G1 | (0xf8 << LR_PRIO_SHIFT) | VINTID_MASK
    .equ LR_MASK_F0, LR_PENDING_G1 | (0xf0 << LR_PRIO_SHIFT) | VINTID_MASK

    .equ SPIN, 100                  // iterations of a wait for an interrupt
    .equ POLL, 1000                 // reads of ICC_IAR1_EL1 at EL2 for a physical one

    // what EL1 saw (vrec): its handler, then what it read after its wait
    .equ V_COUNT, 0                 // vIRQs taken
    .equ V_VECTOR, 8                // offset from VBAR_EL1 of the last one
    .equ V_ISR, 16                  // ISR_EL1 on entry to the handler
    .equ V_IAR, 24                  // ICC_IAR1_EL1 in the handler
    .equ V_RPR, 32                  // ICC_RPR_EL1 after the acknowledge
    .equ V_APR, 40                  // ICC_AP1R0_EL1 after the acknowledge
    .equ P_ISR, 48                  // after the wait, IRQs masked: ISR_EL1,
    .equ P_HPPIR, 56                // ICC_HPPIR1_EL1,
    .equ P_IAR, 64                  // ICC_IAR1_EL1,
    .equ P_RPR, 72                  // ICC_RPR_EL1
    .equ P_PMR, 80                  // ICC_PMR_EL1 read back by el1_set_pmr
    .equ VREC_SIZE, 88

    // what the EL2 IRQ handler saw (hrec)
    .equ H_COUNT, 0
    .equ H_VECTOR, 8
    .equ H_IAR, 16
    .equ H_MISR, 24

    // --- helpers ---

    .macro SET_LR n, value
    ldr x0, =\value
    msr ich_lr\n\()_el2, x0
    isb
    .endm

    .macro SET_VMCR vpmr
    ldr x0, =(\vpmr << VMCR_VPMR_SHIFT) | VMCR_VENG1
    msr ich_vmcr_el2, x0
    isb
    .endm

    .macro SET_HCR value
    mov x0, #\value
    msr ich_hcr_el2, x0
    isb
    .endm

    // run \prog at EL1 with x1 = \arg, with vrec cleared; back when it HVCs
    .macro RUN prog, arg=0
    bl clear_vrec
    adr x0, \prog
    ldr x1, =\arg
    bl run_el1
    .endm

    // print what EL1 saw: report_el1 with the name \name
    .macro EL1_SAW name
    adr x0, 8f
    bl report_el1
    b 9f
8:  .asciz "\name"
    .balign 4
9:
    .endm

    // print the 32-bit register at \offset of CPU 0's SGI_base frame
    .macro SHOW_GICR offset, name
    ldr x0, =GICR_SGI_BASE + \offset
    ldr w0, [x0]
    SHOW "\name"
    .endm

    .macro SHOW_SYS reg, name
    mrs x0, \reg
    SHOW "\name"
    .endm

    .macro SHOW_SYS_DEC reg, name
    mrs x0, \reg
    SHOW_DEC "\name"
    .endm

    .text
    .global main
main:                               // from boot.s, on CPU 0's stack, at EL2
    stp x29, x30, [sp, #-32]!
    stp x19, x20, [sp, #16]
    msr daifset, #0xf
    mrs x0, currentel
    SHOW "CurrentEL"

    ldr x0, =HCR_VALUE
    msr hcr_el2, x0
    ldr x0, =SCTLR_EL1_INIT
    msr sctlr_el1, x0
    adr x0, vectors_el2
    msr vbar_el2, x0
    adr x0, vectors_el1
    msr vbar_el1, x0
    isb

    // the physical GIC: distributor, CPU 0's redistributor, CPU interface (PMR 0xff,
    // Group 1 on), EOImode 1; SGI 5 in Group 1 and enabled; PPI 25 in Group 1, not
    // enabled yet
    bl gic_dist_init
    mov x0, #0
    bl gic_redist_wake
    bl gic_cpu_init
    mov x0, #ICC_CTLR_EOIMODE
    msr icc_ctlr_el1, x0
    isb
    mov x0, #0
    mov x1, #SGI_HW
    mov x2, #PHYS_PRIO
    bl gic_ppi_enable
    ldr x1, =GICR_SGI_BASE
    mov w0, #PHYS_PRIO
    strb w0, [x1, #GICR_IPRIORITYR + PPI_MAINT]
    ldr w0, [x1, #GICR_IGROUPR0]
    orr w0, w0, #(1 << PPI_MAINT)
    str w0, [x1, #GICR_IGROUPR0]
    dsb sy

// --- 1. what the virtual interface has ---

    SHOW_SYS ich_vtr_el2, "ICH_VTR_EL2"
    SHOW_SYS ich_elrsr_el2, "ICH_ELRSR_EL2 with every LR empty"

// --- 2. a virtual interrupt with HW = 0, acknowledged and ended at EL1 ---

    SET_VMCR 0xf0
    SHOW_SYS ich_vmcr_el2, "ICH_VMCR_EL2 after writing VPMR 0xf0 and VENG1"
    SET_HCR ICH_HCR_EN
    SET_LR 0, LR_SW
    SHOW_SYS ich_lr0_el2, "ICH_LR0_EL2 as written (vINTID 100)"
    SHOW_SYS ich_elrsr_el2, "ICH_ELRSR_EL2 with LR0 pending"
    RUN el1_wait
    EL1_SAW "sw vINTID 100 at EL1"
    SHOW_SYS ich_lr0_el2, "sw ICH_LR0_EL2 after the EOI"
    SHOW_SYS ich_elrsr_el2, "sw ICH_ELRSR_EL2 after the EOI"
    SHOW_SYS ich_eisr_el2, "sw ICH_EISR_EL2 after the EOI"
    SHOW_SYS ich_ap1r0_el2, "sw ICH_AP1R0_EL2 after the EOI"
    SET_LR 0, 0

// --- 3. HW = 1: a physical SGI acknowledged at EL2, ended by the guest ---

    ldr x0, =SGI1R_SGI_HW_TO_CPU0
    msr icc_sgi1r_el1, x0
    isb
    bl el2_ack
    mov x19, x0
    SHOW_DEC "hw ICC_IAR1_EL1 at EL2 after ICC_SGI1R_EL1 (SGI 5 to CPU 0)"
    SHOW_SYS icc_rpr_el1, "hw ICC_RPR_EL1 at EL2 after the acknowledge"
    msr icc_eoir1_el1, x19          // EOImode 1: priority drop only
    isb
    SHOW_SYS icc_rpr_el1, "hw ICC_RPR_EL1 at EL2 after ICC_EOIR1_EL1 with EOImode 1"
    SHOW_GICR GICR_ISACTIVER0, "hw GICR_ISACTIVER0 after the priority drop"
    SET_LR 0, LR_HW_SGI
    SHOW_SYS ich_lr0_el2, "hw ICH_LR0_EL2 as written (vINTID 48, HW, pINTID 5)"
    RUN el1_wait
    EL1_SAW "hw vINTID 48 at EL1"
    SHOW_SYS ich_lr0_el2, "hw ICH_LR0_EL2 after the EOI"
    SHOW_SYS ich_elrsr_el2, "hw ICH_ELRSR_EL2 after the EOI"
    SHOW_GICR GICR_ISACTIVER0, "hw GICR_ISACTIVER0 after the virtual EOI"
    ldr x0, =GICR_SGI_BASE + GICR_ISPENDR0
    ldr w0, [x0]
    and w0, w0, #(1 << SGI_HW)
    SHOW "hw GICR_ISPENDR0 bit 5 after the virtual EOI"
    SHOW_SYS_DEC icc_hppir1_el1, "hw ICC_HPPIR1_EL1 at EL2 after the virtual EOI"
    SET_LR 0, 0

// --- 4. the EOI maintenance interrupt: HW = 0 with the EOI bit ---

    SET_LR 0, LR_WITH_EOI
    RUN el1_wait
    EL1_SAW "eoi vINTID 101 at EL1"
    SHOW_SYS ich_lr0_el2, "eoi ICH_LR0_EL2 after the EOI"
    SHOW_SYS ich_eisr_el2, "eoi ICH_EISR_EL2"
    SHOW_SYS ich_misr_el2, "eoi ICH_MISR_EL2"
    SHOW_SYS ich_elrsr_el2, "eoi ICH_ELRSR_EL2"
    ldr x0, =GICR_SGI_BASE + GICR_ISPENDR0
    ldr w0, [x0]
    and w0, w0, #(1 << PPI_MAINT)
    SHOW "eoi GICR_ISPENDR0 bit 25 (PPI 25 not enabled)"
    SHOW_SYS_DEC icc_hppir1_el1, "eoi ICC_HPPIR1_EL1 at EL2 (PPI 25 not enabled)"
    ldr x1, =GICR_SGI_BASE
    mov w0, #(1 << PPI_MAINT)
    str w0, [x1, #GICR_ISENABLER0]
    dsb sy
    isb
    bl el2_ack
    mov x19, x0
    SHOW_DEC "eoi ICC_IAR1_EL1 at EL2 with PPI 25 enabled"
    SET_LR 0, 0                     // the maintenance condition ends
    SHOW_SYS ich_misr_el2, "eoi ICH_MISR_EL2 after clearing LR0"
    msr icc_eoir1_el1, x19
    msr icc_dir_el1, x19
    isb
    SHOW_GICR GICR_ISACTIVER0, "eoi GICR_ISACTIVER0 after ICC_EOIR1_EL1 and ICC_DIR_EL1"
    ldr x0, =GICR_SGI_BASE + GICR_ISPENDR0
    ldr w0, [x0]
    and w0, w0, #(1 << PPI_MAINT)
    SHOW "eoi GICR_ISPENDR0 bit 25 after clearing LR0"

// --- 5. underflow: ICH_HCR_EL2.UIE with at most one valid LR ---

    SET_LR 0, LR_U
    SET_HCR ICH_HCR_EN | ICH_HCR_UIE
    SHOW_SYS ich_misr_el2, "underflow ICH_MISR_EL2 with UIE and one valid LR"
    SET_LR 1, LR_U2
    SHOW_SYS ich_misr_el2, "underflow ICH_MISR_EL2 with UIE and two valid LRs"
    SET_LR 1, 0
    // one valid LR again: the maintenance interrupt, taken as an IRQ at EL2 (its
    // handler turns UIE off, then ends PPI 25)
    adr x0, hrec
    stp xzr, xzr, [x0]
    stp xzr, xzr, [x0, #16]
    msr daifclr, #2
    mov x2, #SPIN
    adr x1, hrec
1:  isb
    ldr x0, [x1, #H_COUNT]
    cbnz x0, 2f
    subs x2, x2, #1
    b.ne 1b
2:  msr daifset, #2
    isb
    bl report_el2_irq
    SHOW_SYS ich_hcr_el2, "underflow ICH_HCR_EL2 after the handler"
    SHOW_SYS ich_misr_el2, "underflow ICH_MISR_EL2 after the handler"
    SHOW_GICR GICR_ISACTIVER0, "underflow GICR_ISACTIVER0 after the handler"
    SET_LR 0, 0

// --- 6. the virtual priority mask ---

    SET_LR 0, LR_MASK_F8            // priority 0xf8 with VPMR 0xf0: masked
    RUN el1_wait
    EL1_SAW "mask priority 0xf8, VPMR 0xf0, at EL1"
    SHOW_SYS ich_lr0_el2, "mask ICH_LR0_EL2 after the wait"
    SET_VMCR 0xf8                   // 0xf8 is not below 0xf8: still masked
    RUN el1_wait
    EL1_SAW "mask priority 0xf8, VPMR 0xf8, at EL1"
    SET_LR 0, LR_MASK_F0            // 0xf0 is: taken
    RUN el1_wait
    EL1_SAW "mask priority 0xf0, VPMR 0xf8, at EL1"
    SET_LR 0, 0
    // EL1 asks for the mask to be 0xff: with 5 bits of virtual priority it is 0xf8
    RUN el1_set_pmr, 0xff
    adr x0, vrec
    ldr x0, [x0, #P_PMR]
    SHOW "mask ICC_PMR_EL1 at EL1 after writing 0xff"
    SHOW_SYS ich_vmcr_el2, "mask ICH_VMCR_EL2 after that"
    SET_LR 0, LR_MASK_F8
    RUN el1_wait
    EL1_SAW "mask priority 0xf8 after EL1 wrote ICC_PMR_EL1 0xff, at EL1"
    SET_LR 0, 0
    SET_HCR 0

    mrs x0, currentel
    SHOW "CurrentEL at the end"
    SAY "vgic: done"
    bl out_nl
    ldp x19, x20, [sp, #16]
    ldp x29, x30, [sp], #32
    b finish

// --- EL2 ---

// run_el1: exception return to x0 at EL1 (SP_EL1 fresh, DAF masked, I clear) with x1
// as it is here; back here when EL1 executes HVC
run_el1:
    stp x29, x30, [sp, #-96]!
    stp x19, x20, [sp, #16]
    stp x21, x22, [sp, #32]
    stp x23, x24, [sp, #48]
    stp x25, x26, [sp, #64]
    stp x27, x28, [sp, #80]
    mov x2, sp
    adr x3, el2_sp
    str x2, [x3]
    msr elr_el2, x0
    mov x0, #SPSR_EL1H_IRQ_ON
    msr spsr_el2, x0
    adr x2, el1_stack_top
    msr sp_el1, x2
    eret

// an HVC from EL1 (vector 0x400): back to the caller of run_el1
el2_sync_lower:
    mrs x1, esr_el2
    lsr x1, x1, #ESR_EC_SHIFT
    cmp x1, #EC_HVC64
    b.ne el2_unexpected
    adr x0, el2_sp
    ldr x0, [x0]
    mov sp, x0
    ldp x19, x20, [sp, #16]
    ldp x21, x22, [sp, #32]
    ldp x23, x24, [sp, #48]
    ldp x25, x26, [sp, #64]
    ldp x27, x28, [sp, #80]
    ldp x29, x30, [sp], #96
    ret

// el2_ack: ICC_IAR1_EL1 read until it is not 1023, at most POLL times; x0 = the INTID
el2_ack:
    mov x2, #POLL
1:  mrs x0, icc_iar1_el1
    cmp x0, #INTID_SPURIOUS
    b.ne 2f
    isb
    subs x2, x2, #1
    b.ne 1b
2:  ret

// the physical IRQ at EL2 (x0 = vector offset; x0-x3 on the stack): record it, turn
// the underflow condition off, end the interrupt (EOImode 1: drop, then deactivate)
el2_irq:
    adr x1, hrec
    str x0, [x1, #H_VECTOR]
    mrs x2, icc_iar1_el1
    str x2, [x1, #H_IAR]
    mrs x0, ich_misr_el2
    str x0, [x1, #H_MISR]
    mov x0, #ICH_HCR_EN
    msr ich_hcr_el2, x0
    isb
    cmp x2, #INTID_SPURIOUS
    b.eq 1f
    msr icc_eoir1_el1, x2
    msr icc_dir_el1, x2
    isb
1:  ldr x0, [x1, #H_COUNT]
    add x0, x0, #1
    str x0, [x1, #H_COUNT]
    ldp x2, x3, [sp, #16]
    ldp x0, x1, [sp], #32
    eret

// an exception nothing here should raise (x0 = vector offset): say which, exit 1
el2_unexpected:
    mov x19, x0
    SAY "unexpected exception: EL2 vector "
    mov x0, x19
    bl out_hex
    SAY ", ESR_EL2 "
    mrs x0, esr_el2
    bl out_hex
    SAY ", ELR_EL2 "
    mrs x0, elr_el2
    bl out_hex
    SAY ", FAR_EL2 "
    mrs x0, far_el2
    bl out_hex
    bl out_nl
    mov x0, #1
    EXIT_WITH_X0

// clear_vrec: what EL1 saw, zeroed
clear_vrec:
    adr x0, vrec
    mov x1, #VREC_SIZE
1:  subs x1, x1, #8
    str xzr, [x0, x1]
    b.ne 1b
    ret

// report_el1: "<x0>: taken <n>, vector 0x.., ISR_EL1 0x.., ICC_IAR1_EL1 <d>,
// ICC_RPR_EL1 0x.., ICC_AP1R0_EL1 0x.." when EL1 took a vIRQ, else "<x0>: not taken,
// ISR_EL1 0x.., ICC_HPPIR1_EL1 <d>, ICC_IAR1_EL1 <d>, ICC_RPR_EL1 0x.." (what EL1
// read after its wait)
report_el1:
    stp x29, x30, [sp, #-32]!
    stp x19, x20, [sp, #16]
    adr x19, vrec
    bl out_str
    ldr x20, [x19, #V_COUNT]
    cbz x20, 1f
    SAY ": taken "
    mov x0, x20
    bl out_dec
    SAY ", vector "
    ldr x0, [x19, #V_VECTOR]
    bl out_hex
    SAY ", ISR_EL1 "
    ldr x0, [x19, #V_ISR]
    bl out_hex
    SAY ", ICC_IAR1_EL1 "
    ldr x0, [x19, #V_IAR]
    bl out_dec
    SAY ", ICC_RPR_EL1 "
    ldr x0, [x19, #V_RPR]
    bl out_hex
    SAY ", ICC_AP1R0_EL1 "
    ldr x0, [x19, #V_APR]
    bl out_hex
    b 2f
1:  SAY ": not taken, ISR_EL1 "
    ldr x0, [x19, #P_ISR]
    bl out_hex
    SAY ", ICC_HPPIR1_EL1 "
    ldr x0, [x19, #P_HPPIR]
    bl out_dec
    SAY ", ICC_IAR1_EL1 "
    ldr x0, [x19, #P_IAR]
    bl out_dec
    SAY ", ICC_RPR_EL1 "
    ldr x0, [x19, #P_RPR]
    bl out_hex
2:  bl out_nl
    ldp x19, x20, [sp, #16]
    ldp x29, x30, [sp], #32
    ret

// report_el2_irq: what the EL2 IRQ handler saw
report_el2_irq:
    stp x29, x30, [sp, #-32]!
    stp x19, x20, [sp, #16]
    adr x19, hrec
    SAY "underflow maintenance interrupt at EL2: "
    ldr x20, [x19, #H_COUNT]
    cbz x20, 1f
    SAY "taken "
    mov x0, x20
    bl out_dec
    SAY ", vector "
    ldr x0, [x19, #H_VECTOR]
    bl out_hex
    SAY ", ICC_IAR1_EL1 "
    ldr x0, [x19, #H_IAR]
    bl out_dec
    SAY ", ICH_MISR_EL2 "
    ldr x0, [x19, #H_MISR]
    bl out_hex
    b 2f
1:  SAY "not taken, ICH_MISR_EL2 "
    mrs x0, ich_misr_el2
    bl out_hex
2:  bl out_nl
    ldp x19, x20, [sp, #16]
    ldp x29, x30, [sp], #32
    ret

// --- EL1 ---

// el1_wait: wait for the handler (SPIN iterations, each with an ISB), then with IRQs
// masked read the virtual CPU interface, and back to EL2
el1_wait:
    adr x1, vrec
    mov x2, #SPIN
1:  isb
    ldr x0, [x1, #V_COUNT]
    cbnz x0, 2f
    subs x2, x2, #1
    b.ne 1b
2:  msr daifset, #2
    isb
    mrs x0, isr_el1
    str x0, [x1, #P_ISR]
    mrs x0, icc_hppir1_el1
    str x0, [x1, #P_HPPIR]
    mrs x0, icc_iar1_el1            // a masked interrupt is not acknowledged: 1023
    str x0, [x1, #P_IAR]
    mrs x0, icc_rpr_el1
    str x0, [x1, #P_RPR]
    hvc #0

// el1_set_pmr: ICC_PMR_EL1 = x1, read back, and back to EL2
el1_set_pmr:
    msr icc_pmr_el1, x1
    isb
    mrs x0, icc_pmr_el1
    adr x1, vrec
    str x0, [x1, #P_PMR]
    hvc #0

// the vIRQ handler (x0 = vector offset; x0-x3 on the stack): record, acknowledge, end
el1_irq:
    adr x1, vrec
    str x0, [x1, #V_VECTOR]
    mrs x0, isr_el1
    str x0, [x1, #V_ISR]
    mrs x2, icc_iar1_el1
    str x2, [x1, #V_IAR]
    mrs x0, icc_rpr_el1
    str x0, [x1, #V_RPR]
    mrs x0, icc_ap1r0_el1
    str x0, [x1, #V_APR]
    cmp x2, #INTID_SPURIOUS
    b.eq 1f
    msr icc_eoir1_el1, x2
    isb
1:  ldr x0, [x1, #V_COUNT]
    add x0, x0, #1
    str x0, [x1, #V_COUNT]
    ldp x2, x3, [sp, #16]
    ldp x0, x1, [sp], #32
    eret

el1_unexpected:
    mov x19, x0
    SAY "unexpected exception: EL1 vector "
    mov x0, x19
    bl out_hex
    SAY ", ESR_EL1 "
    mrs x0, esr_el1
    bl out_hex
    SAY ", ELR_EL1 "
    mrs x0, elr_el1
    bl out_hex
    SAY ", FAR_EL1 "
    mrs x0, far_el1
    bl out_hex
    bl out_nl
    mov x0, #1
    EXIT_WITH_X0

    .ltorg

// --- vector tables: every entry saves x0-x3 and passes its offset in x0 ---

    .macro ENTRY offset, target
    stp x0, x1, [sp, #-32]!
    stp x2, x3, [sp, #16]
    mov x0, #\offset
    b \target
    .balign 128
    .endm

    .balign 2048
vectors_el2:
    ENTRY 0x000, el2_unexpected
    ENTRY 0x080, el2_unexpected
    ENTRY 0x100, el2_unexpected
    ENTRY 0x180, el2_unexpected
    ENTRY 0x200, el2_unexpected
    ENTRY 0x280, el2_irq            // IRQ, current EL with SP_ELx
    ENTRY 0x300, el2_unexpected
    ENTRY 0x380, el2_unexpected
    ENTRY 0x400, el2_sync_lower     // synchronous from a lower EL: HVC
    ENTRY 0x480, el2_unexpected     // a physical IRQ while EL1 runs: not expected
    ENTRY 0x500, el2_unexpected
    ENTRY 0x580, el2_unexpected
    ENTRY 0x600, el2_unexpected
    ENTRY 0x680, el2_unexpected
    ENTRY 0x700, el2_unexpected
    ENTRY 0x780, el2_unexpected

    .balign 2048
vectors_el1:
    ENTRY 0x000, el1_unexpected
    ENTRY 0x080, el1_irq
    ENTRY 0x100, el1_irq
    ENTRY 0x180, el1_unexpected
    ENTRY 0x200, el1_unexpected
    ENTRY 0x280, el1_irq            // IRQ, current EL with SP_ELx: the expected one
    ENTRY 0x300, el1_irq            // FIQ: a Group 0 vIRQ would come here
    ENTRY 0x380, el1_unexpected
    ENTRY 0x400, el1_unexpected
    ENTRY 0x480, el1_unexpected
    ENTRY 0x500, el1_unexpected
    ENTRY 0x580, el1_unexpected
    ENTRY 0x600, el1_unexpected
    ENTRY 0x680, el1_unexpected
    ENTRY 0x700, el1_unexpected
    ENTRY 0x780, el1_unexpected

    .data
    .balign 8
vrec:   .skip VREC_SIZE
hrec:   .skip 32
el2_sp: .quad 0

    .bss
    .balign 16
    .skip 4096
el1_stack_top:
