"""The Python API of one core and the machinery around the executors: budgets, exits,
device-access replay, the decode cache and code that modifies itself."""

import struct

import numpy as np
import pytest
from gnu_as import assemble

from smpsim.jit import exits
from smpsim.jit.core import Core

BASE = 0x4000_0000
HLT = 0xD4400000  # hlt #0


def make_core(words, ram_size=64 * 1024, **kw):
    core = Core(np.zeros(ram_size, dtype=np.uint8), ram_base=BASE, **kw)
    core.load(BASE, b"".join(struct.pack("<I", w) for w in words))
    core.pc = BASE
    return core


def test_budget_retires_exactly_that_many_instructions():
    core = make_core([0x91000400, 0x17FFFFFF])  # add x0, x0, #1 ; b #-4
    ex = core.run(1001)
    assert ex.kind == exits.BUDGET
    assert core.icount == 1001
    assert core.x(0) == 501
    assert core.pc == BASE + 4


def test_run_zero_does_nothing():
    core = make_core([0x91000400])
    assert core.run(0).kind == exits.BUDGET
    assert core.icount == 0 and core.pc == BASE


def test_exit_reports_pc_and_encoding_and_does_not_retire():
    core = make_core([0xD503201F, 0xD4000023])  # nop ; smc #1 (a firmware call: an exit)
    ex = core.run(10)
    assert (ex.kind, ex.pc, ex.insn, ex.a) == (exits.SMC, BASE + 4, 0xD4000023, 1)
    assert core.pc == BASE + 4 and core.icount == 1
    core.complete()
    assert core.pc == BASE + 8 and core.icount == 2


def test_gic_register_exit_completed_with_a_value():
    core = make_core([0xD538CC01, HLT])  # mrs x1, icc_iar1_el1
    ex = core.run(10)
    assert ex.kind == exits.SYSREG
    assert (ex.a, ex.b, ex.c) == ((3 << 14) | (0 << 11) | (12 << 7) | (12 << 3) | 0, 1, 1)
    core.complete(0x1B)
    assert core.x(1) == 0x1B and core.run(10).kind == exits.HLT


def test_undefined_instruction_is_an_exception_in_the_guest():
    vectors = BASE + 0x800
    core = make_core([0x00000000])
    core.set_sysreg("VBAR_EL2", vectors)
    core.load(vectors + 0x200, struct.pack("<I", HLT))
    core.set_x(3, 77)
    ex = core.run(10)
    assert (ex.kind, ex.pc) == (exits.HLT, vectors + 0x200)  # the handler ran
    assert core.sysreg("ESR_EL2") == 1 << 25  # EC 0 (unknown reason), IL
    assert core.sysreg("ELR_EL2") == BASE
    assert core.x(3) == 77 and core.el == 2


def test_stop_on_exception_reports_it():
    core = make_core([0xD4000021], stop_on_exception=True)  # svc #1
    core.set_sysreg("VBAR_EL2", BASE + 0x800)
    ex = core.run(10)
    assert ex.kind == exits.EXCEPTION
    assert (ex.a, ex.b, ex.c) == (2, (0x15 << 26) | (1 << 25) | 1, BASE + 4)
    assert ex.pc == core.pc == BASE + 0x800 + 0x200 and core.icount == 1


def test_fetch_outside_ram_is_an_instruction_abort():
    vectors = BASE + 0x800
    core = make_core([0xD61F0000], stop_on_exception=True)  # br x0
    core.set_sysreg("VBAR_EL2", vectors)
    core.set_x(0, 0x1000)
    ex = core.run(10)
    assert core.icount == 1  # the branch; nothing was fetched at 0x1000
    assert ex.kind == exits.EXCEPTION and ex.b >> 26 == 0x21 and ex.c == ex.d == 0x1000


def test_unfetchable_vector_stops_the_core():
    # VBAR_EL2 = 0 is not RAM: the instruction abort cannot be taken either
    core = make_core([0xD61F0000])  # br x0
    core.set_x(0, 0x1000)
    ex = core.run(10)
    assert (ex.kind, ex.pc, core.pc) == (exits.FETCH_ABORT, 0x200, 0x200)
    assert core.sysreg("ELR_EL2") == 0x200 and core.sysreg("FAR_EL2") == 0x200


