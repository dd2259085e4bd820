"""Arm ARM C4.1.89 Data Processing -- Register: decode functions and executors.

Record fields, by op:
    MOV_REG        D, M, X = width mask
    LOGICAL_REG    D, N, M, IMM = invert mask (BIC/ORN/EON), X = shift, Y = kind | width << 2
                   (kind: 0 AND, 1 ORR, 2 EOR)
    ANDS_REG       D, N, M, IMM = invert mask, X = shift, Y = width
    ADD_SREG       D, N, M, IMM = invert mask (SUB), X = shift, Y = carry in | width << 1
    ADDS_SREG_X/W  as ADD_SREG
    ADD_EREG and ADDS_EREG_X/W   D, N, M, IMM = invert mask, X = option | amount << 3,
                   Y = carry in | width << 1
    ADC, ADCS_X/W  D, N, M, IMM = invert mask (SBC), X = width mask
    CCMP_X/W       N, M, IMM = imm5, X = cond | nzcv << 4 | uses imm << 8 | subtract << 9
    CSEL           D, N, M, X = cond, Y = variant (CSEL, CSINC, CSINV, CSNEG), IMM = width mask
    RBIT..CLS      D, N, X = width
    UDIV..RORV     D, N, M, X = width
    CRC32          D, N, M, X = log2(bytes), Y = Castagnoli
    MADD           D, N, M, A, X = width mask, Y = subtract
    SMADDL/UMADDL  D, N, M, A, Y = subtract
    SMULH/UMULH    D, N, M

where "shift" is type | amount << 2 and "width" is the data size in bits.
"""

import numpy as np

from smpsim.jit import alu, ops
from smpsim.jit.alu import M32, M64, U0, U1
from smpsim.jit.compile import jit, jit_inline
from smpsim.jit.records import (F_A, F_D, F_IMM, F_M, F_N, F_X, F_Y, dst_zr, rec, reg_sp,
                                src_zr, undefined, width_mask)

# --- decode -----------------------------------------------------------------------


@jit
def DP_2src(sf, S, Rm, opcode, Rn, Rd):
    if S:
        return undefined()
    d, n, m, width = dst_zr(Rd), src_zr(Rn), src_zr(Rm), 64 if sf else 32
    if opcode == 0b000010:
        return rec(ops.UDIV, d=d, n=n, m=m, x=width)
    if opcode == 0b000011:
        return rec(ops.SDIV, d=d, n=n, m=m, x=width)
    if 0b001000 <= opcode <= 0b001011:
        op = (ops.LSLV, ops.LSRV, ops.ASRV, ops.RORV)[opcode & 3]
        return rec(op, d=d, n=n, m=m, x=width)
    if 0b010000 <= opcode <= 0b010111:
        size = opcode & 3
        if (size == 3) != (sf == 1):  # CRC32X/CX need sf=1, the others sf=0
            return undefined()
        return rec(ops.CRC32, d=d, n=n, m=m, x=size, y=(opcode >> 2) & 1)
    return undefined()


@jit
def DP_1src(sf, S, opcode2, opcode, Rn, Rd):
    if S or opcode2 != 0:
        return undefined()
    d, n, width = dst_zr(Rd), src_zr(Rn), 64 if sf else 32
    if opcode == 0:
        return rec(ops.RBIT, d=d, n=n, x=width)
    if opcode == 1:
        return rec(ops.REV16, d=d, n=n, x=width)
    if opcode == 2:  # REV32, or REV of a W register
        return rec(ops.REV32 if sf else ops.REV64, d=d, n=n, x=width)
    if opcode == 3 and sf:
        return rec(ops.REV64, d=d, n=n, x=width)
    if opcode == 4:
        return rec(ops.CLZ, d=d, n=n, x=width)
    if opcode == 5:
        return rec(ops.CLS, d=d, n=n, x=width)
    return undefined()


