"""Arm ARM C4.1.86 Data Processing -- Immediate: decode functions and executors.

Decode functions are named after the spec patterns and receive its fields; they
return a record (records.py). Executors are named `exec_<op>` and take the register
file, the decode cache and the row of the record.

Record fields, by op:
    ADR, ADRP      D, IMM = offset from PC (ADRP: from PC's 4 KiB page)
    ADD_IMM        D, N, IMM = immediate (negated for SUB), X = width mask
    ADDS_X/_W      D, N, IMM = second operand (inverted for SUBS), Y = carry in
    MOVI           D, IMM = the value (MOVZ, MOVN, MOV bitmask immediate)
    MOVK           D, IMM = the shifted 16 bits, X = the bits kept
    AND/ORR/EOR_IMM  D, N, IMM = the bitmask, X = width mask
    ANDS_IMM       D, N, IMM = the bitmask, X = sign bit index
    LSL/LSR_IMM    D, N, IMM = shift, X = width mask
    ASR_IMM        D, N, IMM = shift, X = width mask, Y = 64 - width
    UBFM/SBFM/BFM  D, N, IMM = wmask, X = tmask, Y = R | S << 8 | width << 16
    EXTR           D, N, M, IMM = lsb, X = width
"""

import numpy as np

from smpsim.jit import alu, ops
from smpsim.jit.alu import M32, M64, U0, U1
from smpsim.jit.compile import jit, jit_inline
from smpsim.jit.records import (F_D, F_IMM, F_M, F_N, F_X, F_Y, dst_zr, rec, reg_sp,
                                sign_extend, src_zr, undefined, width_mask)

# --- decode -----------------------------------------------------------------------


@jit
def ADR(immlo, immhi, Rd):
    return rec(ops.ADR, d=dst_zr(Rd), imm=sign_extend((immhi << 2) | immlo, 21))


@jit
def ADRP(immlo, immhi, Rd):
    return rec(ops.ADRP, d=dst_zr(Rd), imm=sign_extend((immhi << 2) | immlo, 21) << 12)


@jit
def ADD_SUB_imm(sf, op, S, sh, imm12, Rn, Rd):
    imm = np.uint64(imm12 << (12 * sh))
    mask = width_mask(sf)
    if S == 0:
        if op:
            imm = U0 - imm
        return rec(ops.ADD_IMM, d=reg_sp(Rd), n=reg_sp(Rn), imm=imm, x=mask)
    if op:  # SUBS: Rn + NOT(imm) + 1
        return rec(ops.ADDS_X if sf else ops.ADDS_W, d=dst_zr(Rd), n=reg_sp(Rn),
                   imm=~imm & mask, y=1)
    return rec(ops.ADDS_X if sf else ops.ADDS_W, d=dst_zr(Rd), n=reg_sp(Rn), imm=imm, y=0)


@jit
def LOGICAL_imm(sf, opc, N, immr, imms, Rn, Rd):
    if sf == 0 and N == 1:
        return undefined()
    datasize = 64 if sf else 32
    ok, wmask, _ = alu.decode_bit_masks(N, imms, immr, True, datasize)
    if not ok:
        return undefined()
    if opc == 3:  # ANDS
        return rec(ops.ANDS_IMM, d=dst_zr(Rd), n=src_zr(Rn), imm=wmask, x=datasize - 1)
    if opc == 1 and Rn == 31:  # MOV (bitmask immediate)
        return rec(ops.MOVI, d=reg_sp(Rd), imm=wmask)
    op = ops.AND_IMM if opc == 0 else (ops.ORR_IMM if opc == 1 else ops.EOR_IMM)
    return rec(op, d=reg_sp(Rd), n=src_zr(Rn), imm=wmask, x=width_mask(sf))


@jit
def MOVE_WIDE(sf, opc, hw, imm16, Rd):
    if opc == 1 or (sf == 0 and hw >= 2):
        return undefined()
    mask = width_mask(sf)
    shift = np.uint64(16 * hw)
    value = np.uint64(imm16) << shift
    if opc == 0:  # MOVN
        return rec(ops.MOVI, d=dst_zr(Rd), imm=~value & mask)
    if opc == 2:  # MOVZ
        return rec(ops.MOVI, d=dst_zr(Rd), imm=value)
    return rec(ops.MOVK, d=dst_zr(Rd), imm=value, x=~(np.uint64(0xFFFF) << shift) & mask)


