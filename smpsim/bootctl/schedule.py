"""The shared state of the reproducible scheduling modes (DESIGN.md §5): one segment
that bootctl creates and every CPU process maps.

**serial**: one CPU runs at a time. The CPU that holds the turn runs to its next
schedule point (jit/exits.py: SCHEDULE and every other exit), then decides who runs
next (`Schedule.pass_turn`) from the words below alone, so the decisions are a
function of the seed and of what the guest did, never of the host:

- PCT (Burckhardt et al., ASPLOS 2010): each CPU has a priority, distinct, drawn from
  the seed (`depth` .. `depth + n - 1`); the highest-priority CPU that can run runs.
  `depth - 1` change points, schedule point numbers drawn from the seed in
  [1, `points`], each lower the running CPU's priority below every initial one (the
  i-th to `depth - i`).
- A CPU gives way when it spins (a YIELD, a WFE that did not sleep) and when it has
  run `run.quantum` instructions since it got the turn. Giving way hands the turn, for
  one schedule point, to the next CPU down the priority order from the last one a
  giving way reached (round robin over the order, so each CPU that can run is reached
  in turn); then the highest priority runs again. PCT's strict priorities would let a
  spinning CPU starve the one it waits for (real boot code spins on flags, counters,
  firmware calls); this keeps the starving bounded (a low-priority CPU makes one step
  per round of the others' spinning) without erasing the priorities.
- Stalls (`run.stalls`, default none): at a schedule point that is not a device
  access nor a spin, a CPU stalls with that probability, drawn from the seed and the
  point's number, for up to `run.stall_ms` of guest time while the others run: a vCPU
  preempted by its host, an SMI. It moves a window of time, where an order of steps
  alone cannot (a timer that expires inside a short window with IRQs masked).
- A CPU that waits (WFI, WFE, an injection's wait, the spin-table pen) can run again
  when it was rung (doorbell.RING: an SGI, an SPI, an SEV, a maintenance request),
  when the guest time reaches its deadline, or when the memory word it watches (the
  exclusive monitor's, the release address) no longer holds what it saw. It is then
  given the turn to look at its wake condition itself.
- Guest time is virtual: `TIME` is the system counter at the end of the last turn;
  a CPU starts its turn at `TIME`, and when every CPU waits, `TIME` jumps to the
  earliest deadline. When no CPU can ever run again the run is hung (`pass_turn`
  returns `HUNG`).

**lockstep** uses the barrier words: every CPU process runs a quantum, then arrives;
the last to arrive moves `TIME` on by a quantum (or, when every CPU waits, to the
earliest deadline) and opens the next quantum.

Each word is an aligned uint64 with one writer at a time (the turn holder, or the
last to arrive at the barrier); the futex words (GO, GENERATION) wake the sleepers.
"""

from __future__ import annotations

import dataclasses
import random

import numpy as np

from smpsim.interconnect import doorbell, futex
from smpsim.interconnect.shared_ram import SharedRam

# global words
TURN = 0  # the CPU that runs (serial)
TIME = 1  # the system counter at the end of the last turn (serial) or quantum (lockstep)
POINTS = 2  # schedule points passed so far
SWITCHES = 3  # turns passed from one CPU to another
DEPTH = 4  # PCT's d
TRACE_COUNT = 6  # switches recorded in the trace ring (it keeps the last TRACE_SLOTS)
ARRIVED = 7  # (lockstep) CPUs at the barrier in this quantum
GENERATION = 8  # (lockstep) quanta completed; the futex word the barrier sleeps on
QUANTUM_TICKS = 9  # (lockstep) counter ticks per quantum
SKIPPED = 10  # (lockstep) ticks skipped while every CPU waited
STATUS = 11  # (lockstep) 1: no CPU will ever run again (hung)
CURSOR = 12  # (serial, signed) the priority of the CPU the last giving way reached
SEED = 13  # (serial) the plan's seed, for the stalls
STALL_PPM = 14  # (serial) the probability of a stall at a point, in millionths
STALL_TICKS = 15  # (serial) the longest stall, in counter ticks
STALLS = 31  # (serial) stalls so far
CHANGES = 16  # PCT's change points, MAX_DEPTH - 1 words
MAX_DEPTH = 16
GLOBAL_WORDS = 32
# per-CPU words
STATE = 0  # OFF, RUNNABLE, WAITING, EXITED
PRIORITY = 1  # (signed)
WAKE_AT = 2  # the counter value at which a waiting CPU's wait ends by itself (NEVER)
WATCH = 3  # a waiting CPU's watched RAM offset + 1 (0: none)
WATCH_SIZE = 4
WATCH_VALUE = 5  # (its low 8 bytes)
GO = 6  # the futex word a CPU sleeps on until it has the turn
WATCH_HIGH = 7  # (bytes 8 to 15 of a 16-byte watch)
POWER_REQUEST = 8  # (lockstep) bootctl's CPU_ON for this CPU, taken at the next boundary
CPU_WORDS = 10
TRACE_SLOTS = 1 << 15
TRACE_WORDS = 4  # point, time, from << 16 | to << 8 | why, pc

