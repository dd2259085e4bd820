#!/usr/bin/env python
"""smpsim's jit core against Unicorn on the same instruction streams.

    python benchmarks/bench_core.py            # the full run (~1-2 minutes, with a cold compile)
    python benchmarks/bench_core.py --quick    # a smoke run: a few seconds of measuring
    python -m benchmarks.bench_core --json out.json

Prints the machine, then for each workload the median MIPS of our core and of Unicorn
(measured interleaved, in this one process, over the same code and the same RAM
layout), their ratio and whether both ended in the same state; then the Numba compile
and start-up times (fresh subprocesses) and the memory of a process holding one core
with 512 MiB of RAM. Nothing here asserts a speed: it reports. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import re
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from importlib import metadata

import numpy as np

RAM_BASE = 0x4000_0000
RAM_SIZE = 512 << 20  # the same for our core and for Unicorn
CODE_AREA = RAM_BASE + 0x10_0000  # each program gets its own 64 KiB here
CODE_SLOT = 0x1_0000
DATA_AREA = RAM_BASE + 0x1000_0000  # each workload's buffers get their own 64 KiB here
DATA_SLOT = 0x1_0000

MASK64 = (1 << 64) - 1

# ======================================================================================
# A small A64 assembler: each function returns one 32-bit instruction word.
# Registers are numbers 0-31 (31 is XZR/WZR in every operand used here); sf=1 is the
# 64-bit form. Only the forms the workloads need.
# ======================================================================================

COND = {"eq": 0, "ne": 1, "hs": 2, "lo": 3, "mi": 4, "pl": 5, "vs": 6, "vc": 7,
        "hi": 8, "ls": 9, "ge": 10, "lt": 11, "gt": 12, "le": 13}
SHIFT = {"lsl": 0, "lsr": 1, "asr": 2, "ror": 3}
LOGICAL = {"and": (0, 0), "bic": (0, 1), "orr": (1, 0), "orn": (1, 1),
           "eor": (2, 0), "eon": (2, 1), "ands": (3, 0), "bics": (3, 1)}


def _check(value: int, lo: int, hi: int, what: str) -> int:
    if not lo <= value <= hi:
        raise ValueError(f"{what} {value} is outside [{lo}, {hi}]")
    return value


def addsub_imm(sub: int, setflags: int, rd: int, rn: int, imm12: int, sf: int = 1) -> int:
    """ADD/ADDS/SUB/SUBS (immediate), unshifted imm12."""
    _check(imm12, 0, 4095, "imm12")
    return (sf << 31 | sub << 30 | setflags << 29 | 0b100010 << 23 | imm12 << 10
            | rn << 5 | rd)


def add_imm(rd, rn, imm, sf=1):
    return addsub_imm(0, 0, rd, rn, imm, sf)


def sub_imm(rd, rn, imm, sf=1):
    return addsub_imm(1, 0, rd, rn, imm, sf)


def adds_imm(rd, rn, imm, sf=1):
    return addsub_imm(0, 1, rd, rn, imm, sf)


def subs_imm(rd, rn, imm, sf=1):
    return addsub_imm(1, 1, rd, rn, imm, sf)


def cmp_imm(rn, imm, sf=1):
    return subs_imm(31, rn, imm, sf)


def cmn_imm(rn, imm, sf=1):
    return adds_imm(31, rn, imm, sf)


def addsub_reg(sub: int, setflags: int, rd: int, rn: int, rm: int, shift: str = "lsl",
               amount: int = 0, sf: int = 1) -> int:
    """ADD/ADDS/SUB/SUBS (shifted register); ROR is not allowed."""
    if shift == "ror":
        raise ValueError("add/sub (shifted register) has no ROR")
    _check(amount, 0, 63 if sf else 31, "shift amount")
    return (sf << 31 | sub << 30 | setflags << 29 | 0b01011 << 24 | SHIFT[shift] << 22
            | rm << 16 | amount << 10 | rn << 5 | rd)


def logical_reg(name: str, rd: int, rn: int, rm: int, shift: str = "lsl", amount: int = 0,
                sf: int = 1) -> int:
    """AND/BIC/ORR/ORN/EOR/EON/ANDS/BICS (shifted register)."""
    opc, n = LOGICAL[name]
    _check(amount, 0, 63 if sf else 31, "shift amount")
    return (sf << 31 | opc << 29 | 0b01010 << 24 | SHIFT[shift] << 22 | n << 21 | rm << 16
            | amount << 10 | rn << 5 | rd)


def mov_reg(rd, rm, sf=1):
    """MOV (register) = ORR rd, zr, rm."""
    return logical_reg("orr", rd, 31, rm, sf=sf)


def bitmask_fields(value: int, width: int) -> tuple[int, int, int]:
    """(N, immr, imms) of a logical immediate, or ValueError if `value` has none."""
    value &= (1 << width) - 1
    for esize in (2, 4, 8, 16, 32, 64):
        if esize > width:
            break
        emask = (1 << esize) - 1
        elem = value & emask
        if any((value >> i) & emask != elem for i in range(0, width, esize)):
            continue
        ones = bin(elem).count("1")
        if ones in (0, esize):
            break
        run = (1 << ones) - 1
        for r in range(esize):  # elem = ROR(run, r) within the element
            if ((run >> r) | (run << (esize - r))) & emask == elem:
                return (1 if esize == 64 else 0, r, ((~(esize - 1) << 1) & 0x3F) | (ones - 1))
    raise ValueError(f"{value:#x} is not a {width}-bit logical immediate")


def logical_imm(name: str, rd: int, rn: int, value: int, sf: int = 1) -> int:
    """AND/ORR/EOR/ANDS (immediate)."""
    opc, n = LOGICAL[name]
    if n:
        raise ValueError(f"{name} has no immediate form")
    N, immr, imms = bitmask_fields(value, 64 if sf else 32)
    return (sf << 31 | opc << 29 | 0b100100 << 23 | N << 22 | immr << 16 | imms << 10
            | rn << 5 | rd)


def bitfield(opc: int, rd: int, rn: int, immr: int, imms: int, sf: int = 1) -> int:
    """SBFM (opc 0) / BFM (1) / UBFM (2)."""
    return (sf << 31 | opc << 29 | 0b100110 << 23 | sf << 22 | immr << 16 | imms << 10
            | rn << 5 | rd)


def lsl_imm(rd, rn, amount, sf=1):
    w = 64 if sf else 32
    _check(amount, 1, w - 1, "shift")
    return bitfield(2, rd, rn, (w - amount) % w, w - 1 - amount, sf)


def lsr_imm(rd, rn, amount, sf=1):
    w = 64 if sf else 32
    return bitfield(2, rd, rn, _check(amount, 1, w - 1, "shift"), w - 1, sf)


def asr_imm(rd, rn, amount, sf=1):
    w = 64 if sf else 32
    return bitfield(0, rd, rn, _check(amount, 1, w - 1, "shift"), w - 1, sf)


def shift_reg(name: str, rd: int, rn: int, rm: int, sf: int = 1) -> int:
    """LSLV/LSRV/ASRV/RORV (data processing, 2 source)."""
    opcode = {"lsl": 0b001000, "lsr": 0b001001, "asr": 0b001010, "ror": 0b001011}[name]
    return sf << 31 | 0b0011010110 << 21 | rm << 16 | opcode << 10 | rn << 5 | rd


def movz(rd, imm16, hw=0, sf=1):
    _check(imm16, 0, 0xFFFF, "imm16")
    return sf << 31 | 0b10 << 29 | 0b100101 << 23 | hw << 21 | imm16 << 5 | rd


def ldst_uimm(size: int, opc: int, rt: int, rn: int, offset: int) -> int:
    """LDR/STR family, unsigned scaled offset (size = log2 bytes, opc as the Arm ARM)."""
    if offset % (1 << size):
        raise ValueError(f"offset {offset} is not a multiple of {1 << size}")
    imm12 = _check(offset >> size, 0, 4095, "scaled offset")
    return size << 30 | 0b111001 << 24 | opc << 22 | imm12 << 10 | rn << 5 | rt


def _ldst_imm9(size, opc, rt, rn, simm9, mode):
    _check(simm9, -256, 255, "offset")
    return (size << 30 | 0b111000 << 24 | opc << 22 | (simm9 & 0x1FF) << 12 | mode << 10
            | rn << 5 | rt)


def ldst_unscaled(size, opc, rt, rn, simm9):
    """LDUR/STUR family."""
    return _ldst_imm9(size, opc, rt, rn, simm9, 0b00)


def ldst_post(size, opc, rt, rn, simm9):
    """LDR/STR family, post-index: [rn], #simm9."""
    return _ldst_imm9(size, opc, rt, rn, simm9, 0b01)


