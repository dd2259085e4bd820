"""The GIC state that the CPU processes share with the GIC service (DESIGN.md §3).

A GICv3 redistributor and its CPU interface sit next to their PE; only the
distributor is shared by all. smpsim keeps that split across processes: each CPU's
private interrupts (SGIs 0-15, PPIs 16-31: the redistributor's SGI_base frame) and its
CPU interface's registers live in one shared segment, so that an SGI goes from the
sender's process straight into the target's pending state and a CPU acknowledges and
ends its own SGIs and PPIs without a message. The GIC service serves the
redistributors' MMIO frames on the same state and keeps the SPIs to itself.

Layout (`GicState`):
- `priv[cpu, field, intid]`, one byte per private interrupt and field (GROUP, ENABLED,
  LATCH, ACTIVE, LEVEL, EDGE: 0 or 1; PRIO: the priority). A byte is written with one
  store and never read-modified-written, so writers in different processes (a sender
  setting an SGI's LATCH, the owner clearing it on acknowledge, the service's
  GICR_ICPENDR0) are serialised by the memory system, as the bits of a real
  redistributor are.
- `words[cpu, W_*]`: the redistributor's GICR_WAKER.ProcessorSleep (written by the
  service); the CPU interface's registers (written by the CPU's process only, read by
  the service to route 1-of-N SPIs); and the distributor's best SPI of each group for
  the CPU (written by the service only: `spi_word`).
- `glob[G_*]`: GICD_CTLR's group enables and whether a 1-of-N SPI is pending (both
  written by the service).

Whoever changes what another process reads then rings that CPU's doorbell
(interconnect/doorbell.py); stores stay in order on the host (x86-64 TSO), as the
doorbell relies on.
"""

from __future__ import annotations

import numpy as np

from smpsim.interconnect.shared_ram import SharedRam

NUM_PRIVATE = 32
# priv fields
GROUP, ENABLED, LATCH, ACTIVE, LEVEL, EDGE, PRIO = range(7)
N_FIELDS = 7
# per-CPU words
W_SLEEP = 0  # GICR_WAKER.ProcessorSleep
W_PMR, W_BPR0, W_BPR1, W_CTLR, W_IGRPEN0, W_IGRPEN1, W_APR0, W_APR1 = range(1, 9)
W_SPI0, W_SPI1 = 9, 10  # the distributor's best SPI of Group 0 / 1 for this CPU
N_WORDS = 16
# global words
G_DIST_CTLR = 0  # GICD_CTLR's EnableGrp0/EnableGrp1
G_ONE_OF_N = 1  # 1: a 1-of-N SPI is pending (CPUs report changes of their state)
N_GLOBAL = 8

_VALID = 1 << 40


def spi_word(prio: int, intid: int) -> int:
    """A W_SPI<g> word naming an SPI and its priority (0: none)."""
    return _VALID | prio << 16 | intid


def read_spi_word(word: int) -> tuple[int, int] | None:
    """(priority, intid) of a W_SPI<g> word, or None."""
    if not word & _VALID:
        return None
    return (word >> 16) & 0xFF, word & 0xFFFF


class GicState:
    """The shared GIC state of `n_cpus` CPUs over a uint8 buffer (a shared segment in a
    machine, plain memory when one process holds the whole GIC)."""

    def __init__(self, buffer: np.ndarray, n_cpus: int, ram: SharedRam | None = None):
        self._ram = ram
        self.name = ram.name if ram is not None else None
        self.n_cpus = n_cpus
        n_priv = n_cpus * N_FIELDS * NUM_PRIVATE
        self.priv = buffer[:n_priv].reshape(n_cpus, N_FIELDS, NUM_PRIVATE)
        start = (n_priv + 7) // 8 * 8
        self.words = buffer[start:start + n_cpus * N_WORDS * 8].view(np.int64).reshape(
            n_cpus, N_WORDS)
        start += n_cpus * N_WORDS * 8
        self.glob = buffer[start:start + N_GLOBAL * 8].view(np.int64)

    @staticmethod
    def bytes_for(n_cpus: int) -> int:
        return (n_cpus * N_FIELDS * NUM_PRIVATE + 7) // 8 * 8 + (n_cpus * N_WORDS + N_GLOBAL) * 8

    @classmethod
    def local(cls, n_cpus: int) -> "GicState":
        """In this process's memory (a GIC whose CPU interfaces are all here: tests)."""
        return cls(np.zeros(cls.bytes_for(n_cpus), dtype=np.uint8), n_cpus)

    @classmethod
    def create(cls, n_cpus: int) -> "GicState":
        size = max(4096, (cls.bytes_for(n_cpus) + 4095) // 4096 * 4096)
        ram = SharedRam.create(size, tag="gic")
        return cls(ram.array, n_cpus, ram)

    @classmethod
    def attach(cls, name: str, n_cpus: int) -> "GicState":
        size = max(4096, (cls.bytes_for(n_cpus) + 4095) // 4096 * 4096)
        ram = SharedRam.attach(name, size)
        return cls(ram.array, n_cpus, ram)

    def close(self) -> None:
        self.priv = self.words = self.glob = None
        if self._ram is not None:
            self._ram.close()
