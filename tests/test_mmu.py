"""The MMU in the core (smpsim/jit/mmu.py): stage 1 of the EL1&0, EL2 and EL2&0 regimes
and stage 2, wired into loads, stores and instruction fetch, with the architected
faults (ESR, FAR, HPFAR_EL2), the software TLB with its ASID/VMID tags and the TLBI
operations. Page tables are built here in the core's RAM; every expected syndrome is
written from the Arm ARM's encodings (D8 "The AArch64 Virtual Memory System
Architecture", D17.2.40 "ISS encoding for an exception from a Data Abort")."""

import struct

import numpy as np
import pytest
from gnu_as import assemble

from smpsim.jit import exits
from smpsim.jit.core import Core

BASE = 0x4000_0000
RAM = 4 << 20
CODE = BASE  # the program
DATA = BASE + 0x10_0000  # data pages
TABLES = BASE + 0x20_0000  # translation tables
HIGH = 0xFFFF_FF80_0000_0000  # the bottom of TTBR1's range with T1SZ = 25

# descriptor bits (D8.3 "Translation table descriptor formats")
VALID, TABLE, PAGE = 0b01, 0b11, 0b11
AF = 1 << 10
NG = 1 << 11
SH_INNER = 3 << 8
AP_RW_EL1, AP_RW_ALL, AP_RO_EL1, AP_RO_ALL = 0 << 6, 1 << 6, 2 << 6, 3 << 6
PXN, UXN = 1 << 53, 1 << 54
ATTR_NORMAL, ATTR_DEVICE = 0 << 2, 1 << 2  # AttrIndx into MAIR: 0xFF, 0x00
MAIR = 0xFF | 0x00 << 8
NORMAL = AF | SH_INNER | ATTR_NORMAL
# TCR_EL1: T0SZ = T1SZ = 25 (39-bit VAs, walks start at level 1), TG1 = 4 KiB, IPS 40 bits
TCR = 25 | 25 << 16 | 2 << 30 | 2 << 32
SCTLR_M = 1
# stage 2 (D8.3.2 "Stage 2 descriptors"): S2AP [7:6], MemAttr [5:2] (0xF normal)
S2AP_RO, S2AP_RW = 1 << 6, 3 << 6
S2_NORMAL = AF | SH_INNER | 0xF << 2
VTCR = 25 | 1 << 6 | 2 << 16  # T0SZ 25, SL0 = 1 (start at level 1), PS 40 bits

# ESR (D17.2.37): EC << 26 | IL << 25 | ISS; data/instruction abort ISS: WnR [6],
# S1PTW [7], DFSC [5:0]
EC_IABORT_LOWER, EC_IABORT_SAME, EC_DABORT_LOWER, EC_DABORT_SAME = 0x20, 0x21, 0x24, 0x25
FSC_TRANSLATION, FSC_ACCESS_FLAG, FSC_PERMISSION = 0b000100, 0b001000, 0b001100
FSC_ALIGNMENT = 0b100001
WNR, S1PTW = 1 << 6, 1 << 7


def isv(size_log2, rt, sf=1, sse=0, ar=0):
    """The instruction syndrome of a stage 2 data abort on one register (D17.2.40):
    ISV [24], SAS [23:22], SSE [21], SRT [20:16], SF [15], AR [14]."""
    return 1 << 24 | size_log2 << 22 | sse << 21 | rt << 16 | sf << 15 | ar << 14


def esr(ec, iss):
    return ec << 26 | 1 << 25 | iss


class Tables:
    """4 KiB-granule translation tables in the core's RAM, allocated from TABLES."""

    def __init__(self, core, start=TABLES, first_level=1):
        self.core, self.next, self.first_level = core, start, first_level
        self.root = self.alloc()

    def alloc(self):
        page = self.next
        self.next += 0x1000
        self.core.load(page, bytes(0x1000))
        return page

    def _entry(self, table, index):
        return table + 8 * index

    def _read(self, addr):
        return struct.unpack("<Q", self.core.read(addr, 8))[0]

    def _write(self, addr, value):
        self.core.load(addr, struct.pack("<Q", value))

    def slot(self, va, level=3):
        """The address of the descriptor for `va` at `level`, making tables on the way."""
        table = self.root
        for lv in range(self.first_level, level):
            entry = self._entry(table, (va >> (12 + 9 * (3 - lv))) & 0x1FF)
            desc = self._read(entry)
            if desc & 3 != TABLE:
                desc = self.alloc() | TABLE
                self._write(entry, desc)
            table = desc & 0x0000_FFFF_FFFF_F000
        return self._entry(table, (va >> (12 + 9 * (3 - level))) & 0x1FF)

    def map(self, va, pa, attrs=NORMAL | AP_RW_EL1, level=3, size=0x1000):
        step = 1 << (12 + 9 * (3 - level))
        for off in range(0, size, step):
            kind = PAGE if level == 3 else VALID
            self._write(self.slot(va + off, level), (pa + off) | attrs | kind)

    def unmap(self, va):
        self._write(self.slot(va), 0)


def make_core(program, el=1, **features):
    core = Core(np.zeros(RAM, dtype=np.uint8), ram_base=BASE, stop_on_exception=True)
    core.load(CODE, assemble(program))
    core.set_el(el)
    core.pc = CODE
    return core


