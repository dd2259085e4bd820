"""Run a topology on one core, in this process.

This is the machine as far as one core reaches: one CPU with its exception levels and
system registers, guest RAM, the PL011 console, semihosting and PSCI firmware.
Topologies with more CPUs are refused until the process-per-CPU machine (CPU
processes, GIC and device services over ZeroMQ) exists. Exceptions are the guest's
own business; an access where no device is mapped is an external abort in the guest.

Exit status (DESIGN.md §7): the guest's semihosting exit code; 0 after PSCI SYSTEM_OFF;
124 on timeout or a CPU that can never wake; 70 when the simulator cannot go on (an
exception whose vector is not in RAM, a device this build does not model); 2 for a bad
topology or image.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from typing import Callable

import numpy as np

from smpsim.bootctl import images, psci
from smpsim.bootctl.stop_report import EC_NAMES
from smpsim.bootctl.topology import Topology
from smpsim.cpu_worker import semihosting
from smpsim.cpu_worker.clock import HostClock, VirtualClock
from smpsim.interconnect import pl011
from smpsim.jit import exits
from smpsim.jit.core import Core, Exit
from smpsim.jit.features import Features

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


def _lost_vector(core: Core, ex: Exit) -> str:
    """The report of an exception whose vector is outside RAM."""
    ec = (ex.b >> 26) & 0x3F
    what = EC_NAMES.get(ec, f"an exception (EC {ec:#04x})")
    el = core.el
    return (f"CPU0: {what} at pc={ex.c:#x} (ESR {ex.b:#x}) was taken to EL{el}, whose "
            f"vector {ex.pc:#x} is not in RAM (VBAR_EL{el} = "
            f"{core.sysreg(f'VBAR_EL{el}'):#x}): the guest has no exception handler there")


def _core_for(topology: Topology) -> Core:
    """CPU0 of the topology at reset, in the EL the topology starts it in."""
    cpu = topology.cpus[0]
    features = Features.from_dict(cpu.core_features())
    m = topology.machine
    core = Core(np.zeros(m.ram_size, dtype=np.uint8), ram_base=m.ram_base, features=features)
    if cpu.start_el(topology.boot) == 1:
        core.set_el(1)
    core.firmware_hvc = topology.boot.conduit == "hvc"
    return core


def run(topology: Topology, image_path=None, timeout: float | None = None,
        console: Callable[[bytes], None] | None = None, cmdline: str | None = None,
        dtb_path=None, initrd_path=None) -> Outcome:
    """Run a one-CPU topology in this process (`cmdline`, `dtb_path`, `initrd_path`: as
    machine.run)."""
    if console is None:
        def console(data: bytes) -> None:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
    if len(topology.cpus) != 1:  # (the CLI sends those to bootctl/machine.py)
        return Outcome(EXIT_USAGE, f"{topology.path}: {len(topology.cpus)} CPUs: the "
                       "in-process runner runs one CPU", 0, 0.0)
    try:
        image = images.for_topology(topology, image_path)
        dtb, initrd = images.device_tree(topology, image, cmdline, dtb_path, initrd_path)
    except images.ImageError as exc:
        return Outcome(EXIT_USAGE, str(exc), 0, 0.0)

    core = _core_for(topology)
    for seg in (*image.segments, dtb, *([initrd] if initrd else [])):
        core.load(seg.address, seg.data)  # the rest of mem_size is already zero
    core.pc = image.entry
    core.set_x(0, dtb.address)  # the device tree (booting.rst)
    uart = pl011.Pl011(console)
    # guest time: the host's in free runs, a virtual clock in reproducible ones
    frequency = topology.machine.counter_frequency
    clock = (HostClock if topology.run.mode == "free" else VirtualClock)(core, frequency)
    core.set_sysreg("CNTFRQ_EL0", frequency)
    limit = timeout if timeout is not None else topology.run.timeout
    start = time.monotonic()
    deadline = start + limit

    def outcome(status: int, reason: str) -> Outcome:
        return Outcome(status, reason, core.icount, time.monotonic() - start)

    while True:
        clock.before_quantum()
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
        elif kind == exits.HLT:  # halting debug is not enabled: HLT is UNDEFINED
            core.take_undefined()
        elif kind in (exits.MMIO_READ, exits.MMIO_WRITE):
            if not pl011.BASE <= ex.a < pl011.BASE + pl011.SIZE:
                core.take_external_abort(ex.a, kind == exits.MMIO_WRITE)
            elif kind == exits.MMIO_READ:
                core.answer_mmio(uart.read(ex.a - pl011.BASE, ex.b))
            else:
                uart.write(ex.a - pl011.BASE, ex.b, ex.c)
                core.answer_mmio()
        elif kind in (exits.SMC, exits.HVC):
            call = psci.serve(core.x(0), core.x(1), core.x(2), core.x(3),
                              {topology.cpus[0].mpidr & 0xFF_00FF_FFFF: "on"})
            if call.action == "system_off":
                return outcome(0, "PSCI SYSTEM_OFF")
            if call.action == "system_reset":
                return outcome(0, "PSCI SYSTEM_RESET: the run ends (reset is not modelled)")
            core.set_x(0, call.x0)
            core.complete()
        elif kind == exits.FETCH_ABORT:
            return outcome(EXIT_SIMULATOR, _lost_vector(core, ex))
        elif kind == exits.TIMER:
            continue  # the timers' outputs go to the GIC, which this build does not have
        elif kind in (exits.SEV, exits.SEVL, exits.WFE):
            continue  # one CPU: an event is only a hint, WFE may return at once
        elif kind == exits.WFI:
            return outcome(EXIT_TIMEOUT, f"CPU0 waits for an interrupt at pc={ex.pc:#x}, "
                           "and this machine has no interrupt source yet")
        else:  # SYSREG: the GIC's registers
            return outcome(EXIT_SIMULATOR, f"CPU0: {_describe(ex)}: the GIC is not modelled "
                           "yet")
