"""A CPU process in a serial run (DESIGN.md §5): it runs only while it holds the turn,
from one schedule point to the next, and then lets bootctl/schedule.py's seeded
scheduler pick who runs next.

What makes the run repeat exactly, whatever the host does:
- the core stops at every schedule point (Core.schedule_points) and otherwise never
  looks at its doorbell while it runs: what others did reaches it at a point;
- its accesses to the services complete before it goes on (the links are synchronous:
  a posted message is followed by a PING, and the device service passes its interrupt
  changes to the GIC service before it answers), so at every point the machine is in
  the state this CPU's instructions left it;
- guest time is the scheduler's virtual TIME, never the host's;
- TLB and code maintenance asked of the others completes at once: they do not run,
  and do it at their next turn, before their next instruction.
"""

from __future__ import annotations

import numpy as np

from smpsim.bootctl import schedule as sched
from smpsim.cpu_worker import worker as w
from smpsim.cpu_worker.guest_events import log_events
from smpsim.interconnect import bus as busmap
from smpsim.jit import exits
from smpsim.jit.state import EV_SLOTS

TURN_LOOK = 0.1  # seconds a CPU without the turn sleeps before it looks at STOP
LOG_POINTS = 4096  # schedule points between two drains of the core's event ring


def _why(out: w.Outcome, ex, ran: int, quantum: int) -> int:
    """How the point counts for the scheduler: the CPU gives way (it spins, or it has
    run `quantum` instructions since it got the turn) or not."""
    if out.state != w.RUNNING or ex is None:
        return sched.WHY_POINT
    if ran >= quantum or ex.kind == exits.WFE:  # (the budget's end included; a WFE
        return sched.WHY_YIELD  # that did not sleep)
    if ex.kind == exits.SCHEDULE and ex.b == 1:  # a YIELD
        return sched.WHY_YIELD
    return sched.WHY_POINT


def _device_access(cpu, ex) -> bool:
    """Whether the run ended at an access to the device service's devices (the UART:
    a character each; they are not where a stall is worth drawing)."""
    if ex is None or ex.kind not in (exits.MMIO_READ, exits.MMIO_WRITE):
        return False
    routed = cpu.ports.bus.route(ex.a)
    return routed is not None and routed[0].service != busmap.GIC


def run(cpu, schedule: sched.Schedule) -> None:
    kinds: dict[str, int] = {}  # this CPU's schedule points by what ended the run
    try:
        _run(cpu, schedule, kinds)
    finally:
        cpu.logger.info("schedule_points", **dict(sorted(kinds.items())))


def _run(cpu, schedule: sched.Schedule, kinds: dict[str, int]) -> None:
    core, worker, bells, index = cpu.core, cpu.worker, cpu.bells, cpu.index
    ram = cpu.ram.array
    core.schedule_points = True
    core.watch_doorbell(np.zeros(1, dtype=np.uint64))  # (never rung: see above)
    state = cpu.initial_state()
    if state == "pen":
        cpu.wait_in_pen(schedule)
    points = 0
    wait_until = None
    quantum = worker.quantum
    slice_start = core.icount  # where this CPU's turn (or its last giving way) began
    mine = False  # whether it held the turn at its last point
    while True:
        if not schedule.wait_turn(index, TURN_LOOK):
            if cpu.stop_requested():
                return
            mine = False
            continue
        if not mine:
            slice_start = core.icount
        core.rebase_counter(int(schedule.glob[sched.TIME]))
        why = sched.WHY_WAIT
        if state == "off":  # bootctl made it runnable: a CPU_ON
            cpu.wait_power_on()
            schedule.set_state(index, sched.RUNNABLE)
            state = "on"
        elif state == "pen":
            if cpu.try_leave_pen(schedule):
                state = "on"
        elif state == "stalled":  # (the scheduler gives it the turn when the stall ends)
            schedule.set_state(index, sched.RUNNABLE)
            state = "on"
        elif state == "waiting":
            if cpu.try_wake(schedule, wait_until):
                state = "on"
        if state == "on":
            out = worker.step()
            points += 1
            name = exits.NAMES.get(worker.last_exit.kind, "?")
            kinds[name] = kinds.get(name, 0) + 1
            if points % LOG_POINTS == 0 or core.events_pending >= EV_SLOTS // 2:
                cpu.publish_place()
                log_events(core, cpu.logger)
                if cpu.stop_requested():
                    return
            why = _why(out, worker.last_exit, core.icount - slice_start, quantum)
            if out.state == w.WAITING:
                log_events(core, cpu.logger)
                state, wait_until = "waiting", out.wait_until
                cpu.wait_in(schedule, wait_until)
                why = sched.WHY_WAIT
            elif out.state == w.OFF:
                log_events(core, cpu.logger)
                cpu.powered_off()
                schedule.set_state(index, sched.OFF)
                state, why = "off", sched.WHY_OFF
            elif out.state == w.EXITED:
                log_events(core, cpu.logger)
                schedule.set_state(index, sched.EXITED)
                cpu.exited(out)  # (until bootctl's STOP: the turn stays here)
        if why == sched.WHY_YIELD:
            slice_start = core.icount
        may_stall = why == sched.WHY_POINT and not _device_access(cpu, worker.last_exit)
        nxt = schedule.pass_turn(index, core.counter, why, core.pc, ram, bells, may_stall)
        mine = nxt == index
        if state == "on" and int(schedule.cpus[index, sched.STATE]) == sched.STALLED:
            state = "stalled"
        if nxt == sched.HUNG:
            log_events(core, cpu.logger)
            cpu.report_hung()