def el1_mmu(core, tables, high_tables=None):
    core.set_sysreg("MAIR_EL1", MAIR)
    core.set_sysreg("TCR_EL1", TCR)
    core.set_sysreg("TTBR0_EL1", tables.root)
    if high_tables is not None:
        core.set_sysreg("TTBR1_EL1", high_tables.root)
    core.set_sysreg("VBAR_EL1", CODE + 0x800)
    core.set_sysreg("SCTLR_EL1", core.sysreg("SCTLR_EL1") | SCTLR_M)


def identity(tables, size=0x30_0000):
    """Code, data and the tables identity mapped, RW at EL1 (in pages)."""
    tables.map(CODE, CODE, size=size)


def run_to_exception(core, budget=1000):
    ex = core.run(budget)
    assert ex.kind == exits.EXCEPTION, str(ex)
    return ex


# --- stage 1 of the EL1&0 regime ------------------------------------------------------

def test_an_identity_map_runs_code_and_a_high_half_alias_sees_the_same_memory():
    core = make_core("""
        ldr x1, [x0]          // through TTBR1
        str x3, [x2]          // through TTBR0
        ldr x4, [x0]
        hlt #0
    """)
    low, high = Tables(core), Tables(core, start=TABLES + 0x10_0000)
    identity(low)
    high.map(HIGH, DATA, size=0x2000)
    el1_mmu(core, low, high)
    core.load(DATA, struct.pack("<Q", 0x1234))
    core.set_x(0, HIGH)
    core.set_x(2, DATA)
    core.set_x(3, 0xABCD)
    ex = core.run(100)
    assert ex.kind == exits.HLT
    assert core.x(1) == 0x1234 and core.x(4) == 0xABCD


def test_a_block_mapping_translates_at_level_2():
    core = make_core("ldr x1, [x0]\n hlt #0")
    t = Tables(core)
    t.map(CODE, CODE, level=2, size=0x20_0000)  # one 2 MiB block over code
    t.map(0x8000_0000, DATA & ~0x1F_FFFF, level=2, size=0x20_0000)  # a block alias
    el1_mmu(core, t)
    core.load(DATA + 0x18, struct.pack("<Q", 77))
    core.set_x(0, 0x8000_0000 + (DATA & 0x1F_FFFF) + 0x18)
    assert core.run(10).kind == exits.HLT and core.x(1) == 77


@pytest.mark.parametrize("store", [False, True])
def test_a_translation_fault_reports_level_wnr_and_far_and_is_fixed_up(store):
    core = make_core("str x1, [x0]\n ldr x2, [x0]\n hlt #0" if store else
                     "ldr x2, [x0]\n hlt #0")
    t = Tables(core)
    identity(t)
    el1_mmu(core, t)
    va = 0xC000_1008  # its level 1 entry (index 3) is empty: the walk stops at level 1
    core.set_x(0, va)
    core.set_x(1, 99)
    ex = run_to_exception(core)
    assert (ex.a, ex.c, ex.d) == (1, CODE, va)  # to EL1, ELR = the access, FAR = its VA
    assert ex.b == esr(EC_DABORT_SAME, (WNR if store else 0) | FSC_TRANSLATION | 1)
    # a table at levels 1 and 2 but no page: a level 3 fault now
    t.slot(va)
    core.pc = CODE
    core.set_el(1)
    ex = run_to_exception(core)
    assert ex.b == esr(EC_DABORT_SAME, (WNR if store else 0) | FSC_TRANSLATION | 3)
    # the fix-up: map it; the access retries and succeeds (nothing was cached for it)
    t.map(va & ~0xFFF, DATA)
    core.load(DATA + 8, struct.pack("<Q", 5))
    core.pc = CODE
    core.set_el(1)
    assert core.run(10).kind == exits.HLT
    assert core.x(2) == (99 if store else 5)


def test_permission_and_access_flag_faults():
    core = make_core("str x1, [x0]\n hlt #0")
    t = Tables(core)
    identity(t)
    t.map(DATA, DATA, NORMAL | AP_RO_EL1)
    el1_mmu(core, t)
    core.set_x(0, DATA)
    assert run_to_exception(core).b == esr(EC_DABORT_SAME, WNR | FSC_PERMISSION | 3)
    t.map(DATA, DATA, (NORMAL & ~AF) | AP_RW_EL1)
    core.set_sysreg("SCTLR_EL1", core.sysreg("SCTLR_EL1"))  # (the TLB holds no fault)
    core.pc, _ = CODE, core.set_el(1)
    assert run_to_exception(core).b == esr(EC_DABORT_SAME, WNR | FSC_ACCESS_FLAG | 3)


def test_device_memory_faults_an_unaligned_access():
    core = make_core("ldr w1, [x0]\n hlt #0")
    t = Tables(core)
    identity(t)
    t.map(DATA, DATA, AF | ATTR_DEVICE | AP_RW_EL1)
    el1_mmu(core, t)
    core.set_x(0, DATA + 2)
    assert run_to_exception(core).b == esr(EC_DABORT_SAME, FSC_ALIGNMENT)
    core.set_x(0, DATA + 4)
    core.pc, _ = CODE, core.set_el(1)
    assert core.run(10).kind == exits.HLT


