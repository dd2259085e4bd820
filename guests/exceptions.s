// exceptions: taking and returning from exceptions between EL2, EL1 and EL0 on one
// CPU without VHE (HCR_EL2.E2H = 0), MMU off. Each check prints one line through
// semihosting: where an exception went (EL, vector offset), its ESR, its ELR and FAR
// relative to a label, its SPSR, or a value read back. Only architected values are
// printed, so the output is the same on smpsim and on QEMU (-M virt,virtualization=on
// -cpu max). Exits through semihosting: 0, or 1 when a pass/fail comparison failed.
//
// ESR = EC << 26 | IL (1 << 25: a 32-bit instruction) | ISS. SPSR = NZCV << 28 |
// IL << 20 | DAIF << 6 | M (EL << 2 | SPSel): 0x3c9 is EL2h, 0x3c5 EL1h, 0x3c0 EL0t,
// all with DAIF masked.

    .include "exc.inc"

    .text
    .global main
main:                               // from boot.s, on CPU 0's stack
    mrs x0, currentel
    SHOW "CurrentEL at entry"      // EL2 << 2: the topology starts the CPU at EL2
    bl el2_setup

    mrs x0, vbar_el2
    adr x1, vectors_el2
    CHECK "VBAR_EL2 reads back"
    mrs x0, vbar_el1
    adr x1, vectors_el1
    CHECK "VBAR_EL1 reads back"

// --- at EL2: exceptions taken to the current EL, vector offset 0x200 (SP_EL2) ---

    // SVC: ELR is the next instruction; SPSR is PSTATE before it, flags included
    CLEAR_LOG
    mov x0, #(6 << 28)              // Z and C
    msr nzcv, x0
svc_el2:
    svc #0x12
    REPORT "svc #0x12 at EL2", 0, svc_el2

    CLEAR_LOG
hvc_el2:
    hvc #0x34                       // to EL2, not to the firmware: its conduit is SMC
    REPORT "hvc #0x34 at EL2", 0, hvc_el2

    // BRK: a breakpoint; ELR is the BRK itself. MDCR_EL2.TDE = 0 makes EL1 the debug
    // target, but a BRK at EL2 cannot go down: it is taken to EL2
    CLEAR_LOG
brk_el2:
    brk #0x56
    REPORT "brk #0x56 at EL2", 0, brk_el2

    // UNDEFINED: EC 0 (unknown reason), ISS 0, ELR the instruction
    CLEAR_LOG
udf_el2:
    udf #0x78
    REPORT "udf #0x78 at EL2", 0, udf_el2

    // HLT with another immediate than semihosting's: halting debug is off, UNDEFINED
    CLEAR_LOG
hlt_el2:
    hlt #1
    REPORT "hlt #1 at EL2", 0, hlt_el2

    // a branch to an address with bit 1 set: a PC alignment fault when the CPU fetches
    // there, ELR and FAR the misaligned address, ISS 0. With FEAT_BTI (QEMU's max has
    // it) BR sets PSTATE.BTYPE to 0b01 and the SPSR keeps it; RET leaves BTYPE 0
    CLEAR_LOG
    RESUME_AT 1f
    adr x0, misaligned
    add x0, x0, #2
    br x0
misaligned:
    nop
    nop
1:  REPORT "br to a misaligned target at EL2", 0, misaligned, REPORT_FAR | REPORT_NO_BTYPE
    CLEAR_LOG
    RESUME_AT 1f
    adr x0, misaligned
    add x0, x0, #6
    ret x0
