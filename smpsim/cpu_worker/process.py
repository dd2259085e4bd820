"""The CPU process: one core over the shared RAM, served through its mailboxes to the
services, the control channel (ZeroMQ) and the doorbell segment (DESIGN.md §3). The logic is worker.py's; this module provides its
ports and the process's life: READY, power on (the boot CPU at the image's entry, the
others on PSCI CPU_ON or, with spin-table boot, when their release address is
written), quanta, waiting in WFI/WFE (asleep on the doorbell), STOP.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import zmq

from smpsim import log
from smpsim.bootctl import psci
from smpsim.bootctl import schedule as sched
from smpsim.bootctl.schedule import Schedule
from smpsim.cpu_worker import lockstep, serial
from smpsim.cpu_worker import worker as w
from smpsim.cpu_worker.guest_events import log_events
from smpsim.gic_dist.cpu_interface import CpuInterface
from smpsim.gic_dist.shared_state import GicState
from smpsim.gic_dist.virtual_interface import VirtualInterface
from smpsim.interconnect import bus as busmap
from smpsim.interconnect import doorbell, mailbox, protocol, security
from smpsim.interconnect.control import ControlChannel, die_with_parent
from smpsim.interconnect.shared_ram import SharedRam
from smpsim.jit.core import Core
from smpsim.jit.state import EV_SLOTS
from smpsim.jit.features import Features

REPLY_TIMEOUT_MS = 120_000  # a service that does not answer in 2 minutes is gone
LOOK_INTERVAL = 0.003  # seconds between checks for STOP and updates of the PC/EL words
IDLE_LOOK = 0.1  # seconds a waiting CPU sleeps at most before looking at its control socket
FIRST_SLEEP = 0.002  # seconds of a wait after which the CPU logs what its core recorded
SPIN_WAIT = 60e-6  # seconds a CPU entering WFI/WFE looks at its doorbell before sleeping
FREE_QUANTUM = 200_000  # instructions per call of the core in a free run (~1 ms or less)
PEN_LOOK = 0.005  # seconds between looks at the release address without an SEV
MAINTENANCE_PPI = 25  # the GIC maintenance interrupt (QEMU virt: PPI 9)
MAINT_LOOK = 100e-6  # seconds between looks at the others' answers to a broadcast
_pack = protocol.encode_unchecked  # the hot paths' messages (the services check them)
_PING = protocol.encode("PING")


Stopped = w.Stopped  # bootctl said STOP


class ServiceLink:
    """This CPU's way to one service: its mailbox (mailbox.py) when the run has one, else
    a ZeroMQ DEALER socket. Either way, messages stay in the order they were sent."""

    def __init__(self, ctx: zmq.Context, address: str, mailbox_spec: str | None, cpu: int,
                 keys: security.RunKeys | None = None, synchronous: bool = False):
        """`synchronous` (serial runs): a posted message is followed by a PING, so that
        it has been served (and what it caused is done) when `post` returns."""
        self.synchronous = synchronous
        self.unsynced = False  # posted messages since the service last answered
        self.socket = None
        self.client = None
        if mailbox_spec:
            boxes, eventfd = mailbox.Mailboxes.attach_spec(mailbox_spec)
            self.client = mailbox.Client(boxes, cpu, eventfd)
        else:
            self.socket = security.client(ctx.socket(zmq.DEALER), keys)
            self.socket.setsockopt(zmq.LINGER, 1000)
            self.socket.connect(address)

    def post(self, data: bytes) -> None:
        if self.client is not None:
            self.client.post(data)
        else:
            self.socket.send(data)
        self.unsynced = True
        if self.synchronous:
            self.sync()

    def sync(self) -> None:
        """Wait until the service has served every message posted so far."""
        if self.unsynced:
            self.ask(_PING)

    def ask(self, data: bytes) -> dict:
        """Send a request and return its reply; ProtocolError if the service refused it."""
        if self.client is not None:
            try:
                body = self.client.request(data, REPLY_TIMEOUT_MS / 1000)
            except mailbox.MailboxError as exc:
                raise TimeoutError(f"a service did not answer: {exc}") from None
        else:
            self.socket.send(data)
            if not self.socket.poll(REPLY_TIMEOUT_MS):
                raise TimeoutError("a service did not answer")
            body = self.socket.recv()
        self.unsynced = False  # (it serves a link's messages in order)
        reply = protocol.decode(body)
        if reply["t"] == "ERROR":
            raise protocol.ProtocolError(f"refused: {reply['reason']}")
        return reply


class DistributorLink:
    """cpu_interface.SpiPort over the link to the GIC service."""

    def __init__(self, gic: ServiceLink):
        self.gic = gic

    def acknowledge(self, cpu: int, intid: int, group: int) -> int | None:
        prio = self.gic.ask(_pack("SPI_ACK", cpu=cpu, intid=intid, group=group))["prio"]
        return None if prio < 0 else prio

    def deactivate(self, cpu: int, intid: int) -> None:
        self.gic.post(_pack("SPI_DEACTIVATE", cpu=cpu, intid=intid))

    def cpu_changed(self, cpu: int) -> None:
        self.gic.post(_pack("CPUIF_CHANGED", cpu=cpu))


class ZmqPorts:
    """worker.Ports over the services' mailboxes or sockets, the control channel, the
    doorbell and this CPU's GIC CPU interface (`cpuif`, set once the machine starts:
    the GIC service resets the shared state it runs on before it says READY)."""

    CONSOLE_CHUNK = 160  # bytes of console output per message (a mailbox slot holds 256)

    def __init__(self, ctx: zmq.Context, index: int, control: ControlChannel,
                 gic: ServiceLink, devices: ServiceLink, bells: doorbell.Doorbells,
                 bus: busmap.Bus):
        self.index = index
        self.control = control
        self.bells = bells
        self.bus = bus
        self.gic = gic
        self.devices = devices
        self.cpuif: CpuInterface | None = None
        self.vgic: VirtualInterface | None = None
        self._lines = (False, False)
        # whether others may have changed the shared GIC state since the CPU interface
        # last computed its lines (a ring); its own operations leave them current
        self._stale = True
        self._maintenance_level = False  # PPI 25 as last driven
        self.set_aside: list[dict] = []  # bootctl's messages read while looking for STOP
        # serial runs: the others do not run while this CPU does (their maintenance is
        # done before their next instruction); lockstep runs: what others change
        # reaches this CPU at quantum boundaries only (`inputs_open`)
        self.serial = False
        self.inputs_at_boundaries = False
        self.inputs_open = True
        self.guest_time = lambda: (0, 0)  # (instructions, CNTPCT) now: set once the core is

    def _owner(self, addr: int) -> ServiceLink | None:
        routed = self.bus.route(addr)
        if routed is None:
            return None
        return self.gic if routed[0].service == busmap.GIC else self.devices

    def mmio_read(self, addr: int, size: int) -> int | None:
        link = self._owner(addr)
        if link is None:
            return None
        reply = link.ask(_pack("MMIO_READ", cpu=self.index, addr=addr, size=size))
        return reply["value"] if reply["t"] == "MMIO_DATA" else None

    def mmio_write(self, addr: int, size: int, value: int) -> bool:
        link = self._owner(addr)
        if link is None:
            return False
        icount, counter = self.guest_time()
        if link is self.devices:  # posted: ordered per CPU by its one link
            link.post(_pack("MMIO_WRITE", cpu=self.index, addr=addr, size=size, value=value,
                            posted=True, icount=icount, counter=counter))
            return True
        reply = link.ask(_pack("MMIO_WRITE", cpu=self.index, addr=addr, size=size, value=value,
                               posted=False, icount=icount, counter=counter))
        return reply["t"] == "ACK"

    def icc_read(self, reg: str, el: int) -> int:
        if reg.startswith("IC") and reg[2] in "HV":  # ICH_* and ICV_*: the virtual interface
            value = self.vgic.read(reg)
            self._maintenance()
            return value
        value = self.cpuif.read(reg)
        self._stale = False  # (every CPU-interface operation ends with its lines current)
        return value

    def icc_write(self, reg: str, el: int, value: int) -> None:
        if reg.startswith("IC") and reg[2] in "HV":
            self.vgic.write(reg, value)
            self._maintenance()
            return
        for cpu in self.cpuif.write(reg, value):  # an SGI went pending on these CPUs
            self.bells.ring(cpu)
        self._stale = False

    def _maintenance(self) -> None:
        """The virtual interface's maintenance interrupt is PPI 25 of this CPU."""
        if self.vgic.maintenance != self._maintenance_level:
            self._maintenance_level = self.vgic.maintenance
            self.ppi(MAINTENANCE_PPI, self.vgic.maintenance)

    def virtual_lines(self) -> tuple[bool, bool]:
        return self.vgic.lines

    def ich_hcr(self) -> int:
        return self.vgic.hcr

    def ppi(self, intid: int, level: bool) -> None:
        self.cpuif.set_ppi(intid, level)

    def firmware(self, x0: int, x1: int, x2: int, x3: int) -> psci.Call:
        self.sync_devices()  # SYSTEM_OFF ends the run: the UART's output first
        self.control.send(protocol.encode("PSCI_CALL", cpu=self.index, x0=x0, x1=x1, x2=x2,
                                          x3=x3))
        m = self.control_reply("PSCI_RESULT")
        return psci.Call(m["x0"], m["action"] or None)

    def console(self, data: bytes) -> None:
        """Semihosting output, to the device service that writes the console (after this
        CPU's UART writes, on the same link), acknowledged: the lines of different CPUs
        appear in the order the guest caused them."""
        chunks = [data[i:i + self.CONSOLE_CHUNK]
                  for i in range(0, len(data), self.CONSOLE_CHUNK)] or [b""]
        for chunk in chunks[:-1]:
            self.devices.post(protocol.encode("CONSOLE", cpu=self.index, data=chunk))
        self.devices.ask(protocol.encode("CONSOLE", cpu=self.index, data=chunks[-1]))

    def sync_devices(self) -> None:
        """Wait until the device service has served this CPU's posted writes (before
        anything that may end the run, so that no UART output is left behind)."""
        self.devices.sync()

    def sync_services(self) -> None:
        """Wait until both services have served what this CPU posted (the devices'
        interrupt changes included: see devices.py), before a quantum boundary."""
        self.devices.sync()
        self.gic.sync()

    def control_message(self, timeout_ms: int) -> dict | None:
        """The next message from bootctl (one put aside by `stop_requested` first)."""
        if self.set_aside:
            return self.set_aside.pop(0)
        return _control_message(self.control, timeout_ms)

    def stop_requested(self) -> bool:
        """Whether bootctl said STOP; any other message is kept for later."""
        m = self.control_message(0)
        if m is not None and m["t"] != "STOP":
            self.set_aside.append(m)
        return m is not None and m["t"] == "STOP"

    def control_reply(self, kind: str) -> dict:
        """bootctl's next message of this kind (STOP: Stopped)."""
        while True:
            m = self.control_message(REPLY_TIMEOUT_MS)
            if m is None:
                raise TimeoutError(f"bootctl did not answer (waiting for {kind})")
            if m["t"] == "STOP":
                raise Stopped()
            if m["t"] == kind:
                return m

    def sev(self) -> None:
        for cpu in range(self.bells.n_cpus):  # straight into the others' doorbells
            if cpu != self.index:
                self.bells.set(cpu, doorbell.EVENT, 1)

    def broadcast(self, bits: int) -> dict[int, int]:
        """Ask every other CPU for maintenance `bits`; {cpu: generation} to wait for."""
        return {cpu: self.bells.request_maintenance(cpu, bits)
                for cpu in range(self.bells.n_cpus) if cpu != self.index}

    def broadcast_done(self, asked: dict[int, int]) -> bool:
        """Whether every CPU asked has done it. A CPU that is not running (off, in the
        spin-table pen) uses no translation now and does it before it runs again."""
        if self.serial:
            return True
        words = self.bells.words
        return all(int(words[cpu, doorbell.MAINT_ACK]) >= gen
                   or int(words[cpu, doorbell.POWER]) != doorbell.POWER_ON
                   for cpu, gen in asked.items())

    def pause(self) -> None:
        """Wait a moment for the others (woken at once by a ring of this CPU)."""
        self.bells.wait(self.index, MAINT_LOOK)

    def take_maintenance(self) -> tuple[int, int]:
        return self.bells.take_maintenance(self.index)

    def maintenance_done(self, gen: int) -> None:
        self.bells.words[self.index, doorbell.MAINT_ACK] = gen  # (our own word: no ring)

    def changed(self) -> bool:
        if self.inputs_at_boundaries and not self.inputs_open:
            return False
        if not self.bells.take_ring(self.index):
            return False
        self._stale = True  # (an SGI, an SPI offered, a redistributor register...)
        if self.bells.words[self.index, doorbell.STOP]:
            raise Stopped()
        return True

    def lines(self) -> tuple[bool, bool]:
        if self._stale:
            self.cpuif.evaluate()
            self._stale = False
        lines = self.cpuif.lines
        if lines != self._lines:  # (for reports: no ring)
            self._lines = lines
            self.bells.words[self.index, doorbell.IRQ] = int(lines[0])
            self.bells.words[self.index, doorbell.FIQ] = int(lines[1])
        return lines

    def pend(self, intid: int) -> None:
        self.cpuif.make_pending(intid)

    def raise_signal(self, bit: int) -> None:
        self.bells.raise_signal(bit)

    def signal_raised(self, bit: int) -> bool:
        return bool(self.bells.get(self.index, doorbell.SIGNALS) >> bit & 1)

    def take_event(self) -> bool:
        if self.bells.get(self.index, doorbell.EVENT):
            self.bells.words[self.index, doorbell.EVENT] = 0  # (our own word: no ring)
            return True
        return False