def test_an_execute_never_page_is_an_instruction_abort_at_its_first_instruction():
    core = make_core("br x0")
    t = Tables(core)
    identity(t)
    t.map(DATA, DATA, NORMAL | AP_RW_EL1 | PXN)
    el1_mmu(core, t)
    core.set_x(0, DATA + 0x40)
    ex = run_to_exception(core)
    assert ex.b == esr(EC_IABORT_SAME, FSC_PERMISSION | 3)
    assert (ex.c, ex.d) == (DATA + 0x40, DATA + 0x40)


def test_el0_cannot_reach_privileged_pages_and_pan_keeps_el1_out_of_user_pages():
    core = make_core("ldr x1, [x0]\n hlt #0")
    t = Tables(core)
    t.map(CODE, CODE, NORMAL | AP_RO_ALL, size=0x1000)  # code: EL0 may run it (not write)
    t.map(CODE + 0x1000, CODE + 0x1000, size=0x1F_F000)
    t.map(DATA, DATA, NORMAL | AP_RW_EL1)
    el1_mmu(core, t)
    core.set_el(0)
    core.set_x(0, DATA)
    ex = run_to_exception(core)
    assert ex.a == 1 and ex.b == esr(EC_DABORT_LOWER, FSC_PERMISSION | 3)
    # EL1 with PSTATE.PAN reading an EL0-accessible page
    t.map(DATA, DATA, NORMAL | AP_RW_ALL | UXN)
    core.set_sysreg("SCTLR_EL1", core.sysreg("SCTLR_EL1"))
    core.set_el(1)
    core.pan = True
    core.pc = CODE
    assert run_to_exception(core).b == esr(EC_DABORT_SAME, FSC_PERMISSION | 3)
    core.pan = False
    core.pc = CODE
    assert core.run(10).kind == exits.HLT


def test_an_access_that_crosses_into_a_page_elsewhere_reads_both_pages():
    core = make_core("ldr x1, [x0]\n hlt #0")
    t = Tables(core)
    identity(t)
    t.map(0x9000_0000, DATA + 0x3000)  # two virtually adjacent pages, apart in RAM
    t.map(0x9000_1000, DATA)
    el1_mmu(core, t)
    core.load(DATA + 0x3FFC, b"\x11\x22\x33\x44")
    core.load(DATA, b"\x55\x66\x77\x88")
    core.set_x(0, 0x9000_0FFC)
    assert core.run(10).kind == exits.HLT
    assert core.x(1) == 0x8877665544332211


# --- the TLB ----------------------------------------------------------------------------

def _switch_program():
    return """
        ldr x1, [x0]
        msr ttbr0_el1, x5       // another ASID
        isb
        ldr x2, [x0]
        msr ttbr0_el1, x4       // back
        isb
        ldr x3, [x0]
        hlt #0
    """


def test_entries_are_tagged_by_asid_and_a_global_entry_serves_every_asid():
    core = make_core(_switch_program())
    t = Tables(core)
    identity(t)
    t.map(0x9000_0000, DATA, NORMAL | AP_RW_EL1 | NG)
    t2 = Tables(core, start=TABLES + 0x10_0000)
    identity(t2)
    t2.map(0x9000_0000, DATA + 0x1000, NORMAL | AP_RW_EL1 | NG)
    el1_mmu(core, t)
    core.load(DATA, struct.pack("<Q", 1))
    core.load(DATA + 0x1000, struct.pack("<Q", 2))
    core.set_x(0, 0x9000_0000)
    core.set_x(4, t.root | 1 << 48)
    core.set_x(5, t2.root | 2 << 48)
    core.set_sysreg("TTBR0_EL1", t.root | 1 << 48)
    core.set_sysreg("TCR_EL1", TCR | 1 << 36)  # AS: 16-bit ASIDs
    assert core.run(100).kind == exits.HLT
    assert (core.x(1), core.x(2), core.x(3)) == (1, 2, 1)


def test_a_changed_descriptor_is_seen_after_tlbi_vae1():
    core = make_core("""
        ldr x1, [x0]
        str x7, [x6]            // repoint the page's descriptor
        dsb ishst
        lsr x8, x0, #12
        tlbi vae1, x8
        dsb ish
        isb
        ldr x2, [x0]
        hlt #0
    """)
    t = Tables(core)
    identity(t)
    t.map(0x9000_0000, DATA)
    el1_mmu(core, t)
    core.load(DATA, struct.pack("<Q", 1))
    core.load(DATA + 0x1000, struct.pack("<Q", 2))
    core.set_x(0, 0x9000_0000)
    core.set_x(6, t.slot(0x9000_0000))
    core.set_x(7, (DATA + 0x1000) | NORMAL | AP_RW_EL1 | PAGE)
    assert core.run(100).kind == exits.HLT
    assert (core.x(1), core.x(2)) == (1, 2)