def test_branch_to_a_misaligned_address_retires_then_faults():
    core = make_core([0xD63F0000], stop_on_exception=True)  # blr x0
    core.set_sysreg("VBAR_EL2", BASE + 0x800)
    core.set_x(0, BASE + 0x102)
    ex = core.run(10)
    assert ex.kind == exits.EXCEPTION and ex.b >> 26 == 0x22
    assert (ex.c, ex.d, core.x(30), core.icount) == (BASE + 0x102, BASE + 0x102, BASE + 4, 1)


def test_device_load_pair_is_replayed_access_by_access():
    # ldp x2, x3, [x1], #16 ; hlt
    core = make_core([0xA8C10C22, HLT])
    core.set_x(1, 0x0900_0000)
    ex = core.run(10)
    assert (ex.kind, ex.a, ex.b) == (exits.MMIO_READ, 0x0900_0000, 8)
    core.answer_mmio(0x1111)
    ex = core.run(10)
    assert (ex.kind, ex.a, ex.b) == (exits.MMIO_READ, 0x0900_0008, 8)
    assert core.x(1) == 0x0900_0000  # nothing is written back before the instruction completes
    core.answer_mmio(0x2222)
    ex = core.run(10)
    assert ex.kind == exits.HLT
    assert (core.x(2), core.x(3), core.x(1)) == (0x1111, 0x2222, 0x0900_0010)
    assert core.icount == 1


def test_device_store_reports_the_value_and_completes_once_acknowledged():
    # strh w2, [x1, #2] ; ldrsb x4, [x1] ; hlt
    core = make_core([0x79000422, 0x39800024, HLT])
    core.set_x(1, 0x0900_0000)
    core.set_x(2, 0xABCD_1234)
    ex = core.run(10)
    assert (ex.kind, ex.a, ex.b, ex.c) == (exits.MMIO_WRITE, 0x0900_0002, 2, 0x1234)
    core.answer_mmio()
    ex = core.run(10)  # the store completes, the next device access is a new exit
    assert (ex.kind, ex.a, ex.b, ex.pc) == (exits.MMIO_READ, 0x0900_0000, 1, BASE + 4)
    core.answer_mmio(0x80)
    assert core.run(10).kind == exits.HLT
    assert core.x(4) == 0xFFFF_FFFF_FFFF_FF80


def test_store_over_decoded_code_takes_effect():
    # the first pass runs "add x0, x0, #1"; the loop then overwrites it with
    # "add x0, x0, #0x10" (from x2) and branches back to run it again
    #   0x00 add x0, x0, #1     0x0c add x1, x1, #1
    #   0x04 cbnz x1, #0x14     0x10 b #0x00
    #   0x08 str w2, [x3]       0x14 hlt #0
    words = [0x91000400, 0xB5000081, 0xB9000062, 0x91000421, 0x17FFFFFC, HLT]
    core = make_core(words)
    core.set_x(2, 0x91004000)  # add x0, x0, #0x10
    core.set_x(3, BASE)
    ex = core.run(100)
    assert ex.kind == exits.HLT and ex.pc == BASE + 0x14
    assert core.x(0) == 0x11  # 1 from the old instruction, 0x10 from the new one


