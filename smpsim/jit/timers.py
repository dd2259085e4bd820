"""The generic timer (Arm ARM D11): the system counter as this core sees it, and the
four timers of a CPU with EL2 and VHE.

The counter advances with retired instructions at a rate the caller sets, so a run is
reproducible when the caller keeps the rate fixed (a virtual clock), and follows the
host's clock when the caller re-bases it before each quantum (core.Core does both):

    physical count = CNT_BASE + (icount - CNT_ICOUNT_BASE) * CNT_SCALE / 2^32

Timers (index: registers, interrupt): 0 CNTP_* EL1 physical, PPI 30; 1 CNTV_* EL1
virtual, PPI 27; 2 CNTHP_* EL2 physical, PPI 26; 3 CNTHV_* EL2 virtual, PPI 28. A timer
condition is met when (count - offset) >= CVAL; its output is asserted when it is
enabled, met and not masked. Offsets follow QEMU: the EL1 virtual timer fires against
CNTVOFF_EL2 (and so does its TVAL); CNTVCT_EL0 reads without the offset at EL2 with
E2H = 1 and at EL0 with E2H = TGE = 1.
"""

import numpy as np

from smpsim.jit import exceptions as exc
from smpsim.jit import host_time
from smpsim.jit.alu import M32, U0, U1
from smpsim.jit.compile import jit
from smpsim.jit.counter import count_at
from smpsim.jit.state import (CNT_BASE, CNT_HOST_EPOCH, CNT_HOST_FREQ, CNT_ICOUNT_BASE,
                              CNT_SCALE, CUR_EL, ICOUNT, LIVE_COUNT, SYSREG_BASE, TIMER_CTL,
                              TIMER_CVAL, TIMER_LEVELS)
from smpsim.jit.sysreg_table import storage_index

PPI = (30, 27, 26, 28)
_CNTVOFF = SYSREG_BASE + storage_index("CNTVOFF_EL2")
_CNTKCTL = SYSREG_BASE + storage_index("CNTKCTL_EL1")
_CNTHCTL = SYSREG_BASE + storage_index("CNTHCTL_EL2")
CTL_ENABLE = np.uint64(1)
CTL_IMASK = np.uint64(2)
CTL_ISTATUS = np.uint64(4)
NEVER = np.int64(1) << 62  # "no deadline", in instructions
_BILLION = np.uint64(1_000_000_000)


