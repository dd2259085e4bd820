"""The decoded-instruction record: what the decoder produces and the executors read.

A record is eight uint64 words, one row of the decode cache:

    OP   the operation id (ops.py); 0 means "not decoded yet"
    D N M A  register slots (state.py), register 31 already resolved to ZR/DISCARD/SP
    IMM  an immediate, offset or mask, already extended/shifted/negated as the op wants
    X Y  operation-specific extras (width mask, shift, condition, access size, ...)

Each class module documents what its ops put in D..Y.
"""

import numpy as np

from smpsim.jit import ops
from smpsim.jit.alu import M32, M64
from smpsim.jit.compile import jit
from smpsim.jit.state import DISCARD, SP, ZR

F_OP, F_D, F_N, F_M, F_A, F_IMM, F_X, F_Y = range(8)
RECORD_WORDS = 8



@jit
def rec(op, d=0, n=0, m=0, a=0, imm=0, x=0, y=0):
    """A record; every argument is wrapped to uint64 (negative ints become two's complement)."""
    return (np.uint64(op), np.uint64(d), np.uint64(n), np.uint64(m), np.uint64(a),
            np.uint64(imm), np.uint64(x), np.uint64(y))


@jit
def undefined():
    return rec(ops.UNDEFINED)


@jit
def width_mask(sf):
    """The result mask of a 64-bit (sf=1) or 32-bit (sf=0) operation."""
    return M64 if sf else M32


# Register-31 resolution, done once at decode time.
@jit
def src_zr(r):
    """A source register where 31 means XZR/WZR."""
    return r  # slot 31 is ZR and always holds zero


@jit
def dst_zr(r):
    """A destination register where 31 means XZR/WZR: the write is discarded."""
    return DISCARD if r == 31 else r


@jit
def reg_sp(r):
    """A source or destination register where 31 means SP."""
    return SP if r == 31 else r


@jit
def sign_extend(value, bits):
    """`value` (an int64 holding `bits` bits) sign-extended, as an int64."""
    shift = 64 - bits
    return (np.int64(value) << shift) >> shift


assert ZR == 31
