"""Arm ARM C4.1.88 Loads and Stores (general-purpose registers): decode and execute.

Guest addresses are translated by the MMU when it is on (mmu.py: the run loop looks at
its data TLB first). When it is off, data accesses are to Device-nGnRnE memory, so a
misaligned one is an Alignment fault (as is any with SCTLR_ELx.A set). A physical
address in RAM is `mem`, every other one a device, reached through an MMIO exit
(exits.py describes the replay protocol).

The exclusive monitor is value based, as in QEMU: LDXR records the address, size and
the value it read; STXR succeeds when the monitor is still armed for that address and
a host compare-and-swap finds the same value in memory. Caveat (ABA): a store by
another CPU that writes the value back unchanged, or changes it and changes it back,
between the LDXR and the STXR goes unnoticed, where a hardware monitor would fail the
STXR. Lock-free guest code that relies on that failure (rare; Linux does not) can
misbehave. A STXR the monitor fails does not access memory, so one outside RAM fails
(status 1) rather than aborting, as in QEMU; a misaligned one is an Alignment fault.

Acquire/release: host atomics are sequentially consistent; plain loads and stores
follow the host's order (x86-64 TSO), and STLR and DMB/DSB add a host fence for the
store-to-load order that TSO does not give.

Record fields, by op (a "load info" is size_log2 | signed << 2 | to 32 bits << 3):
    LDR_IMM, STR*_IMM  D = Rt, N = base, M = written-back slot (N, or DISCARD), IMM = offset,
                       X = load info (stores: size_log2),
                       Y = address mask (all ones, or 0 for post-index: base + (IMM & Y))
    LDR_REG, STR_REG   D = Rt, N = base, M = index, X = load info, Y = option | shift << 3
    LDR_LIT            D = Rt, IMM = offset from PC, X = load info
    LDTR, STTR         D = Rt, N = base, IMM = offset, X = load info (STTR: size_log2)
    LDP, STP           D = Rt, A = Rt2, N, M, IMM, Y as LDR_IMM, X = load info
    LDXR, LDAR         D = Rt, N = base, X = size_log2
    STXR               D = Rt, A = Rs (status), N = base, X = size_log2
    STLR               D = Rt, N = base, X = size_log2
    LDXP               D = Rt, A = Rt2, N = base, X = size_log2 of one register
    STXP               D = Rt, M = Rt2, A = Rs (status), N = base, X = size_log2 of one
    CAS                D = Rt, M = Rs (read), A = Rs (written), N = base, X = size_log2
    CASP               D = Rt, M = Rs (read), A = Rs+1 (written), N = base, X = size_log2 of one
    LD_ATOMIC          D = Rt (written), M = Rs, N = base, X = size_log2, Y = RMW op (hostmem)
"""

import numpy as np

from smpsim.jit import decode_cache, exits, hostmem, mmu, ops
from smpsim.jit.alu import M32, M64, U0, U1
from smpsim.jit.compile import jit, jit_inline
from smpsim.jit.records import (F_A, F_D, F_IMM, F_M, F_N, F_X, F_Y, dst_zr, rec, reg_sp,
                                sign_extend, src_zr, undefined)
from smpsim.jit.state import (CUR_EL, DISCARD, EXCL_ADDR, EXCL_HI, EXCL_LO, EXCL_PA, EXCL_SIZE,
                              EXCL_VALID, EXIT_A,
                              EXIT_B, EXIT_C, EXIT_D, MMIO_DONE, MMIO_SEQ, MMIO_VAL0, RAM_BASE,
                              RAM_SIZE, SP, SP_ALIGN_MASK, XL_ON, XL_UNPRIV)

MODE_OFFSET, MODE_POST, MODE_PRE = 0, 1, 2
LOAD_SIGNED = 4
LOAD_TO_32 = 8

# --- decode -----------------------------------------------------------------------


@jit
def _kind(size, opc, prefetch_allowed):
    """(kind, load info) for size/opc: kind 0 store, 1 load, 2 prefetch, -1 unallocated."""
    if opc == 0:
        return 0, size
    if opc == 1:
        return 1, size
    if opc == 2:
        if size == 3:
            return (2 if prefetch_allowed else -1), 0
        return 1, size | LOAD_SIGNED
    if size <= 1:
        return 1, size | LOAD_SIGNED | LOAD_TO_32
    return -1, 0


