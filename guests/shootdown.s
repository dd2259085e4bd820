// shootdown: TLB and instruction-cache maintenance that reaches another CPU (issue 5,
// items 4 and 5). Two CPUs run at EL1 with their MMUs on over the same translation
// tables; CPU 0 changes what CPU 1 has already used and CPU 1 must see the change:
//
// - TLB shootdown: the page at TEST_VA is mapped to page A (which holds 0x11) and
//   both CPUs read it, so that their TLBs hold the translation. CPU 0 then points the
//   page descriptor at another page, DSB ISHST, TLBI (an Inner Shareable form), DSB
//   ISH, ISB, reads TEST_VA itself and hands over to CPU 1, which reads it too. An
//   Inner Shareable TLBI is broadcast: it is complete on every CPU of the Inner
//   Shareable domain once the issuing CPU's DSB ISH is (Arm ARM, "TLB maintenance
//   instructions"), so both must read the new page's value; a CPU that kept its old
//   TLB entry would read the old one. Four rounds, each to a page no CPU has used yet:
//   VAE1IS (to B, 0x22), VALE1IS (to C, 0x33), VAAE1IS (to D, 0x44), VMALLE1IS (to E,
//   0x55). The forms that are not Inner Shareable are not tested: the architecture
//   allows them to leave CPU 1 with its old entry, it does not require it.
// - Cross-modifying code: both CPUs call the function f (mov x0, #1; ret), so that
//   both have decoded it. CPU 0 writes a new first instruction (mov x0, #2), DC CVAU,
//   DSB ISH, IC IVAU, DSB ISH, ISB and calls f; then CPU 1, after an ISB of its own,
//   calls it (Arm ARM, "Concurrent modification and execution of instructions": the
//   cross-modifying sequence). Then the same with IC IALLUIS instead of IC IVAU
//   (mov x0, #3).
//
// Each CPU prints one line per check through semihosting; the CPUs take turns (`turn`:
// CPU 0 acts on even turns, CPU 1 on odd ones; a turn is handed over with STLR, DSB
// ISH, SEV, and waited for with WFE and LDAR), so only one prints at a time and the
// lines come out in the same order on smpsim and on QEMU. CPU 0 ends the run with PSCI
// SYSTEM_OFF (an HVC to EL2, which makes the SMC) once CPU 1 has reported.
//
// Exception levels: the CPUs start at EL2 (QEMU -M virt,virtualization=on; PSCI over
// SMC). EL2 builds the tables, starts CPU 1 with CPU_ON (from EL2, so that it starts
// at EL2 too), keeps HCR_EL2.E2H = 0 (E2H changes only EL2's own regime) and drops each
// CPU to EL1 with HCR_EL2.VM = 0: the checks run in the EL1&0 regime, as a kernel
// does, with the EL1 forms of TLBI that the issue names (TLBI VAE1IS).
//
// Memory: TTBR0_EL1, 4 KiB granule, T0SZ = 25 (walks start at level 1). RAM_BASE's
// first 2 MiB (the image, its tables and pages, the CPUs' stacks) are one identity
// 2 MiB block, Normal write-back, Inner Shareable, EL1 read-write and executable:
// CPU 0 writes f's code through that mapping and both CPUs execute it, so WXN stays 0
// (SCTLR_EL1.WXN would make every writable page execute-never). TEST_VA is one 4 KiB
// page through a level 3 table. SCTLR_EL1.C and I are on and the walks are
// write-back cacheable (TCR_EL1 IRGN0/ORGN0), as with a kernel: a descriptor write
// needs only DSB ISHST before the TLBI. The tables and pages are written at EL2 with
// its MMU off, before any CPU has a cacheable mapping of them.

    .include "print.inc"

    .equ RAM_BASE, 0x40000000
    .equ TEST_VA, 0x80000000            // level 1 entry 2 -> level 2 entry 0 -> level 3 entry 0

    // descriptors (Arm ARM D8.3)
    .equ DESC_TABLE, 0b11
    .equ DESC_BLOCK, 0b01
    .equ DESC_PAGE, 0b11
    .equ SH_INNER, 3 << 8
    .equ AF, 1 << 10
    .equ PXN, 1 << 53
    .equ UXN, 1 << 54
    // AttrIndx 0 (MAIR attr0: Normal WB), AP[2:1] = 0b00 (EL1 read-write)
    .equ BLOCK_RWX, DESC_BLOCK | SH_INNER | AF
    .equ PAGE_RW, DESC_PAGE | SH_INNER | AF | PXN | UXN

    .equ MAIR_VALUE, 0xff               // attr0: Normal, Inner/Outer WB RW-allocate
    // TCR_EL1: T0SZ 25, IRGN0 = ORGN0 = 0b01 (WB WA), SH0 inner, TG0 4K, EPD1 (no TTBR1
    // walks), IPS 0b010 (40 bits), AS = 0 (8-bit ASIDs; ASID 0 here)
    .equ TCR_VALUE, 25 | 1 << 8 | 1 << 10 | 3 << 12 | 1 << 23 | 2 << 32

    .equ HCR_RW, 1 << 31                // EL1 is AArch64; E2H, TGE, VM and every trap 0
    .equ SCTLR_EL2_INIT, 0x30c50830     // MMU and caches off, RES1 bits (E2H = 0 layout)
    .equ SCTLR_EL1_INIT, 0x30d00800     // MMU and caches off, RES1 bits, SPAN
    .equ SCTLR_M, 1 << 0
    .equ SCTLR_C, 1 << 2
    .equ SCTLR_I, 1 << 12
    .equ SCTLR_WXN, 1 << 19
    .equ SPSR_EL1H, 0x3c5               // EL1 on SP_EL1, DAIF masked

    .equ PSCI_CPU_ON, 0xc4000003        // SMC64
    .equ PSCI_SYSTEM_OFF, 0x84000008
    .equ EC_HVC, 0x16

    // --- the turns ---

    // wait until `turn` is \n: LDAR, so that nothing this CPU reads afterwards is read
    // before the other CPU's hand-over; WFE between looks (SEVL: the first falls through)
    .macro WAIT_TURN n
    adr x5, turn
    sevl
