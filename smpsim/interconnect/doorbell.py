"""The doorbell segment: a few shared 64-bit words per CPU that carry what must reach a
CPU without a socket round trip (DESIGN.md §3): a pending event (SEV from another
CPU), its power state, a STOP request, where it is (PC, EL, its interrupt lines: for
reports), and the RING word that tells it to look. Whoever changes the shared GIC
state a CPU reads (gic_dist/shared_state.py: an SGI for it, an SPI offered to it)
rings it too.

Each word is a whole aligned uint64 with one writer, so a reader never sees half a
write. Whoever writes a word for a CPU then *rings* it: sets the CPU's RING word to 1
and wakes it if it sleeps (a futex on RING, futex.py). The CPU notices "something new"
with one load of RING; it clears RING with an atomic exchange — a full barrier, so
every word written before a ring it cleared is visible to its next loads — and then
reads the words. A CPU that waits in WFI sleeps on RING == 0: a ring after its last
look ends the sleep at once, so no wake-up is lost.

Ordering on the writer's side relies on the host keeping stores in order (x86-64 TSO,
which is what smpsim runs on); on a weakly ordered host the writer would need a
barrier between the word and RING.
"""

from __future__ import annotations

import functools

import numpy as np

from smpsim.interconnect import futex
from smpsim.interconnect.shared_ram import SharedRam

# the words of one CPU's block
IRQ = 0  # 1 = this CPU's interface asserts its IRQ line (its process writes it: reports)
FIQ = 1
EVENT = 2  # 1 = an event (SEV from another CPU) is waiting for this CPU's next WFE
POWER = 3  # POWER_OFF, POWER_ON, POWER_PEN (spin-table: polling its release address)
WAITING = 4  # WAITING_WFX: the CPU process is blocked in WFI/WFE; WAITING_SIGNAL: for
# a topology's injection signal (for reports)
RING = 5  # 1 = something above changed since the CPU last looked; the futex word
PC = 6  # where the CPU is, written by its process every few ms (for reports)
EL = 7
STOP = 8  # 1 = bootctl ends the run: a waiting CPU wakes and stops
# maintenance other CPUs ask of this one (their TLBI ...IS, IC IALLUIS/IVAU): MAINT_REQ
# the bits asked (1 TLB, 2 decoded code; atomic OR), MAINT_GEN counts requests (atomic
# add), MAINT_ACK the count this CPU has done (its own write)
MAINT_REQ = 9
MAINT_GEN = 10
MAINT_ACK = 11
SIGNALS = 12  # the topology's injection signals raised so far, one bit each (atomic OR)
WORDS_PER_CPU = 13

POWER_OFF, POWER_ON, POWER_PEN = 0, 1, 2
WAITING_WFX, WAITING_SIGNAL = 1, 2


_rmw = None  # the compiled atomic read-modify-write, loaded on first use (CPU processes only)


def _atomic():
    """A Numba function for one atomic read-modify-write (hostmem.RMW_*: swap, add, or)
    of a uint64 of a uint8 array, a full barrier; it returns the old value. Only CPU
    processes use it, and they have Numba loaded already."""
    global _rmw
    if _rmw is None:
        from numba import njit

        from smpsim.jit import hostmem

        @njit(cache=True, _nrt=False)
        def rmw(mem, off, op, value):
            return hostmem.atomic_rmw(mem, off, 3, op, value)

        _rmw = rmw
    return _rmw


def atomic_add(mem: np.ndarray, off: int, value: int) -> int:
    """Add `value` to the uint64 at byte `off` of `mem` atomically; the old value."""
    return int(_atomic()(mem, off, _rmw_op("RMW_ADD"), value))


@functools.cache
def _rmw_op(name: str) -> int:
    from smpsim.jit import hostmem
    return getattr(hostmem, name)