@jit
def _addressing(Rn, mode):
    """(base slot, written-back slot, address mask) of an immediate-offset access: the
    address is base + (offset & mask), and base + offset goes to the written-back slot
    (DISCARD without writeback), so that executing it takes no branch on the mode."""
    n = reg_sp(Rn)
    return n, (DISCARD if mode == MODE_OFFSET else n), (U0 if mode == MODE_POST else M64)


@jit
def _single(size, opc, Rn, Rt, imm, mode, prefetch_allowed, unprivileged=False):
    kind, info = _kind(size, opc, prefetch_allowed)
    if kind < 0:
        return undefined()
    if kind == 2:
        return rec(ops.NOP)  # PRFM/PRFUM: a hint
    n, wb, amask = _addressing(Rn, mode)
    if unprivileged:
        return rec(ops.STTR if kind == 0 else ops.LDTR, d=src_zr(Rt) if kind == 0 else dst_zr(Rt),
                   n=n, imm=imm, x=info)
    if kind == 0:
        # one op per size: the size is then known where the store runs, with no branch on it
        return rec(ops.STRB_IMM + size, d=src_zr(Rt), n=n, m=wb, imm=imm, x=info, y=amask)
    return rec(ops.LDR_IMM, d=dst_zr(Rt), n=n, m=wb, imm=imm, x=info, y=amask)


@jit
def LDST_unsigned(size, opc, imm12, Rn, Rt):
    return _single(size, opc, Rn, Rt, imm12 << size, MODE_OFFSET, True)


@jit
def LDST_unscaled(size, opc, imm9, Rn, Rt):
    return _single(size, opc, Rn, Rt, sign_extend(imm9, 9), MODE_OFFSET, True)


@jit
def LDST_post(size, opc, imm9, Rn, Rt):
    return _single(size, opc, Rn, Rt, sign_extend(imm9, 9), MODE_POST, False)


@jit
def LDST_pre(size, opc, imm9, Rn, Rt):
    return _single(size, opc, Rn, Rt, sign_extend(imm9, 9), MODE_PRE, False)


@jit
def LDST_unprivileged(size, opc, imm9, Rn, Rt):
    return _single(size, opc, Rn, Rt, sign_extend(imm9, 9), MODE_OFFSET, False, True)


@jit
def LDST_register(size, opc, Rm, option, S, Rn, Rt):
    if option & 2 == 0:  # UXTB/UXTH/SXTB/SXTH are not allowed as an index
        return undefined()
    kind, info = _kind(size, opc, True)
    if kind < 0:
        return undefined()
    if kind == 2:
        return rec(ops.NOP)  # PRFM (register)
    y = option | ((size if S else 0) << 3)
    if kind == 0:
        return rec(ops.STR_REG, d=src_zr(Rt), n=reg_sp(Rn), m=src_zr(Rm), x=info, y=y)
    return rec(ops.LDR_REG, d=dst_zr(Rt), n=reg_sp(Rn), m=src_zr(Rm), x=info, y=y)


@jit
def LDR_literal(opc, imm19, Rt):
    if opc == 3:
        return rec(ops.NOP)  # PRFM (literal)
    info = (2, 3, 2 | LOAD_SIGNED)[opc]
    return rec(ops.LDR_LIT, d=dst_zr(Rt), imm=sign_extend(imm19, 19) << 2, x=info)


@jit
def _pair(opc, L, imm7, Rt2, Rn, Rt, mode):
    if opc == 3 or (opc == 1 and L == 0):  # opc 01 with L=0 is STGP (FEAT_MTE)
        return undefined()
    size = 3 if opc == 2 else 2
    info = size | (LOAD_SIGNED if opc == 1 else 0)
    imm = sign_extend(imm7, 7) << size
    n, wb, amask = _addressing(Rn, mode)
    if L:
        return rec(ops.LDP, d=dst_zr(Rt), a=dst_zr(Rt2), n=n, m=wb, imm=imm, x=info, y=amask)
    return rec(ops.STP, d=src_zr(Rt), a=src_zr(Rt2), n=n, m=wb, imm=imm, x=info, y=amask)


@jit
def LDSTNP(opc, L, imm7, Rt2, Rn, Rt):
    if opc == 1:
        return undefined()
    return _pair(opc, L, imm7, Rt2, Rn, Rt, MODE_OFFSET)


@jit
def LDSTP_post(opc, L, imm7, Rt2, Rn, Rt):
    return _pair(opc, L, imm7, Rt2, Rn, Rt, MODE_POST)


@jit
def LDSTP_offset(opc, L, imm7, Rt2, Rn, Rt):
    return _pair(opc, L, imm7, Rt2, Rn, Rt, MODE_OFFSET)


