"""Taking exceptions and returning from them (Arm ARM D1.10-D1.14), EL0-EL2, no EL3.

The jit core takes every exception itself: it writes ESR/ELR/SPSR/FAR of the target
EL, updates PSTATE and the banked stack pointer, and continues at the vector. Only
what needs the world outside the core (firmware calls, semihosting, devices, waiting)
leaves the run loop as an exit.

PSTATE lives in `cpu` (state.py: CUR_EL, SPSEL, DAIF_BITS, PAN_BIT, IL_BIT; NZCV is the
run loop's local and is passed in). The stack pointer of the current EL/SPSel is
regs[SP]; the others wait in the SP_ELx_BANK words.
"""

import numpy as np

from smpsim.jit import events, mmu
from smpsim.jit.alu import M32, U0, U1
from smpsim.jit.compile import jit
from smpsim.jit.state import (CUR_EL, DAIF_BITS, EVENT_REGISTER, EXCL_VALID, FEATURE_BITS, FIQ_LINE, IL_BIT,
                              IRQ_LINE, PAN_BIT, SERROR_LINE, SP, SP_ALIGN_MASK, SP_EL0_BANK,
                              SPSEL, SYSREG_BASE, VFIQ_LINE, VIRQ_LINE)
from smpsim.jit.sysreg_table import FEATURES, HCR, storage_index

# exception classes (ESR_ELx.EC, Arm ARM D19.2.37)
EC_UNKNOWN = 0x00
EC_WFX = 0x01
EC_FP_ACCESS = 0x07
EC_ILLEGAL_STATE = 0x0E
EC_SVC = 0x15
EC_HVC = 0x16
EC_SMC = 0x17
EC_SYSREG = 0x18
EC_IABORT_LOWER = 0x20
EC_IABORT_SAME = 0x21
EC_PC_ALIGNMENT = 0x22
EC_DABORT_LOWER = 0x24
EC_DABORT_SAME = 0x25
EC_SP_ALIGNMENT = 0x26
EC_SERROR = 0x2F
EC_BRK = 0x3C

# fault status codes (ISS.DFSC / IFSC)
FSC_EXTERNAL = 0x10  # synchronous external abort, not on a table walk
FSC_ALIGNMENT = 0x21

# vector offsets within a table (D1.10.2)
VEC_SYNC = 0x000
VEC_IRQ = 0x080
VEC_FIQ = 0x100
VEC_SERROR = 0x180

IL32 = 1 << 25  # ESR.IL: the trapped instruction was 32 bits wide

F_EL2 = 1 << FEATURES.index("el2")
F_VHE = 1 << FEATURES.index("vhe")
F_PAN = 1 << FEATURES.index("pan")

HCR_IMO = np.uint64(1 << HCR["IMO"])
HCR_FMO = np.uint64(1 << HCR["FMO"])
HCR_AMO = np.uint64(1 << HCR["AMO"])
HCR_VI = np.uint64(1 << HCR["VI"])
HCR_VF = np.uint64(1 << HCR["VF"])
HCR_VSE = np.uint64(1 << HCR["VSE"])
HCR_TGE = np.uint64(1 << HCR["TGE"])
HCR_E2H = np.uint64(1 << HCR["E2H"])

# where the registers the exception model writes keep their values
_ELR = (SYSREG_BASE + storage_index("ELR_EL1"), SYSREG_BASE + storage_index("ELR_EL2"))
_SPSR = (SYSREG_BASE + storage_index("SPSR_EL1"), SYSREG_BASE + storage_index("SPSR_EL2"))
_ESR = (SYSREG_BASE + storage_index("ESR_EL1"), SYSREG_BASE + storage_index("ESR_EL2"))
_FAR = (SYSREG_BASE + storage_index("FAR_EL1"), SYSREG_BASE + storage_index("FAR_EL2"))
_VBAR = (SYSREG_BASE + storage_index("VBAR_EL1"), SYSREG_BASE + storage_index("VBAR_EL2"))
_SCTLR = (SYSREG_BASE + storage_index("SCTLR_EL1"), SYSREG_BASE + storage_index("SCTLR_EL2"))
HCR_WORD = SYSREG_BASE + storage_index("HCR_EL2")

SCTLR_SPAN = np.uint64(1 << 23)
DAIF_ALL = np.uint64(0xF << 6)


@jit
def has(cpu, feature_bit):
    return (cpu[FEATURE_BITS] & np.uint64(feature_bit)) != U0


@jit
def hcr(cpu):
    """HCR_EL2 as it acts (zero on a CPU without EL2)."""
    return cpu[HCR_WORD]


@jit
def e2h_tge(cpu):
    h = cpu[HCR_WORD]
    return (h & HCR_E2H) != U0 and (h & HCR_TGE) != U0


