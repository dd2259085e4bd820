"""MRS, MSR (register and immediate) and SYS: access checks, traps and the registers
with behaviour of their own. The registers themselves are the table in
sysreg_table.py; the decoder has already found each instruction's table entry.

Order of the checks for an access (Arm ARM D1.12 and the pseudocode of each register):
the encoding exists on this CPU (else UNDEFINED); a *_EL12 alias is reached only from
EL2 with E2H = 1; at EL2 with E2H = 1 an EL1 name reaches its EL2 register; an EL
below the register's is UNDEFINED, except EL0 accesses that a control lets through or
traps to EL1; EL1/EL0 accesses that HCR_EL2 traps go to EL2; then the access.

`access` returns (status, nzcv, next_pc) where status is 0 (done), TAKEN (an exception
was taken; next_pc is its vector), RECHECK (done, and what was written may unmask an
interrupt), or an exit kind for the caller (the GIC's registers).
"""

import numpy as np

from smpsim.jit import decode_cache, events, timers
from smpsim.jit import exceptions as exc
from smpsim.jit import exits, mmu
from smpsim.jit.alu import M32, U0, U1
from smpsim.jit.compile import jit
from smpsim.jit.records import F_A, F_IMM, F_X, F_Y
from smpsim.jit.state import (CUR_EL, DAIF_BITS, EXIT_A, EXIT_B, EXIT_C, FLUSH_DECODED,
                              MAINT_PENDING, MIDR,
                              MPIDR, OS_LOCK, PAN_BIT, RAM_BASE, RAM_SIZE, SP_EL0_BANK,
                              SP_EL1_BANK, SPSEL, SYSREG_BASE, XL_ON)
from smpsim.jit.sysreg_table import (HCR, I_ALIAS, I_ARG, I_E2H, I_EL, I_EL0, I_FEATURE, I_KIND,
                                     I_SPECIAL, I_STORAGE, I_TRAP_R, I_TRAP_W, INFO, KEYS,
                                     PLAIN, RAZWI, RES1, RO, SPECIAL, WMASK, WO, EL0_GATES,
                                     entry_index, special_id, storage_index)

TAKEN = 1000  # internal statuses, beyond the exit kinds
RECHECK = 1001

_SCTLR_EL1 = SYSREG_BASE + storage_index("SCTLR_EL1")
_SCTLR_EL2 = SYSREG_BASE + storage_index("SCTLR_EL2")
_CCSIDR_SEL = SYSREG_BASE + storage_index("CSSELR_EL1")
_HCR = exc.HCR_WORD

SP_ALIAS = special_id("alias")
SP_MIDR = special_id("midr")
SP_MPIDR = special_id("mpidr")
SP_CCSIDR = special_id("ccsidr")
SP_HCR = special_id("hcr")
SP_CPTR = special_id("cptr")
SP_E2H_ONLY = special_id("e2h_only")
SP_ISR = special_id("isr")
SP_NZCV = special_id("nzcv")
SP_DAIF = special_id("daif")
SP_CURRENTEL = special_id("currentel")
SP_SPSEL = special_id("spsel")
SP_PAN = special_id("pan")
SP_SP_EL0 = special_id("sp_el0")
SP_SP_EL1 = special_id("sp_el1")
SP_TPIDRRO = special_id("tpidrro")
SP_OSLAR = special_id("oslar")
SP_OSLSR = special_id("oslsr")
SP_ICC = special_id("icc")
SP_ICC_SRE = special_id("icc_sre")
SP_IC_FLUSH = special_id("ic_flush")
SP_CACHE_NOP = special_id("cache_nop")
SP_DC_ZVA = special_id("dc_zva")
SP_TLBI = special_id("tlbi")
SP_AT = special_id("at")
DC_ZVA_BYTES = 64  # DCZID_EL0.BS = 4 (features.py)