1:  wfe
    ldar x6, [x5]
    cmp x6, #\n
    b.ne 1b
    .endm

    // hand turn \n over: STLR after all this CPU did; DSB so that the store is visible
    // before the event
    .macro GIVE_TURN n
    mov x5, #\n
    adr x6, turn
    stlr x5, [x6]
    dsb ish
    sev
    .endm

    // --- what the lines say ---

    // "<text><x19 in hex>"
    .macro SAY_HEX text
    SAY "\text"
    mov x0, x19
    bl out_hex
    bl out_nl
    .endm

    // "<text><x19 as a signed decimal>"
    .macro SAY_DEC text
    SAY "\text"
    mov x0, x19
    bl out_sdec
    bl out_nl
    .endm

    // x19 := the doubleword at TEST_VA
    .macro READ_VA
    ldr x19, =TEST_VA
    ldr x19, [x19]
    .endm

    // x19 := f()
    .macro CALL_F
    adr x0, f
    blr x0
    mov x19, x0
    .endm

    // CPU 0's side of a TLB round: TEST_VA's level 3 entry := \page, then the TLBI
    // (\tlbi, with x0 = VA[55:12], ASID 0) and the DSB that completes it everywhere
    .macro REMAP page, tlbi:vararg
    ldr x0, =\page + PAGE_RW
    ldr x1, =l3_va
    str x0, [x1]                        // level 3 entry 0: TEST_VA
    dsb ishst                           // the new descriptor is visible to walks first
    ldr x0, =TEST_VA >> 12
    \tlbi
    dsb ish                             // the TLBI is complete on every CPU
    isb
    .endm

    // CPU 0's side of an IC round: f's first instruction := the one at \template, then
    // \ic (with x2 = its address) and the barriers of the cross-modifying sequence
    .macro PATCH template, ic:vararg
    ldr w1, \template
    adr x2, f
    str w1, [x2]
    dc cvau, x2                         // the new instruction reaches the PoU
    dsb ish
    \ic                                 // every CPU's instruction cache forgets f
    dsb ish                             // complete on every CPU
    isb
    .endm

    .text
    .global main
main:                                   // every CPU at EL2, from boot.s: x0 = CPU number
    mov x19, x0
    ldr x0, =HCR_RW
    msr hcr_el2, x0
    ldr x0, =SCTLR_EL2_INIT
    msr sctlr_el2, x0
    msr vttbr_el2, xzr                  // VMID 0 on both CPUs: the same EL1&0 TLB tags
    adr x0, vectors_el2
    msr vbar_el2, x0
    adr x0, vectors_el1
    msr vbar_el1, x0
    ldr x0, =SCTLR_EL1_INIT             // EL1's MMU off until EL1 turns it on
    msr sctlr_el1, x0
    isb
    cbnz x19, 2f

    // CPU 0: the tables and the pages, then CPU 1
    ldr x0, =RAM_BASE + 0x200000        // everything the CPUs use must be in the block
    ldr x1, =end_of_used
    cmp x1, x0
    b.hi too_big
    add x1, sp, #0x2000                 // CPU 1's stack is above CPU 0's (boot.s)
    cmp x1, x0
    b.hi too_big
    bl build_tables
    ldr x0, =PSCI_CPU_ON
    mov x1, #1                          // MPIDR affinity 0.0.0.1
    adr x2, _start                      // boot.s: a stack, then main
    mov x3, #0
    smc #0
    mov x19, x0
    SAY_DEC "shootdown: CPU_ON(1): "
    cbnz x19, failed
    mov x19, #0

    // every CPU: its EL1&0 regime's controls, nothing stale in its TLB and caches, then
    // EL1 (x19 = the CPU number)
