"""The flattened device tree (FDT, Devicetree Specification v0.4 chapter 5) that a guest
gets in x0: the machine a topology describes, with the names and layout of QEMU's
`virt` machine (../shared/reference/qemu-virt-vhe-4cpu.dts) for the parts smpsim has,
and nothing for the parts it does not (no PCI, virtio, flash, RTC, GPIO or PMU).

`for_topology` builds it; `Node` and `encode` are the generic writer."""

from __future__ import annotations

import dataclasses
import hashlib
import struct

from smpsim.bootctl import psci
from smpsim.bootctl.topology import Topology
from smpsim.interconnect import bus

FDT_MAGIC = 0xD00D_FEED
_BEGIN_NODE, _END_NODE, _PROP, _END = 1, 2, 3, 9
_VERSION, _LAST_COMPATIBLE = 17, 16

# the platform (DESIGN.md §2: interconnect/bus.py has its map)
GICD_BASE, GICD_SIZE = bus.GIC_DIST_BASE, bus.GIC_DIST_SIZE
GICR_BASE, GICR_STRIDE = bus.GIC_REDIST_BASE, bus.GIC_REDIST_STRIDE
UART_BASE, UART_SIZE, UART_SPI = bus.UART_BASE, bus.UART_SIZE, bus.UART_SPI - 32
UART_CLOCK_HZ = 24_000_000  # QEMU's apb-pclk
GIC_SPI, GIC_PPI = 0, 1
IRQ_LEVEL_HIGH = 4
MAINTENANCE_PPI = 9  # INTID 25
# the timer's PPIs in the binding's order: secure EL1 physical, EL1 physical, EL1
# virtual (INTIDs 29, 30, 27), then EL2 physical (26) when a CPU has EL2 and EL2 virtual
# (28) when a CPU has VHE. QEMU lists the first four whatever the CPUs have.
TIMER_PPIS = (13, 14, 11)
HYP_PHYS_PPI, HYP_VIRT_PPI = 10, 12
# the 64-bit function ids, as QEMU's tree lists them (migrate is listed, not supported)
PSCI_IDS = {"cpu_suspend": psci.CPU_SUSPEND[1], "cpu_off": psci.CPU_OFF,
            "cpu_on": psci.CPU_ON[1], "migrate": 0xC400_0005}
PHANDLE_CLOCK, PHANDLE_GIC = 1, 2


@dataclasses.dataclass
class Node:
    name: str
    props: dict[str, bytes] = dataclasses.field(default_factory=dict)
    children: list[Node] = dataclasses.field(default_factory=list)

    def child(self, name: str) -> Node:
        node = Node(name)
        self.children.append(node)
        return node


def cells(*values: int) -> bytes:
    """32-bit big-endian cells."""
    return b"".join(struct.pack(">I", v & 0xFFFF_FFFF) for v in values)


def u64(*values: int) -> bytes:
    """Values of two cells each (#address-cells = #size-cells = 2)."""
    return b"".join(cells(v >> 32, v) for v in values)


def string(*values: str) -> bytes:
    """A string, or a string list, NUL-terminated."""
    return b"".join(v.encode() + b"\0" for v in values)


def encode(root: Node, boot_cpuid: int = 0) -> bytes:
    """The FDT blob of the tree under `root` (whose name is "")."""
    strings = bytearray()
    offsets: dict[str, int] = {}
    structure = bytearray()

    def pad():
        structure.extend(b"\0" * (-len(structure) % 4))

    def emit(node: Node):
        structure.extend(struct.pack(">I", _BEGIN_NODE) + node.name.encode() + b"\0")
        pad()
        for name, value in node.props.items():
            if name not in offsets:
                offsets[name] = len(strings)
                strings.extend(name.encode() + b"\0")
            structure.extend(struct.pack(">III", _PROP, len(value), offsets[name]) + value)
            pad()
        for child in node.children:
            emit(child)
        structure.extend(struct.pack(">I", _END_NODE))

    emit(root)
    structure.extend(struct.pack(">I", _END))
    header_size = 40
    rsvmap = bytes(16)  # no reserved regions: the terminating entry only
    off_rsvmap = header_size
    off_struct = off_rsvmap + len(rsvmap)
    off_strings = off_struct + len(structure)
    total = off_strings + len(strings)
    header = struct.pack(">10I", FDT_MAGIC, total, off_struct, off_strings, off_rsvmap,
                         _VERSION, _LAST_COMPATIBLE, boot_cpuid, len(strings), len(structure))
    return header + rsvmap + bytes(structure) + bytes(strings)


def _seed_bytes(seed: int, purpose: str, size: int) -> bytes:
    return hashlib.sha256(f"smpsim {purpose} {seed}".encode()).digest()[:size]


