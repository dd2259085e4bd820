"""The run loop: execute up to a budget of instructions, or until an exit.

One jit-compiled loop keeps PC and NZCV in locals, fetches through the decode cache
(decode_cache.py), decodes a word only the first time it runs, and dispatches on the
op id with a flat if/elif chain that LLVM turns into a jump table. The branch ops
(branches_exceptions_system.py documents their records) run inline because they
change the PC; the common ops' executors are inlined by Numba (compile.jit_inline);
the rare ones are reached through one call, `_rare`. Anything that needs the outside
world leaves the loop as an exit (exits.py).
"""

import numpy as np

from smpsim.jit import a64_decoder, alu, decode_cache, exits, hostmem, ops
from smpsim.jit import data_processing_immediate as dpi
from smpsim.jit import data_processing_register as dpr
from smpsim.jit import loads_stores as ls
from smpsim.jit.alu import U0, U1
from smpsim.jit.compile import jit, jit_inline
from smpsim.jit.decode_cache import PAGE_SHIFT, SLOT_ROWS
from smpsim.jit.records import F_D, F_IMM, F_M, F_N, F_OP, F_X, F_Y, RECORD_WORDS
from smpsim.jit.state import (EVENT_REGISTER, EXCL_VALID, EXIT_A, EXIT_B, EXIT_C, EXIT_INSN,
                              EXIT_KIND, EXIT_PC, ICOUNT, MMIO_DONE, MMIO_SEQ, NZCV, PC,
                              RAM_BASE, RAM_SIZE)

_LR = 30
PAGE_MASK = (1 << PAGE_SHIFT) - 1


@jit
def _decode_into(dec, row, word):
    r = a64_decoder.decode(np.int64(word))
    for i in range(RECORD_WORDS):
        dec[row, i] = r[i]


@jit_inline
def _follow(next_pc, page_va, base_row, force_row):
    """After a branch: (base_row, page_va) for `next_pc`; the lookup row when it left the
    page (branch-free: the host should not have to predict the guest's branches twice)."""
    far = ((next_pc - page_va) >> np.uint64(PAGE_SHIFT)) != U0
    return (force_row if far else base_row), (next_pc if far else page_va)