# what each TLBI does (by its table entry): the kinds below; the Inner Shareable forms
# act as the local ones (one CPU here; other CPUs' TLBs are theirs to keep)
_TLBI_KINDS = {"VMALLE1": 1, "VAE1": 2, "VALE1": 2, "VAAE1": 3, "VAALE1": 3, "ASIDE1": 4,
               "ALLE2": 5, "VAE2": 6, "VALE2": 6, "ALLE1": 7, "VMALLS12E1": 8,
               "IPAS2E1": 9, "IPAS2LE1": 9}
TLBI_KIND = np.zeros(INFO.shape[0], dtype=np.int64)  # + TLBI_IS for the IS forms
TLBI_IS = 16
for _name, _kind in _TLBI_KINDS.items():
    for _form, _scope in ((_name, 0), (_name + "IS", TLBI_IS)):
        try:
            TLBI_KIND[entry_index("TLBI_" + _form)] = _kind | _scope
        except KeyError:
            pass
_IC_IALLU = entry_index("IC_IALLU")  # the one instruction-cache invalidation that is local
# what each AT operation asks (mmu.at), by its table entry
AT_WHAT = np.zeros(INFO.shape[0], dtype=np.int64)
for _name, _what in (("S1E1R", 0), ("S1E1W", mmu.AT_WRITE), ("S1E0R", mmu.AT_EL0),
                     ("S1E0W", mmu.AT_EL0 | mmu.AT_WRITE), ("S1E2R", mmu.AT_EL2),
                     ("S1E2W", mmu.AT_EL2 | mmu.AT_WRITE), ("S12E1R", mmu.AT_STAGE2),
                     ("S12E1W", mmu.AT_STAGE2 | mmu.AT_WRITE),
                     ("S12E0R", mmu.AT_STAGE2 | mmu.AT_EL0),
                     ("S12E0W", mmu.AT_STAGE2 | mmu.AT_EL0 | mmu.AT_WRITE)):
    AT_WHAT[entry_index("AT_" + _name)] = _what
_PAR_EL1 = SYSREG_BASE + storage_index("PAR_EL1")
SP_CNTFRQ = special_id("cntfrq")
SP_CNTPCT = special_id("cntpct")
SP_CNTVCT = special_id("cntvct")
SP_TIMER = special_id("timer")
SP_TIMER02 = special_id("timer02")
SP_DCZID = special_id("dczid")
HCR_TDZ = np.uint64(1 << HCR["TDZ"])

GATE_ALWAYS = EL0_GATES.index("always")
GATE_UCT = EL0_GATES.index("uct")
GATE_DZE = EL0_GATES.index("dze")
GATE_UCI = EL0_GATES.index("uci")
GATE_UMA = EL0_GATES.index("uma")
GATE_EL0PCTEN = EL0_GATES.index("el0pcten")
GATE_EL0VCTEN = EL0_GATES.index("el0vcten")
GATE_EL0PTEN = EL0_GATES.index("el0pten")
GATE_EL0VTEN = EL0_GATES.index("el0vten")
GATE_EL0_COUNTER = EL0_GATES.index("el0_counter")
_CNTKCTL_EL1 = SYSREG_BASE + storage_index("CNTKCTL_EL1")
_VPIDR = SYSREG_BASE + storage_index("VPIDR_EL2")
_VMPIDR = SYSREG_BASE + storage_index("VMPIDR_EL2")
_CNTHCTL_EL2 = SYSREG_BASE + storage_index("CNTHCTL_EL2")

# HCR_EL2 bits a write can change (RES0 elsewhere; E2H only with VHE, see write_hcr)
HCR_WRITABLE = np.uint64(((1 << 42) - 1) & ~(1 << 39))
HCR_E2H = np.uint64(1 << HCR["E2H"])
HCR_RW = np.uint64(1 << HCR["RW"])
# CPTR_EL2: E2H = 0: TCPAC 31, TAM 30, TTA 20, TFP 10, RES1 13:12, 9:0 (no SVE/SME);
# E2H = 1: CPACR_EL1's layout: TCPAC 31, TAM 30, TTA 28, FPEN 21:20, ZEN 17:16
CPTR_FIELDS = np.uint64((1 << 31) | (1 << 30) | (1 << 20) | (1 << 10))
CPTR_RES1 = np.uint64(0x33FF)
CPTR_E2H_FIELDS = np.uint64((1 << 31) | (1 << 30) | (1 << 28) | (3 << 20) | (3 << 16))
HCR_INTERRUPT_BITS = np.uint64(0x1F8 | (1 << HCR["TGE"]))  # FMO IMO AMO VF VI VSE, TGE

