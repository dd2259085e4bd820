"""The GIC service: one process that owns the GICv3 state (model.py) and serves the
machine over ZeroMQ (DESIGN.md §3).

Requests (protocol.py): MMIO_READ/MMIO_WRITE of the distributor and redistributor
frames (absolute addresses, QEMU virt's map in interconnect/bus.py), ICC_READ/
ICC_WRITE from CPU processes, PPI_LEVEL from CPU processes (their timers) and
SPI_LEVEL from the device service. After each request the CPUs' IRQ/FIQ outputs that
changed are written to the doorbell segment, where each CPU process reads them
without a socket; `on_lines` also hears of them (the process wakes a waiting CPU).
"""

from __future__ import annotations

import os
import sys
from typing import Callable


from smpsim import log
from smpsim.gic_dist.model import GicV3
from smpsim.interconnect import bus, doorbell, protocol
from smpsim.interconnect.control import ServiceProcess, die_with_parent, service_arguments

_OFFERS_KEPT = 64  # offers remembered per CPU (a CPU takes one at most a few behind)


class GicService:
    """The message handling of the GIC service (no sockets: tests drive it directly)."""

    def __init__(self, affinities: list[int], bells: doorbell.Doorbells | None,
                 on_lines: Callable[[int, bool, bool], None] | None = None,
                 on_refused: Callable[[str], None] | None = None):
        # interrupts reset to Group 0, as the specification and QEMU for a bare-metal
        # image (QEMU puts them in Group 1 only when it boots a Linux kernel itself)
        self.gic = GicV3(affinities, reset_group1=False)
        self.n_cpus = len(affinities)
        self.bells = bells
        self.on_lines = on_lines or (lambda cpu, irq, fiq: None)
        # each CPU's offer (doorbell.OFFER): what its ICC_IAR1_EL1 would return now if
        # that is its own SGI or PPI, so that it can take it without a round trip
        self.offered = [(doorbell.SPURIOUS, 0)] * self.n_cpus  # (intid, gen) last written
        self.written: list[tuple[int, int] | None] = [None] * self.n_cpus  # (intid, served)
        self.served = [0] * self.n_cpus  # the last offer whose ICC_ACK was served
        self.offers: list[dict[int, int]] = [{} for _ in range(self.n_cpus)]  # gen -> intid
        self.on_refused = on_refused or (lambda reason: None)  # a posted request refused

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
        if kind == "ICC_READ":
            value = self.gic.icc_read(self._cpu(m), m["reg"], m["el"])
            return protocol.encode("ICC_VALUE", value=value)
        if kind == "ICC_WRITE":
            self.gic.icc_write(self._cpu(m), m["reg"], m["value"], m["el"])
            return protocol.encode("ACK")
        if kind == "ICC_ACK":
            cpu, gen, intid = self._cpu(m), m["gen"], m["intid"]
            if self.offers[cpu].get(gen) != intid or gen <= self.served[cpu]:
                raise protocol.ProtocolError(f"ICC_ACK: cpu{cpu} was not offered {intid} "
                                             f"as offer {gen}")
            self.served[cpu] = gen
            if not self.gic.acknowledge_offered(cpu, 1, intid):
                raise protocol.ProtocolError(f"ICC_ACK: {intid} is not acknowledgeable")
            return b""
        if kind == "PPI_LEVEL":
            self.gic.set_ppi(self._cpu(m), m["intid"], m["level"])
            return b""
        if kind == "SPI_LEVEL":
            self.gic.set_spi(m["intid"], m["level"])
            return b""
        if kind == "PING":
            return protocol.encode("ACK")
        raise protocol.ProtocolError(f"the GIC service does not serve {kind}")

    def _publish(self) -> None:
        """Write what changed into the CPUs' doorbells, then ring each of those CPUs once
        (a CPU reads its words after the ring: it sees the offer and the lines together)."""
        rung = self._publish_offers() if self.bells is not None else set()
        for cpu, (irq, fiq) in self.gic.take_changes().items():
            if self.bells is not None:
                self.bells.put(cpu, doorbell.IRQ, int(irq))
                self.bells.put(cpu, doorbell.FIQ, int(fiq))
                rung.add(cpu)
            self.on_lines(cpu, irq, fiq)
        for cpu in rung:
            self.bells.ring(cpu)

    def _publish_offers(self) -> set[int]:
        """Write each CPU's offer if it changed; the CPUs written."""
        written = set()
        for cpu in range(self.n_cpus):
            intid = self.gic.preview_acknowledge(cpu, 1)
            if intid >= 32:  # an SPI may go to another CPU: its acknowledge is a request
                intid = doorbell.SPURIOUS
            content = (intid, self.served[cpu])
            if content == self.written[cpu]:
                continue
            self.written[cpu] = content
            gen = self.offered[cpu][1] + 1
            self.offered[cpu] = (intid, gen)
            offers = self.offers[cpu]
            offers[gen] = intid
            offers.pop(gen - _OFFERS_KEPT, None)
            self.bells.put(cpu, doorbell.OFFER, doorbell.offer(intid, gen, self.served[cpu]))
            written.add(cpu)
        return written


def main(argv: list[str] | None = None) -> int:
    ap = service_arguments("smpsim.gic_dist.service", "gic")
    ap.add_argument("--doorbell", required=True)
    ap.add_argument("--affinities", required=True, help="comma-separated MPIDR affinities")
    args = ap.parse_args(argv)
    die_with_parent()
    logger = log.get_logger(args.name, args.run_dir, pid=os.getpid())
    affinities = [int(a, 0) for a in args.affinities.split(",")]
    process = ServiceProcess(args)
    bells = doorbell.Doorbells.attach(args.doorbell, len(affinities))
    core = GicService(affinities, bells,
                      lambda cpu, irq, fiq: logger.debug("lines", cpu=cpu, irq=irq, fiq=fiq),
                      lambda reason: logger.warning("bad_message", reason=reason))
    process.serve(core.handle, logger, "gic_started", "gic_stopped", cpus=len(affinities))
    bells.close()
    process.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
