"""The process-per-CPU machine (DESIGN.md §3): bootctl's side of a run.

It makes the run directory, the shared RAM (with the image in it) and the doorbell
segment; launches the GIC service, the device service and one process per CPU; waits
until all are READY, then STARTs them; and serves them while the run goes on: guest
console output, PSCI calls (CPU_ON powers a CPU process on), the end of the guest.
(With spin-table boot the secondaries leave their pen by themselves, when the guest
writes the release address; SEV goes from CPU to CPU through the doorbell.) It ends the run on the guest's exit, PSCI
SYSTEM_OFF, the timeout (with each CPU's PC and EL), or the death of any process —
and in every case stops and reaps every process and removes the shared memory and
the sockets, keeping the logs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import sys
import time
from typing import Callable

import zmq

from smpsim import log
from smpsim.bootctl import digest, images, psci, rundir, schedule, stop_report
from smpsim.bootctl.symbols import Symbols, SymbolsError
from smpsim.bootctl.supervisor import LaunchError, Supervisor
from smpsim.bootctl.topology import Topology
from smpsim.gic_dist.shared_state import GicState
from smpsim.interconnect import doorbell, mailbox, protocol, security
from smpsim.interconnect.shared_ram import SharedRam
from smpsim.interconnect.sockets import Endpoints

EXIT_TIMEOUT, EXIT_SIMULATOR, EXIT_USAGE = 124, 70, 2


class Interrupted(Exception):
    """SIGINT or SIGTERM reached bootctl: the run ends cleanly with 128 + the signal."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)
READY_TIMEOUT = 180.0  # seconds for every process to come up (a cold Numba cache is slow)


@dataclasses.dataclass(frozen=True)
class Outcome:
    status: int
    reason: str
    run_dir: str | None
    seconds: float
    digest: str | None = None  # (serial and lockstep runs: digest.py)
    points: int = 0  # schedule points passed (serial runs)
    switches: int = 0  # turns passed from one CPU to another (serial runs)
    report: str | None = None  # where the CPUs were, when the guest did not end the run