def ldst_reg(size: int, opc: int, rt: int, rn: int, rm: int) -> int:
    """LDR/STR family, register offset [rn, xm] (LSL #0)."""
    return (size << 30 | 0b111000 << 24 | opc << 22 | 1 << 21 | rm << 16 | 0b011 << 13
            | 0b10 << 10 | rn << 5 | rt)


def ldst_reg_scaled(size: int, opc: int, rt: int, rn: int, rm: int) -> int:
    """LDR/STR family, register offset scaled by the access size: [rn, xm, lsl #size]."""
    return ldst_reg(size, opc, rt, rn, rm) | 1 << 12


def ldstp(load: int, rt: int, rt2: int, rn: int, offset: int) -> int:
    """LDP/STP (64-bit), signed offset."""
    if offset % 8:
        raise ValueError(f"pair offset {offset} is not a multiple of 8")
    imm7 = _check(offset >> 3, -64, 63, "scaled pair offset") & 0x7F
    return 0b10 << 30 | 0b101 << 27 | 0b010 << 23 | load << 22 | imm7 << 15 | rt2 << 10 \
        | rn << 5 | rt


def b_cond(cond: str, offset: int) -> int:
    if offset % 4:
        raise ValueError("branch offset not a multiple of 4")
    _check(offset, -(1 << 20), (1 << 20) - 4, "b.cond offset")
    return 0b01010100 << 24 | ((offset >> 2) & 0x7FFFF) << 5 | COND[cond]


def hlt(imm16=0):
    return 0xD4400000 | _check(imm16, 0, 0xFFFF, "imm16") << 5


def reg(n: int, sf: int = 1) -> str:
    if n == 31:
        return "xzr" if sf else "wzr"
    return f"{'x' if sf else 'w'}{n}"


# ======================================================================================
# Programs and workloads
# ======================================================================================


class Program:
    """Instruction words at consecutive addresses, each with the text capstone should
    print for it (checked once by check_encodings)."""

    def __init__(self, base: int):
        self.base = base
        self.words: list[int] = []
        self.texts: list[str] = []

    @property
    def here(self) -> int:
        return self.base + 4 * len(self.words)

    def emit(self, word: int, text: str) -> None:
        if not 0 <= word <= 0xFFFF_FFFF:
            raise ValueError(f"bad instruction word {word:#x} for {text!r}")
        self.words.append(word)
        self.texts.append(text)

    def code(self) -> bytes:
        return struct.pack(f"<{len(self.words)}I", *self.words)


class Workload:
    """A program that runs `trip` times round its outer loop (the count in register
    `trip_reg`) and stops at the HLT at `end`; our core exits there (HLT does not
    retire), Unicorn is started with until=`end`."""

    def __init__(self, key, title, program, end, trip_reg, regs, data, compare,
                 insns=None):
        self.key = key
        self.title = title
        self.program = program
        self.entry = program.base
        self.end = end
        self.trip_reg = trip_reg
        self.regs = regs  # initial X registers (the others start at 0)
        self.data = data  # [(address, bytes)] written before every run
        self.compare = compare  # [(address, size)] compared after a run
        self.insns = insns  # trip -> exact instruction count, when known in closed form


def _code_base(i):
    return CODE_AREA + i * CODE_SLOT


def _data_base(i):
    return DATA_AREA + i * DATA_SLOT


def int_loop(slot: int) -> Workload:
    p = Program(_code_base(slot))
    loop = p.here
    p.emit(add_imm(0, 0, 1), "add x0, x0, #1")
    p.emit(subs_imm(1, 1, 1), "subs x1, x1, #1")
    p.emit(b_cond("ne", loop - p.here), f"b.ne #{loop:#x}")
    end = p.here
    p.emit(hlt(0), "hlt #0")
    return Workload("int_loop", "integer loop (add; subs; b.ne)", p, end, trip_reg=1,
                    regs={}, data=[], compare=[], insns=lambda trip: 3 * trip)


def mem_loop(slot: int, rng: random.Random, nbytes: int = 4096) -> Workload:
    src = _data_base(slot)
    dst = src + 0x8000
    qwords = nbytes // 8
    p = Program(_code_base(slot))
    outer = p.here
    p.emit(mov_reg(0, 10), "mov x0, x10")
    p.emit(mov_reg(1, 11), "mov x1, x11")
    p.emit(movz(3, qwords), f"mov x3, #{qwords}")
    inner = p.here
    p.emit(ldst_post(3, 1, 2, 0, 8), "ldr x2, [x0], #8")
    p.emit(ldst_post(3, 0, 2, 1, 8), "str x2, [x1], #8")
    p.emit(subs_imm(3, 3, 1), "subs x3, x3, #1")
    p.emit(b_cond("ne", inner - p.here), f"b.ne #{inner:#x}")
    p.emit(subs_imm(4, 4, 1), "subs x4, x4, #1")
    p.emit(b_cond("ne", outer - p.here), f"b.ne #{outer:#x}")
    end = p.here
    p.emit(hlt(0), "hlt #0")
    per_trip = 3 + 4 * qwords + 2
    return Workload("mem_loop", f"memory copy loop (ldr/str post-index, {nbytes // 1024} KiB)",
                    p, end, trip_reg=4, regs={10: src, 11: dst},
                    data=[(src, rng.randbytes(nbytes)), (dst, bytes(nbytes))],
                    compare=[(dst, nbytes)], insns=lambda trip: per_trip * trip)


