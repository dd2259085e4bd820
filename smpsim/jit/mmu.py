"""The MMU as the core uses it: which translation regime applies, a software TLB, and
the translation of data accesses and instruction fetches (Arm ARM D8) through the
table walks of translation.py.

`refresh_context` runs whenever the EL or a register that selects the regime changes
(it is called with the SP-alignment refresh, exceptions.py): it leaves in cpu[XL_ON]
whether any translation is on — 0 keeps the MMU-off path at one load and one test —
and in cpu[XL_CTX] the context a TLB entry must match: regime, stage 1 and stage 2
enables, VMID and ASID.

The TLB is direct mapped (by a hash of the VA's page number), TLB_ENTRIES entries of
TLB_WORDS words in `cpu`:
    0  the VA's page number (va >> 12), all 64 bits of the VA above the page
    1  the context (XL_CTX layout) | GLOBAL (nG = 0) | VALID
    2  the PA of the 4 KiB page | the access bits below (stage 1 and 2 combined)
    3  log2 of the size the entry translates (12, 21, 30: the leaf's block or page)
An entry is filled only for a walk that succeeded; an access its bits refuse walks
again, which finds the precise fault (stage, level, kind). What a TLB may keep by the
architecture is kept: SCTLR_ELx.WXN is folded into the bits at fill time.

Faults leave their syndrome in the FAULT_* words (state.py) and the status
exits.MMU_FAULT; the interpreter takes the exception.

LDTR/STTR at EL1 (or at EL2 in the EL2&0 regime) translate as EL0 accesses
(cpu[XL_UNPRIV], set around them by loads_stores.exec_translated).

HCR_EL2.DC makes EL1&0 stage 1 act as off with Normal write-back memory, and stage 2
act as on (its VM bit reads as written).

Not yet: hardware Access flag / dirty state (never advertised), FEAT_XNX,
the 16/64 KiB granules (ID_AA64MMFR0_EL1 says not implemented), FEAT_UAO.
"""

import numpy as np

from smpsim.jit import exits, translation
from smpsim.jit.alu import U0, U1
from smpsim.jit.compile import jit, jit_inline
from smpsim.jit.state import (CUR_EL, DTLB_ENTRIES, DTLB_KEY, DTLB_READ, DTLB_WORDS, DTLB_WRITE,
                              FAULT_FAR, FAULT_IPA, FAULT_ISS, FAULT_TARGET, FEATURE_BITS,
                              PAN_BIT, RAM_BASE, RAM_SIZE, SYSREG_BASE, TLB_BASE, TLB_ENTRIES,
                              TLB_WORDS, XL_CTX, XL_ON, XL_UNPRIV)
from smpsim.jit.sysreg_table import FEATURES, HCR, storage_index

# translation regimes
REGIME_EL10, REGIME_EL2, REGIME_EL20 = 0, 1, 2

# XL_CTX: ASID [15:0], VMID [31:16], regime [33:32], stage 1 on [34], stage 2 on [35],
# HCR_EL2.DC [36]
_ASID_MASK = np.uint64(0xFFFF)
_S1_ON = np.uint64(1 << 34)
_S2_ON = np.uint64(1 << 35)
_DC_ON = np.uint64(1 << 36)
_GLOBAL = np.uint64(1 << 62)
_VALID = np.uint64(1 << 63)

# access bits in TLB word 2
P_PRIV_R, P_PRIV_W, P_PRIV_X = 1, 2, 4
P_USER_R, P_USER_W, P_USER_X = 8, 16, 32
P_USER_DATA = 64  # stage 1 gives EL0 read access: PAN refuses privileged data access
P_DEVICE = 128  # Device memory: unaligned accesses fault
_PAGE = np.uint64(0xFFF)
_VA56 = np.uint64(0x00FF_FFFF_FFFF_F000)

# fault words: FAULT_ISS holds the ISS; bit 32 = instruction abort; FAULT_IPA bit 63 =
# a stage 2 fault (HPFAR_EL2 = FAULT_IPA's IPA)
FAULT_INSTRUCTION = np.uint64(1 << 32)
FAULT_STAGE2 = np.uint64(1 << 63)
ISS_WNR = 1 << 6
ISS_S1PTW = 1 << 7
FSC_ALIGNMENT = 0x21