def run(topology: Topology, image_path=None, timeout: float | None = None,
        run_dir: str | None = None, console: Callable[[bytes], None] | None = None,
        argv: list[str] | None = None, cmdline: str | None = None,
        dtb_path=None, initrd_path=None, symbols_path=None) -> Outcome:
    """Run the machine; `cmdline` replaces boot.cmdline in the device tree, `dtb_path`
    is a device tree to give the boot CPU instead of the generated one, `initrd_path` an
    initial RAM disk instead of boot.initrd, `symbols_path` the kernel's System.map
    instead of boot.symbols (for the stop report)."""
    if console is None:
        def console(data: bytes) -> None:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
    start = time.monotonic()
    try:
        image = images.for_topology(topology, image_path)
        dtb, initrd = images.device_tree(topology, image, cmdline, dtb_path, initrd_path)
        injections = _injections(topology, image)
        symbols = _symbols(topology, image, symbols_path)
    except (images.ImageError, SymbolsError) as exc:
        return Outcome(EXIT_USAGE, str(exc), None, 0.0)
    m = topology.machine
    path = image_path or topology.boot.image
    try:
        rd = rundir.create(m.name, run_dir)
    except rundir.RunDirError as exc:
        return Outcome(EXIT_USAGE, str(exc), None, 0.0)
    r = topology.run
    plan = (schedule.Plan.from_seed(
        r.seed, len(topology.cpus), r.depth, r.points, round(r.stalls * 1_000_000),
        int(r.stall_ms / 1000 * topology.machine.counter_frequency))
        if r.mode == "serial" else None)
    rundir.record_run(rd, topology.path, argv or [], str(path),
                      None if r.mode == "free" else r.seed,
                      {"mode": r.mode, "quantum": r.quantum, "cmdline": cmdline,
                       "initrd": str(initrd_path or topology.boot.initrd or "") or None,
                       **({"depth": r.depth, "points": r.points, "stalls": r.stalls,
                           "stall_ms": r.stall_ms,
                           "priorities": list(plan.priorities), "changes": list(plan.changes)}
                          if plan else {})})
    logger = log.get_logger("bootctl", rd)
    logger.info("run_start", topology=str(topology.path), image=str(path),
                cpus=len(topology.cpus))
    # SIGTERM as Ctrl-C: through the clean-up below, never leaving processes or segments
    previous = _handle_signals(_raise_interrupted, signal.default_int_handler)
    ctx = zmq.Context()
    ends = Endpoints(rd, topology.run.transport, topology.run.listen)
    keys = security.RunKeys.create(rd) if topology.run.transport == "tcp" else None
    ram = SharedRam.create(m.ram_size)
    bells = doorbell.Doorbells.create(len(topology.cpus))
    gic_state = GicState.create(len(topology.cpus))  # (the GIC service resets it)
    sched = None
    if r.mode != "free":  # the reproducible modes' shared words (schedule.py)
        sched = schedule.Schedule.create(len(topology.cpus), plan, _quantum_ticks(topology))
    # the CPUs' mailboxes to each service (mailbox.py): a segment and an eventfd each
    boxes = {svc: (mailbox.Mailboxes.create(len(topology.cpus), tag=svc),
                   os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)) for svc in ("gic", "devices")}
    sup = None
    status, reason = EXIT_SIMULATOR, "the run did not finish"
    summary = {}
    states, report, guest_ended = {}, None, False
    try:
        for seg in (*image.segments, dtb, *([initrd] if initrd else [])):
            off = seg.address - m.ram_base
            ram.array[off:off + len(seg.data)] = memoryview(seg.data)
        sup = Supervisor(rd, ends, ctx, keys)
        status, reason, guest_ended = _run(
            topology, image, dtb.address, injections, rd, ends, ram, bells, gic_state, sched,
            boxes, keys, sup, logger, console,
            timeout if timeout is not None else topology.run.timeout)
    except LaunchError as exc:
        status, reason = EXIT_SIMULATOR, f"the machine did not start: {exc}"
    except (Interrupted, KeyboardInterrupt) as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        status = 128 + signum
        reason = f"interrupted by {signal.Signals(signum).name}"
    finally:
        _handle_signals(signal.SIG_IGN, signal.SIG_IGN)  # a second Ctrl-C: clean up anyway
        if not guest_ended:
            states = {c.index: _state(bells, c.index, topology) for c in topology.cpus}
        for cpu in range(len(topology.cpus)):  # a CPU asleep in WFI wakes to stop
            bells.set(cpu, doorbell.STOP, 1)
        if sched is not None:  # and one waiting for its turn or at the barrier
            sched.wake_all()
        if sup is not None:
            sup.shutdown(reason)
            if not guest_ended:  # (the CPUs have written where they stopped)
                report = stop_report.build(rd, len(topology.cpus), symbols, states)
                (rd / "stop_report.txt").write_text(report + "\n")
                logger.info("stop_report", lines=report.splitlines())
        if sched is not None:
            summary = _summarise(rd, sched, status, r.mode)
            sched.close()
        bells.close()
        gic_state.close()
        for segment, fd in boxes.values():
            segment.close()
            os.close(fd)
        ram.close()
        ends.cleanup()
        if keys is not None:  # the run's secret keys end with it
            shutil.rmtree(keys.folder, ignore_errors=True)
        ctx.term()
        logger.info(log.RUN_END, status=status, reason=reason)
        _handle_signals(*previous)
    return Outcome(status, reason, str(rd), time.monotonic() - start, summary.get("digest"),
                   summary.get("points", 0), summary.get("switches", 0), report)


def _symbols(topology: Topology, image, symbols_path) -> Symbols | None:
    """The kernel's System.map for the stop report: --symbols (an error if unreadable),
    else boot.symbols or a System.map beside the image, when they are there."""
    if symbols_path is not None:
        return Symbols.load(symbols_path)
    for path in (topology.boot.symbols, image.path.parent / "System.map"):
        if path is not None and path.is_file():
            try:
                return Symbols.load(path)
            except SymbolsError:
                return None
    return None


def _quantum_ticks(topology: Topology) -> int:
    """Counter ticks per lockstep quantum (the virtual clock's rate: clock.py)."""
    from smpsim.cpu_worker.clock import VirtualClock

    return int(topology.run.quantum * VirtualClock.rate(topology.machine.counter_frequency))


