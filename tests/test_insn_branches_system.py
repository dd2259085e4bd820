"""Arm ARM C4.1.87 Branches, Exception Generating and System instructions, as a table.

Each row: encoding and assembly, registers/flags before, expected state after (see
tests/insn_table.py). Exits follow smpsim/jit/exits.py: exception-generating
instructions and system register accesses exit without retiring, WFI/WFE/SEV/SEVL
retire and then exit, a branch to a misaligned address retires and then exits with
PC_ALIGNMENT.
"""

import pytest

from insn_table import (BRK, CODE, DEVICE, ERET, FETCH_ABORT, HLT, HVC, INT64_MAX, INT64_MIN,
                        M64, MSR_IMM, PC_ALIGNMENT, SEV, SEVL, SMC, SVC, SYSREG, UNDEFINED,
                        WFE, WFI, C, Ex, N, V, Z, asm_mismatches, params, row, run_row,
                        sysreg_key)

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
    row("br_misaligned", (0xD61F0020, "br x1"), {"x1": CODE + 0x102},
        {"exit": Ex(PC_ALIGNMENT, a=CODE + 0x102)}),
    row("blr_misaligned", (0xD63F0040, "blr x2"), {"x2": CODE + 0x41},
        {"x30": CODE + 4, "exit": Ex(PC_ALIGNMENT, a=CODE + 0x41)}),
    row("ret_misaligned", (0xD65F03C0, "ret"),
        {"x30": CODE + 0x22}, {"exit": Ex(PC_ALIGNMENT, a=CODE + 0x22)}),
    row("br_to_device_fetch_abort", (0xD61F0020, "br x1"), {"x1": DEVICE},
        {"exit": Ex(FETCH_ABORT, a=DEVICE)}, steps=2),

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

    # --- exception generating: exit, not retired, imm16 in a -------------------------------
    row("svc", (0xD4024681, "svc #0x1234"), {"nzcv": N}, {"exit": Ex(SVC, a=0x1234)}),
    row("svc_0", (0xD4000001, "svc #0"), {}, {"exit": Ex(SVC, a=0)}),
    row("svc_after_others", [(0xD2800020, "movz x0, #1"), (0xD4000841, "svc #0x42")], {},
        {"x0": 1, "exit": Ex(SVC, a=0x42)}),
    row("hvc", (0xD4000022, "hvc #0x1"), {}, {"exit": Ex(HVC, a=1)}),
    row("smc", (0xD41FFFE3, "smc #0xffff"), {}, {"exit": Ex(SMC, a=0xFFFF)}),
    row("brk", (0xD4207D00, "brk #0x3e8"), {}, {"exit": Ex(BRK, a=0x3E8)}),
    row("hlt", (0xD45E0000, "hlt #0xf000"), {}, {"exit": Ex(HLT, a=0xF000)}),
    row("eret", (0xD69F03E0, "eret"), {}, {"exit": Ex(ERET)}),

    # --- system register accesses: SYSREG exits ------------------------------------------------
    row("mrs_nzcv", (0xD53B4200, "mrs x0, nzcv"), {"nzcv": Z | C},
        {"exit": Ex(SYSREG, a=sysreg_key(3, 3, 4, 2, 0), b=0, c=1)}),
    row("mrs_nzcv_completed", (0xD53B4200, "mrs x0, nzcv"), {}, {"x0": 0x6000_0000},
        events=[Ex(SYSREG, a=sysreg_key(3, 3, 4, 2, 0), b=0, c=1, answer=0x6000_0000)]),
    row("mrs_midr_el1", (0xD5380005, "mrs x5, midr_el1"), {},
        {"exit": Ex(SYSREG, a=sysreg_key(3, 0, 0, 0, 0), b=5, c=1)}),
    row("mrs_currentel", (0xD5384241, "mrs x1, currentel"), {},
        {"exit": Ex(SYSREG, a=sysreg_key(3, 0, 4, 2, 2), b=1, c=1)}),
    row("mrs_cntvct_el0", (0xD53BE043, "mrs x3, cntvct_el0"), {},
        {"exit": Ex(SYSREG, a=sysreg_key(3, 3, 14, 0, 2), b=3, c=1)}),
    row("mrs_xzr_completed", (0xD53BD05F, "mrs xzr, tpidr_el0"), {}, {},
        events=[Ex(SYSREG, a=sysreg_key(3, 3, 13, 0, 2), b=31, c=1, answer=0x1234)]),
    row("msr_nzcv", (0xD51B4201, "msr nzcv, x1"), {"x1": N},
        {"exit": Ex(SYSREG, a=sysreg_key(3, 3, 4, 2, 0), b=1, c=0)}),
    row("msr_sctlr_el1", (0xD5181002, "msr sctlr_el1, x2"), {},
        {"exit": Ex(SYSREG, a=sysreg_key(3, 0, 1, 0, 0), b=2, c=0)}),
    row("msr_vbar_el2", (0xD51CC000, "msr vbar_el2, x0"), {},
        {"exit": Ex(SYSREG, a=sysreg_key(3, 4, 12, 0, 0), b=0, c=0)}),
    row("msr_tpidr_el1_xzr", (0xD518D09F, "msr tpidr_el1, xzr"), {},
        {"exit": Ex(SYSREG, a=sysreg_key(3, 0, 13, 0, 4), b=31, c=0)}),
    row("msr_completed_continues", [(0xD51BD041, "msr tpidr_el0, x1"), (0xD2800120, "movz x0, #9")],
        {}, {"x0": 9}, events=[Ex(SYSREG, a=sysreg_key(3, 3, 13, 0, 2), b=1, c=0, pc=CODE)]),
    row("sys_dc_zva", (0xD50B7421, "dc zva, x1"),
        {}, {"exit": Ex(SYSREG, a=sysreg_key(1, 3, 7, 4, 1), b=1, c=0)}),
    row("sys_ic_iallu", (0xD508751F, "ic iallu"),
        {}, {"exit": Ex(SYSREG, a=sysreg_key(1, 0, 7, 5, 0), b=31, c=0)}),
    row("sys_tlbi_vmalle1", (0xD508871F, "tlbi vmalle1"), {},
        {"exit": Ex(SYSREG, a=sysreg_key(1, 0, 8, 7, 0), b=31, c=0)}),
    row("sys_at_s1e1r", (0xD5087800, "at s1e1r, x0"),
        {}, {"exit": Ex(SYSREG, a=sysreg_key(1, 0, 7, 8, 0), b=0, c=0)}),
    row("sysl", (0xD5292387, "sysl x7, #1, c2, c3, #4"), {},
        {"exit": Ex(SYSREG, a=sysreg_key(1, 1, 2, 3, 4), b=7, c=1)}),
    row("msr_daifset", (0xD5034FDF, "msr daifset, #0xf"),
        {}, {"exit": Ex(MSR_IMM, a=3 << 3 | 6, b=0xF)}),
    row("msr_daifclr", (0xD50342FF, "msr daifclr, #2"),
        {}, {"exit": Ex(MSR_IMM, a=3 << 3 | 7, b=2)}),
    row("msr_spsel", (0xD50041BF, "msr spsel, #1"), {}, {"exit": Ex(MSR_IMM, a=0 << 3 | 5, b=1)}),
    row("msr_pan", (0xD500419F, "msr pan, #1"), {}, {"exit": Ex(MSR_IMM, a=0 << 3 | 4, b=1)}),

    # --- undefined encodings: exit, nothing changes ---------------------------------------
    row("udf_0", (0x00000000, "udf #0"), {"nzcv": N | C}, {"exit": Ex(UNDEFINED)}),
    row("udf_after_others", [(0xD2800020, "movz x0, #1"), (0x00000000, "udf #0")], {},
        {"x0": 1, "exit": Ex(UNDEFINED)}),
    row("undef_exception_gen_ll00", (0xD4000000, ".inst 0xd4000000"),
        {"nzcv": Z}, {"exit": Ex(UNDEFINED)}),
    row("undef_barrier_op2_0", (0xD503301F, ".inst 0xd503301f"), {}, {"exit": Ex(UNDEFINED)}),
    row("undef_sb_crm1", (0xD50331FF, ".inst 0xd50331ff"), {}, {"exit": Ex(UNDEFINED)}),
    row("undef_drps_not_in_debug", (0xD6BF03E0, "drps"), {}, {"exit": Ex(UNDEFINED)}),
    row("undef_bc_cond_without_hbc", (0x54000050, ".inst 0x54000050"), {}, {"exit": Ex(UNDEFINED)}),
]


@pytest.mark.parametrize("r", params(ROWS))
def test_row(r):
    run_row(r)


def test_assembly_text_matches_capstone():
    assert asm_mismatches(ROWS) == []