@pytest.mark.parametrize("tlbi, asid, dropped", [
    ("vmalle1", 0, True),
    ("aside1", 3, True),
    ("aside1", 4, False),     # another ASID's entries stay
    ("vaae1", 0, True),
    ("vale1", 3, True),
])
def test_tlbi_scope(tlbi, asid, dropped):
    """A stale translation (its descriptor changed without maintenance) stays until a
    TLBI that covers it: the second load tells which translation was used."""
    operand = "x8" if tlbi != "vmalle1" else ""
    core = make_core(f"""
        ldr x1, [x0]
        str x7, [x6]
        dsb ish
        tlbi {tlbi}{', ' if operand else ''}{operand}
        dsb ish
        isb
        ldr x2, [x0]
        hlt #0
    """)
    t = Tables(core)
    identity(t)
    t.map(0x9000_0000, DATA, NORMAL | AP_RW_EL1 | NG)
    el1_mmu(core, t)
    core.set_sysreg("TTBR0_EL1", t.root | 3 << 48)
    core.set_sysreg("TCR_EL1", TCR | 1 << 36)
    core.load(DATA, struct.pack("<Q", 1))
    core.load(DATA + 0x1000, struct.pack("<Q", 2))
    core.set_x(0, 0x9000_0000)
    core.set_x(6, t.slot(0x9000_0000))
    core.set_x(7, (DATA + 0x1000) | NORMAL | AP_RW_EL1 | NG | PAGE)
    core.set_x(8, asid << 48 | (0x9000_0000 >> 12) if tlbi != "aside1" else asid << 48)
    assert core.run(100).kind == exits.HLT
    assert core.x(2) == (2 if dropped else 1)


# --- the EL2 regimes -------------------------------------------------------------------

def test_el2_stage_1_without_e2h_uses_ttbr0_el2_and_faults_to_el2():
    core = make_core("ldr x1, [x0]\n hlt #0", el=2)
    core.set_sysreg("HCR_EL2", 1 << 31)  # RW, E2H = 0
    t = Tables(core)
    identity(t)
    core.set_sysreg("MAIR_EL2", MAIR)
    core.set_sysreg("TCR_EL2", 25 | 2 << 16)  # T0SZ 25, PS 40 bits
    core.set_sysreg("TTBR0_EL2", t.root)
    core.set_sysreg("VBAR_EL2", CODE + 0x800)
    core.set_sysreg("SCTLR_EL2", core.sysreg("SCTLR_EL2") | SCTLR_M)
    core.set_x(0, 0xC000_0000)  # level 1 index 3: nothing there
    ex = run_to_exception(core)
    assert ex.a == 2 and ex.b == esr(EC_DABORT_SAME, FSC_TRANSLATION | 1)


def test_el2_with_e2h_has_two_ranges_like_el1():
    core = make_core("ldr x1, [x0]\n hlt #0", el=2)
    core.set_sysreg("HCR_EL2", 1 << 31 | 1 << 34)  # RW, E2H
    low, high = Tables(core), Tables(core, start=TABLES + 0x10_0000)
    identity(low)
    high.map(HIGH, DATA)
    core.load(DATA, struct.pack("<Q", 0x55))
    core.set_sysreg("MAIR_EL2", MAIR)
    core.set_sysreg("TCR_EL2", TCR)  # the EL1 layout with E2H
    core.set_sysreg("TTBR0_EL2", low.root)
    core.set_sysreg("TTBR1_EL2", high.root)
    core.set_sysreg("SCTLR_EL2", core.sysreg("SCTLR_EL2") | SCTLR_M)
    core.set_x(0, HIGH)
    assert core.run(10).kind == exits.HLT and core.x(1) == 0x55


# --- stage 2 ----------------------------------------------------------------------------

def stage2(core, tables, vmid=1):
    core.set_sysreg("VTCR_EL2", VTCR)
    core.set_sysreg("VTTBR_EL2", tables.root | vmid << 48)
    core.set_sysreg("VBAR_EL2", CODE + 0x800)
    core.set_sysreg("HCR_EL2", 1 << 31 | 1)  # RW, VM


def test_stage_2_translates_el1_and_its_fault_goes_to_el2_with_hpfar():
    core = make_core("ldr x1, [x0]\n ldr x2, [x3]\n hlt #0")
    s2 = Tables(core)
    s2.map(CODE, CODE, S2_NORMAL | S2AP_RW, size=0x20_0000)
    s2.map(0x5000_0000, DATA, S2_NORMAL | S2AP_RW)  # IPA 0x5000_0000 is RAM elsewhere
    stage2(core, s2)
    core.load(DATA, struct.pack("<Q", 31))
    core.set_x(0, 0x5000_0000)  # stage 1 off: VA = IPA
    core.set_x(3, 0x5000_3010)  # an IPA stage 2 does not map
    ex = run_to_exception(core)
    assert core.x(1) == 31
    assert ex.a == 2 and ex.b == esr(EC_DABORT_LOWER, isv(3, 2) | FSC_TRANSLATION | 3)
    assert (ex.c, ex.d) == (CODE + 4, 0x5000_3010)
    assert core.sysreg("HPFAR_EL2") == (0x5000_3010 >> 12) << 4


