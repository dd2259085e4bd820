"""The doorbell segment: a few shared 64-bit words per CPU that carry what must reach a
CPU without a socket round trip (DESIGN.md §3): its interrupt lines, as the GIC
service drives them, a pending event (SEV from another CPU), its power state, and
whether it is waiting in WFI/WFE (so that whoever rings knows to wake it).

The words are written by one side and read by the other; each word is a whole aligned
uint64, so a reader never sees half a write. Writers also bump SEQ, which lets a CPU
notice "something changed" with one load.
"""

from __future__ import annotations

import numpy as np

from smpsim.interconnect.shared_ram import SharedRam

# the words of one CPU's block
IRQ = 0  # 1 = the GIC asserts this CPU's IRQ line
FIQ = 1
EVENT = 2  # 1 = an event (SEV from another CPU) is waiting for this CPU's next WFE
POWER = 3  # POWER_OFF, POWER_ON, POWER_ON_PENDING (PSCI CPU_ON in progress)
WAITING = 4  # 1 = the CPU process is blocked in WFI/WFE: ring it (a message) to wake it
SEQ = 5  # bumped by every write above, so that a change is one load to notice
PC = 6  # where the CPU is, written by its process after every quantum (for reports)
EL = 7
WORDS_PER_CPU = 8

POWER_OFF, POWER_ON, POWER_ON_PENDING = 0, 1, 2


class Doorbells:
    """The doorbell words of `n_cpus` CPUs over one shared segment (`.words[cpu, word]`)."""

    def __init__(self, ram: SharedRam, n_cpus: int):
        self._ram = ram
        self.name = ram.name
        self.n_cpus = n_cpus
        self.words = ram.array.view(np.uint64)[: n_cpus * WORDS_PER_CPU].reshape(
            n_cpus, WORDS_PER_CPU)

    @staticmethod
    def size_for(n_cpus: int) -> int:
        return max(4096, (n_cpus * WORDS_PER_CPU * 8 + 4095) // 4096 * 4096)

    @classmethod
    def create(cls, n_cpus: int) -> "Doorbells":
        return cls(SharedRam.create(cls.size_for(n_cpus), tag="doorbell"), n_cpus)

    @classmethod
    def attach(cls, name: str, n_cpus: int) -> "Doorbells":
        return cls(SharedRam.attach(name, cls.size_for(n_cpus)), n_cpus)

    def set(self, cpu: int, word: int, value: int) -> None:
        self.words[cpu, word] = value
        self.words[cpu, SEQ] += np.uint64(1)

    def get(self, cpu: int, word: int) -> int:
        return int(self.words[cpu, word])

    def close(self) -> None:
        self.words = None
        self._ram.close()

    def __enter__(self) -> "Doorbells":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
