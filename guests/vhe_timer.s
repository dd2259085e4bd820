// vhe_timer: VHE at EL2 (HCR_EL2.E2H = 1, TGE = 0) and the EL2 timers. With E2H set,
// EL2's accesses to EL1 register names reach the EL2 registers, the *_EL12 and *_EL02
// names reach the EL1 (and EL0) ones, and the EL0 timer names reach the EL2 timers.
// One line per check through semihosting; only architected values are printed (no
// counter values), so the output is the same on smpsim and on QEMU. Ends with PSCI
// SYSTEM_OFF (exit status 0), or a semihosting exit 1 when a comparison failed.

    .include "exc.inc"

    .equ POLL_LIMIT, 1 << 24        // timer polls before giving up (ISTATUS then reads 0)

    .text
    .global main
main:                               // from boot.s, on CPU 0's stack
    bl el2_setup                    // E2H = 0: VBAR_EL1 = vectors_el1, SCTLR_EL1_INIT

    ldr x0, =(HCR_RW | HCR_E2H)
    msr hcr_el2, x0
    isb
    mrs x0, hcr_el2
    ldr x1, =(HCR_RW | HCR_E2H)
    CHECK "HCR_EL2 = E2H | RW reads back"

// --- register names at EL2 with E2H = 1 ---

    // VBAR_EL1 is VBAR_EL2; VBAR_EL12 is EL1's VBAR_EL1. The EL2 table is swapped for
    // an identical copy so that the write is seen
    adr x0, vectors_el2_copy
    msr vbar_el1, x0
    isb
    mrs x0, vbar_el2
    adr x1, vectors_el2_copy
    CHECK "msr vbar_el1 with E2H writes VBAR_EL2"
    mrs x0, vbar_el12
    adr x1, vectors_el1
    CHECK "mrs vbar_el12 reads EL1's VBAR_EL1"
    adr x0, vectors_el1_copy
    msr vbar_el12, x0
    mrs x0, vbar_el1
    adr x1, vectors_el2_copy
    CHECK "msr vbar_el12 leaves VBAR_EL2 alone"
    bl e2h_off                      // plain names again: see what EL1 has
    mrs x0, vbar_el1
    adr x1, vectors_el1_copy
    CHECK "with E2H = 0, VBAR_EL1 holds what vbar_el12 wrote"
    adr x0, vectors_el1
    msr vbar_el1, x0
    bl e2h_on

    // SCTLR_EL1 is SCTLR_EL2; SCTLR_EL12 is EL1's. Toggle the I bit (cacheability of
    // instruction fetches: harmless) and see which register changes
    mrs x19, sctlr_el2
    eor x0, x19, #SCTLR_I
    msr sctlr_el1, x0
    isb
    mrs x0, sctlr_el2
    eor x0, x0, x19
    SHOW "msr sctlr_el1 with E2H: SCTLR_EL2 bits changed"
    mrs x0, sctlr_el1
    mrs x1, sctlr_el2
    CHECK "mrs sctlr_el1 with E2H reads SCTLR_EL2"
    msr sctlr_el2, x19
    isb
    mrs x0, sctlr_el12
    SHOW "mrs sctlr_el12 (EL1's SCTLR_EL1)"
    ldr x0, =(SCTLR_EL1_INIT ^ SCTLR_I)
    msr sctlr_el12, x0
    isb
    mrs x0, sctlr_el2
    mov x1, x19
    CHECK "msr sctlr_el12 leaves SCTLR_EL2 alone"
    bl e2h_off
    mrs x0, sctlr_el1
    ldr x1, =(SCTLR_EL1_INIT ^ SCTLR_I)
    CHECK "with E2H = 0, SCTLR_EL1 holds what sctlr_el12 wrote"
    ldr x0, =SCTLR_EL1_INIT
    msr sctlr_el1, x0
    bl e2h_on

    // ELR_EL1 and SPSR_EL1 are ELR_EL2 and SPSR_EL2: an ERET at EL2 uses what was
    // written through them (here: back to EL2h with N and V set)
    adr x0, 1f
    msr elr_el1, x0
    ldr x0, =((9 << 28) | SPSR_EL2H)
    msr spsr_el1, x0
    mrs x0, elr_el2
    adr x1, 1f
    CHECK "msr elr_el1 with E2H writes ELR_EL2"
    mrs x0, spsr_el2
    ldr x1, =((9 << 28) | SPSR_EL2H)
    CHECK "msr spsr_el1 with E2H writes SPSR_EL2"
    eret
1:  mrs x0, nzcv
    SHOW "NZCV after an eret through those"

    // an exception at EL2 with E2H: ESR_EL1 reads ESR_EL2
    CLEAR_LOG