def test_a_stage_2_permission_fault_and_a_fault_on_the_stage_1_walk():
    core = make_core("str x1, [x0]\n hlt #0")
    s2 = Tables(core)
    s2.map(CODE, CODE, S2_NORMAL | S2AP_RW, size=0x20_0000)
    s2.map(DATA, DATA, S2_NORMAL | S2AP_RO)
    stage2(core, s2)
    core.set_x(0, DATA)
    ex = run_to_exception(core)
    assert ex.a == 2 and ex.b == esr(EC_DABORT_LOWER, isv(3, 1) | WNR | FSC_PERMISSION | 3)
    # stage 1 on, its tables in an IPA range stage 2 does not map: S1PTW
    s1 = Tables(core, start=BASE + 0x30_0000)
    identity(s1)
    s2.map(BASE + 0x30_0000, BASE + 0x30_0000, S2_NORMAL | S2AP_RW, size=0x1000)  # root only
    el1_mmu(core, s1)
    core.set_el(1)
    core.pc = CODE
    ex = run_to_exception(core)
    assert ex.a == 2 and ex.b & (S1PTW | 0x3F) == S1PTW | FSC_TRANSLATION | 3
    assert core.sysreg("HPFAR_EL2") == (BASE + 0x30_1000) >> 12 << 4  # the level 2 table


def test_entries_are_tagged_by_vmid():
    """The same IPA, two VMIDs, two stage 2 maps: switching VTTBR_EL2 without any TLBI
    gives each VMID its own translation."""
    core = make_core("ldr x1, [x0]\n hlt #0")
    a, b = Tables(core), Tables(core, start=TABLES + 0x10_0000)
    for t, pa in ((a, DATA), (b, DATA + 0x1000)):
        t.map(CODE, CODE, S2_NORMAL | S2AP_RW, size=0x10_0000)
        t.map(0x5000_0000, pa, S2_NORMAL | S2AP_RW)
    stage2(core, a, vmid=1)
    core.load(DATA, struct.pack("<Q", 1))
    core.load(DATA + 0x1000, struct.pack("<Q", 2))
    core.set_x(0, 0x5000_0000)
    seen = []
    for t, vmid in ((a, 1), (b, 2), (a, 1)):
        core.set_sysreg("VTTBR_EL2", t.root | vmid << 48)
        core.pc = CODE
        assert core.run(10).kind == exits.HLT
        seen.append(core.x(1))
    assert seen == [1, 2, 1]


@pytest.mark.parametrize("insn, syndrome", [
    ("ldr w5, [x0]", isv(2, 5, sf=0)),
    ("ldrsb x6, [x0, #1]", isv(0, 6, sse=1)),
    ("ldrsh w7, [x0, x1]", isv(1, 7, sf=0, sse=1)),
    ("ldrsw x8, [x0]", isv(2, 8, sse=1)),
    ("strb w9, [x0]", isv(0, 9, sf=0) | WNR),
    ("stur x10, [x0, #-8]", isv(3, 10) | WNR),
    ("ldar x11, [x0]", isv(3, 11, ar=1)),
    ("stlr w12, [x0]", isv(2, 12, sf=0, ar=1) | WNR),
    ("ldr x13, [x0, #8]!", 0),      # writeback: no syndrome
    ("ldp x1, x2, [x0]", 0),        # a pair: none
    ("ldxr x3, [x0]", 0),           # exclusive: none
])
def test_a_stage_2_data_abort_describes_a_single_register_access(insn, syndrome):
    core = make_core(insn + "\n hlt #0")
    s2 = Tables(core)
    s2.map(CODE, CODE, S2_NORMAL | S2AP_RW, size=0x10_0000)
    stage2(core, s2)
    core.set_x(0, 0x5000_0010)  # an IPA stage 2 does not map
    core.set_x(1, 0)
    ex = run_to_exception(core)
    assert ex.a == 2
    assert ex.b & 0x1FFFFC0 == syndrome, hex(ex.b)


# --- AT ---------------------------------------------------------------------------------

PAR_F, PAR_NS = 1, 1 << 9


def par_ok(pa, attr=0xFF, sh=0b11):
    """PAR_EL1 of a successful translation (D17.2.111): PA [47:12], ATTR [63:56], SH
    [8:7], NS [9] (1: no Secure state, as QEMU reports)."""
    return pa | attr << 56 | sh << 7 | PAR_NS


def par_fault(fsc, ptw=0, stage2=0):
    """PAR_EL1 of a failed one: F [0], FST [6:1], PTW [8], S [9], bit 11 RES1."""
    return PAR_F | fsc << 1 | ptw << 8 | stage2 << 9 | 1 << 11


