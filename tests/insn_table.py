"""A tiny harness for the table-driven instruction tests (tests/test_insn_*.py).

Each case is one `row(...)`: the code (encodings with their assembly text), the state
before, the budget of instructions to run, and the state expected afterwards. The
expected values are fixed numbers worked out from the Arm ARM pseudocode; nothing is
computed by a reference model at run time.

    row("adds_x_overflow", (0xAB020020, "adds x0, x1, x2"),
        {"x1": INT64_MAX, "x2": 1},
        {"x0": 1 << 63, "nzcv": N | V})

State keys (`before` and `after`):
    "x0".."x30"  a full 64-bit register (W results are written as X values, so that
                 the zeroing of bits 63:32 is checked too)
    "sp", "nzcv" (architectural format: N, Z, C, V are bits 31..28; use N | Z | C | V)
    "pc"         before: where to start (default: the first instruction);
                 after: default the instruction after the ones run (straight-line code)
    "mem"        {address: bytes}; before: loaded into RAM; after: expected contents
    "code_at"    before only: where the code is loaded (default CODE)
    "exit"       after only: an `Ex` for the exit `run` finally returns (default BUDGET)
    "retired"    after only: instructions retired (default from the exit, see below)

Everything the row does not name in `after` must be unchanged: all of X0-X30 (filled
with distinct junk by default), SP, NZCV and every byte of RAM.

A row may list `events`: exits expected on the way (device accesses, system register
accesses, hints that exit), each served as the caller would (`Ex.serve`) before the
run resumes with what is left of the budget.
"""

from __future__ import annotations

import dataclasses
import re
import struct

import numpy as np

from smpsim.jit import exceptions as exc
from smpsim.jit import exits
from smpsim.jit.core import Core
from smpsim.jit.exits import (BUDGET, EXCEPTION, FETCH_ABORT, HLT, MMIO_READ,  # noqa: F401
                              MMIO_WRITE, SEV, SEVL, SMC, SYSREG, WFE, WFI)

RAM_BASE = 0x4000_0000
RAM_SIZE = 0x1_0000
CODE = 0x4000_1000  # code is loaded here unless a row says otherwise
DATA = 0x4000_8000  # a data area for the load/store rows
STACK = 0x4000_F000  # the default SP
DEVICE = 0x0900_0000  # not RAM: every access is a device (MMIO) access
VECTORS = RAM_BASE  # VBAR_EL1 and VBAR_EL2 of every row
SYNC_SAME_EL = VECTORS + 0x200  # the vector of a synchronous exception at EL2 (or EL1) with SPx

N, Z, C, V = 1 << 31, 1 << 30, 1 << 29, 1 << 28
INT64_MAX, INT64_MIN = (1 << 63) - 1, 1 << 63
M64, M32 = (1 << 64) - 1, (1 << 32) - 1

_RETIRING = (WFI, WFE, SEV, SEVL)  # the instruction retired, then the exit


def fill(n: int) -> int:
    """The junk value X<n> holds unless a row sets it."""
    return 0xC0DE_0000_0000_0000 | (n << 40) | (n << 8) | n


def u8(v: int) -> bytes:
    return struct.pack("<B", v & 0xFF)


def u16(v: int) -> bytes:
    return struct.pack("<H", v & 0xFFFF)


def u32(v: int) -> bytes:
    return struct.pack("<I", v & M32)


def u64(v: int) -> bytes:
    return struct.pack("<Q", v & M64)


def sysreg_key(op0: int, op1: int, crn: int, crm: int, op2: int) -> int:
    """The SYSREG exit key, as exits.py defines it."""
    return (op0 << 14) | (op1 << 11) | (crn << 7) | (crm << 3) | op2


@dataclasses.dataclass(frozen=True)
class Ex:
    """An expected exit. Fields left None are not checked.

    `answer` is how the caller serves it when it is an event: the value an MMIO_READ
    returns, or the result a SYSREG read delivers to its Rt."""
    kind: int
    a: int | None = None
    b: int | None = None
    c: int | None = None
    d: int | None = None
    pc: int | None = None
    answer: int | None = None

    def serve(self, core: Core) -> None:
        if self.kind == MMIO_READ:
            core.answer_mmio(self.answer if self.answer is not None else 0)
        elif self.kind == MMIO_WRITE:
            core.answer_mmio()
        elif self.kind == SYSREG:
            core.complete(self.answer)
        elif self.kind in _RETIRING or self.kind == EXCEPTION:
            pass
        else:
            core.complete()

    def __str__(self) -> str:
        fields = ", ".join(f"{k}={getattr(self, k):#x}" for k in ("a", "b", "c", "d", "pc")
                           if getattr(self, k) is not None)
        return f"{exits.NAMES[self.kind]}({fields})"