def _spin_for_ring(bells: doorbell.Doorbells, index: int, seconds: float) -> bool:
    """Look at this CPU's RING word for a short while before sleeping on it: an answer
    that comes within that time (an SGI's reply, a device's interrupt) then costs no
    futex wake-up, which on a virtual machine is ~25 µs. Whether it was rung."""
    ring = bells.words[index]
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        if ring[doorbell.RING]:
            return True
    return False


def _control_message(control: ControlChannel, timeout_ms: int) -> dict | None:
    if not control.socket.poll(timeout_ms):
        return None
    return protocol.decode(control.socket.recv())


class CpuContext:
    """One CPU process's parts, for the loop of its run mode (free here, serial.py,
    lockstep.py): its core and worker, its ports, the doorbell and the RAM."""

    def __init__(self, cfg: dict, core: Core, worker: w.CpuWorker, ports: ZmqPorts,
                 ram: SharedRam, logger, features: Features):
        self.index = ports.index
        self.cfg = cfg
        self.core = core
        self.worker = worker
        self.ports = ports
        self.bells = ports.bells
        self.ram = ram
        self.control = ports.control
        self.logger = logger
        self.features = features
        self.release = cfg.get("release_address")  # spin-table: the word its pen polls

    def guest_time(self) -> dict:
        """What every record of this CPU says of its time."""
        return {"icount": self.core.icount, "counter": self.core.counter}

    def initial_state(self) -> str:
        """"on" (the boot CPU, powered on here), "pen" (spin-table) or "off"."""
        if self.cfg["boot"]:
            self.power_on(self.cfg["entry"], self.cfg.get("dtb", 0))  # x0: the device tree
            return "on"
        if self.release is not None:
            self.bells.set(self.index, doorbell.POWER, doorbell.POWER_PEN)
            return "pen"
        return "off"

    def power_on(self, entry: int, context: int) -> None:
        core = self.core
        if self.cfg["start_el"] == 1 or not self.features.el2:
            core.set_el(1)
        # nothing translated or decoded before it was off may be used: other CPUs did
        # not wait for it while it was off (ZmqPorts.broadcast_done)
        self.worker.serve_maintenance()
        core.flush_tlb()
        core.flush_decoded()
        core.pc = entry
        core.set_x(0, context)
        self.bells.set(self.index, doorbell.POWER, doorbell.POWER_ON)
        self.logger.info("power_on", entry=hex(entry), el=core.el, **self.guest_time())

    def wait_power_on(self) -> None:
        """Wait for bootctl's POWER_ON (already sent: a reproducible mode made this CPU
        runnable before it answered the CPU_ON) and power on."""
        m = self.ports.control_reply("POWER_ON")
        self.power_on(m["entry"], m["context"])

    def release_entry(self) -> int:
        """The spin-table release address's word now (0: stay in the pen)."""
        off = self.release - self.cfg["ram_base"]
        return int(self.ram.array[off:off + 8].view(np.uint64)[0])

    def leave_pen(self, entry: int) -> None:
        self.bells.words[self.index, doorbell.EVENT] = 0  # the pen's WFE consumed it
        self.logger.info("spin_table_release", release_address=hex(self.release),
                         **self.guest_time())
        self.power_on(entry, 0)

    def try_leave_pen(self, schedule) -> bool:
        """A reproducible run's turn or boundary in the pen: leave it (runnable again)
        if the release address has an entry now."""
        self.bells.take_ring(self.index)
        entry = self.release_entry()
        if not entry:
            return False
        self.leave_pen(entry)
        schedule.set_state(self.index, sched.RUNNABLE)
        return True

    def try_wake(self, schedule, wait_until: int | None) -> bool:
        """A reproducible run's turn or boundary in WFI/WFE: go on (runnable again) if
        its deadline has come or its wake condition holds."""
        if not ((wait_until is not None and self.core.counter >= wait_until)
                or self.worker.wake_condition()):
            return False
        self.bells.words[self.index, doorbell.WAITING] = 0
        self.worker.resume()
        schedule.set_state(self.index, sched.RUNNABLE)
        return True

    def report_hung(self) -> None:
        """Tell bootctl that no CPU of a reproducible run can ever run again; wait for
        its STOP."""
        self.control.send(protocol.encode(
            "HUNG", cpu=self.index, reason="every CPU waits (WFI/WFE, off or in the pen) and "
            "nothing can wake one: no deadline, no interrupt, no event"))
        self.wait_stop()

    def stop_requested(self) -> bool:
        return bool(self.bells.words[self.index, doorbell.STOP]) or self.ports.stop_requested()

    def publish_place(self) -> None:
        """Where the CPU is, for reports (no ring)."""
        self.bells.words[self.index, doorbell.PC] = self.core.pc
        self.bells.words[self.index, doorbell.EL] = self.core.el

    def mark_waiting(self) -> None:
        """Say, for reports, that the CPU waits (in WFI/WFE, or for an injection's
        signal)."""
        self.bells.words[self.index, doorbell.PC] = self.core.pc
        self.bells.words[self.index, doorbell.WAITING] = (
            doorbell.WAITING_SIGNAL if self.worker.waiting_in == w.WAIT_SIGNAL
            else doorbell.WAITING_WFX)

    def wait_in_pen(self, schedule) -> None:
        """A reproducible run: the CPU waits in the spin-table pen until its release
        address no longer holds 0."""
        schedule.set_waiting(self.index, None, (self.release - self.cfg["ram_base"], 8, 0))

    def wait_in(self, schedule, wait_until: int | None) -> None:
        """A reproducible run: the CPU waits until `wait_until` (a count), a ring, or
        a write to the location its exclusive monitor watches (schedule.py)."""
        self.mark_waiting()
        watch = self.worker.monitor_watch()
        if watch is not None:
            watch = (watch[0] - self.cfg["ram_base"], *watch[1:])
        schedule.set_waiting(self.index, wait_until, watch)

    def powered_off(self) -> None:
        self.bells.set(self.index, doorbell.POWER, doorbell.POWER_OFF)
        self.logger.info("power_off", **self.guest_time())

    def exited(self, out: w.Outcome) -> None:
        """The guest ended the run: tell bootctl, then wait for its STOP."""
        self.ports.sync_devices()
        self.control.send(protocol.encode("GUEST_EXIT", cpu=self.index, code=out.exit_code))
        self.logger.info("guest_exit", code=out.exit_code, reason=out.reason,
                         **self.guest_time())
        self.wait_stop()

    def wait_stop(self) -> None:
        while True:  # wait for bootctl to end the run
            m = self.ports.control_message(1000)
            if m is not None and m["t"] == "STOP":
                raise Stopped()