ACCESS_READ = translation.ACCESS_READ
ACCESS_WRITE = translation.ACCESS_WRITE
ACCESS_EXEC = translation.ACCESS_EXEC
ACCESS_RMW = translation.ACCESS_RMW

_F_EL2 = np.uint64(1 << FEATURES.index("el2"))
_HCR_VM = np.uint64(1 << HCR["VM"])
_HCR_DC = np.uint64(1 << HCR["DC"])
_HCR_TGE = np.uint64(1 << HCR["TGE"])
_HCR_E2H = np.uint64(1 << HCR["E2H"])


def _w(name):
    return SYSREG_BASE + storage_index(name)


_HCR_W = _w("HCR_EL2")
_SCTLR1, _SCTLR2 = _w("SCTLR_EL1"), _w("SCTLR_EL2")
_TCR1, _TCR2 = _w("TCR_EL1"), _w("TCR_EL2")
_TTBR0_1, _TTBR1_1 = _w("TTBR0_EL1"), _w("TTBR1_EL1")
_TTBR0_2, _TTBR1_2 = _w("TTBR0_EL2"), _w("TTBR1_EL2")
_MAIR1, _MAIR2 = _w("MAIR_EL1"), _w("MAIR_EL2")
_VTTBR, _VTCR = _w("VTTBR_EL2"), _w("VTCR_EL2")
_MMFR0 = _w("ID_AA64MMFR0_EL1")
_SCTLR_M = U1
_SCTLR_WXN = np.uint64(1 << 19)


@jit
def regime(cpu):
    """The translation regime of the current EL (D8.1.2)."""
    cur = np.int64(cpu[CUR_EL])
    h = cpu[_HCR_W] if cpu[FEATURE_BITS] & _F_EL2 != U0 else U0
    e2h = h & _HCR_E2H != U0
    if cur == 2:
        return REGIME_EL20 if e2h else REGIME_EL2
    if cur == 0 and e2h and h & _HCR_TGE != U0:
        return REGIME_EL20
    return REGIME_EL10


@jit
def context(cpu, r, stage2_allowed):
    """The XL_CTX word of translation regime `r` with the current registers; stage 2
    only if `stage2_allowed` (AT S1E1* gives the IPA)."""
    h = cpu[_HCR_W] if cpu[FEATURE_BITS] & _F_EL2 != U0 else U0
    tge = h & _HCR_TGE != U0
    vmid = U0
    asid = U0
    dc = False
    if r == REGIME_EL10:
        # with TGE set, EL1&0 stage 1 and stage 2 act as off (HCR_EL2.TGE); with DC,
        # stage 1 acts as off, its memory as Normal cacheable, and stage 2 as on
        dc = h & _HCR_DC != U0 and not tge
        s1 = cpu[_SCTLR1] & _SCTLR_M != U0 and not tge and not dc
        s2 = stage2_allowed and (h & _HCR_VM != U0 or dc) and not tge
        tcr = cpu[_TCR1]
        ttbr = cpu[_TTBR1_1] if (tcr >> np.uint64(22)) & U1 else cpu[_TTBR0_1]  # TCR.A1
        if cpu[FEATURE_BITS] & _F_EL2 != U0:
            vmid = (cpu[_VTTBR] >> np.uint64(48)) & np.uint64(0xFFFF)
            if (cpu[_VTCR] >> np.uint64(19)) & U1 == U0:  # VTCR_EL2.VS: 8-bit VMID
                vmid &= np.uint64(0xFF)
    else:
        s1 = cpu[_SCTLR2] & _SCTLR_M != U0
        s2 = False
        tcr = cpu[_TCR2]
        ttbr = cpu[_TTBR1_2] if r == REGIME_EL20 and (tcr >> np.uint64(22)) & U1 else cpu[_TTBR0_2]
    if r != REGIME_EL2:
        asid = ttbr >> np.uint64(48)
        if (tcr >> np.uint64(36)) & U1 == U0:  # TCR.AS: 8-bit ASID
            asid &= np.uint64(0xFF)
    return asid | (vmid << np.uint64(16)) | (np.uint64(r) << np.uint64(32)) \
        | (_S1_ON if s1 else U0) | (_S2_ON if s2 else U0) | (_DC_ON if dc else U0)


