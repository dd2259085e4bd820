"""The core's event ring (DESIGN.md §4, §6): guest-visible events the core records as
they happen — an exception taken, an exception return, a write to a watched system
register — for the CPU process to turn into log records. The core never logs.

A record is EV_WORDS words in the `cpu` array: kind, the instruction count and the
physical system count (guest time, CNTPCT_EL0) at the event, and four operands (what each kind puts there is next to its constant). The
ring holds EV_SLOTS records; EV_COUNT counts every event since the last drain, so a
caller that drains late knows how many it lost.
"""

import numpy as np

from smpsim.jit.alu import U1
from smpsim.jit.compile import jit
from smpsim.jit.counter import count_at
from smpsim.jit.state import EV_BASE, EV_COUNT, EV_SLOTS, EV_WORDS, ICOUNT, LIVE_COUNT

EXCEPTION = 1  # a: target EL | from EL << 4 | vector type << 8 (0 sync, 1 IRQ, 2 FIQ,
               # 3 SError); b: ESR (sync, SError); c: ELR (the preferred return); d: FAR
EXCEPTION_RETURN = 2  # a: from EL | to EL << 4 | illegal << 8; b: the new PC; c: SPSR
SYSREG_WRITE = 3  # a: the register's table entry; b: the value it holds now; c: PC
TIMER_CONTROL = 4  # a: the timer (0 CNTP, 1 CNTV, 2 CNTHP, 3 CNTHV); b: CTL; c: PC


@jit
def record(cpu, kind, a, b, c, d):
    n = cpu[EV_COUNT]
    if n < np.uint64(EV_SLOTS):
        at = EV_BASE + np.int64(n) * EV_WORDS
        icount = cpu[ICOUNT] + cpu[LIVE_COUNT]
        cpu[at] = np.uint64(kind)
        cpu[at + 1] = icount
        cpu[at + 2] = count_at(cpu, icount)
        cpu[at + 3] = np.uint64(a)
        cpu[at + 4] = np.uint64(b)
        cpu[at + 5] = np.uint64(c)
        cpu[at + 6] = np.uint64(d)
    cpu[EV_COUNT] = n + U1