1:  REPORT "ret to a misaligned target at EL2", 0, misaligned, REPORT_FAR

    // illegal exception returns: EL and SPSel stay, NZCV and DAIF come from the SPSR,
    // PSTATE.IL is set, and the instruction at ELR (leave_stub) takes an Illegal
    // Execution state exception (EC 0x0e) to EL2 whose SPSR has IL (bit 20) set
    CLEAR_LOG
    adr x0, leave_stub
    mov x1, #0x3cd                  // M = EL3h, and there is no EL3
    bl lower
    REPORT "eret to EL3h", 0, leave_stub

    CLEAR_LOG
    adr x0, leave_stub
    mov x1, #0x3c1                  // M = 0b0001: EL0 with SPSel 1, a reserved mode
    bl lower
    REPORT "eret to M=0b0001", 0, leave_stub

    CLEAR_LOG
    adr x0, leave_stub
    mov x1, #0x3c6                  // M = 0b0110: M[1] is set, a reserved mode
    bl lower
    REPORT "eret to M=0b0110", 0, leave_stub

    CLEAR_LOG
    adr x0, leave_stub
    mov x1, #0x3d3                  // M = AArch32 SVC mode, but HCR_EL2.RW makes EL1 AArch64
    bl lower
    REPORT "eret to AArch32 EL1 (M=0x13)", 0, leave_stub

    ldr x0, =(HCR_RW | HCR_TGE)    // TGE = 1: EL1 is not in use, returning there is illegal
    msr hcr_el2, x0
    isb
    CLEAR_LOG
    adr x0, leave_stub
    mov x1, #SPSR_EL1H
    bl lower
    ldr x0, =HCR_RW
    msr hcr_el2, x0
    isb
    REPORT "eret to EL1h with HCR_EL2.TGE", 0, leave_stub

    // ERET to EL2t: EL2 on SP_EL0; its exceptions use vector offset 0 (current EL, SP0)
    CLEAR_LOG
    adr x0, sp0_code
    mov x1, #0x3c8
    bl lower
    adr x2, seen
    ldr x0, [x2]
    SHOW "eret to EL2t: SPSel"
    REPORT "svc #0x13 at EL2t", 0, sp0_svc

