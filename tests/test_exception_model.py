"""The exception model of one core, beyond single instructions (Arm ARM D1): per-CPU
features, the vector table, interrupt routing and masking, WFI/WFE traps and the event
register, PAN, the EL2&0 (E2H + TGE) regime, stack-pointer banking, DC ZVA and IC.

The instruction-level rows for SVC/HVC/ERET/MRS/MSR are in test_insn_branches_system.py;
these tests look at what happens around them. Every case is a row of a table that names
the behaviour; expected values are fixed numbers from the Arm ARM (DDI 0487), worked
out by hand. Programs are written in assembly text and encoded by the small assembler
below, which checks every word it makes against capstone's disassembly.

The cores run with stop_on_exception: an exception ends the run at its vector, with its
target EL, ESR, ELR and FAR in the exit. The vector tables (VBAR_EL1 = VBAR1, VBAR_EL2 =
VBAR2) hold an ERET in every slot, so running on from a vector returns.
"""

from __future__ import annotations

import functools
import re
import struct

import numpy as np
import pytest

from insn_table import normalise
from smpsim.jit import exits, sysreg_table
from smpsim.jit.core import Core
from smpsim.jit.exceptions import (EC_BRK, EC_HVC, EC_SERROR, EC_SVC, EC_SYSREG, EC_UNKNOWN,
                                   EC_WFX)
from smpsim.jit.features import Features
from smpsim.jit.state import PAN_BIT
from smpsim.jit.sysreg_table import HCR

BASE = 0x4000_0000
RAM_SIZE = 0x1_0000
VBAR1 = BASE + 0x1000  # VBAR_EL1
VBAR2 = BASE + 0x2000  # VBAR_EL2
VBAR = {1: VBAR1, 2: VBAR2}
CODE = BASE + 0x4000
DATA = BASE + 0x8000
STACK = {0: BASE + 0xE000, 1: BASE + 0xE800, 2: BASE + 0xF000}  # SP_EL0, SP_EL1, SP_EL2

# vector offsets (D1.10.2): the table for where the exception comes from, then the kind
CUR_SP0, CUR_SPX, LOWER = 0x000, 0x200, 0x400
SYNC, IRQ, FIQ, SERROR = 0x000, 0x080, 0x100, 0x180

IL = 1 << 25  # ESR.IL: a 32-bit instruction
DAIF_D, DAIF_A, DAIF_I, DAIF_F = 1 << 9, 1 << 8, 1 << 7, 1 << 6
DAIF_ALL = DAIF_D | DAIF_A | DAIF_I | DAIF_F
N, Z, C, V = 1 << 31, 1 << 30, 1 << 29, 1 << 28
SPAN = 1 << 23  # SCTLR_ELx.SPAN
DZE = 1 << 14  # SCTLR_ELx.DZE
NTWI, NTWE = 1 << 16, 1 << 18  # SCTLR_ELx.nTWI, nTWE


def hcr(*names: str) -> int:
    """HCR_EL2 with the named bits set (RW, which is RES1 here, always)."""
    value = 1 << HCR["RW"]
    for name in names:
        value |= 1 << HCR[name]
    return value


def esr(ec: int, iss: int = 0) -> int:
    return (ec << 26) | IL | iss


# --- a small assembler for the programs of these tests ------------------------------------

_SYSREG_ENC = {r.name.lower(): r.enc for r in sysreg_table.TABLE}
_SYSREG_ENC["sp_el2"] = (3, 6, 4, 1, 0)  # EL3's register: not in the table of this core
_PSTATE_FIELDS = {"spsel": (0, 5), "pan": (0, 4), "daifset": (3, 6), "daifclr": (3, 7)}
_FIXED = {"nop": 0xD503201F, "wfi": 0xD503207F, "wfe": 0xD503205F, "sev": 0xD503209F,
          "sevl": 0xD50320BF, "isb": 0xD5033FDF, "eret": 0xD69F03E0, "ret": 0xD65F03C0}
_EXCEPTION_GEN = {"svc": 0xD4000001, "hvc": 0xD4000002, "brk": 0xD4200000, "hlt": 0xD4400000,
                  "udf": 0x00000000}


def _reg(text: str) -> int:
    text = text.strip()
    if text in ("xzr", "sp"):
        return 31
    m = re.fullmatch(r"x(\d+)", text)
    if not m or int(m.group(1)) > 30:
        raise ValueError(f"not an X register: {text!r}")
    return int(m.group(1))


def _imm(text: str) -> int:
    return int(text.strip().lstrip("#"), 0)


def _sys(l: int, enc: tuple[int, int, int, int, int], rt: int) -> int:
    """MRS/MSR (register)/SYS: 1101 0101 00 L op0 op1 CRn CRm op2 Rt."""
    op0, op1, crn, crm, op2 = enc
    return 0xD5000000 | (l << 21) | (op0 << 19) | (op1 << 16) | (crn << 12) | (crm << 8) \
        | (op2 << 5) | rt