# writes that become log records (DESIGN.md §6; the timers' CTLs are recorded apart)
WATCHED_NAMES = ("HCR_EL2", "VBAR_EL1", "VBAR_EL2", "SCTLR_EL1", "SCTLR_EL2", "VTTBR_EL2",
                 "VTCR_EL2", "CNTHCTL_EL2", "CNTKCTL_EL1", "CNTVOFF_EL2")
WATCHED = np.zeros(len(KEYS), dtype=np.uint8)
for _name in WATCHED_NAMES:
    WATCHED[entry_index(_name)] = 1


@jit
def entry_for_key(key):
    """The table row of encoding `key`, or -1 (decode time)."""
    i = np.searchsorted(KEYS, key)
    if i < KEYS.shape[0] and KEYS[i] == key:
        return np.int64(i)
    return np.int64(-1)


@jit
def iss_sysreg(key, rt, read):
    """ISS of EC 0x18 (D19.2.37.24): Op0, Op2, Op1, CRn, Rt, CRm, direction."""
    op0 = (key >> 14) & 3
    op1 = (key >> 11) & 7
    crn = (key >> 7) & 15
    crm = (key >> 3) & 15
    op2 = key & 7
    return (op0 << 20) | (op2 << 17) | (op1 << 14) | (crn << 10) | (rt << 5) | (crm << 1) \
        | read


@jit
def _el0_gate_open(cpu, gate):
    host = exc.e2h_tge(cpu)  # EL0 of the EL2&0 regime: EL2's controls apply
    sctlr = cpu[_SCTLR_EL2] if host else cpu[_SCTLR_EL1]
    if gate == GATE_ALWAYS:
        return True
    if gate >= GATE_EL0PCTEN:  # the counter-timer controls, in CNTKCTL_EL1's layout
        kctl = cpu[_CNTHCTL_EL2] if host else cpu[_CNTKCTL_EL1]
        if gate == GATE_EL0PCTEN:
            return kctl & U1 != U0
        if gate == GATE_EL0VCTEN:
            return (kctl >> np.uint64(1)) & U1 != U0
        if gate == GATE_EL0VTEN:
            return (kctl >> np.uint64(8)) & U1 != U0
        if gate == GATE_EL0PTEN:
            return (kctl >> np.uint64(9)) & U1 != U0
        return kctl & np.uint64(3) != U0  # CNTFRQ_EL0: either counter enabled
    if gate == GATE_UCT:
        return (sctlr >> np.uint64(15)) & U1 != U0
    if gate == GATE_DZE:
        return (sctlr >> np.uint64(14)) & U1 != U0
    if gate == GATE_UCI:
        return (sctlr >> np.uint64(26)) & U1 != U0
    if gate == GATE_UMA:
        return (sctlr >> np.uint64(9)) & U1 != U0
    return False