def Exc(ec: int, iss: int | None = 0, elr: int | None = None, far: int | None = None,
        el: int = 2, vector: int = SYNC_SAME_EL) -> Ex:
    """An exception the core takes (rows run with stop_on_exception): class `ec` with
    `iss` (None: unchecked), ELR `elr` (None: the row's last instruction), FAR `far`."""
    esr = None if iss is None else (ec << 26) | (1 << 25) | iss
    return Ex(EXCEPTION, a=el, b=esr, c=elr, d=far, pc=vector)


def UNDEF(**kw) -> Ex:
    """The UNDEFINED exception (EC 0) for the row's last instruction."""
    return Exc(exc.EC_UNKNOWN, **kw)


@dataclasses.dataclass(frozen=True)
class Row:
    id: str
    code: tuple[tuple[int, str], ...]
    before: dict
    after: dict
    steps: int
    events: tuple[Ex, ...]

    def param(self):
        import pytest
        return pytest.param(self, id=self.id)


def row(id: str, code, before: dict | None = None, after: dict | None = None, *,
        steps: int | None = None, events=()) -> Row:
    """One case. `code` is an (encoding, assembly) pair or a list of them; `steps` is the
    instruction budget (default: one per instruction)."""
    if isinstance(code, tuple):
        code = [code]
    code = tuple((int(enc), str(asm)) for enc, asm in code)
    return Row(id, code, dict(before or {}), dict(after or {}),
               len(code) if steps is None else steps, tuple(events))


def params(rows):
    ids = [r.id for r in rows]
    dup = {i for i in ids if ids.count(i) > 1}
    assert not dup, f"duplicate row ids: {sorted(dup)}"
    return [r.param() for r in rows]


# --- running a row ------------------------------------------------------------------

def _hex(v) -> str:
    return f"{v:#x}" if isinstance(v, int) else repr(v)


def run_row(r: Row) -> None:
    __tracebackhide__ = True
    before, after = r.before, r.after
    state_keys = {"sp", "nzcv", "pc", "mem", "el", "daif", "spsel", "sysregs"}
    unknown = set(before) - {f"x{n}" for n in range(31)} - state_keys - {"code_at"}
    unknown |= set(after) - {f"x{n}" for n in range(31)} - state_keys - {"exit", "retired"}
    assert not unknown, f"unknown keys {sorted(unknown)}"

    ram = np.zeros(RAM_SIZE, dtype=np.uint8)
    core = Core(ram, RAM_BASE, cache_slots=4, stop_on_exception=True)
    core.set_sysreg("VBAR_EL1", VECTORS)
    core.set_sysreg("VBAR_EL2", VECTORS)
    if "el" in before:
        core.set_el(before["el"], before.get("spsel", 1))
    if "daif" in before:
        core.daif = before["daif"]
    for name, value in before.get("sysregs", {}).items():
        core.set_sysreg(name, value)
    code_at = before.get("code_at", CODE)
    core.load(code_at, b"".join(u32(enc) for enc, _ in r.code))
    for addr, data in before.get("mem", {}).items():
        core.load(addr, data)
    regs_before = {n: before.get(f"x{n}", fill(n)) & M64 for n in range(31)}
    for n, v in regs_before.items():
        core.set_x(n, v)
    core.sp = before.get("sp", STACK)
    core.nzcv = before.get("nzcv", 0)
    core.pc = before.get("pc", code_at)
    image = ram.copy()
    start = core.icount

    problems: list[str] = []

    def check(what, want, got):
        if want is not None and want != got:
            problems.append(f"{what}: expected {_hex(want)}, got {_hex(got)}")

    def check_exit(label, want: Ex, got):
        if got.kind != want.kind:
            problems.append(f"{label}: expected {want}, got {got}")
            return False
        for k in ("a", "b", "c", "d", "pc"):
            check(f"{label} {k}", getattr(want, k), getattr(got, k))
        return True

    for i, ev in enumerate(r.events):
        got = core.run(r.steps - (core.icount - start))
        if not check_exit(f"event {i}", ev, got):
            raise AssertionError(f"row {r.id}:\n  " + "\n  ".join(problems))
        ev.serve(core)

    want_exit = after.get("exit", Ex(BUDGET))
    last = code_at + 4 * (len(r.code) - 1)  # a non-BUDGET exit is by default at the last insn
    if want_exit.kind == EXCEPTION and want_exit.c is None:  # ELR: by default the last insn
        want_exit = dataclasses.replace(want_exit, c=last)
    if want_exit.kind not in (BUDGET, FETCH_ABORT) and want_exit.pc is None:
        want_exit = dataclasses.replace(want_exit, pc=last)
    left = r.steps - (core.icount - start)
    if left > 0 or want_exit.kind != BUDGET:  # (events may have used up the budget)
        got = core.run(left)
        if check_exit("exit", want_exit, got) and want_exit.pc == last:
            check("exit insn", r.code[-1][0], got.insn)

    # where the PC should be and how many instructions retired
    if want_exit.kind == BUDGET:
        pc = code_at + 4 * r.steps
        retired = r.steps
    elif want_exit.kind == EXCEPTION:  # stopped at the vector; the instruction counts
        pc, retired = want_exit.pc, len(r.code)
    elif want_exit.kind == FETCH_ABORT:
        pc, retired = want_exit.a, len(r.code)
    elif want_exit.kind in _RETIRING:
        pc, retired = want_exit.pc + 4, len(r.code)
    else:
        pc, retired = want_exit.pc, len(r.code) - 1
    check("pc", after.get("pc", pc), core.pc)
    check("retired", after.get("retired", retired), core.icount - start)

    for n in range(31):
        check(f"x{n}", after.get(f"x{n}", regs_before[n]), core.x(n))
    check("sp", after.get("sp", before.get("sp", STACK)), core.sp)
    check("nzcv", after.get("nzcv", before.get("nzcv", 0)), core.nzcv)
    if want_exit.kind != EXCEPTION:  # (taking one changes EL, DAIF and SPSel by design)
        check("el", after.get("el", before.get("el", 2)), core.el)
        check("daif", after.get("daif", before.get("daif", 0xF << 6)), core.daif)
    for name, value in after.get("sysregs", {}).items():
        check(name, value, core.sysreg(name))

    for addr, data in after.get("mem", {}).items():
        off = addr - RAM_BASE
        image[off:off + len(data)] = np.frombuffer(data, dtype=np.uint8)
    for off in np.flatnonzero(image != ram)[:16]:
        problems.append(f"mem[{RAM_BASE + int(off):#x}]: expected {int(image[off]):#04x}, "
                        f"got {int(ram[off]):#04x}")

    if problems:
        raise AssertionError(f"row {r.id}:\n  " + "\n  ".join(problems))