@jit
def BITFIELD(sf, opc, N, immr, imms, Rn, Rd):
    if opc == 3 or N != sf or (sf == 0 and (immr >= 32 or imms >= 32)):
        return undefined()
    datasize = 64 if sf else 32
    ok, wmask, tmask = alu.decode_bit_masks(N, imms, immr, False, datasize)
    if not ok:
        return undefined()
    d, n, mask = dst_zr(Rd), src_zr(Rn), width_mask(sf)
    # the common aliases get ops of their own
    if opc == 2 and imms == datasize - 1:  # LSR (immediate)
        return rec(ops.LSR_IMM, d=d, n=n, imm=immr, x=mask)
    if opc == 2 and imms + 1 == immr:  # LSL (immediate)
        return rec(ops.LSL_IMM, d=d, n=n, imm=datasize - 1 - imms, x=mask)
    if opc == 0 and imms == datasize - 1:  # ASR (immediate)
        return rec(ops.ASR_IMM, d=d, n=n, imm=immr, x=mask, y=64 - datasize)
    op = ops.SBFM if opc == 0 else (ops.BFM if opc == 1 else ops.UBFM)
    return rec(op, d=d, n=n, imm=wmask, x=tmask, y=immr | (imms << 8) | (datasize << 16))


@jit
def EXTRACT(sf, op21, N, o0, Rm, imms, Rn, Rd):
    if op21 != 0 or o0 != 0 or N != sf or (sf == 0 and imms >= 32):
        return undefined()
    return rec(ops.EXTR, d=dst_zr(Rd), n=src_zr(Rn), m=src_zr(Rm), imm=imms, x=64 if sf else 32)


# --- execute ----------------------------------------------------------------------


@jit_inline
def exec_ADD_IMM(regs, dec, row):
    regs[dec[row, F_D]] = (regs[dec[row, F_N]] + dec[row, F_IMM]) & dec[row, F_X]


@jit_inline
def exec_ADDS_X(regs, dec, row):
    r, nzcv = alu.add_with_carry64(regs[dec[row, F_N]], dec[row, F_IMM], dec[row, F_Y])
    regs[dec[row, F_D]] = r
    return nzcv


@jit_inline
def exec_ADDS_W(regs, dec, row):
    r, nzcv = alu.add_with_carry32(regs[dec[row, F_N]], dec[row, F_IMM], dec[row, F_Y])
    regs[dec[row, F_D]] = r
    return nzcv


@jit_inline
def exec_MOVK(regs, dec, row):
    d = dec[row, F_D]
    regs[d] = (regs[d] & dec[row, F_X]) | dec[row, F_IMM]


@jit_inline
def exec_ANDS_IMM(regs, dec, row):
    r = regs[dec[row, F_N]] & dec[row, F_IMM]
    regs[dec[row, F_D]] = r
    return alu.logic_flags(r, dec[row, F_X])


@jit_inline
def exec_LSL_IMM(regs, dec, row):
    regs[dec[row, F_D]] = (regs[dec[row, F_N]] << dec[row, F_IMM]) & dec[row, F_X]


@jit_inline
def exec_LSR_IMM(regs, dec, row):
    regs[dec[row, F_D]] = (regs[dec[row, F_N]] & dec[row, F_X]) >> dec[row, F_IMM]


@jit_inline
def exec_ASR_IMM(regs, dec, row):
    top = dec[row, F_Y]  # 0 for 64-bit, 32 for 32-bit: move the sign bit to bit 63 first
    v = np.int64(regs[dec[row, F_N]] << top) >> np.int64(top + dec[row, F_IMM])
    regs[dec[row, F_D]] = np.uint64(v) & dec[row, F_X]


@jit_inline
def exec_bitfield(regs, dec, row, kind):
    """UBFM (kind 0), SBFM (1), BFM (2), after the Arm ARM's pseudocode."""
    y = dec[row, F_Y]
    r = y & np.uint64(0x3F)
    s = (y >> np.uint64(8)) & np.uint64(0x3F)
    datasize = np.int64(y >> np.uint64(16))
    wmask = dec[row, F_IMM]
    tmask = dec[row, F_X]
    d = dec[row, F_D]
    src = regs[dec[row, F_N]]
    mask = M64 if datasize == 64 else M32
    dst = regs[d] & mask if kind == 2 else U0
    bot = (dst & ~wmask) | (alu.ror(src & mask, r, datasize) & wmask)
    if kind == 1:
        top = mask if (src >> s) & U1 else U0
    else:
        top = dst
    regs[d] = ((top & ~tmask) | (bot & tmask)) & mask


@jit_inline
def exec_EXTR(regs, dec, row):
    lsb = dec[row, F_IMM]
    hi = regs[dec[row, F_N]]
    lo = regs[dec[row, F_M]]
    if dec[row, F_X] == 64:
        r = lo if lsb == U0 else (lo >> lsb) | (hi << (np.uint64(64) - lsb))
    else:
        r = ((((hi & M32) << np.uint64(32)) | (lo & M32)) >> lsb) & M32
    regs[dec[row, F_D]] = r
