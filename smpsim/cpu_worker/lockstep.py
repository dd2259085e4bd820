"""A CPU process in a lockstep run (DESIGN.md §5): every CPU runs one quantum of
`run.quantum` instructions, then waits at a barrier in shared memory
(bootctl/schedule.py) until every CPU has arrived; guest time is virtual and moves
on by one quantum per barrier.

What it guarantees:
- at any moment every CPU is in the same quantum, so no CPU's guest time is more than
  one quantum ahead of another's (the skew is below one quantum);
- guest time is a function of the quantum's number and of the instructions run in it
  (and of idle time skipped when every CPU waits), never of the host;
- what another CPU causes for this one (an SGI or SPI made pending, an SEV, a CPU_ON,
  a wake-up from WFI/WFE) reaches it at the next quantum boundary, never inside a
  quantum: each CPU syncs its service traffic before it arrives.
So a run repeats exactly unless a CPU reads, inside one quantum, what another CPU
wrote in that same quantum (shared memory, or a GIC register it reads back): such
interleavings inside a quantum follow the host. Use `serial` when they matter.
"""

from __future__ import annotations

import numpy as np

from smpsim.bootctl import schedule as sched
from smpsim.cpu_worker import worker as w
from smpsim.cpu_worker.guest_events import log_events
from smpsim.interconnect import doorbell

BARRIER_LOOK = 200e-6  # seconds between looks at maintenance requests while at the barrier
STOP_LOOK_QUANTA = 256  # quanta between looks at STOP while running


def run(cpu, schedule: sched.Schedule) -> None:
    core, worker, bells, index, ports = cpu.core, cpu.worker, cpu.bells, cpu.index, cpu.ports
    ram = cpu.ram.array
    quantum = cpu.cfg["quantum"]
    core.watch_doorbell(np.zeros(1, dtype=np.uint64))  # (inputs: at boundaries only)
    state = cpu.initial_state()
    schedule.set_state(index, sched.RUNNABLE if state == "on" else sched.OFF)
    if state == "pen":
        cpu.wait_in_pen(schedule)
    wait_until = None
    quanta = 0
    while True:
        # --- the boundary: what the others did reaches this CPU now ------------------
        core.rebase_counter(int(schedule.glob[sched.TIME]))
        ports.inputs_open = True
        if state == "off" and int(schedule.cpus[index, sched.STATE]) == sched.RUNNABLE:
            cpu.wait_power_on()
            state = "on"
        elif state == "pen":
            if cpu.try_leave_pen(schedule):
                state = "on"
        elif state == "waiting":
            if cpu.try_wake(schedule, wait_until):
                state = "on"
        if state == "on":
            worker.sync_inputs()
        ports.inputs_open = False
        # --- the quantum -------------------------------------------------------------
        end = core.icount + quantum
        while state == "on" and core.icount < end:
            worker.quantum = end - core.icount
            out = worker.step()
            if out.state == w.RUNNING:
                continue
            log_events(core, cpu.logger)
            if out.state == w.WAITING:
                state, wait_until = "waiting", out.wait_until
                cpu.wait_in(schedule, wait_until)
            elif out.state == w.OFF:
                cpu.powered_off()
                schedule.set_state(index, sched.OFF)
                state = "off"
            elif out.state == w.EXITED:
                schedule.set_state(index, sched.EXITED)
                cpu.exited(out)  # (until bootctl's STOP)
        # --- the barrier --------------------------------------------------------------
        ports.sync_services()
        quanta += 1
        if quanta % STOP_LOOK_QUANTA == 0:
            cpu.publish_place()
            log_events(core, cpu.logger)
            if cpu.stop_requested():
                return
        gen = schedule.arrive(ram, bells)
        while not schedule.wait_generation(gen, BARRIER_LOOK):
            worker.serve_maintenance()  # (a CPU inside its quantum may wait for it)
            if bells.words[index, doorbell.STOP]:
                return
        if schedule.glob[sched.STATUS]:
            if index == 0:
                cpu.report_hung()
            cpu.wait_stop()