def sort_loop(slot: int, rng: random.Random, n: int = 256) -> Workload:
    """Insertion sort of n random 64-bit values, restored from a pristine copy on every
    trip: loops whose branches depend on the data, as in real code."""
    work = _data_base(slot)
    pristine = work + 0x8000
    p = Program(_code_base(slot))
    outer = p.here
    p.emit(mov_reg(6, 10), "mov x6, x10")
    p.emit(mov_reg(7, 11), "mov x7, x11")
    p.emit(movz(8, n), f"mov x8, #{n}")
    copy = p.here
    p.emit(ldst_post(3, 1, 2, 7, 8), "ldr x2, [x7], #8")
    p.emit(ldst_post(3, 0, 2, 6, 8), "str x2, [x6], #8")
    p.emit(subs_imm(8, 8, 1), "subs x8, x8, #1")
    p.emit(b_cond("ne", copy - p.here), f"b.ne #{copy:#x}")
    p.emit(movz(1, 1), "mov x1, #1")
    sort = p.here
    p.emit(ldst_reg_scaled(3, 1, 2, 10, 1), "ldr x2, [x10, x1, lsl #3]")
    p.emit(sub_imm(3, 1, 1), "sub x3, x1, #1")
    inner = p.here
    p.emit(ldst_reg_scaled(3, 1, 4, 10, 3), "ldr x4, [x10, x3, lsl #3]")
    p.emit(addsub_reg(1, 1, 31, 4, 2), "cmp x4, x2")
    place = p.here + 4 * 5  # after the b.ls and the four instructions that follow it
    p.emit(b_cond("ls", place - p.here), f"b.ls #{place:#x}")
    p.emit(add_imm(5, 3, 1), "add x5, x3, #1")
    p.emit(ldst_reg_scaled(3, 0, 4, 10, 5), "str x4, [x10, x5, lsl #3]")
    p.emit(subs_imm(3, 3, 1), "subs x3, x3, #1")
    p.emit(b_cond("pl", inner - p.here), f"b.pl #{inner:#x}")
    assert p.here == place
    p.emit(add_imm(5, 3, 1), "add x5, x3, #1")
    p.emit(ldst_reg_scaled(3, 0, 2, 10, 5), "str x2, [x10, x5, lsl #3]")
    p.emit(add_imm(1, 1, 1), "add x1, x1, #1")
    p.emit(cmp_imm(1, n), f"cmp x1, #{n}")
    p.emit(b_cond("ne", sort - p.here), f"b.ne #{sort:#x}")
    p.emit(subs_imm(12, 12, 1), "subs x12, x12, #1")
    p.emit(b_cond("ne", outer - p.here), f"b.ne #{outer:#x}")
    end = p.here
    p.emit(hlt(0), "hlt #0")
    values = rng.randbytes(8 * n)
    return Workload("sort", f"insertion sort, {n} random u64 (data-dependent branches)",
                    p, end, trip_reg=12, regs={10: work, 11: pristine},
                    data=[(pristine, values), (work, bytes(8 * n))], compare=[(work, 8 * n)])


# --- the random straight-line stream ------------------------------------------------

POOL = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15]  # operands and destinations
INDEX_REG = 9  # only ever holds `x & 0xff8`: an in-bounds index for [x20, x9]
BASE_REG = 20  # points into the middle of the buffer; never written
TRIP_REG = 28  # the outer loop count
STREAM_BUF = 0x2000  # the buffer; BASE_REG = buffer + 0x1000
LOADS = [("ldr", 3, 1, 1), ("ldr", 2, 1, 0), ("ldrh", 1, 1, 0), ("ldrb", 0, 1, 0),
         ("ldrsw", 2, 2, 1), ("ldrsh", 1, 2, 1), ("ldrsb", 0, 3, 0)]  # name size opc sf
STORES = [("str", 3, 0, 1), ("str", 2, 0, 0), ("strh", 1, 0, 0), ("strb", 0, 0, 0)]


def _imm(v: int) -> str:
    return f"#{v}"


def _mem(rn: int, off: int) -> str:
    return f"[{reg(rn)}]" if off == 0 else f"[{reg(rn)}, #{off}]"


def _shift_text(shift: str, amount: int) -> str:
    return "" if shift == "lsl" and amount == 0 else f", {shift} #{amount}"


def _source(rng: random.Random, rd: int, chain: bool) -> int:
    """The first source register: random, or (chained streams) the destination itself,
    so that every result is read by the next write to its register."""
    return rd if chain else rng.choice(POOL)


def _random_logical_imm(rng: random.Random, width: int) -> int:
    esize = rng.choice([e for e in (2, 4, 8, 16, 32, 64) if e <= width])
    ones = rng.randrange(1, esize)
    r = rng.randrange(esize)
    emask = (1 << esize) - 1
    run = (1 << ones) - 1
    elem = ((run >> r) | (run << (esize - r))) & emask
    return sum(elem << i for i in range(0, width, esize))


def g_alu_imm(p, rng, chain=False):
    sf = int(rng.random() < 0.75)
    name = rng.choice(["add", "sub", "adds", "subs"])
    rd, imm = rng.choice(POOL), rng.randrange(4096)
    rn = _source(rng, rd, chain)
    word = addsub_imm(int(name.startswith("sub")), int(name.endswith("s")), rd, rn, imm, sf)
    p.emit(word, f"{name} {reg(rd, sf)}, {reg(rn, sf)}, {_imm(imm)}")


def g_alu_reg(p, rng, chain=False):
    sf = int(rng.random() < 0.75)
    name = rng.choice(["add", "sub", "adds", "subs"])
    rd, rm = rng.choice(POOL), rng.choice(POOL)
    rn = _source(rng, rd, chain)
    shift = rng.choice(["lsl", "lsr", "asr"])
    amount = rng.randrange(64 if sf else 32) if rng.random() < 0.5 else 0
    shift = "lsl" if amount == 0 else shift
    word = addsub_reg(int(name.startswith("sub")), int(name.endswith("s")), rd, rn, rm,
                      shift, amount, sf)
    p.emit(word, f"{name} {reg(rd, sf)}, {reg(rn, sf)}, {reg(rm, sf)}"
                 f"{_shift_text(shift, amount)}")


