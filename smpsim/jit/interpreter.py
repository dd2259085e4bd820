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

from smpsim.jit import a64_decoder, alu, decode_cache, exits, hostmem, mmu, ops
from smpsim.jit import exceptions as exc
from smpsim.jit import system_registers as sysregs
from smpsim.jit import timers
from smpsim.jit import data_processing_immediate as dpi
from smpsim.jit import data_processing_register as dpr
from smpsim.jit import loads_stores as ls
from smpsim.jit.alu import U0, U1
from smpsim.jit.compile import jit, jit_inline
from smpsim.jit.decode_cache import PAGE_SHIFT, SLOT_ROWS
from smpsim.jit.records import F_D, F_IMM, F_M, F_N, F_OP, F_X, RECORD_WORDS
from smpsim.jit.state import (BREAKPOINT_BASE, BREAKPOINT_SLOTS, BREAKPOINTS_ARMED, CUR_EL,
                              EV_COUNT, EVENT_REGISTER, EXCL_VALID, EXIT_A, EXIT_B, EXIT_C,
                              SCHED_EXITS,
                              EXIT_D, EXIT_INSN, EXIT_KIND, EXIT_PC, FAULT_FAR, FAULT_IPA,
                              FAULT_ISS, FAULT_TARGET, FIRMWARE_HVC, FLUSH_DECODED,
                              ICOUNT, LIVE_COUNT, MAINT_PENDING, TIMER_LEVELS, XL_ON,
                              MMIO_DONE, MMIO_SEQ, NZCV, PC, RAM_BASE, RAM_SIZE,
                              STOP_ON_EXCEPTION, SYSREG_BASE)
from smpsim.jit.sysreg_table import FEATURES, HCR, storage_index

_LR = 30
PAGE_MASK = (1 << PAGE_SHIFT) - 1


