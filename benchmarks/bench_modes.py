"""The scheduling modes, measured side by side (DESIGN.md §5): the same topology run
`free`, `lockstep` and `serial`, and how many guest instructions per second the whole
machine retires in each (every CPU's instruction count at the end, over the time from
the machine's start to the guest's end); then `smpsim explore`'s throughput, in runs
per minute. Figures are printed, never asserted.

    python -m benchmarks.bench_modes [--reps N] [--explore-runs N]

Workloads: topologies/lockstep-skew.toml (four CPUs, each a loop of loads, stores and
counter reads: compute, little waiting: the instructions are the same in every mode)
and topologies/hv-vhe-demote.toml (the minikernel and its hypervisor: a boot, mostly
waiting and console output; there the instruction counts differ by mode — a free run
spins in its timed waits at the host's speed, the reproducible modes skip idle time
when every CPU waits, a serial run spins while a CPU gives way — so compare the times).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

from smpsim import log

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORKLOADS = ("lockstep-skew", "hv-vhe-demote")
MODES = ("free", "lockstep", "serial")


def run_once(topology: str, mode: str, run_dir: pathlib.Path) -> tuple[float, int]:
    """(seconds from machine_started to the guest's end, instructions of all CPUs)."""
    r = subprocess.run([sys.executable, "-m", "smpsim", "run", str(ROOT / "topologies" /
                                                                   f"{topology}.toml"),
                        "--mode", mode, "--run-dir", str(run_dir)],
                       capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise RuntimeError(f"{topology} ({mode}) exited {r.returncode}: {r.stderr[-500:]}")
    records = list(log.read_events(run_dir / log.EVENTS_FILE))
    start = next(x["ts"] for x in records if x["event"] == "machine_started")
    end = next(x["ts"] for x in records if x["event"] == "guest_exit")
    insns = sum(x["icount"] for x in records if x["event"] == "cpu_stopped")
    return end - start, insns


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="benchmarks.bench_modes")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--explore-runs", type=int, default=10)
    args = ap.parse_args(argv)
    subprocess.run([sys.executable, "-m", "smpsim", "compile"], check=True,
                   capture_output=True)
    print(f"host: {os.cpu_count()} CPUs; medians of {args.reps}, the modes interleaved")
    with tempfile.TemporaryDirectory() as tmp:
        base = pathlib.Path(tmp)
        for topology in WORKLOADS:
            got: dict[str, list[tuple[float, int]]] = {m: [] for m in MODES}
            for rep in range(args.reps):
                for mode in MODES:  # interleaved: a noisy moment hits every mode alike
                    got[mode].append(run_once(topology, mode, base / f"{topology}-{mode}-{rep}"))
            rates = {m: statistics.median(i / s for s, i in got[m]) for m in MODES}
            print(f"\n{topology}")
            for mode in MODES:
                secs = statistics.median(s for s, _ in got[mode])
                insns = statistics.median(i for _, i in got[mode])
                free_secs = statistics.median(s for s, _ in got["free"])
                print(f"  {mode:<9} {secs:7.2f} s ({secs / free_secs:.2f} of free's)  "
                      f"{insns / 1e6:8.2f} M instructions  "
                      f"{rates[mode] / 1e6:7.1f} MIPS (whole machine, "
                      f"{rates[mode] / rates['free']:.2f} of free's)")
        t0 = time.monotonic()
        r = subprocess.run([sys.executable, "-m", "smpsim", "explore",
                            str(ROOT / "topologies" / "explore-cpu-on-fixed.toml"), "--runs",
                            str(args.explore_runs), "--points", "20000",
                            "--run-dir", str(base / "explore")],
                           capture_output=True, text=True, timeout=3600)
        minutes = (time.monotonic() - t0) / 60
        print(f"\nexplore explore-cpu-on-fixed: {args.explore_runs} runs in "
              f"{minutes * 60:.0f} s with {os.cpu_count()} at a time: "
              f"{args.explore_runs / minutes:.1f} runs per minute (status {r.returncode})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