def g_cmp(p, rng, chain=False):
    sf = int(rng.random() < 0.75)
    rn = rng.choice(POOL)
    kind = rng.randrange(5)
    if kind == 0:
        imm = rng.randrange(4096)
        p.emit(cmp_imm(rn, imm, sf), f"cmp {reg(rn, sf)}, {_imm(imm)}")
    elif kind == 1:
        imm = rng.randrange(4096)
        p.emit(cmn_imm(rn, imm, sf), f"cmn {reg(rn, sf)}, {_imm(imm)}")
    elif kind == 2:
        rm = rng.choice(POOL)
        p.emit(addsub_reg(1, 1, 31, rn, rm, sf=sf), f"cmp {reg(rn, sf)}, {reg(rm, sf)}")
    elif kind == 3:
        value = _random_logical_imm(rng, 64 if sf else 32)
        p.emit(logical_imm("ands", 31, rn, value, sf), f"tst {reg(rn, sf)}, #{value}")
    else:
        rm = rng.choice(POOL)
        p.emit(logical_reg("ands", 31, rn, rm, sf=sf), f"tst {reg(rn, sf)}, {reg(rm, sf)}")


def g_logic_reg(p, rng, chain=False):
    sf = int(rng.random() < 0.75)
    name = rng.choice(list(LOGICAL))
    rd, rm = rng.choice(POOL), rng.choice(POOL)
    rn = _source(rng, rd, chain)
    shift = rng.choice(list(SHIFT))
    amount = rng.randrange(64 if sf else 32) if rng.random() < 0.5 else 0
    shift = "lsl" if amount == 0 else shift
    p.emit(logical_reg(name, rd, rn, rm, shift, amount, sf),
           f"{name} {reg(rd, sf)}, {reg(rn, sf)}, {reg(rm, sf)}{_shift_text(shift, amount)}")


def g_logic_imm(p, rng, chain=False):
    sf = int(rng.random() < 0.75)
    name = rng.choice(["and", "orr", "eor", "ands"])
    rd = rng.choice(POOL)
    rn = _source(rng, rd, chain)
    value = _random_logical_imm(rng, 64 if sf else 32)
    p.emit(logical_imm(name, rd, rn, value, sf), f"{name} {reg(rd, sf)}, {reg(rn, sf)}, #{value}")


def g_shift_imm(p, rng, chain=False):
    sf = int(rng.random() < 0.75)
    name = rng.choice(["lsl", "lsr", "asr"])
    rd = rng.choice(POOL)
    rn = _source(rng, rd, chain)
    amount = rng.randrange(1, 64 if sf else 32)
    fn = {"lsl": lsl_imm, "lsr": lsr_imm, "asr": asr_imm}[name]
    p.emit(fn(rd, rn, amount, sf), f"{name} {reg(rd, sf)}, {reg(rn, sf)}, #{amount}")


def g_shift_reg(p, rng, chain=False):
    sf = int(rng.random() < 0.75)
    name = rng.choice(["lsl", "lsr", "asr", "ror"])
    rd, rm = rng.choice(POOL), rng.choice(POOL)
    rn = _source(rng, rd, chain)
    p.emit(shift_reg(name, rd, rn, rm, sf), f"{name} {reg(rd, sf)}, {reg(rn, sf)}, {reg(rm, sf)}")


def _unscaled_name(name: str) -> str:
    return name[:2] + "u" + name[2:]  # ldr -> ldur, strb -> sturb, ldrsw -> ldursw


def _load_store(p, rng, table):
    name, size, opc, sf = rng.choice(table)
    rt = rng.choice(POOL)
    if rng.random() < 0.7:
        off = rng.randrange(0, 0x1000 >> size) << size
        p.emit(ldst_uimm(size, opc, rt, BASE_REG, off), f"{name} {reg(rt, sf)}, {_mem(BASE_REG, off)}")
    else:
        off = rng.randrange(-256, 256) & ~((1 << size) - 1)
        p.emit(ldst_unscaled(size, opc, rt, BASE_REG, off),
               f"{_unscaled_name(name)} {reg(rt, sf)}, {_mem(BASE_REG, off)}")


def g_load(p, rng, chain=False):
    _load_store(p, rng, LOADS)


def g_store(p, rng, chain=False):
    _load_store(p, rng, STORES)


def g_ldst_reg(p, rng, chain=False):
    """and x9, xN, #0xff8 ; ldr/str rt, [x20, x9] (two instructions)."""
    rn = rng.choice(POOL)
    p.emit(logical_imm("and", INDEX_REG, rn, 0xFF8), f"and x9, {reg(rn)}, #0xff8")
    name, size, opc, sf = rng.choice(LOADS + STORES)
    rt = rng.choice(POOL)
    p.emit(ldst_reg(size, opc, rt, BASE_REG, INDEX_REG), f"{name} {reg(rt, sf)}, [x20, x9]")


def g_pair(p, rng, chain=False):
    load = int(rng.random() < 0.5)
    rt, rt2 = rng.sample(POOL, 2)
    off = rng.randrange(-64, 64) * 8
    name = "ldp" if load else "stp"
    p.emit(ldstp(load, rt, rt2, BASE_REG, off), f"{name} {reg(rt)}, {reg(rt2)}, {_mem(BASE_REG, off)}")


def g_branch(p, rng, chain=False):
    """b.cond skipping the next instruction, then that instruction."""
    cond = rng.choice(list(COND))
    target = p.here + 8
    p.emit(b_cond(cond, 8), f"b.{cond} #{target:#x}")
    rng.choice(FILLERS)(p, rng, chain)


FILLERS = [g_alu_imm, g_alu_reg, g_cmp, g_logic_reg, g_logic_imm, g_shift_imm, g_load, g_store]

# class -> (generator, weight in the mixed stream, description)
CLASSES = {
    "load":      (g_load, 18, "ldr/ldrh/ldrb/ldrs* [x20, #imm] and ldur*"),
    "store":     (g_store, 12, "str/strh/strb [x20, #imm] and stur*"),
    "ldst_reg":  (g_ldst_reg, 4, "and x9, xN, #0xff8; ldr/str [x20, x9]"),
    "pair":      (g_pair, 4, "ldp/stp x, x, [x20, #imm]"),
    "alu_imm":   (g_alu_imm, 12, "add/sub/adds/subs #imm"),
    "alu_reg":   (g_alu_reg, 10, "add/sub/adds/subs reg, shift"),
    "cmp":       (g_cmp, 8, "cmp/cmn #imm, cmp reg, tst #imm/reg"),
    "logic_reg": (g_logic_reg, 8, "and/orr/eor/bic/orn/eon/ands/bics reg, shift"),
    "logic_imm": (g_logic_imm, 6, "and/orr/eor/ands #bitmask"),
    "shift_imm": (g_shift_imm, 6, "lsl/lsr/asr #imm (UBFM/SBFM)"),
    "shift_reg": (g_shift_reg, 3, "lsl/lsr/asr/ror reg (LSLV..RORV)"),
    "branch":    (g_branch, 12, "b.cond +8 over one instruction (+ that insn)"),
}