@jit
def _decode_into(cpu, dec, row, mem, off):
    """Decode the instruction at RAM offset `off` into `row`; a breakpoint's instead
    becomes a BREAKPOINT row (F_IMM: its slot)."""
    r = a64_decoder.decode(np.int64(hostmem.load32(mem, off)))
    for i in range(RECORD_WORDS):
        dec[row, i] = r[i]
    if cpu[BREAKPOINTS_ARMED] != U0:
        for slot in range(BREAKPOINT_SLOTS):
            if cpu[BREAKPOINT_BASE + slot] == off + U1:
                dec[row, F_OP] = np.uint64(ops.BREAKPOINT)
                dec[row, F_IMM] = np.uint64(slot)


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
    page_off = U0  # where the page of `base_row` is in `mem` (set with base_row)
    count = np.int64(0)
    kind = exits.BUDGET
    row = np.int64(0)
    op = np.int64(0)
    while True:  # (left again only for a load/store that needs the MMU: see the end)
        while count < budget:
            row = base_row + np.int64((pc - page_va) >> np.uint64(2))
            op = np.int64(dec[row, F_OP])
            next_pc = pc + np.uint64(4)

            # --- the common ops, inline or in small executors -------------------------
            if op == ops.NOT_DECODED:  # part of the dispatch, not a test of its own
                _decode_into(cpu, dec, row, mem, page_off + (pc - page_va))
                continue
            elif op == ops.PAGE_END:  # pc has left the page of `base_row`: find its own
                fetch = pc
                if cpu[XL_ON] != U0:
                    k, fetch = mmu.translate(cpu, mem, pc, 4, mmu.ACCESS_EXEC)
                    if k:  # nothing was fetched, so nothing retires
                        vector = _take_mmu_fault(regs, cpu, pc, nzcv, U0)
                        if vector == pc:  # the vector itself cannot be fetched
                            cpu[EXIT_A] = pc
                            cpu[EXIT_B] = cpu[exc.sysreg_word(np.int64(cpu[CUR_EL]), 2)]
                            cpu[EXIT_C] = cpu[exc.sysreg_word(np.int64(cpu[CUR_EL]), 0)]
                            kind = exits.FETCH_ABORT
                            break
                        pc = vector
                        base_row, page_va = force_row, pc
                        if cpu[STOP_ON_EXCEPTION] != U0:
                            kind = exits.EXCEPTION
                            break
                        continue
                off = fetch - ram_base
                if off >= ram_size:
                    # nothing was fetched, so nothing retires
                    target_el = exc.sync_target(cpu)
                    esr_before = cpu[exc.sysreg_word(target_el, 2)]
                    elr_before = cpu[exc.sysreg_word(target_el, 0)]
                    vector = exc.take_with_far(regs, cpu, target_el, exc.EC_IABORT_SAME,
                                               exc.FSC_EXTERNAL, pc, pc, nzcv)
                    if vector == pc:  # the vector itself cannot be fetched: no way forward
                        cpu[EXIT_A] = pc
                        cpu[EXIT_B] = esr_before  # the exception that led to this vector
                        cpu[EXIT_C] = elr_before
                        kind = exits.FETCH_ABORT
                        break
                    pc = vector
                    base_row, page_va = force_row, pc
                    if cpu[STOP_ON_EXCEPTION] != U0:
                        kind = exits.EXCEPTION
                        break
                    continue
                slot = decode_cache.slot_for_page(cpu, page_slot, slot_page, dec,
                                                  np.int64(off >> np.uint64(PAGE_SHIFT)))
                base_row = slot * SLOT_ROWS
                page_va = pc & ~np.uint64(PAGE_MASK)
                page_off = off & ~np.uint64(PAGE_MASK)
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
                if target & np.uint64(3):  # the fault comes from fetching at the target
                    count += 1
                    pc = exc.take_with_far(regs, cpu, exc.sync_target(cpu),
                                           exc.EC_PC_ALIGNMENT, 0, target, target, nzcv)
                    base_row, page_va = force_row, pc
                    if cpu[STOP_ON_EXCEPTION] != U0:
                        kind = exits.EXCEPTION
                        break
                    continue
                base_row, page_va = _follow(next_pc, page_va, base_row, force_row)
            elif op == ops.LDR_IMM:
                k = ls.exec_LDR_IMM(regs, cpu, mem, dec, row, False)
                if k:
                    kind = k
                    break
            elif op == ops.STRX_IMM:
                k = ls.exec_STR_IMM(regs, cpu, mem, page_slot, dec, row, 3, False)
                if k:
                    kind = k
                    break
            elif op == ops.STRW_IMM:
                k = ls.exec_STR_IMM(regs, cpu, mem, page_slot, dec, row, 2, False)
                if k:
                    kind = k
                    break
            elif op == ops.STRH_IMM:
                k = ls.exec_STR_IMM(regs, cpu, mem, page_slot, dec, row, 1, False)
                if k:
                    kind = k
                    break
            elif op == ops.STRB_IMM:
                k = ls.exec_STR_IMM(regs, cpu, mem, page_slot, dec, row, 0, False)
                if k:
                    kind = k
                    break
            elif op == ops.LDP:
                k = ls.exec_LDP(regs, cpu, mem, dec, row, False)
                if k:
                    kind = k
                    break
            elif op == ops.STP:
                k = ls.exec_STP(regs, cpu, mem, page_slot, dec, row, False)
                if k:
                    kind = k
                    break
            elif op == ops.LDR_REG:
                k = ls.exec_LDR_REG(regs, cpu, mem, dec, row, False)
                if k:
                    kind = k
                    break
            elif op == ops.STR_REG:
                k = ls.exec_STR_REG(regs, cpu, mem, page_slot, dec, row, False)
                if k:
                    kind = k
                    break
            elif op == ops.LDR_LIT:
                k = ls.exec_LDR_LIT(regs, cpu, mem, dec, row, pc, False)
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
            elif op == ops.NOP:
                pass
            elif op == ops.YIELD:  # a spin loop's hint: a schedule point (serial runs)
                if cpu[SCHED_EXITS] != U0:
                    cpu[EXIT_A] = pc
                    cpu[EXIT_B] = U1
                    pc = next_pc
                    count += 1
                    kind = exits.SCHEDULE
                    break
            else:
                # --- rare ops ----------------------------------------------------------
                cpu[LIVE_COUNT] = np.uint64(count)  # for the counter-timer registers
                events_before = cpu[EV_COUNT]
                k, nzcv, target = _rare(regs, cpu, mem, page_slot, dec, row, op, nzcv, pc)
                if k == 0 and cpu[SCHED_EXITS] != U0 and (
                        cpu[EV_COUNT] != events_before or _is_atomic_store(op)):
                    k, target = exits.SCHEDULE, next_pc  # a schedule point: it retires
                if k == exits.SCHEDULE:
                    cpu[EXIT_A] = pc  # (the instruction that was the schedule point)
                    cpu[EXIT_B] = U0
                    pc = target
                    count += 1
                    kind = k
                    break
                if k == sysregs.TAKEN or k == sysregs.RECHECK:  # the PC moves to `target`
                    cpu[EXIT_A] = pc  # (for SCHEDULE below)
                    cpu[EXIT_B] = U0
                    pc = target
                    count += 1
                    base_row, page_va = force_row, pc
                    if k == sysregs.RECHECK:  # an interrupt may have become deliverable
                        # (with schedule points: an ERET or a DAIF/HCR_EL2 write is one)
                        kind = exits.SCHEDULE if cpu[SCHED_EXITS] != U0 else sysregs.RECHECK
                        break
                    if cpu[STOP_ON_EXCEPTION] != U0:
                        kind = exits.EXCEPTION
                        break
                    continue
                if k:
                    kind = k
                    if kind >= exits.WFI and kind <= exits.SEVL:  # hints retire, then exit
                        pc = next_pc
                        count += 1
                    break
                if op == ops.SYSREG or op == ops.MSR_IMM or op == ops.BARRIER:
                    # the translation of the next fetch may have changed (SCTLR, TTBR, TLBI;
                    # ISB): look its page up again
                    base_row, page_va = force_row, next_pc
            pc = next_pc
            count += 1
        if kind != exits.NEEDS_MMU:
            break
        # a load/store its fast path could not serve (exits.NEEDS_MMU): run it through
        # the MMU and the device path, out of the hot loop's code (a call from inside
        # it slows every access)
        kind = ls.exec_translated(regs, cpu, mem, page_slot, dec, row, op, pc)
        if kind:
            break
        kind = exits.BUDGET
        pc = pc + np.uint64(4)
        count += 1

    if kind == exits.MMU_FAULT:  # a load/store's translation (or alignment) faulted
        insn = U0  # (its syndrome may describe the access: ISV)
        if base_row != force_row and pc - page_va < np.uint64(1 << PAGE_SHIFT):
            insn = np.uint64(hostmem.load32(mem, page_off + (pc - page_va)))
        pc = _take_mmu_fault(regs, cpu, pc, nzcv, insn)
        count += 1  # (counted, as every other exception-taking instruction is)
        kind = exits.EXCEPTION if cpu[STOP_ON_EXCEPTION] != U0 else sysregs.RECHECK
    if kind == exits.SP_ALIGNMENT:  # a load/store found SP misaligned: it faults
        pc = exc.take_sync(regs, cpu, exc.sync_target(cpu), exc.EC_SP_ALIGNMENT, 0, -1, pc,
                           nzcv)
        count += 1
        kind = exits.EXCEPTION if cpu[STOP_ON_EXCEPTION] != U0 else sysregs.RECHECK
    if kind == exits.EXCEPTION:
        el = np.int64(cpu[CUR_EL])
        cpu[EXIT_A] = np.uint64(el)
        cpu[EXIT_B] = cpu[exc.sysreg_word(el, 2)]
        cpu[EXIT_C] = cpu[exc.sysreg_word(el, 0)]
        cpu[EXIT_D] = cpu[exc.sysreg_word(el, 3)]
    if kind != exits.BUDGET and kind != sysregs.RECHECK:
        exit_pc = pc
        if kind >= exits.WFI and kind <= exits.SEVL:
            exit_pc = pc - np.uint64(4)
        cpu[EXIT_PC] = exit_pc
        off = exit_pc - ram_base
        if cpu[XL_ON] != U0:  # (the word is for reports: only from the page at hand)
            off = page_off + (exit_pc - page_va) if exit_pc - page_va < np.uint64(
                1 << PAGE_SHIFT) and base_row != force_row else ram_size
        cpu[EXIT_INSN] = hostmem.load32(mem, off) if off <= ram_size - np.uint64(4) else U0
    cpu[EXIT_KIND] = np.uint64(kind)
    cpu[PC] = pc
    cpu[NZCV] = nzcv
    cpu[ICOUNT] += np.uint64(count)
    cpu[LIVE_COUNT] = U0
    return kind, count