@jit
def refresh_context(cpu):
    """XL_ON and XL_CTX for the current EL and registers; the data TLB goes when what
    its entries were filled under changes (called after a change of PSTATE.PAN too)."""
    r = regime(cpu)
    ctx = context(cpu, r, True)
    cpu[XL_CTX] = ctx
    cpu[XL_ON] = U1 if ctx & (_S1_ON | _S2_ON) != U0 else U0
    sctlr = cpu[_SCTLR1] if r == REGIME_EL10 else cpu[_SCTLR2]
    key = ctx | (_KEY_EL0 if cpu[CUR_EL] == U0 else U0) | (_KEY_PAN if cpu[PAN_BIT] != U0 else U0) \
        | (_KEY_ALIGN if sctlr & _SCTLR_A != U0 else U0)
    if key != cpu[DTLB_KEY]:
        cpu[DTLB_KEY] = key
        dtlb_flush(cpu)


# --- the data TLB of the run loop ---------------------------------------------------------
# The run loop's loads and stores with translation on look here before anything else
# (loads_stores.read_for_load and write): pages of RAM that the current EL may read, or
# write, as Normal memory, by the VA's page number, direct mapped by its low bits. Word 0
# of an entry is the page number inverted (a zeroed entry matches no address), word 1
# where the page is in `mem`. Entries are filled from the TLB's (translate), hold for one
# DTLB_KEY (the context, EL0 or not, PSTATE.PAN, SCTLR_ELx.A) and go with any TLB
# invalidation: the data TLB never holds what the TLB would not.
_KEY_EL0 = np.uint64(1 << 40)
_KEY_PAN = np.uint64(1 << 41)
_KEY_ALIGN = np.uint64(1 << 42)  # alignment checking on: nothing is filled
_SCTLR_A = np.uint64(2)
_DTLB_INDEX = np.uint64(DTLB_ENTRIES - 1)


@jit_inline
def _dtlb_index(vpn):
    """The entry's first word, from the entry table's start: the page number's low bits
    folded with the next ones (pages 256 KiB apart do not evict each other)."""
    return np.int64((vpn ^ (vpn >> np.uint64(6))) & _DTLB_INDEX) * DTLB_WORDS


@jit
def alignment_checked(cpu):
    """SCTLR_ELx.A of the current regime: every data access must be aligned (checked
    before translation, as an alignment fault that does not depend on the memory type)."""
    return cpu[DTLB_KEY] & _KEY_ALIGN != U0


@jit
def untranslated(cpu, va, nbytes, access):
    """(0, PA) or (exits.MMU_FAULT, 0) for a data access with translation off (XL_ON =
    0): the PA is the VA, an Address size fault beyond the PA size, and the memory is
    Device-nGnRnE (Arm ARM D8, "The effects of disabling an address translation
    stage"), so a misaligned access is an Alignment fault. (QEMU 7.2, the one Debian
    ships, and Unicorn perform misaligned accesses with the MMU off.)"""
    mmfr0 = cpu[_MMFR0] & np.uint64(0xF)
    if va >> np.uint64(translation.pa_size_bits(mmfr0, mmfr0)):
        return _set_fault(cpu, _s1_target(cpu), translation.FSC_ADDRESS_SIZE, access, False, va,
                          False, U0)
    if va & np.uint64(nbytes - 1):
        return alignment_fault(cpu, va, access)
    return 0, va


@jit
def dtlb_flush(cpu):
    for i in range(2 * DTLB_ENTRIES):
        cpu[DTLB_READ + i * DTLB_WORDS] = U0


@jit_inline
def dtlb_read_offset(cpu, va):
    """Where in `mem` 8 bytes at `va` are (a load reads 8 bytes of its page at most), or
    -1: a miss, or too near the end of the page."""
    vpn = va >> np.uint64(12)
    s = DTLB_READ + _dtlb_index(vpn)
    in_page = va & _PAGE
    if cpu[s] == ~vpn and in_page <= np.uint64(0x1000 - 8):
        return np.int64(cpu[s + 1] + in_page)
    return np.int64(-1)


@jit_inline
def dtlb_write_offset(cpu, va, nbytes):
    """Where in `mem` a write of `nbytes` at `va` goes, or -1 (a miss, or it crosses
    the page)."""
    vpn = va >> np.uint64(12)
    s = DTLB_WRITE + _dtlb_index(vpn)
    in_page = va & _PAGE
    if cpu[s] == ~vpn and in_page + np.uint64(nbytes) <= np.uint64(0x1000):
        return np.int64(cpu[s + 1] + in_page)
    return np.int64(-1)


@jit
def _dtlb_fill(cpu, va, entry, access, privileged, pan):
    """The data TLB entry for `va` from its TLB entry, for reads or writes (each fills
    its own: a copy loop's source and destination may share an index)."""
    bits = np.int64(entry & _PAGE)
    page = (entry & ~_PAGE) - cpu[RAM_BASE]
    if bits & P_DEVICE or page >= cpu[RAM_SIZE] or cpu[RAM_SIZE] - page < np.uint64(0x1000) \
            or cpu[DTLB_KEY] & _KEY_ALIGN != U0:
        return
    vpn = va >> np.uint64(12)
    i = _dtlb_index(vpn)
    if access != ACCESS_WRITE and _bits_allowed(bits, ACCESS_READ, privileged, pan):
        cpu[DTLB_READ + i] = ~vpn
        cpu[DTLB_READ + i + 1] = page
    if access != ACCESS_READ and _bits_allowed(bits, ACCESS_WRITE, privileged, pan):
        cpu[DTLB_WRITE + i] = ~vpn
        cpu[DTLB_WRITE + i + 1] = page


# --- the TLB ----------------------------------------------------------------------------

@jit
def _slot(va):
    """A VA page's entry: its page number's low bits folded with the next ones, so that
    pages a multiple of 1 MiB apart (code and data, say) do not evict each other."""
    vpn = va >> np.uint64(12)
    index = (vpn ^ (vpn >> np.uint64(8)) ^ (vpn >> np.uint64(16))) & np.uint64(TLB_ENTRIES - 1)
    return TLB_BASE + np.int64(index) * TLB_WORDS


@jit
def _lookup(cpu, va):
    """The TLB word 2 (PA page | bits) for `va` in the current context, or 0 (a miss)."""
    s = _slot(va)
    if cpu[s] != va >> np.uint64(12):
        return U0
    tag = cpu[s + 1]
    diff = tag ^ (cpu[XL_CTX] | _VALID)
    if tag & _GLOBAL != U0:
        diff &= ~_ASID_MASK
    if diff & ~_GLOBAL != U0:
        return U0
    return cpu[s + 2]


@jit
def _fill(cpu, va, ng, pa, bits, size_log2):
    s = _slot(va)
    cpu[s] = va >> np.uint64(12)
    cpu[s + 1] = cpu[XL_CTX] | _VALID | (U0 if ng else _GLOBAL)
    cpu[s + 2] = (pa & ~_PAGE) | np.uint64(bits)
    cpu[s + 3] = np.uint64(size_log2)


@jit
def flush_all(cpu):
    for i in range(TLB_ENTRIES):
        cpu[TLB_BASE + i * TLB_WORDS + 1] = U0
    dtlb_flush(cpu)


# TLBI scopes (what system_registers passes)
TLBI_ALL = 0  # every entry (ALLE1, ALLE2, VMALLS12E1 and the like, on their regime)
TLBI_VA = 1  # entries translating a VA (with ASID unless `all_asids`)
TLBI_ASID = 2  # non-global entries of an ASID
TLBI_IPA = 3  # stage 2 entries of an IPA: entries that combine stages may hold it


@jit
def invalidate(cpu, scope, regime_of, match_vmid, vmid, va, asid, all_asids):
    """Drop the TLB entries of regime `regime_of` (and of `vmid` when `match_vmid`) in
    `scope`. Entries that combine stage 1 and 2 cannot tell which IPA they went
    through, so an IPA scope drops every such entry of the VMID (as many TLBs do)."""
    for i in range(TLB_ENTRIES):
        s = TLB_BASE + i * TLB_WORDS
        tag = cpu[s + 1]
        if tag & _VALID == U0:
            continue
        if np.int64((tag >> np.uint64(32)) & np.uint64(3)) != regime_of:
            continue
        if match_vmid and (tag >> np.uint64(16)) & np.uint64(0xFFFF) != vmid:
            continue
        if scope == TLBI_VA:  # (the VA's bits [55:12]: what a TLBI names)
            shift = cpu[s + 3]
            if ((cpu[s] << np.uint64(12)) & _VA56) >> shift != (va & _VA56) >> shift:
                continue
            # (the "last level" forms drop leaf entries: every entry here is a leaf)
            if not all_asids and tag & _GLOBAL == U0 and tag & _ASID_MASK != asid:
                continue
        elif scope == TLBI_ASID:
            if tag & _GLOBAL != U0 or tag & _ASID_MASK != asid:
                continue
        elif scope == TLBI_IPA:
            if tag & _S2_ON == U0:
                continue
        cpu[s + 1] = U0
    dtlb_flush(cpu)  # (it cannot tell which of its entries came from those)


# --- translation --------------------------------------------------------------------------

@jit
def _bits_allowed(bits, access, privileged, pan):
    if privileged:
        if access == ACCESS_EXEC:
            return bits & P_PRIV_X != 0
        if pan and bits & P_USER_DATA != 0:
            return False
        if access == ACCESS_READ:
            return bits & P_PRIV_R != 0
        if access == ACCESS_WRITE:
            return bits & P_PRIV_W != 0
        return bits & (P_PRIV_R | P_PRIV_W) == (P_PRIV_R | P_PRIV_W)
    if access == ACCESS_EXEC:
        return bits & P_USER_X != 0
    if access == ACCESS_READ:
        return bits & P_USER_R != 0
    if access == ACCESS_WRITE:
        return bits & P_USER_W != 0
    return bits & (P_USER_R | P_USER_W) == (P_USER_R | P_USER_W)


@jit
def translate(cpu, mem, va, nbytes, access):
    """(0, PA) or (exits.MMU_FAULT, 0) for an access of `nbytes` at `va` by the current
    EL (privileged above EL0) with translation on (cpu[XL_ON]); a fault's syndrome is in
    the FAULT_* words. The access must not cross a 4 KiB page (the caller splits)."""
    unpriv = cpu[XL_UNPRIV] != U0
    privileged = cpu[CUR_EL] != U0 and not unpriv
    pan = cpu[PAN_BIT] != U0
    entry = _lookup(cpu, va)
    bits = np.int64(entry & _PAGE)
    if entry == U0 or not _bits_allowed(bits, access, privileged, pan):
        # a miss, or an access the entry refuses: the walk finds the precise fault
        k, pa, _, _ = walk_in(cpu, mem, va, nbytes, access, privileged, pan, cpu[XL_CTX], True)
        if k or access == ACCESS_EXEC or unpriv:
            return k, pa
        entry = _lookup(cpu, va)  # (the walk filled it)
    elif bits & P_DEVICE and va & np.uint64(nbytes - 1) and access != ACCESS_EXEC:
        return alignment_fault(cpu, va, access)
    if access != ACCESS_EXEC and not unpriv:
        _dtlb_fill(cpu, va, entry, access, privileged, pan)
    return 0, (entry & ~_PAGE) | (va & _PAGE)


@jit
def _set_fault(cpu, target, fsc, access, s1ptw, far, stage2, ipa):
    iss = np.uint64(fsc)
    if access == ACCESS_WRITE or access == ACCESS_RMW:
        iss |= np.uint64(ISS_WNR)
    if s1ptw:  # (WnR stays the access's, as QEMU reports it)
        iss |= np.uint64(ISS_S1PTW)
    if access == ACCESS_EXEC:
        iss &= ~np.uint64(ISS_WNR)
        iss |= FAULT_INSTRUCTION
    cpu[FAULT_TARGET] = np.uint64(target)
    cpu[FAULT_ISS] = iss
    cpu[FAULT_FAR] = far
    cpu[FAULT_IPA] = (ipa | FAULT_STAGE2) if stage2 else U0
    return exits.MMU_FAULT, U0


@jit
def access_syndrome(insn):
    """ISS bits [24:14] of a stage 2 data abort (D17.2.40: ISV, SAS, SSE, SRT, SF, AR)
    for the instruction `insn`: valid (ISV = 1) for a load or store of one general-
    purpose register without writeback, ordered ones (LDAR/STLR) included; 0 for
    anything else (pairs, writeback, exclusives, atomics, SIMD&FP), as QEMU reports."""
    size = (insn >> np.uint64(30)) & np.uint64(3)
    rt = insn & np.uint64(0x1F)
    acquire_release = U0
    if insn & np.uint64(0x3FA00000) == np.uint64(0x08800000):  # LDAR/STLR, LDLAR/STLLR
        sse = U0
        sf = U1 if size == np.uint64(3) else U0
        acquire_release = U1
    else:
        if insn & np.uint64(0x3B000000) == np.uint64(0x39000000):
            pass  # unsigned immediate offset: no writeback
        elif insn & np.uint64(0x3B200000) == np.uint64(0x38000000):
            if (insn >> np.uint64(10)) & U1 != U0:
                return U0  # post- (01) and pre-index (11) write the base back
        elif insn & np.uint64(0x3B200C00) == np.uint64(0x38200800):
            pass  # register offset
        else:
            return U0
        opc = (insn >> np.uint64(22)) & np.uint64(3)
        if opc == np.uint64(2) and size == np.uint64(3):
            return U0  # PRFM: no register is loaded
        sse = U1 if opc >= np.uint64(2) else U0
        sf = U1 if (opc == np.uint64(2) or size == np.uint64(3)) and opc != np.uint64(3) else U0
    return (U1 << np.uint64(24)) | (size << np.uint64(22)) | (sse << np.uint64(21)) \
        | (rt << np.uint64(16)) | (sf << np.uint64(15)) | (acquire_release << np.uint64(14))


@jit
def _s1_target(cpu):
    """Where a stage 1 fault (or an alignment fault) goes: EL1 for the EL1&0 regime
    unless HCR_EL2.TGE routes it to EL2; EL2 for the EL2 regimes."""
    cur = np.int64(cpu[CUR_EL])
    if cur == 2 or regime(cpu) != REGIME_EL10:
        return 2
    h = cpu[_HCR_W] if cpu[FEATURE_BITS] & _F_EL2 != U0 else U0
    return 2 if h & _HCR_TGE != U0 else 1


@jit
def alignment_fault(cpu, va, access):
    return _set_fault(cpu, _s1_target(cpu), FSC_ALIGNMENT, access, False, va, False, U0)


@jit
def walk_in(cpu, mem, va, nbytes, access, privileged, pan, ctx, fill):
    """Translate through the tables for the context `ctx` (XL_CTX layout): (0, PA, the
    memory attribute as MAIR encodes it, the shareability as SH encodes it) or
    (exits.MMU_FAULT, 0, 0, 0) with the FAULT_* words set; on success the TLB gets the
    entry when `fill`."""
    r = np.int64((ctx >> np.uint64(32)) & np.uint64(3))
    s1 = ctx & _S1_ON != U0
    s2 = ctx & _S2_ON != U0
    ram_base = cpu[RAM_BASE]
    ram_size = cpu[RAM_SIZE]
    pamax = translation.pa_size_bits(cpu[_MMFR0] & np.uint64(0xF), cpu[_MMFR0] & np.uint64(0xF))
    vt0sz, vsl0, vps = translation.vtcr_fields(cpu[_VTCR])
    v_oa = translation.pa_size_bits(vps, cpu[_MMFR0] & np.uint64(0xF))
    vttbr = cpu[_VTTBR]
    two_ranges = r != REGIME_EL2
    target1 = _s1_target(cpu)
    ng = U0
    size_log2 = 12
    bits = P_PRIV_R | P_PRIV_W | P_PRIV_X | P_USER_R | P_USER_W | P_USER_X
    device = True  # (data accesses with stage 1 off are Device-nGnRnE, but with
    attr = U0  # HCR_EL2.DC: Normal write-back, Non-shareable)
    sh = U0
    if ctx & _DC_ON != U0:
        device = False
        attr = np.uint64(0xFF)
    if s1:
        if r == REGIME_EL10:
            tcr, t_lo, t_hi, mair, sctlr = cpu[_TCR1], cpu[_TTBR0_1], cpu[_TTBR1_1], cpu[_MAIR1], cpu[_SCTLR1]
        else:
            tcr, t_lo, t_hi, mair, sctlr = cpu[_TCR2], cpu[_TTBR0_2], cpu[_TTBR1_2], cpu[_MAIR2], cpu[_SCTLR2]
        if two_ranges:
            t0sz, t1sz, epd0, epd1, tbi0, tbi1, ips = translation.tcr_el1_fields(tcr)
        else:
            t0sz, tbi0, ips = translation.tcr_el2_fields(tcr)
            t1sz, epd0, epd1, tbi1 = U0, U0, U0, U0
        oa = translation.pa_size_bits(ips, cpu[_MMFR0] & np.uint64(0xF))
        (fsc, level, out, attrindx, ap, uxn, pxn, sh, ngb, s1ptw,
         fault_ipa) = translation.walk_stage1_s2(mem, ram_base, ram_size, va, t_lo, t_hi, t0sz,
                                                  t1sz, epd0, epd1, tbi0, tbi1, two_ranges, oa,
                                                  s2, vttbr, vt0sz, vsl0, v_oa, pamax)
        if fsc != translation.NO_FAULT:
            if s1ptw:  # a stage 2 fault on a table access of the stage 1 walk
                return _walk_fault(_set_fault(cpu, 2, fsc, access, True, va, True, fault_ipa))
            return _walk_fault(_set_fault(cpu, target1, fsc, access, False, va, False, U0))
        wxn = (sctlr & _SCTLR_WXN) != U0
        # the stage 1 permissions for every kind of access, as bits
        bits = 0
        for acc in range(3):
            for priv in range(2):
                f = translation.s1_permission_fault(ap, uxn, pxn, two_ranges, acc, priv == 1,
                                                    wxn, False, level)
                if f == translation.NO_FAULT:
                    bits |= (1 << acc) << (0 if priv == 1 else 3)
        if two_ranges and ap & U1 != U0:
            bits |= P_USER_DATA
        attr = (mair >> (attrindx * np.uint64(8))) & np.uint64(0xFF)
        device = attr & np.uint64(0xF0) == U0
        ng = ngb
        size_log2 = 12 + 9 * (3 - np.int64(level))
        ipa = out
        fperm = translation.s1_permission_fault(ap, uxn, pxn, two_ranges, access, privileged,
                                                wxn, pan, level)
        if fperm != translation.NO_FAULT:
            return _walk_fault(_set_fault(cpu, target1, fperm, access, False, va, False, U0))
    else:
        ipa = va
        if va >> np.uint64(pamax):  # stage 1 off: an address beyond the PA size
            return _walk_fault(_set_fault(cpu, target1, translation.FSC_ADDRESS_SIZE, access,
                                      False, va, False, U0))
    if s2:
        f2, l2, pa, memattr, s2ap, xn, sh2 = translation.walk_stage2(mem, ram_base, ram_size, ipa,
                                                                   vttbr, vt0sz, vsl0, v_oa,
                                                                   pamax)
        if f2 != translation.NO_FAULT:
            return _walk_fault(_set_fault(cpu, 2, f2, access, False, va, True, ipa))
        f2 = translation.s2_permission_fault(s2ap, xn, access, not privileged, False, l2)
        if f2 != translation.NO_FAULT:
            return _walk_fault(_set_fault(cpu, 2, f2, access, False, va, True, ipa))
        s2bits = 0
        for acc in range(3):
            for priv in range(2):
                if translation.s2_permission_fault(s2ap, xn, acc, priv == 0, False,
                                                   l2) == translation.NO_FAULT:
                    s2bits |= (1 << acc) << (0 if priv == 1 else 3)
        bits &= s2bits | P_USER_DATA
        if memattr & np.uint64(0xC) == U0:  # stage 2 Device memory: the result is Device
            device = True
            attr = U0
        size_log2 = min(size_log2, 12 + 9 * (3 - np.int64(l2)))
        sh = _combined_shareability(sh, sh2)
    else:
        pa = ipa
    if device:
        bits |= P_DEVICE
        if va & np.uint64(nbytes - 1) and access != ACCESS_EXEC:
            return _walk_fault(alignment_fault(cpu, va, access))
    if fill:
        _fill(cpu, va, ng, pa, bits, size_log2)
    if device or attr == np.uint64(0x44):  # Device and Normal Non-cacheable: Outer Shareable
        sh = _OUTER_SHAREABLE
    return 0, pa, attr, sh


_OUTER_SHAREABLE = np.uint64(0b10)
_INNER_SHAREABLE = np.uint64(0b11)


@jit
def _combined_shareability(sh1, sh2):
    """Of the two stages' SH: the more shareable one (Outer, then Inner, then Non)."""
    if sh1 == _OUTER_SHAREABLE or sh2 == _OUTER_SHAREABLE:
        return _OUTER_SHAREABLE
    if sh1 == _INNER_SHAREABLE or sh2 == _INNER_SHAREABLE:
        return _INNER_SHAREABLE
    return U0


@jit
def _walk_fault(status):
    return status[0], U0, U0, U0


# --- AT: address translation instructions ------------------------------------------------

AT_WRITE, AT_EL0, AT_STAGE2, AT_EL2 = 1, 2, 4, 8  # what an AT operation asks


@jit
def at(cpu, mem, va, what):
    """PAR_EL1 for an AT operation (D8.x "Address translation instructions"): AT S1E1*
    and S1E0* (`what` without AT_EL2) translate in the EL1&0 regime (the EL2&0 one at
    EL2 with E2H and TGE) giving the IPA, with AT_STAGE2 (S12E*) through stage 2 too when
    HCR_EL2.VM is set; S1E2* in the EL2 or EL2&0 regime. AT_EL0: as an EL0 access; the
    S1E1 forms ignore PSTATE.PAN (they are not the *P forms). Nothing is cached.
    PAR on success: PA, ATTR (the MAIR encoding; 0x00 when the result is Device), SH
    (the descriptors', the more shareable of two stages; Outer Shareable for Device
    and Normal Non-cacheable memory), NS = 1 (no Secure state: what QEMU reports); on a
    fault F = 1 with FST, PTW and S."""
    h = cpu[_HCR_W] if cpu[FEATURE_BITS] & _F_EL2 != U0 else U0
    e2h = h & _HCR_E2H != U0
    if what & AT_EL2 or (e2h and h & _HCR_TGE != U0 and cpu[CUR_EL] == np.uint64(2)):
        r = REGIME_EL20 if e2h else REGIME_EL2
    else:
        r = REGIME_EL10
    ctx = context(cpu, r, what & AT_STAGE2 != 0)
    access = ACCESS_WRITE if what & AT_WRITE else ACCESS_READ
    k, pa, attr, sh = walk_in(cpu, mem, va, 1, access, what & AT_EL0 == 0, False, ctx, False)
    if k:
        iss = cpu[FAULT_ISS]
        stage2 = cpu[FAULT_IPA] & FAULT_STAGE2 != U0
        return (U1 | ((iss & np.uint64(0x3F)) << U1)
                | ((iss >> np.uint64(7)) & U1) << np.uint64(8)  # PTW: S1PTW
                | (U1 << np.uint64(9) if stage2 else U0) | (U1 << np.uint64(11)))
    return (pa & np.uint64(0x0000_FFFF_FFFF_F000)) | (attr << np.uint64(56)) \
        | (sh << np.uint64(7)) | (U1 << np.uint64(9))