def stream(slot: int, key: str, title: str, seed: int, length: int,
           weights: dict[str, int], chain: bool = False, code_base: int | None = None) -> Workload:
    """A random straight-line stream of about `length` instructions, then
    `subs x28, x28, #1; b.ne start; hlt #0`. With `chain`, ALU instructions read the
    register they write (`op xd, xd, ...`), so no result is dead."""
    rng = random.Random(seed)
    names = list(weights)
    w = [weights[n] for n in names]
    p = Program(_code_base(slot) if code_base is None else code_base)
    start = p.here
    while len(p.words) < length:
        CLASSES[rng.choices(names, w)[0]][0](p, rng, chain)
    p.emit(subs_imm(TRIP_REG, TRIP_REG, 1), "subs x28, x28, #1")
    p.emit(b_cond("ne", start - p.here), f"b.ne #{start:#x}")
    end = p.here
    p.emit(hlt(0), "hlt #0")
    buf = _data_base(slot)
    regs = {r: rng.getrandbits(64) for r in POOL}
    regs[INDEX_REG] = 0
    regs[BASE_REG] = buf + 0x1000
    return Workload(key, title, p, end, trip_reg=TRIP_REG, regs=regs,
                    data=[(buf, rng.randbytes(STREAM_BUF))], compare=[(buf, STREAM_BUF)])


def build_workloads(seed: int) -> tuple[list[Workload], list[Workload]]:
    """(the main workloads, one stream per instruction class)."""
    rng = random.Random(seed)
    main = [int_loop(0), mem_loop(1, rng),
            stream(2, "mixed", "mixed random stream (4000 insns, ld/st, flags, b.cond)",
                   seed, 4000, {k: v[1] for k, v in CLASSES.items()}),
            sort_loop(3, rng)]
    per_class = [stream(4 + i, f"class:{name}", f"  {name}: {desc}", seed + 1 + i, 1000,
                        {name: 1}, chain=True)
                 for i, (name, (_, _, desc)) in enumerate(CLASSES.items())]
    return main, per_class


SCAN_LENGTHS = (1000, 16000, 64000)
SCAN_AREA = RAM_BASE + 0x200_0000  # 1 MiB of code per scan stream


def scan_workloads(seed: int) -> list[Workload]:
    """The mixed stream at other lengths: how far each emulator's speed holds up as
    the code grows (the host's branch predictors and caches fill up)."""
    weights = {k: v[1] for k, v in CLASSES.items()}
    return [stream(20 + i, f"scan:{n}", f"  mixed random stream, {n} insns", seed, n, weights,
                   code_base=SCAN_AREA + (i << 20))
            for i, n in enumerate(SCAN_LENGTHS)]


# --- capstone cross-check -----------------------------------------------------------

_NUM = re.compile(r"#(-?(?:0x[0-9a-f]+|\d+))")


def _normalise(text: str) -> str:
    """Lower case, single spaces, every #immediate in decimal modulo 2^64 (capstone
    prints some ANDS/TST bitmasks as negative numbers)."""
    text = " ".join(text.lower().split()).replace(" ,", ",")
    return _NUM.sub(lambda m: "#" + str(int(m.group(1), 0) & MASK64), text)


def check_encodings(programs: list[Program]) -> int:
    """Disassemble every word with capstone; abort on the first mismatches."""
    import capstone
    md = capstone.Cs(capstone.CS_ARCH_ARM64, capstone.CS_MODE_ARM)
    bad = []
    checked = 0
    for prog in programs:
        for i, (word, text) in enumerate(zip(prog.words, prog.texts)):
            addr = prog.base + 4 * i
            got = list(md.disasm_lite(struct.pack("<I", word), addr))
            got_text = f"{got[0][2]} {got[0][3]}" if got else "(undecodable)"
            checked += 1
            if _normalise(got_text) != _normalise(text):
                bad.append(f"  {addr:#x}: {word:08x} meant {text!r}, capstone says {got_text!r}")
    if bad:
        print("encoding check FAILED (the benchmark's assembler is wrong):", file=sys.stderr)
        print("\n".join(bad[:20]), file=sys.stderr)
        sys.exit(1)
    return checked


# ======================================================================================
# The two emulators, behind the same small interface
# ======================================================================================


class Ours:
    name = "ours"

    def __init__(self, ram: np.ndarray | None = None):
        from smpsim.jit import exits
        from smpsim.jit.core import Core
        self._hlt = exits.HLT
        self.core = Core(ram if ram is not None else np.zeros(RAM_SIZE, dtype=np.uint8),
                         ram_base=RAM_BASE)

    def install(self, w: Workload) -> None:
        self.core.load(w.program.base, w.program.code())

    def reset(self, w: Workload, trip: int) -> None:
        c = self.core
        for addr, data in w.data:
            c.load(addr, data)
        for r in range(31):
            c.set_x(r, w.regs.get(r, 0))
        c.set_x(w.trip_reg, trip)
        c.sp = 0
        c.nzcv = 0
        c.pc = w.entry

    def run(self, w: Workload) -> tuple[int, float]:
        """(instructions retired, seconds)."""
        c = self.core
        before = c.icount
        t0 = time.perf_counter()
        ex = c.run()
        dt = time.perf_counter() - t0
        if ex.kind != self._hlt or ex.pc != w.end:
            raise RuntimeError(f"{w.key}: our core stopped with {ex}, expected HLT at {w.end:#x}")
        return c.icount - before, dt

    def state(self, w: Workload):
        c = self.core
        regs = tuple(c.x(r) for r in range(31)) + (c.sp, c.nzcv, c.pc)
        return regs, tuple(c.read(a, n) for a, n in w.compare)


class Uni:
    name = "unicorn"

    def __init__(self):
        import unicorn
        from unicorn import arm64_const as a
        self._uc_mod = unicorn
        self.uc = unicorn.Uc(unicorn.UC_ARCH_ARM64, unicorn.UC_MODE_ARM)
        self.uc.ctl_set_cpu_model(a.UC_CPU_ARM64_MAX)
        self.uc.mem_map(RAM_BASE, RAM_SIZE)
        self.xregs = [getattr(a, f"UC_ARM64_REG_X{r}") for r in range(31)]
        self.sp, self.nzcv, self.pc = a.UC_ARM64_REG_SP, a.UC_ARM64_REG_NZCV, a.UC_ARM64_REG_PC

    def install(self, w: Workload) -> None:
        self.uc.mem_write(w.program.base, w.program.code())

    def reset(self, w: Workload, trip: int) -> None:
        uc = self.uc
        for addr, data in w.data:
            uc.mem_write(addr, data)
        for r, ident in enumerate(self.xregs):
            uc.reg_write(ident, w.regs.get(r, 0))
        uc.reg_write(self.xregs[w.trip_reg], trip)
        uc.reg_write(self.sp, 0)
        uc.reg_write(self.nzcv, 0)
        uc.reg_write(self.pc, w.entry)

    def run(self, w: Workload) -> float:
        t0 = time.perf_counter()
        self.uc.emu_start(w.entry, w.end)
        dt = time.perf_counter() - t0
        pc = self.uc.reg_read(self.pc)
        if pc != w.end:
            raise RuntimeError(f"{w.key}: Unicorn stopped at {pc:#x}, expected {w.end:#x}")
        return dt

    def run_counted(self, w: Workload) -> int:
        """Run with a per-instruction hook that counts (slow; validation only)."""
        n = [0]

        def hook(uc, address, size, user):
            n[0] += 1

        self.uc.ctl_flush_tb()  # translations made without the hook would not count
        h = self.uc.hook_add(self._uc_mod.UC_HOOK_CODE, hook)
        try:
            self.run(w)
        finally:
            self.uc.hook_del(h)
            self.uc.ctl_flush_tb()  # drop the translations instrumented for the hook
        return n[0]

    def state(self, w: Workload):
        uc = self.uc
        regs = tuple(uc.reg_read(r) for r in self.xregs) + (
            uc.reg_read(self.sp), uc.reg_read(self.nzcv), uc.reg_read(self.pc))
        return regs, tuple(bytes(uc.mem_read(a, n)) for a, n in w.compare)


