"""Integer helpers shared by the executors: flags, conditions, shifts, extends.

Everything is uint64 arithmetic with explicit np.uint64 constants (Numba turns a
uint64/int64 mix into float64). Flags travel packed as N=8, Z=4, C=2, V=1.
"""

import numpy as np

from smpsim.jit.compile import jit

U0 = np.uint64(0)
U1 = np.uint64(1)
M32 = np.uint64(0xFFFF_FFFF)
M64 = np.uint64(0xFFFF_FFFF_FFFF_FFFF)

FLAG_N, FLAG_Z, FLAG_C, FLAG_V = np.uint64(8), np.uint64(4), np.uint64(2), np.uint64(1)


def _condition_table() -> np.ndarray:
    """COND[cond * 16 + nzcv]: does condition `cond` hold for flags `nzcv` (ConditionHolds)."""
    table = np.zeros(256, dtype=np.uint8)
    for cond in range(16):
        for f in range(16):
            n, z, c, v = (f >> 3) & 1, (f >> 2) & 1, (f >> 1) & 1, f & 1
            base = cond >> 1
            holds = (z == 1, c == 1, n == 1, v == 1, c == 1 and z == 0, n == v,
                     n == v and z == 0, True)[base]
            if cond & 1 and cond != 15:  # cond 1111 is "always", like 1110
                holds = not holds
            table[cond * 16 + f] = holds
    return table


COND = _condition_table()


@jit
def condition_holds(cond, nzcv):
    return COND[(np.int64(cond) << 4) | np.int64(nzcv)] != 0


@jit
def add_with_carry64(a, b, carry):
    """AddWithCarry for 64 bits: (result, nzcv)."""
    s = a + b
    r = s + carry
    c = (s < a) | (r < s)
    v = ((a ^ r) & (b ^ r)) >> np.uint64(63)
    f = ((r >> np.uint64(60)) & FLAG_N) | (FLAG_Z if r == U0 else U0)
    return r, f | (FLAG_C if c else U0) | v


@jit
def add_with_carry32(a, b, carry):
    """AddWithCarry for 32 bits (upper halves of the inputs ignored): (result, nzcv)."""
    a &= M32
    b &= M32
    s = a + b + carry
    r = s & M32
    c = s >> np.uint64(32)
    v = (((a ^ r) & (b ^ r)) >> np.uint64(31)) & U1
    f = ((r >> np.uint64(28)) & FLAG_N) | (FLAG_Z if r == U0 else U0)
    return r, f | (c << U1) | v


@jit
def logic_flags(r, top):
    """N and Z of a logical result whose sign bit is bit `top`; C and V cleared."""
    n = ((r >> np.uint64(top)) & U1) << np.uint64(3)
    return n | (FLAG_Z if r == U0 else U0)


@jit
def ror(value, amount, width):
    """Rotate the low `width` bits of value right by amount (< width)."""
    amount = np.uint64(amount)
    w = np.uint64(width)
    if amount == U0:
        return value
    mask = M64 if width == 64 else (U1 << w) - U1
    value &= mask
    return ((value >> amount) | (value << (w - amount))) & mask


@jit
def shift_reg(value, shift_type, amount, width):
    """ShiftReg: LSL=0, LSR=1, ASR=2, ROR=3 by amount (< width) on a `width`-bit value.

    Branch-free: the four results are computed and one is selected with masks, since a
    guest's mix of shift types is data the host cannot predict."""
    amount = np.uint64(amount)
    shift_type = np.uint64(shift_type)
    top = np.uint64(64 - width)  # 0 or 32
    mask = M64 >> top
    v = value & mask
    lsl = (v << amount) & mask
    lsr = v >> amount
    asr = np.uint64((np.int64(v << top) >> np.int64(top)) >> np.int64(amount)) & mask
    rotated_in = (v << ((np.uint64(width) - amount) & np.uint64(63))) & (U0 - np.uint64(amount != U0))
    ror = (lsr | rotated_in) & mask
    return ((lsl & (U0 - np.uint64(shift_type == U0))) | (lsr & (U0 - np.uint64(shift_type == U1)))
            | (asr & (U0 - np.uint64(shift_type == np.uint64(2))))
            | (ror & (U0 - np.uint64(shift_type == np.uint64(3)))))