_MDCR_EL2 = SYSREG_BASE + storage_index("MDCR_EL2")
_SCTLR_EL1 = SYSREG_BASE + storage_index("SCTLR_EL1")
_SCTLR_EL2 = SYSREG_BASE + storage_index("SCTLR_EL2")
_HCR_HCD = np.uint64(1 << HCR["HCD"])
_HCR_TSC = np.uint64(1 << HCR["TSC"])
_HCR_TWI = np.uint64(1 << HCR["TWI"])
_HCR_TWE = np.uint64(1 << HCR["TWE"])
_HCR_TGE = np.uint64(1 << HCR["TGE"])
_MDCR_TDE = np.uint64(1 << 8)
_F_LSE = np.uint64(1 << FEATURES.index("lse"))


_HPFAR_EL2 = SYSREG_BASE + storage_index("HPFAR_EL2")


@jit
def _is_atomic_store(op):
    """An exclusive store or an atomic (a schedule point: where lock races are decided)."""
    return op == ops.STXR or op == ops.STXP or op == ops.CAS or op == ops.CASP \
        or op == ops.LD_ATOMIC


@jit
def _take_mmu_fault(regs, cpu, pc, nzcv, insn):
    """Take the abort mmu.translate left in the FAULT_* words (for the instruction
    `insn` at `pc`, 0 if unknown); the vector."""
    iss = cpu[FAULT_ISS]
    ec = exc.EC_IABORT_SAME if iss & mmu.FAULT_INSTRUCTION != U0 else exc.EC_DABORT_SAME
    ipa = cpu[FAULT_IPA]
    if ipa & mmu.FAULT_STAGE2 != U0:  # HPFAR_EL2.FIPA: the IPA's bits [47:12] at [39:4]
        cpu[_HPFAR_EL2] = ((ipa & np.uint64(0x0000_FFFF_FFFF_F000)) >> np.uint64(12)) << np.uint64(4)
        if ec == exc.EC_DABORT_SAME and iss & np.uint64(mmu.ISS_S1PTW) == U0:
            iss |= mmu.access_syndrome(insn)  # what a hypervisor needs to emulate it
    return exc.take_with_far(regs, cpu, np.int64(cpu[FAULT_TARGET]), ec,
                             np.int64(iss & np.uint64(0xFFFF_FFFF)), cpu[FAULT_FAR], pc, nzcv)