def _summarise(rd, sched: schedule.Schedule, status: int, mode: str) -> dict:
    """After a reproducible run: its digest, its schedule's figures, and (serial) the
    switches from CPU to CPU in `schedule.log`; all in `summary.json`."""
    summary = {"mode": mode, "status": status, "digest": digest.digest(rd, status),
               "points": int(sched.glob[schedule.POINTS]),
               "switches": int(sched.glob[schedule.SWITCHES]),
               "stalls": int(sched.glob[schedule.STALLS]),
               "time": int(sched.glob[schedule.TIME])}
    if mode == "serial":
        rundir.write_schedule(rd, sched.switches(), summary["switches"])
    (rd / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _handle_signals(on_term, on_int) -> tuple:
    """Set the SIGTERM and SIGINT handlers (main thread only); the previous ones."""
    try:
        return signal.signal(signal.SIGTERM, on_term), signal.signal(signal.SIGINT, on_int)
    except ValueError:  # not the main thread: leave signals alone
        return signal.SIG_DFL, signal.default_int_handler


def _mailbox_spec(boxes, svc: str) -> str:
    segment, fd = boxes[svc]
    return segment.spec(fd)


def _affinities(topology: Topology) -> list[int]:
    return [c.mpidr & 0xFF_00FF_FFFF for c in topology.cpus]


def _injections(topology: Topology, image) -> dict[int, list[dict]]:
    """Each CPU's [[inject]] entries with their addresses resolved (ImageError for a
    symbol the image does not have) and their signals numbered."""
    bits = {name: i for i, name in enumerate(topology.signals())}
    out: dict[int, list[dict]] = {}
    for inj in topology.injections:
        at = images.resolve(topology, image, inj.at)
        out.setdefault(inj.cpu, []).append({
            "at": at, "label": inj.at if isinstance(inj.at, str) else hex(at),
            "interrupt": inj.interrupt, "signal": bits.get(inj.signal),
            "wait": bits.get(inj.wait)})
    return out


def _cpu_config(topology: Topology, cpu, image, dtb: int, injections, epoch_ns: int,
                ends: Endpoints, ram: SharedRam, bells: doorbell.Doorbells,
                gic_state: GicState, sched, boxes, keys) -> str:
    return json.dumps({
        "mode": topology.run.mode, "schedule": sched.name if sched else None,
        "index": cpu.index, "n_cpus": len(topology.cpus), "boot": cpu.index == 0,
        "entry": image.entry, "dtb": dtb, "injections": injections.get(cpu.index, []),
        # the system counter's 0 for every CPU (CLOCK_MONOTONIC is one for all processes)
        "epoch_ns": epoch_ns,
        "start_el": cpu.start_el(topology.boot),
        "conduit": topology.boot.conduit, "quantum": topology.run.quantum,
        "host_time": topology.run.mode == "free",
        "frequency": topology.machine.counter_frequency,
        "ram_name": ram.name, "ram_size": topology.machine.ram_size,
        "ram_base": topology.machine.ram_base, "doorbell": bells.name,
        "gic_state": gic_state.name, "affinities": _affinities(topology),
        "gic": ends.address("gic"), "devices": ends.address("devices"),
        "mailboxes": {svc: _mailbox_spec(boxes, svc) for svc in boxes},
        "keys": str(keys.folder) if keys else None,
        "features": cpu.core_features(),
        "release_address": (topology.boot.release_address
                            if topology.boot.method == "spin-table" else None),
    })


def _state(bells: doorbell.Doorbells, cpu: int, topology: Topology) -> str:
    """A CPU's power and wait state, as its doorbell words say."""
    power = bells.get(cpu, doorbell.POWER)
    if power == doorbell.POWER_PEN:
        return f"in the spin-table pen ({topology.boot.release_address:#x} still 0)"
    if power == doorbell.POWER_OFF:
        return "off"
    return {doorbell.WAITING_WFX: "waiting (WFI/WFE)",
            doorbell.WAITING_SIGNAL: "waiting for an [[inject]] signal"}.get(
        bells.get(cpu, doorbell.WAITING), "")


def _where(bells: doorbell.Doorbells, cpu: int, topology: Topology) -> str:
    """Where a CPU is, for the timeout's one-line reason."""
    state = _state(bells, cpu, topology)
    if state.startswith(("in the", "off")):
        return f"cpu{cpu} {state}"
    return (f"cpu{cpu} at pc={bells.get(cpu, doorbell.PC):#x} EL{bells.get(cpu, doorbell.EL)}"
            + (f" {state}" if state else ""))


def _run(topology, image, dtb, injections, rd, ends, ram, bells, gic_state, sched, boxes, keys,
         sup, logger, console, timeout):
    affinities = ",".join(hex(a) for a in _affinities(topology))
    fds = tuple(fd for _, fd in boxes.values())
    secure = ["--keys", str(keys.folder)] if keys else []
    sup.launch("gic", "smpsim.gic_dist.service",
               [*secure, "--run-dir", str(rd), "--endpoint", ends.address("gic"),
                "--mailboxes", _mailbox_spec(boxes, "gic"),
                "--doorbell", bells.name, "--gic-state", gic_state.name,
                "--affinities", affinities,
                *(["--reproducible"] if sched is not None else [])], pass_fds=fds)
    sup.launch("devices", "smpsim.interconnect.devices",
               [*secure, "--run-dir", str(rd), "--endpoint", ends.address("devices"),
                "--mailboxes", _mailbox_spec(boxes, "devices"),
                "--gic", ends.address("gic"), "--cpus", str(len(topology.cpus))],
               pass_fds=fds)
    _compile_once(logger)  # (while the services start)
    epoch_ns = time.monotonic_ns()  # every CPU's counter counts from here
    for cpu in topology.cpus:
        sup.launch(f"cpu{cpu.index}", "smpsim.cpu_worker.process",
                   ["--run-dir", str(rd), "--config",
                    _cpu_config(topology, cpu, image, dtb, injections, epoch_ns, ends, ram,
                                bells, gic_state, sched, boxes, keys)],
                   pass_fds=fds)
    sup.wait_ready(READY_TIMEOUT)
    sup.broadcast(protocol.encode("START"))
    logger.info("machine_started", processes=len(sup.children),
                endpoints={name: ends.address(name) for name in ("control", "gic", "devices")})
    by_affinity = {c.mpidr & 0xFF_00FF_FFFF: c.index for c in topology.cpus}
    # PSCI's view; a CPU in the spin-table pen is on (running firmware) as far as PSCI knows
    spin = topology.boot.method == "spin-table"
    power = {c.index: ("on" if c.index == 0 or spin else "off") for c in topology.cpus}
    deadline = time.monotonic() + timeout
    try:
        while True:
            dead = sup.dead()
            if dead is not None:
                return EXIT_SIMULATOR, sup.describe_death(dead), False
            if time.monotonic() > deadline:
                where = "; ".join(_where(bells, c.index, topology) for c in topology.cpus)
                logger.info("timeout", cpus=where)
                return EXIT_TIMEOUT, f"timeout after {timeout:g} s: {where}", False
            got = _receive(sup, logger)
            if got is None:
                continue
            name, m = got
            kind = m["t"]
            if kind == "CONSOLE" and name == "devices":  # (it wrote console.log already)
                console(m["data"])
            elif kind == "PSCI_CALL":
                states = {aff: power[i] for aff, i in by_affinity.items()}
                call = psci.serve(m["x0"], m["x1"], m["x2"], m["x3"], states)
                logger.info("psci_call", cpu=m["cpu"], function=hex(m["x0"] & 0xFFFF_FFFF),
                            result=hex(call.x0), action=call.action)
                if call.action == "cpu_on":
                    target = by_affinity[call.target]
                    power[target] = "on"
                    sup.send(f"cpu{target}", protocol.encode("POWER_ON", entry=call.entry,
                                                             context=call.context))
                    # a reproducible run: the target runs from the caller's next point
                    # (serial) or the next quantum (lockstep), decided before the reply
                    if topology.run.mode == "serial":
                        sched.make_runnable(target)
                    elif topology.run.mode == "lockstep":
                        sched.request_power(target)
                elif call.action == "cpu_off":
                    power[m["cpu"]] = "off"
                action = call.action if call.action in ("cpu_off", "standby", "system_off",
                                                        "system_reset") else ""
                sup.send(name, protocol.encode("PSCI_RESULT", x0=call.x0, action=action))
            elif kind == "GUEST_EXIT":
                return m["code"], f"cpu{m['cpu']} ended the run with status {m['code']}", True
            elif kind == "HUNG":
                where = "; ".join(_where(bells, c.index, topology) for c in topology.cpus)
                logger.info("hung", cpus=where)
                return EXIT_TIMEOUT, f"hung: {m['reason']}: {where}", False
            else:
                logger.warning("unexpected_message", sender=name, type=kind)
    finally:
        if sup.children["devices"].process.poll() is None:
            _drain_console(sup, console, logger)


def _compile_once(logger) -> None:
    """With a cold Numba cache, compile the core here, once, rather than in every CPU
    process at the same time (DESIGN.md §4)."""
    from smpsim.jit import compile as jit_compile

    if jit_compile.cache_is_warm():
        return
    print("smpsim: compiling the jit core into Numba's cache (once; about a minute)",
          file=sys.stderr, flush=True)
    t0 = time.monotonic()
    jit_compile.warm_cache()
    logger.info("jit_compiled", seconds=round(time.monotonic() - t0, 1))


def _receive(sup: Supervisor, logger) -> tuple[str, dict] | None:
    """The next control message within 50 ms, decoded: (sender, message); a malformed one
    is logged and dropped."""
    got = sup.receive(50)
    if got is None:
        return None
    name, body = got
    try:
        return name, protocol.decode(body)
    except protocol.ProtocolError as exc:
        logger.warning("bad_message", sender=name, reason=str(exc))
        return None


def _drain_console(sup: Supervisor, console, logger, timeout: float = 5.0) -> None:
    """Print the console output still on its way from the device service: it answers a
    PING after everything it sent before (the CPUs synced with it before ending)."""
    sup.send("devices", protocol.encode("PING"))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = _receive(sup, logger)
        if got is None:
            continue
        name, m = got
        if name == "devices" and m["t"] == "ACK":
            return
        if name == "devices" and m["t"] == "CONSOLE":
            console(m["data"])
    logger.warning("console_not_drained", seconds=timeout)
