"""Topology files: TOML parsed into frozen dataclasses, validated in full before
anything starts. An error names the file, the key and what was expected.

The format (README "Topology files" documents every key):

    [machine]  name, description, ram = {base, size}, counter_frequency
    [boot]     method, conduit, start_el, image, cmdline, initrd, symbols, kaslr,
               release_address (spin-table)
    [run]      mode, quantum, timeout, transport, listen, processes, seed, depth, points,
               stalls, stall_ms
    [explore]  runs, depth, timeout, must, must_not: what `smpsim explore` does by default
    [[cluster]] cpus, affinity, midr,
                features = {el2, vhe, lse, pan, gicv3, vmid_bits, pa_bits},
                id_registers = {NAME = value}
    [cluster.cpu.N]  affinity, midr, features, id_registers: CPU N of the cluster above
    [[inject]] cpu, at, interrupt, signal, wait: what to do when a CPU reaches an
                instruction (a breakpoint of that CPU process, once)

Relative paths are relative to the topology file.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import pathlib
import re
import sys
import tomllib
from typing import Any

from smpsim.bootctl.schedule import MAX_DEPTH
from smpsim.interconnect import bus

DEFAULT_RAM_BASE = 0x4000_0000
DEFAULT_COUNTER_FREQUENCY = 62_500_000
MODES = ("free", "lockstep", "serial")
BOOT_METHODS = ("psci", "spin-table")
CONDUITS = ("smc", "hvc")
TRANSPORTS = ("ipc", "tcp")


class TopologyError(ValueError):
    """A topology file is wrong; str() is the one-line message for the user."""


@dataclasses.dataclass(frozen=True)
class Features:
    el2: bool = True  # EL2 implemented
    vhe: bool = False  # ID_AA64MMFR1_EL1.VH
    lse: bool = True  # ARMv8.1 atomics
    pan: bool = False  # Privileged Access Never
    gicv3: bool = True  # the GICv3 CPU interface's system registers (ID_AA64PFR0_EL1.GIC)
    vmid_bits: int = 16  # 8 or 16 (ID_AA64MMFR1_EL1.VMIDBits)
    pa_bits: int = 48  # physical address size (ID_AA64MMFR0_EL1.PARange)


AFFINITY_MASK = 0xFF_00FF_FFFF  # Aff3 [39:32], Aff2 [23:16], Aff1 [15:8], Aff0 [7:0]


@dataclasses.dataclass(frozen=True)
class Cpu:
    index: int  # the CPU number: its process, its log component cpuN
    cluster: int  # index of its [[cluster]] table
    core: int  # index within that cluster
    midr: int
    features: Features
    id_registers: tuple[tuple[str, int], ...] = ()  # explicit ID register values, set last
    affinity: int | None = None  # MPIDR affinity; None: Aff1 = cluster, Aff0 = core

    @property
    def mpidr(self) -> int:
        """MPIDR_EL1: bit 31 RES1, U = 0, MT = 0, and the affinity fields."""
        aff = self.affinity if self.affinity is not None else (self.cluster << 8) | self.core
        return (1 << 31) | aff

    def core_features(self) -> dict:
        """This CPU as smpsim.jit.features.Features(**...) takes it (JSON-friendly)."""
        f = self.features
        return {"el2": f.el2, "vhe": f.vhe, "lse": f.lse, "pan": f.pan, "gicv3": f.gicv3,
                "vmid_bits": f.vmid_bits, "pa_bits": f.pa_bits, "midr": self.midr,
                "mpidr_aff": self.mpidr & 0xFF_00FF_FFFF,
                "overrides": [list(kv) for kv in self.id_registers]}

    def start_el(self, boot: Boot) -> int:
        """The EL this CPU leaves reset in: the topology's, or EL1 if it has no EL2."""
        return boot.start_el if self.features.el2 else 1


@dataclasses.dataclass(frozen=True)
class Machine:
    name: str
    description: str
    ram_base: int
    ram_size: int
    counter_frequency: int