@jit
def LOGICAL_shifted(sf, opc, shift, N, Rm, imm6, Rn, Rd):
    if sf == 0 and imm6 >= 32:
        return undefined()
    width = 64 if sf else 32
    mask = width_mask(sf)
    d, n, m = dst_zr(Rd), src_zr(Rn), src_zr(Rm)
    if opc == 1 and N == 0 and Rn == 31 and imm6 == 0:  # MOV (register)
        return rec(ops.MOV_REG, d=d, m=m, x=mask)
    invert = mask if N else U0
    sh = shift | (imm6 << 2)
    if opc == 3:
        return rec(ops.ANDS_REG, d=d, n=n, m=m, imm=invert, x=sh, y=width)
    return rec(ops.LOGICAL_REG, d=d, n=n, m=m, imm=invert, x=sh, y=opc | (width << 2))


@jit
def ADD_SUB_shifted(sf, op, S, shift, Rm, imm6, Rn, Rd):
    if shift == 3 or (sf == 0 and imm6 >= 32):
        return undefined()
    width = 64 if sf else 32
    invert = width_mask(sf) if op else U0
    if S:
        kind = ops.ADDS_SREG_X if sf else ops.ADDS_SREG_W
    else:
        kind = ops.ADD_SREG
    return rec(kind, d=dst_zr(Rd), n=src_zr(Rn), m=src_zr(Rm), imm=invert,
               x=shift | (imm6 << 2), y=op | (width << 1))


@jit
def ADD_SUB_extended(sf, op, S, opt, Rm, option, imm3, Rn, Rd):
    if opt != 0 or imm3 > 4:
        return undefined()
    width = 64 if sf else 32
    invert = width_mask(sf) if op else U0
    if S:
        kind = ops.ADDS_EREG_X if sf else ops.ADDS_EREG_W
        d = dst_zr(Rd)
    else:
        kind = ops.ADD_EREG
        d = reg_sp(Rd)
    return rec(kind, d=d, n=reg_sp(Rn), m=src_zr(Rm), imm=invert, x=option | (imm3 << 3),
               y=op | (width << 1))


@jit
def ADD_SUB_carry(sf, op, S, Rm, Rn, Rd):
    invert = width_mask(sf) if op else U0
    if S:
        kind = ops.ADCS_X if sf else ops.ADCS_W
    else:
        kind = ops.ADC
    return rec(kind, d=dst_zr(Rd), n=src_zr(Rn), m=src_zr(Rm), imm=invert, x=width_mask(sf))


@jit
def _ccmp(sf, op, m, imm5, uses_imm, cond, o2, Rn, o3, nzcv):
    if o2 or o3:
        return undefined()
    return rec(ops.CCMP_X if sf else ops.CCMP_W, n=src_zr(Rn), m=m, imm=imm5,
               x=cond | (nzcv << 4) | (uses_imm << 8) | (op << 9))


@jit
def CCMP_register(sf, op, Rm, cond, o2, Rn, o3, nzcv):
    return _ccmp(sf, op, src_zr(Rm), 0, 0, cond, o2, Rn, o3, nzcv)


@jit
def CCMP_immediate(sf, op, imm5, cond, o2, Rn, o3, nzcv):
    return _ccmp(sf, op, 0, imm5, 1, cond, o2, Rn, o3, nzcv)


@jit
def COND_SELECT(sf, op, S, Rm, cond, op2, Rn, Rd):
    if S or op2 > 1:
        return undefined()
    return rec(ops.CSEL, d=dst_zr(Rd), n=src_zr(Rn), m=src_zr(Rm), imm=width_mask(sf),
               x=cond, y=(op << 1) | op2)


@jit
def DP_3src(sf, op54, op31, Rm, o0, Ra, Rn, Rd):
    if op54 != 0:
        return undefined()
    d, n, m, a = dst_zr(Rd), src_zr(Rn), src_zr(Rm), src_zr(Ra)
    if op31 == 0:
        return rec(ops.MADD, d=d, n=n, m=m, a=a, x=width_mask(sf), y=o0)
    if sf == 0:
        return undefined()
    if op31 == 1:
        return rec(ops.SMADDL, d=d, n=n, m=m, a=a, y=o0)
    if op31 == 5:
        return rec(ops.UMADDL, d=d, n=n, m=m, a=a, y=o0)
    if op31 == 2 and o0 == 0:
        return rec(ops.SMULH, d=d, n=n, m=m)
    if op31 == 6 and o0 == 0:
        return rec(ops.UMULH, d=d, n=n, m=m)
    return undefined()


