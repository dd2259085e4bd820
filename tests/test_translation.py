"""The VMSAv8-64 4 KiB-granule walks of smpsim.jit.translation against tables built here
in a NumPy RAM, and the fault codes against the Arm ARM's DFSC encodings."""

import struct

import numpy as np
import pytest

from smpsim.jit import translation as tr
from smpsim.jit.translation import (
    ACCESS_EXEC,
    ACCESS_READ,
    ACCESS_RMW,
    ACCESS_WRITE,
    NO_FAULT,
)

U = np.uint64
RAM_BASE = 0x4000_0000
RAM_SIZE = 0x40_0000  # 4 MiB: the tables only; output addresses need no RAM behind them
GIB, MIB, KIB = 1 << 30, 1 << 20, 1 << 10

# DFSC values as the Arm ARM lists them (ESR_ELx ISS encoding for a Data Abort)
DFSC = {
    ("address size", 0): 0b000000, ("address size", 1): 0b000001,
    ("address size", 2): 0b000010, ("address size", 3): 0b000011,
    ("translation", 0): 0b000100, ("translation", 1): 0b000101,
    ("translation", 2): 0b000110, ("translation", 3): 0b000111,
    ("access flag", 0): 0b001000, ("access flag", 1): 0b001001,
    ("access flag", 2): 0b001010, ("access flag", 3): 0b001011,
    ("permission", 0): 0b001100, ("permission", 1): 0b001101,
    ("permission", 2): 0b001110, ("permission", 3): 0b001111,
    ("external walk", 0): 0b010100, ("external walk", 1): 0b010101,
    ("external walk", 2): 0b010110, ("external walk", 3): 0b010111,
}


def test_fault_constants_are_the_arm_encodings():
    for (name, level), code in DFSC.items():
        base = {"address size": tr.FSC_ADDRESS_SIZE, "translation": tr.FSC_TRANSLATION,
                "access flag": tr.FSC_ACCESS_FLAG, "permission": tr.FSC_PERMISSION,
                "external walk": tr.FSC_EXTERNAL_WALK}[name]
        assert base | level == code
    assert NO_FAULT not in DFSC.values()


# --- building tables -----------------------------------------------------------------

VALID, TABLE, PAGE, BLOCK = 1, 3, 3, 1
AF = 1 << 10


def leaf(oa, level, *, attrindx=0, ap=0, af=1, ng=0, uxn=0, pxn=0, xn=0, s2ap=0,
         memattr=0, sh=0):
    """A block (levels 1, 2) or page (level 3) descriptor; stage 2 fields by name."""
    d = oa | (PAGE if level == 3 else BLOCK) | (attrindx << 2) | (ap << 6) | (af << 10) \
        | (ng << 11) | (pxn << 53) | (uxn << 54) | (sh << 8)
    return d | (xn << 53) | (s2ap << 6) | (memattr << 2)