@jit
def sysreg_word(el, which):
    """Index in `cpu` of ELR/SPSR/ESR/FAR/VBAR/SCTLR (which = 0..5) of EL1 or EL2."""
    i = el - 1
    if which == 0:
        return _ELR[i]
    if which == 1:
        return _SPSR[i]
    if which == 2:
        return _ESR[i]
    if which == 3:
        return _FAR[i]
    if which == 4:
        return _VBAR[i]
    return _SCTLR[i]


@jit
def spsr_of_pstate(cpu, nzcv):
    """PSTATE as SPSR_ELx saves it (AArch64 layout)."""
    return ((nzcv & np.uint64(0xF)) << np.uint64(28)) | (cpu[PAN_BIT] << np.uint64(22)) \
        | (cpu[IL_BIT] << np.uint64(20)) | cpu[DAIF_BITS] \
        | (cpu[CUR_EL] << np.uint64(2)) | cpu[SPSEL]


@jit
def refresh_sp_alignment(cpu):
    """SP_ALIGN_MASK for the current regime: SCTLR_ELx.SA (bit 3) at EL1/EL2, SA0 (bit 4)
    of SCTLR_EL1 (SCTLR_EL2 in the EL2&0 regime) at EL0; and the MMU's context
    (mmu.refresh_context). Called whenever the EL or a system register changes, so the
    load/store path reads one word."""
    cur = np.int64(cpu[CUR_EL])
    if cur == 0:
        sctlr = cpu[_SCTLR[1]] if e2h_tge(cpu) else cpu[_SCTLR[0]]
        on = (sctlr >> np.uint64(4)) & U1
    else:
        on = (cpu[_SCTLR[cur - 1]] >> np.uint64(3)) & U1
    cpu[SP_ALIGN_MASK] = np.uint64(15) if on != U0 else U0
    mmu.refresh_context(cpu)  # the same events change the translation regime


@jit
def switch_stack(regs, cpu, new_el, new_spsel):
    """Bank the current SP and bring in the one of (new_el, new_spsel)."""
    old = 0 if cpu[SPSEL] == U0 else np.int64(cpu[CUR_EL])
    new = 0 if new_spsel == 0 else new_el
    if old != new:
        cpu[SP_EL0_BANK + old] = regs[SP]
        regs[SP] = cpu[SP_EL0_BANK + new]
    cpu[CUR_EL] = np.uint64(new_el)
    cpu[SPSEL] = np.uint64(new_spsel)
    refresh_sp_alignment(cpu)


@jit
def take(regs, cpu, target_el, vector, esr, far, return_pc, nzcv):
    """Enter `target_el` through `vector` (VEC_*); returns the new PC. `esr` < 0: leave
    ESR alone (interrupts); `far` < 0: leave FAR alone (take_with_far writes any FAR)."""
    return _enter(regs, cpu, target_el, vector, esr, np.uint64(far) if far >= 0 else U0,
                  far >= 0, return_pc, nzcv)


@jit
def _enter(regs, cpu, target_el, vector, esr, far, with_far, return_pc, nzcv):
    cur = np.int64(cpu[CUR_EL])
    if target_el == cur:
        base = np.uint64(0x200) if cpu[SPSEL] != U0 else U0
    else:
        base = np.uint64(0x400)  # from a lower EL using AArch64
    cpu[sysreg_word(target_el, 1)] = spsr_of_pstate(cpu, nzcv)
    cpu[sysreg_word(target_el, 0)] = return_pc
    if esr >= 0:
        cpu[sysreg_word(target_el, 2)] = np.uint64(esr)
    if with_far:
        cpu[sysreg_word(target_el, 3)] = far
    events.record(cpu, events.EXCEPTION, target_el | (cur << 4) | ((vector >> 7) << 8),
                  np.uint64(esr) if esr >= 0 else U0, return_pc, far if with_far else U0)
    cpu[DAIF_BITS] = DAIF_ALL
    cpu[IL_BIT] = U0
    # PAN is set on entry to EL1 (or to EL2 in the EL2&0 regime) when SCTLR_ELx.SPAN is 0
    if has(cpu, F_PAN) and (target_el == 1 or e2h_tge(cpu)):
        if cpu[sysreg_word(target_el, 5)] & SCTLR_SPAN == U0:
            cpu[PAN_BIT] = U1
    switch_stack(regs, cpu, target_el, 1)
    return cpu[sysreg_word(target_el, 4)] + base + np.uint64(vector)