2:  ldr x0, =MAIR_VALUE
    msr mair_el1, x0
    ldr x0, =TCR_VALUE
    msr tcr_el1, x0
    adr x0, l1
    msr ttbr0_el1, x0                   // ASID 0
    isb
    tlbi vmalle1                        // this CPU's EL1&0 entries (VMID 0)
    ic iallu
    dsb nsh
    isb
    mov x0, sp
    msr sp_el1, x0                      // main never returns to boot.s: EL1 takes the stack
    adr x0, el1_entry
    msr elr_el2, x0
    mov x0, #SPSR_EL1H
    msr spsr_el2, x0
    eret

el1_entry:
    ldr x0, =SCTLR_EL1_INIT | SCTLR_M | SCTLR_C | SCTLR_I
    msr sctlr_el1, x0
    isb                                 // identity map: the next fetch is the next instruction
    cbnz x19, cpu1

// --- CPU 0 ---

cpu0:
    mrs x19, currentel
    SAY_HEX "cpu0: CurrentEL "
    mrs x19, sctlr_el1
    ldr x0, =SCTLR_M | SCTLR_C | SCTLR_I | SCTLR_WXN
    and x19, x19, x0
    SAY_HEX "cpu0: SCTLR_EL1 M, C, I, WXN: "
    READ_VA
    SAY_HEX "before the change: cpu0 reads "
    CALL_F
    SAY_DEC "before the change: cpu0 runs f: "
    GIVE_TURN 1

    WAIT_TURN 2
    REMAP page_b, tlbi vae1is, x0
    READ_VA
    SAY_HEX "tlbi vae1is: cpu0 reads "
    GIVE_TURN 3

    WAIT_TURN 4
    REMAP page_c, tlbi vale1is, x0
    READ_VA
    SAY_HEX "tlbi vale1is: cpu0 reads "
    GIVE_TURN 5

    WAIT_TURN 6
    REMAP page_d, tlbi vaae1is, x0
    READ_VA
    SAY_HEX "tlbi vaae1is: cpu0 reads "
    GIVE_TURN 7

    WAIT_TURN 8
    REMAP page_e, tlbi vmalle1is
    READ_VA
    SAY_HEX "tlbi vmalle1is: cpu0 reads "
    GIVE_TURN 9

    WAIT_TURN 10
    PATCH mov_2, ic ivau, x2
    CALL_F
    SAY_DEC "ic ivau: cpu0 runs the new code: "
    GIVE_TURN 11

    WAIT_TURN 12
    PATCH mov_3, ic ialluis
    CALL_F
    SAY_DEC "ic ialluis: cpu0 runs the new code: "
    GIVE_TURN 13

    WAIT_TURN 14
    SAY "shootdown: done"
    bl out_nl
    hvc #0                              // EL2: PSCI SYSTEM_OFF
    b .

// --- CPU 1 ---

cpu1:
    WAIT_TURN 1
    mrs x19, currentel
    SAY_HEX "cpu1: CurrentEL "
    mrs x19, sctlr_el1
    ldr x0, =SCTLR_M | SCTLR_C | SCTLR_I | SCTLR_WXN
    and x19, x19, x0
    SAY_HEX "cpu1: SCTLR_EL1 M, C, I, WXN: "
    READ_VA                             // its TLB now holds TEST_VA -> page A
    SAY_HEX "before the change: cpu1 reads "
    CALL_F                              // and it has decoded f
    SAY_DEC "before the change: cpu1 runs f: "
    GIVE_TURN 2

    WAIT_TURN 3
    READ_VA
    SAY_HEX "tlbi vae1is: cpu1 reads "
    GIVE_TURN 4

    WAIT_TURN 5
    READ_VA
    SAY_HEX "tlbi vale1is: cpu1 reads "
    GIVE_TURN 6

    WAIT_TURN 7
    READ_VA
    SAY_HEX "tlbi vaae1is: cpu1 reads "
    GIVE_TURN 8

    WAIT_TURN 9
    READ_VA
    SAY_HEX "tlbi vmalle1is: cpu1 reads "
    GIVE_TURN 10

    WAIT_TURN 11
    isb                                 // the cross-modifying sequence: the ISB of the CPU
    CALL_F                              // that runs the new code
    SAY_DEC "ic ivau: cpu1 runs the new code: "
    GIVE_TURN 12

    WAIT_TURN 13
    isb
    CALL_F
    SAY_DEC "ic ialluis: cpu1 runs the new code: "
    GIVE_TURN 14