@jit
def read_special(regs, cpu, entry, sp, nzcv):
    if sp == SP_MIDR or sp == SP_MPIDR:
        # EL1 reads the virtualized identity that EL2 sets (VPIDR_EL2/VMPIDR_EL2)
        if cpu[CUR_EL] == U1 and exc.has(cpu, exc.F_EL2):
            return cpu[_VPIDR] if sp == SP_MIDR else cpu[_VMPIDR]
        return cpu[MIDR] if sp == SP_MIDR else cpu[MPIDR]
    if sp == SP_CCSIDR:
        return U0  # no cache geometry to report: CLIDR_EL1 says there are no caches
    if sp == SP_CPTR:  # without E2H, the ARMv8.0 layout with its RES1 bits
        value = cpu[SYSREG_BASE + INFO[entry, I_STORAGE]]
        return value if exc.hcr(cpu) & exc.HCR_E2H != U0 else value | CPTR_RES1
    if sp == SP_HCR or sp == SP_E2H_ONLY:
        return cpu[SYSREG_BASE + INFO[entry, I_STORAGE]]
    if sp == SP_ISR:
        return exc.isr(cpu)
    if sp == SP_NZCV:
        return nzcv << np.uint64(28)
    if sp == SP_DAIF:
        return cpu[DAIF_BITS]
    if sp == SP_CURRENTEL:
        return cpu[CUR_EL] << np.uint64(2)
    if sp == SP_SPSEL:
        return cpu[SPSEL]
    if sp == SP_PAN:
        return cpu[PAN_BIT] << np.uint64(22)
    if sp == SP_SP_EL0:
        return cpu[SP_EL0_BANK]
    if sp == SP_SP_EL1:  # reached from EL2 only, where it is always banked
        return cpu[SP_EL1_BANK]
    if sp == SP_TPIDRRO:
        return cpu[SYSREG_BASE + INFO[entry, I_STORAGE]]
    if sp == SP_ICC_SRE:  # SRE, DFB, DIB fixed at 1 (system registers only, as QEMU),
        return np.uint64(0xF) if cpu[CUR_EL] == np.uint64(2) else np.uint64(0x7)  # + Enable
    if sp == SP_DCZID:  # DZP says whether DC ZVA would be refused here (as glibc asks)
        cur = cpu[CUR_EL]
        prohibited = cur == U0 and not _el0_gate_open(cpu, GATE_DZE)
        if cur != np.uint64(2) and exc.has(cpu, exc.F_EL2) and not exc.e2h_tge(cpu):
            prohibited = prohibited or exc.hcr(cpu) & HCR_TDZ != U0
        value = cpu[SYSREG_BASE + INFO[entry, I_STORAGE]]
        return value | np.uint64(0x10) if prohibited else value
    if sp == SP_OSLSR:
        return np.uint64(0x8) | (cpu[OS_LOCK] << np.uint64(1))  # OSLM = 0b10: lock present
    return U0


@jit
def _dc_zva(regs, cpu, mem, page_slot, dec, value, pc, nzcv):
    """DC ZVA: zero the 64-byte block holding virtual address `value`, translated as a
    write when translation is on (a fault: exits.MMU_FAULT, which the run loop takes).
    Outside RAM it is an external abort, ISV = 0. (The memory type is not looked at,
    as in QEMU: DC ZVA to Device memory does not give the Alignment fault the Arm ARM
    asks for.)"""
    addr = value & ~np.uint64(DC_ZVA_BYTES - 1)
    if cpu[XL_ON] != U0:
        k, addr = mmu.translate(cpu, mem, addr, DC_ZVA_BYTES, mmu.ACCESS_WRITE)
        if k:
            return exits.MMU_FAULT, pc
    off = addr - cpu[RAM_BASE]
    if off >= cpu[RAM_SIZE]:
        return TAKEN, exc.take_with_far(regs, cpu, exc.sync_target(cpu), exc.EC_DABORT_SAME,
                                        (1 << 6) | exc.FSC_EXTERNAL, value, pc, nzcv)
    start = np.int64(off)
    for i in range(DC_ZVA_BYTES):
        mem[start + i] = np.uint8(0)
    decode_cache.note_store(page_slot, dec, off, DC_ZVA_BYTES)
    return 0, pc + np.uint64(4)


