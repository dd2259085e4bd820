// mmu: the VMSAv8-64 MMU with the 4 KiB granule on one CPU. Stage 1 of the EL1&0
// regime (identity map through TTBR0_EL1, a high-half alias through TTBR1_EL1, 1 GiB
// and 2 MiB blocks, code run at the high half), its faults taken to EL1 (translation
// at levels 0-3 with a fix-up and retry, permission, access flag with a fix-up,
// alignment on Device memory, an instruction abort on PXN, PAN, EL0 permissions);
// stage 1 of the EL2 regime (E2H = 0) and of the EL2&0 regime (E2H = 1, two ranges);
// stage 2 behind an EL1 program, its faults taken to EL2 with HPFAR_EL2: one fixed up
// by EL2, a read-only page, an execute-never page, faults on a stage 1 table walk.
// Each check prints one line through semihosting, addresses relative to a label of
// the guest, so that the output is the same on smpsim and on QEMU (-M
// virt,virtualization=on -cpu max). Exits through semihosting: 0, or 1 when a
// pass/fail comparison failed.
//
// Memory: the image is linked at RAM_BASE and all of it (code, data, tables, the test
// pages, CPU 0's stack) lies in the first 2 MiB of RAM, which every regime maps page
// by page through one level 3 table (39-bit addresses: T0SZ = 25, walks start at
// level 1). The tables are built at EL2 with its MMU off; SCTLR_ELx.C stays 0 and the
// walks are Non-cacheable (TCR IRGN/ORGN = 0), so no cache maintenance is needed.
//
// A fault report: "name: EL<n> vector <offset>, ESR <esr>, ELR +<ELR - label>, FAR
// <FAR>[, IPA +<HPFAR_EL2.FIPA << 12 - page>] (i of n)", n the aborts logged since the
// check began: each faulting access runs alone (RUN, or a call at EL2), so that an
// abort missing or extra shows in that check's line only. FAR is "+x" relative to the
// page the check uses, "hi+x" relative to that page's high-half alias, or absolute for
// the fixed addresses outside the image.

    .include "exc.inc"

    .equ RAM_BASE, 0x40000000
    .equ HIGH_BASE, 0xffffff8000000000   // the lowest TTBR1 address with T1SZ = 25
    .equ HIGH_OFFSET, HIGH_BASE - RAM_BASE  // RAM address + this = its high-half alias
    .equ BLOCK_1G_VA, 0x80000000          // a 1 GiB block mapping RAM_BASE
    .equ BLOCK_2M_VA, RAM_BASE + 0x200000 // a 2 MiB block mapping RAM_BASE
    .equ VA_LEVEL0, 0x8000000000          // bit 39: outside the 39-bit TTBR0 range
    .equ VA_LEVEL1, 0x100000000           // level 1 entry 4: invalid
    .equ VA_LEVEL2, RAM_BASE + 0x400000   // level 2 entry 2: invalid
    .equ VA_WALK, RAM_BASE + 0x600000     // level 2 entry 3: a table stage 2 leaves unmapped
    .equ VA_HIGH_L1, 0xffffffc000000000   // TTBR1 level 1 entry 256: invalid

    // descriptors (Arm ARM D8.3): bits [1:0] 0b11 table or page, 0b01 block
    .equ DESC_TABLE, 0b11
    .equ DESC_BLOCK, 0b01
    .equ DESC_PAGE, 0b11
    .equ ATTR_NORMAL, 0 << 2            // AttrIndx 0: MAIR attr0 = 0xff, Normal WB
    .equ ATTR_DEVICE, 1 << 2            // AttrIndx 1: MAIR attr1 = 0x00, Device-nGnRnE
    .equ AP_PRIV_RW, 0 << 6             // AP[2:1] = 0b00
    .equ AP_ALL_RW, 1 << 6              // 0b01: EL0 too (and so PXN, implicitly)
    .equ AP_PRIV_RO, 2 << 6             // 0b10
    .equ AP_ALL_RO, 3 << 6              // 0b11: EL0 may read
    .equ SH_INNER, 3 << 8
    .equ AF, 1 << 10
    .equ PXN, 1 << 53
    .equ UXN, 1 << 54
    .equ S1_NORMAL, ATTR_NORMAL | SH_INNER | AF
    .equ EL1_PAGE, DESC_PAGE | S1_NORMAL | AP_PRIV_RW
    .equ EL1_BLOCK, DESC_BLOCK | S1_NORMAL | AP_PRIV_RW
    .equ EL2_PAGE, DESC_PAGE | S1_NORMAL | AP_ALL_RW  // one-EL regime: AP[1] is RES1
    .equ S2_NORMAL, 0xf << 2            // MemAttr: Normal, Inner and Outer WB
    .equ S2AP_RO, 1 << 6
    .equ S2AP_RW, 3 << 6
    .equ S2_XN, 1 << 54                 // XN[1:0] = 0b10: no execution at EL1 nor EL0
    .equ S2_PAGE, DESC_PAGE | S2_NORMAL | SH_INNER | AF | S2AP_RW
    .equ INVALID, 0

    // translation controls
    .equ MAIR_VALUE, 0x00ff             // attr0 Normal WB, attr1 Device-nGnRnE
    // TCR_EL1 (and TCR_EL2 with E2H): T0SZ 25, SH0 inner, TG0 4K, T1SZ 25, SH1 inner,
    // TG1 0b10 (4K), IPS 0b010 (40 bits)
    .equ TCR_TWO_RANGES, 25 | 3 << 12 | 25 << 16 | 3 << 28 | 2 << 30 | 2 << 32
    // TCR_EL2 with E2H = 0: T0SZ 25, SH0 inner, TG0 4K, PS 0b010, RES1 bits 31, 23
    .equ TCR_EL2_VALUE, 25 | 3 << 12 | 2 << 16 | 1 << 23 | 1 << 31
    // VTCR_EL2: T0SZ 25, SL0 1 (start at level 1), SH0 inner, TG0 4K, PS 0b010, RES1 bit 31
    .equ VTCR_VALUE, 25 | 1 << 6 | 3 << 12 | 2 << 16 | 1 << 31
    .equ VMID1, 1 << 48                 // VTTBR_EL2.VMID
    .equ SCTLR_M, 1 << 0
    .equ HCR_VM, 1 << 0

    .equ ESR_EC_SHIFT, 26

    // values the checks read back
    .equ VAL_DATA, 0x0807060504030201
    .equ VAL_LD, 0x1d1d1d1d00000001
    .equ VAL_ST, 0x5757575700000002
    .equ VAL_RO, 0x0404040400000003
    .equ VAL_AF, 0xafafafaf00000004
    .equ VAL_USER, 0xe0e0e0e000000005
    .equ VAL_S2, 0x5252525200000006
    .equ VAL_S2RO, 0x2020202000000007

    // --- helpers ---

    // the level 3 entry of \table for the page holding \page: that page, identity,
    // with \attrs, or invalid when \attrs is INVALID
    .macro MAP table, page, attrs
    ldr x0, =\table
    ldr x1, =\page
    ldr x2, =\attrs
    bl set_pte
    .endm

    // the 64-bit word at \label + \offset (x0, x1 clobbered)
    .macro POKE label, offset, value
    ldr x0, =\value
    ldr x1, =\label + \offset
    str x0, [x1]
    .endm

    // the next abort calls \routine (x0 = FAR, x1 = HPFAR_EL2 at EL2) and is retried
    .macro FIXUP routine
    adr x0, \routine
    adr x1, fixup
    str x0, [x1]
    .endm

    // start a check: no aborts logged, no fix-up, no resume address
    .macro CLEAR_ABORTS
    adr x0, abort_count
    str xzr, [x0]
    adr x0, fixup
    str xzr, [x0]
    adr x0, resume
    str xzr, [x0]
    .endm

    // print abort \index: ELR relative to \elr_label, FAR relative to \far_base (0:
    // printed as it is) or with FAR_HIGH to its high-half alias, and when \ipa_base
    // is not 0 the IPA of HPFAR_EL2 relative to it
    .macro ABORT name, index, elr_label, far_base, flags=0, ipa_base=0
    adr x0, 8f
    mov x1, #\index
    adr x2, \elr_label
    ldr x3, =\far_base
    mov x4, #\flags
    ldr x5, =\ipa_base
    bl report_abort
    b 9f