@jit
def LDSTP_pre(opc, L, imm7, Rt2, Rn, Rt):
    return _pair(opc, L, imm7, Rt2, Rn, Rt, MODE_PRE)


# Rs and Rt2 of the forms below that do not use them are "should be one" bits; like
# QEMU we ignore their value rather than treat other values as UNPREDICTABLE.

@jit
def LDST_exclusive_reg(size, L, Rs, o0, Rt2, Rn, Rt):
    if L:
        return rec(ops.LDXR, d=dst_zr(Rt), n=reg_sp(Rn), x=size)
    return rec(ops.STXR, d=src_zr(Rt), a=dst_zr(Rs), n=reg_sp(Rn), x=size)


@jit
def LDST_exclusive_pair(sz, L, Rs, o0, Rt2, Rn, Rt):
    if L:
        return rec(ops.LDXP, d=dst_zr(Rt), a=dst_zr(Rt2), n=reg_sp(Rn), x=2 + sz)
    return rec(ops.STXP, d=src_zr(Rt), m=src_zr(Rt2), a=dst_zr(Rs), n=reg_sp(Rn), x=2 + sz)


@jit
def LDST_ordered(size, L, Rs, o0, Rt2, Rn, Rt):
    # o0 = 0 is the LORegion form (LDLAR/STLLR); with no LORegions it behaves as LDAR/STLR
    if L:
        return rec(ops.LDAR, d=dst_zr(Rt), n=reg_sp(Rn), x=size)
    return rec(ops.STLR, d=src_zr(Rt), n=reg_sp(Rn), x=size)


@jit
def CAS(size, L, Rs, o0, Rn, Rt):
    return rec(ops.CAS, d=src_zr(Rt), m=src_zr(Rs), a=dst_zr(Rs), n=reg_sp(Rn), x=size)


@jit
def CASP(sz, L, Rs, o0, Rn, Rt):
    if Rs & 1 or Rt & 1:  # CONSTRAINED UNPREDICTABLE; QEMU makes it UNDEFINED
        return undefined()
    return rec(ops.CASP, d=Rt, m=Rs, a=dst_zr(Rs + 1), n=reg_sp(Rn), x=2 + sz)


@jit
def LD_atomic(size, A, R, Rs, opc, Rn, Rt):
    return rec(ops.LD_ATOMIC, d=dst_zr(Rt), m=src_zr(Rs), n=reg_sp(Rn), x=size, y=opc)


@jit
def SWP(size, A, R, Rs, Rn, Rt):
    return rec(ops.LD_ATOMIC, d=dst_zr(Rt), m=src_zr(Rs), n=reg_sp(Rn), x=size,
               y=hostmem.RMW_SWP)


# --- guest memory accesses --------------------------------------------------------


@jit
def ram_offset(cpu, addr, nbytes):
    """The offset in `mem` of an access that lies wholly in RAM, or -1."""
    off = addr - cpu[RAM_BASE]
    if off <= cpu[RAM_SIZE] - np.uint64(nbytes):
        return np.int64(off)
    return np.int64(-1)


@jit
def _device_access(cpu, addr, size_log2, kind, value):
    """A device access: answered from the replay buffer, or an exit for the caller."""
    seq = cpu[MMIO_SEQ]
    cpu[MMIO_SEQ] = seq + U1
    if seq < cpu[MMIO_DONE]:
        return 0, cpu[MMIO_VAL0 + np.int64(seq)]
    cpu[EXIT_A] = addr
    cpu[EXIT_B] = np.uint64(1 << size_log2)
    cpu[EXIT_C] = value
    return kind, U0


@jit
def _crosses_page(addr, nbytes):
    return (addr & np.uint64(0xFFF)) + np.uint64(nbytes) > np.uint64(0x1000)


@jit
def _split_read(cpu, mem, addr, nbytes):
    """A translated read that crosses a page: byte by byte, each page translated on its
    own. Only RAM can be read so (a device access that crosses a page is Device
    memory, unaligned: an alignment fault)."""
    value = U0
    for i in range(nbytes):
        a = addr + np.uint64(i)
        k, pa = mmu.translate(cpu, mem, a, 1, mmu.ACCESS_READ)
        if k:
            return k, U0
        off = ram_offset(cpu, pa, 1)
        if off < 0:
            return mmu.alignment_fault(cpu, addr, mmu.ACCESS_READ)
        value |= np.uint64(mem[off]) << np.uint64(8 * i)
    return 0, value


@jit
def _misaligned(addr, size_log2):
    return addr & ((U1 << np.uint64(size_log2)) - U1) != U0