@jit
def sync_target(cpu):
    """The EL a synchronous exception of the current EL goes to (routing of EL0 ones by
    HCR_EL2.TGE, D1.10.4)."""
    cur = np.int64(cpu[CUR_EL])
    if cur == 0:
        return 2 if (has(cpu, F_EL2) and cpu[HCR_WORD] & HCR_TGE != U0) else 1
    return cur


@jit
def syndrome(ec, iss):
    return (np.int64(ec) << 26) | IL32 | (np.int64(iss) & 0x1FFFFFF)


@jit
def take_sync(regs, cpu, target_el, ec, iss, far, return_pc, nzcv):
    """A synchronous exception with syndrome (ec, iss), without a FAR when `far` < 0
    (else as take_with_far)."""
    if far < 0:
        return take(regs, cpu, target_el, VEC_SYNC, syndrome(_abort_ec(cpu, target_el, ec),
                                                              iss), -1, return_pc, nzcv)
    return take_with_far(regs, cpu, target_el, ec, iss, np.uint64(far), return_pc, nzcv)


@jit
def take_with_far(regs, cpu, target_el, ec, iss, far, return_pc, nzcv):
    """A synchronous exception that reports an address: FAR = `far`, a uint64 (a
    high-half address is negative as an int64); abort classes pick their 'lower EL' or
    'same EL' EC from the target."""
    return _enter(regs, cpu, target_el, VEC_SYNC, syndrome(_abort_ec(cpu, target_el, ec), iss),
                  far, True, return_pc, nzcv)


@jit
def _abort_ec(cpu, target_el, ec):
    if target_el > np.int64(cpu[CUR_EL]):
        if ec == EC_IABORT_SAME:
            return EC_IABORT_LOWER
        if ec == EC_DABORT_SAME:
            return EC_DABORT_LOWER
    return ec


@jit
def undefined(regs, cpu, pc, nzcv):
    """The UNDEFINED instruction at `pc` (EC 0, 'unknown reason')."""
    return take_sync(regs, cpu, sync_target(cpu), EC_UNKNOWN, 0, -1, pc, nzcv)


@jit
def exception_return(regs, cpu, nzcv):
    """ERET at EL1 or EL2: (new PC, new NZCV, legal). An illegal return (D1.14.6) keeps
    the EL and SPSel, restores the rest of PSTATE, sets PSTATE.IL and goes to ELR."""
    cur = np.int64(cpu[CUR_EL])
    spsr = cpu[sysreg_word(cur, 1)]
    elr = cpu[sysreg_word(cur, 0)]
    target = np.int64((spsr >> np.uint64(2)) & np.uint64(3))
    spsel = np.int64(spsr & U1)
    illegal = (spsr & np.uint64(0x10)) != U0  # AArch32: not implemented
    illegal = illegal or (spsr & np.uint64(0x2)) != U0  # M[1] is reserved: illegal
    illegal = illegal or target > cur or target == 3
    illegal = illegal or (target == 2 and not has(cpu, F_EL2))
    illegal = illegal or (target == 0 and spsel == 1)
    illegal = illegal or (target == 1 and cur == 2 and cpu[HCR_WORD] & HCR_TGE != U0)
    nzcv = (spsr >> np.uint64(28)) & np.uint64(0xF)
    cpu[DAIF_BITS] = spsr & DAIF_ALL
    if has(cpu, F_PAN):
        cpu[PAN_BIT] = (spsr >> np.uint64(22)) & U1
    if illegal:
        cpu[IL_BIT] = U1
        mmu.refresh_context(cpu)  # (PAN may have changed; switch_stack does it otherwise)
    else:
        cpu[IL_BIT] = (spsr >> np.uint64(20)) & U1
        switch_stack(regs, cpu, target, spsel)
    cpu[EXCL_VALID] = U0  # ClearExclusiveLocal, then SendEventLocal (D1.14.3)
    cpu[EVENT_REGISTER] = U1
    to_el = cur if illegal else target
    events.record(cpu, events.EXCEPTION_RETURN, cur | (to_el << 4) | (np.int64(illegal) << 8),
                  elr, spsr, 0)
    return elr, nzcv, not illegal


VIRTUAL_SERROR = 5  # the kinds pending_interrupt checks, in its order: FIQ, IRQ, vIRQ,
                    # vFIQ, SError, vSError