OFF, RUNNABLE, WAITING, EXITED, STALLED = 0, 1, 2, 3, 4
NEVER = (1 << 64) - 1
HUNG = -1
# why a CPU passed the turn (trace)
WHY_POINT, WHY_YIELD, WHY_WAIT, WHY_OFF, WHY_CHANGE, WHY_STALL = 0, 1, 2, 3, 4, 5
WHY_NAMES = {WHY_POINT: "point", WHY_YIELD: "gives way", WHY_WAIT: "waits",
             WHY_OFF: "off", WHY_CHANGE: "priority change", WHY_STALL: "stalls"}
_MASK = (1 << 64) - 1


def _mix(x: int) -> int:
    """SplitMix64's finaliser: a well-spread 64-bit hash of `x`."""
    x = (x + 0x9E37_79B9_7F4A_7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58_476D_1CE4_E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D0_49BB_1331_11EB) & _MASK
    return x ^ (x >> 31)


@dataclasses.dataclass(frozen=True)
class Plan:
    """What a seed decides before the run: each CPU's initial priority and the PCT
    change points (schedule point numbers)."""
    seed: int
    depth: int
    points: int
    priorities: tuple[int, ...]
    changes: tuple[int, ...]
    stall_ppm: int = 0  # a stall's probability per point, in millionths
    stall_ticks: int = 0  # the longest stall, in counter ticks

    @classmethod
    def from_seed(cls, seed: int, n_cpus: int, depth: int = 1, points: int = 10_000,
                  stall_ppm: int = 0, stall_ticks: int = 0) -> "Plan":
        if not 1 <= depth <= MAX_DEPTH:
            raise ValueError(f"depth must be 1 to {MAX_DEPTH}, not {depth}")
        if points < 1:
            raise ValueError(f"points must be at least 1, not {points}")
        rng = random.Random(f"smpsim-pct-{seed}")  # (a string seed: stable across versions)
        order = list(range(n_cpus))
        rng.shuffle(order)
        priorities = [0] * n_cpus
        for rank, cpu in enumerate(order):
            priorities[cpu] = depth + rank
        changes = tuple(sorted(rng.randint(1, points) for _ in range(depth - 1)))
        return cls(seed, depth, points, tuple(priorities), changes, stall_ppm, stall_ticks)