def test_decode_cache_recycles_slots_when_code_spans_more_pages_than_it_has():
    # 8 pages, each holding "add x0, x0, #1 ; b next page"; the last one halts
    pages = 8
    core = Core(np.zeros(pages * 4096, dtype=np.uint8), ram_base=BASE, cache_slots=2)
    for p in range(pages):
        addr = BASE + p * 4096
        last = p == pages - 1
        core.load(addr, struct.pack("<II", 0x91000400, HLT if last else 0x14000000 | (4095 // 4)))
    for lap in range(3):
        core.pc = BASE
        assert core.run(1000).kind == exits.HLT
    assert core.x(0) == 3 * pages


def test_loading_ram_forgets_decoded_code():
    core = make_core([0x91000400, HLT])
    core.run(10)
    core.load(BASE, struct.pack("<I", 0x91000800))  # add x0, x0, #2
    core.pc = BASE
    core.run(10)
    assert core.x(0) == 3


def test_register_31_and_bad_arguments():
    core = make_core([HLT])
    assert core.x(31) == 0
    with pytest.raises(IndexError):
        core.set_x(31, 1)
    with pytest.raises(ValueError):
        Core(np.zeros(100, dtype=np.uint8))
    with pytest.raises(ValueError):
        core.load(BASE - 4, b"1234")


@pytest.mark.parametrize("slots", [1, 4])
def test_straight_line_code_runs_across_page_boundaries(slots):
    # add x0, x0, #1 on the last word of each of three pages, then a branch back across them
    core = Core(np.zeros(4 * 4096, dtype=np.uint8), ram_base=BASE, cache_slots=slots)
    for page in range(3):
        core.load(BASE + page * 4096 + 4092, struct.pack("<I", 0x91000400))
    core.load(BASE + 3 * 4096, struct.pack("<II", 0xF1000421, HLT))  # subs x1, x1, #1 ; hlt
    core.load(BASE + 3 * 4096 + 8, struct.pack("<I", 0x54000000))  # never reached
    # first word of pages 1 and 2: nops up to the page's last word
    for page in (1, 2):
        core.load(BASE + page * 4096, struct.pack("<I", 0xD503201F) * 1023)
    core.pc = BASE + 4092
    ex = core.run(10_000)
    assert ex.kind == exits.HLT and ex.pc == BASE + 3 * 4096 + 4
    assert core.x(0) == 3 and core.icount == 3 + 2 * 1023 + 1


# --- breakpoints --------------------------------------------------------------------------

def test_a_breakpoint_stops_before_its_instruction_once_and_costs_nothing_else():
    code = assemble("""
        mov x0, #0
    1:  add x0, x0, #1
        cmp x0, #5
        b.ne 1b
        hlt #0
    """)
    core = Core(np.zeros(1 << 16, dtype=np.uint8), ram_base=0x4000_0000)
    core.load(0x4000_0000, code)
    core.pc = 0x4000_0000
    assert core.run(3).kind == exits.BUDGET  # the loop's body is decoded already
    slot = core.add_breakpoint(0x4000_0008)  # cmp: the breakpoint must still be seen
    e = core.run(100)
    assert (e.kind, e.a, e.pc, core.x(0)) == (exits.BREAKPOINT, slot, 0x4000_0008, 2)
    assert core.run(100).kind == exits.HLT and core.x(0) == 5  # once: then it is gone
    core.pc = 0x4000_0000
    slot = core.add_breakpoint(0x4000_0004)
    core.remove_breakpoint(slot)
    assert core.run(100).kind == exits.HLT
    with pytest.raises(ValueError, match="aligned"):
        core.add_breakpoint(0x4000_0002)
    for _ in range(8):
        core.add_breakpoint(0x4000_0000)
    with pytest.raises(ValueError, match="no free breakpoint"):
        core.add_breakpoint(0x4000_0000)


# --- schedule points (issue 7's serial mode switches CPUs there) -----------------------------

@pytest.mark.parametrize("text, point, insns", [
    ("mov x1, #1\n stxr w2, x1, [x0]\n nop", 4, 2),       # an exclusive store (monitor fails)
    ("mov x1, #1\n swp x1, x3, [x0]\n nop", 4, 2),        # an atomic
    ("nop\n msr hcr_el2, x4\n nop", 4, 2),                # a watched register
    ("nop\n msr cntp_ctl_el0, x5\n nop", 4, 2),           # a timer control
])
def test_schedule_points_end_a_run_after_their_instruction(text, point, insns):
    core = Core(np.zeros(1 << 16, dtype=np.uint8), ram_base=0x4000_0000)
    core.load(0x4000_0000, assemble(".arch armv8.1-a\n" + text + "\n hlt #0"))
    core.set_el(2)
    core.pc = 0x4000_0000
    core.set_x(0, 0x4000_8000)
    core.set_x(4, 1 << 31)
    core.schedule_points = True
    e = core.run(100)
    assert (e.kind, e.a, e.pc) == (exits.SCHEDULE, 0x4000_0000 + point, 0x4000_0000 + point + 4)
    assert core.icount == insns
    assert core.run(100).kind == exits.HLT  # and the run goes on from there
    core.schedule_points = False
    core.pc = 0x4000_0000
    assert core.run(100).kind == exits.HLT  # off: no stop


def test_with_schedule_points_exceptions_and_returns_end_a_run():
    core = Core(np.zeros(1 << 16, dtype=np.uint8), ram_base=0x4000_0000)
    core.load(0x4000_0000, assemble("svc #1\n hlt #0"))
    core.load(0x4000_1000 + 0x400, assemble("eret"))  # EL1's vector: lower EL, sync
    core.set_sysreg("VBAR_EL1", 0x4000_1000)
    core.set_el(0)
    core.pc = 0x4000_0000
    core.schedule_points = True
    assert core.run(100).kind == exits.EXCEPTION  # the SVC, taken
    e = core.run(100)
    assert (e.kind, e.a, e.pc) == (exits.SCHEDULE, 0x4000_1400, 0x4000_0004)  # the ERET
    assert core.run(100).kind == exits.HLT