@jit
def pending_interrupt(cpu):
    """The asynchronous exception to take now: (target EL, vector, kind) or (-1, 0, -1).

    Routing and masking (D1.11, the tables for HCR_EL2.{TGE,IMO,FMO,AMO}): a physical
    interrupt routed to EL2 is taken from EL1 (and from EL0 of an EL1&0 guest) whatever
    PSTATE says, and at EL2 only when unmasked; in the EL2&0 regime (E2H = TGE = 1) EL0
    masks it too. One routed to EL1 is never taken at EL2. Virtual interrupts (HCR_EL2
    VI/VF/VSE) exist only when the physical one is routed to EL2 and TGE is 0, and are
    taken at EL0/EL1 when unmasked. Checked in QEMU's order: FIQ, IRQ, vIRQ, vFIQ,
    then SError and vSError.
    """
    cur = np.int64(cpu[CUR_EL])
    daif = cpu[DAIF_BITS]
    el2 = has(cpu, F_EL2)
    h = cpu[HCR_WORD] if el2 else U0
    tge = (h & HCR_TGE) != U0
    host = tge and (h & HCR_E2H) != U0
    for kind in range(6):
        if kind == 0:
            line, route, mask, vec = cpu[FIQ_LINE], HCR_FMO, np.uint64(1 << 6), VEC_FIQ
        elif kind == 1:
            line, route, mask, vec = cpu[IRQ_LINE], HCR_IMO, np.uint64(1 << 7), VEC_IRQ
        elif kind == 2:
            line, route, mask, vec = _virtual_irq(cpu, h), HCR_IMO, np.uint64(1 << 7), VEC_IRQ
        elif kind == 3:
            line, route, mask, vec = _virtual_fiq(cpu, h), HCR_FMO, np.uint64(1 << 6), VEC_FIQ
        elif kind == 4:
            line, route, mask, vec = cpu[SERROR_LINE], HCR_AMO, np.uint64(1 << 8), VEC_SERROR
        else:
            line, route, mask, vec = np.uint64((h & HCR_VSE) != U0), HCR_AMO, np.uint64(1 << 8), VEC_SERROR
        if line == U0:
            continue
        to_el2 = el2 and (tge or (h & route) != U0)
        masked = (daif & mask) != U0
        if kind == 2 or kind == 3 or kind == VIRTUAL_SERROR:
            if to_el2 and not tge and cur < 2 and not masked:
                return 1, vec, kind
            continue
        if to_el2:
            if (cur < 2 and not (host and cur == 0)) or not masked:
                return 2, vec, kind
        elif cur < 2 and not masked:
            return 1, vec, kind
    return -1, 0, -1


@jit
def _virtual_irq(cpu, h):
    """The virtual IRQ: HCR_EL2.VI, or the GIC virtual CPU interface's output."""
    return np.uint64((h & HCR_VI) != U0 or cpu[VIRQ_LINE] != U0)


@jit
def _virtual_fiq(cpu, h):
    return np.uint64((h & HCR_VF) != U0 or cpu[VFIQ_LINE] != U0)


@jit
def any_interrupt_pending(cpu):
    """A WFI wake-up event: a line asserted or a virtual interrupt pending (HCR_EL2 or
    the GIC's virtual interface), whatever PSTATE masks (as QEMU's 'CPU has work')."""
    if has(cpu, F_EL2):
        h = cpu[HCR_WORD]
        virtual = (h & HCR_VSE) | _virtual_irq(cpu, h) | _virtual_fiq(cpu, h)
    else:
        virtual = U0
    return (cpu[IRQ_LINE] | cpu[FIQ_LINE] | cpu[SERROR_LINE] | virtual) != U0


@jit
def take_interrupt(regs, cpu, target_el, vector, kind, pc, nzcv):
    """Take the interrupt chosen by pending_interrupt before the instruction at `pc`."""
    esr = -1
    if vector == VEC_SERROR:
        esr = syndrome(EC_SERROR, 0)  # IDS = 0: no implementation-defined syndrome
    if kind == VIRTUAL_SERROR:  # taking it consumes it (ClearPendingVirtualSError)
        cpu[HCR_WORD] &= ~HCR_VSE
    return take(regs, cpu, target_el, vector, esr, -1, pc, nzcv)


@jit
def isr(cpu):
    """ISR_EL1: A, I, F pending (bits 8, 7, 6): at EL1, the virtual ones for what HCR_EL2
    routes to EL2; at EL2 always the physical ones (as QEMU after its fix for KVM)."""
    h = cpu[HCR_WORD] if has(cpu, F_EL2) and cpu[CUR_EL] == U1 else U0
    out = U0
    i = _virtual_irq(cpu, h) != U0 if (h & HCR_IMO) != U0 else cpu[IRQ_LINE] != U0
    f = _virtual_fiq(cpu, h) != U0 if (h & HCR_FMO) != U0 else cpu[FIQ_LINE] != U0
    a = (h & HCR_VSE) != U0 if (h & HCR_AMO) != U0 else cpu[SERROR_LINE] != U0
    if a:
        out |= np.uint64(1 << 8)
    if i:
        out |= np.uint64(1 << 7)
    if f:
        out |= np.uint64(1 << 6)
    return out & M32