@jit
def _loop(regs, cpu, mem, page_slot, slot_page, dec, budget):
    """Run at most `budget` instructions; returns (exit kind, instructions retired)."""
    pc = cpu[PC]
    nzcv = cpu[NZCV]
    ram_base = cpu[RAM_BASE]
    ram_size = cpu[RAM_SIZE]
    # the rows of the page of `pc` start at `base_row`; the page starts at `page_va`.
    # Starting on the lookup row makes the first dispatch look the page up.
    force_row = np.int64(dec.shape[0] - 1)
    base_row = force_row
    page_va = pc
    count = np.int64(0)
    kind = exits.BUDGET
    while count < budget:
        row = base_row + np.int64((pc - page_va) >> np.uint64(2))
        op = np.int64(dec[row, F_OP])
        next_pc = pc + np.uint64(4)

        # --- the common ops, inline or in small executors -------------------------
        if op == ops.NOT_DECODED:  # part of the dispatch, not a test of its own
            _decode_into(dec, row, hostmem.load32(mem, pc - ram_base))
            continue
        elif op == ops.PAGE_END:  # pc has left the page of `base_row`: find its own
            off = pc - ram_base
            if off >= ram_size:
                cpu[EXIT_A] = pc
                kind = exits.FETCH_ABORT
                break
            slot = decode_cache.slot_for_page(cpu, page_slot, slot_page, dec,
                                              np.int64(off >> np.uint64(PAGE_SHIFT)))
            base_row = slot * SLOT_ROWS
            page_va = pc & ~np.uint64(PAGE_MASK)
            continue
        elif op == ops.ADD_IMM:
            dpi.exec_ADD_IMM(regs, dec, row)
        elif op == ops.ADDS_X:
            nzcv = dpi.exec_ADDS_X(regs, dec, row)
        elif op == ops.ADDS_W:
            nzcv = dpi.exec_ADDS_W(regs, dec, row)
        elif op == ops.MOVI:
            regs[dec[row, F_D]] = dec[row, F_IMM]
        elif op == ops.MOV_REG:
            regs[dec[row, F_D]] = regs[dec[row, F_M]] & dec[row, F_X]
        elif op == ops.B_COND:
            if alu.condition_holds(dec[row, F_X], nzcv):
                next_pc = pc + dec[row, F_IMM]
            base_row, page_va = _follow(next_pc, page_va, base_row, force_row)
        elif op == ops.B:
            next_pc = pc + dec[row, F_IMM]
            base_row, page_va = _follow(next_pc, page_va, base_row, force_row)
        elif op == ops.BL:
            regs[_LR] = next_pc
            next_pc = pc + dec[row, F_IMM]
            base_row, page_va = _follow(next_pc, page_va, base_row, force_row)
        elif op == ops.CBZ:
            if regs[dec[row, F_N]] & dec[row, F_X] == U0:
                next_pc = pc + dec[row, F_IMM]
            base_row, page_va = _follow(next_pc, page_va, base_row, force_row)
        elif op == ops.CBNZ:
            if regs[dec[row, F_N]] & dec[row, F_X] != U0:
                next_pc = pc + dec[row, F_IMM]
            base_row, page_va = _follow(next_pc, page_va, base_row, force_row)
        elif op == ops.TBZ:
            if (regs[dec[row, F_N]] >> dec[row, F_X]) & U1 == U0:
                next_pc = pc + dec[row, F_IMM]
            base_row, page_va = _follow(next_pc, page_va, base_row, force_row)
        elif op == ops.TBNZ:
            if (regs[dec[row, F_N]] >> dec[row, F_X]) & U1 != U0:
                next_pc = pc + dec[row, F_IMM]
            base_row, page_va = _follow(next_pc, page_va, base_row, force_row)
        elif op == ops.BR or op == ops.BLR:
            target = regs[dec[row, F_N]]  # read before BLR writes LR: BLR X30 is allowed
            if op == ops.BLR:
                regs[_LR] = next_pc
            next_pc = target
            if target & np.uint64(3):
                pc = target
                count += 1
                cpu[EXIT_A] = target
                kind = exits.PC_ALIGNMENT
                break
            base_row, page_va = _follow(next_pc, page_va, base_row, force_row)
        elif op == ops.LDR_IMM:
            k = ls.exec_LDR_IMM(regs, cpu, mem, dec, row)
            if k:
                kind = k
                break
        elif op == ops.STRX_IMM:
            k = ls.exec_STR_IMM(regs, cpu, mem, page_slot, dec, row, 3)
            if k:
                kind = k
                break
        elif op == ops.STRW_IMM:
            k = ls.exec_STR_IMM(regs, cpu, mem, page_slot, dec, row, 2)
            if k:
                kind = k
                break
        elif op == ops.STRH_IMM:
            k = ls.exec_STR_IMM(regs, cpu, mem, page_slot, dec, row, 1)
            if k:
                kind = k
                break
        elif op == ops.STRB_IMM:
            k = ls.exec_STR_IMM(regs, cpu, mem, page_slot, dec, row, 0)
            if k:
                kind = k
                break
        elif op == ops.LDP:
            k = ls.exec_LDP(regs, cpu, mem, dec, row)
            if k:
                kind = k
                break
        elif op == ops.STP:
            k = ls.exec_STP(regs, cpu, mem, page_slot, dec, row)
            if k:
                kind = k
                break
        elif op == ops.LDR_REG:
            k = ls.exec_LDR_REG(regs, cpu, mem, dec, row)
            if k:
                kind = k
                break
        elif op == ops.STR_REG:
            k = ls.exec_STR_REG(regs, cpu, mem, page_slot, dec, row)
            if k:
                kind = k
                break
        elif op == ops.LDR_LIT:
            k = ls.exec_LDR_LIT(regs, cpu, mem, dec, row, pc)
            if k:
                kind = k
                break
        elif op == ops.ADR:
            regs[dec[row, F_D]] = pc + dec[row, F_IMM]
        elif op == ops.ADRP:
            regs[dec[row, F_D]] = (pc & ~np.uint64(PAGE_MASK)) + dec[row, F_IMM]
        elif op == ops.AND_IMM:
            regs[dec[row, F_D]] = regs[dec[row, F_N]] & dec[row, F_IMM] & dec[row, F_X]
        elif op == ops.ORR_IMM:
            regs[dec[row, F_D]] = (regs[dec[row, F_N]] | dec[row, F_IMM]) & dec[row, F_X]
        elif op == ops.EOR_IMM:
            regs[dec[row, F_D]] = (regs[dec[row, F_N]] ^ dec[row, F_IMM]) & dec[row, F_X]
        elif op == ops.ANDS_IMM:
            nzcv = dpi.exec_ANDS_IMM(regs, dec, row)
        elif op == ops.MOVK:
            dpi.exec_MOVK(regs, dec, row)
        elif op == ops.LSL_IMM:
            dpi.exec_LSL_IMM(regs, dec, row)
        elif op == ops.LSR_IMM:
            dpi.exec_LSR_IMM(regs, dec, row)
        elif op == ops.ASR_IMM:
            dpi.exec_ASR_IMM(regs, dec, row)
        elif op == ops.LOGICAL_REG:
            dpr.exec_LOGICAL_REG(regs, dec, row)
        elif op == ops.ANDS_REG:
            nzcv = dpr.exec_ANDS_REG(regs, dec, row)
        elif op == ops.ADD_SREG:
            dpr.exec_add_sub(regs, dec, row, False)
        elif op == ops.ADDS_SREG_X or op == ops.ADDS_SREG_W:
            nzcv = dpr.exec_adds_sub(regs, dec, row, False)
        elif op == ops.ADD_EREG:
            dpr.exec_add_sub(regs, dec, row, True)
        elif op == ops.ADDS_EREG_X or op == ops.ADDS_EREG_W:
            nzcv = dpr.exec_adds_sub(regs, dec, row, True)
        elif op == ops.CSEL:
            dpr.exec_CSEL(regs, dec, row, nzcv)
        elif op == ops.UBFM:
            dpi.exec_bitfield(regs, dec, row, 0)
        elif op == ops.SBFM:
            dpi.exec_bitfield(regs, dec, row, 1)
        elif op == ops.BFM:
            dpi.exec_bitfield(regs, dec, row, 2)
        elif op == ops.EXTR:
            dpi.exec_EXTR(regs, dec, row)
        elif op == ops.CCMP_X:
            nzcv = dpr.exec_ccmp(regs, dec, row, nzcv, 64)
        elif op == ops.CCMP_W:
            nzcv = dpr.exec_ccmp(regs, dec, row, nzcv, 32)
        elif op >= ops.UDIV and op <= ops.RORV:
            dpr.exec_two_source(regs, dec, row, op)
        elif op >= ops.MADD and op <= ops.UMULH:
            dpr.exec_multiply(regs, dec, row, op)
        elif op == ops.NOP or op == ops.YIELD:
            pass
        else:
            # --- rare ops ----------------------------------------------------------
            k, nzcv = _rare(regs, cpu, mem, page_slot, dec, row, op, nzcv, pc)
            if k:
                kind = k
                if kind >= exits.WFI and kind <= exits.SEVL:  # hints retire, then exit
                    pc = next_pc
                    count += 1
                break
        pc = next_pc
        count += 1

    if kind != exits.BUDGET:
        exit_pc = pc
        if kind >= exits.WFI and kind <= exits.SEVL:
            exit_pc = pc - np.uint64(4)
        cpu[EXIT_PC] = exit_pc
        off = exit_pc - ram_base
        cpu[EXIT_INSN] = hostmem.load32(mem, off) if off <= ram_size - np.uint64(4) else U0
    cpu[EXIT_KIND] = np.uint64(kind)
    cpu[PC] = pc
    cpu[NZCV] = nzcv
    cpu[ICOUNT] += np.uint64(count)
    return kind, count