def for_topology(topology: Topology, cmdline: str | None = None,
                 initrd: tuple[int, int] | None = None) -> bytes:
    """The device tree of `topology`'s machine; `cmdline` (default: boot.cmdline) goes to
    /chosen/bootargs, `initrd` = (start, end) to linux,initrd-start/-end.

    /chosen also has an rng-seed, and a kaslr-seed with boot.kaslr, as QEMU gives; ours
    are drawn from run.seed rather than the host's entropy, so that a run repeats."""
    m, boot = topology.machine, topology.boot
    root = Node("", {"#address-cells": cells(2), "#size-cells": cells(2),
                     "compatible": string("linux,dummy-virt"),
                     "model": string("linux,dummy-virt"),
                     "interrupt-parent": cells(PHANDLE_GIC)})
    chosen = root.child("chosen")
    chosen.props["bootargs"] = string(boot.cmdline if cmdline is None else cmdline)
    chosen.props["stdout-path"] = string(f"/pl011@{UART_BASE:x}")
    if initrd is not None:
        chosen.props["linux,initrd-start"] = u64(initrd[0])
        chosen.props["linux,initrd-end"] = u64(initrd[1])
    chosen.props["rng-seed"] = _seed_bytes(topology.run.seed, "rng-seed", 32)
    if boot.kaslr:
        chosen.props["kaslr-seed"] = _seed_bytes(topology.run.seed, "kaslr-seed", 8)

    root.child(f"memory@{m.ram_base:x}").props.update(
        {"device_type": string("memory"), "reg": u64(m.ram_base, m.ram_size)})

    cpus = root.child("cpus")
    wide = any(c.mpidr >> 32 for c in topology.cpus)  # Aff3: two cells per reg
    cpus.props.update({"#address-cells": cells(2 if wide else 1), "#size-cells": cells(0)})
    for cpu in topology.cpus:
        mpidr = cpu.mpidr & 0xFF_00FF_FFFF
        node = cpus.child(f"cpu@{mpidr:x}")
        node.props.update({"device_type": string("cpu"), "compatible": string("arm,armv8"),
                           "reg": u64(mpidr) if wide else cells(mpidr)})
        if boot.method == "spin-table":
            node.props["enable-method"] = string("spin-table")
            node.props["cpu-release-addr"] = u64(boot.release_address)
        else:
            node.props["enable-method"] = string("psci")

    if boot.method == "psci":
        psci = root.child("psci")
        psci.props.update({"compatible": string("arm,psci-1.0", "arm,psci-0.2", "arm,psci"),
                           "method": string(boot.conduit)})
        psci.props.update({name: cells(fid) for name, fid in PSCI_IDS.items()})

    n = len(topology.cpus)
    gic = root.child(f"intc@{GICD_BASE:x}")
    gic.props.update({
        "compatible": string("arm,gic-v3"), "#interrupt-cells": cells(3),
        "#address-cells": cells(2), "#size-cells": cells(2), "ranges": b"",
        "interrupt-controller": b"", "#redistributor-regions": cells(1),
        "reg": u64(GICD_BASE, GICD_SIZE, GICR_BASE, n * GICR_STRIDE),
        "interrupts": cells(GIC_PPI, MAINTENANCE_PPI, IRQ_LEVEL_HIGH),
        "phandle": cells(PHANDLE_GIC)})

    ppis = TIMER_PPIS + ((HYP_PHYS_PPI,) if any(c.features.el2 for c in topology.cpus) else ()) \
        + ((HYP_VIRT_PPI,) if any(c.features.vhe for c in topology.cpus) else ())
    timer = root.child("timer")
    timer.props.update({
        "compatible": string("arm,armv8-timer", "arm,armv7-timer"), "always-on": b"",
        "interrupts": cells(*(v for ppi in ppis for v in (GIC_PPI, ppi, IRQ_LEVEL_HIGH)))})

    clock = root.child("apb-pclk")
    clock.props.update({"compatible": string("fixed-clock"), "#clock-cells": cells(0),
                        "clock-frequency": cells(UART_CLOCK_HZ),
                        "clock-output-names": string("clk24mhz"),
                        "phandle": cells(PHANDLE_CLOCK)})

    uart = root.child(f"pl011@{UART_BASE:x}")
    uart.props.update({
        "compatible": string("arm,pl011", "arm,primecell"), "reg": u64(UART_BASE, UART_SIZE),
        "interrupts": cells(GIC_SPI, UART_SPI, IRQ_LEVEL_HIGH),
        "clocks": cells(PHANDLE_CLOCK, PHANDLE_CLOCK),
        "clock-names": string("uartclk", "apb_pclk")})
    return encode(root)
