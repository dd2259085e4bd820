"""Where a CPU's system counter gets its time from (DESIGN.md §5).

The core's counter advances with retired instructions at a set rate (jit/timers.py);
a clock source decides the rate and, before each quantum, may move the count on:

- `HostClock` (free runs): the count follows the host's monotonic clock at the
  counter frequency, from one epoch that every CPU process of a run shares (the
  system counter is one for all PEs: a CPU process started later must not count from
  its own start); between two re-bases it advances with instructions at the rate the
  CPU was last measured to run at (so it does not run ahead of the host on a fast core
  and then stand still), and it never goes back. With the shared epoch, the counter
  registers read the host's clock itself (jit/timers.physical_count): a CPU process
  the host has descheduled must not read a count older than one another CPU read.
  Not reproducible.
- `VirtualClock` (lockstep and serial runs): the count is a function of retired
  instructions only (and of the idle time skipped in WFI), so a run repeats exactly.

Both let a CPU that waits in WFI skip to its next timer deadline (`idle_until`).
"""

from __future__ import annotations

import time

from smpsim.jit.core import Core

DEFAULT_FREQUENCY = 62_500_000  # CNTFRQ_EL0, as QEMU's virt machine
NOMINAL_MIPS = 100.0  # the instruction rate a virtual clock assumes
# A host clock extrapolates between re-bases a little slower than the CPU was measured
# to run (and, before its first measurement, as if the CPU were very fast): a count
# that lags is pulled forward to the host's time at the next re-base, while one that
# ran ahead could only stand still (the count never goes back).
HOST_FIRST_MIPS = 2000.0
HOST_RATE_MARGIN = 0.95
REBASE_NS = 1_000_000  # a host clock follows the host to within a millisecond
_MAX_RATE = 0.999  # the core counts less than one tick per instruction


def _rate(frequency: int, mips: float) -> float:
    """Counter ticks per instruction; the core needs less than one, so a counter faster
    than the nominal instruction rate assumes a faster CPU (2 instructions a tick)."""
    return frequency / max(mips * 1e6, 2.0 * frequency)


class VirtualClock:
    def __init__(self, core: Core, frequency: int = DEFAULT_FREQUENCY,
                 mips: float = NOMINAL_MIPS):
        self.core = core
        core.set_counter_rate(self.rate(frequency, mips))

    @staticmethod
    def rate(frequency: int, mips: float = NOMINAL_MIPS) -> float:
        """Counter ticks per instruction."""
        return _rate(frequency, mips)

    def before_quantum(self) -> None:
        pass  # the count follows the instructions alone

    def after_wait(self) -> None:
        pass

    def idle_until(self, count: int) -> None:
        """Nothing to wait for in virtual time: jump to `count`."""
        self.core.rebase_counter(count)


class HostClock:
    def __init__(self, core: Core, frequency: int = DEFAULT_FREQUENCY,
                 mips: float = HOST_FIRST_MIPS, epoch_ns: int | None = None):
        """`epoch_ns`: the time.monotonic_ns() at which the count was 0 (the run's
        start, the same for every CPU process); default now, counting from the core's
        count."""
        self.core = core
        self.frequency = frequency
        self._start = time.monotonic_ns() if epoch_ns is None else epoch_ns
        self._count0 = core.counter if epoch_ns is None else 0
        self._next_rebase = 0
        self._last: tuple[int, int] | None = None  # (host ns, icount) at the last re-base
        core.set_counter_rate(_rate(frequency, mips))
        if epoch_ns is not None:  # the run's one counter: what the counter registers read
            core.follow_host_clock(epoch_ns, frequency)

    def now(self) -> int:
        return self._count0 + (time.monotonic_ns() - self._start) * self.frequency // 10**9

    def before_quantum(self) -> None:
        # re-based at most every REBASE_NS: the counter keeps counting in between, at the
        # rate of ticks per instruction the last interval measured
        t = time.monotonic_ns()
        if t >= self._next_rebase:
            icount = self.core.icount
            if self._last is not None:
                t0, i0 = self._last
                if icount > i0 and t > t0:
                    rate = (t - t0) * self.frequency / 1e9 / (icount - i0)
                    self.core.set_counter_rate(min(rate * HOST_RATE_MARGIN, _MAX_RATE))
            self._last = (t, icount)
            self._next_rebase = t + REBASE_NS
            self.core.rebase_counter(self.now())

    def after_wait(self) -> None:
        """A CPU that slept (WFI/WFE) reads the host's time at once, not up to
        REBASE_NS later: a guest timing a wake-up sees the time it took. (The sleep says
        nothing about the CPU's speed: the next interval starts now.)"""
        self._next_rebase = 0
        self._last = None

    def idle_until(self, count: int, deadline: float) -> bool:
        """Sleep until the host count reaches `count` or time.monotonic() reaches
        `deadline`; True if the count was reached."""
        while True:
            ahead = count - self.now()
            if ahead <= 0:
                self.core.rebase_counter(count)
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(left, ahead / self.frequency, 0.05))
