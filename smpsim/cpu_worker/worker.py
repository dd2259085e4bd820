"""What a CPU process does with its core: run it in quanta and serve its exits
(DESIGN.md §3, §4), talking to the rest of the machine only through a `Ports` object.

The process's main (ZeroMQ sockets, the doorbell segment) provides the ports; tests
provide fakes, so this logic runs in one process too. One call of `step()` runs one
quantum and serves the exit it ended with; it returns what the CPU is doing next.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Protocol

from smpsim.bootctl import psci
from smpsim.cpu_worker import semihosting
from smpsim.cpu_worker.clock import HostClock, VirtualClock
from smpsim.gic_dist.virtual_interface import routed_name, trapped
from smpsim.jit import exits, state, sysreg_table
from smpsim.jit.core import Core

_HCR_TGE = 1 << 27
_HCR_WORD = state.SYSREG_BASE + sysreg_table.storage_index("HCR_EL2")
MAINT_TLB, MAINT_CODE = 1, 2  # maintenance bits (exits.MAINTENANCE, doorbell.MAINT_REQ)
MAINT_TIMEOUT = 60.0  # seconds: the others answer within microseconds unless one is gone
# what step() reports
RUNNING, WAITING, OFF, EXITED = "running", "waiting", "off", "exited"
WAIT_SIGNAL = "signal"  # (waiting_in: for an injection's signal, not in WFI/WFE)

# register name of each GIC CPU-interface encoding (SYSREG exits carry the key)
_ICC_NAMES = {r.key: r.name for r in sysreg_table.TABLE if r.special == "icc"}


class Stopped(Exception):
    """bootctl said STOP."""


class Ports(Protocol):
    """The rest of the machine, as one CPU sees it."""

    def mmio_read(self, addr: int, size: int) -> int | None: ...   # None: nothing there
    def mmio_write(self, addr: int, size: int, value: int) -> bool: ...  # False: nothing there
    def icc_read(self, reg: str, el: int) -> int: ...
    def icc_write(self, reg: str, el: int, value: int) -> None: ...
    def ppi(self, intid: int, level: bool) -> None: ...
    def firmware(self, x0: int, x1: int, x2: int, x3: int) -> psci.Call: ...
    def console(self, data: bytes) -> None: ...
    def sev(self) -> None: ...
    def changed(self) -> bool: ...  # have lines() or take_event() anything new to say?
    def lines(self) -> tuple[bool, bool]: ...  # the CPU interface's IRQ and FIQ outputs, as of
    # this CPU's last GIC operation or the last change it noticed (changed())
    def virtual_lines(self) -> tuple[bool, bool]: ...  # the virtual interface's vIRQ, vFIQ
    def ich_hcr(self) -> int: ...  # ICH_HCR_EL2 (its traps of EL1's accesses)
    def take_event(self) -> bool: ...  # an SEV from another CPU arrived (and is consumed)
    def broadcast(self, bits: int) -> dict: ...  # ask every other CPU for maintenance
    def broadcast_done(self, asked: dict) -> bool: ...  # have they all done it?
    def pause(self) -> None: ...  # wait a moment (a ring of this CPU ends it)
    def take_maintenance(self) -> tuple[int, int]: ...  # (gen, bits) asked of this CPU
    def maintenance_done(self, gen: int) -> None: ...
    def pend(self, intid: int) -> None: ...  # make SGI/PPI `intid` pending (an injection)
    def raise_signal(self, bit: int) -> None: ...  # an injection signal, for every CPU
    def signal_raised(self, bit: int) -> bool: ...


@dataclasses.dataclass(frozen=True)
class Injection:
    """A topology's [[inject]] for this CPU, resolved: `at` the physical address, the
    signals by their bit numbers; `label` how the topology named the place."""
    at: int
    label: str
    interrupt: int | None = None
    signal: int | None = None
    wait: int | None = None


@dataclasses.dataclass
class Outcome:
    state: str  # RUNNING, WAITING (in WFI/WFE), OFF (CPU_OFF) or EXITED
    exit_code: int | None = None  # for EXITED: the guest's status
    reason: str = ""  # for EXITED or a failure: one line for the user
    wait_until: int | None = None  # for WAITING: the counter value that ends the wait


class CpuWorker:
    def __init__(self, index: int, core: Core, ports: Ports, quantum: int,
                 host_time: bool, frequency: int, epoch_ns: int | None = None):
        """`epoch_ns`: the host time (time.monotonic_ns) at which every CPU's counter of
        a free run was 0."""
        self.index = index
        self.core = core
        self.ports = ports
        self.quantum = quantum
        self.clock = (HostClock(core, frequency, epoch_ns=epoch_ns) if host_time
                      else VirtualClock(core, frequency))
        self.levels = 0  # the timer outputs the GIC has been told
        self.waiting_in = None  # exits.WFI or exits.WFE while waiting, or WAIT_SIGNAL
        self.injections: dict[int, Injection] = {}  # breakpoint slot -> its injection
        self.wait_signal: int | None = None  # the signal bit an injection waits for
        self.on_injection = lambda inj, what: None  # (the process logs them)
        self.last_exit = None

    def arm(self, injections: list[Injection]) -> None:
        """Set a breakpoint at each injection's address (exits.BREAKPOINT: `step`)."""
        for inj in injections:
            self.injections[self.core.add_breakpoint(inj.at)] = inj

    def sync_inputs(self) -> None:
        """What other CPUs and the services changed for this CPU (its doorbell), now."""
        if not self.ports.changed():  # one load on the usual path
            return
        self._refresh_lines()
        self.serve_maintenance()
        if self.ports.take_event():
            self.core.send_event()

    def serve_maintenance(self) -> None:
        """What other CPUs asked of this one: forget translations (their TLBI ...IS) or
        decoded code (IC IALLUIS/IVAU), then say it is done."""
        gen, bits = self.ports.take_maintenance()
        if not gen:
            return
        if bits & MAINT_TLB:
            self.core.flush_tlb()
        if bits & MAINT_CODE:
            self.core.flush_decoded()
        self.ports.maintenance_done(gen)

    def _forward_timer_levels(self) -> None:
        new = self.core.timer_levels
        changed = new ^ self.levels
        for intid in (26, 27, 28, 30):
            if changed >> intid & 1:
                self.ports.ppi(intid, bool(new >> intid & 1))
        self.levels = new
        self._refresh_lines()

    def _refresh_lines(self) -> None:
        """The GIC's lines to the core now (after a ring, or after this CPU's own GIC
        operation: its CPU interfaces are this process's, so they are known at once)."""
        irq, fiq = self.ports.lines()
        virq, vfiq = self.ports.virtual_lines()
        self.core.set_lines(irq=irq, fiq=fiq, virq=virq, vfiq=vfiq)

    def wake_condition(self) -> bool:
        """Whether a CPU waiting in WFI/WFE (or for an injection's signal) may go on."""
        self.sync_inputs()
        if self.waiting_in == WAIT_SIGNAL:
            return self.ports.signal_raised(self.wait_signal)
        if self.core.interrupt_pending():
            return True
        if self.waiting_in == exits.WFE:
            if self.core.consume_event():
                return True
            if self._monitor_lost():
                return True
        return False

    def watching_monitor(self) -> bool:
        """A WFE with the exclusive monitor armed also ends when another CPU writes the
        monitored location (the global monitor's clear is an event): the waiter must look."""
        return self.waiting_in == exits.WFE and bool(self.core.cpu[state.EXCL_VALID])

    def monitor_watch(self) -> tuple[int, int, int] | None:
        """For a WFE with the exclusive monitor armed: (physical address, size, the
        value its load-exclusive saw); a write of another value to it ends the wait."""
        if not self.watching_monitor():
            return None
        cpu = self.core.cpu
        size = int(cpu[state.EXCL_SIZE])
        seen = int(cpu[state.EXCL_LO]) | int(cpu[state.EXCL_HI]) << 64
        return int(cpu[state.EXCL_PA]), size, seen & ((1 << (8 * size)) - 1)

    def _monitor_lost(self) -> bool:
        # the monitor is value based (loads_stores.py): memory no longer holding what the
        # load-exclusive read is the write that clears it; the event clears it too
        cpu = self.core.cpu
        if not cpu[state.EXCL_VALID]:
            return False
        size = int(cpu[state.EXCL_SIZE])
        # (the physical address: with the MMU on, EXCL_ADDR is virtual)
        now = int.from_bytes(self.core.read(int(cpu[state.EXCL_PA]), size), "little")
        seen = int(cpu[state.EXCL_LO]) | int(cpu[state.EXCL_HI]) << 64
        if now == seen & ((1 << (8 * size)) - 1):
            return False
        cpu[state.EXCL_VALID] = 0
        return True

    def wait_deadline(self) -> int | None:
        """The counter value at which the wait ends by itself (a timer output changes, or
        for WFE the event stream fires)."""
        candidates = [self.core.next_timer_deadline()]
        if self.waiting_in == exits.WFE:
            candidates.append(self.core.next_event_stream())
        due = [c for c in candidates if c is not None]
        return min(due) if due else None

    def resume(self) -> None:
        """End a wait."""
        self.waiting_in = None
        self.wait_signal = None
        self.clock.after_wait()

    def _inject(self, inj: Injection) -> Outcome:
        """An injection's place is reached (its instruction has not run): its interrupt,
        its signal, then its wait, in that order."""
        if inj.interrupt is not None:
            self.ports.pend(inj.interrupt)
            self._refresh_lines()
            self.on_injection(inj, "interrupt")
        if inj.signal is not None:
            self.ports.raise_signal(inj.signal)
            self.on_injection(inj, "signal")
        if inj.wait is None:
            return Outcome(RUNNING)
        self.on_injection(inj, "wait")
        self.waiting_in, self.wait_signal = WAIT_SIGNAL, inj.wait
        if self.wake_condition():
            self.resume()
            return Outcome(RUNNING)
        return Outcome(WAITING)

    def step(self) -> Outcome:
        core, ports = self.core, self.ports
        self.clock.before_quantum()
        self.sync_inputs()
        ex = core.run(self.quantum)
        kind = ex.kind
        self.last_exit = ex  # (a scheduler looks at why the run ended)
        if kind == exits.BUDGET or kind == exits.SCHEDULE or kind == exits.EXCEPTION:
            return Outcome(RUNNING)  # (the last two: schedule points, Core.schedule_points)
        if kind == exits.TIMER:
            self._forward_timer_levels()
            return Outcome(RUNNING)
        if kind in (exits.MMIO_READ, exits.MMIO_WRITE):
            if kind == exits.MMIO_READ:
                value = ports.mmio_read(ex.a, ex.b)
                if value is None:
                    core.take_external_abort(ex.a, False)
                else:
                    core.answer_mmio(value)
            elif ports.mmio_write(ex.a, ex.b, ex.c):
                core.answer_mmio()
            else:
                core.take_external_abort(ex.a, True)
            return Outcome(RUNNING)
        if kind == exits.SYSREG:
            name = _ICC_NAMES.get(ex.a)
            if name is None:  # every SYSREG exit is a GIC register (system_registers.py)
                return Outcome(EXITED, 70, f"cpu{self.index}: SYSREG exit for key {ex.a:#x}")
            hcr = int(core.cpu[_HCR_WORD])  # (no name lookup on this path: every SGI)
            if core.el == 1 and not hcr & _HCR_TGE and trapped(name, not ex.c,
                                                                 ports.ich_hcr(), hcr):
                core.take_sysreg_trap()  # the hypervisor's ICH_HCR_EL2 or HCR_EL2 traps it
                return Outcome(RUNNING)
            # EL1's accesses may reach the virtual interface (HCR_EL2.IMO/FMO)
            name = routed_name(name, core.el, hcr)
            if ex.c:
                core.complete(ports.icc_read(name, core.el))
            else:
                ports.icc_write(name, core.el, core.x(ex.b) if ex.b != 31 else 0)
                core.complete()
            self._refresh_lines()
            return Outcome(RUNNING)
        if kind in (exits.SMC, exits.HVC):
            call = ports.firmware(core.x(0), core.x(1), core.x(2), core.x(3))
            core.set_x(0, call.x0)
            core.complete()
            if call.action == "cpu_off":
                return Outcome(OFF)
            if call.action == "standby":  # CPU_SUSPEND: wait as WFI does
                self.waiting_in = exits.WFI
                if self.wake_condition():
                    self.resume()
                    return Outcome(RUNNING)
                return Outcome(WAITING, wait_until=self.wait_deadline())
            if call.action in ("system_off", "system_reset"):
                return Outcome(EXITED, 0, f"PSCI {call.action.upper()} from cpu{self.index}")
            return Outcome(RUNNING)
        if kind == exits.HLT:
            if ex.a != semihosting.HLT_SEMIHOSTING:
                core.take_undefined()  # halting debug is off: HLT is UNDEFINED
                return Outcome(RUNNING)
            result = semihosting.serve(core.x(0) & 0xFFFF_FFFF, core.x(1), core.read,
                                       ports.console)
            if result.exit_code is not None:
                return Outcome(EXITED, result.exit_code, f"guest exit {result.exit_code}"
                               f" (cpu{self.index})")
            core.set_x(0, result.x0)
            core.complete()
            return Outcome(RUNNING)
        if kind == exits.SEV:
            ports.sev()
            return Outcome(RUNNING)
        if kind == exits.MAINTENANCE:  # a DSB after broadcast maintenance: wait for all
            asked = ports.broadcast(ex.a)
            deadline = time.monotonic() + MAINT_TIMEOUT
            while not ports.broadcast_done(asked):
                self.serve_maintenance()  # (two CPUs may wait for each other)
                if time.monotonic() > deadline:
                    return Outcome(EXITED, 70, f"cpu{self.index}: the other CPUs did not "
                                   f"complete its TLB/cache maintenance in {MAINT_TIMEOUT} s")
                ports.pause()
            core.maintenance_done()
            return Outcome(RUNNING)
        if kind == exits.SEVL:
            return Outcome(RUNNING)
        if kind == exits.BREAKPOINT:
            return self._inject(self.injections.pop(ex.a))
        if kind in (exits.WFI, exits.WFE):
            self.waiting_in = kind
            if self.wake_condition():
                self.resume()
                return Outcome(RUNNING)
            return Outcome(WAITING, wait_until=self.wait_deadline())
        if kind == exits.FETCH_ABORT:
            ec = (ex.b >> 26) & 0x3F
            return Outcome(EXITED, 70, f"cpu{self.index}: an exception (EC {ec:#04x}) at "
                           f"pc={ex.c:#x} was taken to EL{core.el}, whose vector {ex.pc:#x} "
                           f"is not in RAM")
        return Outcome(EXITED, 70, f"cpu{self.index}: unexpected {ex}")