# --- execute ----------------------------------------------------------------------


@jit
def _shifted_operand(regs, dec, row, width):
    sh = dec[row, F_X]
    return alu.shift_reg(regs[dec[row, F_M]], sh & np.uint64(3), sh >> np.uint64(2), width)


@jit_inline
def exec_LOGICAL_REG(regs, dec, row):
    y = dec[row, F_Y]
    width = np.int64(y >> np.uint64(2))
    b = _shifted_operand(regs, dec, row, width) ^ dec[row, F_IMM]
    a = regs[dec[row, F_N]]
    kind = y & np.uint64(3)
    if kind == 0:
        r = a & b
    elif kind == 1:
        r = a | b
    else:
        r = a ^ b
    regs[dec[row, F_D]] = r & (M64 if width == 64 else M32)


@jit_inline
def exec_ANDS_REG(regs, dec, row):
    width = np.int64(dec[row, F_Y])
    b = _shifted_operand(regs, dec, row, width) ^ dec[row, F_IMM]
    r = regs[dec[row, F_N]] & b & (M64 if width == 64 else M32)
    regs[dec[row, F_D]] = r
    return alu.logic_flags(r, width - 1)


@jit
def _add_sub_operand(regs, dec, row, extended):
    """The second operand of ADD/SUB (shifted or extended), already inverted for SUB."""
    y = dec[row, F_Y]
    width = np.int64(y >> U1)
    if extended:
        x = dec[row, F_X]
        b = alu.extend_reg(regs[dec[row, F_M]], x & np.uint64(7), x >> np.uint64(3))
    else:
        b = _shifted_operand(regs, dec, row, width)
    return b ^ dec[row, F_IMM], y & U1, width


@jit_inline
def exec_add_sub(regs, dec, row, extended):
    """ADD_SREG / ADD_EREG: no flags."""
    b, carry, width = _add_sub_operand(regs, dec, row, extended)
    r = regs[dec[row, F_N]] + b + carry
    regs[dec[row, F_D]] = r & (M64 if width == 64 else M32)


@jit_inline
def exec_adds_sub(regs, dec, row, extended):
    """ADDS/SUBS shifted or extended: returns the flags."""
    b, carry, width = _add_sub_operand(regs, dec, row, extended)
    if width == 64:
        r, nzcv = alu.add_with_carry64(regs[dec[row, F_N]], b, carry)
    else:
        r, nzcv = alu.add_with_carry32(regs[dec[row, F_N]], b, carry)
    regs[dec[row, F_D]] = r
    return nzcv


@jit
def exec_adc(regs, dec, row, nzcv, set_flags):
    """ADC/SBC (with or without S): carry in is PSTATE.C; returns the (new) flags."""
    b = regs[dec[row, F_M]] ^ dec[row, F_IMM]
    carry = (nzcv >> U1) & U1
    a = regs[dec[row, F_N]]
    if dec[row, F_X] == M64:
        r, flags = alu.add_with_carry64(a, b, carry)
    else:
        r, flags = alu.add_with_carry32(a, b, carry)
    regs[dec[row, F_D]] = r
    return flags if set_flags else nzcv


@jit_inline
def exec_ccmp(regs, dec, row, nzcv, width):
    x = dec[row, F_X]
    if not alu.condition_holds(x & np.uint64(15), nzcv):
        return (x >> np.uint64(4)) & np.uint64(15)
    b = dec[row, F_IMM] if (x >> np.uint64(8)) & U1 else regs[dec[row, F_M]]
    a = regs[dec[row, F_N]]
    if (x >> np.uint64(9)) & U1:  # CCMP: a - b
        b = ~b
        carry = U1
    else:
        carry = U0
    if width == 64:
        _, flags = alu.add_with_carry64(a, b, carry)
    else:
        _, flags = alu.add_with_carry32(a, b, carry)
    return flags