@pytest.mark.parametrize("op, va, expected", [
    ("s1e1r", 0x9000_0123, par_ok(DATA + 0x2000)),
    ("s1e1w", 0x9000_0123, par_fault(FSC_PERMISSION | 3)),  # read-only at EL1
    ("s1e0r", 0x9000_0123, par_fault(FSC_PERMISSION | 3)),  # no EL0 access
    ("s1e1r", 0xC000_0000, par_fault(FSC_TRANSLATION | 1)),
    ("s1e1r", 0x9000_1000, par_ok(DATA + 0x3000, attr=0x00, sh=0b10)),  # Device
    ("s1e0w", 0x9000_2000, par_ok(DATA + 0x4000)),  # EL0 read/write
    ("s1e1r", 0x9000_3000, par_ok(DATA + 0x5000, sh=0b00)),  # the descriptor's SH
    ("s1e1r", 0x9000_4000, par_ok(DATA + 0x6000, sh=0b10)),
])
def test_at_stage_1_writes_par_el1(op, va, expected):
    core = make_core(f"at {op}, x0\n hlt #0")
    t = Tables(core)
    identity(t)
    t.map(0x9000_0000, DATA + 0x2000, NORMAL | AP_RO_EL1)
    t.map(0x9000_1000, DATA + 0x3000, AF | ATTR_DEVICE | AP_RW_EL1)
    t.map(0x9000_2000, DATA + 0x4000, NORMAL | AP_RW_ALL | UXN)
    t.map(0x9000_3000, DATA + 0x5000, (NORMAL & ~SH_INNER) | AP_RW_EL1)  # Non-shareable
    t.map(0x9000_4000, DATA + 0x6000, (NORMAL & ~SH_INNER) | 2 << 8 | AP_RW_EL1)  # Outer
    el1_mmu(core, t)
    core.set_x(0, va)
    assert core.run(10).kind == exits.HLT
    assert core.sysreg("PAR_EL1") == expected


def test_at_s12e1r_goes_through_stage_2_and_reports_a_stage_2_fault():
    core = make_core("at s12e1r, x0\n mrs x1, par_el1\n at s1e1r, x0\n mrs x2, par_el1\n"
                     " at s12e1r, x3\n mrs x4, par_el1\n hlt #0", el=2)
    s1 = Tables(core)
    identity(s1)
    s1.map(0x9000_0000, 0x5000_0000)  # VA -> IPA
    s1.map(0x9000_1000, 0x5000_1000)
    s2 = Tables(core, start=TABLES + 0x10_0000)
    s2.map(CODE, CODE, S2_NORMAL | S2AP_RW, size=0x30_0000)
    s2.map(0x5000_0000, DATA, (S2_NORMAL & ~SH_INNER) | 2 << 8 | S2AP_RW)  # IPA -> PA (Outer
    # Shareable: it wins over stage 1's Inner); 0x5000_1000 unmapped
    core.set_sysreg("HCR_EL2", 1 << 31)
    core.set_sysreg("VTCR_EL2", VTCR)
    core.set_sysreg("VTTBR_EL2", s2.root | 1 << 48)
    el1_mmu(core, s1)
    core.set_sysreg("HCR_EL2", 1 << 31 | 1)  # VM: stage 2 for EL1&0 (this CPU is at EL2)
    core.set_x(0, 0x9000_0040)
    core.set_x(3, 0x9000_1040)
    assert core.run(20).kind == exits.HLT
    assert core.x(1) == par_ok(DATA, sh=0b10)  # through both stages
    assert core.x(2) == par_ok(0x5000_0000)  # stage 1 only: the IPA
    assert core.x(4) == par_fault(FSC_TRANSLATION | 3, stage2=1)


def test_ldtr_and_sttr_at_el1_access_memory_as_el0():
    core = make_core("ldtr x1, [x0]\n sttr x1, [x2]\n hlt #0")
    t = Tables(core)
    identity(t)
    t.map(DATA, DATA, NORMAL | AP_RW_ALL | UXN)  # EL0 data
    t.map(DATA + 0x1000, DATA + 0x1000, NORMAL | AP_RW_EL1)  # EL1 only
    el1_mmu(core, t)
    core.pan = True  # PAN keeps EL1's own accesses out of EL0 data, not LDTR/STTR
    core.load(DATA, struct.pack("<Q", 9))
    core.set_x(0, DATA)
    core.set_x(2, DATA + 0x1000)
    ex = run_to_exception(core)  # the STTR to the EL1-only page
    assert core.x(1) == 9
    assert ex.b == esr(EC_DABORT_SAME, WNR | FSC_PERMISSION | 3) and ex.c == CODE + 4


def test_hcr_el2_dc_turns_stage_1_off_with_normal_memory_and_stage_2_on():
    """HCR_EL2.DC: SCTLR_EL1.M acts as 0 (stage 1 off), the memory is Normal (an
    unaligned load does not fault, as it would as Device), HCR_EL2.VM acts as 1."""
    core = make_core("ldr x1, [x0]\n hlt #0")
    s2 = Tables(core)
    s2.map(CODE, CODE, S2_NORMAL | S2AP_RW, size=0x10_0000)
    s2.map(0x5000_0000, DATA, S2_NORMAL | S2AP_RW)
    core.set_sysreg("VTCR_EL2", VTCR)
    core.set_sysreg("VTTBR_EL2", s2.root | 1 << 48)
    core.set_sysreg("SCTLR_EL1", core.sysreg("SCTLR_EL1") | SCTLR_M)  # ignored with DC
    core.set_sysreg("HCR_EL2", 1 << 31 | 1 << 12)  # RW, DC; VM clear
    core.load(DATA, bytes(range(16)))
    core.set_x(0, 0x5000_0001)  # through stage 2, unaligned
    assert core.run(10).kind == exits.HLT
    assert core.x(1) == int.from_bytes(bytes(range(1, 9)), "little")


# --- the run loop's data TLB (mmu.py): its entries must never outlive what allowed them