@jit
def _rare(regs, cpu, mem, page_slot, dec, row, op, nzcv, pc):
    """Ops kept out of the hot loop: (exit kind or 0, flags)."""
    if op == ops.ADC:
        nzcv = dpr.exec_adc(regs, dec, row, nzcv, False)
    elif op == ops.ADCS_X or op == ops.ADCS_W:
        nzcv = dpr.exec_adc(regs, dec, row, nzcv, True)
    elif op >= ops.RBIT and op <= ops.CLS:
        dpr.exec_one_source(regs, dec, row, op)
    elif op == ops.CRC32:
        dpr.exec_two_source(regs, dec, row, op)
    elif op == ops.LDXR or op == ops.STXR or op == ops.LDXP or op == ops.STXP \
            or op == ops.LDAR or op == ops.STLR:
        return ls.exec_exclusive_or_ordered(regs, cpu, mem, page_slot, dec, row, op), nzcv
    elif op == ops.CAS or op == ops.CASP:
        return ls.exec_cas(regs, cpu, mem, page_slot, dec, row, op), nzcv
    elif op == ops.LD_ATOMIC:
        return ls.exec_LD_ATOMIC(regs, cpu, mem, page_slot, dec, row), nzcv
    elif op == ops.CLREX:
        cpu[EXCL_VALID] = U0
    elif op == ops.BARRIER:
        hostmem.fence()
    elif op >= ops.SVC and op <= ops.HLT:
        cpu[EXIT_A] = dec[row, F_IMM]
        return exits.SVC + (op - ops.SVC), nzcv
    elif op == ops.ERET:
        return exits.ERET, nzcv
    elif op == ops.SYSREG:
        cpu[EXIT_A] = dec[row, F_IMM]
        cpu[EXIT_B] = dec[row, F_X]
        cpu[EXIT_C] = dec[row, F_Y]
        return exits.SYSREG, nzcv
    elif op == ops.MSR_IMM:
        cpu[EXIT_A] = dec[row, F_IMM]
        cpu[EXIT_B] = dec[row, F_X]
        return exits.MSR_IMM, nzcv
    elif op == ops.WFE:
        if cpu[EVENT_REGISTER] != U0:  # an event is pending: consume it, do not wait
            cpu[EVENT_REGISTER] = U0
            return 0, nzcv
        return exits.WFE, nzcv
    elif op == ops.WFI:
        return exits.WFI, nzcv
    elif op == ops.SEV:
        return exits.SEV, nzcv
    elif op == ops.SEVL:
        cpu[EVENT_REGISTER] = U1
        return exits.SEVL, nzcv
    else:  # UNDEFINED, and any op without an executor
        return exits.UNDEFINED, nzcv
    return 0, nzcv


@jit
def run(regs, cpu, mem, page_slot, slot_page, dec, budget):
    """Run up to `budget` instructions; returns the exit kind (details in `cpu`).

    An instruction whose device accesses the caller has just answered (MMIO_DONE > 0)
    re-executes alone first, so that its answers are not mistaken for the next one's.
    """
    cpu[MMIO_SEQ] = U0
    if cpu[MMIO_DONE] != U0:
        kind, count = _loop(regs, cpu, mem, page_slot, slot_page, dec, 1)
        if count == 0:
            return kind
        cpu[MMIO_DONE] = U0
        cpu[MMIO_SEQ] = U0
        budget -= 1
        if kind != exits.BUDGET or budget <= 0:
            return kind
    kind, _ = _loop(regs, cpu, mem, page_slot, slot_page, dec, budget)
    return kind