@jit_inline
def exec_CSEL(regs, dec, row, nzcv):
    if alu.condition_holds(dec[row, F_X], nzcv):
        r = regs[dec[row, F_N]]
    else:
        r = regs[dec[row, F_M]]
        variant = dec[row, F_Y]
        if variant == 1:
            r = r + U1
        elif variant == 2:
            r = ~r
        elif variant == 3:
            r = U0 - r
    regs[dec[row, F_D]] = r & dec[row, F_IMM]


@jit
def exec_one_source(regs, dec, row, op):
    """RBIT, REV16, REV32, REV64 (REV), CLZ, CLS."""
    width = np.int64(dec[row, F_X])
    mask = M64 if width == 64 else M32
    v = regs[dec[row, F_N]] & mask
    if op == ops.RBIT:
        r = alu.reverse_bits(v, width)
    elif op == ops.REV16:
        r = alu.reverse_bytes(v, 2, width)
    elif op == ops.REV32:
        r = alu.reverse_bytes(v, 4, width)
    elif op == ops.REV64:
        r = alu.reverse_bytes(v, width // 8, width)
    elif op == ops.CLZ:
        r = alu.count_leading_zeros(v, width)
    else:  # CLS = CountLeadingZeroBits(x<N-1:1> EOR x<N-2:0>)
        r = alu.count_leading_zeros(((v >> U1) ^ v) & (mask >> U1), width) - U1
    regs[dec[row, F_D]] = r


@jit_inline
def exec_two_source(regs, dec, row, op):
    """UDIV, SDIV, LSLV, LSRV, ASRV, RORV, CRC32*."""
    a = regs[dec[row, F_N]]
    b = regs[dec[row, F_M]]
    d = dec[row, F_D]
    if op == ops.CRC32:
        size = np.int64(dec[row, F_X])
        data = b if size == 3 else b & ((U1 << np.uint64(8 << size)) - U1)
        regs[d] = alu.crc32(a, data, 1 << size, dec[row, F_Y] != U0)
        return
    width = np.int64(dec[row, F_X])
    mask = M64 if width == 64 else M32
    a &= mask
    b &= mask
    if op == ops.UDIV:
        r = U0 if b == U0 else a // b
    elif op == ops.SDIV:
        if b == U0:
            r = U0
        else:
            sa = alu.sign_extend_from(a, width)
            sb = alu.sign_extend_from(b, width)
            neg = (np.int64(sa) < 0) != (np.int64(sb) < 0)
            ua = U0 - sa if np.int64(sa) < 0 else sa
            ub = U0 - sb if np.int64(sb) < 0 else sb
            q = ua // ub  # rounds toward zero; MIN / -1 wraps to MIN
            r = U0 - q if neg else q
    else:
        amount = b % np.uint64(width)
        r = alu.shift_reg(a, op - ops.LSLV, amount, width)
    regs[d] = r & mask


@jit_inline
def exec_multiply(regs, dec, row, op):
    """MADD/MSUB, SMADDL/SMSUBL, UMADDL/UMSUBL, SMULH, UMULH."""
    a = regs[dec[row, F_N]]
    b = regs[dec[row, F_M]]
    if op == ops.SMULH:
        r = alu.smulh(a, b)
    elif op == ops.UMULH:
        r = alu.umulh(a, b)
    else:
        if op == ops.SMADDL:
            prod = alu.sign_extend_from(a, 32) * alu.sign_extend_from(b, 32)
        elif op == ops.UMADDL:
            prod = (a & M32) * (b & M32)
        else:
            prod = a * b
        acc = regs[dec[row, F_A]]
        r = acc - prod if dec[row, F_Y] else acc + prod
        if op == ops.MADD:
            r &= dec[row, F_X]
    regs[dec[row, F_D]] = r