# --- the assembly text of a row against capstone ------------------------------------

_NUM = re.compile(r"#(-?)(0x[0-9a-f]+|\d+)\b")
_REL = re.compile(r"\.\s*([+-])\s*(0x[0-9a-f]+|\d+)\b")


def normalise(text: str, addr: int) -> str:
    """Assembly text in a canonical form: lower case, one space after commas, `.+N`
    targets made absolute (as capstone prints them for the instruction at `addr`), every
    immediate in decimal modulo the register width, MOVZ/MOVN written as their MOV alias."""
    t = " ".join(text.strip().lower().split())
    t = re.sub(r"\s*,\s*", ", ", t)
    mnemonic = t.split(" ", 1)[0]
    base = addr & ~0xFFF if mnemonic == "adrp" else addr

    def rel(m):
        off = int(m.group(2), 0)
        return f"#{base + (off if m.group(1) == '+' else -off)}"

    t = _REL.sub(rel, t)
    # immediates in decimal, modulo the width of the first register (capstone prints e.g.
    # `mov w0, #-0x10000` for 0xffff0000, `ldr w0, [x1], #0xfffffffffffffffc` for #-4)
    width = 32 if re.match(r"\S+ w", t) else 64

    def num(m):
        v = int(m.group(2), 0)
        return f"#{(-v if m.group(1) else v) % (1 << width)}"

    t = _NUM.sub(num, t)
    # MOVZ and MOVN as the MOV alias capstone prefers
    m = re.fullmatch(r"mov([zn]) ([wx]\w+), #(\d+)(?:, lsl #(\d+))?", t)
    if m:
        v = int(m.group(3)) << int(m.group(4) or 0)
        if m.group(1) == "n":
            v = ~v % (1 << width)
        t = f"mov {m.group(2)}, #{v}"
    return t


def asm_mismatches(rows) -> list[str]:
    """Rows whose assembly text does not match capstone's disassembly of the encoding.

    Text `.inst 0x...` (for encodings that are unallocated) must just repeat the word."""
    import capstone

    md = capstone.Cs(capstone.CS_ARCH_ARM64, capstone.CS_MODE_ARM)
    bad = []
    for r in rows:
        code_at = r.before.get("code_at", CODE)
        for i, (enc, asm) in enumerate(r.code):
            addr = code_at + 4 * i
            if asm.startswith(".inst"):
                if int(asm.split()[1], 0) != enc:
                    bad.append(f"{r.id}: {enc:#010x} is written as {asm!r}")
                continue
            insns = list(md.disasm(u32(enc), addr))
            got = f"{insns[0].mnemonic} {insns[0].op_str}" if insns else "(no disassembly)"
            if normalise(got, addr) != normalise(asm, addr):
                bad.append(f"{r.id}: {enc:#010x} is {got!r}, the row says {asm!r}")
    return bad
