"""Arm ARM C4.1.87 Branches, Exception Generating and System instructions, as a table.

Each row: encoding and assembly, registers/flags before, expected state after (see
tests/insn_table.py). Rows run with stop_on_exception: an exception the core takes
ends the row at its vector (VBAR_EL1 = VBAR_EL2 = VECTORS) with its ESR, ELR and FAR
checked. The core starts at EL2h unless a row says otherwise. WFI/WFE/SEV/SEVL retire
and then exit; an untrapped SMC and HLT exit without retiring.
"""

import pytest

from insn_table import (CODE, DATA, DEVICE, HLT, INT64_MAX, INT64_MIN, M64, SEV, SEVL, SMC,
                        UNDEF, VECTORS, WFE, WFI, C, Ex, Exc, N, V, Z, asm_mismatches, params,
                        row, run_row)

from smpsim.jit.exceptions import (EC_BRK, EC_HVC, EC_IABORT_SAME, EC_ILLEGAL_STATE,
                                   EC_PC_ALIGNMENT, EC_SMC, EC_SVC, EC_SYSREG)
from smpsim.jit.features import DEFAULT_MIDR
from smpsim.jit.sysreg_table import HCR

LOWER = VECTORS + 0x400  # the synchronous vector for an exception from a lower EL
SAME_SP0 = VECTORS  # ... from the same EL using SP_EL0
HCR_RW = 1 << HCR["RW"]

# B.cond: every condition, taken and not taken. Each line is a condition, the encoding of
# `b.<cond> .+8`, the NZCV values for which it branches and those for which it falls
# through; each value becomes one row (id e.g. b_hi_not_taken_nzcv_0110).
B_COND = [
    ("eq", 0x54000040, [Z], [N | C | V]),
    ("ne", 0x54000041, [N | C | V], [Z]),
    ("hs", 0x54000042, [C], [N | Z | V]),
    ("lo", 0x54000043, [N | Z | V], [C]),
    ("mi", 0x54000044, [N], [Z | C | V]),
    ("pl", 0x54000045, [Z | C | V], [N]),
    ("vs", 0x54000046, [V], [N | Z | C]),
    ("vc", 0x54000047, [N | Z | C], [V]),
    ("hi", 0x54000048, [C], [Z | C, 0]),  # C set and Z clear
    ("ls", 0x54000049, [Z | C, 0], [C]),
    ("ge", 0x5400004A, [0, N | V], [N, V]),  # N == V
    ("lt", 0x5400004B, [N, V], [N | V]),
    ("gt", 0x5400004C, [0, N | V], [Z, N]),  # Z clear and N == V
    ("le", 0x5400004D, [Z, N], [0, N | V]),
    ("al", 0x5400004E, [0, N | Z | C | V], []),
    ("nv", 0x5400004F, [0, N | Z | C | V], []),  # executes as AL
]


def b_cond_rows():
    for cond, enc, taken, not_taken in B_COND:
        for nzcv, branches in [(f, True) for f in taken] + [(f, False) for f in not_taken]:
            yield row(f"b_{cond}_{'taken' if branches else 'not_taken'}_nzcv_{nzcv >> 28:04b}",
                      (enc, f"b.{cond} .+8"), {"nzcv": nzcv},
                      {"pc": CODE + 8 if branches else CODE + 4})