@dataclasses.dataclass(frozen=True)
class Boot:
    method: str
    conduit: str
    start_el: int
    image: pathlib.Path | None
    cmdline: str
    release_address: int | None = None  # spin-table: the word secondaries poll
    initrd: pathlib.Path | None = None  # an initial RAM disk (/chosen linux,initrd-*)
    symbols: pathlib.Path | None = None  # the kernel's System.map, for stop reports
    kaslr: bool = False  # give the kernel a kaslr-seed (from run.seed), as QEMU does


@dataclasses.dataclass(frozen=True)
class RunSettings:
    mode: str
    quantum: int
    timeout: float
    transport: str = "ipc"  # "ipc" (sockets in the run directory) or "tcp" (CurveZMQ)
    listen: str = "127.0.0.1"  # the address tcp:// endpoints bind
    # the process-per-CPU machine (GIC and device services), even for one CPU; None:
    # only for more than one CPU (one CPU alone runs on the in-process core, no GIC)
    processes: bool | None = None
    # serial runs: the scheduler's seed, PCT's depth d and its estimate of the number of
    # schedule points k (change points are drawn from 1..k)
    seed: int = 0
    depth: int = 1
    points: int = 10_000
    # serial runs: the probability that a CPU stalls at a schedule point, and how long a
    # stall lasts at most, in milliseconds of guest time (bootctl/schedule.py)
    stalls: float = 0.0
    stall_ms: float = 20.0


@dataclasses.dataclass(frozen=True)
class Explore:
    """`smpsim explore`'s defaults for this topology, and its checks: guest records
    (events, matched as `smpsim logs --event` does) that must or must not appear."""
    runs: int = 100
    depth: int = 2
    timeout: float | None = None  # seconds per run (default: run.timeout)
    must: tuple[str, ...] = ()
    must_not: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Injection:
    """When CPU `cpu` is about to run the instruction at `at` (an address, or a symbol of
    the booted ELF image) for the first time: make SGI/PPI `interrupt` pending for it,
    raise the named `signal`, then wait until another injection has raised `wait`."""
    cpu: int
    at: int | str
    interrupt: int | None = None
    signal: str | None = None
    wait: str | None = None


INJECTIONS_PER_CPU = 8  # (the core's breakpoint slots)
_SIGNAL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclasses.dataclass(frozen=True)
class Topology:
    path: pathlib.Path
    machine: Machine
    boot: Boot
    run: RunSettings
    cpus: tuple[Cpu, ...]
    injections: tuple[Injection, ...] = ()
    explore: Explore = Explore()

    def signals(self) -> list[str]:
        """The injections' signal names, in the order of their numbers (bits)."""
        return sorted({n for i in self.injections for n in (i.signal, i.wait) if n})


_SIZE = re.compile(r"^\s*(\d+)\s*(B|KiB|MiB|GiB)?\s*$")
_UNITS = {None: 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}


class _Reader:
    """Typed access to one table of the file, naming the key in every error."""

    def __init__(self, path: pathlib.Path, table: dict, where: str):
        self.path, self.table, self.where = path, table, where
        self.used: set[str] = set()

    def fail(self, key: str, message: str) -> TopologyError:
        name = f"{self.where}.{key}" if self.where else key
        return TopologyError(f"{self.path}: {name}: {message}")

    def get(self, key: str, kind: type | tuple, default: Any, what: str) -> Any:
        self.used.add(key)
        if key not in self.table:
            if default is _REQUIRED:
                raise self.fail(key, f"missing; expected {what}")
            return default
        value = self.table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise self.fail(key, f"expected {what}, got {value!r}")
        return value

    def file(self, key: str, what: str = "a path") -> pathlib.Path | None:
        """A path relative to the topology file, made absolute; None if not given."""
        text = self.get(key, str, None, what)
        return (self.path.parent / text).resolve() if text else None

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.get(key, str, default, " or ".join(repr(c) for c in choices))
        if value not in choices:
            raise self.fail(key, f"expected {' or '.join(repr(c) for c in choices)}, got {value!r}")
        return value

    def integer(self, key: str, default: Any, lo: int, hi: int, what: str) -> int:
        value = self.get(key, int, default, what)
        if not lo <= value <= hi:
            raise self.fail(key, f"expected {what}, got {value:#x}" if value > 9999 else
                            f"expected {what}, got {value}")
        return value

    def size(self, key: str, default: Any) -> int:
        value = self.get(key, (int, str), default, 'a size in bytes or a string like "512MiB"')
        if isinstance(value, str):
            m = _SIZE.match(value)
            if not m:
                raise self.fail(key, f'expected a size like "512MiB", got {value!r}')
            value = int(m.group(1)) * _UNITS[m.group(2)]
        return value

    def table_of(self, key: str) -> dict:
        return self.get(key, dict, {}, "a table")

    def finish(self) -> None:
        unknown = sorted(set(self.table) - self.used)
        if unknown:
            raise self.fail(unknown[0], "unknown key")


