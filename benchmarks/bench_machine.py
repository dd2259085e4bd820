"""The process-per-CPU machine, measured: how long `smpsim run` takes to bring four CPU
processes online, and how fast a CPU process runs guest code compared with the bare
core in this process. Figures are printed, never asserted.

    python -m benchmarks.bench_machine [--reps N]

Needs the GNU AArch64 binutils (scripts/setup) and a warm Numba cache (it warms it).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
LOOP_INSNS = 50_000_000  # instructions each CPU runs in the speed workload

# one CPU: LOOP/2 iterations of (subs; b.ne), then PSCI SYSTEM_OFF
SPEED_GUEST = f"""
    .global _start
_start:
    ldr x5, ={LOOP_INSNS // 2}
1:  subs x5, x5, #1
    b.ne 1b
    ldr x0, =0x84000008
    smc #0
"""
ONE_CPU = """
[boot]
start_el = 2
[run]
timeout = 600
[[cluster]]
cpus = 1
features = { el2 = true, vhe = true }
"""


def build(source: str, out: pathlib.Path) -> None:
    s, o = out.with_suffix(".s"), out.with_suffix(".o")
    s.write_text(source)
    subprocess.run(["aarch64-linux-gnu-as", "-o", str(o), str(s)], check=True)
    subprocess.run(["aarch64-linux-gnu-ld", "-N", "-Ttext=0x40000000", "-o", str(out), str(o)],
                   check=True, capture_output=True)


def smpsim_run(topology: pathlib.Path, run_dir: pathlib.Path, kernel: pathlib.Path | None = None):
    argv = [sys.executable, "-m", "smpsim", "run", str(topology), "--run-dir", str(run_dir)]
    if kernel is not None:
        argv += ["--kernel", str(kernel)]
    t0 = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"smpsim run failed ({r.returncode}): {r.stderr.strip()}")
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    return wall, events


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args(argv)
    subprocess.run(["make", "-s", "-C", str(ROOT / "guests")], check=True)
    topo = ROOT / "topologies" / "virt-vhe.toml"
    with tempfile.TemporaryDirectory() as d:
        d = pathlib.Path(d)
        smpsim_run(topo, d / "warm")  # the Numba cache, warm
        online, walls = [], []
        for i in range(args.reps):
            wall, events = smpsim_run(topo, d / f"hello{i}")
            t_start = next(e["ts"] for e in events if e["event"] == "run_start")
            t_on = max(e["ts"] for e in events if e["event"] == "power_on")
            online.append(t_on - t_start)
            walls.append(wall)
        print("machine: 4 CPU processes + GIC + device service (topologies/virt-vhe.toml, "
              "guests/smp_hello.s), warm Numba cache")
        print(f"  smpsim run -> all 4 CPUs powered on : median {statistics.median(online):.2f} s "
              f"[{min(online):.2f}-{max(online):.2f}] over {args.reps} runs")
        print(f"  whole run (bring-up, 4 reports, SYSTEM_OFF, clean-up): median "
              f"{statistics.median(walls):.2f} s")

        build(SPEED_GUEST, d / "speed.elf")
        (d / "one.toml").write_text(ONE_CPU)
        mips = []
        for i in range(args.reps):
            _, events = smpsim_run(d / "one.toml", d / f"speed{i}", d / "speed.elf")
            on = next(e["ts"] for e in events if e["event"] == "power_on")
            off = next(e for e in events if e["event"] == "cpu_stopped")
            mips.append(off["icount"] / (off["ts"] - on) / 1e6)
        from smpsim.jit.core import Core
        core = Core(np.zeros(1 << 20, dtype=np.uint8), ram_base=0x4000_0000)
        core.load(0x4000_0000, bytes.fromhex("a50400f1" "e1ffff54") + b"\0" * 8)  # subs; b.ne
        bare = []
        for _ in range(args.reps):
            core.pc = 0x4000_0000
            core.set_x(5, LOOP_INSNS // 2)
            t0 = time.perf_counter()
            core.run(LOOP_INSNS)
            bare.append(LOOP_INSNS / (time.perf_counter() - t0) / 1e6)
        print(f"  guest loop (subs; b.ne), {LOOP_INSNS // 10**6}M instructions, in a CPU "
              f"process (power-on to stop): median {statistics.median(mips):.0f} MIPS")
        print(f"  the same loop on the bare core in this process: median "
              f"{statistics.median(bare):.0f} MIPS; ratio "
              f"{statistics.median(mips) / statistics.median(bare):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