@jit
def write_special(regs, cpu, entry, sp, value, nzcv):
    """(status, nzcv) after writing `value` to a SPECIAL register."""
    word = SYSREG_BASE + INFO[entry, I_STORAGE]
    if sp == SP_HCR:
        if not exc.has(cpu, exc.F_VHE):
            value &= ~HCR_E2H  # E2H is RES0 without VHE
        value |= HCR_RW  # EL1 is AArch64: RW is RES1 here (no AArch32)
        cpu[word] = value & HCR_WRITABLE
        exc.refresh_sp_alignment(cpu)  # E2H/TGE choose the SCTLR of EL0
        return RECHECK, nzcv
    if sp == SP_CPTR:  # the fields of the layout E2H selects (Arm ARM D19.2.31)
        e2h = exc.has(cpu, exc.F_EL2) and exc.hcr(cpu) & exc.HCR_E2H != U0
        cpu[word] = value & (CPTR_E2H_FIELDS if e2h else CPTR_FIELDS)
        return 0, nzcv
    if sp == SP_E2H_ONLY:
        cpu[word] = value
        return 0, nzcv
    if sp == SP_NZCV:
        return 0, (value >> np.uint64(28)) & np.uint64(0xF)
    if sp == SP_DAIF:
        cpu[DAIF_BITS] = value & exc.DAIF_ALL
        return RECHECK, nzcv
    if sp == SP_SPSEL:
        exc.switch_stack(regs, cpu, np.int64(cpu[CUR_EL]), np.int64(value & U1))
        return 0, nzcv
    if sp == SP_PAN:
        cpu[PAN_BIT] = (value >> np.uint64(22)) & U1
        mmu.refresh_context(cpu)  # (the data TLB's entries depend on it)
        return 0, nzcv
    if sp == SP_SP_EL0:
        cpu[SP_EL0_BANK] = value
        return 0, nzcv
    if sp == SP_SP_EL1:
        cpu[SP_EL1_BANK] = value
        return 0, nzcv
    if sp == SP_TPIDRRO:
        cpu[word] = value
        return 0, nzcv
    if sp == SP_OSLAR:
        cpu[OS_LOCK] = value & U1
        return 0, nzcv
    if sp == SP_ICC_SRE:  # its bits are fixed: the write is ignored
        return 0, nzcv
    if sp == SP_IC_FLUSH:  # the run loop drops the decoded instructions (interpreter.run)
        cpu[FLUSH_DECODED] = U1
        if entry != _IC_IALLU:  # IALLUIS and IVAU reach every CPU of the domain
            cpu[MAINT_PENDING] |= np.uint64(2)
        return RECHECK, nzcv
    return 0, nzcv  # read-only specials never get here (see _writable)


@jit
def _special_read_only(sp):
    return sp == SP_MIDR or sp == SP_MPIDR or sp == SP_CCSIDR or sp == SP_ISR \
        or sp == SP_CURRENTEL or sp == SP_OSLSR or sp == SP_DCZID


@jit
def _special_write_only(sp):
    return sp == SP_OSLAR