_REQUIRED = object()


PA_BITS = (32, 36, 40, 42, 44, 48, 52)


def _features(path: pathlib.Path, table: dict, where: str, base: Features) -> Features:
    r = _Reader(path, table, where)
    values = {f.name: r.get(f.name, bool, getattr(base, f.name), "true or false")
              for f in dataclasses.fields(Features) if f.type == "bool"}
    values["vmid_bits"] = r.get("vmid_bits", int, base.vmid_bits, "8 or 16")
    if values["vmid_bits"] not in (8, 16):
        raise r.fail("vmid_bits", f"expected 8 or 16, got {values['vmid_bits']}")
    values["pa_bits"] = r.get("pa_bits", int, base.pa_bits, "a physical address size")
    if values["pa_bits"] not in PA_BITS:
        raise r.fail("pa_bits", f"expected one of {', '.join(map(str, PA_BITS))}, "
                                f"got {values['pa_bits']}")
    r.finish()
    feats = Features(**values)
    if feats.vhe and not feats.el2:
        raise TopologyError(f"{path}: {where}.vhe: VHE needs EL2 (el2 = true)")
    return feats


def _id_registers(path: pathlib.Path, table: dict, where: str,
                  base: dict[str, int]) -> dict[str, int]:
    """Explicit ID register values (e.g. ID_AA64ISAR0_EL1 = 0x...), over `base`."""
    from smpsim.jit.sysreg_table import OVERRIDABLE
    r = _Reader(path, table, where)
    out = dict(base)
    for name in table:
        if name not in OVERRIDABLE:
            raise r.fail(name, "not an identification register this CPU lets you set "
                               f"(one of {', '.join(sorted(OVERRIDABLE))})")
        if name == "MPIDR_EL1":
            raise r.fail(name, "set affinity instead (the GIC and PSCI use it too)")
        out[name] = r.integer(name, _REQUIRED, 0, (1 << 64) - 1, "a 64-bit value")
    r.finish()
    return out


def _affinity(r: _Reader, key: str) -> int | None:
    what = "an MPIDR affinity (Aff0 bits 0-7, Aff1 8-15, Aff2 16-23, Aff3 32-39)"
    value = r.get(key, int, None, what)
    if value is not None and (value < 0 or value & ~AFFINITY_MASK):
        raise r.fail(key, f"expected {what}, got {value:#x}")
    return value