@jit
def _sync(regs, cpu, target_el, ec, iss, far, return_pc, nzcv):
    """Take a synchronous exception: the status tuple of _rare."""
    return sysregs.TAKEN, nzcv, exc.take_sync(regs, cpu, target_el, ec, iss, far, return_pc,
                                              nzcv)


@jit
def _wait_trap(regs, cpu, pc, nzcv, is_wfe):
    """WFI/WFE trapped by SCTLR_ELx.nTWI/nTWE (from EL0) or HCR_EL2.TWI/TWE (EL0/EL1):
    (status, nzcv, target), or status 0 when the instruction is not trapped."""
    cur = np.int64(cpu[CUR_EL])
    iss = (1 << 24) | (0xE << 20) | (1 if is_wfe else 0)  # CV = 1, COND = AL, TI
    # a WFE with an event pending, a WFI with an interrupt pending, completes untrapped
    if is_wfe and cpu[EVENT_REGISTER] != U0:
        return 0, nzcv, pc + np.uint64(4)
    if not is_wfe and exc.any_interrupt_pending(cpu):
        return 0, nzcv, pc + np.uint64(4)
    if cur == 0:
        sctlr = cpu[_SCTLR_EL2] if exc.e2h_tge(cpu) else cpu[_SCTLR_EL1]
        if (sctlr >> np.uint64(18 if is_wfe else 16)) & U1 == U0:  # nTWE / nTWI
            return _sync(regs, cpu, exc.sync_target(cpu), exc.EC_WFX, iss, -1, pc, nzcv)
    if cur < 2 and exc.has(cpu, exc.F_EL2) and not exc.e2h_tge(cpu):  # not in the host
        if exc.hcr(cpu) & (_HCR_TWE if is_wfe else _HCR_TWI) != U0:
            return _sync(regs, cpu, 2, exc.EC_WFX, iss, -1, pc, nzcv)
    return 0, nzcv, pc + np.uint64(4)