@jit
def access(regs, cpu, mem, page_slot, dec, row, nzcv, pc):
    """MRS/MSR/SYS at `pc`: (status, nzcv, next_pc)."""
    key = np.int64(dec[row, F_IMM])
    rt = np.int64(dec[row, F_X])
    read = np.int64(dec[row, F_Y])
    entry = np.int64(dec[row, F_A]) - 1
    cur = np.int64(cpu[CUR_EL])
    next_pc = pc + np.uint64(4)
    if entry < 0 or (read and (key >> 14) == 1):  # no SYSL form of a SYS operation exists
        return TAKEN, nzcv, exc.undefined(regs, cpu, pc, nzcv)
    feature = INFO[entry, I_FEATURE]
    if feature >= 0 and not exc.has(cpu, np.uint64(1) << np.uint64(feature)):
        return TAKEN, nzcv, exc.undefined(regs, cpu, pc, nzcv)

    h = cpu[_HCR] if exc.has(cpu, exc.F_EL2) else U0
    e2h = (h & HCR_E2H) != U0
    alias = INFO[entry, I_ALIAS]
    if alias >= 0:
        if cur != 2 or not e2h:
            return TAKEN, nzcv, exc.undefined(regs, cpu, pc, nzcv)
        entry = alias
    elif cur == 2 and e2h and INFO[entry, I_E2H] >= 0:
        entry = INFO[entry, I_E2H]
    elif INFO[entry, I_SPECIAL] == SP_E2H_ONLY and not e2h:  # TTBR1_EL2 exists with E2H
        return TAKEN, nzcv, exc.undefined(regs, cpu, pc, nzcv)

    min_el = INFO[entry, I_EL]
    if cur < min_el and alias < 0:
        return TAKEN, nzcv, exc.undefined(regs, cpu, pc, nzcv)
    iss = iss_sysreg(key, rt, read)
    if cur == 0:
        gate = INFO[entry, I_EL0]
        if gate < 0:
            return TAKEN, nzcv, exc.undefined(regs, cpu, pc, nzcv)
        if not _el0_gate_open(cpu, gate):
            return TAKEN, nzcv, exc.take_sync(regs, cpu, exc.sync_target(cpu), exc.EC_SYSREG,
                                              iss, -1, pc, nzcv)
    if cur < 2 and alias < 0 and not exc.e2h_tge(cpu):
        bit = INFO[entry, I_TRAP_R] if read else INFO[entry, I_TRAP_W]
        if bit >= 0 and (h >> np.uint64(bit)) & U1 != U0:
            return TAKEN, nzcv, exc.take_sync(regs, cpu, 2, exc.EC_SYSREG, iss, -1, pc, nzcv)

    kind = INFO[entry, I_KIND]
    sp = INFO[entry, I_SPECIAL]
    if sp == SP_SP_EL0 and cpu[SPSEL] == U0:  # SP_EL0 is the current SP: no MRS/MSR of it
        return TAKEN, nzcv, exc.undefined(regs, cpu, pc, nzcv)
    if sp == SP_TPIDRRO and cur == 0 and not read:  # read-only at EL0, as its name says
        return TAKEN, nzcv, exc.undefined(regs, cpu, pc, nzcv)
    if sp == SP_ICC:
        return gic_exit(cpu, dec, row), nzcv, pc
    if sp >= SP_CNTFRQ and sp <= SP_TIMER02:
        return _generic_timer(regs, cpu, entry, sp, key, rt, read, iss, nzcv, pc)
    if read:
        if kind == WO or (kind == SPECIAL and _special_write_only(sp)):
            return TAKEN, nzcv, exc.undefined(regs, cpu, pc, nzcv)
        if kind == PLAIN or kind == RO:
            value = cpu[SYSREG_BASE + INFO[entry, I_STORAGE]]
        elif kind == RAZWI:
            value = U0
        else:
            value = read_special(regs, cpu, entry, sp, nzcv)
        if rt != 31:  # MRS to XZR reads and discards
            regs[rt] = value
        return 0, nzcv, next_pc
    value = regs[rt] if rt != 31 else U0
    if kind == RO or (kind == SPECIAL and _special_read_only(sp)):
        return TAKEN, nzcv, exc.undefined(regs, cpu, pc, nzcv)
    if kind == PLAIN:
        word = SYSREG_BASE + INFO[entry, I_STORAGE]
        cpu[word] = (value & WMASK[entry]) | RES1[entry]
        exc.refresh_sp_alignment(cpu)  # (SCTLR_ELx.SA/SA0; cheap enough for any write)
        if WATCHED[entry]:
            events.record(cpu, events.SYSREG_WRITE, entry, cpu[word], pc, 0)
        return 0, nzcv, next_pc
    if sp == SP_AT:
        cpu[_PAR_EL1] = mmu.at(cpu, mem, value, AT_WHAT[entry])
        return 0, nzcv, next_pc
    if sp == SP_TLBI:
        kind = TLBI_KIND[entry]
        _tlbi(cpu, kind & (TLBI_IS - 1), value, cur)
        if kind & TLBI_IS:  # every CPU's TLB, complete by this CPU's next DSB
            cpu[MAINT_PENDING] |= U1
        return 0, nzcv, next_pc
    if kind == RAZWI or sp == SP_CACHE_NOP:
        return 0, nzcv, next_pc
    if sp == SP_DC_ZVA:
        status, target = _dc_zva(regs, cpu, mem, page_slot, dec, value, pc, nzcv)
        return status, nzcv, target
    status, nzcv = write_special(regs, cpu, entry, sp, value, nzcv)
    if WATCHED[entry]:
        events.record(cpu, events.SYSREG_WRITE, entry,
                      cpu[SYSREG_BASE + INFO[entry, I_STORAGE]], pc, 0)
    return status, nzcv, next_pc