@jit
def _read_physical(cpu, mem, addr, size_log2):
    off = ram_offset(cpu, addr, 1 << size_log2)
    if off >= 0:
        return 0, hostmem.load(mem, off, size_log2)
    return _device_access(cpu, addr, size_log2, exits.MMIO_READ, U0)


@jit
def read(cpu, mem, addr, size_log2):
    """(exit kind or 0, value zero-extended) of any read: through the MMU, or with
    translation off checked as to Device memory (mmu.untranslated)."""
    nbytes = 1 << size_log2
    if _misaligned(addr, size_log2) and mmu.alignment_checked(cpu):
        return mmu.alignment_fault(cpu, addr, mmu.ACCESS_READ)
    if cpu[XL_ON] == U0:
        k, _ = mmu.untranslated(cpu, addr, nbytes, mmu.ACCESS_READ)
        if k:
            return k, U0
        return _read_physical(cpu, mem, addr, size_log2)
    if _crosses_page(addr, nbytes):
        return _split_read(cpu, mem, addr, nbytes)
    k, pa = mmu.translate(cpu, mem, addr, nbytes, mmu.ACCESS_READ)
    if k:
        return k, U0
    return _read_physical(cpu, mem, pa, size_log2)


@jit
def read_for_load(cpu, mem, addr, size_log2):
    """As `read`, but the value's bits above the access size may hold the next bytes of
    RAM: one 8-byte load serves every size without a branch on it (finish_load drops
    the extra bytes). With translation on, only the data TLB is looked at (mmu.py); on
    a miss it says NEEDS_MMU, and the run loop runs the instruction again through
    exec_translated. (A call to the MMU from here, never made when it is off, cost the
    hot loop a third of its speed.)"""
    if cpu[XL_ON] != U0:
        off = mmu.dtlb_read_offset(cpu, addr)
    else:
        off = ram_offset(cpu, addr, 8)
        if _misaligned(addr, size_log2):
            off = np.int64(-1)
    if off >= 0:
        return 0, hostmem.load64(mem, off)
    # a data TLB miss; with the MMU off a device, a misaligned access (a fault: Device
    # memory) or the last bytes of RAM: all through exec_translated
    return exits.NEEDS_MMU, U0


@jit
def write(cpu, mem, page_slot, dec, addr, size_log2, value):
    """Exit kind or 0; with translation on, NEEDS_MMU on a data TLB miss (as
    read_for_load)."""
    nbytes = 1 << size_log2
    if cpu[XL_ON] != U0:
        off = mmu.dtlb_write_offset(cpu, addr, nbytes)
    else:
        off = ram_offset(cpu, addr, nbytes)
        if _misaligned(addr, size_log2):
            off = np.int64(-1)
    if off < 0:  # as in read_for_load
        return exits.NEEDS_MMU
    hostmem.store(mem, off, size_log2, value)  # (one copy of the store for both)
    decode_cache.note_store(page_slot, dec, off, nbytes)
    return 0


@jit
def write_physical(cpu, mem, page_slot, dec, addr, size_log2, value):
    nbytes = 1 << size_log2
    off = ram_offset(cpu, addr, nbytes)
    if off >= 0:
        hostmem.store(mem, off, size_log2, value)
        decode_cache.note_store(page_slot, dec, off, nbytes)
        return 0
    return _device_write(cpu, addr, size_log2, value)


@jit
def _device_write(cpu, addr, size_log2, value):
    if size_log2 < 3:  # the device sees the bytes stored, not the whole register
        value &= (U1 << np.uint64(8 << size_log2)) - U1
    kind, _ = _device_access(cpu, addr, size_log2, exits.MMIO_WRITE, value)
    return kind


@jit
def write_any(cpu, mem, page_slot, dec, addr, size_log2, value):
    """Exit kind or 0 for any write (as `read`)."""
    nbytes = 1 << size_log2
    if _misaligned(addr, size_log2) and mmu.alignment_checked(cpu):
        k, _ = mmu.alignment_fault(cpu, addr, mmu.ACCESS_WRITE)
        return k
    if cpu[XL_ON] == U0:
        k, _ = mmu.untranslated(cpu, addr, nbytes, mmu.ACCESS_WRITE)
        if k:
            return k
        return write_physical(cpu, mem, page_slot, dec, addr, size_log2, value)
    if _crosses_page(addr, nbytes):
        return _split_write(cpu, mem, page_slot, dec, addr, nbytes, value)
    k, pa = mmu.translate(cpu, mem, addr, nbytes, mmu.ACCESS_WRITE)
    if k:
        return k
    return write_physical(cpu, mem, page_slot, dec, pa, size_log2, value)


