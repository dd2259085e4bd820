"""The memory/device service: the process that owns the platform's devices (today the
PL011 UART of QEMU virt) and serves the CPUs' accesses to them (DESIGN.md §3).

Requests: MMIO_READ/MMIO_WRITE with absolute addresses (interconnect/bus.py decides
what is whose), and CONSOLE from CPUs (their semihosting output). This service is the
one writer of the guest console: the UART's output and the CPUs' semihosting output go
to `console.log` in the run directory and, as CONSOLE messages, to bootctl for the
terminal, in the order each CPU caused them (a CPU's posted UART writes and its
CONSOLE request share its one socket). The UART's interrupt output goes to the GIC
service as SPI_LEVEL (posted, in order).
"""

from __future__ import annotations

import os
import sys
from typing import Callable

import zmq

from smpsim import log
from smpsim.interconnect import bus, pl011, protocol, security
from smpsim.interconnect.console_lines import ConsoleLines
from smpsim.interconnect.control import ServiceProcess, die_with_parent, service_arguments

CONSOLE_FILE = "console.log"
GIC_REPLY_TIMEOUT_MS = 120_000


class DeviceService:
    """Message handling of the device service (no sockets: tests drive it directly)."""

    def __init__(self, console: Callable[[bytes, int], None],
                 spi: Callable[[int, bool], None],
                 on_refused: Callable[[str], None] | None = None,
                 n_cpus: int | None = None, gic_sync: Callable[[], None] | None = None):
        """`gic_sync()` returns once the GIC service has served the SPI_LEVELs sent so
        far: a request is answered only after that, so that a CPU that waits for its
        answer (a PING after posted writes, at a schedule point or a quantum boundary)
        knows the interrupts its accesses caused are where the GIC says."""
        self.console = console  # (data, cpu): cpu -1 is the UART
        self.n_cpus = n_cpus  # CPUs of the machine (None: not checked)
        # who wrote what the UART prints now: (cpu, its icount, its counter)
        self.writer: tuple[int, int | None, int | None] = (-1, None, None)
        self.gic_sync = gic_sync or (lambda: None)
        self._spi_unsynced = False

        def uart_irq(level: bool) -> None:
            self._spi_unsynced = True
            spi(bus.UART_SPI, level)

        self.uart = pl011.Pl011(lambda data: console(data, -1), uart_irq)
        self.on_refused = on_refused or (lambda reason: None)  # a posted write refused

    def handle(self, m: dict) -> bytes | None:
        if m["t"] == "MMIO_WRITE" and protocol.is_posted(m):
            try:
                self._serve(m)
            except protocol.ProtocolError as exc:  # nobody waits: no ERROR that could
                self.on_refused(str(exc))          # pass for the reply to a later read
            return None
        reply = self._serve(m)
        if self._spi_unsynced:
            self._spi_unsynced = False
            self.gic_sync()
        return reply

    def _check_cpu(self, m: dict) -> None:
        if self.n_cpus is not None and not 0 <= m["cpu"] < self.n_cpus:
            raise protocol.ProtocolError(f"{m['t']}: no CPU {m['cpu']}")

    def _serve(self, m: dict) -> bytes | None:
        kind = m["t"]
        if kind == "PING":
            return protocol.encode("ACK")
        if kind == "CONSOLE":
            self._check_cpu(m)
            self.writer = (m["cpu"], None, None)
            self.console(m["data"], m["cpu"])
            return protocol.encode("ACK")
        if kind not in ("MMIO_READ", "MMIO_WRITE"):
            raise protocol.ProtocolError(f"the device service does not serve {kind}")
        self._check_cpu(m)
        addr, size = m["addr"], m["size"]
        if size not in (1, 2, 4, 8):
            raise protocol.ProtocolError(f"{kind}: size {size}")
        if not bus.UART_BASE <= addr < bus.UART_BASE + bus.UART_SIZE:
            if protocol.is_posted(m):
                raise protocol.ProtocolError(f"posted write to {addr:#x}, where no device is")
            return protocol.encode("MMIO_FAULT", reason=f"no device at {addr:#x}")
        if kind == "MMIO_READ":
            return protocol.encode("MMIO_DATA",
                                   value=self.uart.read(addr - bus.UART_BASE, size))
        self.writer = (m["cpu"], m.get("icount"), m.get("counter"))
        self.uart.write(addr - bus.UART_BASE, size, m["value"])
        return None if protocol.is_posted(m) else protocol.encode("ACK")


def main(argv: list[str] | None = None) -> int:
    ap = service_arguments("smpsim.interconnect.devices", "devices")
    ap.add_argument("--gic", required=True, help="the GIC service's endpoint")
    ap.add_argument("--cpus", type=int, default=None, help="how many CPUs the machine has")
    args = ap.parse_args(argv)
    die_with_parent()
    logger = log.get_logger(args.name, args.run_dir, pid=os.getpid())
    process = ServiceProcess(args)
    gic = security.client(process.context.socket(zmq.DEALER), process.keys)
    gic.setsockopt(zmq.LINGER, 1000)
    gic.connect(args.gic)
    console_fd = os.open(os.path.join(args.run_dir, CONSOLE_FILE),
                         os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    lines = ConsoleLines(logger)

    def console(data: bytes, cpu: int) -> None:
        os.write(console_fd, data)
        lines.feed(data, cpu, core.writer)
        process.control.send(protocol.encode("CONSOLE", cpu=cpu, data=data))

    def spi(intid: int, level: bool) -> None:
        gic.send(protocol.encode("SPI_LEVEL", intid=intid, level=level))

    def gic_sync() -> None:
        gic.send(protocol.encode("PING"))
        if not gic.poll(GIC_REPLY_TIMEOUT_MS):
            raise TimeoutError("the GIC service did not answer a PING")
        gic.recv()

    core = DeviceService(console, spi,
                         lambda reason: logger.warning("bad_message", reason=reason), args.cpus,
                         gic_sync)
    process.serve(core.handle, logger, "devices_started", "devices_stopped",
                  uart=hex(bus.UART_BASE))
    lines.flush()
    os.close(console_fd)
    gic.close()
    process.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