def parse(text: str, path: pathlib.Path) -> Topology:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TopologyError(f"{path}: not valid TOML: {exc}") from None
    top = _Reader(path, doc, "")
    for key in ("machine", "boot", "run", "explore"):
        top.get(key, dict, {}, "a table")
    top.get("cluster", list, _REQUIRED, "one or more [[cluster]] tables")
    top.get("inject", list, [], "[[inject]] tables")
    top.finish()

    m = _Reader(path, doc.get("machine", {}), "machine")
    name = m.get("name", str, path.stem, "a string")
    description = m.get("description", str, "", "a string")
    ram = _Reader(path, m.table_of("ram"), "machine.ram")
    ram_base = ram.integer("base", DEFAULT_RAM_BASE, 0, (1 << 48) - 1, "an address below 2**48")
    ram_size = ram.size("size", "128MiB")
    if ram_size <= 0 or ram_size % 4096:
        raise ram.fail("size", f"expected a positive multiple of 4 KiB, got {ram_size}")
    if ram_base % 4096:
        raise ram.fail("base", f"expected a 4 KiB aligned address, got {ram_base:#x}")
    ram.finish()
    # RAM must leave the devices alone (the GIC's redistributor space in full: 123 CPUs)
    for region in bus.Bus.virt(123, 0, 0).regions:
        if ram_base < region.end and region.base < ram_base + ram_size:
            raise ram.fail("base", f"RAM [{ram_base:#x}, {ram_base + ram_size:#x}) overlaps "
                                   f"the {region.name} device at {region.base:#x}")
    freq = m.integer("counter_frequency", DEFAULT_COUNTER_FREQUENCY, 1, 10**10, "a frequency in Hz")
    m.finish()
    machine = Machine(name, description, ram_base, ram_size, freq)

    b = _Reader(path, doc.get("boot", {}), "boot")
    method = b.choice("method", BOOT_METHODS, "psci")
    start_el = b.integer("start_el", 2, 1, 2, "1 or 2")
    conduit = b.choice("conduit", CONDUITS, "smc" if start_el == 2 else "hvc")
    image = b.file("image")
    cmdline = b.get("cmdline", str, "", "a string")
    initrd = b.file("initrd")
    symbols = b.file("symbols", "a path to the kernel's System.map")
    kaslr = b.get("kaslr", bool, False, "true or false")
    release = None
    if method == "spin-table":
        release = b.integer("release_address", _REQUIRED, 0, (1 << 64) - 1,
                            "the address of the word secondary CPUs poll (spin-table)")
        if release % 8:
            raise b.fail("release_address", f"expected an 8-byte aligned address, got {release:#x}")
        if not ram_base <= release <= ram_base + ram_size - 8:
            raise b.fail("release_address", f"{release:#x} is outside RAM "
                                            f"[{ram_base:#x}, {ram_base + ram_size:#x})")
    elif "release_address" in b.table:
        raise b.fail("release_address", f'only for spin-table (boot.method is "{method}")')
    b.finish()
    boot = Boot(method, conduit, start_el, image, cmdline, release, initrd, symbols, kaslr)

    r = _Reader(path, doc.get("run", {}), "run")
    mode = r.choice("mode", MODES, "free")
    quantum = r.integer("quantum", 10_000, 1, 10**9, "a number of instructions (1 to 10**9)")
    timeout = r.get("timeout", (int, float), 60, "a number of seconds")
    if timeout <= 0:
        raise r.fail("timeout", f"expected a positive number of seconds, got {timeout}")
    transport = r.choice("transport", TRANSPORTS, "ipc")
    listen = r.get("listen", str, "127.0.0.1", "an IP address to listen on")
    try:
        ipaddress.ip_address(listen)
    except ValueError:
        raise r.fail("listen", f"expected an IP address, got {listen!r}") from None
    if listen != "127.0.0.1" and transport != "tcp":
        raise r.fail("listen", 'only with transport = "tcp"')
    processes = r.get("processes", bool, None, "true or false")
    seed = r.integer("seed", 0, 0, (1 << 63) - 1, "a non-negative integer")
    depth = r.integer("depth", 1, 1, MAX_DEPTH, f"PCT's depth (1 to {MAX_DEPTH})")
    points = r.integer("points", 10_000, 1, 10**12, "a number of schedule points")
    stalls = r.get("stalls", (int, float), 0.0, "a probability from 0 to 1")
    if not 0 <= stalls <= 1:
        raise r.fail("stalls", f"expected a probability from 0 to 1, got {stalls}")
    stall_ms = r.get("stall_ms", (int, float), 20.0, "a number of milliseconds")
    if not 0 < stall_ms <= 10_000:
        raise r.fail("stall_ms", f"expected 0 to 10000 milliseconds, got {stall_ms}")
    r.finish()
    run = RunSettings(mode, quantum, float(timeout), transport, listen, processes, seed,
                      depth, points, float(stalls), float(stall_ms))
    explore = _explore(path, doc.get("explore", {}))

    cpus: list[Cpu] = []
    owners: dict[int, tuple[Cpu, str]] = {}  # affinity -> its CPU, where it was set
    for ci, cluster in enumerate(doc["cluster"]):
        where = f"cluster[{ci}]"
        if not isinstance(cluster, dict):
            raise TopologyError(f"{path}: {where}: expected a table")
        c = _Reader(path, cluster, where)
        count = c.integer("cpus", _REQUIRED, 1, 256, "a CPU count from 1 to 256")
        first = _affinity(c, "affinity")
        midr = c.integer("midr", 0x410F_D034, 0, 0xFFFF_FFFF, "a 32-bit MIDR value")
        feats = _features(path, c.table_of("features"), f"{where}.features", Features())
        ids = _id_registers(path, c.table_of("id_registers"), f"{where}.id_registers", {})
        overrides = c.table_of("cpu")
        c.finish()
        for key in overrides:
            if not (key.isdigit() and int(key) < count):
                raise TopologyError(f"{path}: {where}.cpu.{key}: expected a CPU index from 0 to {count - 1}")
        for core in range(count):
            cmidr, cfeats, cids = midr, feats, ids
            # where the affinity comes from: None (the default), "affinity" or "cpu.N.affinity"
            aff, set_at = (ci << 8 | core, None) if first is None else (first + core, "affinity")
            if str(core) in overrides:
                table = overrides[str(core)]
                if not isinstance(table, dict):
                    raise TopologyError(f"{path}: {where}.cpu.{core}: expected a table")
                o = _Reader(path, table, f"{where}.cpu.{core}")
                if "affinity" in table:
                    aff, set_at = _affinity(o, "affinity"), f"cpu.{core}.affinity"
                cmidr = o.integer("midr", midr, 0, 0xFFFF_FFFF, "a 32-bit MIDR value")
                cfeats = _features(path, o.table_of("features"), f"{where}.cpu.{core}.features", feats)
                cids = _id_registers(path, o.table_of("id_registers"),
                                     f"{where}.cpu.{core}.id_registers", ids)
                o.finish()
            if set_at == "affinity" and (first & 0xFF) + core > 0xFF:
                raise c.fail("affinity", f"CPU {core} of the cluster would get Aff0 "
                                         f"{(first & 0xFF) + core:#x} ({first:#x} + {core}); "
                                         "Aff0 stops at 0xff")
            cpu = Cpu(len(cpus), ci, core, cmidr, cfeats, tuple(sorted(cids.items())), aff)
            if aff in owners:
                other, other_where = owners[aff]
                how = "" if set_at else " by default"
                raise c.fail(set_at or "affinity",
                             f"CPU {cpu.index} has MPIDR affinity {aff:#x}{how}, already "
                             f"CPU {other.index}'s ({other_where})")
            owners[aff] = (cpu, f"{where}.cpu.{core}" if set_at not in (None, "affinity") else where)
            cpus.append(cpu)
    if not cpus:
        raise TopologyError(f"{path}: cluster: expected at least one [[cluster]]")
    return Topology(path, machine, boot, run, tuple(cpus),
                    _injections(path, doc.get("inject", []), len(cpus), machine), explore)