@jit
def _split_write(cpu, mem, page_slot, dec, addr, nbytes, value):
    """A translated write that crosses a page (as _split_read): every byte's page is
    translated and checked before any byte is written."""
    for i in range(nbytes):
        k, pa = mmu.translate(cpu, mem, addr + np.uint64(i), 1, mmu.ACCESS_WRITE)
        if k:
            return k
        if ram_offset(cpu, pa, 1) < 0:
            k, _ = mmu.alignment_fault(cpu, addr, mmu.ACCESS_WRITE)
            return k
    for i in range(nbytes):  # (the TLB holds both pages now)
        _, pa = mmu.translate(cpu, mem, addr + np.uint64(i), 1, mmu.ACCESS_WRITE)
        off = ram_offset(cpu, pa, 1)
        mem[off] = np.uint8((value >> np.uint64(8 * i)) & np.uint64(0xFF))
        decode_cache.note_store(page_slot, dec, np.uint64(off), 1)
    return 0


@jit
def finish_load(value, info):
    """Keep the access size's bytes of a loaded value, zero- or sign-extended as the
    load info asks, without branching on it."""
    shift = np.uint64(64) - (np.uint64(8) << (info & np.uint64(3)))
    top = value << shift
    signed = U0 - ((info >> np.uint64(2)) & U1)
    extended = (np.uint64(np.int64(top) >> np.int64(shift)) & signed) | ((top >> shift) & ~signed)
    return extended & (M64 >> (((info >> np.uint64(3)) & U1) << np.uint64(5)))


@jit
def _abort(cpu, addr, nbytes, is_write, reason):
    cpu[EXIT_A] = addr
    cpu[EXIT_B] = np.uint64(nbytes)
    cpu[EXIT_C] = np.uint64(is_write)
    cpu[EXIT_D] = np.uint64(reason)
    return exits.DATA_ABORT


@jit
def _atomic_offset(cpu, mem, addr, nbytes, is_write):
    """(exit kind or 0, RAM offset) for an exclusive or atomic access: aligned, in RAM."""
    if addr & np.uint64(nbytes - 1):
        return _abort(cpu, addr, nbytes, is_write, exits.ABORT_ALIGNMENT), np.int64(0)
    pa = addr
    if cpu[XL_ON] != U0:
        k, pa = mmu.translate(cpu, mem, addr, nbytes,
                              mmu.ACCESS_RMW if is_write else mmu.ACCESS_READ)
        if k:
            return k, np.int64(0)
    off = ram_offset(cpu, pa, nbytes)
    if off < 0:  # (the fault reports the virtual address)
        return _abort(cpu, addr, nbytes, is_write, exits.ABORT_NOT_RAM), np.int64(0)
    return 0, off


# --- execute ----------------------------------------------------------------------


@jit
def sp_misaligned(regs, cpu, dec, row):
    """SP is the base, SCTLR_ELx.SA checks it, and it is not 16-byte aligned (one test
    on the usual path: the mask is 0 when checking is off or SP is not the base)."""
    is_sp = np.uint64(dec[row, F_N] == np.uint64(SP))
    return (regs[SP] & cpu[SP_ALIGN_MASK] & (U0 - is_sp)) != U0


@jit_inline
def _load(cpu, mem, addr, size_log2, mmu_on):
    """The executors' load: the run loop's fast path (read_for_load: RAM or the data
    TLB, else NEEDS_MMU) or, in exec_translated, the whole of `read`. `mmu_on` is a
    constant wherever this is inlined."""
    if mmu_on:
        return read(cpu, mem, addr, size_log2)
    return read_for_load(cpu, mem, addr, size_log2)


@jit_inline
def _store(cpu, mem, page_slot, dec, addr, size_log2, value, mmu_on):
    if mmu_on:
        return write_any(cpu, mem, page_slot, dec, addr, size_log2, value)
    return write(cpu, mem, page_slot, dec, addr, size_log2, value)


