"""The GIC service: one process that owns the distributor and serves the machine
(DESIGN.md §3).

The redistributors' private interrupts and the CPU interfaces live in the state this
process shares with the CPU processes (shared_state.py); each CPU process runs its own
interface over it (cpu_interface.py), so SGIs, PPIs and their acknowledge and end
never come here. What does: MMIO of the distributor and redistributor frames
(absolute addresses, QEMU virt's map in interconnect/bus.py), SPI_LEVEL from the
device service, and from the CPU interfaces SPI_ACK (a request: exactly one CPU takes
an SPI), SPI_DEACTIVATE and CPUIF_CHANGED. After each message the CPUs whose shared
state changed (an SPI offered or withdrawn, a redistributor register, GICD_CTLR) are
rung through the doorbell segment.
"""

from __future__ import annotations

import os
import sys

from smpsim import log
from smpsim.gic_dist.model import GicV3
from smpsim.gic_dist.shared_state import G_ONE_OF_N, GicState
from smpsim.interconnect import bus, doorbell, protocol
from smpsim.interconnect.control import ServiceProcess, die_with_parent, service_arguments

ONE_OF_N_LOOK_MS = 5  # while a 1-of-N SPI waits, route again at least this often


class GicService:
    """The message handling of the GIC service (no sockets: tests drive it directly)."""

    def __init__(self, affinities: list[int], state: GicState, bells: doorbell.Doorbells | None,
                 on_refused=None, reproducible: bool = False):
        """`reproducible` (serial and lockstep runs): nothing happens on host time; a
        waiting 1-of-N SPI is routed again when a CPU syncs (PING) instead."""
        # interrupts reset to Group 0, as the specification and QEMU for a bare-metal
        # image (QEMU puts them in Group 1 only when it boots a Linux kernel itself)
        self.gic = GicV3(affinities, reset_group1=False, state=state, local_cpus=False)
        self.state = state
        self.n_cpus = len(affinities)
        self.bells = bells
        self.on_refused = on_refused or (lambda reason: None)  # a posted request refused
        self.reproducible = reproducible
        self._publish()

    def _cpu(self, message: dict) -> int:
        cpu = message["cpu"]
        if not 0 <= cpu < self.n_cpus:
            raise protocol.ProtocolError(f"{message['t']}: no CPU {cpu}")
        return cpu

    def handle(self, m: dict) -> bytes | None:
        kind = m["t"]
        posted = protocol.is_posted(m)
        try:
            reply = self._serve(kind, m)
        except ValueError as exc:  # the model refuses an argument (an INTID, a size)
            reason = str(exc) if isinstance(exc, protocol.ProtocolError) else f"{kind}: {exc}"
            if posted:  # the sender waits for nothing: an ERROR would pass for a reply later
                self.on_refused(reason)
                return None
            raise protocol.ProtocolError(reason) from None
        finally:
            self._publish()
        return None if posted else reply

    def poll_interval_ms(self, idle_ms: int) -> int:
        """How long the service may wait for a message: not long while a 1-of-N SPI
        waits for a CPU (a CPU's report of its change can cross the routing)."""
        if self.reproducible:
            return idle_ms
        return ONE_OF_N_LOOK_MS if self.state.glob[G_ONE_OF_N] else idle_ms

    def idle(self) -> None:
        """Between messages: route a waiting 1-of-N SPI again."""
        if self.state.glob[G_ONE_OF_N] and not self.reproducible:
            self.gic.route()
            self._publish()

    def _serve(self, kind: str, m: dict) -> bytes:
        if kind == "MMIO_READ" or kind == "MMIO_WRITE":
            self._cpu(m)
            addr, size = m["addr"], m["size"]
            if size not in (1, 2, 4, 8):
                raise protocol.ProtocolError(f"{kind}: size {size}")
            if bus.GIC_DIST_BASE <= addr < bus.GIC_DIST_BASE + bus.GIC_DIST_SIZE:
                off = addr - bus.GIC_DIST_BASE
                if kind == "MMIO_READ":
                    return protocol.encode("MMIO_DATA", value=self.gic.dist_read(off, size))
                self.gic.dist_write(off, size, m["value"])
                return protocol.encode("ACK")
            rel = addr - bus.GIC_REDIST_BASE
            if 0 <= rel < self.n_cpus * bus.GIC_REDIST_STRIDE:
                cpu, off = divmod(rel, bus.GIC_REDIST_STRIDE)
                if kind == "MMIO_READ":
                    return protocol.encode("MMIO_DATA",
                                           value=self.gic.redist_read(cpu, off, size))
                self.gic.redist_write(cpu, off, size, m["value"])
                return protocol.encode("ACK")
            if protocol.is_posted(m):  # nobody to tell: report it
                raise protocol.ProtocolError(f"posted write to {addr:#x}, where the GIC has "
                                             "nothing")
            return protocol.encode("MMIO_FAULT", reason=f"the GIC has nothing at {addr:#x}")
        if kind == "SPI_ACK":
            prio = self.gic.acknowledge(self._cpu(m), m["intid"], m["group"])
            return protocol.encode("SPI_TAKEN", prio=-1 if prio is None else prio)
        if kind == "SPI_DEACTIVATE":
            self.gic.deactivate(self._cpu(m), m["intid"])
            return b""
        if kind == "CPUIF_CHANGED":
            self.gic.cpu_changed(self._cpu(m))
            return b""
        if kind == "SPI_LEVEL":
            self.gic.set_spi(m["intid"], m["level"])
            return b""
        if kind == "PING":
            if self.reproducible and self.state.glob[G_ONE_OF_N]:
                self.gic.route()
            return protocol.encode("ACK")
        raise protocol.ProtocolError(f"the GIC service does not serve {kind}")

    def _publish(self) -> None:
        """Ring each CPU whose shared state changed (it reads the state after the ring)."""
        touched = self.gic.take_touched()
        if self.bells is not None:
            for cpu in sorted(touched):
                self.bells.ring(cpu)


def main(argv: list[str] | None = None) -> int:
    ap = service_arguments("smpsim.gic_dist.service", "gic")
    ap.add_argument("--doorbell", required=True)
    ap.add_argument("--gic-state", required=True, help="the shared GIC state's segment")
    ap.add_argument("--affinities", required=True, help="comma-separated MPIDR affinities")
    ap.add_argument("--reproducible", action="store_true",
                    help="a serial or lockstep run: nothing on host time")
    args = ap.parse_args(argv)
    die_with_parent()
    logger = log.get_logger(args.name, args.run_dir, pid=os.getpid())
    affinities = [int(a, 0) for a in args.affinities.split(",")]
    process = ServiceProcess(args)
    bells = doorbell.Doorbells.attach(args.doorbell, len(affinities))
    state = GicState.attach(args.gic_state, len(affinities))
    core = GicService(affinities, state, bells,
                      lambda reason: logger.warning("bad_message", reason=reason),
                      args.reproducible)
    process.serve(core.handle, logger, "gic_started", "gic_stopped", idle=core.idle,
                  poll_ms=core.poll_interval_ms, cpus=len(affinities))
    state.close()
    bells.close()
    process.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