def _explore(path: pathlib.Path, table: dict) -> Explore:
    e = _Reader(path, table, "explore")
    runs = e.integer("runs", 100, 1, 10**6, "a number of runs")
    depth = e.integer("depth", 2, 1, MAX_DEPTH, f"PCT's depth (1 to {MAX_DEPTH})")
    timeout = e.get("timeout", (int, float), None, "a number of seconds")
    if timeout is not None and timeout <= 0:
        raise e.fail("timeout", f"expected a positive number of seconds, got {timeout}")
    checks = {}
    for key in ("must", "must_not"):
        names = e.get(key, list, [], "a list of record event names")
        if not all(isinstance(n, str) and n for n in names):
            raise e.fail(key, f"expected a list of record event names, got {names!r}")
        checks[key] = tuple(names)
    e.finish()
    return Explore(runs, depth, None if timeout is None else float(timeout), **checks)


def _injections(path: pathlib.Path, tables: list, n_cpus: int,
                machine: Machine) -> tuple[Injection, ...]:
    out: list[Injection] = []
    for i, table in enumerate(tables):
        where = f"inject[{i}]"
        if not isinstance(table, dict):
            raise TopologyError(f"{path}: {where}: expected a table")
        r = _Reader(path, table, where)
        cpu = r.integer("cpu", _REQUIRED, 0, n_cpus - 1, f"a CPU index from 0 to {n_cpus - 1}")
        at = r.get("at", (int, str), _REQUIRED, "an instruction address or a symbol of the image")
        if isinstance(at, int) and (at & 3 or not machine.ram_base <= at < machine.ram_base
                                    + machine.ram_size):
            raise r.fail("at", f"expected a 4-byte aligned address in RAM, got {at:#x}")
        interrupt = None
        if "interrupt" in table:
            interrupt = r.integer("interrupt", _REQUIRED, 0, 31, "an SGI or PPI INTID (0 to 31)")
        r.used.add("interrupt")
        names = {}
        for key in ("signal", "wait"):
            name = r.get(key, str, None, "a name (letters, digits, _ . -)")
            if name is not None and not _SIGNAL_NAME.match(name):
                raise r.fail(key, f"expected a name of letters, digits, _ . -, got {name!r}")
            names[key] = name
        r.finish()
        if interrupt is None and names["signal"] is None and names["wait"] is None:
            raise TopologyError(f"{path}: {where}: nothing to do: give interrupt, signal or wait")
        if sum(1 for o in out if o.cpu == cpu) == INJECTIONS_PER_CPU:
            raise TopologyError(f"{path}: {where}: more than {INJECTIONS_PER_CPU} injections "
                                f"for cpu {cpu}")
        out.append(Injection(cpu, at, interrupt, names["signal"], names["wait"]))
    raised = {o.signal for o in out if o.signal}
    for i, o in enumerate(out):
        if o.wait and o.wait not in raised:
            raise TopologyError(f"{path}: inject[{i}].wait: no injection raises {o.wait!r}")
    if len({n for o in out for n in (o.signal, o.wait) if n}) > 64:
        raise TopologyError(f"{path}: inject: more than 64 signal names")
    return tuple(out)


def bundled_folders() -> list[pathlib.Path]:
    """Where the topologies that come with smpsim are: the installed data files
    (share/smpsim/topologies, with their guest images beside them in
    share/smpsim/guests/build), and a source checkout's topologies/."""
    return [pathlib.Path(sys.prefix) / "share" / "smpsim" / "topologies",
            pathlib.Path(__file__).resolve().parents[2] / "topologies"]


def find(name: str | pathlib.Path) -> pathlib.Path:
    """A topology file: `name` itself if it is a path that exists, else a bundled
    topology of that name (`virt-mixed` or `virt-mixed.toml`)."""
    path = pathlib.Path(name)
    if path.exists() or len(path.parts) != 1:
        return path
    stem = path.name if path.suffix == ".toml" else f"{path.name}.toml"
    for folder in bundled_folders():
        if (folder / stem).is_file():
            return folder / stem
    return path


def load(path: str | pathlib.Path) -> Topology:
    """Parse and validate a topology file (or a bundled topology by name: `find`)."""
    path = find(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise TopologyError(f"{path}: cannot read: {exc.strerror}") from None
    return parse(text, path)