@jit
def exec_unprivileged(regs, cpu, mem, page_slot, dec, row, op):
    """LDTR*/STTR* (LDTR: D = Rt, N = base, IMM = offset, X = load info; STTR: X =
    size_log2). At EL1, or at EL2 in the EL2&0 regime, with translation on they access
    memory as EL0 would; otherwise they are LDR/STR (immediate offset)."""
    if sp_misaligned(regs, cpu, dec, row):
        return exits.SP_ALIGNMENT
    addr = regs[dec[row, F_N]] + dec[row, F_IMM]
    info = dec[row, F_X]
    cur = cpu[CUR_EL]
    as_el0 = cur == U1 or (cur == np.uint64(2) and mmu.regime(cpu) == mmu.REGIME_EL20)
    cpu[XL_UNPRIV] = U1 if as_el0 else U0
    if op == ops.LDTR:
        kind, v = read(cpu, mem, addr, info & np.uint64(3))
        if kind == 0:
            regs[dec[row, F_D]] = finish_load(v, info)
    else:
        kind = write_any(cpu, mem, page_slot, dec, addr, info & np.uint64(3), regs[dec[row, F_D]])
    cpu[XL_UNPRIV] = U0
    return kind


@jit
def exec_translated(regs, cpu, mem, page_slot, dec, row, op, pc):
    """The run loop's memory op at `row` again, through `read`/`write_any` (after
    NEEDS_MMU): translated, or checked as Device memory with the MMU off."""
    if op == ops.LDR_IMM:
        return exec_LDR_IMM(regs, cpu, mem, dec, row, True)
    if op == ops.STRX_IMM:
        return exec_STR_IMM(regs, cpu, mem, page_slot, dec, row, 3, True)
    if op == ops.STRW_IMM:
        return exec_STR_IMM(regs, cpu, mem, page_slot, dec, row, 2, True)
    if op == ops.STRH_IMM:
        return exec_STR_IMM(regs, cpu, mem, page_slot, dec, row, 1, True)
    if op == ops.STRB_IMM:
        return exec_STR_IMM(regs, cpu, mem, page_slot, dec, row, 0, True)
    if op == ops.LDP:
        return exec_LDP(regs, cpu, mem, dec, row, True)
    if op == ops.STP:
        return exec_STP(regs, cpu, mem, page_slot, dec, row, True)
    if op == ops.LDR_REG:
        return exec_LDR_REG(regs, cpu, mem, dec, row, True)
    if op == ops.STR_REG:
        return exec_STR_REG(regs, cpu, mem, page_slot, dec, row, True)
    return exec_LDR_LIT(regs, cpu, mem, dec, row, pc, True)


@jit
def _address(regs, dec, row):
    """(access address, written-back base) for the immediate forms."""
    base = regs[dec[row, F_N]]
    offset = dec[row, F_IMM]
    return base + (offset & dec[row, F_Y]), base + offset


@jit_inline
def exec_LDR_IMM(regs, cpu, mem, dec, row, mmu_on):
    if sp_misaligned(regs, cpu, dec, row):
        return exits.SP_ALIGNMENT
    addr, updated = _address(regs, dec, row)
    info = dec[row, F_X]
    kind, v = _load(cpu, mem, addr, info & np.uint64(3), mmu_on)
    if kind:
        return kind
    regs[dec[row, F_D]] = finish_load(v, info)
    regs[dec[row, F_M]] = updated  # after the load: with Rn == Rt the base wins, as in QEMU
    return 0


@jit_inline
def exec_STR_IMM(regs, cpu, mem, page_slot, dec, row, size_log2, mmu_on):
    if sp_misaligned(regs, cpu, dec, row):
        return exits.SP_ALIGNMENT
    addr, updated = _address(regs, dec, row)
    kind = _store(cpu, mem, page_slot, dec, addr, size_log2, regs[dec[row, F_D]], mmu_on)
    if kind:
        return kind
    regs[dec[row, F_M]] = updated
    return 0


@jit
def _register_address(regs, dec, row):
    """Base + extended index << shift (LSL/SXTX, UXTW or SXTW), without branches."""
    y = dec[row, F_Y]
    w_index = U1 - (y & U1)  # option 010 UXTW and 110 SXTW take a W register
    signed = U0 - ((y >> np.uint64(2)) & U1)
    drop = w_index << np.uint64(5)
    top = regs[dec[row, F_M]] << drop
    index = (np.uint64(np.int64(top) >> np.int64(drop)) & signed) | ((top >> drop) & ~signed)
    return regs[dec[row, F_N]] + (index << (y >> np.uint64(3)))


@jit_inline
def exec_LDR_REG(regs, cpu, mem, dec, row, mmu_on):
    if sp_misaligned(regs, cpu, dec, row):
        return exits.SP_ALIGNMENT
    info = dec[row, F_X]
    kind, v = _load(cpu, mem, _register_address(regs, dec, row), info & np.uint64(3), mmu_on)
    if kind:
        return kind
    regs[dec[row, F_D]] = finish_load(v, info)
    return 0