class Tables:
    """Translation tables in `mem`: allocated 4 KiB at a time from `first`. `delta` is
    added to every table address written into a descriptor or a TTBR (tables at IPAs
    that stage 2 maps to their PAs)."""

    def __init__(self, mem, first=0x1000, delta=0):
        self.mem, self.next, self.delta = mem, first, delta

    def alloc(self, n=1):
        size = 0x1000 * n
        self.next = -(-self.next // size) * size  # concatenated tables align to their size
        pa = RAM_BASE + self.next
        self.next += size
        return pa

    def put(self, pa, value):
        self.mem[pa - RAM_BASE:pa - RAM_BASE + 8] = np.frombuffer(struct.pack("<Q", value),
                                                                    np.uint8)

    def get(self, pa):
        return struct.unpack("<Q", self.mem[pa - RAM_BASE:pa - RAM_BASE + 8].tobytes())[0]

    def root(self, inputsize, start, concatenated=1):
        pa = self.alloc(concatenated)
        return pa, pa + self.delta  # (where it is, what the TTBR holds)

    def slot(self, table_pa, ia, inputsize, start, level):
        shift = 12 + 9 * (3 - level)
        ia &= (1 << inputsize) - 1
        index = ia >> shift if level == start else (ia >> shift) & 511
        return table_pa + 8 * index

    def map(self, root_pa, ia, inputsize, start, level, desc, table_bits=0):
        """Write `desc` for `ia` at `level`, making the tables on the way; returns the
        address of each descriptor slot by level."""
        t, slots = root_pa, {}
        for lv in range(start, level):
            s = slots[lv] = self.slot(t, ia, inputsize, start, lv)
            d = self.get(s)
            if d & 3 == 3:
                t = (d & 0xFFFF_FFFF_F000) - self.delta
            else:
                nt = self.alloc()
                self.put(s, (nt + self.delta) | TABLE | table_bits)
                t = nt
        slots[level] = self.slot(t, ia, inputsize, start, level)
        self.put(slots[level], desc)
        return slots


def start_level(inputsize):
    return 4 - (inputsize - 4) // 9


def fresh():
    mem = np.zeros(RAM_SIZE, np.uint8)
    return mem, Tables(mem)


def s1(mem, va, ttbr0=0, ttbr1=0, *, t0sz=16, t1sz=16, epd0=0, epd1=0, tbi0=0, tbi1=0,
       two_ranges=1, oa_bits=48):
    r = tr.walk_stage1(mem, U(RAM_BASE), U(RAM_SIZE), U(va), U(ttbr0), U(ttbr1), U(t0sz),
                       U(t1sz), U(epd0), U(epd1), U(tbi0), U(tbi1), U(two_ranges),
                       U(oa_bits))
    keys = ("fsc", "level", "oa", "attrindx", "ap", "uxn", "pxn", "sh", "ng", "s1ptw",
            "fault_ipa")
    return dict(zip(keys, (int(x) for x in r)))


# --- stage 1: every level, both VA sizes ---------------------------------------------

# (only the levels a walk of that VA size reaches: none starts below its start level)
@pytest.mark.parametrize("t0sz, level, size", [
    (t0sz, level, size) for t0sz in (16, 25, 39)
    for level, size in ((1, GIB), (2, 2 * MIB), (3, 4 * KIB)) if level >= start_level(64 - t0sz)])
def test_s1_leaf_at_each_level(t0sz, level, size):
    inputsize = 64 - t0sz
    start = start_level(inputsize)
    mem, t = fresh()
    root, ttbr = t.root(inputsize, start)
    va = ((1 << inputsize) - 1) & 0x0000_7F5A_5A5A_5A5A  # every level's index non-zero
    oa = 0x0000_8765_4000_0000 & ~(size - 1) & ((1 << 48) - 1)
    t.map(root, va, inputsize, start, level,
          leaf(oa, level, attrindx=5, ap=0b11, ng=1, uxn=1, pxn=0, sh=0b11))
    r = s1(mem, va, ttbr, t0sz=t0sz)
    assert r["fsc"] == NO_FAULT
    assert r["level"] == level
    assert r["oa"] == oa | (va & (size - 1))
    assert (r["attrindx"], r["ap"], r["uxn"], r["pxn"], r["sh"], r["ng"]) == (5, 3, 1, 0, 3, 1)
    assert r["s1ptw"] == 0


def test_s1_start_levels():
    assert [start_level(64 - t) for t in (16, 24, 25, 33, 34, 39)] == [0, 0, 1, 1, 2, 2]
    # a 40-bit VA starts at level 0 with a 2-entry table (16-byte aligned, not 4 KiB)
    mem, t = fresh()
    root, _ = t.root(40, 0)
    base = root + 0x7F0
    t.put(base + 8, (t.alloc()) | TABLE)  # VA bit 39 set: entry 1
    l1 = t.get(base + 8) & 0xFFFF_FFFF_F000
    t.put(l1 + 8 * 3, leaf(0x40_0000_0000, 1))
    r = s1(mem, (1 << 39) | (3 << 30) | 0x1234, base, t0sz=24)
    assert (r["fsc"], r["level"], r["oa"]) == (NO_FAULT, 1, 0x40_0000_1234)


def test_s1_ttbr0_and_ttbr1_selection():
    mem, t = fresh()
    root0, ttbr0 = t.root(39, 1)
    root1, ttbr1 = t.root(39, 1)
    va0 = 0x0000_0000_4020_3000
    va1 = 0xFFFF_FF80_4020_3000  # bit 55 set: TTBR1, bits [63:39] all ones
    t.map(root0, va0, 39, 1, 3, leaf(0x1000_0000, 3))
    t.map(root1, va1, 39, 1, 3, leaf(0x2000_0000, 3, attrindx=1))
    asid = 0xABCD << 48  # ASID and CnP bits of a TTBR are no part of the address
    a = s1(mem, va0 | 0x123, ttbr0 | asid | 1, ttbr1 | asid, t0sz=25, t1sz=25)
    b = s1(mem, va1 | 0x123, ttbr0 | asid, ttbr1 | asid | 1, t0sz=25, t1sz=25)
    assert (a["fsc"], a["oa"], a["attrindx"]) == (NO_FAULT, 0x1000_0123, 0)
    assert (b["fsc"], b["oa"], b["attrindx"]) == (NO_FAULT, 0x2000_0123, 1)
    # the sizes are separate: with T1SZ=16 the upper range starts at level 0
    c = s1(mem, va1, ttbr0, ttbr1, t0sz=25, t1sz=16)  # reads entry 511 of root1: empty
    assert (c["fsc"], c["level"]) == (DFSC["translation", 0], 0)
    # the holes between and above the ranges: level 0 translation faults
    for va in (0x0000_0080_0000_0000, 0xFFFF_FF00_0000_0000, 0x8000_0000_4020_3000,
               0x0080_0000_4020_3000):
        assert s1(mem, va, ttbr0, ttbr1, t0sz=25, t1sz=25)["fsc"] == DFSC["translation", 0]


def test_s1_epd_disables_a_range():
    mem, t = fresh()
    root0, ttbr0 = t.root(39, 1)
    root1, ttbr1 = t.root(39, 1)
    va0, va1 = 0x4020_3000, 0xFFFF_FF80_4020_3000
    t.map(root0, va0, 39, 1, 3, leaf(0x1000_0000, 3))
    t.map(root1, va1, 39, 1, 3, leaf(0x2000_0000, 3))
    kw = {"t0sz": 25, "t1sz": 25}
    assert s1(mem, va0, ttbr0, ttbr1, epd0=1, **kw)["fsc"] == DFSC["translation", 0]
    assert s1(mem, va1, ttbr0, ttbr1, epd0=1, **kw)["fsc"] == NO_FAULT
    assert s1(mem, va1, ttbr0, ttbr1, epd1=1, **kw)["fsc"] == DFSC["translation", 0]
    assert s1(mem, va0, ttbr0, ttbr1, epd1=1, **kw)["fsc"] == NO_FAULT


def test_s1_top_byte_ignore():
    mem, t = fresh()
    root0, ttbr0 = t.root(48, 0)
    root1, ttbr1 = t.root(48, 0)
    va0, va1 = 0x0000_1234_5678_9000, 0xFFFF_9234_5678_9000
    t.map(root0, va0, 48, 0, 3, leaf(0x1000_0000, 3))
    t.map(root1, va1, 48, 0, 3, leaf(0x2000_0000, 3))
    tag0, tag1 = 0x5A00_0000_0000_0000 | va0, 0x3F00_0000_0000_0000 | (va1 & (1 << 56) - 1)
    assert s1(mem, tag0, ttbr0, ttbr1, tbi0=1)["oa"] == 0x1000_0000
    assert s1(mem, tag0, ttbr0, ttbr1, tbi0=0)["fsc"] == DFSC["translation", 0]
    assert s1(mem, tag0, ttbr0, ttbr1, tbi1=1)["fsc"] == DFSC["translation", 0]
    assert s1(mem, tag1, ttbr0, ttbr1, tbi1=1)["oa"] == 0x2000_0000
    assert s1(mem, tag1, ttbr0, ttbr1, tbi1=0)["fsc"] == DFSC["translation", 0]
    # TBI does not make bits [55:48] free
    assert s1(mem, tag0 | (1 << 50), ttbr0, ttbr1, tbi0=1)["fsc"] == DFSC["translation", 0]


def test_s1_one_range_regime():
    mem, t = fresh()
    root, ttbr = t.root(48, 0)
    va = 0x0000_1234_5678_9000
    t.map(root, va, 48, 0, 3, leaf(0x1000_0000, 3, ng=1, pxn=1, uxn=1, ap=0b01),
          table_bits=(1 << 59) | (1 << 61))
    r = s1(mem, va, ttbr, two_ranges=0)
    # nG, PXN, PXNTable and APTable[0] are RES0 with one privilege level; XN stays
    assert (r["fsc"], r["ng"], r["pxn"], r["uxn"], r["ap"]) == (NO_FAULT, 0, 0, 1, 0b01)
    # bit 55 does not select TTBR1 there: a translation fault
    assert s1(mem, 0xFFFF_1234_5678_9000, ttbr, ttbr,
              two_ranges=0)["fsc"] == DFSC["translation", 0]


@pytest.mark.parametrize("t0sz", [15, 40, 63])
def test_s1_txsz_out_of_range_faults(t0sz):
    mem, t = fresh()
    root, ttbr = t.root(48, 0)
    t.map(root, 0, 48, 0, 1, leaf(0, 1))
    assert s1(mem, 0, ttbr, t0sz=16)["fsc"] == NO_FAULT  # what clamping to 16 would give
    assert s1(mem, 0, ttbr, t0sz=t0sz)["fsc"] == DFSC["translation", 0]
    assert s1(mem, 0xFFFF_FFFF_FFFF_F000, 0, ttbr, t1sz=t0sz)["fsc"] == DFSC["translation", 0]


# --- stage 1 faults ------------------------------------------------------------------

# (levels the walk reaches; a block descriptor is valid at levels 1 and 2, so the
# "reserved or block" encoding is a fault only at levels 0 and 3)
@pytest.mark.parametrize("t0sz, bad_level, encoding", [
    (t0sz, bad_level, encoding) for t0sz in (16, 25) for bad_level in (0, 1, 2, 3)
    for encoding in ("invalid", "invalid with bits", "reserved or block")
    if bad_level >= start_level(64 - t0sz)
    and not (encoding == "reserved or block" and bad_level in (1, 2))])
def test_s1_invalid_descriptor_at_each_level(t0sz, bad_level, encoding):
    inputsize = 64 - t0sz
    start = start_level(inputsize)
    mem, t = fresh()
    root, ttbr = t.root(inputsize, start)
    va = 0x0000_0040_4020_3000 & ((1 << inputsize) - 1)
    slots = t.map(root, va, inputsize, start, 3, leaf(0x1000_0000, 3))
    if encoding == "invalid":
        bad = 0
    elif encoding == "invalid with bits":
        bad = 0xFFFF_FFFF_FFFF_FFFE  # bit 0 clear: every other bit is ignored
    else:  # 0b01 at level 3 is reserved; at level 0 a block is not allowed with 4 KiB
        bad = 0x1000_0000 | BLOCK | AF
    t.put(slots[bad_level], bad)
    r = s1(mem, va, ttbr, t0sz=t0sz)
    assert (r["fsc"], r["level"]) == (DFSC["translation", bad_level], bad_level)


@pytest.mark.parametrize("level", [1, 2, 3])
def test_s1_access_flag_fault(level):
    mem, t = fresh()
    root, ttbr = t.root(48, 0)
    va = 0x0000_0040_4020_3000
    t.map(root, va, 48, 0, level, leaf(0x4000_0000 & ~((1 << (12 + 9 * (3 - level))) - 1),
                                        level, af=0))
    r = s1(mem, va, ttbr)
    assert (r["fsc"], r["level"]) == (DFSC["access flag", level], level)


@pytest.mark.parametrize("level", [1, 2, 3])
def test_s1_output_address_beyond_ps(level):
    mem, t = fresh()
    root, ttbr = t.root(48, 0)
    va = 0x0000_0040_4020_3000
    t.map(root, va, 48, 0, level, leaf(0x1_0000_0000 << (level == 1) * 4, level))
    assert s1(mem, va, ttbr, oa_bits=48)["fsc"] == NO_FAULT
    r = s1(mem, va, ttbr, oa_bits=32)
    assert (r["fsc"], r["level"]) == (DFSC["address size", level], level)
    # the address size fault comes before the access flag fault (AArch64.S1Walk)
    t.map(root, va, 48, 0, level, leaf(0x1_0000_0000 << (level == 1) * 4, level, af=0))
    assert s1(mem, va, ttbr, oa_bits=32)["fsc"] == DFSC["address size", level]


def test_s1_table_address_beyond_ps():
    mem, t = fresh()
    root, ttbr = t.root(48, 0)
    va = 0x0000_0040_4020_3000
    slots = t.map(root, va, 48, 0, 3, leaf(0x1000_0000, 3))
    assert s1(mem, va, ttbr, oa_bits=32)["fsc"] == NO_FAULT  # all the tables are < 4 GiB
    t.put(slots[1], t.get(slots[1]) | (1 << 40))  # the level 2 table's address
    r = s1(mem, va, ttbr, oa_bits=40)
    assert (r["fsc"], r["level"]) == (DFSC["address size", 1], 1)
    # a TTBR above the output size: level 0
    r = s1(mem, va, ttbr | (1 << 36), oa_bits=36)
    assert (r["fsc"], r["level"]) == (DFSC["address size", 0], 0)


@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_s1_table_outside_ram_is_external_abort_on_walk(level):
    mem, t = fresh()
    root, ttbr = t.root(48, 0)
    va = 0x0000_0040_4020_3000
    slots = t.map(root, va, 48, 0, 3, leaf(0x1000_0000, 3))
    outside = (0x1000, RAM_BASE + RAM_SIZE, 0x8000_0000_0000)
    for addr in outside:
        if level == 0:
            r = s1(mem, va, addr)
        else:
            t.put(slots[level - 1], addr | TABLE)
            r = s1(mem, va, ttbr)
        assert (r["fsc"], r["level"]) == (DFSC["external walk", level], level)


def test_s1_last_word_of_ram_is_readable():
    mem, t = fresh()
    last = RAM_BASE + RAM_SIZE - 0x1000  # the 40-bit VA's level-0 table: 2 entries
    t.put(last + 0xFF8, 0)
    r = s1(mem, (1 << 39), last + 0xFF0, t0sz=24)
    assert (r["fsc"], r["level"]) == (DFSC["translation", 0], 0)


def test_s1_hierarchical_table_attributes():
    mem, t = fresh()
    va = 0x0000_0040_4020_3000
    cases = [  # (table bits, leaf AP, expected AP, UXN, PXN)
        (0, 0b01, 0b01, 0, 0),
        (1 << 62, 0b01, 0b11, 0, 0),  # APTable[1]: read-only
        (1 << 61, 0b01, 0b00, 0, 0),  # APTable[0]: no EL0 access
        (3 << 61, 0b01, 0b10, 0, 0),
        (1 << 61, 0b11, 0b10, 0, 0),
        (1 << 60, 0b00, 0b00, 1, 0),  # UXNTable
        (1 << 59, 0b00, 0b00, 0, 1),  # PXNTable
    ]
    for bits, ap, want_ap, want_uxn, want_pxn in cases:
        mem[:] = 0
        t.next = 0x2000
        root, ttbr = t.root(48, 0)
        slots = t.map(root, va, 48, 0, 3, leaf(0x1000_0000, 3, ap=ap))
        t.put(slots[1], t.get(slots[1]) | bits)  # at an intermediate level only
        r = s1(mem, va, ttbr)
        assert (r["ap"], r["uxn"], r["pxn"]) == (want_ap, want_uxn, want_pxn), bin(bits)


# --- stage 1 permissions -------------------------------------------------------------

def perm(ap, *, uxn=0, pxn=0, two_ranges=1, access=ACCESS_READ, privileged=True, wxn=0,
         pan=0, level=3):
    return int(tr.s1_permission_fault(U(ap), U(uxn), U(pxn), U(two_ranges), access,
                                      privileged, U(wxn), U(pan), U(level)))


# The Arm ARM's AP[2:1] table (two privilege levels): (EL1 read, EL1 write, EL0 read,
# EL0 write)
AP_TABLE = {0b00: (1, 1, 0, 0), 0b01: (1, 1, 1, 1), 0b10: (1, 0, 0, 0), 0b11: (1, 0, 1, 0)}


@pytest.mark.parametrize("ap", [0, 1, 2, 3])
def test_s1_data_permissions(ap):
    pr, pw, ur, uw = AP_TABLE[ap]
    for level in (1, 2, 3):
        fault = DFSC["permission", level]
        for privileged, r, w in ((True, pr, pw), (False, ur, uw)):
            for uxn in (0, 1):  # execute-never does not affect data accesses
                for pxn in (0, 1):
                    got = [perm(ap, uxn=uxn, pxn=pxn, access=a, privileged=privileged,
                                level=level) for a in (ACCESS_READ, ACCESS_WRITE, ACCESS_RMW)]
                    assert got == [NO_FAULT if r else fault, NO_FAULT if w else fault,
                                   NO_FAULT if r and w else fault]


@pytest.mark.parametrize("ap", [0, 1, 2, 3])
def test_s1_pan(ap):
    pr, pw, ur, uw = AP_TABLE[ap]
    fault = DFSC["permission", 3]
    for access, allowed in ((ACCESS_READ, pr), (ACCESS_WRITE, pw), (ACCESS_RMW, pr and pw)):
        # PAN: a privileged data access to memory EL0 can read faults
        want = fault if ur or not allowed else NO_FAULT
        assert perm(ap, access=access, pan=1) == want
        # not for EL0 (or LDTR/STTR), which see the EL0 permissions
        want = NO_FAULT if (ur if access == ACCESS_READ else uw) else fault
        assert perm(ap, access=access, pan=1, privileged=False) == want
    # nor for instruction fetches
    assert perm(ap, access=ACCESS_EXEC, pan=1) == (fault if uw else NO_FAULT)


@pytest.mark.parametrize("ap", [0, 1, 2, 3])
def test_s1_execute_permissions(ap):
    _, pw, _, uw = AP_TABLE[ap]
    fault = DFSC["permission", 2]
    for uxn in (0, 1):
        for pxn in (0, 1):
            for wxn in (0, 1):
                # EL1: PXN; memory EL0 can write is never EL1-executable; WXN: EL1-writable
                el1_xn = pxn or uw or (wxn and pw)
                # EL0: UXN (EL0 read permission is not needed); WXN: EL0-writable
                el0_xn = uxn or (wxn and uw)
                got = (perm(ap, uxn=uxn, pxn=pxn, wxn=wxn, access=ACCESS_EXEC, level=2),
                       perm(ap, uxn=uxn, pxn=pxn, wxn=wxn, access=ACCESS_EXEC, level=2,
                            privileged=False))
                assert got == (fault if el1_xn else NO_FAULT, fault if el0_xn else NO_FAULT)


@pytest.mark.parametrize("ap", [0, 1, 2, 3])
def test_s1_one_range_permissions(ap):
    writable = not ap & 2  # EL2/EL3: AP[2] alone; AP[1] is ignored
    fault = DFSC["permission", 1]
    for xn in (0, 1):
        for wxn in (0, 1):
            kw = {"uxn": xn, "pxn": 1, "two_ranges": 0, "wxn": wxn, "level": 1, "pan": 1}
            assert perm(ap, access=ACCESS_READ, **kw) == NO_FAULT
            assert perm(ap, access=ACCESS_WRITE, **kw) == (NO_FAULT if writable else fault)
            assert perm(ap, access=ACCESS_EXEC, **kw) == (
                fault if xn or (wxn and writable) else NO_FAULT)


# --- stage 2 -------------------------------------------------------------------------

def s2(mem, ipa, vttbr, *, t0sz, sl0, oa_bits=48, pamax=48):
    r = tr.walk_stage2(mem, U(RAM_BASE), U(RAM_SIZE), U(ipa), U(vttbr), U(t0sz), U(sl0),
                       U(oa_bits), U(pamax))
    keys = ("fsc", "level", "oa", "memattr", "s2ap", "xn", "sh")
    return dict(zip(keys, (int(x) for x in r)))


# (T0SZ, SL0, start level, concatenated tables at the start level)
S2_CONFIGS = [(32, 0, 2, 4), (25, 0, 2, 0), (34, 0, 2, 1), (24, 1, 1, 2), (25, 1, 1, 1),
              (16, 2, 0, 1), (24, 2, 0, 1)]


@pytest.mark.parametrize("t0sz, sl0, start, concat", S2_CONFIGS)
def test_s2_start_levels_and_concatenation(t0sz, sl0, start, concat):
    inputsize = 64 - t0sz
    mem, t = fresh()
    if concat == 0:  # 39-bit IPA at level 2: would need 256 tables, > 16
        assert s2(mem, 0, RAM_BASE, t0sz=t0sz, sl0=sl0)["fsc"] == DFSC["translation", 0]
        return
    root, vttbr = t.root(inputsize, start, concat)
    ipa = ((1 << inputsize) - 1) & 0x0000_F5A5_A5A5_A123  # the top table is used too
    for level, size in ((1, GIB), (2, 2 * MIB), (3, 4 * KIB)):
        if level < start:
            continue
        oa = 0x0000_0012_3400_0000 & ~(size - 1)
        t.map(root, ipa, inputsize, start, level,
              leaf(oa, level, s2ap=0b11, memattr=0xF, xn=0b10, sh=0b10))
        r = s2(mem, ipa, vttbr | (0x55 << 48), t0sz=t0sz, sl0=sl0)
        assert (r["fsc"], r["level"], r["oa"]) == (NO_FAULT, level, oa | (ipa & (size - 1)))
        assert (r["memattr"], r["s2ap"], r["xn"], r["sh"]) == (0xF, 3, 0b10, 0b10)
    # above the IPA size: level 0 translation fault
    r = s2(mem, ipa | (1 << inputsize), vttbr, t0sz=t0sz, sl0=sl0)
    assert (r["fsc"], r["level"]) == (DFSC["translation", 0], 0)


def accept_all(t):
    """Tables that translate every IPA from any start level: 4 concatenated root tables of
    table descriptors to T2, T2 all tables to T3, T3 all pages (or, at level 2, tables) at
    T3 itself. A rejected configuration is then the only way to fault."""
    root, t2, t3 = t.alloc(4), t.alloc(), t.alloc()
    words = lambda pa, n, d: t.mem.__setitem__(slice(pa - RAM_BASE, pa - RAM_BASE + 8 * n),
                                               np.full(n, d, "<u8").view(np.uint8))
    rw = AF | (0b11 << 6)  # ignored in table descriptors
    words(root, 4 * 512, t2 | TABLE | rw)
    words(t2, 512, t3 | TABLE | rw)
    words(t3, 512, t3 | PAGE | rw)
    return root


@pytest.mark.parametrize("t0sz, sl0, pamax, valid", [
    (35, 0, 48, True), (25, 1, 48, True), (16, 2, 48, True), (24, 2, 44, True),
    (22, 0, 48, False),  # 42-bit IPA from level 2: 21 bits there, > 9 + 4
    (16, 0, 48, False), (16, 1, 48, False),  # 48-bit IPA from level 2 or 1: > 16 tables
    (34, 1, 48, False),  # 30-bit IPA from level 1 resolves nothing there
    (33, 2, 48, False),  # 31-bit IPA from level 0
    (24, 2, 42, False),  # level 0 needs a PA of at least 44 bits
    (24, 3, 48, False),  # SL0 3 (level 3) needs FEAT_TTST
    (40, 0, 48, False), (15, 2, 48, False),  # T0SZ out of range
    (20, 2, 40, False),  # a 44-bit IPA with a 40-bit PA
    (16, 2, 44, False), (22, 1, 40, False), (24, 1, 40, True),  # IPA size <= PA size
])
def test_s2_start_level_rules(t0sz, sl0, pamax, valid):
    mem, t = fresh()
    vttbr = accept_all(t)
    r = s2(mem, 0x1000, vttbr, t0sz=t0sz, sl0=sl0, pamax=pamax)
    if valid:
        assert (r["fsc"], r["oa"]) == (NO_FAULT, vttbr + 0x5000), r  # T3 + 0x1000
    else:
        assert (r["fsc"], r["level"]) == (DFSC["translation", 0], 0)


@pytest.mark.parametrize("bad_level", [1, 2, 3])
def test_s2_faults_at_each_level(bad_level):
    mem, t = fresh()
    root, vttbr = t.root(40, 1, 2)
    ipa = 0x0080_4020_3000
    slots = t.map(root, ipa, 40, 1, 3, leaf(0x1000_0000, 3, s2ap=3))
    saved = t.get(slots[bad_level])
    for bad in (0, 0xFFFF_FFFF_FFFF_FFFE):
        t.put(slots[bad_level], bad)
        assert s2(mem, ipa, vttbr, t0sz=24, sl0=1)["fsc"] == DFSC["translation", bad_level]
    if bad_level == 3:
        t.put(slots[3], saved & ~2)  # 0b01: reserved at level 3
        assert s2(mem, ipa, vttbr, t0sz=24, sl0=1)["fsc"] == DFSC["translation", 3]
        t.put(slots[3], saved & ~AF)
        assert s2(mem, ipa, vttbr, t0sz=24, sl0=1)["fsc"] == DFSC["access flag", 3]
        t.put(slots[3], saved | (1 << 40))
        assert s2(mem, ipa, vttbr, t0sz=24, sl0=1,
                  oa_bits=40)["fsc"] == DFSC["address size", 3]
    else:
        t.put(slots[bad_level], 0x1000 | TABLE)  # a table below RAM
        r = s2(mem, ipa, vttbr, t0sz=24, sl0=1)
        assert (r["fsc"], r["level"]) == (DFSC["external walk", bad_level + 1], bad_level + 1)
    r = s2(mem, ipa, vttbr | (1 << 40), t0sz=24, sl0=1, oa_bits=40)
    assert (r["fsc"], r["level"]) == (DFSC["address size", 0], 0)


def s2perm(s2ap, xn, access, el0=False, xnx=False, level=3):
    return int(tr.s2_permission_fault(U(s2ap), U(xn), access, el0, xnx, U(level)))


@pytest.mark.parametrize("s2ap", [0, 1, 2, 3])
def test_s2_permissions(s2ap):
    r, w = s2ap & 1, s2ap >> 1
    fault = DFSC["permission", 3]
    for xn in range(4):
        for el0 in (False, True):
            assert s2perm(s2ap, xn, ACCESS_READ, el0) == (NO_FAULT if r else fault)
            assert s2perm(s2ap, xn, ACCESS_WRITE, el0) == (NO_FAULT if w else fault)
            assert s2perm(s2ap, xn, ACCESS_RMW, el0) == (NO_FAULT if r and w else fault)
            # without FEAT_XNX only XN[1] (bit 54) counts, for both ELs
            assert s2perm(s2ap, xn, ACCESS_EXEC, el0) == (fault if xn & 2 else NO_FAULT)
            # FEAT_XNX: 00 both, 01 EL0 only, 10 neither, 11 EL1 only
            can = {0: True, 1: el0, 2: False, 3: not el0}[xn]
            assert s2perm(s2ap, xn, ACCESS_EXEC, el0, True) == (NO_FAULT if can else fault)


# --- stage 1 table walks through stage 2 ----------------------------------------------

IPA_DELTA = 0x1_0000_0000  # the stage 1 tables are at IPA = PA + 4 GiB


def nested():
    """Stage 1 tables (48-bit VA) at IPAs that a stage 2 (40-bit IPA, level 1 start)
    maps onto RAM with one 2 MiB block per 2 MiB of RAM."""
    mem = np.zeros(RAM_SIZE, np.uint8)
    st2 = Tables(mem, first=0x20_0000)  # the stage 2 tables in the upper half
    s2root, vttbr = st2.root(40, 1, 2)
    for off in range(0, RAM_SIZE, 2 * MIB):
        st2.map(s2root, RAM_BASE + IPA_DELTA + off, 40, 1, 2,
                leaf(RAM_BASE + off, 2, s2ap=0b01))
    st1 = Tables(mem, first=0x1000, delta=IPA_DELTA)
    return mem, st1, st2, s2root, vttbr


def s12(mem, va, ttbr0, vttbr, **kw):
    r = tr.walk_stage1_s2(mem, U(RAM_BASE), U(RAM_SIZE), U(va), U(ttbr0), U(0), U(16),
                          U(16), U(0), U(0), U(0), U(0), U(1), U(48), True, U(vttbr),
                          U(24), U(1), U(kw.get("v_oa_bits", 48)), U(48))
    keys = ("fsc", "level", "oa", "attrindx", "ap", "uxn", "pxn", "sh", "ng", "s1ptw",
            "fault_ipa")
    return dict(zip(keys, (int(x) for x in r)))


def test_s1_walk_through_stage2():
    mem, st1, _, _, vttbr = nested()
    root, ttbr = st1.root(48, 0)
    va = 0x0000_0040_4020_3000
    slots = st1.map(root, va, 48, 0, 3, leaf(0x1000_0000, 3, attrindx=2))
    r = s12(mem, va | 0x45, ttbr, vttbr)
    assert (r["fsc"], r["oa"], r["attrindx"], r["s1ptw"]) == (NO_FAULT, 0x1000_0045, 2, 0)
    # without stage 2 the IPAs are outside RAM: an external abort at level 0
    assert s1(mem, va, ttbr)["fsc"] == DFSC["external walk", 0]
    # a stage 1 table at an IPA stage 2 does not map: a stage 2 translation fault, S1PTW
    hole = 0x0000_0030_0000_0000  # IPA bit 37: the level 1 entry 192 of stage 2, empty
    st1.put(slots[1], hole | TABLE)
    r = s12(mem, va, ttbr, vttbr)
    assert (r["fsc"], r["level"], r["s1ptw"], r["fault_ipa"]) == (
        DFSC["translation", 1], 1, 1, hole + 8 * ((va >> 21) & 511))
    # an IPA beyond the stage 2 input size: a level 0 translation fault
    st1.put(slots[1], (1 << 41) | TABLE)
    r = s12(mem, va, ttbr, vttbr)
    assert (r["fsc"], r["level"], r["s1ptw"]) == (DFSC["translation", 0], 0, 1)


def test_s1_walk_needs_stage2_read_permission():
    mem, st1, st2, s2root, vttbr = nested()
    root, ttbr = st1.root(48, 0)
    va = 0x0000_0040_4020_3000
    st1.map(root, va, 48, 0, 3, leaf(0x1000_0000, 3))
    slot = st2.slot(st2.get(st2.slot(s2root, ttbr, 40, 1, 1)) & 0xFFFF_FFFF_F000, ttbr, 40,
                    1, 2)
    st2.put(slot, st2.get(slot) & ~(3 << 6) | (0b10 << 6))  # write-only at stage 2
    r = s12(mem, va, ttbr, vttbr)
    assert (r["fsc"], r["level"], r["s1ptw"], r["fault_ipa"]) == (
        DFSC["permission", 2], 2, 1, ttbr)
    st2.put(slot, st2.get(slot) & ~AF)  # AF=0 at stage 2
    r = s12(mem, va, ttbr, vttbr)
    assert (r["fsc"], r["s1ptw"]) == (DFSC["access flag", 2], 1)