def _encode(text: str) -> int:
    t = " ".join(text.lower().split())
    mnemonic, _, rest = t.partition(" ")
    ops = [o.strip() for o in rest.split(",")] if rest else []
    if t in _FIXED:
        return _FIXED[t]
    if mnemonic in _EXCEPTION_GEN:
        return _EXCEPTION_GEN[mnemonic] | (_imm(ops[0]) << 5)
    if mnemonic == "mrs":
        return _sys(1, _SYSREG_ENC[ops[1]], _reg(ops[0]))
    if mnemonic == "msr" and ops[0] in _PSTATE_FIELDS and ops[1].startswith("#"):
        op1, op2 = _PSTATE_FIELDS[ops[0]]
        return 0xD500401F | (op1 << 16) | (_imm(ops[1]) << 8) | (op2 << 5)
    if mnemonic == "msr":
        return _sys(0, _SYSREG_ENC[ops[0]], _reg(ops[1]))
    if mnemonic in ("dc", "ic", "tlbi"):  # SYS aliases, named in the table as e.g. DC_ZVA
        return _sys(0, _SYSREG_ENC[f"{mnemonic}_{ops[0]}"], _reg(ops[1]) if len(ops) > 1 else 31)
    if mnemonic == "movz":
        m = re.fullmatch(r"#(\w+)(?:, lsl #(\d+))?", ", ".join(ops[1:]))
        return 0xD2800000 | ((int(m.group(2) or 0) // 16) << 21) | (int(m.group(1), 0) << 5) \
            | _reg(ops[0])
    if mnemonic == "add":  # add xd|sp, xn|sp, #imm12
        return 0x91000000 | (_imm(ops[2]) << 10) | (_reg(ops[1]) << 5) | _reg(ops[0])
    if mnemonic == "mov" and ops[1] == "sp":  # mov xd, sp (add xd, sp, #0)
        return 0x910003E0 | _reg(ops[0])
    if mnemonic == "b":  # b .+N / b .-N
        m = re.fullmatch(r"\.\s*([+-])\s*(\w+)", ops[0])
        off = int(m.group(2), 0) * (1 if m.group(1) == "+" else -1)
        return 0x14000000 | ((off >> 2) & 0x3FF_FFFF)
    if mnemonic == "ldadd":  # ldadd xs, xt, [xn]
        return 0xF8200000 | (_reg(ops[0]) << 16) | (_reg(ops[2].strip("[]")) << 5) \
            | _reg(ops[1])
    raise ValueError(f"the test assembler does not know {text!r}")


@functools.cache
def enc(text: str) -> int:
    """The encoding of one instruction, checked against capstone's disassembly."""
    import capstone

    word = _encode(text)
    md = capstone.Cs(capstone.CS_ARCH_ARM64, capstone.CS_MODE_ARM)
    insns = list(md.disasm(struct.pack("<I", word), 0x1000))
    got = f"{insns[0].mnemonic} {insns[0].op_str}" if insns else "(no disassembly)"
    if normalise(got, 0x1000) != normalise(text, 0x1000):
        raise AssertionError(f"{text!r} encoded as {word:#010x}, which is {got!r}")
    return word


def code(*lines: str) -> bytes:
    return b"".join(struct.pack("<I", enc(line)) for line in lines)


def make_core(*lines: str, features: Features | None = None, el: int | None = None,
              spsel: int = 1, hcr_bits: int | None = None, daif: int = DAIF_ALL,
              sysregs: dict[str, int] | None = None, at: int = CODE) -> Core:
    """A core with `lines` at `at` (PC there), the vector tables full of ERETs, distinct
    stacks for each EL, HCR_EL2 = `hcr_bits` (RW always set), at (el, spsel) with DAIF."""
    features = features or Features()
    core = Core(np.zeros(RAM_SIZE, dtype=np.uint8), ram_base=BASE, features=features,
                stop_on_exception=True)
    for table in (VBAR1, VBAR2):
        core.load(table, (code("eret") + bytes(0x7C)) * 16)
    core.set_sysreg("VBAR_EL1", VBAR1)
    top = 2 if features.el2 else 1
    if features.el2:
        core.set_sysreg("VBAR_EL2", VBAR2)
        core.set_sysreg("HCR_EL2", hcr_bits if hcr_bits is not None else hcr())
    else:
        assert hcr_bits is None, "no HCR_EL2 on a CPU without EL2"
    for e in range(top + 1):
        core.set_el(e, 1 if e else 0)
        core.sp = STACK[e]
    core.set_el(top if el is None else el, spsel)
    core.daif = daif
    for name, value in (sysregs or {}).items():
        core.set_sysreg(name, value)
    if lines:
        core.load(at, code(*lines))
    core.pc = at
    return core


def sp_of(core: Core, el: int) -> int:
    """SP_ELx (x = el), read by visiting it (the core's EL/SPSel are put back)."""
    here, spsel = core.el, core.spsel
    core.set_el(el, 1 if el else 0)
    value = core.sp
    core.set_el(here, spsel)
    return value


def pan(core: Core) -> int:
    return int(core.cpu[PAN_BIT])  # PSTATE.PAN has no accessor of its own in the Core API


def set_pan(core: Core, value: int) -> None:
    core.cpu[PAN_BIT] = value


def check_exception(ex, el: int, vector: int, esr_value: int | None = None,
                    elr: int | None = None) -> None:
    assert ex.kind == exits.EXCEPTION, f"expected an exception, got {ex}"
    assert (ex.a, ex.pc) == (el, vector), f"taken to EL{ex.a} at {ex.pc:#x}: {ex}"
    if esr_value is not None:
        assert ex.b == esr_value, f"ESR {ex.b:#x}, expected {esr_value:#x}"
    if elr is not None:
        assert ex.c == elr, f"ELR {ex.c:#x}, expected {elr:#x}"


def check_undefined(ex, el: int, vector: int, elr: int = CODE) -> None:
    check_exception(ex, el, vector, esr(EC_UNKNOWN), elr)


# --- per-CPU features ---------------------------------------------------------------------

# (id, features, what that CPU reads): ID_AA64MMFR1_EL1.VH (11:8) and .PAN (23:20),
# ID_AA64PFR0_EL1.EL2 (11:8), ID_AA64ISAR0_EL1.Atomic (23:20), MIDR, MPIDR, CurrentEL
FEATURE_CPUS = [
    ("vhe_pan_lse", Features(el2=True, vhe=True, pan=True, lse=True, midr=0x410F_D0C1,
                             mpidr_aff=0x0000_0100),
     {"vh": 1, "pan": 1, "el2": 1, "atomic": 2, "midr": 0x410F_D0C1,
      "mpidr": 0x8000_0100, "el": 2}),
    ("el2_without_vhe_pan_lse", Features(el2=True, vhe=False, pan=False, lse=False,
                                         midr=0x410F_D082, mpidr_aff=0x0001_0203),
     {"vh": 0, "pan": 0, "el2": 1, "atomic": 0, "midr": 0x410F_D082,
      "mpidr": 0x8001_0203, "el": 2}),
    ("el1_only", Features(el2=False, vhe=False, pan=True, lse=True, midr=0x000F_0510,
                          mpidr_aff=0x01_0000_0000),
     {"vh": 0, "pan": 1, "el2": 0, "atomic": 2, "midr": 0x000F_0510,
      "mpidr": 0x1_8000_0000, "el": 1}),
]
ID_PROGRAM = ("mrs x0, id_aa64mmfr1_el1", "mrs x1, id_aa64pfr0_el1",
              "mrs x2, id_aa64isar0_el1", "mrs x3, midr_el1", "mrs x4, mpidr_el1",
              "mrs x5, currentel", "hlt #0")


def test_cpus_with_different_features_run_side_by_side():
    cores = {name: make_core(*ID_PROGRAM, features=f) for name, f, _ in FEATURE_CPUS}
    for name, _, want in FEATURE_CPUS:  # reset: at the highest implemented EL
        assert cores[name].el == want["el"], name
    for _ in range(len(ID_PROGRAM) - 1):  # one instruction on each in turn
        for core in cores.values():
            assert core.step(1).kind == exits.BUDGET
    for name, _, want in FEATURE_CPUS:
        core = cores[name]
        got = {"vh": (core.x(0) >> 8) & 0xF, "pan": (core.x(0) >> 20) & 0xF,
               "el2": (core.x(1) >> 8) & 0xF, "atomic": (core.x(2) >> 20) & 0xF,
               "midr": core.x(3), "mpidr": core.x(4), "el": core.x(5) >> 2}
        assert got == want, name
        assert core.run(1).kind == exits.HLT


@pytest.mark.parametrize("vhe", [True, False], ids=["vhe", "no_vhe"])
def test_hcr_el2_e2h_is_res0_without_vhe(vhe):
    core = make_core("msr hcr_el2, x0", "mrs x1, hcr_el2",
                     features=Features(vhe=vhe, pan=vhe))
    core.set_x(0, hcr("E2H", "IMO"))
    assert core.run(2).kind == exits.BUDGET
    assert core.x(1) == (hcr("E2H", "IMO") if vhe else hcr("IMO"))


# encodings that exist only with VHE: UNDEFINED on a CPU without it (after an attempt
# to set HCR_EL2.E2H, which does not stick)
WITHOUT_VHE_UNDEFINED = [
    ("mrs_sctlr_el12", "mrs x0, sctlr_el12"),
    ("msr_elr_el12", "msr elr_el12, x0"),
    ("mrs_cntkctl_el12", "mrs x0, cntkctl_el12"),
    ("mrs_cntv_ctl_el02", "mrs x0, cntv_ctl_el02"),
    ("msr_cntp_cval_el02", "msr cntp_cval_el02, x0"),
    ("mrs_cnthv_ctl_el2", "mrs x0, cnthv_ctl_el2"),
    ("mrs_ttbr1_el2", "mrs x0, ttbr1_el2"),
    ("mrs_contextidr_el2", "mrs x0, contextidr_el2"),
]


@pytest.mark.parametrize("insn", [pytest.param(i, id=n) for n, i in WITHOUT_VHE_UNDEFINED])
def test_vhe_encodings_are_undefined_without_vhe(insn):
    core = make_core("msr hcr_el2, x1", insn, features=Features(vhe=False))
    core.set_x(1, hcr("E2H"))
    check_undefined(core.run(2), 2, VBAR2 + CUR_SPX + SYNC, elr=CODE + 4)


# EL2's registers and HVC on a CPU without EL2, at EL1: UNDEFINED, taken to EL1
WITHOUT_EL2_UNDEFINED = [
    ("mrs_hcr_el2", "mrs x0, hcr_el2"),
    ("msr_vbar_el2", "msr vbar_el2, x0"),
    ("mrs_elr_el2", "mrs x0, elr_el2"),
    ("msr_cntvoff_el2", "msr cntvoff_el2, x0"),
    ("mrs_cnthp_ctl_el2", "mrs x0, cnthp_ctl_el2"),
    ("mrs_cnthctl_el2", "mrs x0, cnthctl_el2"),
    ("mrs_sp_el1", "mrs x0, sp_el1"),
    ("tlbi_alle2", "tlbi alle2"),
    ("hvc", "hvc #0x1"),
]


@pytest.mark.parametrize("insn", [pytest.param(i, id=n) for n, i in WITHOUT_EL2_UNDEFINED])
def test_el2_encodings_are_undefined_without_el2(insn):
    core = make_core(insn, features=Features(el2=False, vhe=False))
    core.set_x(0, 0x1234)
    check_undefined(core.run(1), 1, VBAR1 + CUR_SPX + SYNC)
    assert core.x(0) == 0x1234


# (id, features, EL, register read, value): Features.overrides replace derived values
OVERRIDES = [
    ("isar0_replaces_the_derived_value",
     Features(lse=False, overrides=(("ID_AA64ISAR0_EL1", 0x0021_0000),)), 2,
     "mrs x0, id_aa64isar0_el1", 0x0021_0000),
    ("isar0_at_el1", Features(overrides=(("ID_AA64ISAR0_EL1", 0x0000_1234_0000_0000),)), 1,
     "mrs x0, id_aa64isar0_el1", 0x0000_1234_0000_0000),
    ("mmfr1_hides_vhe", Features(overrides=(("ID_AA64MMFR1_EL1", 0),)), 2,
     "mrs x0, id_aa64mmfr1_el1", 0),
    ("midr_at_el2", Features(overrides=(("MIDR_EL1", 0x412F_D050),)), 2,
     "mrs x0, midr_el1", 0x412F_D050),
    ("midr_at_el1_through_vpidr_reset", Features(overrides=(("MIDR_EL1", 0x412F_D050),)), 1,
     "mrs x0, midr_el1", 0x412F_D050),
    ("mpidr", Features(overrides=(("MPIDR_EL1", 0x8100_0003),)), 2,
     "mrs x0, mpidr_el1", 0x8100_0003),
    ("midr_without_el2", Features(el2=False, vhe=False, overrides=(("MIDR_EL1", 0x4100_0001),)),
     1, "mrs x0, midr_el1", 0x4100_0001),
]


@pytest.mark.parametrize("features, el, insn, value",
                         [pytest.param(*r[1:], id=r[0]) for r in OVERRIDES])
def test_feature_overrides(features, el, insn, value):
    core = make_core(insn, features=features, el=el)
    assert core.run(1).kind == exits.BUDGET
    assert core.x(0) == value


def test_lse_atomics_are_undefined_without_lse():
    # ID_AA64ISAR0_EL1.Atomic = 0: the LSE atomic encodings are unallocated (UNDEFINED)
    with_lse = make_core("ldadd x0, x1, [x2]", features=Features(lse=True))
    without = make_core("ldadd x0, x1, [x2]", features=Features(lse=False))
    for core in (with_lse, without):
        core.load(DATA, struct.pack("<Q", 5))
        core.set_x(0, 2)
        core.set_x(2, DATA)
    assert with_lse.run(1).kind == exits.BUDGET
    assert with_lse.x(1) == 5 and with_lse.read(DATA, 8) == struct.pack("<Q", 7)
    check_undefined(without.run(1), 2, VBAR2 + CUR_SPX + SYNC)
    assert without.read(DATA, 8) == struct.pack("<Q", 5)


@pytest.mark.parametrize("insn", ["msr pan, #1", "mrs x0, pan"])
def test_pan_instructions_are_undefined_without_pan(insn):
    core = make_core(insn, features=Features(vhe=False, pan=False))
    check_undefined(core.run(1), 2, VBAR2 + CUR_SPX + SYNC)


def test_spsr_pan_bit_is_ignored_without_pan():
    # ERET from EL2 with SPSR.PAN = 1 (RES0 here) to EL1h, then an SVC there
    core = make_core("eret", features=Features(vhe=False, pan=False),
                     sysregs={"SPSR_EL2": (1 << 22) | 0x5, "ELR_EL2": CODE + 0x40})
    core.load(CODE + 0x40, code("svc #0"))
    check_exception(core.run(2), 1, VBAR1 + CUR_SPX + SYNC, esr(EC_SVC))
    assert pan(core) == 0 and core.sysreg("SPSR_EL1") == 0x5


# --- the vector table, what entry saves and sets, and ERET back ------------------------------

# (id, from EL, SPSel, HCR_EL2, target EL, vector table base + offset for the source)
VECTOR_SOURCES = [
    ("el0_to_el1", 0, 0, hcr(), 1, VBAR1 + LOWER),
    ("el1t_to_el1", 1, 0, hcr(), 1, VBAR1 + CUR_SP0),
    ("el1h_to_el1", 1, 1, hcr(), 1, VBAR1 + CUR_SPX),
    ("el0_to_el2_tge", 0, 0, hcr("TGE"), 2, VBAR2 + LOWER),
    ("el1_to_el2", 1, 1, hcr("IMO", "FMO", "AMO"), 2, VBAR2 + LOWER),
    ("el2t_to_el2", 2, 0, hcr("IMO", "FMO", "AMO"), 2, VBAR2 + CUR_SP0),
    ("el2h_to_el2", 2, 1, hcr("IMO", "FMO", "AMO"), 2, VBAR2 + CUR_SPX),
]
VECTOR_KINDS = ["sync", "irq", "fiq", "serror"]
_OFFSET = {"sync": SYNC, "irq": IRQ, "fiq": FIQ, "serror": SERROR}


@pytest.mark.parametrize("kind", VECTOR_KINDS)
@pytest.mark.parametrize("src_el, spsel, hcr_bits, target, table",
                         [pytest.param(*r[1:], id=r[0]) for r in VECTOR_SOURCES])
def test_exception_entry_and_return(src_el, spsel, hcr_bits, target, table, kind):
    # the synchronous one: SVC, or HVC from EL1 to EL2 (both return to the next instruction)
    call = "hvc #0x5a" if (src_el, target) == (1, 2) else "svc #0x5a"
    core = make_core(call if kind == "sync" else "nop", el=src_el, spsel=spsel,
                     hcr_bits=hcr_bits, daif=DAIF_D)
    core.nzcv = N | C
    set_pan(core, 1)
    core.set_sysreg(f"ESR_EL{target}", 0x1234)
    if kind != "sync":
        core.set_lines(**{kind: True})
    ex = core.run(1)

    if kind == "sync":
        want_esr, elr = esr(EC_HVC if call.startswith("hvc") else EC_SVC, 0x5A), CODE + 4
    elif kind == "serror":
        want_esr, elr = esr(EC_SERROR), CODE  # IDS = 0, ISS 0: uncategorized
    else:
        want_esr, elr = 0x1234, CODE  # IRQ and FIQ leave ESR alone
    check_exception(ex, target, table + _OFFSET[kind], want_esr, elr)
    # SPSR: NZCV, PAN (22), IL (20), DAIF, M[3:0] = EL:SPSel
    assert core.sysreg(f"SPSR_EL{target}") == N | C | (1 << 22) | DAIF_D | (src_el << 2) | spsel
    assert core.sysreg(f"ELR_EL{target}") == elr
    # PSTATE after entry: the target EL on SP_ELx, everything masked, flags and PAN kept
    assert (core.el, core.spsel, core.daif, core.nzcv, pan(core)) == \
        (target, 1, DAIF_ALL, N | C, 1)
    assert core.sp == STACK[target]

    core.set_lines(irq=False, fiq=False, serror=False)
    assert core.run(1).kind == exits.BUDGET  # the ERET in the vector
    assert (core.pc, core.el, core.spsel, core.daif, core.nzcv, pan(core)) == \
        (elr, src_el, spsel, DAIF_D, N | C, 1)
    assert core.sp == STACK[src_el if spsel else 0]


# --- interrupt routing and masking (D1.4.6: tables D1-21 and the SError ones) ------------

# the three kinds of interrupt: input line, HCR_EL2 routing bit, virtual pending bit,
# PSTATE mask bit, vector offset
INTERRUPTS = {
    "irq": ("irq", "IMO", "VI", DAIF_I, IRQ),
    "fiq": ("fiq", "FMO", "VF", DAIF_F, FIQ),
    "serror": ("serror", "AMO", "VSE", DAIF_A, SERROR),
}

# (id, HCR_EL2 bits, EL, masked, where the physical interrupt is taken: EL1, EL2 or None
# = it stays pending). "MO" is the kind's routing bit (IMO/FMO/AMO).
PHYSICAL_ROUTING = [
    ("el0_unmasked", (), 0, False, 1),
    ("el0_masked", (), 0, True, None),
    ("el1_unmasked", (), 1, False, 1),
    ("el1_masked", (), 1, True, None),
    ("el2_routed_to_el1_not_taken", (), 2, False, None),
    ("el2_routed_to_el1_masked", (), 2, True, None),
    ("el0_mo", ("MO",), 0, False, 2),
    ("el0_mo_ignores_mask", ("MO",), 0, True, 2),
    ("el1_mo", ("MO",), 1, False, 2),
    ("el1_mo_ignores_mask", ("MO",), 1, True, 2),
    ("el2_mo_unmasked", ("MO",), 2, False, 2),
    ("el2_mo_masked", ("MO",), 2, True, None),
    ("el0_tge", ("TGE",), 0, False, 2),
    ("el0_tge_ignores_mask", ("TGE",), 0, True, 2),
    ("el2_tge_unmasked", ("TGE",), 2, False, 2),
    ("el2_tge_masked", ("TGE",), 2, True, None),
    ("el1_e2h_routed_to_el1", ("E2H",), 1, False, 1),
    ("el2_e2h_routed_to_el1_not_taken", ("E2H",), 2, False, None),
    ("el0_host_unmasked", ("E2H", "TGE"), 0, False, 2),
    # E2H = TGE = 1: EL0 belongs to the EL2&0 regime, PSTATE masks it (table D1-21, "B")
    ("el0_host_masked", ("E2H", "TGE"), 0, True, None),
    ("el2_host_unmasked", ("E2H", "TGE"), 2, False, 2),
    ("el2_host_masked", ("E2H", "TGE"), 2, True, None),
]

# (id, HCR_EL2 bits, EL, masked, where the virtual interrupt is taken). "V" is the kind's
# virtual pending bit (VI/VF/VSE); it counts only with "MO" set and TGE clear.
VIRTUAL_ROUTING = [
    ("el1_unmasked", ("MO", "V"), 1, False, 1),
    ("el1_masked", ("MO", "V"), 1, True, None),
    ("el0_unmasked", ("MO", "V"), 0, False, 1),
    ("el0_masked", ("MO", "V"), 0, True, None),
    ("el2_never", ("MO", "V"), 2, False, None),
    ("without_routing_bit", ("V",), 1, False, None),
    ("tge_disables_it", ("MO", "V", "TGE"), 0, False, None),
    ("el1_with_e2h", ("MO", "V", "E2H"), 1, False, 1),
]


def _routing_params(table):
    return [pytest.param(kind, *row[1:], id=f"{kind}_{row[0]}")
            for kind in INTERRUPTS for row in table]


def _routing_case(kind, bits, el, masked, virtual):
    line, route, pend, mask, vector = INTERRUPTS[kind]
    names = [route if b == "MO" else pend if b == "V" else b for b in bits]
    core = make_core("nop", "nop", el=el, hcr_bits=hcr(*names),
                     daif=mask if masked else DAIF_ALL & ~mask)
    if not virtual:
        core.set_lines(**{line: True})
    return core, vector


def _check_routing(core, el, target, vector):
    ex = core.run(1)
    if target is None:
        assert ex.kind == exits.BUDGET, f"taken, but it should stay pending: {ex}"
        assert (core.pc, core.el) == (CODE + 4, el)
    else:
        table = VBAR[target] + (LOWER if el < target else CUR_SPX)
        check_exception(ex, target, table + vector, elr=CODE)


@pytest.mark.parametrize("kind, bits, el, masked, target",
                         _routing_params(PHYSICAL_ROUTING))
def test_physical_interrupt_routing(kind, bits, el, masked, target):
    core, vector = _routing_case(kind, bits, el, masked, virtual=False)
    _check_routing(core, el, target, vector)


@pytest.mark.parametrize("kind, bits, el, masked, target", _routing_params(VIRTUAL_ROUTING))
def test_virtual_interrupt_routing(kind, bits, el, masked, target):
    core, vector = _routing_case(kind, bits, el, masked, virtual=True)
    _check_routing(core, el, target, vector)


def test_taking_a_virtual_serror_clears_hcr_vse():
    core = make_core("nop", el=1, hcr_bits=hcr("AMO", "VSE"), daif=0)
    check_exception(core.run(1), 1, VBAR1 + CUR_SPX + SERROR, esr(EC_SERROR), CODE)
    assert core.sysreg("HCR_EL2") == hcr("AMO")
    assert core.run(1).kind == exits.BUDGET  # ERET back: not taken a second time
    assert core.pc == CODE


# ISR_EL1 (A 8, I 7, F 6) with every interrupt masked: (id, HCR_EL2 bits, EL, lines
# asserted, value). At EL1 with IMO/FMO/AMO set it shows the virtual interrupts; at EL2
# always the physical ones (the ISR_EL1 field descriptions).
ISR_CASES = [
    ("el1_nothing_pending", (), 1, (), 0),
    ("el1_physical_irq", (), 1, ("irq",), 0x80),
    ("el1_physical_fiq", (), 1, ("fiq",), 0x40),
    ("el1_physical_serror", (), 1, ("serror",), 0x100),
    ("el1_all_physical", (), 1, ("irq", "fiq", "serror"), 0x1C0),
    ("el1_virtual_irq", ("IMO", "VI"), 1, (), 0x80),
    ("el1_virtual_fiq", ("FMO", "VF"), 1, (), 0x40),
    ("el1_virtual_serror", ("AMO", "VSE"), 1, (), 0x100),
    ("el1_vi_without_imo_not_shown", ("VI",), 1, (), 0),
    ("el1_virtual_irq_physical_fiq", ("IMO", "VI"), 1, ("fiq",), 0xC0),
    ("el2_physical_irq", (), 2, ("irq",), 0x80),
    ("el2_physical_irq_with_imo", ("IMO",), 2, ("irq",), 0x80),
    ("el2_virtual_irq_not_shown", ("IMO", "VI"), 2, (), 0),
    ("el2_physical_serror_with_amo", ("AMO",), 2, ("serror",), 0x100),
]


@pytest.mark.parametrize("bits, el, lines, value", [
    pytest.param(*r[1:], id=r[0]) for r in ISR_CASES])
def test_isr_el1(bits, el, lines, value):
    core = make_core("mrs x0, isr_el1", el=el, hcr_bits=hcr(*bits), daif=DAIF_ALL)
    core.set_lines(**{line: True for line in lines})
    assert core.run(1).kind == exits.BUDGET
    assert core.x(0) == value


# an interrupt made deliverable by an instruction is taken right after it, at EL1 with
# everything masked before: (id, the instruction, x1, line, vector offset, DAIF saved)
UNMASKING = [
    ("daifclr_i", "msr daifclr, #2", 0, "irq", IRQ, DAIF_D | DAIF_A | DAIF_F),
    ("daifclr_f", "msr daifclr, #1", 0, "fiq", FIQ, DAIF_D | DAIF_A | DAIF_I),
    ("daifclr_a", "msr daifclr, #4", 0, "serror", SERROR, DAIF_D | DAIF_I | DAIF_F),
    ("msr_daif_register", "msr daif, x1", DAIF_D, "irq", IRQ, DAIF_D),
]


@pytest.mark.parametrize("insn, x1, line, offset, saved",
                         [pytest.param(*r[1:], id=r[0]) for r in UNMASKING])
def test_interrupt_unmasked_by_an_instruction_is_taken_after_it(insn, x1, line, offset,
                                                                saved):
    core = make_core("nop", insn, "nop", "nop", el=1, daif=DAIF_ALL)
    core.set_x(1, x1)
    core.set_lines(**{line: True})
    assert core.run(1).kind == exits.BUDGET  # masked: the NOP runs
    check_exception(core.run(10), 1, VBAR1 + CUR_SPX + offset, elr=CODE + 8)
    assert core.icount == 2
    assert core.sysreg("SPSR_EL1") == saved | 0x5


def test_virtual_irq_set_at_el2_is_taken_at_el1_after_eret():
    # at EL2, HCR_EL2.VI does nothing; the ERET to EL1h (unmasked) makes it deliverable
    core = make_core("msr hcr_el2, x1", "nop", "eret", el=2,
                     sysregs={"SPSR_EL2": 0x5, "ELR_EL2": CODE + 0x100})
    core.set_x(1, hcr("IMO", "VI"))
    core.daif = 0
    check_exception(core.run(10), 1, VBAR1 + CUR_SPX + IRQ, elr=CODE + 0x100)
    assert core.icount == 3


# --- WFI and WFE: traps, and the event register --------------------------------------------

# (id, EL, HCR_EL2 bits, SCTLR_EL1, SCTLR_EL2 or None (reset), instruction, expected:
# exits.WFI/WFE (it retired and the core waits) or (EL, vector) of the trap)
SCTLR_EL1_RESET = sysreg_table.SCTLR_EL1_RES1 | (1 << 6)
SCTLR_EL2_RESET = sysreg_table.SCTLR_EL2_RES1
WFX_CASES = [
    ("el1_wfi_trapped_by_twi", 1, ("TWI",), SCTLR_EL1_RESET, None, "wfi", (2, VBAR2 + LOWER)),
    ("el1_wfe_trapped_by_twe", 1, ("TWE",), SCTLR_EL1_RESET, None, "wfe", (2, VBAR2 + LOWER)),
    ("el1_wfi_not_trapped_by_twe", 1, ("TWE",), SCTLR_EL1_RESET, None, "wfi", exits.WFI),
    ("el1_wfe_not_trapped_by_twi", 1, ("TWI",), SCTLR_EL1_RESET, None, "wfe", exits.WFE),
    ("el1_wfi_untrapped", 1, (), SCTLR_EL1_RESET, None, "wfi", exits.WFI),
    ("el2_wfi_ignores_twi", 2, ("TWI", "TWE"), SCTLR_EL1_RESET, None, "wfi", exits.WFI),
    ("el2_wfe_ignores_twe", 2, ("TWI", "TWE"), SCTLR_EL1_RESET, None, "wfe", exits.WFE),
    ("el0_wfi_trapped_by_ntwi_0", 0, (), SCTLR_EL1_RESET, None, "wfi", (1, VBAR1 + LOWER)),
    ("el0_wfe_trapped_by_ntwe_0", 0, (), SCTLR_EL1_RESET, None, "wfe", (1, VBAR1 + LOWER)),
    ("el0_wfi_ntwi_1", 0, (), SCTLR_EL1_RESET | NTWI, None, "wfi", exits.WFI),
    ("el0_wfe_ntwe_1", 0, (), SCTLR_EL1_RESET | NTWE, None, "wfe", exits.WFE),
    ("el0_wfi_ntwe_1_still_trapped", 0, (), SCTLR_EL1_RESET | NTWE, None, "wfi",
     (1, VBAR1 + LOWER)),
    ("el0_wfi_ntwi_1_trapped_by_twi", 0, ("TWI",), SCTLR_EL1_RESET | NTWI, None, "wfi",
     (2, VBAR2 + LOWER)),
    ("el0_wfi_el1_trap_before_el2_trap", 0, ("TWI",), SCTLR_EL1_RESET, None, "wfi",
     (1, VBAR1 + LOWER)),
    ("el0_tge_ntwi_0_to_el2", 0, ("TGE",), SCTLR_EL1_RESET, None, "wfi", (2, VBAR2 + LOWER)),
    ("el0_host_sctlr_el2_ntwi_1", 0, ("E2H", "TGE", "TWI"), SCTLR_EL1_RESET,
     SCTLR_EL2_RESET, "wfi", exits.WFI),
    ("el0_host_sctlr_el2_ntwi_0", 0, ("E2H", "TGE"), SCTLR_EL1_RESET | NTWI,
     SCTLR_EL2_RESET & ~NTWI, "wfi", (2, VBAR2 + LOWER)),
    ("el0_host_sctlr_el2_ntwe_0", 0, ("E2H", "TGE"), SCTLR_EL1_RESET | NTWE,
     SCTLR_EL2_RESET & ~NTWE, "wfe", (2, VBAR2 + LOWER)),
]


@pytest.mark.parametrize("el, bits, sctlr1, sctlr2, insn, expected", [
    pytest.param(*r[1:], id=r[0]) for r in WFX_CASES])
def test_wfi_wfe_traps(el, bits, sctlr1, sctlr2, insn, expected):
    sysregs = {"SCTLR_EL1": sctlr1}
    if sctlr2 is not None:
        sysregs["SCTLR_EL2"] = sctlr2
    core = make_core(insn, "nop", el=el, hcr_bits=hcr(*bits), sysregs=sysregs)
    ex = core.run(2)
    if isinstance(expected, tuple):  # EC 0x01: CV = 1, COND = 0b1110, TI = 0 WFI / 1 WFE
        iss = (1 << 24) | (0xE << 20) | (1 if insn == "wfe" else 0)
        check_exception(ex, *expected, esr(EC_WFX, iss), elr=CODE)
    else:
        assert (ex.kind, ex.pc, core.pc, core.icount) == (expected, CODE, CODE + 4, 1)


def test_event_from_elsewhere_makes_the_next_wfe_return():
    core = make_core("wfe", "wfe", "nop")
    assert not core.event_register
    core.send_event()
    assert core.event_register
    ex = core.run(3)  # the first WFE consumes the event, the second one waits
    assert (ex.kind, ex.pc, core.event_register) == (exits.WFE, CODE + 4, False)


def test_sevl_sets_the_event_register_and_wfe_clears_it():
    core = make_core("sevl", "wfe", "nop")
    assert core.run(3).kind == exits.SEVL and core.event_register
    assert core.run(2).kind == exits.BUDGET and not core.event_register
    assert core.pc == CODE + 12


def test_wfe_with_an_event_pending_is_not_trapped():
    core = make_core("sevl", "wfe", "nop", el=1, hcr_bits=hcr("TWE"))
    assert core.run(3).kind == exits.SEVL
    assert core.run(2).kind == exits.BUDGET
    assert (core.pc, core.el, core.event_register) == (CODE + 12, 1, False)


def test_wfi_with_an_interrupt_pending_is_not_trapped():
    core = make_core("wfi", "nop", el=1, hcr_bits=hcr("TWI"), daif=DAIF_ALL)
    core.set_lines(irq=True)  # routed to EL1, masked: pending
    ex = core.run(2)
    assert ex.kind == exits.WFI and core.el == 1  # completes; the caller sees the work


def test_exception_return_sets_the_event_register():
    core = make_core("eret", sysregs={"SPSR_EL2": 0x3C5, "ELR_EL2": CODE + 0x40})
    core.load(CODE + 0x40, code("wfe", "nop"))
    assert core.run(1).kind == exits.BUDGET and core.event_register
    assert core.run(2).kind == exits.BUDGET and not core.event_register


# --- PAN: set on entry by SCTLR_ELx.SPAN = 0, saved in SPSR[22], restored by ERET --------------

# (id, from EL, HCR_EL2 bits, registers whose SPAN is cleared, PSTATE.PAN before,
# instruction, target EL, PSTATE.PAN after entry)
PAN_CASES = [
    ("el0_to_el1_span0_sets_pan", 0, (), ("SCTLR_EL1",), 0, "svc #0", 1, 1),
    ("el0_to_el1_span1_keeps_pan_clear", 0, (), (), 0, "svc #0", 1, 0),
    ("el1_to_el1_span1_keeps_pan_set", 1, (), (), 1, "svc #0", 1, 1),
    ("el1_to_el1_span0_pan_set_stays_set", 1, (), ("SCTLR_EL1",), 1, "svc #0", 1, 1),
    ("el1_to_el1_span0_sets_pan", 1, (), ("SCTLR_EL1",), 0, "svc #0", 1, 1),
    ("el1_to_el2_leaves_pan", 1, (), ("SCTLR_EL1", "SCTLR_EL2"), 0, "hvc #0", 2, 0),
    ("el1_to_el2_e2h_without_tge_leaves_pan", 1, ("E2H",), ("SCTLR_EL2",), 0, "hvc #0", 2, 0),
    ("el0_to_el2_host_span0_sets_pan", 0, ("E2H", "TGE"), ("SCTLR_EL2",), 0, "svc #0", 2, 1),
    ("el0_to_el2_host_span1", 0, ("E2H", "TGE"), ("SCTLR_EL1",), 0, "svc #0", 2, 0),
    ("el2_host_span0_sets_pan", 2, ("E2H", "TGE"), ("SCTLR_EL2",), 0, "svc #0", 2, 1),
    ("el2_without_host_leaves_pan", 2, (), ("SCTLR_EL2",), 0, "svc #0", 2, 0),
]


@pytest.mark.parametrize("src_el, bits, span0, before, insn, target, after",
                         [pytest.param(*r[1:], id=r[0]) for r in PAN_CASES])
def test_pan_on_exception_entry_and_return(src_el, bits, span0, before, insn, target, after):
    core = make_core(insn, el=src_el, hcr_bits=hcr(*bits), daif=0)
    for name in span0:
        core.set_sysreg(name, core.sysreg(name) & ~SPAN)
    set_pan(core, before)
    check_exception(core.run(1), target, VBAR[target] + (LOWER if src_el < target else
                                                         CUR_SPX) + SYNC, elr=CODE + 4)
    assert (core.sysreg(f"SPSR_EL{target}") >> 22) & 1 == before
    assert pan(core) == after
    assert core.run(1).kind == exits.BUDGET  # ERET
    assert (core.el, pan(core)) == (src_el, before)


# --- the EL2&0 regime: HCR_EL2.{E2H, TGE} = {1, 1} ------------------------------------------

# from EL0 in the host: (id, instruction, ESR, ELR offset from the instruction)
HOST_EL0_EXCEPTIONS = [
    ("svc", "svc #0x11", esr(EC_SVC, 0x11), 4),
    ("brk", "brk #0x22", esr(EC_BRK, 0x22), 0),
    ("udf", "udf #0", esr(EC_UNKNOWN), 0),
    ("el1_register_undefined", "mrs x0, sctlr_el1", esr(EC_UNKNOWN), 0),
    ("hvc_undefined", "hvc #0", esr(EC_UNKNOWN), 0),
]


@pytest.mark.parametrize("insn, esr_value, elr_off",
                         [pytest.param(*r[1:], id=r[0]) for r in HOST_EL0_EXCEPTIONS])
def test_host_el0_exceptions_go_to_el2(insn, esr_value, elr_off):
    core = make_core(insn, el=0, hcr_bits=hcr("E2H", "TGE"), daif=0)
    check_exception(core.run(1), 2, VBAR2 + LOWER + SYNC, esr_value, CODE + elr_off)
    assert core.sysreg("SPSR_EL2") == 0  # EL0t, nothing masked
    assert core.run(1).kind == exits.BUDGET and core.el == 0  # ERET back to EL0


def test_host_el0_physical_irq_goes_to_el2_with_imo_clear():
    core = make_core("nop", el=0, hcr_bits=hcr("E2H", "TGE"), daif=0)
    core.set_lines(irq=True)
    check_exception(core.run(1), 2, VBAR2 + LOWER + IRQ, elr=CODE)
    assert core.sysreg("HCR_EL2") & (1 << HCR["IMO"]) == 0


# --- stack pointers --------------------------------------------------------------------------

def test_stack_pointers_are_banked_across_entry_and_return():
    # EL0 --svc--> EL1 (moves its SP) --hvc--> EL2 --eret--> EL1 --eret--> EL0 --svc--> EL1
    core = make_core("svc #0", "svc #1", el=0, daif=0)
    core.load(VBAR1 + LOWER + SYNC, code("add sp, sp, #0x10", "hvc #0", "eret"))
    check_exception(core.run(1), 1, VBAR1 + LOWER + SYNC)
    assert core.sp == STACK[1]
    check_exception(core.run(10), 2, VBAR2 + LOWER + SYNC)
    assert core.sp == STACK[2]
    assert core.run(1).kind == exits.BUDGET  # ERET to EL1
    assert (core.el, core.sp) == (1, STACK[1] + 0x10)
    assert core.run(1).kind == exits.BUDGET  # ERET to EL0
    assert (core.el, core.pc, core.sp) == (0, CODE + 4, STACK[0])
    check_exception(core.run(1), 1, VBAR1 + LOWER + SYNC)
    assert core.sp == STACK[1] + 0x10 and sp_of(core, 2) == STACK[2]


@pytest.mark.parametrize("el", [1, 2])
def test_msr_spsel_switches_between_sp_el0_and_sp_elx(el):
    core = make_core("mov x0, sp", "msr spsel, #0", "mov x1, sp", "add sp, sp, #0x20",
                     "msr spsel, #1", "mov x2, sp", "mrs x3, sp_el0", el=el)
    assert core.run(7).kind == exits.BUDGET
    assert [core.x(n) for n in range(4)] == [STACK[el], STACK[0], STACK[el], STACK[0] + 0x20]
    assert core.spsel == 1 and sp_of(core, 0) == STACK[0] + 0x20


@pytest.mark.parametrize("el", [1, 2])
@pytest.mark.parametrize("insn", ["mrs x0, sp_el0", "msr sp_el0, x0"])
def test_sp_el0_is_undefined_while_it_is_the_stack_pointer(el, insn):
    core = make_core(insn, el=el, spsel=0)
    core.set_x(0, 0x1234)
    check_undefined(core.run(1), el, VBAR[el] + CUR_SP0 + SYNC)
    assert core.x(0) == 0x1234 and sp_of(core, 0) == STACK[0]


def test_msr_sp_el0_sets_the_stack_of_el0():
    core = make_core("msr sp_el0, x0", "eret", el=1,
                     sysregs={"SPSR_EL1": 0x0, "ELR_EL1": CODE + 0x40})
    core.load(CODE + 0x40, code("mov x1, sp"))
    core.set_x(0, BASE + 0xD000)
    assert core.run(3).kind == exits.BUDGET
    assert (core.el, core.x(1)) == (0, BASE + 0xD000)


def test_sp_el1_is_reachable_from_el2():
    core = make_core("mrs x0, sp_el1", "msr sp_el1, x1", "eret", el=2,
                     sysregs={"SPSR_EL2": 0x3C5, "ELR_EL2": CODE + 0x40})
    core.load(CODE + 0x40, code("mov x2, sp"))
    core.set_x(1, BASE + 0xC000)
    assert core.run(4).kind == exits.BUDGET
    assert (core.x(0), core.el, core.x(2)) == (STACK[1], 1, BASE + 0xC000)
    assert sp_of(core, 2) == STACK[2]


@pytest.mark.parametrize("el, insn", [(1, "mrs x0, sp_el1"), (1, "msr sp_el1, x0"),
                                      (2, "mrs x0, sp_el2")],
                         ids=["sp_el1_at_el1", "msr_sp_el1_at_el1", "sp_el2_at_el2"])
def test_own_and_higher_stack_pointers_are_undefined_by_name(el, insn):
    core = make_core(insn, el=el)
    check_undefined(core.run(1), el, VBAR[el] + CUR_SPX + SYNC)


# --- DC ZVA, DCZID_EL0, IC ---------------------------------------------------------------------

# DCZID_EL0: BS = 4 (64 bytes); DZP (bit 4) says whether DC ZVA is prohibited where read
# (the DCZID_EL0 and SCTLR_EL1.DZE descriptions): (id, EL, HCR_EL2 bits, SCTLR_EL1.DZE,
# SCTLR_EL2.DZE, value)
DCZID_CASES = [
    ("el2", 2, (), 0, 0, 0x04),
    ("el1", 1, (), 0, 0, 0x04),
    ("el0_with_dze", 0, (), 1, 0, 0x04),
    ("el0_without_dze", 0, (), 0, 1, 0x14),
    ("el1_with_tdz", 1, ("TDZ",), 1, 1, 0x14),
    ("el0_host_with_sctlr_el2_dze", 0, ("E2H", "TGE"), 0, 1, 0x04),
    ("el0_host_without_sctlr_el2_dze", 0, ("E2H", "TGE"), 1, 0, 0x14),
]


@pytest.mark.parametrize("el, bits, dze1, dze2, value", [
    pytest.param(*r[1:], id=r[0]) for r in DCZID_CASES])
def test_dczid_el0(el, bits, dze1, dze2, value):
    core = make_core("mrs x0, dczid_el0", el=el, hcr_bits=hcr(*bits), sysregs={
        "SCTLR_EL1": SCTLR_EL1_RESET | (DZE if dze1 else 0),
        "SCTLR_EL2": SCTLR_EL2_RESET | (DZE if dze2 else 0)})
    assert core.run(1).kind == exits.BUDGET
    assert core.x(0) == value


# DC ZVA, x1 = DATA + 0x47: (id, EL, HCR_EL2 bits, SCTLR_EL1.DZE, SCTLR_EL2.DZE, None =
# the block is zeroed, or (EL, vector) of the EC 0x18 trap)
DC_ZVA_CASES = [
    ("el2", 2, (), 0, 0, None),
    ("el1", 1, (), 0, 0, None),
    ("el0_with_dze", 0, (), 1, 0, None),
    ("el0_without_dze_traps_to_el1", 0, (), 0, 1, (1, VBAR1 + LOWER)),
    ("el1_tdz_traps_to_el2", 1, ("TDZ",), 1, 1, (2, VBAR2 + LOWER)),
    ("el0_tdz_traps_to_el2", 0, ("TDZ",), 1, 1, (2, VBAR2 + LOWER)),
    ("el0_tge_without_dze_traps_to_el2", 0, ("TGE",), 0, 1, (2, VBAR2 + LOWER)),
    ("el0_host_uses_sctlr_el2_dze", 0, ("E2H", "TGE"), 0, 1, None),
    ("el0_host_without_sctlr_el2_dze", 0, ("E2H", "TGE"), 1, 0, (2, VBAR2 + LOWER)),
    ("el0_host_ignores_tdz", 0, ("E2H", "TGE", "TDZ"), 0, 1, None),
]


@pytest.mark.parametrize("el, bits, dze1, dze2, trap",
                         [pytest.param(*r[1:], id=r[0]) for r in DC_ZVA_CASES])
def test_dc_zva(el, bits, dze1, dze2, trap):
    core = make_core("dc zva, x1", el=el, hcr_bits=hcr(*bits), sysregs={
        "SCTLR_EL1": SCTLR_EL1_RESET | (DZE if dze1 else 0),
        "SCTLR_EL2": SCTLR_EL2_RESET | (DZE if dze2 else 0)})
    core.load(DATA, b"\xA5" * 0x100)
    core.set_x(1, DATA + 0x47)
    ex = core.run(1)
    if trap is None:
        assert ex.kind == exits.BUDGET
        assert core.read(DATA, 0x100) == b"\xA5" * 0x40 + bytes(0x40) + b"\xA5" * 0x80
    else:  # ISS: Op0 1, Op2 1, Op1 3, CRn 7, Rt 1, CRm 4, direction 0 (a write/SYS)
        iss = (1 << 20) | (1 << 17) | (3 << 14) | (7 << 10) | (1 << 5) | (4 << 1)
        check_exception(ex, *trap, esr(EC_SYSREG, iss), elr=CODE)
        assert core.read(DATA, 0x100) == b"\xA5" * 0x100


@pytest.mark.parametrize("insn", ["ic iallu", "ic ialluis", "ic ivau, x1"])
def test_instruction_cache_invalidation_runs_code_written_behind_the_cores_back(insn):
    # CODE: movz x0, #1 ; hlt #0. It runs once (and is decoded), then RAM is changed
    # directly (core.ram, not core.load) and CODE + 0x100 invalidates and branches back.
    core = make_core("movz x0, #1", "hlt #0")
    core.load(CODE + 0x100, code(insn, "isb", "b .-0x108"))
    core.set_x(1, CODE)
    assert core.run(10).kind == exits.HLT and core.x(0) == 1
    off = CODE - BASE
    core.ram[off:off + 4] = np.frombuffer(code("movz x0, #2"), dtype=np.uint8)
    core.pc = CODE + 0x100
    ex = core.run(10)
    assert (ex.kind, ex.pc, core.x(0)) == (exits.HLT, CODE + 4, 2)