8:  .asciz "\name"
    .balign 4
9:
    .endm

    .equ FAR_HIGH, 1

    // "name: pass" when the 64-bit word at \label + \offset is \value
    .macro EXPECT name, label, offset, value
    ldr x0, =\label + \offset
    ldr x0, [x0]
    ldr x1, =\value
    CHECK "\name"
    .endm

    // run \prog at EL1 (or the EL of \spsr) with x19, x20 as they are here, a fresh
    // abort log and, when \fix is given, that fix-up armed for the first abort
    .macro RUN prog, spsr=SPSR_EL1H, fix
    CLEAR_ABORTS
    .ifnb \fix
    FIXUP \fix
    .endif
    adr x0, \prog
    mov x1, #\spsr
    bl lower
    .endm

    .macro TLBI_ALL_EL2
    dsb ish
    tlbi alle2
    dsb ish
    isb
    .endm

    .text
    .global main
main:                               // from boot.s, on CPU 0's stack
    stp x29, x30, [sp, #-16]!
    bl el2_setup                    // E2H = TGE = 0, MMUs off
    adr x0, mmu_vectors_el2
    msr vbar_el2, x0
    adr x0, mmu_vectors_el1
    msr vbar_el1, x0
    msr vttbr_el2, xzr              // VMID 0 until stage 2 is on
    isb
    dsb ish
    tlbi alle1                      // nothing from reset in the TLBs
    tlbi alle2
    dsb ish
    isb

    mov x0, sp                      // all the RAM the guest uses must be in the 2 MiB
    ldr x1, =RAM_BASE + 0x200000    // that the level 3 tables map
    cmp x0, x1
    b.ls 1f
    SAY "mmu: the image does not fit in the first 2 MiB of RAM"
    bl out_nl
    mov x0, #1
    EXIT_WITH_X0
1:  bl build_tables
    bl fill_pages

    // EL1&0 regime, programmed from EL2; EL1 turns its MMU on itself
    ldr x0, =MAIR_VALUE
    msr mair_el1, x0
    ldr x0, =TCR_TWO_RANGES
    msr tcr_el1, x0
    ldr x0, =el1_l1_lo
    msr ttbr0_el1, x0
    ldr x0, =el1_l1_hi
    msr ttbr1_el1, x0
    isb

// --- 1. EL1 turns its MMU on: identity map, high-half alias, blocks ---

    RUN el1_mmu_on
    adr x0, results
    ldr x0, [x0, #40]
    and x0, x0, #SCTLR_M
    SHOW "el1: SCTLR_EL1.M after the msr"
    EXPECT "el1 identity map: a store reads back", results, 0, VAL_DATA
    EXPECT "el1 TTBR1_EL1 high-half alias reads the same", results, 8, VAL_DATA
    EXPECT "el1 1 GiB block alias reads the same", results, 16, VAL_DATA
    EXPECT "el1 2 MiB block alias reads the same", results, 24, VAL_DATA
    adr x0, results
    ldr x0, [x0, #32]
    ldr x1, =whoami + HIGH_OFFSET
    CHECK "el1 code runs at its high-half alias (adr sees the alias)"
    adr x0, abort_count
    ldr x0, [x0]
    SHOW_DEC "el1 aborts while turning the MMU on"

// --- 2. translation faults: level 3, fixed up by the handler and retried; 0, 1, 2;
// and one in the TTBR1 range ---

    ldr x19, =pg_ld + 8
    adr x20, results
    RUN prog_load, fix=fix_s1
    ABORT "el1 ldr from an unmapped page", 0, prog_load, pg_ld
    EXPECT "el1 ldr retried after the handler mapped the page", results, 0, VAL_LD

    ldr x19, =pg_st + 0x10
    ldr x20, =VAL_ST
    RUN prog_store, fix=fix_s1
    ABORT "el1 str to an unmapped page", 0, prog_store, pg_st
    EXPECT "el1 str retried after the handler mapped the page", pg_st, 0x10, VAL_ST

    adr x20, results
    ldr x19, =VA_LEVEL0
    RUN prog_load
    ABORT "el1 ldr outside the TTBR0 range", 0, prog_load, 0
    ldr x19, =VA_LEVEL1
    RUN prog_load
    ABORT "el1 ldr with an invalid level 1 entry", 0, prog_load, 0
    ldr x19, =VA_LEVEL2
    RUN prog_load
    ABORT "el1 ldr with an invalid level 2 entry", 0, prog_load, 0
    ldr x19, =VA_HIGH_L1
    RUN prog_load
    ABORT "el1 ldr with an invalid TTBR1 level 1 entry", 0, prog_load, 0

// --- 3. permission fault: a store to a read-only page ---

    ldr x19, =pg_ro
    adr x20, results
    RUN prog_load
    EXPECT "el1 ldr from a read-only page", results, 0, VAL_RO
    ldr x20, =VAL_ST
    RUN prog_store
    ABORT "el1 str to a read-only page", 0, prog_store, pg_ro
    EXPECT "the read-only page kept its value", pg_ro, 0, VAL_RO

// --- 4. access flag fault, fixed up by setting AF ---

    ldr x19, =pg_af + 0x18
    adr x20, results
    RUN prog_load, fix=fix_af
    ABORT "el1 ldr from a page with AF = 0", 0, prog_load, pg_af
    EXPECT "el1 ldr retried after the handler set AF", results, 0, VAL_AF

// --- 5. alignment: Device memory faults an unaligned access, Normal memory does not ---

    ldr x19, =pg_dev
    adr x20, results
    RUN prog_load
    EXPECT "el1 aligned ldr from Device memory", results, 0, VAL_DATA
    ldr x19, =pg_dev + 1
    RUN prog_load_w
    ABORT "el1 unaligned ldr from Device memory", 0, prog_load_w, pg_dev
    ldr x19, =pg_data + 1
    RUN prog_load_w
    EXPECT "el1 unaligned ldr from Normal memory", results, 0, (VAL_DATA>>8)&0xffffffff
    adr x0, abort_count
    ldr x0, [x0]
    SHOW_DEC "el1 aborts of the unaligned ldr from Normal memory"

// --- 6. instruction abort: a branch to a page EL1 may not execute ---

    ldr x19, =xn_page
    RUN prog_call
    ABORT "el1 blr to a PXN page", 0, xn_page, xn_page

// --- 7. EL0, and EL1 with PAN ---

    ldr x19, =pg_user_ro
    ldr x20, =pg_el0_data
    RUN prog_load, SPSR_EL0T
    EXPECT "el0 ldr from an AP=0b11 page, str to an AP=0b01 page", pg_el0_data, 0, VAL_USER
    ldr x19, =pg_data
    ldr x20, =pg_el0_data + 8
    RUN prog_load, SPSR_EL0T
    ABORT "el0 ldr from an EL1-only page", 0, prog_load, pg_data
    ldr x19, =pg_user_ro
    RUN prog_store, SPSR_EL0T
    ABORT "el0 str to an AP=0b11 page", 0, prog_store, pg_user_ro
    ldr x19, =pg_user_ro
    adr x20, results
    RUN prog_load_pan
    ABORT "el1 ldr from an EL0-readable page with PSTATE.PAN", 0, pan_ldr, pg_user_ro

// --- 8. EL2 with E2H = 0: one range, TTBR0_EL2 ---

    ldr x0, =MAIR_VALUE
    msr mair_el2, x0
    ldr x0, =TCR_EL2_VALUE
    msr tcr_el2, x0
    ldr x0, =el2_l1
    msr ttbr0_el2, x0
    isb
    TLBI_ALL_EL2
    ldr x0, =SCTLR_EL2_INIT | SCTLR_M
    msr sctlr_el2, x0
    isb                             // from here EL2's own accesses are translated
    mrs x0, sctlr_el2
    and x0, x0, #SCTLR_M
    SHOW "el2: SCTLR_EL2.M (this line is printed with the MMU on)"
    POKE pg_data, 8, VAL_ST
    EXPECT "el2 identity map: a store reads back", pg_data, 8, VAL_ST
    ldr x19, =pg_el2 + 0x30
    CLEAR_ABORTS
    bl el2_load
    ABORT "el2 ldr from an unmapped page", 0, el2_load, pg_el2
    ldr x19, =HIGH_BASE             // no TTBR1_EL2 without E2H: out of range
    CLEAR_ABORTS
    bl el2_load
    ABORT "el2 ldr from a high-half address without E2H", 0, el2_load, 0
    ldr x0, =SCTLR_EL2_INIT
    msr sctlr_el2, x0
    isb

// --- 9. EL2 with E2H = 1: the EL2&0 regime, two ranges ---

    ldr x0, =HCR_RW | HCR_E2H | HCR_TGE
    msr hcr_el2, x0
    isb
    ldr x0, =TCR_TWO_RANGES         // with E2H, TCR_EL2 has TCR_EL1's layout
    msr tcr_el2, x0
    ldr x0, =el1_l1_lo              // the EL1 tables: the same descriptor format
    msr ttbr0_el2, x0
    ldr x0, =el1_l1_hi
    msr ttbr1_el2, x0
    isb
    TLBI_ALL_EL2
    ldr x0, =SCTLR_EL1_INIT | SCTLR_M  // SCTLR_EL1's layout too; SPAN = 1: PAN stays 0
    msr sctlr_el2, x0
    isb
    POKE pg_data, 16, VAL_AF
    ldr x0, =pg_data + 16 + HIGH_OFFSET
    ldr x0, [x0]
    ldr x1, =VAL_AF
    CHECK "el2 with E2H: TTBR1_EL2 high-half alias reads back"
    ldr x0, =whoami + HIGH_OFFSET
    blr x0
    ldr x1, =whoami + HIGH_OFFSET
    CHECK "el2 with E2H: code runs at its high-half alias"
    ldr x19, =VA_HIGH_L1
    CLEAR_ABORTS
    bl el2_load
    ABORT "el2 with E2H: ldr with an invalid TTBR1 level 1 entry", 0, el2_load, 0
    ldr x0, =SCTLR_EL1_INIT
    msr sctlr_el2, x0
    isb
    ldr x0, =HCR_RW
    msr hcr_el2, x0
    isb
    ldr x0, =SCTLR_EL2_INIT
    msr sctlr_el2, x0
    isb
    TLBI_ALL_EL2

// --- 10. stage 2: an EL1 program behind an IPA map set up at EL2 ---

    ldr x0, =VTCR_VALUE
    msr vtcr_el2, x0
    ldr x0, =s2_l1 + VMID1
    msr vttbr_el2, x0
    ldr x0, =HCR_RW | HCR_VM
    msr hcr_el2, x0
    isb
    dsb ish
    tlbi vmalls12e1
    dsb ish
    isb

    // EL1's stage 1 off: VA = IPA
    ldr x0, =SCTLR_EL1_INIT
    msr sctlr_el1, x0
    ldr x19, =pg_s2 + 0x18
    adr x20, results
    RUN prog_load, fix=fix_s2
    ABORT "s2 ldr from an unmapped IPA (stage 1 off)", 0, prog_load, pg_s2, 0, pg_s2
    EXPECT "s2 ldr retried after EL2 mapped the IPA", results, 0, VAL_S2
    ldr x19, =pg_s2_ro + 0x20
    ldr x20, =VAL_ST
    RUN prog_store
    ABORT "s2 str to a read-only IPA", 0, prog_store, pg_s2_ro  // HPFAR_EL2 UNKNOWN here
    EXPECT "s2 the read-only page kept its value", pg_s2_ro, 0x20, VAL_S2RO
    ldr x19, =xn_page               // stage 1 off: only stage 2 forbids the fetch
    RUN prog_call
    ABORT "s2 blr to a stage 2 XN page (stage 1 off)", 0, xn_page, xn_page

    // EL1's stage 1 on: both stages, and the stage 1 walk through stage 2
    ldr x0, =SCTLR_EL1_INIT | SCTLR_M
    msr sctlr_el1, x0
    ldr x19, =pg_data + HIGH_OFFSET
    adr x20, results
    RUN prog_load
    EXPECT "s2 with stage 1: the high-half alias reads through both stages", results, 0, VAL_DATA
    ldr x19, =pg_s2_hi + 0x28 + HIGH_OFFSET  // stage 1 maps it; stage 2 does not
    RUN prog_load
    ABORT "s2 ldr through the high half from an unmapped IPA", 0, prog_load, pg_s2_hi, FAR_HIGH, pg_s2_hi
    ldr x19, =VA_WALK               // its level 3 table is in an IPA stage 2 lacks
    RUN prog_load
    ABORT "s2 fault on a stage 1 table walk", 0, prog_load, 0, 0, pg_s2_walk
    ldr x20, =VAL_ST
    RUN prog_store
    ABORT "s2 fault on a stage 1 table walk (str)", 0, prog_store, 0, 0, pg_s2_walk

    ldr x0, =HCR_RW
    msr hcr_el2, x0
    ldr x0, =SCTLR_EL1_INIT
    msr sctlr_el1, x0
    isb

    mrs x0, currentel
    SHOW "CurrentEL at the end"
    SAY "mmu: done"
    bl out_nl
    ldp x29, x30, [sp], #16
    b finish

// --- code run at EL1 and EL0 by `lower`: x19 the address, x20 a value or where to
// put what was read (lower passes them on). The handlers skip a faulting instruction
// unless a fix-up is armed ---

el1_mmu_on:                         // as a kernel does: MAIR, TCR, TTBRs are set
    ldr x0, =SCTLR_EL1_INIT | SCTLR_M
    msr sctlr_el1, x0
    isb                             // identity map: the next fetch is the next instruction
    adr x8, results
    adr x1, pg_data
    ldr x2, =VAL_DATA
    str x2, [x1]
    ldr x3, [x1]
    ldr x4, =HIGH_OFFSET
    ldr x5, [x1, x4]
    ldr x4, =BLOCK_1G_VA - RAM_BASE
    ldr x6, [x1, x4]
    ldr x4, =BLOCK_2M_VA - RAM_BASE
    ldr x7, [x1, x4]
    stp x3, x5, [x8]
    stp x6, x7, [x8, #16]
    ldr x0, =whoami + HIGH_OFFSET
    blr x0
    str x0, [x8, #32]
    mrs x0, sctlr_el1
    str x0, [x8, #40]
    LEAVE

whoami:                             // x0 = where this runs, as PC-relative code sees it
    adr x0, whoami
    ret

prog_load:
    ldr x2, [x19]
    str x2, [x20]
    LEAVE

prog_load_w:                        // a word: 4-byte alignment matters
    ldr w2, [x19]
    str x2, [x20]
    LEAVE

prog_store:
    str x20, [x19]
    LEAVE

prog_call:
    RESUME_AT 1f                    // the handler comes back here, not to x19 + 4
    blr x19
1:  LEAVE

prog_load_pan:
    msr pan, #1
pan_ldr:
    ldr x2, [x19]                   // PAN: no EL1 data access to EL0-accessible pages
    msr pan, #0
    LEAVE

el2_load:                           // at EL2
    ldr x2, [x19]
    ret

// --- the fix-ups the abort handlers call (x0 = FAR, x1 = HPFAR_EL2; x0-x7 only) ---

fix_s1:                             // at EL1: map FAR's page, identity, as Normal RW
    ldr x2, =el1_l3
    ubfx x3, x0, #12, #9
    ldr x4, =RAM_BASE
    bfi x4, x3, #12, #9
    ldr x5, =EL1_PAGE
    orr x4, x4, x5
    str x4, [x2, x3, lsl #3]
    dsb ishst                       // the entry is written before the TLBI
    ubfx x0, x0, #12, #44           // VA[55:12]; ASID 0 (the entry is global)
    tlbi vae1, x0
    dsb ish
    isb
    ret

fix_af:                             // at EL1: set AF in FAR's page entry
    ldr x2, =el1_l3
    ubfx x3, x0, #12, #9
    ldr x4, [x2, x3, lsl #3]
    orr x4, x4, #AF
    str x4, [x2, x3, lsl #3]
    dsb ishst
    ubfx x0, x0, #12, #44
    tlbi vae1, x0
    dsb ish
    isb
    ret

fix_s2:                             // at EL2: map the faulting IPA in stage 2
    ubfx x2, x1, #4, #40            // HPFAR_EL2.FIPA = IPA[51:12]
    ldr x3, =s2_l3
    ubfx x4, x2, #0, #9
    lsl x5, x2, #12
    ldr x6, =S2_PAGE
    orr x5, x5, x6
    str x5, [x3, x4, lsl #3]
    dsb ishst
    tlbi ipas2e1, x2                // the IPA's stage 2 entries, VMID of VTTBR_EL2
    dsb ish
    tlbi vmalle1                    // and stage 1+2 entries built on the IPA
    dsb ish
    isb
    ret

// --- the translation tables and test pages, built at EL2 with its MMU off ---

build_tables:
    stp x29, x30, [sp, #-16]!
    ldr x0, =tables                 // all invalid
    ldr x1, =tables_end
1:  stp xzr, xzr, [x0], #16
    cmp x0, x1
    b.lo 1b

    // EL1&0: TTBR0 level 1 -> level 2 -> level 3 for the RAM the guest uses; a 1 GiB
    // and a 2 MiB block alias RAM_BASE; TTBR1's level 1 shares the level 2 table
    ldr x0, =el1_l1_lo
    ldr x1, =el1_l2 + DESC_TABLE
    str x1, [x0, #8 * 1]            // VA 0x4000_0000: level 1 entry 1
    ldr x1, =RAM_BASE + EL1_BLOCK
    str x1, [x0, #8 * 2]            // VA 0x8000_0000: entry 2, a 1 GiB block
    ldr x0, =el1_l1_hi
    ldr x1, =el1_l2 + DESC_TABLE
    str x1, [x0]                    // VA HIGH_BASE: entry 0
    ldr x0, =el1_l2
    ldr x1, =el1_l3 + DESC_TABLE
    str x1, [x0]                    // entry 0: the first 2 MiB, page by page
    ldr x1, =RAM_BASE + EL1_BLOCK
    str x1, [x0, #8 * 1]            // entry 1: a 2 MiB block
    ldr x1, =pg_s2_walk + DESC_TABLE
    str x1, [x0, #8 * 3]            // entry 3: a table in an IPA stage 2 leaves out
    ldr x0, =el1_l3
    ldr x3, =EL1_PAGE
    bl map_image
    MAP el1_l3, pg_ld, INVALID
    MAP el1_l3, pg_st, INVALID
    MAP el1_l3, pg_ro, DESC_PAGE | S1_NORMAL | AP_PRIV_RO
    MAP el1_l3, pg_af, DESC_PAGE | ATTR_NORMAL | SH_INNER | AP_PRIV_RW
    MAP el1_l3, pg_dev, DESC_PAGE | ATTR_DEVICE | AF | AP_PRIV_RW | PXN | UXN
    MAP el1_l3, xn_page, EL1_PAGE | PXN | UXN
    MAP el1_l3, pg_user_ro, DESC_PAGE | S1_NORMAL | AP_ALL_RO
    MAP el1_l3, pg_el0_data, DESC_PAGE | S1_NORMAL | AP_ALL_RW

    // EL2 (E2H = 0)
    ldr x0, =el2_l1
    ldr x1, =el2_l2 + DESC_TABLE
    str x1, [x0, #8 * 1]
    ldr x0, =el2_l2
    ldr x1, =el2_l3 + DESC_TABLE
    str x1, [x0]
    ldr x0, =el2_l3
    ldr x3, =EL2_PAGE
    bl map_image
    MAP el2_l3, pg_el2, INVALID

    // stage 2: IPA = PA, read-write, but for four pages
    ldr x0, =s2_l1
    ldr x1, =s2_l2 + DESC_TABLE
    str x1, [x0, #8 * 1]
    ldr x0, =s2_l2
    ldr x1, =s2_l3 + DESC_TABLE
    str x1, [x0]
    ldr x0, =s2_l3
    ldr x3, =S2_PAGE
    bl map_image
    MAP s2_l3, pg_s2, INVALID
    MAP s2_l3, pg_s2_hi, INVALID
    MAP s2_l3, pg_s2_walk, INVALID
    MAP s2_l3, pg_s2_ro, DESC_PAGE | S2_NORMAL | SH_INNER | AF | S2AP_RO
    MAP s2_l3, xn_page, S2_PAGE | S2_XN
    dsb ish
    ldp x29, x30, [sp], #16
    ret

// map_image: level 3 table x0 maps every page from RAM_BASE to the top of CPU 0's
// stack (the caller's SP rounded up) to itself with attributes x3
map_image:
    ldr x1, =RAM_BASE
    mov x2, sp
    add x2, x2, #0xfff
1:  ubfx x4, x1, #12, #9
    orr x5, x1, x3
    str x5, [x0, x4, lsl #3]
    add x1, x1, #0x1000
    cmp x1, x2
    b.lo 1b
    ret

// set_pte: level 3 table x0, entry of the page holding x1 := that page | x2 (0: invalid)
set_pte:
    ubfx x3, x1, #12, #9
    bic x1, x1, #0xfff
    orr x1, x1, x2
    cmp x2, #0
    csel x1, xzr, x1, eq
    str x1, [x0, x3, lsl #3]
    ret

fill_pages:                         // what the checks read back
    stp x29, x30, [sp, #-16]!
    POKE pg_ld, 8, VAL_LD
    POKE pg_ro, 0, VAL_RO
    POKE pg_af, 0x18, VAL_AF
    POKE pg_dev, 0, VAL_DATA
    POKE pg_user_ro, 0, VAL_USER
    POKE pg_s2, 0x18, VAL_S2
    POKE pg_s2_ro, 0x20, VAL_S2RO
    ldp x29, x30, [sp], #16
    ret

// --- the abort handlers ---

    // the synchronous handler of EL\el (x0, x1 on the stack, x1 = vector offset): LEAVE
    // goes back to EL2's caller of `lower`; anything else is logged, then either fixed
    // up and retried (`fixup`, once), resumed at `resume` (once), or skipped
    .macro ABORT_HANDLER el
abort_el\el:
    stp x2, x3, [sp, #16]
    stp x4, x5, [sp, #-48]!
    stp x6, x7, [sp, #16]
    str x30, [sp, #32]
    mrs x2, esr_el\el
    lsr x3, x2, #ESR_EC_SHIFT
    cmp x3, #EC_SVC
    ccmp x3, #EC_HVC, #4, ne
    b.ne 1f
    and x3, x2, #0xffff
    mov x4, #LEAVE_IMM
    cmp x3, x4
    b.eq leave_el\el
1:  adr x4, abort_count             // log {EL, vector offset, ESR, ELR, FAR, HPFAR}
    ldr x5, [x4]
    cmp x5, #LOG_ENTRIES
    b.hs 2f
    adr x6, aborts
    add x6, x6, x5, lsl #6
    mov x7, #\el
    stp x7, x1, [x6]
    mrs x7, elr_el\el
    stp x2, x7, [x6, #16]
    mrs x7, far_el\el
    .if \el == 2
    mrs x3, hpfar_el2
    .else
    mov x3, #0
    .endif
    stp x7, x3, [x6, #32]
2:  add x5, x5, #1
    str x5, [x4]
    adr x4, fixup
    ldr x5, [x4]
    cbz x5, 3f
    str xzr, [x4]
    mrs x0, far_el\el
    mov x1, x3
    blr x5
    mrs x1, elr_el\el               // the same instruction again
    b 5f
3:  adr x4, resume
    ldr x1, [x4]
    cbz x1, 4f
    str xzr, [x4]
    b 5f
4:  mrs x1, elr_el\el               // past the faulting instruction
    add x1, x1, #4
5:  msr elr_el\el, x1
    ldr x30, [sp, #32]
    ldp x6, x7, [sp, #16]
    ldp x4, x5, [sp], #48
    ldp x2, x3, [sp, #16]
    ldp x0, x1, [sp], #32
    eret
    .endm

    VECTORS mmu_vectors_el2, abort_el2
    VECTORS mmu_vectors_el1, abort_el1
    ABORT_HANDLER 2
    ABORT_HANDLER 1

// report_abort: the line of abort x1 (see the top of this file) named x0; ELR relative
// to x2, FAR to x3 (0: as it is; x4 = FAR_HIGH: to x3's high-half alias), the IPA of
// HPFAR_EL2 to x5 (0: not printed)
report_abort:
    stp x29, x30, [sp, #-80]!
    stp x19, x20, [sp, #16]
    stp x21, x22, [sp, #32]
    stp x23, x24, [sp, #48]
    str x25, [sp, #64]
    mov x19, x1
    mov x20, x2
    mov x21, x3
    mov x22, x4
    mov x23, x5
    bl out_str
    adr x0, abort_count
    ldr x24, [x0]
    cmp x19, x24
    b.lo 1f
    SAY ": none (log has "
    mov x0, x24
    bl out_dec
    b 2f
1:  adr x25, aborts
    add x25, x25, x19, lsl #6
    SAY ": EL"
    ldr x0, [x25]
    bl out_dec
    SAY " vector "
    ldr x0, [x25, #8]
    bl out_hex
    SAY ", ESR "
    ldr x0, [x25, #16]
    bl out_hex
    SAY ", ELR +"
    ldr x0, [x25, #24]
    sub x0, x0, x20
    bl out_hex
    SAY ", FAR "
    cbz x21, 3f
    tbz x22, #0, 4f
    ldr x0, =HIGH_OFFSET
    add x21, x21, x0
    SAY "hi"
4:  SAY "+"
3:  ldr x0, [x25, #32]
    sub x0, x0, x21
    bl out_hex
    cbz x23, 5f
    SAY ", IPA +"
    ldr x0, [x25, #40]
    ubfx x0, x0, #4, #40
    lsl x0, x0, #12
    sub x0, x0, x23
    bl out_hex
5:  SAY " ("
    add x0, x19, #1
    bl out_dec
    SAY " of "
    mov x0, x24
    bl out_dec
2:  SAY ")"
    bl out_nl
    ldr x25, [sp, #64]
    ldp x23, x24, [sp, #48]
    ldp x21, x22, [sp, #32]
    ldp x19, x20, [sp, #16]
    ldp x29, x30, [sp], #80
    ret

    .ltorg

// the page EL1 may not execute (PXN): the last code of the image, alone in its page
// (what follows is data, never executed)
    .balign 4096
xn_page:
    ret

    .data
    .balign 64
aborts:         .skip 64 * LOG_ENTRIES
abort_count:    .quad 0
fixup:          .quad 0
results:        .quad 0, 0, 0, 0, 0, 0, 0, 0

    .bss
    .balign 4096
tables:
el1_l1_lo:  .skip 4096              // TTBR0_EL1 (and TTBR0_EL2 with E2H)
el1_l1_hi:  .skip 4096              // TTBR1_EL1 (and TTBR1_EL2 with E2H)
el1_l2:     .skip 4096              // the 1 GiB from RAM_BASE, for both ranges
el1_l3:     .skip 4096              // the first 2 MiB of RAM
el2_l1:     .skip 4096              // TTBR0_EL2 with E2H = 0
el2_l2:     .skip 4096
el2_l3:     .skip 4096
s2_l1:      .skip 4096              // VTTBR_EL2
s2_l2:      .skip 4096
s2_l3:      .skip 4096
tables_end:
// test pages: what each check does to them is in build_tables
pg_data:    .skip 4096              // Normal, EL1 only
pg_ld:      .skip 4096              // EL1: unmapped until the handler maps it
pg_st:      .skip 4096              // the same, for a store
pg_ro:      .skip 4096              // EL1 read-only
pg_af:      .skip 4096              // AF = 0
pg_dev:     .skip 4096              // Device-nGnRnE
pg_user_ro: .skip 4096              // AP = 0b11: EL0 and EL1 may read
pg_el0_data: .skip 4096             // AP = 0b01: EL0 may write
pg_el2:     .skip 4096              // EL2: unmapped
pg_s2:      .skip 4096              // stage 2: unmapped until EL2 maps it
pg_s2_ro:   .skip 4096              // stage 2: read-only
pg_s2_hi:   .skip 4096              // stage 2: unmapped
pg_s2_walk: .skip 4096              // stage 2: unmapped; EL1's table for VA_WALK
