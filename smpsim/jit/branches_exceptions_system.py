"""Arm ARM C4.1.87 Branches, Exception Generating and System: decode functions.

Branch executors need the PC, which the interpreter keeps in a local, so the
interpreter executes them inline; what they read is documented here.

Record fields, by op:
    B, BL          IMM = offset
    B_COND         IMM = offset, X = cond
    CBZ, CBNZ      N, IMM = offset, X = width mask
    TBZ, TBNZ      N, IMM = offset, X = bit number
    BR, BLR        N (RET is BR)
    SVC HVC SMC BRK HLT   IMM = imm16   -> exceptions (exceptions.py); an untrapped SMC
                                           and HLT leave the core as exits
    ERET                                   -> exceptions.exception_return
    SYSREG         IMM = op0 << 14 | op1 << 11 | CRn << 7 | CRm << 3 | op2,
                   X = Rt (architectural number), Y = read (MRS, SYSL),
                   A = 1 + row in sysreg_table (0: unallocated) -> system_registers.py
    MSR_IMM        IMM = op1 << 3 | op2 (the PSTATE field), X = CRm -> system_registers.py
    WFE WFI SEV SEVL YIELD                                   -> executed, then an exit
    NOP, BARRIER (X = the barrier: 4 DSB, 5 DMB, 6 ISB, 7 SB), CLREX
"""


from smpsim.jit import ops
from smpsim.jit.compile import jit
from smpsim.jit.records import rec, sign_extend, src_zr, undefined, width_mask
from smpsim.jit.system_registers import entry_for_key


@jit
def B_cond(imm19, cond):
    return rec(ops.B_COND, imm=sign_extend(imm19, 19) << 2, x=cond)


@jit
def SVC(imm16):
    return rec(ops.SVC, imm=imm16)


@jit
def HVC(imm16):
    return rec(ops.HVC, imm=imm16)


@jit
def SMC(imm16):
    return rec(ops.SMC, imm=imm16)


@jit
def BRK(imm16):
    return rec(ops.BRK, imm=imm16)


@jit
def HLT(imm16):
    return rec(ops.HLT, imm=imm16)


@jit
def HINT(CRm, op2):
    hint = (CRm << 3) | op2
    if hint == 1:
        return rec(ops.YIELD)
    if hint == 2:
        return rec(ops.WFE)
    if hint == 3:
        return rec(ops.WFI)
    if hint == 4:
        return rec(ops.SEV)
    if hint == 5:
        return rec(ops.SEVL)
    # NOP, and every hint this CPU does not implement (ESB, PSB, CSDB, BTI, the PAuth
    # hints, ...): unallocated hints execute as NOP.
    return rec(ops.NOP)


@jit
def BARRIER(CRm, op2):
    if op2 == 2:
        return rec(ops.CLREX)
    if op2 == 4 or op2 == 5 or op2 == 6:  # DSB (SSBB, PSSBB included), DMB, ISB
        return rec(ops.BARRIER, x=op2)
    if op2 == 7 and CRm == 0:  # SB
        return rec(ops.BARRIER, x=op2)
    return undefined()  # DSB nXS (FEAT_XS), TCOMMIT (FEAT_TME), unallocated


@jit
def MSR_imm(op1, CRm, op2):
    return rec(ops.MSR_IMM, imm=(op1 << 3) | op2, x=CRm)


@jit
def _sysreg(op0, op1, CRn, CRm, op2, Rt, read):
    key = (op0 << 14) | (op1 << 11) | (CRn << 7) | (CRm << 3) | op2
    # A = 1 + the register's row in the system register table (0: no such register)
    return rec(ops.SYSREG, a=entry_for_key(key) + 1, imm=key, x=Rt, y=read)


@jit
def SYS(L, op1, CRn, CRm, op2, Rt):
    return _sysreg(1, op1, CRn, CRm, op2, Rt, L)


@jit
def MSR_MRS_reg(L, o0, op1, CRn, CRm, op2, Rt):
    return _sysreg(2 | o0, op1, CRn, CRm, op2, Rt, L)


@jit
def BR(Rn):
    return rec(ops.BR, n=src_zr(Rn))


@jit
def BLR(Rn):
    return rec(ops.BLR, n=src_zr(Rn))


@jit
def RET(Rn):
    return rec(ops.BR, n=src_zr(Rn))


@jit
def ERET():
    return rec(ops.ERET)


@jit
def B(imm26):
    return rec(ops.B, imm=sign_extend(imm26, 26) << 2)


@jit
def BL(imm26):
    return rec(ops.BL, imm=sign_extend(imm26, 26) << 2)


@jit
def CB(sf, op, imm19, Rt):
    return rec(ops.CBNZ if op else ops.CBZ, n=src_zr(Rt), imm=sign_extend(imm19, 19) << 2,
               x=width_mask(sf))


@jit
def TB(b5, op, b40, imm14, Rt):
    return rec(ops.TBNZ if op else ops.TBZ, n=src_zr(Rt), imm=sign_extend(imm14, 14) << 2,
               x=(b5 << 5) | b40)
