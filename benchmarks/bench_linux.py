"""Booting an unmodified Linux kernel, smpsim against QEMU (issue 8's target: smpsim's
wall time at most 10x QEMU's). The same Image, the same command line, four CPUs, 512 MiB:
smpsim runs topologies/linux-virt-vhe.toml (free mode), QEMU runs
`-M virt,virtualization=on,gic-version=3 -cpu max -smp 4` (TCG); each boots to the
rootfs panic and restarts at once (panic=-1), which ends both. Printed, never asserted:
the wall times from launch to exit (medians, the two interleaved), their ratio, and the
guest instructions each smpsim CPU retired, with the time the kernel itself reported at
its panic.

    python -m benchmarks.bench_linux [--reps N] [--kernel IMAGE]

The kernel: kernels/Image (scripts/fetch-kernel), or --kernel. QEMU is optional.
"""

from __future__ import annotations

import argparse
import pathlib
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks.bench_core import machine_info
from smpsim import log

ROOT = pathlib.Path(__file__).resolve().parent.parent
CMDLINE = "console=ttyAMA0 earlycon panic=-1"
PANIC = re.compile(r"^\[ *(\d+\.\d+)\] Kernel panic - not syncing", re.M)


def run_smpsim(kernel: pathlib.Path, run_dir: pathlib.Path) -> tuple[float, float, list[int]]:
    """(wall seconds, the kernel's time at its panic, instructions per CPU)."""
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "smpsim", "run",
                        str(ROOT / "topologies" / "linux-virt-vhe.toml"), "--kernel",
                        str(kernel), "--append", CMDLINE, "--run-dir", str(run_dir)],
                       capture_output=True, text=True, timeout=1800)
    wall = time.monotonic() - t0
    panic = PANIC.search(r.stdout)
    if r.returncode != 0 or panic is None:
        raise RuntimeError(f"smpsim exited {r.returncode} without the panic: {r.stderr[-800:]}")
    stopped = {x["component"]: x["icount"] for x in log.read_events(run_dir / log.EVENTS_FILE)
               if x["event"] == "cpu_stopped"}
    return wall, float(panic.group(1)), [stopped[c] for c in sorted(stopped)]


def run_qemu(qemu: str, kernel: pathlib.Path) -> tuple[float, float]:
    """(wall seconds, the kernel's time at its panic)."""
    t0 = time.monotonic()
    r = subprocess.run([qemu, "-M", "virt,virtualization=on,gic-version=3", "-cpu", "max",
                        "-smp", "4", "-m", "512M", "-display", "none", "-monitor", "none",
                        "-serial", "stdio", "-no-reboot", "-kernel", str(kernel),
                        "-append", CMDLINE], capture_output=True, text=True, timeout=1800)
    wall = time.monotonic() - t0
    panic = PANIC.search(r.stdout)
    if panic is None:
        raise RuntimeError(f"QEMU exited {r.returncode} without the panic: {r.stdout[-800:]}")
    return wall, float(panic.group(1))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="benchmarks.bench_linux")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--kernel", type=pathlib.Path, default=ROOT / "kernels" / "Image")
    args = ap.parse_args(argv)
    if not args.kernel.is_file():
        print(f"bench_linux: no kernel at {args.kernel}: run scripts/fetch-kernel or give "
              "--kernel", file=sys.stderr)
        return 2
    qemu = shutil.which("qemu-system-aarch64")
    subprocess.run([sys.executable, "-m", "smpsim", "compile"], check=True, capture_output=True)
    version = (ROOT / "kernels" / "VERSION").read_text().split()[0] \
        if (ROOT / "kernels" / "VERSION").is_file() else args.kernel.name
    host = machine_info()
    print(f"host: {host['cpu_model']}, {host['cpus']} CPUs, load {host['loadavg'][0]:.1f}; kernel "
          f"{version}; medians of {args.reps}, smpsim and QEMU interleaved")
    ours, theirs, insns = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.reps):
            wall, guest, per_cpu = run_smpsim(args.kernel, pathlib.Path(tmp) / f"run{rep}")
            ours.append((wall, guest))
            insns.append(per_cpu)
            if qemu:
                theirs.append(run_qemu(qemu, args.kernel))
    wall = statistics.median(w for w, _ in ours)
    print(f"smpsim  wall {wall:6.2f} s   kernel's clock at the panic "
          f"{statistics.median(g for _, g in ours):6.2f} s")
    if theirs:
        q = statistics.median(w for w, _ in theirs)
        print(f"QEMU    wall {q:6.2f} s   kernel's clock at the panic "
              f"{statistics.median(g for _, g in theirs):6.2f} s   ({qemu})")
        print(f"ratio   {wall / q:.2f}x QEMU's wall time (target: at most 10x)")
    else:
        print("QEMU    not installed (Debian: qemu-system-arm): no ratio")
    median = [int(statistics.median(run[i] for run in insns)) for i in range(len(insns[0]))]
    print("guest instructions per CPU (median): "
          + ", ".join(f"cpu{i} {n / 1e6:.0f} M" for i, n in enumerate(median))
          + f"; {sum(median) / 1e6:.0f} M in all, {sum(median) / wall / 1e6:.0f} MIPS "
            "over the wall time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