@jit
def extend_reg(value, option, shift):
    """ExtendReg: UXTB/UXTH/UXTW/UXTX/SXTB/SXTH/SXTW/SXTX (option 0..7), then LSL shift."""
    size = option & 3
    if size == 0:
        v = value & np.uint64(0xFF)
    elif size == 1:
        v = value & np.uint64(0xFFFF)
    elif size == 2:
        v = value & M32
    else:
        v = value
    if option & 4 and size != 3:
        top = np.uint64(64 - (8 << size))
        v = np.uint64(np.int64(v << top) >> np.int64(top))
    return v << np.uint64(shift)


@jit
def sign_extend_from(value, bits):
    """The low `bits` bits of value, sign-extended to 64 bits."""
    top = np.uint64(64 - bits)
    return np.uint64(np.int64(value << top) >> np.int64(top))


@jit
def count_leading_zeros(value, width):
    value &= M64 if width == 64 else M32
    n = 0
    bit = np.uint64(width - 1)
    while n < width and (value >> bit) & U1 == U0:
        n += 1
        bit -= U1
    return np.uint64(n)


@jit
def reverse_bits(value, width):
    r = U0
    for _ in range(width):
        r = (r << U1) | (value & U1)
        value >>= U1
    return r


@jit
def reverse_bytes(value, container_bytes, width):
    """REV16/REV32/REV: reverse the bytes inside each container of the low `width` bits."""
    r = U0
    for c in range(0, width // 8, container_bytes):
        for i in range(container_bytes):
            byte = (value >> np.uint64(8 * (c + i))) & np.uint64(0xFF)
            r |= byte << np.uint64(8 * (c + container_bytes - 1 - i))
    return r


@jit
def umulh(a, b):
    """The high 64 bits of the 128-bit unsigned product a * b."""
    a_lo, a_hi = a & M32, a >> np.uint64(32)
    b_lo, b_hi = b & M32, b >> np.uint64(32)
    lo_lo = a_lo * b_lo
    hi_lo = a_hi * b_lo
    lo_hi = a_lo * b_hi
    hi_hi = a_hi * b_hi
    cross = (lo_lo >> np.uint64(32)) + (hi_lo & M32) + lo_hi
    return hi_hi + (hi_lo >> np.uint64(32)) + (cross >> np.uint64(32))


@jit
def smulh(a, b):
    """The high 64 bits of the 128-bit signed product (a and b as int64 bit patterns)."""
    h = umulh(a, b)
    if np.int64(a) < 0:
        h -= b
    if np.int64(b) < 0:
        h -= a
    return h


def _crc_table(poly: int) -> np.ndarray:
    table = np.zeros(256, dtype=np.uint64)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table[i] = c
    return table


CRC32_TABLE = _crc_table(0xEDB8_8320)  # CRC-32 (ISO-HDLC), bit-reflected
CRC32C_TABLE = _crc_table(0x82F6_3B78)  # CRC-32C (Castagnoli), bit-reflected


@jit
def crc32(acc, data, size_bytes, castagnoli):
    """CRC32{B,H,W,X} / CRC32C*: fold `size_bytes` bytes of data into the 32-bit acc."""
    crc = acc & M32
    for i in range(size_bytes):
        byte = (data >> np.uint64(8 * i)) & np.uint64(0xFF)
        idx = np.int64((crc ^ byte) & np.uint64(0xFF))
        t = CRC32C_TABLE[idx] if castagnoli else CRC32_TABLE[idx]
        crc = (crc >> np.uint64(8)) ^ t
    return crc


@jit
def decode_bit_masks(imm_n, imms, immr, immediate, datasize):
    """DecodeBitMasks: (ok, wmask, tmask); ok is False for the reserved encodings."""
    combined = (imm_n << 6) | (~imms & 0x3F)
    length = -1
    for i in range(6, -1, -1):
        if (combined >> i) & 1:
            length = i
            break
    if length < 1:
        return False, U0, U0
    esize = 1 << length
    if esize > datasize:
        return False, U0, U0
    levels = esize - 1
    if immediate and (imms & levels) == levels:
        return False, U0, U0
    s = imms & levels
    r = immr & levels
    d = (s - r) & levels
    emask = M64 if esize == 64 else (U1 << np.uint64(esize)) - U1
    welem = M64 if s + 1 == 64 else (U1 << np.uint64(s + 1)) - U1
    telem = M64 if d + 1 == 64 else (U1 << np.uint64(d + 1)) - U1
    welem = ror(welem, r, esize) & emask
    wmask = U0
    tmask = U0
    for i in range(0, datasize, esize):
        wmask |= welem << np.uint64(i)
        tmask |= telem << np.uint64(i)
    return True, wmask, tmask