@jit_inline
def exec_STR_REG(regs, cpu, mem, page_slot, dec, row, mmu_on):
    if sp_misaligned(regs, cpu, dec, row):
        return exits.SP_ALIGNMENT
    return _store(cpu, mem, page_slot, dec, _register_address(regs, dec, row),
                  dec[row, F_X] & np.uint64(3), regs[dec[row, F_D]], mmu_on)


@jit_inline
def exec_LDR_LIT(regs, cpu, mem, dec, row, pc, mmu_on):
    info = dec[row, F_X]
    kind, v = _load(cpu, mem, pc + dec[row, F_IMM], info & np.uint64(3), mmu_on)
    if kind:
        return kind
    regs[dec[row, F_D]] = finish_load(v, info)
    return 0


@jit_inline
def exec_LDP(regs, cpu, mem, dec, row, mmu_on):
    if sp_misaligned(regs, cpu, dec, row):
        return exits.SP_ALIGNMENT
    addr, updated = _address(regs, dec, row)
    info = dec[row, F_X]
    size = info & np.uint64(3)
    kind, v1 = _load(cpu, mem, addr, size, mmu_on)
    if kind:
        return kind
    kind, v2 = _load(cpu, mem, addr + (U1 << size), size, mmu_on)
    if kind:
        return kind
    # Rt last: with Rt == Rt2 (CONSTRAINED UNPREDICTABLE) the first value wins, as in QEMU
    regs[dec[row, F_A]] = finish_load(v2, info)
    regs[dec[row, F_D]] = finish_load(v1, info)
    regs[dec[row, F_M]] = updated
    return 0


@jit_inline
def exec_STP(regs, cpu, mem, page_slot, dec, row, mmu_on):
    if sp_misaligned(regs, cpu, dec, row):
        return exits.SP_ALIGNMENT
    addr, updated = _address(regs, dec, row)
    size = dec[row, F_X] & np.uint64(3)
    v1 = regs[dec[row, F_D]]
    v2 = regs[dec[row, F_A]]
    kind = _store(cpu, mem, page_slot, dec, addr, size, v1, mmu_on)
    if kind:
        return kind
    kind = _store(cpu, mem, page_slot, dec, addr + (U1 << size), size, v2, mmu_on)
    if kind:
        return kind
    regs[dec[row, F_M]] = updated
    return 0


@jit
def _arm_monitor(cpu, addr, off, nbytes, lo, hi):
    cpu[EXCL_VALID] = U1
    cpu[EXCL_ADDR] = addr
    cpu[EXCL_PA] = cpu[RAM_BASE] + np.uint64(off)  # (what a waiting CPU process looks at)
    cpu[EXCL_SIZE] = np.uint64(nbytes)
    cpu[EXCL_LO] = lo
    cpu[EXCL_HI] = hi


@jit
def _monitor_matches(cpu, addr, nbytes):
    armed = cpu[EXCL_VALID] != U0 and cpu[EXCL_ADDR] == addr and cpu[EXCL_SIZE] == np.uint64(nbytes)
    cpu[EXCL_VALID] = U0  # a store-exclusive always clears the monitor
    return armed


@jit
def _sized(value, size_log2):
    return value if size_log2 == 3 else value & ((U1 << np.uint64(8 << size_log2)) - U1)