_VTTBR = SYSREG_BASE + storage_index("VTTBR_EL2")
_VA56 = np.uint64(0x00FF_FFFF_FFFF_F000)


@jit
def _tlbi(cpu, kind, value, cur):
    """A TLB maintenance operation on this CPU's TLB (mmu.invalidate): the regime it
    names (an EL1 operation at EL2 with E2H and TGE names the EL2&0 regime), the VMID
    of VTTBR_EL2 for the EL1&0 regime, the ASID in value[63:48], the VA's page in
    value[43:0]."""
    asid = value >> np.uint64(48)
    va = (value << np.uint64(12)) & _VA56
    vmid = (cpu[_VTTBR] >> np.uint64(48)) & np.uint64(0xFFFF)
    el2 = exc.has(cpu, exc.F_EL2)
    host = cur == 2 and exc.e2h_tge(cpu)
    e1 = mmu.REGIME_EL20 if host else mmu.REGIME_EL10
    if kind >= 1 and kind <= 4:
        scope = (mmu.TLBI_ALL, mmu.TLBI_VA, mmu.TLBI_VA, mmu.TLBI_ASID)[kind - 1]
        mmu.invalidate(cpu, scope, e1, el2 and not host, vmid, va, asid, kind == 3)
    elif kind == 5:
        mmu.invalidate(cpu, mmu.TLBI_ALL, mmu.REGIME_EL2, False, U0, va, asid, True)
        mmu.invalidate(cpu, mmu.TLBI_ALL, mmu.REGIME_EL20, False, U0, va, asid, True)
    elif kind == 6:
        mmu.invalidate(cpu, mmu.TLBI_VA, mmu.REGIME_EL2, False, U0, va, asid, True)
        mmu.invalidate(cpu, mmu.TLBI_VA, mmu.REGIME_EL20, False, U0, va, asid, False)
    elif kind == 7:
        mmu.invalidate(cpu, mmu.TLBI_ALL, mmu.REGIME_EL10, False, U0, va, asid, True)
    elif kind == 8:
        mmu.invalidate(cpu, mmu.TLBI_ALL, mmu.REGIME_EL10, True, vmid, va, asid, True)
    elif kind == 9:
        mmu.invalidate(cpu, mmu.TLBI_IPA, mmu.REGIME_EL10, True, vmid, va, asid, True)


@jit
def _el2_timer_trap(cpu, cur, bit_e2h0, bit_e2h1):
    """CNTHCTL_EL2 traps of EL0/EL1 accesses to the physical counter or timer."""
    if cur == 2 or not exc.has(cpu, exc.F_EL2) or exc.e2h_tge(cpu):
        return False
    bit = bit_e2h1 if exc.hcr(cpu) & exc.HCR_E2H != U0 else bit_e2h0
    return (cpu[_CNTHCTL_EL2] >> np.uint64(bit)) & U1 == U0