@jit
def physical_count(cpu):
    """Now, in the middle of a run loop (LIVE_COUNT: what it has retired so far), for
    the counter-timer registers.

    In a free run (CNT_HOST_FREQ set) this is the host's clock, and the core's count is
    re-based to it: one count for every CPU process, so that no CPU reads a value
    below one another CPU read before (a descheduled process's count would lag by as
    long as it was off the host CPU, and a kernel's timekeeping takes a count that
    goes back for an overflow of the whole counter). The extrapolated count may have
    run a little ahead, so the re-base can move it back; the value read cannot."""
    live = cpu[ICOUNT] + cpu[LIVE_COUNT]
    frequency = cpu[CNT_HOST_FREQ]
    if frequency == U0:
        return count_at(cpu, live)
    ns = host_time.monotonic_ns() - cpu[CNT_HOST_EPOCH]
    count = (ns // _BILLION) * frequency + (ns % _BILLION) * frequency // _BILLION
    cpu[CNT_BASE] = count
    cpu[CNT_ICOUNT_BASE] = live
    return count


@jit
def virtual_offset(cpu):
    """CNTVOFF_EL2 as CNTVCT_EL0 and the virtual TVALs apply it at the current EL."""
    if not exc.has(cpu, exc.F_EL2):
        return U0
    cur = cpu[CUR_EL]
    h = exc.hcr(cpu)
    if cur == np.uint64(2) and h & exc.HCR_E2H != U0:
        return U0
    if cur == U0 and exc.e2h_tge(cpu):
        return U0
    return cpu[_CNTVOFF]


@jit
def firing_offset(cpu, timer):
    """The offset a timer's condition is checked against."""
    if timer == 1 and exc.has(cpu, exc.F_EL2):
        return cpu[_CNTVOFF]
    return U0


@jit
def met(cpu, timer, count):
    return count - firing_offset(cpu, timer) >= cpu[TIMER_CVAL + timer]


@jit
def read_ctl(cpu, timer, count):
    ctl = cpu[TIMER_CTL + timer]
    if ctl & CTL_ENABLE != U0 and met(cpu, timer, count):
        ctl |= CTL_ISTATUS
    return ctl


@jit
def read_tval(cpu, timer, count):
    """TVAL = CVAL - (count - offset), a signed 32-bit register (bits 63:32 read 0). The
    offset is the timer's own: CNTVOFF_EL2 for the EL1 virtual timer however it is
    reached (CNTV_TVAL_EL0, CNTV_TVAL_EL02), none for the others (as QEMU since 2025)."""
    off = firing_offset(cpu, timer)
    return (cpu[TIMER_CVAL + timer] - (count - off)) & M32


@jit
def write_tval(cpu, timer, count, value):
    off = firing_offset(cpu, timer)
    tval = np.uint64(np.int64(np.int32(np.uint32(value & M32))))  # sign-extended
    cpu[TIMER_CVAL + timer] = (count - off) + tval


@jit
def levels(cpu, count):
    """The interrupt outputs of the four timers at `count`, as a PPI bit mask."""
    out = U0
    for t in range(4):
        ctl = cpu[TIMER_CTL + t]
        if ctl & CTL_ENABLE != U0 and ctl & CTL_IMASK == U0 and met(cpu, t, count):
            out |= U1 << np.uint64(PPI[t])
    return out


@jit
def update_levels(cpu):
    """Recompute the outputs at the core's current count; True if they changed."""
    new = levels(cpu, count_at(cpu, cpu[ICOUNT]))
    changed = new != cpu[TIMER_LEVELS]
    cpu[TIMER_LEVELS] = new
    return changed


@jit
def instructions_to_next_change(cpu):
    """How many instructions may retire before an output changes (an enabled, unmasked
    timer whose condition is not met yet becomes met); NEVER if none will."""
    scale = cpu[CNT_SCALE]
    if scale == U0:
        return NEVER
    icount = cpu[ICOUNT]
    count = count_at(cpu, icount)
    best = NEVER
    for t in range(4):
        ctl = cpu[TIMER_CTL + t]
        if ctl & CTL_ENABLE == U0 or ctl & CTL_IMASK != U0 or met(cpu, t, count):
            continue
        # the first n with count_at(icount + n) >= due, counting the fraction of a
        # tick already elapsed (in 2^-32 ticks) so that the output changes on time
        ahead = cpu[TIMER_CVAL + t] + firing_offset(cpu, t) - count
        if ahead >= np.uint64(1) << np.uint64(31):  # far away: run a while, look again
            n = np.int64(1) << np.int64(31)
        else:
            frac = (((icount - cpu[CNT_ICOUNT_BASE]) & M32) * scale) & M32
            n = np.int64(((ahead << np.uint64(32)) - frac + scale - U1) // scale)
        if n < best:
            best = n
    return best


@jit
def next_deadline(cpu):
    """The count at which the next output will change (for a CPU that waits in WFI),
    or 2^64 - 1 if none will."""
    count = count_at(cpu, cpu[ICOUNT])
    best = ~U0
    for t in range(4):
        ctl = cpu[TIMER_CTL + t]
        if ctl & CTL_ENABLE == U0 or ctl & CTL_IMASK != U0 or met(cpu, t, count):
            continue
        due = cpu[TIMER_CVAL + t] + firing_offset(cpu, t)
        if due < best:
            best = due
    return best


@jit
def next_event_stream(cpu):
    """The physical count of the next event-stream event, or 2^64 - 1. Both streams run
    (Arm ARM TestEventCNTP, TestEventCNTV): the physical counter's, controlled by
    CNTHCTL_EL2 when EL2 is implemented, and the virtual counter's, by CNTKCTL_EL1
    unless HCR_EL2.{E2H, TGE} = {1, 1}; EVNTEN bit 2, EVNTDIR bit 3, EVNTI bits 7:4 —
    an event each time the chosen bit of the counter changes the chosen way."""
    count = count_at(cpu, cpu[ICOUNT])
    best = ~U0
    if exc.has(cpu, exc.F_EL2):
        best = _next_stream_event(cpu[_CNTHCTL], count, U0)
    if not exc.e2h_tge(cpu):
        nxt = _next_stream_event(cpu[_CNTKCTL], count, virtual_offset(cpu))
        if nxt < best:
            best = nxt
    return best


@jit
def _next_stream_event(ctl, count, off):
    """The physical count of the next event of the stream `ctl` controls over the counter
    `count` - `off`, or 2^64 - 1 if it is off."""
    if (ctl >> np.uint64(2)) & U1 == U0:
        return ~U0
    bit = (ctl >> np.uint64(4)) & np.uint64(0xF)
    falling = (ctl >> np.uint64(3)) & U1
    value = count - off
    period = U1 << (bit + U1)
    # 0 -> 1 transitions happen at multiples of the period plus 2^bit; 1 -> 0 at multiples
    phase = (U1 << bit) if falling == U0 else U0
    if value < phase:
        return phase + off
    nxt = ((value - phase) // period + U1) * period + phase
    return nxt + off