@jit
def _rare(regs, cpu, mem, page_slot, dec, row, op, nzcv, pc):
    """Ops kept out of the hot loop: (status, flags, next PC). Status 0 continues at the
    next PC; TAKEN and RECHECK continue at the PC returned (an exception vector, ERET's
    target); anything else is an exit kind."""
    next_pc = pc + np.uint64(4)
    cur = np.int64(cpu[CUR_EL])
    if op == ops.ADC:
        nzcv = dpr.exec_adc(regs, dec, row, nzcv, False)
    elif op == ops.ADCS_X or op == ops.ADCS_W:
        nzcv = dpr.exec_adc(regs, dec, row, nzcv, True)
    elif op >= ops.RBIT and op <= ops.CLS:
        dpr.exec_one_source(regs, dec, row, op)
    elif op == ops.CRC32:
        dpr.exec_two_source(regs, dec, row, op)
    elif op == ops.LDXR or op == ops.STXR or op == ops.LDXP or op == ops.STXP \
            or op == ops.LDAR or op == ops.STLR or op == ops.CAS or op == ops.CASP \
            or op == ops.LD_ATOMIC:
        if (op == ops.CAS or op == ops.CASP or op == ops.LD_ATOMIC) and not exc.has(cpu, _F_LSE):
            return sysregs.TAKEN, nzcv, exc.undefined(regs, cpu, pc, nzcv)  # no ARMv8.1 LSE
        if op == ops.CAS or op == ops.CASP:
            k = ls.exec_cas(regs, cpu, mem, page_slot, dec, row, op)
        elif op == ops.LD_ATOMIC:
            k = ls.exec_LD_ATOMIC(regs, cpu, mem, page_slot, dec, row)
        else:
            k = ls.exec_exclusive_or_ordered(regs, cpu, mem, page_slot, dec, row, op)
        if k == exits.SP_ALIGNMENT:
            return _sync(regs, cpu, exc.sync_target(cpu), exc.EC_SP_ALIGNMENT, 0, -1, pc, nzcv)
        if k == exits.DATA_ABORT:
            fsc = exc.FSC_ALIGNMENT if cpu[EXIT_D] == exits.ABORT_ALIGNMENT else exc.FSC_EXTERNAL
            iss = (np.int64(cpu[EXIT_C]) << 6) | fsc  # WnR, DFSC; ISV = 0 for these
            return sysregs.TAKEN, nzcv, exc.take_with_far(regs, cpu, exc.sync_target(cpu),
                                                          exc.EC_DABORT_SAME, iss, cpu[EXIT_A],
                                                          pc, nzcv)
        return k, nzcv, next_pc
    elif op == ops.LDTR or op == ops.STTR:
        k = ls.exec_unprivileged(regs, cpu, mem, page_slot, dec, row, op)
        if k:
            return k, nzcv, pc  # (a fault or an SP misalignment is taken by the loop)
    elif op == ops.CLREX:
        cpu[EXCL_VALID] = U0
    elif op == ops.BREAKPOINT:  # one-shot: gone, and the row decodes the instruction again
        slot = np.int64(dec[row, F_IMM])
        cpu[BREAKPOINT_BASE + slot] = U0
        cpu[BREAKPOINTS_ARMED] -= U1
        dec[row, F_OP] = np.uint64(ops.NOT_DECODED)
        cpu[EXIT_A] = np.uint64(slot)
        return exits.BREAKPOINT, nzcv, pc
    elif op == ops.BARRIER:
        if dec[row, F_X] == np.uint64(4) and cpu[MAINT_PENDING] != U0:
            cpu[EXIT_A] = cpu[MAINT_PENDING]  # a DSB completes broadcast maintenance
            return exits.MAINTENANCE, nzcv, pc
        hostmem.fence()
    elif op == ops.SVC:
        return _sync(regs, cpu, exc.sync_target(cpu), exc.EC_SVC, np.int64(dec[row, F_IMM]), -1,
                     next_pc, nzcv)
    elif op == ops.HVC:
        if cur == 1 and cpu[FIRMWARE_HVC] != U0:  # the platform's PSCI conduit, as in QEMU
            cpu[EXIT_A] = dec[row, F_IMM]
            return exits.HVC, nzcv, next_pc
        if cur == 0 or not exc.has(cpu, exc.F_EL2) or exc.hcr(cpu) & _HCR_HCD != U0:
            return sysregs.TAKEN, nzcv, exc.undefined(regs, cpu, pc, nzcv)
        return _sync(regs, cpu, 2, exc.EC_HVC, np.int64(dec[row, F_IMM]), -1, next_pc, nzcv)
    elif op == ops.SMC:
        if cur == 0:
            return sysregs.TAKEN, nzcv, exc.undefined(regs, cpu, pc, nzcv)
        if cur == 1 and exc.has(cpu, exc.F_EL2) and exc.hcr(cpu) & _HCR_TSC != U0:
            # a trapped SMC returns to itself (its preferred return address)
            return _sync(regs, cpu, 2, exc.EC_SMC, np.int64(dec[row, F_IMM]), -1, pc, nzcv)
        if cpu[FIRMWARE_HVC] != U0:  # firmware listens on HVC: no EL3 to take an SMC
            return sysregs.TAKEN, nzcv, exc.undefined(regs, cpu, pc, nzcv)
        cpu[EXIT_A] = dec[row, F_IMM]  # no EL3: the caller is the firmware (PSCI)
        return exits.SMC, nzcv, next_pc
    elif op == ops.BRK:
        target = exc.sync_target(cpu)
        if cur < 2 and exc.has(cpu, exc.F_EL2) and (
                cpu[_MDCR_EL2] & _MDCR_TDE != U0 or exc.hcr(cpu) & _HCR_TGE != U0):
            target = 2  # debug exceptions routed to EL2
        return _sync(regs, cpu, target, exc.EC_BRK, np.int64(dec[row, F_IMM]), -1, pc, nzcv)
    elif op == ops.HLT:
        cpu[EXIT_A] = dec[row, F_IMM]  # semihosting, or the caller makes it UNDEFINED
        return exits.HLT, nzcv, next_pc
    elif op == ops.ERET:
        if cur == 0:
            return sysregs.TAKEN, nzcv, exc.undefined(regs, cpu, pc, nzcv)
        target, nzcv, legal = exc.exception_return(regs, cpu, nzcv)
        if not legal:  # PSTATE.IL is set: the next instruction is an illegal-state fault
            return _sync(regs, cpu, exc.sync_target(cpu), exc.EC_ILLEGAL_STATE, 0, -1, target,
                         nzcv)
        if target & np.uint64(3):
            return sysregs.TAKEN, nzcv, exc.take_with_far(regs, cpu, exc.sync_target(cpu),
                                                          exc.EC_PC_ALIGNMENT, 0, target,
                                                          target, nzcv)
        return sysregs.RECHECK, nzcv, target
    elif op == ops.SYSREG:
        k, nzcv, target = sysregs.access(regs, cpu, mem, page_slot, dec, row, nzcv, pc)
        return k, nzcv, target
    elif op == ops.MSR_IMM:
        k, nzcv, target = sysregs.msr_immediate(regs, cpu, dec, row, nzcv, pc)
        return k, nzcv, target
    elif op == ops.WFE or op == ops.WFI:
        k, nzcv, target = _wait_trap(regs, cpu, pc, nzcv, op == ops.WFE)
        if k:
            return k, nzcv, target
        if op == ops.WFI:
            return exits.WFI, nzcv, next_pc
        if cpu[EVENT_REGISTER] != U0:  # an event is pending: consume it, do not wait
            cpu[EVENT_REGISTER] = U0
            return 0, nzcv, next_pc
        return exits.WFE, nzcv, next_pc
    elif op == ops.SEV:  # every PE, this one included; the caller tells the others
        cpu[EVENT_REGISTER] = U1
        return exits.SEV, nzcv, next_pc
    elif op == ops.SEVL:
        cpu[EVENT_REGISTER] = U1
        return exits.SEVL, nzcv, next_pc
    else:  # UNDEFINED, and any op without an executor
        return sysregs.TAKEN, nzcv, exc.undefined(regs, cpu, pc, nzcv)
    return 0, nzcv, next_pc