def dtlb_pages(core):
    """The VA pages the data TLB holds, (reads, writes): which accesses it would serve."""
    from smpsim.jit import state
    tables = []
    for base in (state.DTLB_READ, state.DTLB_WRITE):
        tags = core.cpu[base:base + state.DTLB_ENTRIES * state.DTLB_WORDS:state.DTLB_WORDS]
        tables.append({(~int(t) & (1 << 64) - 1) << 12 for t in tags if t})
    return tuple(tables)


def data_page_core(program, attrs):
    """A core at EL1 running `program` over the identity map, with DATA mapped at itself
    with `attrs` and x0 = DATA."""
    core = make_core(program)
    t = Tables(core)
    identity(t)
    t.map(DATA, DATA, attrs)
    el1_mmu(core, t)
    core.set_x(0, DATA)
    return core


def test_a_read_only_page_that_served_a_load_still_faults_a_store():
    core = data_page_core("ldr x1, [x0]\n ldr x2, [x0, #8]\n str x1, [x0]\n hlt #0",
                          NORMAL | AP_RO_EL1)
    ex = run_to_exception(core)
    assert ex.b == esr(EC_DABORT_SAME, WNR | FSC_PERMISSION | 3) and ex.c == CODE + 8
    assert DATA in dtlb_pages(core)[0] and DATA not in dtlb_pages(core)[1]


def test_pan_set_after_loads_through_the_data_tlb_faults_the_next_one():
    core = data_page_core(".arch armv8.1-a\n ldr x1, [x0]\n ldr x2, [x0]\n msr pan, #1\n"
                          " ldr x3, [x0]\n hlt #0", NORMAL | AP_RW_ALL | UXN)
    ex = run_to_exception(core)
    assert ex.b == esr(EC_DABORT_SAME, FSC_PERMISSION | 3) and ex.c == CODE + 12


def test_ldtr_after_a_privileged_load_of_the_same_page_is_checked_as_el0():
    core = data_page_core("ldr x1, [x0]\n ldr x2, [x0]\n ldtr x3, [x0]\n hlt #0",
                          NORMAL | AP_RW_EL1)
    ex = run_to_exception(core)
    assert ex.b == esr(EC_DABORT_SAME, FSC_PERMISSION | 3) and ex.c == CODE + 8
    assert DATA in dtlb_pages(core)[0]


def test_el0_after_an_eret_does_not_use_el1_s_data_tlb_entries():
    core = make_core("""
        ldr x1, [x0]
        ldr x1, [x0]
        adr x2, 1f
        msr elr_el1, x2
        msr spsr_el1, xzr     // EL0t
        eret
    1:  ldr x3, [x0]
        hlt #0
    """)
    t = Tables(core)
    t.map(CODE, CODE, NORMAL | AP_RO_ALL, size=0x1000)  # EL0 may run the code
    t.map(CODE + 0x1000, CODE + 0x1000, size=0x1F_F000)
    t.map(DATA, DATA, NORMAL | AP_RW_EL1)
    el1_mmu(core, t)
    core.set_x(0, DATA)
    ex = run_to_exception(core)
    assert ex.a == 1 and ex.b == esr(EC_DABORT_LOWER, FSC_PERMISSION | 3)


def test_device_memory_faults_an_unaligned_access_after_aligned_ones():
    core = make_core("ldr w1, [x0]\n ldr w1, [x0]\n str w1, [x0]\n str w1, [x0]\n"
                     " ldr w2, [x0, #2]\n hlt #0")
    t = Tables(core)
    identity(t)
    t.map(DATA, DATA, AF | ATTR_DEVICE | AP_RW_EL1)  # RAM, mapped as Device
    el1_mmu(core, t)
    core.set_x(0, DATA)
    ex = run_to_exception(core)
    assert ex.b == esr(EC_DABORT_SAME, FSC_ALIGNMENT) and ex.c == CODE + 16


def test_a_store_through_the_data_tlb_over_decoded_code_is_executed():
    core = make_core("""
        mov x9, #2
    1:  mov x3, #1            // rewritten by the second store below
        subs x9, x9, #1
        b.eq 2f
        ldr w6, [x4]
        str w6, [x4]          // the same word: fills the data TLB
        str w5, [x4]          // mov x3, #7, through the data TLB
        dc cvau, x4
        dsb nsh
        ic iallu              // (this CPU's: IC IVAU is for every CPU, a machine's job)
        dsb nsh
        isb
        b 1b
    2:  hlt #0
    """)
    t = Tables(core)
    identity(t)
    el1_mmu(core, t)
    core.set_x(4, CODE + 4)
    core.set_x(5, int.from_bytes(assemble("mov x3, #7"), "little"))
    assert core.run(100).kind == exits.HLT
    assert core.x(3) == 7 and CODE in dtlb_pages(core)[1]


def test_a_load_at_the_end_of_a_page_that_is_last_in_ram():
    """A load near a page's end reads the bytes it needs, not 8 (the data TLB's reads
    stop 8 bytes before the end; the MMU path takes the rest)."""
    core = make_core("ldr w1, [x0]\n ldr w1, [x0]\n ldrb w2, [x0, #3]\n hlt #0")
    t = Tables(core)
    identity(t)
    last = BASE + RAM - 0x1000
    t.map(0x9000_0000, last)
    el1_mmu(core, t)
    core.load(last + 0xFFC, b"\x01\x02\x03\x04")
    core.set_x(0, 0x9000_0FFC)
    assert core.run(10).kind == exits.HLT
    assert (core.x(1), core.x(2)) == (0x04030201, 4)


