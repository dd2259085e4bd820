"""The MMIO bus: which service owns a physical address that is not RAM.

The platform's map is QEMU virt's (DESIGN.md §2): the GIC distributor and one
redistributor frame pair per CPU belong to the GIC service; the PL011 (and later
devices) to the memory/device service. A CPU process asks the bus where a device
access goes, then sends the request there; an address nobody owns is an external
abort in the guest.
"""

from __future__ import annotations

import dataclasses

GIC_DIST_BASE, GIC_DIST_SIZE = 0x0800_0000, 0x1_0000
GIC_REDIST_BASE, GIC_REDIST_STRIDE = 0x080A_0000, 0x2_0000
UART_BASE, UART_SIZE = 0x0900_0000, 0x1000
UART_SPI = 33  # SPI 1
# QEMU virt leaves room for 123 redistributors below the UART's neighbourhood
GIC_REDIST_LIMIT = 0x0900_0000

GIC, DEVICES = "gic", "devices"


@dataclasses.dataclass(frozen=True)
class Region:
    name: str  # what it is: "gicd", "gicr", "uart0"
    base: int
    size: int
    service: str  # GIC or DEVICES

    @property
    def end(self) -> int:
        return self.base + self.size


class Bus:
    def __init__(self, regions: list[Region]):
        ordered = sorted(regions, key=lambda r: r.base)
        for a, b in zip(ordered, ordered[1:]):
            if a.end > b.base:
                raise ValueError(f"{a.name} [{a.base:#x}, {a.end:#x}) overlaps "
                                 f"{b.name} [{b.base:#x}, {b.end:#x})")
        self.regions = ordered

    @classmethod
    def virt(cls, n_cpus: int, ram_base: int, ram_size: int) -> "Bus":
        """QEMU virt's devices for `n_cpus` CPUs; RAM must not overlap them."""
        redist = n_cpus * GIC_REDIST_STRIDE
        if GIC_REDIST_BASE + redist > GIC_REDIST_LIMIT:
            raise ValueError(f"{n_cpus} CPUs need more redistributor space than virt has")
        bus = cls([Region("gicd", GIC_DIST_BASE, GIC_DIST_SIZE, GIC),
                   Region("gicr", GIC_REDIST_BASE, redist, GIC),
                   Region("uart0", UART_BASE, UART_SIZE, DEVICES)])
        for r in bus.regions:
            if r.base < ram_base + ram_size and ram_base < r.end:
                raise ValueError(f"RAM [{ram_base:#x}, {ram_base + ram_size:#x}) overlaps "
                                 f"{r.name} at {r.base:#x}")
        return bus

    def route(self, addr: int) -> tuple[Region, int] | None:
        """(the region, the offset in it) that `addr` falls in, or None."""
        lo, hi = 0, len(self.regions)
        while lo < hi:  # a handful of regions: a binary search keeps it O(log n) anyway
            mid = (lo + hi) // 2
            r = self.regions[mid]
            if addr < r.base:
                hi = mid
            elif addr >= r.end:
                lo = mid + 1
            else:
                return r, addr - r.base
        return None