@jit
def _interrupt(regs, cpu):
    """Take a pending, unmasked interrupt before the instruction at cpu[PC]; True if the
    run must stop to report it (STOP_ON_EXCEPTION)."""
    el, vector, kind = exc.pending_interrupt(cpu)
    if el < 0:
        return False
    pc = cpu[PC]
    cpu[PC] = exc.take_interrupt(regs, cpu, el, vector, kind, pc, cpu[NZCV])
    if cpu[STOP_ON_EXCEPTION] == U0:
        return False
    cpu[EXIT_KIND] = np.uint64(exits.EXCEPTION)
    cpu[EXIT_PC] = cpu[PC]
    cpu[EXIT_INSN] = U0
    cpu[EXIT_A] = np.uint64(el)
    cpu[EXIT_B] = cpu[exc.sysreg_word(el, 2)]
    cpu[EXIT_C] = pc
    cpu[EXIT_D] = cpu[exc.sysreg_word(el, 3)]
    return True


BELL_CHUNK = np.int64(4096)  # instructions between looks at the doorbell


@jit
def run(regs, cpu, mem, page_slot, slot_page, dec, budget, bell):
    """Run up to `budget` instructions; returns the exit kind (details in `cpu`).

    An instruction whose device accesses the caller has just answered (MMIO_DONE > 0)
    re-executes alone first, so that its answers are not mistaken for the next one's.
    Interrupts are taken at the start and whenever an instruction may have made one
    deliverable (a write to DAIF or HCR_EL2, an exception return).
    `bell[0]` is watched every BELL_CHUNK instructions: when another process rings this
    CPU (an interrupt line, an event, STOP), the run ends early with BUDGET so that its
    caller looks, and a long quantum costs no latency.
    """
    cpu[MMIO_SEQ] = U0
    if cpu[MMIO_DONE] != U0:
        kind, count = _loop(regs, cpu, mem, page_slot, slot_page, dec, 1)
        if count == 0:
            return kind
        cpu[MMIO_DONE] = U0
        cpu[MMIO_SEQ] = U0
        budget -= count
        if kind != exits.BUDGET and kind != sysregs.RECHECK:
            return kind
        if cpu[FLUSH_DECODED] != U0:
            cpu[FLUSH_DECODED] = U0
            decode_cache.flush(page_slot, slot_page, dec)
    while True:
        if timers.update_levels(cpu):  # a timer output changed: the GIC must hear of it
            cpu[EXIT_KIND] = np.uint64(exits.TIMER)
            cpu[EXIT_PC] = cpu[PC]
            cpu[EXIT_INSN] = U0
            cpu[EXIT_A] = cpu[TIMER_LEVELS]
            return exits.TIMER
        if _interrupt(regs, cpu):
            return exits.EXCEPTION
        if budget <= 0 or bell[0] != U0:
            cpu[EXIT_KIND] = np.uint64(exits.BUDGET)
            return exits.BUDGET
        # run up to the next timer deadline at most, so that its output changes on time
        chunk = min(budget, BELL_CHUNK,
                    max(np.int64(1), timers.instructions_to_next_change(cpu)))
        kind, count = _loop(regs, cpu, mem, page_slot, slot_page, dec, chunk)
        budget -= count
        if kind == exits.BUDGET and budget > 0:
            continue
        if kind != sysregs.RECHECK:
            return kind
        if cpu[FLUSH_DECODED] != U0:
            cpu[FLUSH_DECODED] = U0
            decode_cache.flush(page_slot, slot_page, dec)
