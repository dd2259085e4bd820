"""What translation costs the core: the same programs with the MMU off and on, side by
side in one process (interleaved repetitions, medians), at EL1.

    python -m benchmarks.bench_mmu [--reps N] [--no-unicorn]

With the MMU on the code, data and tables are identity mapped through 4 KiB pages
(TCR_EL1 T0SZ = 25: walks start at level 1), or through 2 MiB blocks. Unicorn (QEMU 5
TCG) runs the same program on the same RAM image with the same translation registers,
side by side. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import struct
import subprocess
import tempfile
import time

import numpy as np

from smpsim.jit import exits
from smpsim.jit.core import Core

BASE = 0x4000_0000
RAM = 64 << 20
CODE, DATA, TABLES = BASE, BASE + 0x10_0000, BASE + 0x40_0000
# the copy's destination, 32 KiB on (as in bench_core; 1 MiB on, source and destination
# share an entry of QEMU's direct-mapped TLB and Unicorn runs the loop at a third of its speed)
COPY_TO = DATA + 0x8000
PAGES_MAPPED = 0x40_0000  # code and data: the first 4 MiB (DATA + 2 MiB at most is used)
PAGE, TABLE, BLOCK = 0b11, 0b11, 0b01
TRIPS = 1000  # outer iterations of a timed run (the copy loop: 2 M instructions)
NORMAL = 1 << 10 | 3 << 8  # AF, inner shareable, AttrIndx 0 (MAIR 0xFF)
TCR = 25 | 25 << 16 | 2 << 30 | 2 << 32 | 1 << 23  # T0SZ/T1SZ 25, TG1 4K, IPS 40, EPD1

# copy 4 KiB with ldr/str post-index, x9 times (a kernel's memcpy, roughly); then loads
# that land on another page each time (what a TLB of 256 entries has to work for)
PROGRAMS = {
    "copy loop (ldr/str post-index, 4 KiB)": """
    1:  mov x0, x21
        mov x1, x22
        mov x2, #512
    2:  ldr x3, [x0], #8
        str x3, [x1], #8
        subs x2, x2, #1
        b.ne 2b
        subs x9, x9, #1
        b.ne 1b
        hlt #0
    """,
    "loads 32 KiB apart in 1 MiB (a new page each time)": """
    1:  mov x4, #0
        mov x2, #4096
    2:  ldr x3, [x21, x4]
        add x0, x0, x3
        add x4, x4, #8, lsl #12
        and x4, x4, #0xfffff
        subs x2, x2, #1
        b.ne 2b
        subs x9, x9, #1
        b.ne 1b
        hlt #0
    """,
}


def assemble(text: str) -> bytes:
    """The program's bytes (GNU as from binutils-aarch64-linux-gnu, as scripts/setup
    installs it)."""
    with tempfile.TemporaryDirectory() as d:
        src, obj, raw = (pathlib.Path(d, n) for n in ("p.s", "p.o", "p.bin"))
        src.write_text(text + "\n")
        subprocess.run(["aarch64-linux-gnu-as", "-o", str(obj), str(src)], check=True)
        subprocess.run(["aarch64-linux-gnu-objcopy", "-O", "binary", "-j", ".text", str(obj),
                        str(raw)], check=True)
        return raw.read_bytes()


def _write(core: Core, addr: int, value: int) -> None:
    core.load(addr, struct.pack("<Q", value))


def map_identity(core: Core, blocks: bool) -> int:
    """Identity-map the first PAGES_MAPPED bytes of RAM; the root table's address."""
    root, l2 = TABLES, TABLES + 0x1000
    for t in range(0, 0x4000, 0x1000):
        core.load(TABLES + t, bytes(0x1000))
    _write(core, root + 8 * ((BASE >> 30) & 0x1FF), l2 | TABLE)
    for mb2 in range(0, PAGES_MAPPED, 0x20_0000):
        va = BASE + mb2
        slot = l2 + 8 * ((va >> 21) & 0x1FF)
        if blocks:
            _write(core, slot, va | NORMAL | BLOCK)
            continue
        l3 = TABLES + 0x2000 + (mb2 // 0x20_0000) * 0x1000
        core.load(l3, bytes(0x1000))
        _write(core, slot, l3 | TABLE)
        for off in range(0, 0x20_0000, 0x1000):
            _write(core, l3 + 8 * (off >> 12), (va + off) | NORMAL | PAGE)
    return root


def make(program: bytes, mode: str) -> Core:
    core = Core(np.zeros(RAM, dtype=np.uint8), ram_base=BASE)
    core.load(CODE, program)
    core.set_el(1)
    if mode != "off":
        core.set_sysreg("MAIR_EL1", 0xFF)
        core.set_sysreg("TCR_EL1", TCR)
        core.set_sysreg("TTBR0_EL1", map_identity(core, mode == "2 MiB blocks"))
        core.set_sysreg("SCTLR_EL1", core.sysreg("SCTLR_EL1") | 1)
    return core


class UnicornRun:
    """The same program, RAM image (tables included) and translation registers on
    Unicorn (QEMU 5 TCG, MAX CPU, EL1), to set beside ours."""

    _SYSREGS = {"MAIR_EL1": (3, 0, 10, 2, 0), "TCR_EL1": (3, 0, 2, 0, 2),
                "TTBR0_EL1": (3, 0, 2, 0, 0), "SCTLR_EL1": (3, 0, 1, 0, 0)}

    def __init__(self, core: Core, program: bytes, mode: str):
        import unicorn
        from unicorn import arm64_const as a
        self.a = a
        self.uc = unicorn.Uc(unicorn.UC_ARCH_ARM64, unicorn.UC_MODE_ARM)
        self.uc.ctl_set_cpu_model(a.UC_CPU_ARM64_MAX)
        self.uc.mem_map(BASE, RAM)
        self.uc.mem_write(BASE, core.read(BASE, RAM))
        if mode != "off":
            for name, enc in self._SYSREGS.items():
                self.uc.cpr_write(*enc, core.sysreg(name))
        self.end = CODE + len(program) - 4  # the HLT: Unicorn stops in front of it

    def run_once(self, trips: int, instructions: int) -> float:
        uc, a = self.uc, self.a
        uc.reg_write(a.UC_ARM64_REG_X9, trips)
        uc.reg_write(a.UC_ARM64_REG_X21, DATA)
        uc.reg_write(a.UC_ARM64_REG_X22, COPY_TO)
        t0 = time.perf_counter()
        uc.emu_start(CODE, self.end)
        dt = time.perf_counter() - t0
        assert uc.reg_read(a.UC_ARM64_REG_PC) == self.end
        return instructions / dt / 1e6


def run_once(core: Core, trips: int) -> float:
    """MIPS of one run of `trips` outer iterations."""
    core.pc = CODE
    core.set_x(9, trips)
    core.set_x(21, DATA)
    core.set_x(22, COPY_TO)
    start, t0 = core.icount, time.perf_counter()
    ex = core.run()
    dt = time.perf_counter() - t0
    assert ex.kind == exits.HLT, str(ex)
    return (core.icount - start) / dt / 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--no-unicorn", action="store_true", help="leave Unicorn out")
    args = ap.parse_args(argv)
    modes = ("off", "4 KiB pages", "2 MiB blocks")
    print(f"the core at EL1, MMU off / on with identity maps; median MIPS over {args.reps} "
          "interleaved repetitions")
    for name, text in PROGRAMS.items():
        program = assemble(text)
        cores = {m: make(program, m) for m in modes}
        for core in cores.values():
            run_once(core, 2)  # compiled code loaded, TLB warm
        start = cores["off"].icount
        run_once(cores["off"], TRIPS)
        instructions = cores["off"].icount - start  # (the same in every mode)
        unicorns = {}
        if not args.no_unicorn:
            unicorns = {m: UnicornRun(cores[m], program, m) for m in modes}
            for u in unicorns.values():
                u.run_once(2, 0)  # translated blocks made, its TLB warm
        mips = {m: [] for m in modes}
        uc_mips = {m: [] for m in unicorns}
        for _ in range(args.reps):
            for m in modes:
                mips[m].append(run_once(cores[m], TRIPS))
                if m in unicorns:
                    uc_mips[m].append(unicorns[m].run_once(TRIPS, instructions))
        med = {m: statistics.median(v) for m, v in mips.items()}
        cells = ", ".join(f"{m} {med[m]:.0f} ({med[m] / med['off']:.2f})" for m in modes)
        print(f"  {name}\n    smpsim  MIPS (ratio to off): {cells}")
        if unicorns:
            uc_med = {m: statistics.median(v) for m, v in uc_mips.items()}
            cells = ", ".join(f"{m} {uc_med[m]:.0f} ({uc_med[m] / uc_med['off']:.2f})"
                              for m in modes)
            ours = ", ".join(f"{m} {med[m] / uc_med[m]:.2f}x" for m in modes)
            print(f"    Unicorn MIPS (ratio to off): {cells}\n    smpsim / Unicorn: {ours}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