# --- alignment: Device memory with the MMU off, SCTLR_ELx.A -----------------------------

MISALIGNED = [  # (program, x0 = the misaligned address it accesses, a store?)
    ("ldr x1, [x0]", DATA + 4, False),
    ("ldr w1, [x0, x2]", DATA + 2, False),   # x2 = 0
    ("ldrh w1, [x0]", DATA + 1, False),
    ("ldp w1, w3, [x0]", DATA + 2, False),
    ("ldtr x1, [x0]", DATA + 1, False),
    ("str x1, [x0]", DATA + 1, True),
    ("str w1, [x0, x2]", DATA + 6, True),
    ("stp x1, x3, [x0]", DATA + 8 + 4, True),
    ("sttrh w1, [x0]", DATA + 3, True),
]


@pytest.mark.parametrize("insn, addr, store", MISALIGNED)
def test_with_the_mmu_off_a_misaligned_data_access_is_an_alignment_fault(insn, addr, store):
    """Stage 1 off: data accesses are to Device-nGnRnE memory (Arm ARM D8 "The effects of
    disabling an address translation stage"), so they must be aligned."""
    core = make_core(f"{insn}\n hlt #0")
    core.set_sysreg("VBAR_EL1", CODE + 0x800)
    core.set_x(0, addr)
    core.set_x(2, 0)
    before = core.read(DATA, 32)
    ex = run_to_exception(core)
    assert ex.b == esr(EC_DABORT_SAME, (WNR if store else 0) | FSC_ALIGNMENT)
    assert (ex.c, ex.d) == (CODE, addr)
    assert core.read(DATA, 32) == before


@pytest.mark.parametrize("insn, addr, store", MISALIGNED)
def test_with_the_mmu_on_misaligned_accesses_to_normal_memory_work_unless_sctlr_a(insn, addr,
                                                                                   store):
    core = make_core(f"{insn}\n {insn}\n hlt #0")  # (twice: the second through the data TLB)
    t = Tables(core)
    identity(t)
    t.map(DATA, DATA, NORMAL | AP_RW_ALL | UXN)  # (EL0 data: LDTR/STTR may use it)
    el1_mmu(core, t)
    core.set_x(0, addr)
    core.set_x(2, 0)
    assert core.run(10).kind == exits.HLT
    core.set_sysreg("SCTLR_EL1", core.sysreg("SCTLR_EL1") | 1 << 1)  # A: alignment checks
    core.pc = CODE
    ex = run_to_exception(core)
    assert ex.b == esr(EC_DABORT_SAME, (WNR if store else 0) | FSC_ALIGNMENT)
    assert (ex.c, ex.d) == (CODE, addr)


def test_an_aligned_access_with_the_mmu_off_reaches_ram_and_devices_as_before():
    core = make_core("ldr x1, [x0]\n str w1, [x0, #12]\n ldrh w3, [x0, #14]\n hlt #0")
    core.load(DATA, struct.pack("<Q", 0x1122_3344_5566_7788))
    core.set_x(0, DATA)
    assert core.run(10).kind == exits.HLT
    assert (core.x(1), core.x(3)) == (0x1122_3344_5566_7788, 0x5566)


def test_with_the_mmu_off_an_address_beyond_the_pa_size_is_an_address_size_fault():
    """Stage 1 off: the PA is the VA, and one beyond ID_AA64MMFR0_EL1.PARange is an
    Address size fault at level 0 (DFSC 0b000000), before any alignment fault."""
    core = make_core("str w1, [x0]\n hlt #0")
    core.set_sysreg("VBAR_EL1", CODE + 0x800)
    parange = core.sysreg("ID_AA64MMFR0_EL1") & 0xF
    pa_bits = {0: 32, 1: 36, 2: 40, 3: 42, 4: 44, 5: 48, 6: 52}[parange]
    core.set_x(0, (1 << pa_bits) + 2)
    ex = run_to_exception(core)
    assert ex.b == esr(EC_DABORT_SAME, WNR | 0b000000) and ex.d == (1 << pa_bits) + 2


def test_dc_zva_zeroes_through_the_mmu_and_faults_like_a_store():
    core = make_core("dc zva, x0\n dc zva, x1\n hlt #0")
    t = Tables(core)
    identity(t)
    t.map(0x9000_0000, DATA + 0x3000)  # a high alias of a data page
    t.map(0x9000_1000, DATA + 0x4000, NORMAL | AP_RO_EL1)
    el1_mmu(core, t)
    core.load(DATA + 0x3040, b"\xff" * 64)
    core.set_x(0, 0x9000_0044)  # (any address in the block)
    core.set_x(1, 0x9000_1000)
    ex = run_to_exception(core)  # the second: read-only
    assert core.read(DATA + 0x3040, 64) == bytes(64)
    assert ex.b == esr(EC_DABORT_SAME, WNR | FSC_PERMISSION | 3) and ex.c == CODE + 4
