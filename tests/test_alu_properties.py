"""Property tests of the integer helpers against Python's unbounded integers."""

import zlib

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from smpsim.jit import alu
from smpsim.jit.loads_stores import LOAD_SIGNED, LOAD_TO_32, finish_load

U64 = st.integers(0, (1 << 64) - 1)
EDGES = st.sampled_from([0, 1, (1 << 63) - 1, 1 << 63, (1 << 64) - 1, 0x7FFF_FFFF, 0x8000_0000,
                         0xFFFF_FFFF, 0x1_0000_0000])
VALUES = st.one_of(U64, EDGES)
settings.register_profile("smpsim", max_examples=300, deadline=None)
settings.load_profile("smpsim")


def signed(v, bits):
    return v - (1 << bits) if v >> (bits - 1) & 1 else v


def reference_flags(a, b, carry, bits):
    mask = (1 << bits) - 1
    a, b = a & mask, b & mask
    unsigned_sum = a + b + carry
    result = unsigned_sum & mask
    signed_sum = signed(a, bits) + signed(b, bits) + carry
    n = result >> (bits - 1)
    z = int(result == 0)
    c = int(unsigned_sum != result)
    v = int(signed(result, bits) != signed_sum)
    return result, (n << 3) | (z << 2) | (c << 1) | v


@given(VALUES, VALUES, st.integers(0, 1))
def test_add_with_carry_matches_the_arm_pseudocode(a, b, carry):
    r, f = alu.add_with_carry64(np.uint64(a), np.uint64(b), np.uint64(carry))
    assert (int(r), int(f)) == reference_flags(a, b, carry, 64)
    r, f = alu.add_with_carry32(np.uint64(a), np.uint64(b), np.uint64(carry))
    assert (int(r), int(f)) == reference_flags(a, b, carry, 32)


def reference_shift(v, kind, amount, bits):
    mask = (1 << bits) - 1
    v &= mask
    if kind == 0:
        return (v << amount) & mask
    if kind == 1:
        return v >> amount
    if kind == 2:
        return (signed(v, bits) >> amount) & mask
    return ((v >> amount) | (v << (bits - amount))) & mask


@given(VALUES, st.integers(0, 3), st.integers(0, 63), st.sampled_from([32, 64]))
def test_shift_reg(v, kind, amount, bits):
    amount %= bits
    assert int(alu.shift_reg(np.uint64(v), kind, amount, bits)) == reference_shift(v, kind, amount, bits)


@given(VALUES, st.integers(0, 7), st.integers(0, 4))
def test_extend_reg(v, option, shift):
    size = 8 << (option & 3)
    x = v & ((1 << size) - 1)
    if option & 4:
        x = signed(x, size)
    assert int(alu.extend_reg(np.uint64(v), option, shift)) == (x << shift) & ((1 << 64) - 1)


@given(VALUES, VALUES)
def test_high_halves_of_products(a, b):
    assert int(alu.umulh(np.uint64(a), np.uint64(b))) == (a * b) >> 64
    assert int(alu.smulh(np.uint64(a), np.uint64(b))) == ((signed(a, 64) * signed(b, 64)) >> 64) & ((1 << 64) - 1)


@given(VALUES, st.sampled_from([32, 64]))
def test_bit_counting_and_reversal(v, bits):
    x = v & ((1 << bits) - 1)
    assert int(alu.count_leading_zeros(np.uint64(v), bits)) == bits - x.bit_length()
    assert int(alu.reverse_bits(np.uint64(x), bits)) == int(f"{x:0{bits}b}"[::-1], 2)
    assert int(alu.reverse_bytes(np.uint64(x), bits // 8, bits)) == \
        int.from_bytes(x.to_bytes(bits // 8, "little"), "big")


@given(st.binary(min_size=1, max_size=64))
def test_crc32_matches_zlib(data):
    crc = np.uint64(0xFFFF_FFFF)
    for byte in data:
        crc = alu.crc32(crc, np.uint64(byte), 1, False)
    assert int(crc) ^ 0xFFFF_FFFF == zlib.crc32(data)


@given(VALUES, st.integers(0, 3), st.booleans(), st.booleans())
def test_finish_load_keeps_the_access_and_extends_it(raw, size, is_signed, to32):
    if to32 and (not is_signed or size >= 2):
        return  # only the signed byte and halfword loads to W registers exist
    info = size | (LOAD_SIGNED if is_signed else 0) | (LOAD_TO_32 if to32 else 0)
    bits = 8 << size
    x = raw & ((1 << bits) - 1)
    want = signed(x, bits) if is_signed else x
    want &= (1 << (32 if to32 else 64)) - 1
    assert int(finish_load(np.uint64(raw), np.uint64(info))) == want


@given(st.integers(0, 1), st.integers(0, 63), st.integers(0, 63), st.sampled_from([32, 64]))
def test_decode_bit_masks_gives_the_repeated_rotated_run(n, imms, immr, bits):
    ok, wmask, _ = alu.decode_bit_masks(n, imms, immr, True, bits)
    combined = (n << 6) | (~imms & 0x3F)
    if combined == 0 or combined.bit_length() - 1 < 1:
        assert not ok
        return
    esize = 1 << (combined.bit_length() - 1)
    levels = esize - 1
    if esize > bits or (imms & levels) == levels:
        assert not ok
        return
    s, r = imms & levels, immr & levels
    run = (1 << (s + 1)) - 1
    element = ((run >> r) | (run << (esize - r))) & ((1 << esize) - 1)
    want = 0
    for i in range(0, bits, esize):
        want |= element << i
    assert ok and int(wmask) == want