class Schedule:
    """The words of `n_cpus` CPUs over one shared segment."""

    def __init__(self, segment: SharedRam, n_cpus: int):
        self._segment = segment
        self.name = segment.name
        self.n_cpus = n_cpus
        words = segment.array.view(np.uint64)
        self.glob = words[:GLOBAL_WORDS]
        self.cpus = words[GLOBAL_WORDS:GLOBAL_WORDS + n_cpus * CPU_WORDS].reshape(n_cpus, CPU_WORDS)
        self.signed = self.cpus.view(np.int64)  # (priorities)
        start = GLOBAL_WORDS + n_cpus * CPU_WORDS
        self.trace = words[start:start + TRACE_SLOTS * TRACE_WORDS].reshape(TRACE_SLOTS,
                                                                             TRACE_WORDS)
        self._base = segment.array.ctypes.data

    @staticmethod
    def size_for(n_cpus: int) -> int:
        words = GLOBAL_WORDS + n_cpus * CPU_WORDS + TRACE_SLOTS * TRACE_WORDS
        return (words * 8 + 4095) // 4096 * 4096

    @classmethod
    def create(cls, n_cpus: int, plan: Plan | None = None, quantum_ticks: int = 0) -> "Schedule":
        s = cls(SharedRam.create(cls.size_for(n_cpus), tag="schedule"), n_cpus)
        s.cpus[:, WAKE_AT] = NEVER
        s.cpus[0, STATE] = RUNNABLE  # the boot CPU; the others wait for CPU_ON
        s.glob[QUANTUM_TICKS] = quantum_ticks
        if plan is not None:
            s.glob[DEPTH] = plan.depth
            for cpu, prio in enumerate(plan.priorities):
                s.signed[cpu, PRIORITY] = prio
            for i, point in enumerate(plan.changes):
                s.glob[CHANGES + i] = point
            s.glob[SEED] = plan.seed & _MASK
            s.glob[STALL_PPM] = plan.stall_ppm
            s.glob[STALL_TICKS] = plan.stall_ticks
        return s

    @classmethod
    def attach(cls, name: str, n_cpus: int) -> "Schedule":
        return cls(SharedRam.attach(name, cls.size_for(n_cpus)), n_cpus)

    def close(self) -> None:
        self.glob = self.cpus = self.signed = self.trace = None
        self._segment.close()

    # --- serial ---------------------------------------------------------------------
    def _address(self, cpu: int, word: int) -> int:
        return self._base + (GLOBAL_WORDS + cpu * CPU_WORDS + word) * 8

    def make_runnable(self, cpu: int) -> None:
        """(bootctl, CPU_ON in a serial run) `cpu` may run from the next turn on."""
        self.cpus[cpu, STATE] = RUNNABLE

    def request_power(self, cpu: int) -> None:
        """(bootctl, CPU_ON in a lockstep run) `cpu` runs from the next quantum on."""
        self.cpus[cpu, POWER_REQUEST] = 1

    def wait_turn(self, cpu: int, timeout: float) -> bool:
        """(`cpu`'s process) Sleep until it has the turn, at most `timeout` s."""
        if int(self.glob[TURN]) == cpu:
            self.cpus[cpu, GO] = 0
            return True
        futex.wait(self._address(cpu, GO), 0, timeout)
        if int(self.glob[TURN]) != cpu:
            return False
        self.cpus[cpu, GO] = 0
        return True

    def wake_all(self) -> None:
        """(bootctl, at the end) Wake every CPU that sleeps on its turn, to stop."""
        for cpu in range(self.n_cpus):
            self.cpus[cpu, GO] = 1
            futex.wake(self._address(cpu, GO))

    def set_waiting(self, cpu: int, wake_at: int | None,
                    watch: tuple[int, int, int] | None) -> None:
        """`cpu` waits: until `wake_at` (a count; None: no deadline), or until the RAM
        at `watch` = (offset, size, value) holds another value, or a ring."""
        c = self.cpus[cpu]
        c[WAKE_AT] = NEVER if wake_at is None else wake_at
        if watch is None:
            c[WATCH] = 0
        else:
            offset, size, value = watch
            c[WATCH_SIZE] = size
            c[WATCH_VALUE] = value & NEVER
            c[WATCH_HIGH] = value >> 64
            c[WATCH] = offset + 1
        c[STATE] = WAITING

    def set_state(self, cpu: int, state: int) -> None:
        self.cpus[cpu, STATE] = state
        self.cpus[cpu, WATCH] = 0
        self.cpus[cpu, WAKE_AT] = NEVER

    def _can_run(self, cpu: int, now: int, ram: np.ndarray, bells: doorbell.Doorbells) -> bool:
        state = int(self.cpus[cpu, STATE])
        if state == RUNNABLE:
            return True
        if state == STALLED:
            return int(self.cpus[cpu, WAKE_AT]) <= now
        if state != WAITING:
            return False
        if bells.words[cpu, doorbell.RING] or int(self.cpus[cpu, WAKE_AT]) <= now:
            return True
        watch = int(self.cpus[cpu, WATCH])
        if watch:
            size = int(self.cpus[cpu, WATCH_SIZE])
            seen = int(self.cpus[cpu, WATCH_VALUE]) | int(self.cpus[cpu, WATCH_HIGH]) << 64
            now_value = int.from_bytes(ram[watch - 1:watch - 1 + size].tobytes(), "little")
            return now_value != seen
        return False

    def pass_turn(self, me: int, counter: int, why: int, pc: int, ram: np.ndarray,
                  bells: doorbell.Doorbells, may_stall: bool = False) -> int:
        """(The turn holder, at a schedule point, its state words set.) Count the point,
        apply a change point and a stall (`may_stall`: the point may be one), choose the
        CPU that runs next and give it the turn; that CPU (`me` again, usually), or
        HUNG. A CPU that stalls is STALLED until the time its stall ends."""
        g = self.glob
        now = max(int(g[TIME]), counter)
        points = int(g[POINTS]) + 1
        g[POINTS] = points
        depth = int(g[DEPTH])
        for i in range(depth - 1):
            if int(g[CHANGES + i]) == points:  # PCT: the i-th change point
                self.signed[me, PRIORITY] = depth - 1 - i
                why = WHY_CHANGE
        if may_stall and int(g[STALL_PPM]) and why != WHY_YIELD:
            h = _mix(int(g[SEED]) ^ (points * 0x2545_F491_4F6C_DD1D & _MASK))
            if h % 1_000_000 < int(g[STALL_PPM]):
                self.set_state(me, STALLED)
                self.cpus[me, WAKE_AT] = now + 1 + _mix(h) % max(int(g[STALL_TICKS]), 1)
                g[STALLS] += 1
                why = WHY_STALL
        best, now = self.choose(now, ram, bells, me if why == WHY_YIELD else None)
        g[TIME] = now
        if best != me:
            if best != HUNG:
                self._record(points, now, me, best, why, pc)
                g[SWITCHES] += 1
                g[TURN] = best
                self.cpus[best, GO] = 1
                futex.wake(self._address(best, GO))
        return best

    def choose(self, now: int, ram: np.ndarray, bells: doorbell.Doorbells,
               giving_way: int | None = None) -> tuple[int, int]:
        """The CPU that runs next and the time it runs at: the highest-priority CPU that
        can run now, or when `giving_way` gives way the next one down the order (above);
        if none can, the waiting CPU with the earliest deadline, at that deadline;
        (HUNG, now) if no CPU will ever run again."""
        able = [cpu for cpu in range(self.n_cpus) if self._can_run(cpu, now, ram, bells)]
        prio = self.signed[:, PRIORITY]
        if giving_way is not None:
            others = [cpu for cpu in able if cpu != giving_way]
            if others:
                cursor = int(self.glob[CURSOR:CURSOR + 1].view(np.int64)[0])
                below = [cpu for cpu in others if int(prio[cpu]) < cursor]
                best = max(below or others, key=lambda cpu: int(prio[cpu]))
                self.glob[CURSOR:CURSOR + 1].view(np.int64)[0] = prio[best]
                return best, now
        if able:
            return max(able, key=lambda cpu: int(prio[cpu])), now
        # every CPU waits: time moves on to the earliest deadline
        due = [(int(self.cpus[c, WAKE_AT]), -int(prio[c]), c)
               for c in range(self.n_cpus)
               if int(self.cpus[c, STATE]) in (WAITING, STALLED)
               and int(self.cpus[c, WAKE_AT]) != NEVER]
        if not due:
            return HUNG, now
        wake_at, _, best = min(due)
        return best, max(now, wake_at)

    # --- lockstep -------------------------------------------------------------------
    def arrive(self, ram: np.ndarray, bells: doorbell.Doorbells) -> int:
        """(A CPU process at the end of its quantum, its services synced and its state
        words set.) The generation to wait past; the last CPU to arrive opens the next
        quantum (CPU_ONs taken, TIME moved on) and returns the new generation."""
        gen = int(self.glob[GENERATION])
        arrived = doorbell.atomic_add(self._segment.array, ARRIVED * 8, 1) + 1
        if arrived < self.n_cpus:
            return gen
        self.glob[ARRIVED] = 0
        for cpu in range(self.n_cpus):
            if self.cpus[cpu, POWER_REQUEST]:
                self.cpus[cpu, POWER_REQUEST] = 0
                self.set_state(cpu, RUNNABLE)
        now = int(self.glob[TIME]) + int(self.glob[QUANTUM_TICKS])
        best, at = self.choose(now, ram, bells)
        if best == HUNG:
            self.glob[STATUS] = 1
        elif at > now:
            self.glob[SKIPPED] += at - now
        self.glob[TIME] = at
        self.glob[GENERATION] = gen + 1
        futex.wake(self._base + GENERATION * 8)
        return gen

    def wait_generation(self, gen: int, timeout: float) -> bool:
        """Sleep until the quantum after generation `gen` opens (True), at most
        `timeout` s."""
        if int(self.glob[GENERATION]) != gen:
            return True
        futex.wait(self._base + GENERATION * 8, gen & 0xFFFF_FFFF, timeout)
        return int(self.glob[GENERATION]) != gen

    def _record(self, point: int, now: int, src: int, dst: int, why: int, pc: int) -> None:
        n = int(self.glob[TRACE_COUNT])
        self.trace[n % TRACE_SLOTS] = (point, now, src << 16 | dst << 8 | why, pc)
        self.glob[TRACE_COUNT] = n + 1

    def switches(self) -> list[tuple[int, int, int, int, int, int]]:
        """The recorded switches, oldest first: (point, time, from, to, why, pc)."""
        n = int(self.glob[TRACE_COUNT])
        rows = [self.trace[i % TRACE_SLOTS] for i in range(max(0, n - TRACE_SLOTS), n)]
        return [(int(r[0]), int(r[1]), int(r[2]) >> 16, int(r[2]) >> 8 & 0xFF,
                 int(r[2]) & 0xFF, int(r[3])) for r in rows]