def _run_free(cpu: CpuContext) -> None:
    """The free run: the CPU runs as fast as the host lets it, in parallel with the
    others, on the host's time; it sleeps on its doorbell while it waits."""
    core, worker, bells, index, cfg = cpu.core, cpu.worker, cpu.bells, cpu.index, cpu.cfg
    logger, ports = cpu.logger, cpu.ports
    state = cpu.initial_state()
    next_look = 0.0
    while True:
        if state == "off":
            m = ports.control_message(1000)
            if m is None:
                continue
            if m["t"] == "STOP":
                return
            if m["t"] == "POWER_ON":
                cpu.power_on(m["entry"], m["context"])
                state = "on"
            continue
        if state == "pen":  # the firmware's holding pen: WFE until the word is set
            entry = cpu.release_entry()
            if entry:
                cpu.leave_pen(entry)
                state = "on"
                continue
            if cpu.stop_requested():
                return
            bells.take_ring(index)  # an SEV (or anything): look at the word again
            bells.wait(index, PEN_LOOK)
            continue
        now = time.monotonic()
        if now >= next_look:  # the shell's chores, a few hundred times a second
            next_look = now + LOOK_INTERVAL
            if cpu.stop_requested():
                return
            cpu.publish_place()
            log_events(core, logger)
        out = worker.step()
        if core.events_pending >= EV_SLOTS // 2:  # the ring fills: log before it loses any
            log_events(core, logger)
        if out.state == w.RUNNING:
            continue
        if out.state != w.WAITING:
            log_events(core, logger)  # before going off or ending: the log is current
        if out.state == w.OFF:
            state = "off"
            cpu.powered_off()
            continue
        if out.state == w.EXITED:
            cpu.exited(out)
        # WAITING: asleep on the doorbell until a wake condition, the deadline or STOP
        cpu.mark_waiting()
        watch = 50e-6  # WFE with the monitor armed: look at memory, backing off
        sleeps = 0  # a short wait logs nothing (the log catches up after it); a long
        while not worker.wake_condition():  # one logs after its first, short sleep
            if sleeps == 1:
                log_events(core, logger)
            sleeps += 1
            if cpu.stop_requested():
                raise Stopped()
            timeout = IDLE_LOOK
            if out.wait_until is not None:
                ahead = out.wait_until - worker.clock.now()
                if ahead <= 0:
                    core.rebase_counter(out.wait_until)
                    break
                timeout = min(timeout, ahead / cfg["frequency"])
            if worker.watching_monitor():
                timeout = min(timeout, watch)
                watch = min(watch * 2, 1e-3)
            if sleeps == 1 and not worker.watching_monitor() \
                    and _spin_for_ring(bells, index, min(timeout, SPIN_WAIT)):
                continue  # rung while spinning: no sleep, no wake-up to pay for
            bells.wait(index, min(timeout, FIRST_SLEEP) if sleeps == 1 else timeout)
        bells.words[index, doorbell.WAITING] = 0
        worker.resume()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="smpsim.cpu_worker.process")
    ap.add_argument("--name", required=True)
    ap.add_argument("--control", required=True)
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--config", required=True, help="this CPU, as JSON")
    args = ap.parse_args(argv)
    die_with_parent()
    cfg = json.loads(args.config)
    index = cfg["index"]
    logger = log.get_logger(args.name, args.run_dir, pid=os.getpid())
    ram = SharedRam.attach(cfg["ram_name"], cfg["ram_size"])
    bells = doorbell.Doorbells.attach(cfg["doorbell"], cfg["n_cpus"])
    gic_state = GicState.attach(cfg["gic_state"], cfg["n_cpus"])
    features = Features.from_dict(cfg["features"])
    core = Core(ram.array, ram_base=cfg["ram_base"], features=features)
    core.set_sysreg("CNTFRQ_EL0", cfg["frequency"])
    core.firmware_hvc = cfg["conduit"] == "hvc"
    ctx = zmq.Context()
    keys = security.keys_at(cfg.get("keys"))
    control = ControlChannel(ctx, args.control, args.name, keys)
    mode = cfg.get("mode", "free")
    links = {svc: ServiceLink(ctx, cfg[svc], cfg.get("mailboxes", {}).get(svc), index, keys,
                              synchronous=mode == "serial")
             for svc in ("gic", "devices")}
    ports = ZmqPorts(ctx, index, control, links["gic"], links["devices"], bells,
                     busmap.Bus.virt(cfg["n_cpus"], cfg["ram_base"], cfg["ram_size"]))
    ports.serial = mode == "serial"
    ports.inputs_at_boundaries = mode == "lockstep"
    core.watch_doorbell(bells.ring_word(index))
    # the core watches the doorbell while it runs, so in a free run a long quantum costs
    # no latency and saves the shell's per-quantum overhead; other modes keep theirs
    quantum = max(cfg["quantum"], FREE_QUANTUM) if cfg["host_time"] else cfg["quantum"]
    worker = w.CpuWorker(index, core, ports, quantum, cfg["host_time"], cfg["frequency"],
                         cfg.get("epoch_ns"))
    worker.arm([w.Injection(**i) for i in cfg.get("injections", [])])
    ports.guest_time = lambda: (core.icount, core.counter)
    control.ready_and_wait_start(120_000)
    ports.cpuif = CpuInterface(index, gic_state, cfg["affinities"], DistributorLink(links["gic"]))
    # a list register with HW = 1 ends its physical interrupt through the CPU interface
    ports.vgic = VirtualInterface(ports.cpuif.deactivate)
    cpu = CpuContext(cfg, core, worker, ports, ram, logger, features)
    worker.on_injection = lambda inj, action: logger.info(
        "injection", action=action, at=hex(inj.at), label=inj.label, intid=inj.interrupt,
        pc=hex(core.pc), el=core.el, **cpu.guest_time())
    status = 0
    schedule = None
    try:
        if mode == "free":
            _run_free(cpu)
        else:
            schedule = Schedule.attach(cfg["schedule"], cfg["n_cpus"])
            if cfg["mode"] == "serial":
                serial.run(cpu, schedule)
            else:
                lockstep.run(cpu, schedule)
    except Stopped:
        pass
    except (TimeoutError, protocol.ProtocolError) as exc:
        logger.error("cpu_failed", reason=str(exc))
        status = 70
    log_events(core, logger)
    # with the syndrome registers of its EL, for the stop report (bootctl/stop_report.py)
    el = max(core.el, 1)
    logger.info("cpu_stopped", pc=hex(core.pc), el=core.el,
                **{f"{r.lower()}": hex(core.sysreg(f"{r}_EL{el}")) for r in ("ESR", "FAR", "ELR")},
                **cpu.guest_time())
    control.close()
    ctx.destroy(linger=0)  # nobody is left to hear what is still queued
    ram.close()
    gic_state.close()
    bells.close()
    if schedule is not None:
        schedule.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