// --- at EL1: ERET from EL2 with SPSR = EL1h, exceptions to EL1 (vector 0x200) or to
// EL2 (vector 0x400, from a lower EL using AArch64) ---

    CLEAR_LOG
    adr x0, el1_hello
    mov x1, #SPSR_EL1H
    bl lower
    adr x2, seen
    ldr x0, [x2]
    SHOW "eret to EL1h: CurrentEL"
    adr x2, seen
    ldr x0, [x2, #8]
    SHOW "eret to EL1h: SPSel"
    REPORT "hvc #0x22 at EL1", 0, el1_hvc

    CLEAR_LOG                       // EL1t: the same code on SP_EL0
    adr x0, sp0_code
    mov x1, #0x3c4
    bl lower
    adr x2, seen
    ldr x0, [x2]
    SHOW "eret to EL1t: SPSel"
    REPORT "svc #0x13 at EL1t", 0, sp0_svc

    CLEAR_LOG
    adr x0, el1_exceptions
    mov x1, #SPSR_EL1H
    bl lower
    REPORT "svc #0x11 at EL1", 0, el1_svc
    REPORT "brk #0x33 at EL1", 1, el1_brk
    REPORT "udf #0x44 at EL1", 2, el1_udf
    REPORT "mrs hcr_el2 at EL1", 3, el1_mrs_el2

    // HCR_EL2 traps: TVM (writes of the EL1 virtual memory controls), TSC (SMC), TWI (WFI)
    ldr x0, =(HCR_RW | HCR_TVM | HCR_TSC | HCR_TWI)
    msr hcr_el2, x0
    isb
    CLEAR_LOG
    adr x0, el1_hcr_traps
    mov x1, #SPSR_EL1H
    bl lower
    ldr x0, =HCR_RW
    msr hcr_el2, x0
    isb
    // ISS of a trapped MSR: Op0 3 << 20 | Op2 0 << 17 | Op1 0 << 14 | CRn 1 << 10 |
    // Rt 5 << 5 | CRm 0 << 1 | direction 0 (write)
    REPORT "msr sctlr_el1, x5 at EL1 with HCR_EL2.TVM", 0, el1_tvm
    mrs x0, sctlr_el1
    ldr x1, =SCTLR_EL1_INIT
    CHECK "the trapped msr left SCTLR_EL1 alone"
    adr x2, seen
    ldr x0, [x2]
    ldr x1, =SCTLR_EL1_INIT
    CHECK "mrs sctlr_el1 at EL1 with TVM reads it (not trapped)"
    REPORT "smc #0x5 at EL1 with HCR_EL2.TSC", 1, el1_smc
    REPORT "wfi at EL1 with HCR_EL2.TWI", 2, el1_wfi

    // TRVM traps the reads: ISS direction 1, Rt 6
    ldr x0, =(HCR_RW | HCR_TRVM)
    msr hcr_el2, x0
    isb
    CLEAR_LOG
    adr x0, el1_trvm
    mov x1, #SPSR_EL1H
    bl lower
    ldr x0, =HCR_RW
    msr hcr_el2, x0
    isb
    REPORT "mrs x6, sctlr_el1 at EL1 with HCR_EL2.TRVM", 0, el1_trvm

    // HCD (there is no EL3): HVC is UNDEFINED at EL1 and at EL2
    ldr x0, =(HCR_RW | HCR_HCD | HCR_TSC)
    msr hcr_el2, x0
    isb
    CLEAR_LOG
    adr x0, el1_hvc_hcd
    mov x1, #SPSR_EL1H
    bl lower
    REPORT "hvc #0x23 at EL1 with HCR_EL2.HCD", 0, el1_hvc_hcd
    CLEAR_LOG
hvc_el2_hcd:
    hvc #0x35
    REPORT "hvc #0x35 at EL2 with HCR_EL2.HCD", 0, hvc_el2_hcd
    ldr x0, =HCR_RW
    msr hcr_el2, x0
    isb

// --- at EL0: ERET from EL2 with SPSR = EL0t; with TGE = 0 its exceptions go to EL1,
// with TGE = 1 to EL2, both at vector 0x400 ---

    CLEAR_LOG
    adr x0, el0_code
    mov x1, #SPSR_EL0T
    bl lower
    REPORT "svc #0x42 at EL0", 0, el0_svc
    REPORT "mrs currentel at EL0", 1, el0_mrs

    ldr x0, =(HCR_RW | HCR_TGE)
    msr hcr_el2, x0
    isb
    CLEAR_LOG
    adr x0, el0_code_tge
    mov x1, #SPSR_EL0T
    bl lower
    ldr x0, =HCR_RW
    msr hcr_el2, x0
    isb
    REPORT "svc #0x43 at EL0 with HCR_EL2.TGE", 0, el0_svc_tge
    REPORT "udf at EL0 with HCR_EL2.TGE", 1, el0_udf_tge

    mrs x0, currentel
    SHOW "CurrentEL at the end"
    SAY "exceptions: done"
    bl out_nl
    b finish

// --- code run below EL2 by `lower` ---

el1_hello:
    mrs x0, currentel
    mrs x1, spsel
    adr x2, seen
    stp x0, x1, [x2]
el1_hvc:
    hvc #0x22                       // to EL2 and back
    LEAVE

sp0_code:                           // at EL2t or EL1t
    mrs x0, spsel
    adr x1, seen
    str x0, [x1]
sp0_svc:
    svc #0x13
    LEAVE

el1_exceptions:
el1_svc:
    svc #0x11
el1_brk:
    brk #0x33                       // HCR_EL2.TGE = MDCR_EL2.TDE = 0: to EL1
el1_udf:
    udf #0x44
el1_mrs_el2:
    mrs x0, hcr_el2                 // an EL2 register at EL1: UNDEFINED, to EL1
    LEAVE

el1_hcr_traps:
    ldr x5, =(SCTLR_EL1_INIT | SCTLR_I)
el1_tvm:
    msr sctlr_el1, x5               // TVM: trapped to EL2, ELR the MSR
    mrs x6, sctlr_el1               // reads are TRVM's business: not trapped
    adr x7, seen
    str x6, [x7]
    ldr x0, =PSCI_VERSION           // a PSCI call, if it ever reached the firmware
el1_smc:
    smc #0x5                        // TSC: trapped to EL2 before the firmware, ELR the SMC
el1_wfi:
    wfi                             // TWI: trapped to EL2 instead of waiting, ELR the WFI
    LEAVE

el1_trvm:
    mrs x6, sctlr_el1               // TRVM: trapped to EL2, ELR the MRS
    hvc #LEAVE_IMM                  // not LEAVE: EL1's handler reads ESR_EL1, trapped too

el1_hvc_hcd:
    hvc #0x23                       // HCD: UNDEFINED, to EL1
    smc #LEAVE_IMM                  // HVC cannot leave: an SMC, trapped by TSC, does

el0_code:
el0_svc:
    svc #0x42
el0_mrs:
    mrs x0, currentel               // CurrentEL is not accessible at EL0: UNDEFINED
    LEAVE                           // to EL1, which passes it on with HVC

el0_code_tge:
el0_svc_tge:
    svc #0x43
el0_udf_tge:
    udf #0
    LEAVE                           // straight to EL2

    .ltorg