3:  wfe                                 // until SYSTEM_OFF
    b 3b

// --- set-up at EL2, MMU off ---

build_tables:
    ldr x0, =tables                     // all invalid
    ldr x1, =tables_end
1:  stp xzr, xzr, [x0], #16
    cmp x0, x1
    b.lo 1b
    ldr x0, =l1
    ldr x1, =l2_ram + DESC_TABLE
    str x1, [x0, #8 * 1]                // VA 0x4000_0000: level 1 entry 1
    ldr x1, =l2_va + DESC_TABLE
    str x1, [x0, #8 * 2]                // VA 0x8000_0000: level 1 entry 2
    ldr x0, =l2_ram
    ldr x1, =RAM_BASE + BLOCK_RWX
    str x1, [x0]                        // the first 2 MiB of RAM, identity
    ldr x0, =l2_va
    ldr x1, =l3_va + DESC_TABLE
    str x1, [x0]
    ldr x0, =l3_va
    ldr x1, =page_a + PAGE_RW
    str x1, [x0]                        // TEST_VA -> page A
    // what the pages hold
    mov x1, #0x11
    ldr x0, =page_a
    str x1, [x0]
    mov x1, #0x22
    ldr x0, =page_b
    str x1, [x0]
    mov x1, #0x33
    ldr x0, =page_c
    str x1, [x0]
    mov x1, #0x44
    ldr x0, =page_d
    str x1, [x0]
    mov x1, #0x55
    ldr x0, =page_e
    str x1, [x0]
    dsb ish
    ret

too_big:
    SAY "shootdown: the image and stacks do not fit in the first 2 MiB of RAM"
    bl out_nl
    b fail_exit

failed:
    SAY "shootdown: CPU_ON failed"
    bl out_nl
fail_exit:
    mov x0, #1
    EXIT_WITH_X0

// --- exceptions: HVC #0 from EL1 is the request for SYSTEM_OFF; anything else is a bug ---

    .macro VECTORS name, sync_lower
    .balign 2048
\name:
    .rept 8                             // current EL with SP0 and SPx
    b unexpected
    .balign 128
    .endr
    b \sync_lower                       // lower EL, AArch64: synchronous
    .balign 128
    .rept 7
    b unexpected
    .balign 128
    .endr
    .endm

    VECTORS vectors_el2, el2_sync_lower
    VECTORS vectors_el1, unexpected

el2_sync_lower:
    mrs x0, esr_el2
    lsr x1, x0, #26
    cmp x1, #EC_HVC
    b.ne unexpected
    ldr x0, =PSCI_SYSTEM_OFF
    smc #0
    b unexpected                        // SYSTEM_OFF does not return

// "unexpected exception: CurrentEL, ESR, ELR, FAR" of the EL it was taken to, exit 1
unexpected:
    mrs x19, currentel
    cmp x19, #2 << 2
    b.eq 1f
    mrs x20, esr_el1
    mrs x21, elr_el1
    mrs x22, far_el1
    b 2f
1:  mrs x20, esr_el2
    mrs x21, elr_el2
    mrs x22, far_el2
2:  SAY "unexpected exception: CurrentEL "
    mov x0, x19
    bl out_hex
    SAY ", ESR "
    mov x0, x20
    bl out_hex
    SAY ", ELR "
    mov x0, x21
    bl out_hex
    SAY ", FAR "
    mov x0, x22
    bl out_hex
    bl out_nl
    b fail_exit

    .ltorg

// the instructions CPU 0 writes into f (templates, never executed here)
mov_2:  mov x0, #2
mov_3:  mov x0, #3

// f: alone in its page, the last code of the image; CPU 0 rewrites its first instruction
    .balign 4096
f:  mov x0, #1
    ret

    .data
    .balign 8
turn:   .quad 0

    .bss
    .balign 4096
tables:
l1:     .skip 4096                      // TTBR0_EL1
l2_ram: .skip 4096                      // VA 0x4000_0000..: entry 0 the 2 MiB block
l2_va:  .skip 4096                      // VA 0x8000_0000..
l3_va:  .skip 4096                      // entry 0: TEST_VA
tables_end:
page_a: .skip 4096                      // 0x11
page_b: .skip 4096                      // 0x22
page_c: .skip 4096                      // 0x33
page_d: .skip 4096                      // 0x44
page_e: .skip 4096                      // 0x55
end_of_used:
