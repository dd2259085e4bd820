"""Translation table walks of VMSAv8-64 with the 4 KiB granule: stage 1, stage 2, and
stage 1 with its table accesses translated by stage 2 (Arm ARM D8, "The AArch64 Virtual
Memory System Architecture"; D5 in issues before 2022).

The walks take the translation regime's registers as plain uint64 fields (decoded by
`tcr_el1_fields`, `tcr_el2_fields`, `vtcr_fields`) and read descriptors, 64 bits little
endian, from guest RAM (`mem`, whose byte 0 is at guest physical `ram_base`). They do not
check permissions; `s1_permission_fault` and `s2_permission_fault` do, once the caller
knows the access. Faults are the DFSC/IFSC values of ESR_ELx (level in bits [1:0]);
NO_FAULT (-1) means none, because an address size fault at level 0 is the code 0.

Not implemented (the ID registers in features.py advertise none of them): the 16 KiB and
64 KiB granules (TGx is ignored: 4 KiB is the only implemented size, which the Arm ARM
lets an unimplemented TGx encoding select), FEAT_LPA/LPA2 (output addresses of at most
48 bits), FEAT_TTST, FEAT_HAFDBS (AF=0 is always an Access flag fault), FEAT_HPDS (the
hierarchical permissions always apply), the Contiguous bit (a TLB hint), big-endian
walks (SCTLR_ELx.EE), and HCR_EL2.PTW.
"""

import numpy as np

from smpsim.jit import hostmem
from smpsim.jit.compile import jit

# fault status codes, ESR_ELx.ISS.DFSC/IFSC (Arm ARM D17.2.40, "ISS encoding for an
# exception from a Data Abort"); OR the level (0-3) into the low bits
FSC_ADDRESS_SIZE = 0b000000
FSC_TRANSLATION = 0b000100
FSC_ACCESS_FLAG = 0b001000
FSC_PERMISSION = 0b001100
FSC_EXTERNAL_WALK = 0b010100  # synchronous external abort on translation table walk
NO_FAULT = -1

# access kinds for the permission checks
ACCESS_READ = 0
ACCESS_WRITE = 1
ACCESS_EXEC = 2
ACCESS_RMW = 3  # an atomic read-modify-write: needs read and write permission

_U0 = np.uint64(0)
_U1 = np.uint64(1)
_U3 = np.uint64(3)
_U7 = np.uint64(7)
_U9 = np.uint64(9)
_U12 = np.uint64(12)
_M6 = np.uint64(0x3F)
_M9 = np.uint64(0x1FF)
_M64 = np.uint64(0xFFFF_FFFF_FFFF_FFFF)
_ADDR48 = np.uint64(0x0000_FFFF_FFFF_FFFF)  # TTBR/VTTBR BADDR lies in bits [47:0]
_NEXT_TABLE = np.uint64(0x0000_FFFF_FFFF_F000)  # descriptor bits [47:12]
_BIT55 = np.uint64(55)

# the 4 KiB granule without FEAT_LVA/TTST: TxSZ 16 (48-bit) .. 39 (25-bit) (Arm ARM "Input address size
# configuration")
_MIN_TXSZ = 16
_MAX_TXSZ = 39


@jit
def pa_size_bits(ps, parange):
    """The output address size of TCR_ELx.{I}PS / VTCR_EL2.PS in bits. A value above
    ID_AA64MMFR0_EL1.PARange behaves as PARange (Arm ARM "Output address size
    configuration"); 52 bits
    need FEAT_LPA2 with this granule, not implemented: 48."""
    f = min(np.int64(ps), np.int64(parange))
    if f <= 0:
        return 32
    if f == 1:
        return 36
    if f == 2:
        return 40
    if f == 3:
        return 42
    if f == 4:
        return 44
    return 48


@jit
def tcr_el1_fields(tcr):
    """(t0sz, t1sz, epd0, epd1, tbi0, tbi1, ips) of TCR_EL1, and of TCR_EL2 when
    HCR_EL2.E2H is 1 (the same layout)."""
    return (tcr & _M6, (tcr >> np.uint64(16)) & _M6, (tcr >> _U7) & _U1,
            (tcr >> np.uint64(23)) & _U1, (tcr >> np.uint64(37)) & _U1,
            (tcr >> np.uint64(38)) & _U1, (tcr >> np.uint64(32)) & _U7)


@jit
def tcr_el2_fields(tcr):
    """(t0sz, tbi, ps) of TCR_EL2 when HCR_EL2.E2H is 0: one VA range."""
    return tcr & _M6, (tcr >> np.uint64(20)) & _U1, (tcr >> np.uint64(16)) & _U7


@jit
def vtcr_fields(vtcr):
    """(t0sz, sl0, ps) of VTCR_EL2."""
    return vtcr & _M6, (vtcr >> np.uint64(6)) & _U3, (vtcr >> np.uint64(16)) & _U7


@jit
def _read_desc(mem, ram_base, ram_size, addr):
    """(ok, descriptor): a table outside RAM is a synchronous external abort on the walk
    (nothing but RAM answers a walk here)."""
    off = addr - ram_base  # wraps above ram_size when addr < ram_base
    if ram_size < np.uint64(8) or off > ram_size - np.uint64(8):
        return False, _U0
    return True, hostmem.load64(mem, np.int64(off))


@jit
def _table_base(baddr, inputsize, level):
    """A TTBR's table address: BADDR aligned to the size of the start table (its RES0
    low bits and CnP, bit 0, read as 0, as QEMU does)."""
    align = inputsize - np.uint64(9) * (np.uint64(4) - level)  # log2 of the table size
    return baddr & ~((_U1 << align) - _U1)


@jit
def walk_stage2(mem, ram_base, ram_size, ipa, vttbr, t0sz, sl0, oa_bits, pamax_bits):
    """Walk the stage 2 tables for `ipa` (VTTBR_EL2, VTCR_EL2 T0SZ/SL0 and the output
    size from its PS, see pa_size_bits; `pamax_bits` is the implemented PA size).

    Returns (fsc, level, oa, memattr, s2ap, xn, sh): fsc is NO_FAULT or a DFSC; level the
    level of the leaf or of the fault; memattr descriptor bits [5:2]; s2ap bits [7:6]
    (bit 0 read, bit 1 write); xn bits [54:53]; sh bits [9:8] (a leaf's AF is 1: 0
    is a fault).
    """
    t0sz = np.int64(t0sz)
    sl0 = np.int64(sl0)
    # AArch64.S2TxSZFaults: out of range is IMPLEMENTATION DEFINED (fault or clamp);
    # QEMU faults. The IPA may not be wider than the implemented PA (S2MinTxSZ).
    if t0sz < max(_MIN_TXSZ, 64 - np.int64(pamax_bits)) or t0sz > _MAX_TXSZ:
        return FSC_TRANSLATION, 0, _U0, _U0, _U0, _U0, _U0
    inputsize = 64 - t0sz
    # AArch64.S2InvalidSL: SL0 3 is level 3 only with FEAT_TTST; level 0 needs a PA of
    # at least 44 bits
    if sl0 == 3 or (sl0 == 2 and np.int64(pamax_bits) < 44):
        return FSC_TRANSLATION, 0, _U0, _U0, _U0, _U0, _U0
    start = 2 - sl0
    # AArch64.S2InconsistentSL: the start level must resolve 1 to 9 bits, or up to 4
    # more by concatenating up to 16 tables ("Concatenated translation tables")
    min_ia = (3 - start) * 9 + 12 + 1
    if inputsize < min_ia or inputsize > min_ia + 8 + 4:
        return FSC_TRANSLATION, 0, _U0, _U0, _U0, _U0, _U0
    uin = np.uint64(inputsize)
    if ipa >> uin:  # AArch64.IPAIsOutOfRange
        return FSC_TRANSLATION, 0, _U0, _U0, _U0, _U0, _U0
    level = np.uint64(start)
    baddr = vttbr & _ADDR48
    if baddr >> np.uint64(oa_bits):
        return FSC_ADDRESS_SIZE, 0, _U0, _U0, _U0, _U0, _U0
    table = _table_base(baddr, uin, level)
    index_mask = _M64  # the start table may be concatenated: ipa is in range already
    while True:
        shift = _U12 + _U9 * (_U3 - level)
        addr = table | (((ipa >> shift) & index_mask) << _U3)
        ok, desc = _read_desc(mem, ram_base, ram_size, addr)
        lv = np.int64(level)
        if not ok:
            return FSC_EXTERNAL_WALK + lv, lv, _U0, _U0, _U0, _U0, _U0
        kind = desc & _U3
        # invalid; level 3's reserved encoding; a block at level 0 ("Translation table descriptor formats")
        if kind == np.uint64(0) or kind == np.uint64(2) or (kind == np.uint64(1) and (
                lv == 0 or lv == 3)):
            return FSC_TRANSLATION + lv, lv, _U0, _U0, _U0, _U0, _U0
        out = desc & _NEXT_TABLE
        if out >> np.uint64(oa_bits):
            return FSC_ADDRESS_SIZE + lv, lv, _U0, _U0, _U0, _U0, _U0
        if kind == _U3 and lv < 3:  # a table (stage 2 tables carry no attributes)
            table = out
            level += _U1
            index_mask = _M9
            continue
        size_mask = (_U1 << shift) - _U1
        if not (desc >> np.uint64(10)) & _U1:
            return FSC_ACCESS_FLAG + lv, lv, _U0, _U0, _U0, _U0, _U0
        return (NO_FAULT, lv, (out & ~size_mask) | (ipa & size_mask),
                (desc >> np.uint64(2)) & np.uint64(0xF), (desc >> np.uint64(6)) & _U3,
                (desc >> np.uint64(53)) & _U3, (desc >> np.uint64(8)) & _U3)


@jit
def s2_permission_fault(s2ap, xn, access, el0, xnx, level):
    """The stage 2 permission check (Arm ARM "Stage 2 data access
    permissions", "Instruction execution permissions"): FSC_PERMISSION|level or
    NO_FAULT. `el0` is whether stage 1 was an EL0 access; `xnx` whether FEAT_XNX is
    implemented (XN[0] otherwise RES0). A stage 1 table walk is an ACCESS_READ."""
    if access == ACCESS_EXEC:
        if xnx:  # XN[1:0]: 00 both, 01 EL0 only, 10 none, 11 EL1 only
            if xn == np.uint64(2) or (xn == np.uint64(1) and not el0) or (
                    xn == _U3 and el0):
                return FSC_PERMISSION + np.int64(level)
        elif xn & np.uint64(2):
            return FSC_PERMISSION + np.int64(level)
        return NO_FAULT
    r = s2ap & _U1
    w = (s2ap >> _U1) & _U1
    if (access != ACCESS_WRITE and not r) or (access != ACCESS_READ and not w):
        return FSC_PERMISSION + np.int64(level)
    return NO_FAULT


@jit
def _s1_fault(fsc, level):
    return (np.int64(fsc) + np.int64(level), np.int64(level), _U0, _U0, _U0, _U0, _U0,
            _U0, _U0, _U0, _U0)


@jit
def walk_stage1_s2(mem, ram_base, ram_size, va, ttbr0, ttbr1, t0sz, t1sz, epd0, epd1,
                   tbi0, tbi1, two_ranges, oa_bits, s2, vttbr, vt0sz, vsl0, v_oa_bits,
                   pamax_bits):
    """Walk the stage 1 tables for `va`; when `s2`, each table address is an IPA that
    stage 2 (VTTBR_EL2 and VTCR_EL2's fields as for walk_stage2) translates first, as a
    read (AArch64.S1Walk: the table
    addresses of a stage 1 walk are IPAs in the EL1&0 regime with stage 2 enabled).

    The regime: TTBR0/TTBR1 and TCR fields (tcr_el1_fields or, one range, tcr_el2_fields
    with ttbr1/t1sz/epd1/tbi1 unused), `two_ranges` (EL1&0, EL2&0), `oa_bits` from
    pa_size_bits.

    Returns (fsc, level, oa, attrindx, ap, uxn, pxn, sh, ng, s1ptw, fault_ipa): fsc is
    NO_FAULT or a DFSC (a stage 2 one when s1ptw is 1, for the IPA fault_ipa, the
    HPFAR_EL2 address); level that of the leaf or of the fault; oa the output address; ap
    AP[2:1] (bit 1 AP[2], bit 0 AP[1]), uxn (XN in a one-range regime) and pxn with the
    table descriptors' APTable/UXNTable/PXNTable applied (Arm ARM "Hierarchical
    control of data access permissions"); sh, the leaf's SH[1:0] (its AF is 1: 0 is a
    fault); ng (0 in a one-range regime, where nG is RES0).
    """
    # VA range selection by bit 55 in two-range regimes (AArch64.GetVARange)
    upper = two_ranges != 0 and (va >> _BIT55) & _U1 != _U0
    if upper:
        ttbr, txsz, epd, tbi = ttbr1, np.int64(t1sz), epd1, tbi1
    else:
        ttbr, txsz, epd, tbi = ttbr0, np.int64(t0sz), epd0, tbi0
    # AArch64.S1TxSZFaults: IMPLEMENTATION DEFINED fault or clamp; QEMU faults
    if txsz < _MIN_TXSZ or txsz > _MAX_TXSZ:
        return _s1_fault(FSC_TRANSLATION, 0)
    inputsize = np.uint64(64 - txsz)
    # AArch64.VAIsOutOfRange: the bits above the input size (up to 55 with TBI) must all
    # equal the range select
    top = va >> inputsize
    if tbi:
        top &= (_U1 << (np.uint64(56) - inputsize)) - _U1
        ones = (_U1 << (np.uint64(56) - inputsize)) - _U1
    else:
        ones = (_U1 << (np.uint64(64) - inputsize)) - _U1
    if top != (ones if upper else _U0):
        return _s1_fault(FSC_TRANSLATION, 0)
    if epd:  # TCR_ELx.EPDn: a TLB miss in this range is a level 0 translation fault
        return _s1_fault(FSC_TRANSLATION, 0)
    ia = va & ((_U1 << inputsize) - _U1)
    # the start level resolves the top 1-9 bits (AArch64.S1StartLevel)
    level = np.uint64(4 - (np.int64(inputsize) - 4) // 9)
    baddr = ttbr & _ADDR48
    if baddr >> np.uint64(oa_bits):  # AArch64.S1Walk: base out of range is level 0
        return _s1_fault(FSC_ADDRESS_SIZE, 0)
    table = _table_base(baddr, inputsize, level)
    ap_table = _U0  # bit 1: APTable[1] (no write), bit 0: APTable[0] (no EL0)
    uxn_table = _U0
    pxn_table = _U0
    while True:
        shift = _U12 + _U9 * (_U3 - level)
        addr = table | (((ia >> shift) & _M9) << _U3)
        lv = np.int64(level)
        if s2:
            f, l2, pa, _, s2ap, _, _ = walk_stage2(mem, ram_base, ram_size, addr, vttbr,
                                                  vt0sz, vsl0, v_oa_bits, pamax_bits)
            if f == NO_FAULT:
                f = s2_permission_fault(s2ap, _U0, ACCESS_READ, False, False, l2)
            if f != NO_FAULT:
                return (f, l2, _U0, _U0, _U0, _U0, _U0, _U0, _U0, _U1, addr)
            addr = pa
        ok, desc = _read_desc(mem, ram_base, ram_size, addr)
        if not ok:
            return _s1_fault(FSC_EXTERNAL_WALK, lv)
        kind = desc & _U3
        if kind == np.uint64(0) or kind == np.uint64(2) or (kind == np.uint64(1) and (
                lv == 0 or lv == 3)):
            return _s1_fault(FSC_TRANSLATION, lv)
        out = desc & _NEXT_TABLE
        if out >> np.uint64(oa_bits):
            return _s1_fault(FSC_ADDRESS_SIZE, lv)
        if kind == _U3 and lv < 3:
            ap_table |= (desc >> np.uint64(61)) & _U3
            uxn_table |= (desc >> np.uint64(60)) & _U1
            pxn_table |= (desc >> np.uint64(59)) & _U1
            table = out
            level += _U1
            continue
        if not (desc >> np.uint64(10)) & _U1:
            return _s1_fault(FSC_ACCESS_FLAG, lv)
        size_mask = (_U1 << shift) - _U1
        ap = (desc >> np.uint64(6)) & _U3
        ap |= ap_table & np.uint64(2)  # APTable[1]: read-only below
        uxn = ((desc >> np.uint64(54)) & _U1) | uxn_table
        if two_ranges:
            ap &= ~(ap_table & _U1)  # APTable[0]: no EL0 access below
            pxn = ((desc >> np.uint64(53)) & _U1) | pxn_table
            ng = (desc >> np.uint64(11)) & _U1
        else:  # PXN, PXNTable, APTable[0] and nG are RES0 with one privilege level
            pxn = _U0
            ng = _U0
        return (np.int64(NO_FAULT), lv, (out & ~size_mask) | (va & size_mask),
                (desc >> np.uint64(2)) & _U7, ap, uxn, pxn, (desc >> np.uint64(8)) & _U3, ng,
                _U0, _U0)


@jit
def walk_stage1(mem, ram_base, ram_size, va, ttbr0, ttbr1, t0sz, t1sz, epd0, epd1, tbi0,
                tbi1, two_ranges, oa_bits):
    """walk_stage1_s2 without stage 2: the table addresses are physical."""
    return walk_stage1_s2(mem, ram_base, ram_size, va, ttbr0, ttbr1, t0sz, t1sz, epd0,
                          epd1, tbi0, tbi1, two_ranges, oa_bits, False, _U0, _U0, _U0,
                          _U0, _U0)


@jit
def s1_permission_fault(ap, uxn, pxn, two_ranges, access, privileged, wxn, pan, level):
    """The stage 1 permission check (Arm ARM "Data access permissions
    for stage 1", "Instruction execution permissions", the pseudocode's
    AArch64.S1CheckPermissions for FEAT_PAN without EPAN): FSC_PERMISSION|level or
    NO_FAULT. `ap`, `uxn`, `pxn` as walk_stage1 returns them; `privileged` is false for
    EL0 and for LDTR/STTR; `wxn` SCTLR_ELx.WXN; `pan` PSTATE.PAN (the caller clears it for
    the accesses PAN exempts: DC, AT S1E1R/W)."""
    if two_ranges:
        user_r = ap & _U1 != _U0  # AP[1]
        user_w = ap == _U1  # AP[2:1] = 01
        priv_w = ap & np.uint64(2) == _U0
        if access == ACCESS_EXEC:
            if privileged:
                # EL0-writable memory is never privileged-executable
                xn = pxn != _U0 or (priv_w and wxn != 0) or user_w
            else:
                # EL0 execution does not need EL0 read permission in AArch64
                xn = uxn != _U0 or (user_w and wxn != 0)
            fail = xn
        elif privileged:
            if pan != 0 and user_r:  # PAN: no privileged data access to EL0 data
                fail = True
            else:
                fail = access != ACCESS_READ and not priv_w
        else:
            fail = not user_r or (access != ACCESS_READ and not user_w)
    else:
        w = ap & np.uint64(2) == _U0
        if access == ACCESS_EXEC:
            fail = uxn != _U0 or (w and wxn != 0)
        else:
            fail = access != ACCESS_READ and not w
    if fail:
        return FSC_PERMISSION + np.int64(level)
    return NO_FAULT