def _diff(a, b) -> str:
    (ra, ma), (rb, mb) = a, b
    names = [f"x{r}" for r in range(31)] + ["sp", "nzcv", "pc"]
    out = [f"{n}: ours={x:#x} unicorn={y:#x}" for n, x, y in zip(names, ra, rb) if x != y]
    out += [f"memory range {i} differs" for i, (x, y) in enumerate(zip(ma, mb)) if x != y]
    return "; ".join(out[:6])


# ======================================================================================
# Measuring
# ======================================================================================


def measure(w: Workload, ours: Ours, uni: Uni, reps: int, min_time: float) -> dict:
    ours.install(w)
    uni.install(w)
    notes = []

    # 1. validation: a short run, Unicorn counting every instruction with a hook
    trip_v = 3 if w.insns is None else max(1, 30_000 // w.insns(1))
    ours.reset(w, trip_v)
    n_v, _ = ours.run(w)
    s_ours = ours.state(w)
    uni.reset(w, trip_v)
    n_uv = uni.run_counted(w)
    s_uni = uni.state(w)
    same = s_ours == s_uni and n_v == n_uv
    if n_v != n_uv:
        notes.append(f"instruction counts differ: ours {n_v}, unicorn {n_uv}")
    if s_ours != s_uni:
        notes.append("validation run: " + _diff(s_ours, s_uni))
    if w.insns is not None and w.insns(trip_v) != n_v:
        same = False
        notes.append(f"ours retired {n_v}, expected {w.insns(trip_v)}")
    per_trip = n_v / trip_v

    # 2. calibration on our core (also its warm-up); Unicorn warm-up on the same trip
    trip = max(1, int(2e6 / per_trip))
    while True:
        ours.reset(w, trip)
        n, dt = ours.run(w)
        if dt >= 0.03 or trip * per_trip > 1e9:
            break
        trip *= 10
    trip = max(1, math.ceil(trip * min_time / dt * 1.15))
    uni.reset(w, max(1, trip // 20))
    uni.run(w)

    # 3. the timed repetitions, interleaved (alternating which emulator goes first)
    m_ours, m_uni, counts = [], [], set()
    t_ours, t_uni = [], []
    for rep in range(reps):
        order = (0, 1) if rep % 2 == 0 else (1, 0)
        for who in order:
            if who == 0:
                ours.reset(w, trip)
                n, dt = ours.run(w)
                counts.add(n)
                t_ours.append(dt)
                s_ours = ours.state(w)
            else:
                uni.reset(w, trip)
                t_uni.append(uni.run(w))
                s_uni = uni.state(w)
        if s_ours != s_uni:
            if same:
                notes.append(f"timed run {rep}: " + _diff(s_ours, s_uni))
            same = False
    if len(counts) != 1:
        same = False
        notes.append(f"our instruction count varied between runs: {sorted(counts)}")
    n = counts.pop() if len(counts) == 1 else max(counts)
    if w.insns is not None and w.insns(trip) != n:
        same = False
        notes.append(f"ours retired {n}, expected {w.insns(trip)}")
    # Unicorn runs the same code from the same state; the validation run showed both
    # retire the same number of instructions, so its count is `n` (for the loops, also
    # the closed form).
    n_uni = w.insns(trip) if w.insns is not None else n
    m_ours = [n / t / 1e6 for t in t_ours]
    m_uni = [n_uni / t / 1e6 for t in t_uni]
    med_o, med_u = statistics.median(m_ours), statistics.median(m_uni)
    return {
        "key": w.key, "title": w.title, "trip": trip, "insns_per_run": n,
        "ours_mips": m_ours, "unicorn_mips": m_uni,
        "ours_median_mips": med_o, "unicorn_median_mips": med_u,
        "ratio_ours_over_unicorn": med_o / med_u,
        "ours_seconds": t_ours, "unicorn_seconds": t_uni,
        "same_final_state": same, "notes": notes,
    }


# --- subprocesses: compile time, start-up time, memory -----------------------------

_CHILD_START = r"""
import time
t_start = time.monotonic()
import json
import numpy as np
import numba
t_numba = time.monotonic()
from smpsim.jit.core import Core
t_import = time.monotonic()
core = Core(np.zeros(4096, dtype=np.uint8), ram_base=0x40000000)
core.load(0x40000000, (0xD4400000).to_bytes(4, "little"))  # hlt #0
core.pc = 0x40000000
ex = core.run(1)
t_run = time.monotonic()
assert ex.name == "HLT", ex
from smpsim.jit import interpreter
compiled = bool(sum(interpreter.run.stats.cache_misses.values()))
peak = [int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
print(json.dumps({"start": t_start, "numba": t_numba, "imported": t_import, "first_run": t_run,
                  "compiled": compiled, "peak_rss": peak}))
"""

_CHILD_BASELINE = "import numpy, numba"


def _spawn(code_or_args, env_extra: dict | None, timeout: float = 900) -> tuple[float, float, str]:
    """(spawn monotonic time, exit monotonic time, stdout) of a fresh Python process."""
    env = dict(os.environ)
    env.update(env_extra or {})
    args = ([sys.executable, "-c", code_or_args] if isinstance(code_or_args, str)
            else [sys.executable, *code_or_args])
    t0 = time.monotonic()
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
    t1 = time.monotonic()
    if proc.returncode:
        raise RuntimeError(f"child {args[1:3]} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return t0, t1, proc.stdout


def _start(env_extra):
    t0, t1, out = _spawn(_CHILD_START, env_extra)
    r = json.loads(out.strip().splitlines()[-1])
    return {
        "interpreter_start_s": r["start"] - t0,
        "import_numpy_numba_s": r["numba"] - r["start"],
        "import_smpsim_s": r["imported"] - r["numba"],
        "core_and_first_run_s": r["first_run"] - r["imported"],
        "to_first_run_s": r["first_run"] - t0,
        "process_wall_s": t1 - t0,
        "compiled": r["compiled"],
        "peak_rss_bytes": r["peak_rss"],
    }


def measure_startup(cold: bool) -> dict:
    base0, base1, _ = _spawn(_CHILD_BASELINE, None)
    result = {"baseline_import_numpy_numba_wall_s": base1 - base0}
    if cold:
        with tempfile.TemporaryDirectory(prefix="smpsim-numba-cache-") as cache:
            result["cache_dir"] = "fresh temporary NUMBA_CACHE_DIR"
            result["cold"] = _start({"NUMBA_CACHE_DIR": cache})
            result["cached"] = _start({"NUMBA_CACHE_DIR": cache})
    else:
        own = os.environ.get("NUMBA_CACHE_DIR")
        result["cache_dir"] = (f"NUMBA_CACHE_DIR={own}" if own
                               else "the default cache, __pycache__ next to the modules")
        result["cold"] = None
        result["cached"] = _start(None)
    return result


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def child_rss(seed: int, quick: bool) -> None:
    """In a fresh process (no Unicorn, no capstone): VmRSS before and after building one
    core over 512 MiB of RAM, and after running the main workloads on it."""
    r = {"after_imports_numpy": _status_bytes("VmRSS")}
    from smpsim.jit.core import Core  # noqa: F401  (the import is part of the figure)
    r["after_import_smpsim"] = _status_bytes("VmRSS")
    ours = Ours()
    r["after_core_built"] = _status_bytes("VmRSS")
    main, _ = build_workloads(seed)
    ours.install(main[0])
    ours.reset(main[0], 1)
    t0 = time.perf_counter()
    ours.run(main[0])  # loads the compiled core from Numba's cache (or compiles it)
    r["first_run_s"] = time.perf_counter() - t0
    r["after_first_run"] = _status_bytes("VmRSS")
    r["cache_path"], r["compiled"] = _numba_cache_info()
    for w in main:
        ours.install(w)
        trip = {"int_loop": 3_000_000, "mem_loop": 300, "mixed": 100, "sort": 20}[w.key]
        ours.reset(w, trip // 10 if quick else trip)
        ours.run(w)
    r["after_workloads"] = _status_bytes("VmRSS")
    r["peak_VmHWM"] = _status_bytes("VmHWM")
    print(json.dumps(r))


def _numba_cache_info() -> tuple[str, bool]:
    """(Numba cache directory of the core, whether this process had to compile it)."""
    from smpsim.jit import interpreter
    stats = interpreter.run.stats
    return stats.cache_path, bool(sum(stats.cache_misses.values()))


def measure_rss_child(seed: int, quick: bool) -> dict:
    args = [os.path.abspath(__file__), "--child-rss", "--seed", str(seed)] + (["--quick"] if quick else [])
    _, _, out = _spawn(args, None)
    return json.loads(out.strip().splitlines()[-1])


# ======================================================================================
# Report
# ======================================================================================


def machine_info() -> dict:
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass

    def ver(pkg):
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return "?"

    return {
        "cpu_model": model, "cpus": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)),
        "loadavg": os.getloadavg(), "platform": platform.platform(),
        "python": platform.python_version(), "numpy": ver("numpy"), "numba": ver("numba"),
        "llvmlite": ver("llvmlite"), "unicorn": ver("unicorn"), "capstone": ver("capstone"),
        "smpsim": ver("smpsim"),
    }


def _mib(n: int) -> str:
    return f"{n / (1 << 20):7.1f} MiB"


def _row(r: dict) -> str:
    o, u = r["ours_mips"], r["unicorn_mips"]
    return (f"{r['title']:<58} {r['insns_per_run'] / 1e6:8.1f}M "
            f"{r['ours_median_mips']:7.1f} [{min(o):6.1f}-{max(o):6.1f}] "
            f"{1e3 / r['ours_median_mips']:6.2f} "
            f"{r['unicorn_median_mips']:8.1f} [{min(u):7.1f}-{max(u):7.1f}] "
            f"{r['ratio_ours_over_unicorn']:6.2f}x  {'yes' if r['same_final_state'] else 'NO'}")


def _header() -> str:
    return (f"{'workload':<58} {'insns/run':>9} {'ours MIPS [min-max]':>23} {'ns/insn':>6} "
            f"{'unicorn MIPS [min-max]':>26} {'ours/uc':>7}  same final state\n" + "-" * 148)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="a short smoke run: fewer, shorter repetitions; no cold compile")
    ap.add_argument("--json", metavar="FILE", help="also write the figures to FILE as JSON")
    ap.add_argument("--reps", type=int, help="timed repetitions per workload (5; quick: 3)")
    ap.add_argument("--min-time", type=float,
                    help="seconds each of our timed runs lasts at least (0.5; quick: 0.1)")
    ap.add_argument("--seed", type=int, default=2024, help="seed of the random streams")
    ap.add_argument("--cold", action="store_true", help="measure the cold compile even with --quick")
    ap.add_argument("--no-compile", action="store_true", help="skip the compile/start-up figures")
    ap.add_argument("--no-classes", action="store_true", help="skip the per-class table")
    ap.add_argument("--no-scan", action="store_true",
                    help="skip the mixed stream at other lengths (always skipped with --quick)")
    ap.add_argument("--child-rss", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child_rss:
        child_rss(args.seed, args.quick)
        return 0

    reps = args.reps or (3 if args.quick else 5)
    min_time = args.min_time or (0.1 if args.quick else 0.5)
    class_reps = 1 if args.quick else 3
    class_time = 0.03 if args.quick else 0.2
    cold = args.cold or not args.quick
    out: dict = {"mode": "quick" if args.quick else "full", "reps": reps, "min_time_s": min_time,
                 "seed": args.seed}

    def say(text=""):
        print(text, flush=True)

    m = out["machine"] = machine_info()
    say(f"smpsim jit core vs Unicorn ({out['mode']} run; {reps} reps, each of our runs >= "
        f"{min_time} s; median MIPS, [min-max] over the reps)")
    say(f"machine : {m['cpu_model']}, {m['cpus']} CPUs ({m['cpus_usable']} usable), "
        f"load avg {m['loadavg'][0]:.2f} {m['loadavg'][1]:.2f} {m['loadavg'][2]:.2f}")
    say(f"software: Python {m['python']}, numpy {m['numpy']}, numba {m['numba']} "
        f"(llvmlite {m['llvmlite']}), unicorn {m['unicorn']} (UC_CPU_ARM64_MAX), "
        f"capstone {m['capstone']}; {m['platform']}")

    main_w, class_w = build_workloads(args.seed)
    scan_w = [] if args.quick or args.no_scan else scan_workloads(args.seed)
    n_checked = check_encodings([w.program for w in main_w + class_w + scan_w])
    out["encodings_checked_with_capstone"] = n_checked

    # our core: one core over 512 MiB, as a CPU process holds it
    import unicorn  # noqa: F401  (imported before the first RSS reading)

    import smpsim.jit.core  # noqa: F401
    rss = {"start": _status_bytes("VmRSS")}
    t0 = time.perf_counter()
    ram = np.zeros(RAM_SIZE, dtype=np.uint8)
    ours = Ours(ram)
    rss["core_built"] = _status_bytes("VmRSS")
    ours.install(main_w[0])
    ours.reset(main_w[0], 1)
    ours.run(main_w[0])
    out["this_process_first_run_s"] = time.perf_counter() - t0
    out["numba_cache"], out["this_process_compiled"] = _numba_cache_info()
    rss["first_run"] = _status_bytes("VmRSS")
    uni = Uni()
    say(f"same RAM layout: {RAM_SIZE >> 20} MiB at {RAM_BASE:#x} in both; code at "
        f"{CODE_AREA:#x}+, data at {DATA_AREA:#x}+; {n_checked} instruction words checked "
        f"with capstone")
    say()

    say(_header())
    def table(workloads, n, seconds):
        """Measure and print each workload; their results."""
        rows = []
        for w in workloads:
            r = measure(w, ours, uni, n, seconds)
            rows.append(r)
            say(_row(r))
            for note in r["notes"]:
                say(f"    ! {note}")
        return rows

    out["workloads"] = results = table(main_w, reps, min_time)

    if not args.no_classes:
        say()
        say(f"per instruction class (1000-insn random stream of one class, each ALU op "
            f"reading the register it writes, + loop; {class_reps} rep(s) of >= {class_time} s;")
        say("Unicorn's TCG turns such straight-line blocks into host code with the guest "
            "registers in host registers and drops dead flags, hence its huge ALU figures):")
        out["classes"] = table(class_w, class_reps, class_time)
    if scan_w:
        say()
        say(f"the mixed stream at other lengths ({class_reps} rep(s) of >= {class_time} s; "
            f"4000 is the main table's):")
        out["scan"] = table(scan_w, class_reps, class_time)
    rss["after_benchmarks"] = _status_bytes("VmRSS")

    if not args.no_compile:
        say()
        say("start-up (fresh subprocesses; times from spawning the process):")
        say(f"  (this process: building the core and its first run took "
            f"{out['this_process_first_run_s']:.2f} s, "
            f"{'compiling' if out['this_process_compiled'] else 'from the cache in'} "
            f"{out['numba_cache']})")
        s = out["startup"] = measure_startup(cold)
        say(f"  baseline: a process that only imports numpy and numba: "
            f"{s['baseline_import_numpy_numba_wall_s']:.2f} s wall")
        if s["cold"]:
            c = s["cold"]
            say(f"  cold compile (empty NUMBA_CACHE_DIR): first Core.run returned after "
                f"{c['to_first_run_s']:.1f} s (interpreter {c['interpreter_start_s']:.2f} + "
                f"numpy/numba import {c['import_numpy_numba_s']:.2f} + smpsim import "
                f"{c['import_smpsim_s']:.2f} + build core & first run "
                f"{c['core_and_first_run_s']:.1f}); minus the baseline: "
                f"{c['to_first_run_s'] - s['baseline_import_numpy_numba_wall_s']:.1f} s; "
                f"peak RSS {_mib(c['peak_rss_bytes']).strip()}")
        else:
            say("  cold compile: skipped (--quick; add --cold to measure it, ~30-90 s)")
        c = s["cached"]
        say(f"  cached start ({s['cache_dir']}):\n    first Core.run returned after "
            f"{c['to_first_run_s']:.2f} s (interpreter {c['interpreter_start_s']:.2f} + "
            f"numpy/numba {c['import_numpy_numba_s']:.2f} + smpsim {c['import_smpsim_s']:.2f} + "
            f"core & first run {c['core_and_first_run_s']:.2f}); whole process "
            f"{c['process_wall_s']:.2f} s; peak RSS {_mib(c['peak_rss_bytes']).strip()}"
            f"{'  (! it compiled: the cache was not warm)' if c['compiled'] else ''}")

    say()
    say(f"memory (VmRSS; the {RAM_SIZE >> 20} MiB of guest RAM is np.zeros, untouched until used):")
    child = out["rss_child"] = measure_rss_child(args.seed, args.quick)
    say(f"  fresh process, our core only : after numpy {_mib(child['after_imports_numpy'])}, "
        f"+ smpsim {_mib(child['after_import_smpsim'])}, core built {_mib(child['after_core_built'])},"
        f"\n{'':33}first run (compiled code loaded) {_mib(child['after_first_run'])}, after the main "
        f"workloads {_mib(child['after_workloads'])} (peak {_mib(child['peak_VmHWM'])})"
        + ("\n    ! that process found no compiled core in Numba's cache and compiled it "
           f"({child['first_run_s']:.1f} s): its figures include the compiler"
           if child["compiled"] else ""))
    say(f"  this process (also Unicorn)  : after imports {_mib(rss['start'])}, core built "
        f"{_mib(rss['core_built'])}, first run {_mib(rss['first_run'])}, after the benchmarks "
        f"{_mib(rss['after_benchmarks'])}")
    out["rss_this_process"] = rss

    say()
    say("issue targets (reported, not asserted):")
    by = {r["key"]: r for r in results}
    checks = [
        ("integer loop >= 150 MIPS", by["int_loop"]["ours_median_mips"] >= 150,
         f"{by['int_loop']['ours_median_mips']:.0f}"),
        ("memory loop >= 100 MIPS", by["mem_loop"]["ours_median_mips"] >= 100,
         f"{by['mem_loop']['ours_median_mips']:.0f}"),
        ("mixed stream >= 100 MIPS", by["mixed"]["ours_median_mips"] >= 100,
         f"{by['mixed']['ours_median_mips']:.0f}"),
        ("ahead of Unicorn on the memory loop", by["mem_loop"]["ratio_ours_over_unicorn"] > 1,
         f"{by['mem_loop']['ratio_ours_over_unicorn']:.2f}x"),
        ("ahead of Unicorn on the mixed stream", by["mixed"]["ratio_ours_over_unicorn"] > 1,
         f"{by['mixed']['ratio_ours_over_unicorn']:.2f}x"),
    ]
    if not args.no_compile:
        s = out["startup"]
        if s["cold"]:
            checks.append(("cold compile <= 90 s", s["cold"]["to_first_run_s"] <= 90,
                           f"{s['cold']['to_first_run_s']:.1f} s"))
        checks.append(("cached start <= 2 s (to first run)", s["cached"]["to_first_run_s"] <= 2,
                       f"{s['cached']['to_first_run_s']:.2f} s"))
    checks.append(("same final state on every workload",
                   all(r["same_final_state"] for r in results + out.get("classes", [])), ""))
    out["targets"] = {name: ok for name, ok, _ in checks}
    for name, ok, value in checks:
        say(f"  {'met    ' if ok else 'NOT MET'}  {name}{': ' + value if value else ''}")

    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
        say(f"\nfigures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