ROWS = [
    # --- B, BL ---------------------------------------------------------------------------
    row("b_forward", (0x14000002, "b .+8"), {}, {"pc": CODE + 8}),
    row("b_backward", (0x17FFFFC0, "b .-0x100"), {}, {"pc": CODE - 0x100}),
    row("b_max", (0x15FFFFFF, "b .+0x7fffffc"), {}, {"pc": CODE + 0x7FF_FFFC}),
    row("b_min", (0x16000000, "b .-0x8000000"), {}, {"pc": CODE - 0x800_0000}),
    row("b_skips_an_instruction", [(0x14000002, "b .+8"),
                                   (0xD2800020, "movz x0, #1"),
                                   (0xD2800041, "movz x1, #2")],
        {}, {"x1": 2, "pc": CODE + 12}, steps=2),
    row("bl", (0x94000040, "bl .+0x100"), {}, {"pc": CODE + 0x100, "x30": CODE + 4}),
    row("bl_backward", (0x97FFFFFE, "bl .-8"), {"code_at": CODE + 0x20},
        {"pc": CODE + 0x18, "x30": CODE + 0x24}),
    row("loop_subs_bne", [(0xD28000A0, "movz x0, #5"),
                          (0xF1000400, "subs x0, x0, #1"),
                          (0x54FFFFE1, "b.ne .-4")],
        {}, {"x0": 0, "nzcv": Z | C, "pc": CODE + 12}, steps=11),


    *b_cond_rows(),

    # --- CBZ / CBNZ / TBZ / TBNZ --------------------------------------------------------------
    row("cbz_x_taken", (0xB4000080, "cbz x0, .+16"), {"x0": 0}, {"pc": CODE + 16}),
    row("cbz_x_not_taken", (0xB4000080, "cbz x0, .+16"), {"x0": 0x1_0000_0000}, {"pc": CODE + 4}),
    row("cbz_w_taken_ignores_top", (0x34000080, "cbz w0, .+16"), {"x0": 0xFFFF_FFFF_0000_0000},
        {"pc": CODE + 16}),
    row("cbz_w_not_taken", (0x34000080, "cbz w0, .+16"), {"x0": 0x8000_0000}, {"pc": CODE + 4}),
    row("cbz_xzr_always", (0xB400005F, "cbz xzr, .+8"), {}, {"pc": CODE + 8}),
    row("cbnz_x_taken", (0xB5000080, "cbnz x0, .+16"), {"x0": 0x1_0000_0000}, {"pc": CODE + 16}),
    row("cbnz_x_not_taken", (0xB5000080, "cbnz x0, .+16"), {"x0": 0}, {"pc": CODE + 4}),
    row("cbnz_w_taken_backward", (0x35FFFFC0, "cbnz w0, .-8"), {"x0": 1}, {"pc": CODE - 8}),
    row("cbnz_w_not_taken_ignores_top", (0x35FFFFC0, "cbnz w0, .-8"), {"x0": 0xFFFF_FFFF_0000_0000},
        {"pc": CODE + 4}),
    row("cbz_max", (0xB47FFFE0, "cbz x0, .+0xffffc"), {"x0": 0}, {"pc": CODE + 0xF_FFFC}),
    row("cbnz_min", (0xB5800000, "cbnz x0, .-0x100000"), {"x0": 1}, {"pc": CODE - 0x10_0000}),
    row("tbz_bit0_taken", (0x36000060, "tbz w0, #0, .+12"), {"x0": 2}, {"pc": CODE + 12}),
    row("tbz_bit0_not_taken", (0x36000060, "tbz w0, #0, .+12"), {"x0": 1}, {"pc": CODE + 4}),
    row("tbnz_bit0_taken", (0x37000060, "tbnz w0, #0, .+12"), {"x0": 1}, {"pc": CODE + 12}),
    row("tbnz_bit0_not_taken", (0x37000060, "tbnz w0, #0, .+12"),
        {"x0": M64 - 1}, {"pc": CODE + 4}),
    row("tbz_bit31_taken", (0x36F80060, "tbz w0, #31, .+12"),
        {"x0": 0xFFFF_FFFF_7FFF_FFFF}, {"pc": CODE + 12}),
    row("tbz_bit31_not_taken", (0x36F80060, "tbz w0, #31, .+12"),
        {"x0": 0x8000_0000}, {"pc": CODE + 4}),
    row("tbnz_bit31_taken", (0x37F80060, "tbnz w0, #31, .+12"),
        {"x0": 0x8000_0000}, {"pc": CODE + 12}),
    row("tbnz_bit31_not_taken", (0x37F80060, "tbnz w0, #31, .+12"),
        {"x0": 0x7FFF_FFFF}, {"pc": CODE + 4}),
    row("tbz_bit32_taken", (0xB6000060, "tbz x0, #32, .+12"),
        {"x0": 0xFFFF_FFFE_FFFF_FFFF}, {"pc": CODE + 12}),
    row("tbz_bit63_taken", (0xB6F80060, "tbz x0, #63, .+12"), {"x0": INT64_MAX}, {"pc": CODE + 12}),
    row("tbz_bit63_not_taken", (0xB6F80060, "tbz x0, #63, .+12"),
        {"x0": INT64_MIN}, {"pc": CODE + 4}),
    row("tbnz_bit63_taken", (0xB7F80060, "tbnz x0, #63, .+12"),
        {"x0": INT64_MIN}, {"pc": CODE + 12}),
    row("tbnz_bit63_not_taken", (0xB7F80060, "tbnz x0, #63, .+12"),
        {"x0": INT64_MAX}, {"pc": CODE + 4}),
    row("tbz_min", (0x362C0000, "tbz w0, #5, .-0x8000"), {"x0": 0}, {"pc": CODE - 0x8000}),
    row("tbnz_max", (0x372BFFE0, "tbnz w0, #5, .+0x7ffc"), {"x0": 0x20}, {"pc": CODE + 0x7FFC}),

    # --- BR / BLR / RET -----------------------------------------------------------------------
    row("br", (0xD61F0020, "br x1"), {"x1": CODE + 0x40}, {"pc": CODE + 0x40}),
    row("blr", (0xD63F0020, "blr x1"), {"x1": CODE + 0x40}, {"pc": CODE + 0x40, "x30": CODE + 4}),
    row("blr_x30", (0xD63F03C0, "blr x30"),
        {"x30": CODE + 0x80}, {"pc": CODE + 0x80, "x30": CODE + 4}),
    row("ret", (0xD65F03C0, "ret"), {"x30": CODE + 0x200}, {"pc": CODE + 0x200}),
    row("ret_x1", (0xD65F0020, "ret x1"), {"x1": CODE + 0x300}, {"pc": CODE + 0x300}),
    # a misaligned target retires the branch; fetching from it is a PC alignment fault
    row("br_misaligned", (0xD61F0020, "br x1"), {"x1": CODE + 0x102},
        {"exit": Exc(EC_PC_ALIGNMENT, elr=CODE + 0x102, far=CODE + 0x102)}),
    row("blr_misaligned", (0xD63F0040, "blr x2"), {"x2": CODE + 0x41},
        {"x30": CODE + 4, "exit": Exc(EC_PC_ALIGNMENT, elr=CODE + 0x41, far=CODE + 0x41)}),
    row("ret_misaligned", (0xD65F03C0, "ret"),
        {"x30": CODE + 0x22}, {"exit": Exc(EC_PC_ALIGNMENT, elr=CODE + 0x22, far=CODE + 0x22)}),
    # fetching outside RAM: an instruction abort (synchronous external abort, IFSC 0x10)
    row("br_to_device_instruction_abort", (0xD61F0020, "br x1"), {"x1": DEVICE},
        {"exit": Exc(EC_IABORT_SAME, iss=0x10, elr=DEVICE, far=DEVICE)}, steps=2),

    # --- hints and barriers that just execute ----------------------------------------------
    row("nop", (0xD503201F, "nop"), {"nzcv": Z}, {}),
    row("yield", (0xD503203F, "yield"), {}, {}),
    row("unallocated_hint_is_nop", (0xD5032FFF, "hint #0x7f"), {}, {}),
    row("csdb_is_nop", (0xD503229F, "csdb"), {}, {}),
    row("dmb_ish", (0xD5033BBF, "dmb ish"), {}, {}),
    row("dmb_sy", (0xD5033FBF, "dmb sy"), {}, {}),
    row("dsb_sy", (0xD5033F9F, "dsb sy"), {}, {}),
    row("dsb_ishst", (0xD5033A9F, "dsb ishst"), {}, {}),
    row("isb", (0xD5033FDF, "isb"), {}, {}),
    row("ssbb", (0xD503309F, "ssbb"), {}, {}),
    row("sb", (0xD50330FF, "sb"), {}, {}),
    row("clrex", (0xD5033F5F, "clrex"), {}, {}),
    row("hints_in_a_row", [(0xD503201F, "nop"),
                           (0xD5033BBF, "dmb ish"),
                           (0xD5033FDF, "isb"),
                           (0xD28000E0, "movz x0, #7")],
        {}, {"x0": 7}),

    # --- WFI / WFE / SEV / SEVL: retire, then exit ---------------------------------------
    row("wfi", (0xD503207F, "wfi"), {}, {"exit": Ex(WFI)}),
    row("wfe", (0xD503205F, "wfe"), {}, {"exit": Ex(WFE)}),
    row("sev", (0xD503209F, "sev"), {}, {"exit": Ex(SEV)}),
    row("sevl", (0xD50320BF, "sevl"), {}, {"exit": Ex(SEVL)}),
    row("wfi_after_others", [(0xD2800020, "movz x0, #1"), (0xD503207F, "wfi")],
        {}, {"x0": 1, "exit": Ex(WFI)}),
    # SEVL sets the event register, so the next WFE clears it and does not wait
    row("sevl_then_wfe_does_not_wait", [(0xD50320BF, "sevl"),
                                        (0xD503205F, "wfe"),
                                        (0xD503201F, "nop")],
        {}, {}, events=[Ex(SEVL, pc=CODE)]),
    row("sevl_wfe_wfe_waits", [(0xD50320BF, "sevl"), (0xD503205F, "wfe"), (0xD503205F, "wfe")],
        {}, {"exit": Ex(WFE)}, events=[Ex(SEVL, pc=CODE)]),

    # --- exception generating -----------------------------------------------------------
    # SVC/HVC return to the next instruction, BRK to itself; SPSR_EL2 keeps NZCV and PSTATE
    row("svc", (0xD4024681, "svc #0x1234"), {"nzcv": N},
        {"exit": Exc(EC_SVC, iss=0x1234, elr=CODE + 4), "sysregs": {"SPSR_EL2": N | 0x3C9}}),
    row("svc_0", (0xD4000001, "svc #0"), {}, {"exit": Exc(EC_SVC, iss=0, elr=CODE + 4)}),
    row("svc_after_others", [(0xD2800020, "movz x0, #1"), (0xD4000841, "svc #0x42")], {},
        {"x0": 1, "exit": Exc(EC_SVC, iss=0x42, elr=CODE + 8)}),
    row("svc_from_el1_stays_at_el1", (0xD4000841, "svc #0x42"), {"el": 1, "daif": 0},
        {"exit": Exc(EC_SVC, iss=0x42, elr=CODE + 4, el=1), "sysregs": {"SPSR_EL1": 0x5}}),
    row("svc_from_el0_to_el1", (0xD4000841, "svc #0x42"), {"el": 0, "daif": 0},
        {"sp": 0, "exit": Exc(EC_SVC, iss=0x42, elr=CODE + 4, el=1, vector=LOWER),
         "sysregs": {"SPSR_EL1": 0x0}}),
    row("svc_from_el0_with_tge_to_el2", (0xD4000841, "svc #0x42"),
        {"el": 0, "daif": 0, "sysregs": {"HCR_EL2": HCR_RW | 1 << HCR["TGE"]}},
        {"sp": 0, "exit": Exc(EC_SVC, iss=0x42, elr=CODE + 4, el=2, vector=LOWER)}),
    row("svc_at_el2_on_sp_el0", (0xD4000001, "svc #0"), {"spsel": 0, "el": 2},
        {"exit": Exc(EC_SVC, iss=0, elr=CODE + 4, vector=SAME_SP0 + 0x0), "sp": 0}),
    row("hvc", (0xD4000022, "hvc #0x1"), {}, {"exit": Exc(EC_HVC, iss=1, elr=CODE + 4)}),
    row("hvc_from_el1_to_el2", (0xD4000022, "hvc #0x1"), {"el": 1},
        {"sp": 0, "exit": Exc(EC_HVC, iss=1, elr=CODE + 4, vector=LOWER),
         "sysregs": {"SPSR_EL2": 0x3C5}}),
    row("hvc_at_el0_is_undefined", (0xD4000022, "hvc #0x1"), {"el": 0},
        {"sp": 0, "exit": UNDEF(el=1, vector=LOWER)}),
    row("hvc_with_hcd_is_undefined", (0xD4000022, "hvc #0x1"),
        {"el": 1, "sysregs": {"HCR_EL2": HCR_RW | 1 << HCR["HCD"]}}, {"exit": UNDEF(el=1)}),
    row("smc", (0xD41FFFE3, "smc #0xffff"), {}, {"exit": Ex(SMC, a=0xFFFF)}),
    row("smc_el1", (0xD41FFFE3, "smc #0xffff"), {"el": 1}, {"exit": Ex(SMC, a=0xFFFF)}),
    row("smc_trapped_by_tsc_returns_to_itself", (0xD41FFFE3, "smc #0xffff"),
        {"el": 1, "sysregs": {"HCR_EL2": HCR_RW | 1 << HCR["TSC"]}},
        {"sp": 0, "exit": Exc(EC_SMC, iss=0xFFFF, elr=CODE, vector=LOWER)}),
    row("smc_at_el0_is_undefined", (0xD41FFFE3, "smc #0xffff"), {"el": 0},
        {"sp": 0, "exit": UNDEF(el=1, vector=LOWER)}),
    row("brk", (0xD4207D00, "brk #0x3e8"), {}, {"exit": Exc(EC_BRK, iss=0x3E8, elr=CODE)}),
    row("brk_el1_with_mdcr_tde_to_el2", (0xD4207D00, "brk #0x3e8"),
        {"el": 1, "sysregs": {"MDCR_EL2": 1 << 8}},
        {"sp": 0, "exit": Exc(EC_BRK, iss=0x3E8, elr=CODE, vector=LOWER)}),
    row("hlt", (0xD45E0000, "hlt #0xf000"), {}, {"exit": Ex(HLT, a=0xF000)}),

    # --- ERET ----------------------------------------------------------------------------------
    row("eret_to_el1h", (0xD69F03E0, "eret"),
        {"sysregs": {"SPSR_EL2": 0x600003C5, "ELR_EL2": CODE + 0x100}},
        {"pc": CODE + 0x100, "el": 1, "sp": 0, "nzcv": Z | C}),
    row("eret_to_el0_unmasks", (0xD69F03E0, "eret"),
        {"sysregs": {"SPSR_EL2": 0x0, "ELR_EL2": CODE + 0x40}},
        {"pc": CODE + 0x40, "el": 0, "sp": 0, "daif": 0}),
    row("eret_to_el2_sp_el0", (0xD69F03E0, "eret"),
        {"sysregs": {"SPSR_EL2": 0x8, "ELR_EL2": CODE + 0x40}},
        {"pc": CODE + 0x40, "el": 2, "sp": 0, "daif": 0}),
    row("eret_illegal_to_el3", (0xD69F03E0, "eret"),
        {"nzcv": N, "sysregs": {"SPSR_EL2": 0x3CD, "ELR_EL2": CODE + 0x40}},
        {"nzcv": 0, "exit": Exc(EC_ILLEGAL_STATE, elr=CODE + 0x40),
         "sysregs": {"SPSR_EL2": 0x3C9 | 1 << 20}}),
    row("eret_illegal_el0_with_sp_elx", (0xD69F03E0, "eret"),
        {"sysregs": {"SPSR_EL2": 0x1, "ELR_EL2": CODE + 0x40}},
        {"exit": Exc(EC_ILLEGAL_STATE, elr=CODE + 0x40)}),
    row("eret_illegal_to_el1_with_tge", (0xD69F03E0, "eret"),
        {"sysregs": {"SPSR_EL2": 0x3C5, "ELR_EL2": CODE + 0x40,
                     "HCR_EL2": HCR_RW | 1 << HCR["TGE"]}},
        {"exit": Exc(EC_ILLEGAL_STATE, elr=CODE + 0x40)}),
    row("eret_illegal_aarch32", (0xD69F03E0, "eret"),
        {"sysregs": {"SPSR_EL2": 0x3D3, "ELR_EL2": CODE + 0x40}},
        {"exit": Exc(EC_ILLEGAL_STATE, elr=CODE + 0x40)}),
    row("eret_from_el1_to_el2_is_illegal", (0xD69F03E0, "eret"),
        {"el": 1, "sysregs": {"SPSR_EL1": 0x3C9, "ELR_EL1": CODE + 0x40}},
        {"exit": Exc(EC_ILLEGAL_STATE, elr=CODE + 0x40, el=1)}),
    row("eret_misaligned_elr_faults_at_the_new_el", (0xD69F03E0, "eret"),
        {"sysregs": {"SPSR_EL2": 0x3C5, "ELR_EL2": CODE + 0x102}},
        {"sp": 0, "exit": Exc(EC_PC_ALIGNMENT, elr=CODE + 0x102, far=CODE + 0x102, el=1)}),
    row("eret_at_el0_is_undefined", (0xD69F03E0, "eret"), {"el": 0},
        {"sp": 0, "exit": UNDEF(el=1, vector=LOWER)}),

    # --- system registers ---------------------------------------------------------------------
    row("mrs_nzcv", (0xD53B4200, "mrs x0, nzcv"), {"nzcv": Z | C}, {"x0": 0x6000_0000}),
    row("mrs_midr_el1", (0xD5380005, "mrs x5, midr_el1"), {}, {"x5": DEFAULT_MIDR}),
    row("mrs_currentel", (0xD5384241, "mrs x1, currentel"), {}, {"x1": 8}),
    row("mrs_currentel_el1", (0xD5384241, "mrs x1, currentel"), {"el": 1}, {"x1": 4}),
    row("mrs_xzr_reads_and_discards", (0xD53BD05F, "mrs xzr, tpidr_el0"),
        {"sysregs": {"TPIDR_EL0": 0x1234}}, {}),
    row("msr_nzcv", (0xD51B4201, "msr nzcv, x1"), {"x1": N | 0xFFF}, {"nzcv": N}),
    row("msr_sctlr_el1", (0xD5181002, "msr sctlr_el1, x2"), {"x2": 0x30D0_0801},
        {"sysregs": {"SCTLR_EL1": 0x30D0_0801}}),
    row("msr_vbar_el2_low_bits_res0", (0xD51CC000, "msr vbar_el2, x0"), {"x0": 0x4000_1234},
        {"sysregs": {"VBAR_EL2": 0x4000_1000}}),
    row("msr_tpidr_el1_xzr", (0xD518D09F, "msr tpidr_el1, xzr"),
        {"sysregs": {"TPIDR_EL1": 0x55}}, {"sysregs": {"TPIDR_EL1": 0}}),
    row("msr_then_continues", [(0xD51BD041, "msr tpidr_el0, x1"), (0xD2800120, "movz x0, #9")],
        {"x1": 0xABC}, {"x0": 9, "sysregs": {"TPIDR_EL0": 0xABC}}),
    row("mrs_el2_register_at_el1_is_undefined", (0xD53C1100, "mrs x0, hcr_el2"), {"el": 1},
        {"exit": UNDEF(el=1)}),
    row("msr_read_only_midr_is_undefined", (0xD5180000, ".inst 0xd5180000"), {},
        {"exit": UNDEF()}),
    row("msr_sctlr_el1_trapped_by_tvm", (0xD5181002, "msr sctlr_el1, x2"),
        {"el": 1, "sysregs": {"HCR_EL2": HCR_RW | 1 << HCR["TVM"]}},
        {"sp": 0, "exit": Exc(EC_SYSREG, iss=(3 << 20) | (1 << 10) | (2 << 5), vector=LOWER)}),
    row("mrs_sctlr_el1_trapped_by_trvm", (0xD5381002, "mrs x2, sctlr_el1"),
        {"el": 1, "sysregs": {"HCR_EL2": HCR_RW | 1 << HCR["TRVM"]}},
        {"sp": 0, "exit": Exc(EC_SYSREG, iss=(3 << 20) | (1 << 10) | (2 << 5) | 1, vector=LOWER)}),
    row("mrs_id_register_trapped_by_tid3", (0xD5380402, "mrs x2, id_aa64pfr0_el1"),
        {"el": 1, "sysregs": {"HCR_EL2": HCR_RW | 1 << HCR["TID3"]}},
        {"sp": 0, "exit": Exc(EC_SYSREG, iss=(3 << 20) | (4 << 1) | (2 << 5) | 1, vector=LOWER)}),
    row("msr_sctlr_el1_with_e2h_reaches_sctlr_el2", (0xD5181002, "msr sctlr_el1, x2"),
        {"x2": 0x30C5_0838, "sysregs": {"HCR_EL2": HCR_RW | 1 << HCR["E2H"], "SCTLR_EL1": 0}},
        {"sysregs": {"SCTLR_EL2": 0x30C5_0838, "SCTLR_EL1": 0}}),
    row("mrs_sctlr_el12_with_e2h_reads_sctlr_el1", (0xD53D1002, "mrs x2, sctlr_el12"),
        {"sysregs": {"HCR_EL2": HCR_RW | 1 << HCR["E2H"], "SCTLR_EL1": 0x1234}}, {"x2": 0x1234}),
    row("mrs_sctlr_el12_without_e2h_is_undefined", (0xD53D1002, "mrs x2, sctlr_el12"), {},
        {"exit": UNDEF()}),
    row("mrs_unallocated_is_undefined", (0xD53BBB00, "mrs x0, s3_3_c11_c11_0"), {},
        {"exit": UNDEF()}),
    row("mrs_id_group3_unallocated_reads_zero", (0xD5380700 | (5 << 5) | 3,
                                                 "mrs x3, s3_0_c0_c7_5"), {"x3": 7}, {"x3": 0}),
    row("mrs_ctr_el0_at_el0_trapped_without_uct", (0xD53B0021, "mrs x1, ctr_el0"),
        {"el": 0}, {"sp": 0, "exit": Exc(EC_SYSREG, iss=(3 << 20) | (3 << 14) | (1 << 17)
                                         | (1 << 5) | 1, el=1, vector=LOWER)}),
    row("mrs_tpidr_el0_at_el0", (0xD53BD041, "mrs x1, tpidr_el0"),
        {"el": 0, "sysregs": {"TPIDR_EL0": 0x77}}, {"x1": 0x77}),
    row("mrs_sp_el0_at_el2", (0xD5384100, "mrs x0, sp_el0"), {"el": 2},
        {"x0": 0}),
    row("dc_zva_zeroes_64_bytes", (0xD50B7421, "dc zva, x1"),
        {"x1": DATA + 0x53, "mem": {DATA + 0x40 - 8: bytes([0xFF] * 80)}},
        {"mem": {DATA + 0x38: bytes([0xFF] * 8) + bytes(64) + bytes([0xFF] * 8)}}),
    row("ic_iallu", (0xD508751F, "ic iallu"), {}, {}),
    row("tlbi_vmalle1", (0xD508871F, "tlbi vmalle1"), {}, {}),
    row("tlbi_vmalle1_trapped_by_ttlb", (0xD508871F, "tlbi vmalle1"),
        {"el": 1, "sysregs": {"HCR_EL2": HCR_RW | 1 << HCR["TTLB"]}},
        {"sp": 0, "exit": Exc(EC_SYSREG, iss=(1 << 20) | (8 << 10) | (7 << 1) | (31 << 5),
                              vector=LOWER)}),
    row("sysl_unallocated", (0xD5292387, "sysl x7, #1, c2, c3, #4"), {}, {"exit": UNDEF()}),
    row("msr_daifset", (0xD5034FDF, "msr daifset, #0xf"), {"daif": 0}, {"daif": 0x3C0}),
    row("msr_daifclr", (0xD50342FF, "msr daifclr, #2"), {}, {"daif": 0x340}),
    row("msr_daifset_at_el0_trapped_without_uma", (0xD5034FDF, "msr daifset, #0xf"),
        {"el": 0}, {"sp": 0, "exit": Exc(EC_SYSREG, iss=(6 << 17) | (3 << 14) | (4 << 10)
                                         | (31 << 5) | (0xF << 1), el=1, vector=LOWER)}),
    row("msr_spsel_0_switches_stack", (0xD50040BF, "msr spsel, #0"), {}, {"sp": 0}),
    row("msr_pan_then_read", [(0xD500419F, "msr pan, #1"), (0xD5384260, "mrs x0, pan")],
        {}, {"x0": 1 << 22}),
    row("msr_spsel_at_el0_is_undefined", (0xD50041BF, "msr spsel, #1"), {"el": 0},
        {"sp": 0, "exit": UNDEF(el=1, vector=LOWER)}),

    # --- undefined encodings ------------------------------------------------------------------
    row("udf_0", (0x00000000, "udf #0"), {"nzcv": N | C}, {"exit": UNDEF()}),
    row("udf_after_others", [(0xD2800020, "movz x0, #1"), (0x00000000, "udf #0")], {},
        {"x0": 1, "exit": UNDEF()}),
    row("undef_exception_gen_ll00", (0xD4000000, ".inst 0xd4000000"),
        {"nzcv": Z}, {"exit": UNDEF()}),
    row("undef_barrier_op2_0", (0xD503301F, ".inst 0xd503301f"), {}, {"exit": UNDEF()}),
    row("undef_sb_crm1", (0xD50331FF, ".inst 0xd50331ff"), {}, {"exit": UNDEF()}),
    row("undef_drps_not_in_debug", (0xD6BF03E0, "drps"), {}, {"exit": UNDEF()}),
    row("undef_bc_cond_without_hbc", (0x54000050, ".inst 0x54000050"), {}, {"exit": UNDEF()}),
]


@pytest.mark.parametrize("r", params(ROWS))
def test_row(r):
    run_row(r)


def test_assembly_text_matches_capstone():
    assert asm_mismatches(ROWS) == []
