"""Run a topology on one core, in this process.

This is the machine as far as the integer core reaches: one CPU, guest RAM, the
PL011 console and semihosting. Topologies with more CPUs are refused until the
process-per-CPU machine (CPU processes, GIC and device services over ZeroMQ) exists;
exceptions, system registers and firmware calls end the run with a report until the
exception model exists.

Exit status (DESIGN.md §7): the guest's semihosting exit code; 124 on timeout or a CPU
that can never wake; 70 when the simulator cannot go on; 2 for a bad topology or image.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from typing import Callable

import numpy as np

from smpsim.bootctl import images
from smpsim.bootctl.topology import Topology
from smpsim.cpu_worker import semihosting
from smpsim.interconnect import pl011
from smpsim.jit import exits
from smpsim.jit.core import Core, Exit

EXIT_TIMEOUT = 124
EXIT_SIMULATOR = 70
EXIT_USAGE = 2


@dataclasses.dataclass(frozen=True)
class Outcome:
    status: int
    reason: str  # one line for the user
    instructions: int
    seconds: float


def _describe(ex: Exit) -> str:
    return f"{ex.name} at pc={ex.pc:#x} (insn {ex.insn:#010x})"


def run(topology: Topology, image_path=None, timeout: float | None = None,
        console: Callable[[bytes], None] | None = None) -> Outcome:
    if console is None:
        def console(data: bytes) -> None:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
    if len(topology.cpus) != 1:
        return Outcome(EXIT_USAGE, f"{topology.path}: {len(topology.cpus)} CPUs: this build runs "
                       "one CPU; the process-per-CPU machine is not implemented yet", 0, 0.0)
    path = image_path or topology.boot.image
    if path is None:
        return Outcome(EXIT_USAGE, f"{topology.path}: no image: set boot.image or give --kernel", 0, 0.0)
    m = topology.machine
    try:
        image = images.load(path, m.ram_base, m.ram_size)
    except images.ImageError as exc:
        return Outcome(EXIT_USAGE, str(exc), 0, 0.0)

    core = Core(np.zeros(m.ram_size, dtype=np.uint8), ram_base=m.ram_base)
    for seg in image.segments:
        core.load(seg.address, seg.data)  # the rest of mem_size is already zero
    core.pc = image.entry
    uart = pl011.Pl011(console)
    limit = timeout if timeout is not None else topology.run.timeout
    start = time.monotonic()
    deadline = start + limit

    def outcome(status: int, reason: str) -> Outcome:
        return Outcome(status, reason, core.icount, time.monotonic() - start)

    while True:
        ex = core.run(topology.run.quantum)
        kind = ex.kind
        if kind == exits.BUDGET:
            if time.monotonic() > deadline:
                return outcome(EXIT_TIMEOUT, f"timeout after {limit:g} s: CPU0 at pc={core.pc:#x}")
        elif kind == exits.HLT and ex.a == semihosting.HLT_SEMIHOSTING:
            result = semihosting.serve(core.x(0) & 0xFFFF_FFFF, core.x(1), core.read, console)
            if result.exit_code is not None:
                return outcome(result.exit_code, f"guest exit {result.exit_code}")
            core.set_x(0, result.x0)
            core.complete()
        elif kind in (exits.MMIO_READ, exits.MMIO_WRITE):
            if not pl011.BASE <= ex.a < pl011.BASE + pl011.SIZE:
                return outcome(EXIT_SIMULATOR, f"CPU0: access to {ex.a:#x}, where no device "
                               f"is mapped, by {_describe(ex)}: data aborts are not modelled yet")
            if kind == exits.MMIO_READ:
                core.answer_mmio(uart.read(ex.a - pl011.BASE, ex.b))
            else:
                uart.write(ex.a - pl011.BASE, ex.b, ex.c)
                core.answer_mmio()
        elif kind in (exits.SEV, exits.SEVL, exits.WFE):
            continue  # one CPU: an event is only a hint, WFE may return at once
        elif kind == exits.WFI:
            return outcome(EXIT_TIMEOUT, f"CPU0 waits for an interrupt at pc={ex.pc:#x}, "
                           "and this machine has no interrupt source yet")
        else:
            return outcome(EXIT_SIMULATOR, f"CPU0: {_describe(ex)}: exceptions, system "
                           "registers and firmware calls are not modelled yet")