svc_el2:
    svc #0x77
    REPORT "svc #0x77 at EL2 with E2H", 0, svc_el2
    mrs x0, esr_el1
    SHOW "mrs esr_el1 with E2H"

    // a guest at EL1 under the VHE host (TGE = 0): its exceptions go to its own
    // vectors, and SCTLR_EL1 at EL1 is its own register
    CLEAR_LOG
    adr x0, el1_guest
    mov x1, #SPSR_EL1H
    bl lower
    REPORT "svc #0x21 at EL1 under E2H", 0, el1_svc
    adr x2, seen
    ldr x0, [x2]
    SHOW "mrs sctlr_el1 at EL1 under E2H"

    // a host application at EL0 (E2H = TGE = 1): its exceptions go to EL2. Entering
    // EL2 of this EL2&0 regime sets PSTATE.PAN when SCTLR_EL2.SPAN is 0, as entering
    // EL1 does in the EL1&0 regime; `lower` comes back through LEAVE's exception, so
    // the PAN it set is still there
    ldr x0, =(HCR_RW | HCR_E2H | HCR_TGE)
    msr hcr_el2, x0
    mrs x19, sctlr_el2
    bic x0, x19, #SCTLR_SPAN
    msr sctlr_el2, x0
    isb
    CLEAR_LOG
    adr x0, el0_app
    mov x1, #SPSR_EL0T
    bl lower
    mrs x0, pan
    SHOW "PSTATE.PAN after LEAVE from EL0 with E2H, TGE, SCTLR_EL2.SPAN = 0"
    msr pan, #0
    msr sctlr_el2, x19
    bl e2h_on                       // TGE = 0 again
    REPORT "svc #0x44 at EL0 with E2H and TGE", 0, el0_svc

// --- timers: with E2H, CNTP_*_EL0 at EL2 are the EL2 physical timer CNTHP_*_EL2,
// CNTV_*_EL0 the EL2 virtual timer CNTHV_*_EL2, and CNTP_*_EL02 EL1's physical timer.
// No interrupt is delivered (no GIC, DAIF masked): ISTATUS is polled ---

    // EL1's physical timer, enabled with CVAL at the maximum: never met
    mov x0, #-1
    msr cntp_cval_el02, x0
    mov x0, #1
    msr cntp_ctl_el02, x0

    mov x0, #100                    // 100 ticks from now
    msr cntp_tval_el0, x0
    mov x0, #1                      // ENABLE, IMASK = 0
    msr cntp_ctl_el0, x0
    isb
    ldr x2, =POLL_LIMIT
1:  mrs x0, cntp_ctl_el0
    tbnz x0, #2, 2f                 // ISTATUS
    subs x2, x2, #1
    b.ne 1b
2:  SHOW "cntp_ctl_el0 with E2H after waiting for ISTATUS"
    mrs x0, cnthp_ctl_el2
    mrs x1, cntp_ctl_el0
    CHECK "cnthp_ctl_el2 reads the same"
    mrs x0, cnthp_cval_el2
    mrs x1, cntp_cval_el0
    CHECK "cnthp_cval_el2 reads the same as cntp_cval_el0"
    mrs x0, cntp_tval_el0
    sxtw x0, w0                     // TVAL is signed 32-bit: CVAL - count
    cmp x0, #0
    cset x0, le
    mov x1, #1
    CHECK "cntp_tval_el0 <= 0 once the condition is met"
    mrs x0, cntp_ctl_el02
    SHOW "cntp_ctl_el02 (EL1's timer, CVAL max)"
    mov x0, #3                      // ENABLE | IMASK: ISTATUS does not depend on IMASK
    msr cntp_ctl_el0, x0
    isb
    mrs x0, cntp_ctl_el0
    SHOW "cntp_ctl_el0 with IMASK set"
    msr cntp_ctl_el0, xzr
    msr cntp_ctl_el02, xzr
    isb
    mrs x0, cnthp_ctl_el2
    and x0, x0, #3                  // ISTATUS is UNKNOWN once disabled: not printed
    SHOW "cnthp_ctl_el2 ENABLE|IMASK after msr cntp_ctl_el0, xzr"

    mov x0, #100                    // the virtual one (CNTVOFF does not apply at EL2 with E2H)
    msr cntv_tval_el0, x0
    mov x0, #1
    msr cntv_ctl_el0, x0
    isb
    ldr x2, =POLL_LIMIT
1:  mrs x0, cntv_ctl_el0
    tbnz x0, #2, 2f
    subs x2, x2, #1
    b.ne 1b
2:  SHOW "cntv_ctl_el0 with E2H after waiting for ISTATUS"
    mrs x0, cnthv_ctl_el2
    mrs x1, cntv_ctl_el0
    CHECK "cnthv_ctl_el2 reads the same"
    msr cntv_ctl_el0, xzr
    isb

    mrs x0, currentel
    SHOW "CurrentEL at the end"
    SAY "vhe_timer: done"
    bl out_nl
    adr x0, failures
    ldr x0, [x0]
    cbnz x0, finish                 // exit 1 through semihosting
    ldr x0, =PSCI_SYSTEM_OFF        // else power off: the run ends with status 0
    smc #0
    b .

e2h_on:
    ldr x0, =(HCR_RW | HCR_E2H)
    b 1f
e2h_off:
    ldr x0, =HCR_RW
1:  msr hcr_el2, x0
    isb
    ret

// --- run at EL1 by `lower` ---
el1_guest:
    mrs x0, sctlr_el1
    adr x1, seen
    str x0, [x1]
el1_svc:
    svc #0x21
    LEAVE

// --- run at EL0 by `lower` ---
el0_app:
el0_svc:
    svc #0x44
    LEAVE

    .ltorg

    VECTORS vectors_el2_copy, sync_el2
    VECTORS vectors_el1_copy, sync_el1
