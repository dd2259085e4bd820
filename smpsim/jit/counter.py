"""The physical system count as a function of retired instructions: what timers.py's
registers read and what events.py stamps its records with. The caller's clock source
sets the base and the scale (cpu_worker/clock.py)."""

import numpy as np

from smpsim.jit.alu import M32
from smpsim.jit.compile import jit
from smpsim.jit.state import CNT_BASE, CNT_ICOUNT_BASE, CNT_SCALE


@jit
def count_at(cpu, icount):
    """The physical count after `icount` instructions (32.32 scale split so that the
    product cannot overflow: CNT_SCALE < 2^32). `icount` may lie before the base: a
    free run re-bases in the middle of a run loop (timers.physical_count), where the
    retired count is ahead of cpu[ICOUNT]."""
    base = cpu[CNT_ICOUNT_BASE]
    scale = cpu[CNT_SCALE]
    if icount >= base:
        return cpu[CNT_BASE] + _ticks(icount - base, scale)
    return cpu[CNT_BASE] - _ticks(base - icount, scale)


@jit
def _ticks(delta, scale):
    hi = (delta >> np.uint64(32)) * scale
    lo = ((delta & M32) * scale) >> np.uint64(32)
    return hi + lo