class Doorbells:
    """The doorbell words of `n_cpus` CPUs over one shared segment (`.words[cpu, word]`)."""

    def __init__(self, ram: SharedRam, n_cpus: int):
        self._ram = ram
        self.name = ram.name
        self.n_cpus = n_cpus
        self.words = ram.array.view(np.uint64)[: n_cpus * WORDS_PER_CPU].reshape(
            n_cpus, WORDS_PER_CPU)
        self._base = ram.array.ctypes.data

    @staticmethod
    def size_for(n_cpus: int) -> int:
        return max(4096, (n_cpus * WORDS_PER_CPU * 8 + 4095) // 4096 * 4096)

    @classmethod
    def create(cls, n_cpus: int) -> "Doorbells":
        return cls(SharedRam.create(cls.size_for(n_cpus), tag="doorbell"), n_cpus)

    @classmethod
    def attach(cls, name: str, n_cpus: int) -> "Doorbells":
        return cls(SharedRam.attach(name, cls.size_for(n_cpus)), n_cpus)

    def _offset(self, cpu: int, word: int) -> int:
        return (cpu * WORDS_PER_CPU + word) * 8

    def set(self, cpu: int, word: int, value: int) -> None:
        """Write a word of `cpu` and ring it."""
        self.words[cpu, word] = value
        self.ring(cpu)

    def put(self, cpu: int, word: int, value: int) -> None:
        """Write a word of `cpu` without ringing it (ring once after several puts)."""
        self.words[cpu, word] = value

    def ring(self, cpu: int) -> None:
        self.words[cpu, RING] = 1
        futex.wake(self._base + self._offset(cpu, RING))

    def ring_word(self, cpu: int) -> np.ndarray:
        """`cpu`'s RING word as a one-element array on the shared segment (for the core
        to watch while it runs: Core.watch_doorbell)."""
        return np.ndarray((1,), dtype=np.uint64, buffer=self._ram.array,
                          offset=self._offset(cpu, RING))

    def get(self, cpu: int, word: int) -> int:
        return int(self.words[cpu, word])

    def take_ring(self, cpu: int) -> bool:
        """(The CPU's own process.) Whether `cpu` was rung since it last looked; clears
        the ring. One plain load when nothing is new."""
        if not self.words[cpu, RING]:
            return False
        return bool(_atomic()(self._ram.array, self._offset(cpu, RING), _rmw_op("RMW_SWP"), 0))

    def request_maintenance(self, cpu: int, bits: int) -> int:
        """Ask `cpu` for maintenance `bits` (MAINT_REQ) and ring it; the generation it
        will acknowledge in MAINT_ACK once it has done it."""
        rmw, mem = _atomic(), self._ram.array
        rmw(mem, self._offset(cpu, MAINT_REQ), _rmw_op("RMW_SET"), bits)  # (bits first:
        gen = int(rmw(mem, self._offset(cpu, MAINT_GEN), _rmw_op("RMW_ADD"), 1)) + 1
        self.ring(cpu)  # whoever sees the generation also sees them)
        return gen

    def raise_signal(self, bit: int) -> None:
        """Raise injection signal `bit` for every CPU, and ring them."""
        rmw, mem = _atomic(), self._ram.array
        for cpu in range(self.n_cpus):
            rmw(mem, self._offset(cpu, SIGNALS), _rmw_op("RMW_SET"), 1 << bit)
            self.ring(cpu)

    def take_maintenance(self, cpu: int) -> tuple[int, int]:
        """(The CPU's own process.) (generation, bits) asked of `cpu` so far, the bits
        cleared; acknowledge the generation once the bits are done."""
        if int(self.words[cpu, MAINT_GEN]) == int(self.words[cpu, MAINT_ACK]):
            return 0, 0
        gen = int(self.words[cpu, MAINT_GEN])
        bits = int(_atomic()(self._ram.array, self._offset(cpu, MAINT_REQ), _rmw_op("RMW_SWP"), 0))
        return gen, bits

    def wait(self, cpu: int, timeout: float) -> None:
        """(The CPU's own process.) Sleep until `cpu` is rung or `timeout` seconds pass
        (or earlier: callers look again). Returns at once if a ring is not taken yet."""
        futex.wait(self._base + self._offset(cpu, RING), 0, timeout)

    def close(self) -> None:
        self.words = None
        self._ram.close()

    def __enter__(self) -> "Doorbells":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