@jit
def _generic_timer(regs, cpu, entry, sp, key, rt, read, iss, nzcv, pc):
    """CNTFRQ, the counters and the timers' TVAL/CTL/CVAL: (status, nzcv, next_pc)."""
    cur = np.int64(cpu[CUR_EL])
    next_pc = pc + np.uint64(4)
    count = timers.physical_count(cpu)
    value = regs[rt] if rt != 31 else U0
    result = U0
    status = 0
    if sp == SP_CNTFRQ:
        word = SYSREG_BASE + INFO[entry, I_STORAGE]
        if read:
            result = cpu[word]
        elif cur != (2 if exc.has(cpu, exc.F_EL2) else 1):  # written by the highest EL only
            return TAKEN, nzcv, exc.undefined(regs, cpu, pc, nzcv)
        else:
            cpu[word] = value & M32
    elif sp == SP_CNTPCT or sp == SP_CNTVCT:
        if not read:
            return TAKEN, nzcv, exc.undefined(regs, cpu, pc, nzcv)
        if sp == SP_CNTPCT and _el2_timer_trap(cpu, cur, 0, 10):
            return TAKEN, nzcv, exc.take_sync(regs, cpu, 2, exc.EC_SYSREG, iss, -1, pc, nzcv)
        result = count if sp == SP_CNTPCT else count - timers.virtual_offset(cpu)
    else:
        timer = INFO[entry, I_ARG]
        e2h = exc.hcr(cpu) & exc.HCR_E2H != U0 if exc.has(cpu, exc.F_EL2) else False
        if sp == SP_TIMER02:
            if cur != 2 or not e2h:
                return TAKEN, nzcv, exc.undefined(regs, cpu, pc, nzcv)
        elif timer < 2 and ((cur == 2 and e2h) or (cur == 0 and exc.e2h_tge(cpu))):
            timer += 2  # the EL2&0 regime: CNTP_* and CNTV_* are EL2's timers
        if timer == 0 and sp == SP_TIMER and _el2_timer_trap(cpu, cur, 1, 11):
            return TAKEN, nzcv, exc.take_sync(regs, cpu, 2, exc.EC_SYSREG, iss, -1, pc, nzcv)
        field = key & 7  # op2: 0 TVAL, 1 CTL, 2 CVAL
        if read:
            if field == 0:
                result = timers.read_tval(cpu, timer, count)
            elif field == 1:
                result = timers.read_ctl(cpu, timer, count)
            else:
                result = cpu[timers.TIMER_CVAL + timer]
        else:
            if field == 0:
                timers.write_tval(cpu, timer, count, value)
            elif field == 1:
                cpu[timers.TIMER_CTL + timer] = value & (timers.CTL_ENABLE | timers.CTL_IMASK)
                events.record(cpu, events.TIMER_CONTROL, timer,
                              cpu[timers.TIMER_CTL + timer], pc, 0)
            else:
                cpu[timers.TIMER_CVAL + timer] = value
            status = RECHECK  # the outputs and the next deadline may have moved
    if read and rt != 31:
        regs[rt] = result
    return status, nzcv, next_pc


@jit
def msr_immediate(regs, cpu, dec, row, nzcv, pc):
    """MSR (immediate) to a PSTATE field: (status, nzcv, next_pc)."""
    field = np.int64(dec[row, F_IMM])  # op1 << 3 | op2
    crm = dec[row, F_X]
    cur = np.int64(cpu[CUR_EL])
    next_pc = pc + np.uint64(4)
    if field == (3 << 3) | 6 or field == (3 << 3) | 7:  # DAIFSet, DAIFClr
        if cur == 0 and not _el0_gate_open(cpu, GATE_UMA):
            # MSR (immediate) lives at op0 = 0: Op0 0, Op2, Op1 = 3, CRn = 4, Rt = 31, CRm
            iss = ((field & 7) << 17) | (3 << 14) | (4 << 10) | (31 << 5) \
                | (np.int64(crm) << 1)
            return TAKEN, nzcv, exc.take_sync(regs, cpu, exc.sync_target(cpu), exc.EC_SYSREG,
                                              iss, -1, pc, nzcv)
        bits = (crm & np.uint64(0xF)) << np.uint64(6)
        if field & 1:
            cpu[DAIF_BITS] &= ~bits
            return RECHECK, nzcv, next_pc
        cpu[DAIF_BITS] |= bits
        return 0, nzcv, next_pc
    if cur == 0:
        return TAKEN, nzcv, exc.undefined(regs, cpu, pc, nzcv)
    if field == 5:  # SPSel
        exc.switch_stack(regs, cpu, cur, np.int64(crm & U1))
        return 0, nzcv, next_pc
    if field == 4 and exc.has(cpu, exc.F_PAN):  # PAN
        cpu[PAN_BIT] = crm & U1
        mmu.refresh_context(cpu)
        return 0, nzcv, next_pc
    return TAKEN, nzcv, exc.undefined(regs, cpu, pc, nzcv)


@jit
def gic_exit(cpu, dec, row):
    """Hand a GIC CPU-interface register access to the CPU process (exits.SYSREG)."""
    cpu[EXIT_A] = dec[row, F_IMM]
    cpu[EXIT_B] = dec[row, F_X]
    cpu[EXIT_C] = dec[row, F_Y]
    return exits.SYSREG