@jit
def exec_exclusive_or_ordered(regs, cpu, mem, page_slot, dec, row, op):
    """LDXR/LDAXR, STXR/STLXR, LDXP/LDAXP, STXP/STLXP, LDAR, STLR."""
    if sp_misaligned(regs, cpu, dec, row):
        return exits.SP_ALIGNMENT
    addr = regs[dec[row, F_N]]
    size = np.int64(dec[row, F_X])
    pair = op == ops.LDXP or op == ops.STXP
    nbytes = (2 << size) if pair else (1 << size)
    if op == ops.LDAR or op == ops.STLR:
        # Ordered accesses must be aligned (no FEAT_LSE2) but, unlike exclusives and
        # atomics, may go to a device
        if addr & np.uint64(nbytes - 1):
            return _abort(cpu, addr, nbytes, op == ops.STLR, exits.ABORT_ALIGNMENT)
        if op == ops.LDAR:
            kind, v = read(cpu, mem, addr, size)
            if kind == 0:
                regs[dec[row, F_D]] = v
            return kind
        kind = write_any(cpu, mem, page_slot, dec, addr, size, regs[dec[row, F_D]])
        hostmem.fence()
        return kind
    if op == ops.STXR or op == ops.STXP:
        # AArch64.ExclusiveMonitorsPass: the alignment check comes first; whether other
        # aborts are detected before the monitor check is IMPLEMENTATION DEFINED, and we
        # do what QEMU does: a store-exclusive the monitor fails never reaches memory.
        if addr & np.uint64(nbytes - 1):
            return _abort(cpu, addr, nbytes, True, exits.ABORT_ALIGNMENT)
        if not _monitor_matches(cpu, addr, nbytes):
            regs[dec[row, F_A]] = U1
            return 0
    kind, off = _atomic_offset(cpu, mem, addr, nbytes, op == ops.STXR or op == ops.STXP)
    if kind:
        return kind
    if op == ops.LDXR:
        v = hostmem.load(mem, off, size)
        regs[dec[row, F_D]] = v
        _arm_monitor(cpu, addr, off, nbytes, v, U0)
    elif op == ops.LDXP:
        if size == 3:
            lo = hostmem.load64(mem, off)
            hi = hostmem.load64(mem, off + 8)
            regs[dec[row, F_D]] = lo
            regs[dec[row, F_A]] = hi
        else:
            lo = hostmem.load64(mem, off)
            hi = U0
            regs[dec[row, F_D]] = lo & M32
            regs[dec[row, F_A]] = lo >> np.uint64(32)
        _arm_monitor(cpu, addr, off, nbytes, lo, hi)
    else:  # STXR, STXP whose monitor passed; the status register is written last (it may
        # be Rt's own)
        expected = cpu[EXCL_LO]
        if op == ops.STXR:
            new = regs[dec[row, F_D]]
            ok = hostmem.compare_and_swap(mem, off, size, expected, new) == _sized(expected, size)
        elif size == 3:
            old_lo, old_hi = hostmem.cas128(mem, off, expected, cpu[EXCL_HI],
                                            regs[dec[row, F_D]], regs[dec[row, F_M]])
            ok = old_lo == expected and old_hi == cpu[EXCL_HI]
        else:
            new = (regs[dec[row, F_D]] & M32) | (regs[dec[row, F_M]] << np.uint64(32))
            ok = hostmem.cas64(mem, off, expected, new) == expected
        if ok:
            decode_cache.note_store(page_slot, dec, off, nbytes)
        regs[dec[row, F_A]] = U0 if ok else U1
    return 0


@jit
def exec_cas(regs, cpu, mem, page_slot, dec, row, op):
    """CAS*, CASP*: compare with Rs, store Rt if equal, Rs receives the old value."""
    if sp_misaligned(regs, cpu, dec, row):
        return exits.SP_ALIGNMENT
    addr = regs[dec[row, F_N]]
    size = np.int64(dec[row, F_X])
    pair = op == ops.CASP
    nbytes = (2 << size) if pair else (1 << size)
    kind, off = _atomic_offset(cpu, mem, addr, nbytes, True)
    if kind:
        return kind
    s, t = dec[row, F_M], dec[row, F_D]
    if not pair:
        old = hostmem.compare_and_swap(mem, off, size, _sized(regs[s], size), _sized(regs[t], size))
        changed = old == _sized(regs[s], size)
        regs[dec[row, F_A]] = old
    elif size == 3:
        e_lo, e_hi = regs[s], regs[s + U1]
        old_lo, old_hi = hostmem.cas128(mem, off, e_lo, e_hi, regs[t], regs[t + U1])
        changed = old_lo == e_lo and old_hi == e_hi
        regs[s] = old_lo
        regs[dec[row, F_A]] = old_hi
    else:
        expected = (regs[s] & M32) | (regs[s + U1] << np.uint64(32))
        new = (regs[t] & M32) | (regs[t + U1] << np.uint64(32))
        old = hostmem.cas64(mem, off, expected, new)
        changed = old == expected
        regs[s] = old & M32
        regs[dec[row, F_A]] = old >> np.uint64(32)
    if changed:
        decode_cache.note_store(page_slot, dec, off, nbytes)
    return 0


@jit
def exec_LD_ATOMIC(regs, cpu, mem, page_slot, dec, row):
    if sp_misaligned(regs, cpu, dec, row):
        return exits.SP_ALIGNMENT
    addr = regs[dec[row, F_N]]
    size = np.int64(dec[row, F_X])
    kind, off = _atomic_offset(cpu, mem, addr, 1 << size, True)
    if kind:
        return kind
    old = hostmem.atomic_rmw(mem, off, size, np.int64(dec[row, F_Y]), regs[dec[row, F_M]])
    regs[dec[row, F_D]] = old
    decode_cache.note_store(page_slot, dec, off, 1 << size)
    return 0
